//! `Remove`: delete a file, a symbolic link (never what it points to) or an empty folder.
//! Read-only users are refused; the home itself cannot be removed.

use ftp_proto::{ErrorKind, ServerMessage};
use tokio::io::{AsyncRead, AsyncWrite};

use super::{Session, change_on_home};
use crate::connection::{Connection, send, send_error};
use crate::error::{Refusal, SessionError};
use crate::jail::{self, RemotePath};

/// Answers one `Remove` request.
pub async fn handle<S>(
    conn: &mut Connection<S>,
    session: &Session,
    path: &str,
) -> Result<(), SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let result = change_on_home(session, path, "removing", remove).await;
    match result {
        Ok(()) => {
            tracing::info!(user = %session.account.name, path, "removed");
            send(conn, ServerMessage::Done { changed: true }).await
        }
        Err(refusal) => send_error(conn, refusal).await,
    }
}

/// What a removal looks at first, for `Remove` and `RemoveTree` alike: the home itself is
/// refused; else the path beneath the home and what is there (a link described, not
/// followed). Blocking.
pub(super) fn removable(
    home: &cap_std::fs::Dir,
    path: &RemotePath,
) -> Result<(std::path::PathBuf, cap_std::fs::Metadata), Refusal> {
    if path.is_home() {
        return Err(Refusal::new(
            ErrorKind::InvalidPath,
            "remove refused: that is your home folder",
        ));
    }
    let relative = path.relative();
    let meta = home
        .symlink_metadata(&relative)
        .map_err(|e| jail::refusal_for(&e, path))?;
    Ok((relative, meta))
}

/// Removes the path. Blocking.
fn remove(home: &cap_std::fs::Dir, path: &RemotePath) -> Result<(), Refusal> {
    let (relative, meta) = removable(home, path)?;
    let removed = if meta.is_dir() {
        home.remove_dir(&relative)
    } else {
        home.remove_file(&relative)
    };
    removed.map_err(|e| match e.kind() {
        std::io::ErrorKind::DirectoryNotEmpty => Refusal::new(
            ErrorKind::Denied,
            format!("remove refused: {path} is a folder that is not empty"),
        ),
        _ => jail::refusal_for(&e, path),
    })
}
