//! `MakeDir`: create a folder and any missing parents (like `mkdir -p`). A folder already
//! there is not an error (`changed: false`); a file in the way is. Read-only users are refused.
//! Each folder created gets `dir_mode` exactly (the store knows the mode).

use ftp_proto::{ErrorKind, ServerMessage};
use tokio::io::{AsyncRead, AsyncWrite};

use super::{Session, require_write};
use crate::connection::{Connection, send, send_error};
use crate::error::{Refusal, SessionError};
use crate::jail::RemotePath;
use crate::storage::Failure;

/// Answers one `MakeDir` request.
pub async fn handle<S>(
    conn: &mut Connection<S>,
    session: &Session,
    path: &str,
) -> Result<(), SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match make(session, path).await {
        Ok(changed) => send(conn, ServerMessage::Done { changed }).await,
        Err(refusal) => send_error(conn, refusal).await,
    }
}

/// Creates the folder and its missing parents; `false` if it was already there.
async fn make(session: &Session, path: &str) -> Result<bool, Refusal> {
    require_write(session, "creating folders")?;
    let path = RemotePath::parse(path)?;
    session
        .storage
        .make_dir(&path)
        .await
        .map_err(|e| match e.failure {
            Failure::InTheWay => Refusal::new(
                ErrorKind::Exists,
                format!("mkdir refused: {path} already exists and is not a folder"),
            ),
            _ => Refusal::from_storage(&e, &path),
        })
}
