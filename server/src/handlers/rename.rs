//! `Rename`: move a file, link or folder within the user's home, atomically (one `renameat`).
//!
//! Both paths pass the jail's checks and are resolved beneath the home's capability handle; the
//! rename itself names plain entries in their two parent folders, so a link is moved as the
//! link, never what it points to. A `to` ending in `/` or naming a folder means inside it,
//! under the source's name. Refused: read-only users, the home itself, a folder into itself, a
//! missing source or missing parent folders of the destination (never created here), and a path
//! an upload is writing (busy). An existing destination is refused unless `force`, and even then
//! only a file may be replaced by a file: this never replaces or deletes a folder. Without
//! `force` the rename uses `RENAME_NOREPLACE`, so a destination that appears meanwhile is never
//! overwritten.

use ftp_proto::{EntryKind, ErrorKind, ServerMessage};
use tokio::io::{AsyncRead, AsyncWrite};

use super::{Session, require_write};
use crate::connection::{Connection, send, send_error};
use crate::error::{Refusal, SessionError};
use crate::jail::RemotePath;
use crate::state::ServerState;
use crate::storage::{Failure, Home, StorageError};

/// Answers one `Rename` request with `Renamed` (the paths as resolved) or an error.
pub async fn handle<S>(
    conn: &mut Connection<S>,
    session: &Session,
    state: &ServerState,
    from: &str,
    to: &str,
    force: bool,
) -> Result<(), SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match rename(session, state, from, to, force).await {
        Ok((from, to)) => {
            let (from, to) = (from.to_string(), to.to_string());
            tracing::info!(user = %session.account.name, %from, %to, force, "moved");
            send(conn, ServerMessage::Renamed { from, to }).await
        }
        Err(refusal) => send_error(conn, refusal).await,
    }
}

/// Checks, resolves, locks both paths against uploads, then renames.
async fn rename(
    session: &Session,
    state: &ServerState,
    from: &str,
    to: &str,
    force: bool,
) -> Result<(RemotePath, RemotePath), Refusal> {
    require_write(session, "moving")?;
    let into = to.ends_with('/');
    let from = RemotePath::parse(from)?;
    let to = RemotePath::parse(to)?;
    let (from, to) = resolve(session.storage.as_ref(), from, to, into).await?;
    // A fresh id: never taken for a retry of a live upload, which would be taken over.
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).map_err(|e| Refusal::internal("a lock id", e))?;
    let key = |path: &RemotePath| session.account.home.join(path.relative());
    let from_lock = state
        .locks
        .lock(key(&from), id, "", &from.to_string())
        .await?;
    let to_lock = state.locks.lock(key(&to), id, "", &to.to_string()).await?;
    let moved = session.storage.rename(&from, &to, force).await;
    if force {
        // A replaced file no longer counts.
        session.usage_changed();
    }
    drop((from_lock, to_lock));
    moved.map_err(|e| refusal(&e, &from, &to))?;
    Ok((from, to))
}

/// The source and the final destination (inside `to` when `into` or when `to` is a folder);
/// refuses the home, a missing source, a no-op and a folder into itself.
async fn resolve(
    home: &dyn Home,
    from: RemotePath,
    to: RemotePath,
    into: bool,
) -> Result<(RemotePath, RemotePath), Refusal> {
    let Some(name) = from.name() else {
        return Err(home_refused());
    };
    let source = home
        .describe(&from, false)
        .await
        .map_err(|e| Refusal::from_storage(&e, &from))?;
    let to_folder = into
        || to.is_home()
        || home
            .describe(&to, false)
            .await
            .is_ok_and(|d| d.entry.kind == EntryKind::Dir);
    let to = if to_folder { to.child(name) } else { to };
    if to == from {
        return Err(Refusal::new(
            ErrorKind::InvalidPath,
            format!("mv refused: {from} and {to} are the same path"),
        ));
    }
    if source.entry.kind == EntryKind::Dir && to.is_within(&from) {
        return Err(Refusal::new(
            ErrorKind::InvalidPath,
            format!("mv refused: cannot move the folder {from} into itself ({to})"),
        ));
    }
    Ok((from, to))
}

/// What the client is told of a rename the store refused.
fn refusal(error: &StorageError, from: &RemotePath, to: &RemotePath) -> Refusal {
    let refuse = |kind, message: String| Refusal::new(kind, format!("mv refused: {message}"));
    match error.failure {
        Failure::AlreadyThere => refuse(
            ErrorKind::Exists,
            format!("{to} already exists; use --force to replace it"),
        ),
        Failure::FolderInTheWay => refuse(
            ErrorKind::Exists,
            format!("{to} is a folder; mv never replaces a folder, even with --force"),
        ),
        Failure::FolderOverFile => refuse(
            ErrorKind::Exists,
            format!("{to} is a file and {from} a folder; a folder never replaces a file"),
        ),
        Failure::NoSuchFolder => refuse(
            ErrorKind::NotFound,
            format!(
                "the folder {} does not exist (mv does not create folders; use ftp mkdir first)",
                to.parent()
            ),
        ),
        Failure::InvalidName if from.is_home() || to.is_home() => home_refused(),
        _ => Refusal::from_storage(error, to),
    }
}

/// The refusal of moving the home, or over it.
fn home_refused() -> Refusal {
    Refusal::new(
        ErrorKind::InvalidPath,
        "mv refused: that is your home folder",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::memory::MemoryHome;

    /// A home in memory with the file `a` ("A") and the folder `d` holding `d/f`.
    fn home() -> MemoryHome {
        let home = MemoryHome::new();
        home.put_file(&path("a"), b"A").expect("a");
        home.put_file(&path("d/f"), b"F").expect("f");
        home
    }

    /// The content of the file at `at` in `home`.
    fn content(home: &MemoryHome, at: &str) -> Vec<u8> {
        home.content(&path(at)).expect("a file").to_vec()
    }

    /// A checked remote path.
    fn path(text: &str) -> RemotePath {
        RemotePath::parse(text).expect("path")
    }

    /// Resolves and applies one rename as the handler does; the final destination.
    fn moved(home: &MemoryHome, from: &str, to: &str, force: bool) -> Result<String, Refusal> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let (from, to) = resolve(home, path(from), path(to), to.ends_with('/')).await?;
            home.rename(&from, &to, force)
                .await
                .map_err(|e| refusal(&e, &from, &to))?;
            Ok(to.to_string())
        })
    }

    #[test]
    fn a_folder_destination_means_inside_it() {
        let home = home();
        assert_eq!(moved(&home, "a", "d", false).expect("moved"), "/d/a");
        assert_eq!(content(&home, "d/a"), b"A");
        assert!(moved(&home, "d/a", "new/", false).is_err_and(|r| r.kind == ErrorKind::NotFound));
    }

    #[test]
    fn an_existing_file_is_replaced_only_with_force_and_a_folder_never() {
        let home = home();
        home.put_file(&path("b"), b"B").expect("b");
        assert!(moved(&home, "a", "b", false).is_err_and(|r| r.kind == ErrorKind::Exists));
        assert_eq!(content(&home, "b"), b"B");
        assert!(moved(&home, "d", "b", true).is_err_and(|r| r.kind == ErrorKind::Exists));
        moved(&home, "a", "b", true).expect("replaced");
        assert_eq!(content(&home, "b"), b"A");
        home.put_folder(&path("e/d")).expect("e/d");
        assert!(moved(&home, "d", "e", true).is_err_and(|r| r.kind == ErrorKind::Exists));
        assert!(home.exists(&path("d/f")));
    }

    #[test]
    fn the_home_and_a_folder_into_itself_are_refused() {
        let home = home();
        assert!(moved(&home, "/", "x", false).is_err_and(|r| r.kind == ErrorKind::InvalidPath));
        assert!(moved(&home, "d", "d/sub", false).is_err_and(|r| r.kind == ErrorKind::InvalidPath));
        assert!(moved(&home, "d", "d/", false).is_err_and(|r| r.kind == ErrorKind::InvalidPath));
        assert!(moved(&home, "nope", "x", false).is_err_and(|r| r.kind == ErrorKind::NotFound));
    }

    #[tokio::test]
    async fn a_path_an_upload_holds_is_busy_and_left_alone() {
        let (alice, state, session) = crate::handlers::test_session::alice().await;
        alice.seed("a", b"A");
        for held in ["alice/a", "alice/b"] {
            let lock = state
                .locks
                .lock(held.into(), [7; 16], "", held)
                .await
                .expect("lock");
            let refused = rename(&session, &state, "a", "b", false).await;
            assert!(refused.is_err_and(|r| r.kind == ErrorKind::Busy), "{held}");
            assert!(alice.exists("a") && !alice.exists("b"));
            drop(lock);
        }
        rename(&session, &state, "a", "b", false)
            .await
            .expect("moved");
        assert_eq!(alice.content("b").expect("moved"), b"A");
    }
}
