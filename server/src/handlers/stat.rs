//! `Stat`: type, size and modification time of one path (a link is described, not followed),
//! and the SHA-256 of a regular file's content. A FIFO, socket or device is described by its
//! type and never opened.

use ftp_proto::ServerMessage;
use tokio::io::{AsyncRead, AsyncWrite};

use super::Session;
use crate::connection::{Connection, send, send_error};
use crate::error::{Refusal, SessionError};
use crate::jail::RemotePath;

/// Answers one `Stat` request.
pub async fn handle<S>(
    conn: &mut Connection<S>,
    session: &Session,
    path: &str,
) -> Result<(), SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match stat(session, path).await {
        Ok(message) => send(conn, message).await,
        Err(refusal) => send_error(conn, refusal).await,
    }
}

/// Describes the path, with a regular file's SHA-256.
async fn stat(session: &Session, path: &str) -> Result<ServerMessage, Refusal> {
    let path = RemotePath::parse(path)?;
    let described = session
        .storage
        .describe(&path, true)
        .await
        .map_err(|e| Refusal::from_storage(&e, &path))?;
    Ok(ServerMessage::StatInfo {
        entry: described.entry,
        sha256: described.sha256,
    })
}
