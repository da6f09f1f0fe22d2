//! `Stat`: type, size and modification time of one path (a link is described, not followed),
//! and the SHA-256 of a regular file's content.

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
    let entry = entry(name, &meta);
    let sha256 = if entry.kind == EntryKind::File {
        let file = home
            .open(&relative)
            .map_err(|e| jail::refusal_for(&e, path))?
            .into_std();
        Some(filestream::hash_file(&file).map_err(|e| jail::refusal_for(&e, path))?)
    } else {
        None
    };
    Ok(ServerMessage::StatInfo { entry, sha256 })
}
