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

use std::sync::Arc;

use ftp_proto::{ErrorKind, ServerMessage};
use rustix::fs::RenameFlags;
use rustix::io::Errno;
use tokio::io::{AsyncRead, AsyncWrite};

use super::{Session, require_write};
use crate::connection::{Connection, send, send_error};
use crate::error::{Refusal, SessionError};
use crate::jail::{self, RemotePath};
use crate::state::ServerState;

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
    let home = Arc::clone(&session.home);
    let (from, to) = tokio::task::spawn_blocking(move || resolve(&home, from, to, into))
        .await
        .unwrap_or_else(|e| Err(Refusal::internal("moving", e)))?;
    // A fresh id: never taken for a retry of a live upload, which would be taken over.
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).map_err(|e| Refusal::internal("a lock id", e))?;
    let key = |path: &RemotePath| session.account.home.join(path.relative());
    let from_lock = state
        .locks
        .lock(key(&from), id, "", &from.to_string())
        .await?;
    let to_lock = state.locks.lock(key(&to), id, "", &to.to_string()).await?;
    let home = Arc::clone(&session.home);
    let moved =
        tokio::task::spawn_blocking(move || apply(&home, &from, &to, force).map(|()| (from, to)))
            .await
            .unwrap_or_else(|e| Err(Refusal::internal("moving", e)));
    drop((from_lock, to_lock));
    moved
}

/// The source and the final destination (inside `to` when `into` or when `to` is a folder);
/// refuses the home, a missing source, a no-op and a folder into itself. Blocking.
fn resolve(
    home: &cap_std::fs::Dir,
    from: RemotePath,
    to: RemotePath,
    into: bool,
) -> Result<(RemotePath, RemotePath), Refusal> {
    let Some(name) = from.name() else {
        return Err(Refusal::new(
            ErrorKind::InvalidPath,
            "mv refused: that is your home folder",
        ));
    };
    let source = home
        .symlink_metadata(from.relative())
        .map_err(|e| jail::refusal_for(&e, &from))?;
    let to_folder = into
        || to.is_home()
        || home
            .symlink_metadata(to.relative())
            .is_ok_and(|meta| meta.is_dir());
    let to = if to_folder { to.child(name) } else { to };
    if to == from {
        return Err(Refusal::new(
            ErrorKind::InvalidPath,
            format!("mv refused: {from} and {to} are the same path"),
        ));
    }
    if source.is_dir() && to.is_within(&from) {
        return Err(Refusal::new(
            ErrorKind::InvalidPath,
            format!("mv refused: cannot move the folder {from} into itself ({to})"),
        ));
    }
    Ok((from, to))
}

/// Renames `from` to `to` (both resolved), replacing a file at `to` only with `force`. Blocking.
fn apply(
    home: &cap_std::fs::Dir,
    from: &RemotePath,
    to: &RemotePath,
    force: bool,
) -> Result<(), Refusal> {
    let (Some(from_name), Some(to_name)) = (from.name(), to.name()) else {
        return Err(Refusal::new(
            ErrorKind::InvalidPath,
            "mv refused: that is your home folder",
        ));
    };
    let from_dir = open_folder(home, &from.parent()).map_err(|e| jail::refusal_for(&e, from))?;
    let to_parent = to.parent();
    let to_dir = open_folder(home, &to_parent).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Refusal::new(
            ErrorKind::NotFound,
            format!(
                "mv refused: the folder {to_parent} does not exist \
                 (mv does not create folders; use ftp mkdir first)"
            ),
        ),
        _ => jail::refusal_for(&e, to),
    })?;
    let source = from_dir
        .symlink_metadata(from_name)
        .map_err(|e| jail::refusal_for(&e, from))?;
    let exists = || {
        Refusal::new(
            ErrorKind::Exists,
            format!("mv refused: {to} already exists; use --force to replace it"),
        )
    };
    let flags = match to_dir.symlink_metadata(to_name) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => RenameFlags::NOREPLACE,
        Err(e) => return Err(jail::refusal_for(&e, to)),
        Ok(_) if !force => return Err(exists()),
        Ok(meta) if meta.is_dir() => return Err(folder_in_the_way(to)),
        Ok(_) if source.is_dir() => {
            return Err(Refusal::new(
                ErrorKind::Exists,
                format!(
                    "mv refused: {to} is a file and {from} a folder; a folder never replaces a file"
                ),
            ));
        }
        Ok(_) => RenameFlags::empty(),
    };
    rustix::fs::renameat_with(&from_dir, from_name, &to_dir, to_name, flags).map_err(|errno| {
        match errno {
            Errno::EXIST if flags.contains(RenameFlags::NOREPLACE) => exists(),
            Errno::EXIST | Errno::NOTEMPTY | Errno::ISDIR => folder_in_the_way(to),
            Errno::NOTDIR if source.is_dir() => Refusal::new(
                ErrorKind::Exists,
                format!(
                    "mv refused: {to} is a file and {from} a folder; a folder never replaces a file"
                ),
            ),
            _ => jail::refusal_for(&std::io::Error::from(errno), to),
        }
    })?;
    for dir in [&from_dir, &to_dir] {
        if let Err(e) = rustix::fs::fsync(dir) {
            tracing::warn!(%from, %to, error = %e, "could not make a rename durable");
        }
    }
    Ok(())
}

/// The refusal for a folder at the destination, which is never replaced.
fn folder_in_the_way(to: &RemotePath) -> Refusal {
    Refusal::new(
        ErrorKind::Exists,
        format!("mv refused: {to} is a folder; mv never replaces a folder, even with --force"),
    )
}

/// Opens `path`, a folder beneath the home (the home itself when empty). Blocking.
fn open_folder(home: &cap_std::fs::Dir, path: &RemotePath) -> std::io::Result<cap_std::fs::Dir> {
    if path.is_home() {
        home.try_clone()
    } else {
        home.open_dir(path.relative())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A temporary home with the file `a` ("A") and the folder `d` holding `d/f`.
    fn home() -> (tempfile::TempDir, cap_std::fs::Dir) {
        let temp = tempfile::tempdir().expect("temp dir");
        std::fs::write(temp.path().join("a"), "A").expect("a");
        std::fs::create_dir(temp.path().join("d")).expect("d");
        std::fs::write(temp.path().join("d/f"), "F").expect("f");
        let dir = cap_std::fs::Dir::open_ambient_dir(temp.path(), cap_std::ambient_authority())
            .expect("open");
        (temp, dir)
    }

    /// A checked remote path.
    fn path(text: &str) -> RemotePath {
        RemotePath::parse(text).expect("path")
    }

    /// Resolves and applies one rename as the handler does; the final destination.
    fn moved(
        home: &cap_std::fs::Dir,
        from: &str,
        to: &str,
        force: bool,
    ) -> Result<String, Refusal> {
        let (from, to) = resolve(home, path(from), path(to), to.ends_with('/'))?;
        apply(home, &from, &to, force)?;
        Ok(to.to_string())
    }

    #[test]
    fn a_folder_destination_means_inside_it() {
        let (temp, home) = home();
        assert_eq!(moved(&home, "a", "d", false).expect("moved"), "/d/a");
        assert_eq!(std::fs::read(temp.path().join("d/a")).expect("read"), b"A");
        assert!(moved(&home, "d/a", "new/", false).is_err_and(|r| r.kind == ErrorKind::NotFound));
    }

    #[test]
    fn an_existing_file_is_replaced_only_with_force_and_a_folder_never() {
        let (temp, home) = home();
        std::fs::write(temp.path().join("b"), "B").expect("b");
        assert!(moved(&home, "a", "b", false).is_err_and(|r| r.kind == ErrorKind::Exists));
        assert_eq!(std::fs::read(temp.path().join("b")).expect("read"), b"B");
        assert!(moved(&home, "d", "b", true).is_err_and(|r| r.kind == ErrorKind::Exists));
        moved(&home, "a", "b", true).expect("replaced");
        assert_eq!(std::fs::read(temp.path().join("b")).expect("read"), b"A");
        std::fs::create_dir(temp.path().join("e")).expect("e");
        std::fs::create_dir(temp.path().join("e/d")).expect("e/d");
        assert!(moved(&home, "d", "e", true).is_err_and(|r| r.kind == ErrorKind::Exists));
        assert!(temp.path().join("d/f").exists());
    }

    #[test]
    fn the_home_and_a_folder_into_itself_are_refused() {
        let (_temp, home) = home();
        assert!(moved(&home, "/", "x", false).is_err_and(|r| r.kind == ErrorKind::InvalidPath));
        assert!(moved(&home, "d", "d/sub", false).is_err_and(|r| r.kind == ErrorKind::InvalidPath));
        assert!(moved(&home, "d", "d/", false).is_err_and(|r| r.kind == ErrorKind::InvalidPath));
        assert!(moved(&home, "nope", "x", false).is_err_and(|r| r.kind == ErrorKind::NotFound));
    }

    #[tokio::test]
    async fn a_path_an_upload_holds_is_busy_and_left_alone() {
        let (dir, state, session) = crate::handlers::test_session::alice().await;
        let alice = dir.path().join("root/alice");
        std::fs::write(alice.join("a"), "A").expect("a");
        for held in ["alice/a", "alice/b"] {
            let lock = state
                .locks
                .lock(held.into(), [7; 16], "", held)
                .await
                .expect("lock");
            let refused = rename(&session, &state, "a", "b", false).await;
            assert!(refused.is_err_and(|r| r.kind == ErrorKind::Busy), "{held}");
            assert!(alice.join("a").exists() && !alice.join("b").exists());
            drop(lock);
        }
        rename(&session, &state, "a", "b", false)
            .await
            .expect("moved");
        assert_eq!(std::fs::read(alice.join("b")).expect("read"), b"A");
    }
}
