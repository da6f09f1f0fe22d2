//! `Stat`: type, size and modification time of one path (a link is described, not followed),
//! and the SHA-256 of a regular file's content. A FIFO, socket or device is described by its
//! type and never opened.

use ftp_proto::{EntryKind, ServerMessage, filestream};
use tokio::io::{AsyncRead, AsyncWrite};

use super::{Session, entry, on_home};
use crate::error::{Refusal, SessionError};
use crate::jail::{self, RemotePath};
use crate::session::{Connection, send, send_error};

/// Answers one `Stat` request.
pub async fn handle<S>(
    conn: &mut Connection<S>,
    session: &Session,
    path: &str,
) -> Result<(), SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match on_home(session, path, "stat", stat).await {
        Ok(message) => send(conn, message).await,
        Err(refusal) => send_error(conn, refusal).await,
    }
}

/// Describes the path, hashing a regular file. Blocking.
fn stat(home: &cap_std::fs::Dir, path: &RemotePath) -> Result<ServerMessage, Refusal> {
    let relative = path.relative();
    let meta = home
        .symlink_metadata(&relative)
        .map_err(|e| jail::refusal_for(&e, path))?;
    let name = relative
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if entry(name.clone(), &meta).kind != EntryKind::File {
        return Ok(ServerMessage::StatInfo {
            entry: entry(name, &meta),
            sha256: None,
        });
    }
    // Opened without blocking, and described from the handle: a FIFO put there since the look
    // above is refused, not waited on.
    let (file, meta) = crate::opening::open_regular(home, &relative, path)?;
    let sha256 = filestream::hash_file(&file).map_err(|e| jail::refusal_for(&e, path))?;
    Ok(ServerMessage::StatInfo {
        entry: entry(name, &meta),
        sha256: Some(sha256),
    })
}
