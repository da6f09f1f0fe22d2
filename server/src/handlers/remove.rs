//! `Remove`: delete a file, a symbolic link (never what it points to) or an empty folder.
//! Read-only users are refused; the home itself cannot be removed.

use ftp_proto::{ErrorKind, ServerMessage};
use tokio::io::{AsyncRead, AsyncWrite};

use super::{Session, require_write};
use crate::connection::{Connection, send, send_error};
use crate::error::{Refusal, SessionError};
use crate::jail::RemotePath;
use crate::storage::Failure;

/// Answers one `Remove` request.
pub async fn handle<S>(
    conn: &mut Connection<S>,
    session: &Session,
    path: &str,
) -> Result<(), SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let result = remove(session, path).await;
    session.usage_changed();
    match result {
        Ok(()) => {
            tracing::info!(user = %session.account.name, path, "removed");
            send(conn, ServerMessage::Done { changed: true }).await
        }
        Err(refusal) => send_error(conn, refusal).await,
    }
}

/// The refusal of removing the home itself.
pub(super) fn home_refused() -> Refusal {
    Refusal::new(
        ErrorKind::InvalidPath,
        "remove refused: that is your home folder",
    )
}

/// Removes the path: the home is refused before the store is asked.
async fn remove(session: &Session, path: &str) -> Result<(), Refusal> {
    require_write(session, "removing")?;
    let path = RemotePath::parse(path)?;
    if path.is_home() {
        return Err(home_refused());
    }
    session
        .storage
        .remove(&path)
        .await
        .map_err(|e| match e.failure {
            Failure::NotEmpty => Refusal::new(
                ErrorKind::Denied,
                format!("remove refused: {path} is a folder that is not empty"),
            ),
            _ => Refusal::from_storage(&e, &path),
        })
}
