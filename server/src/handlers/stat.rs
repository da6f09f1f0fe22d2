//! `Stat`: type, size and modification time of one path (a link is described, not followed),
//! and the SHA-256 of a regular file's content. A FIFO, socket or device is described by its
//! type and never opened.

use std::sync::Arc;

use ftp_proto::{EntryKind, ServerMessage};
use tokio::io::{AsyncRead, AsyncWrite};

use super::{Session, entry, on_home};
use crate::connection::{Connection, send, send_error};
use crate::error::{Refusal, SessionError};
use crate::jail::{self, RemotePath};
use crate::state::ServerState;

/// Answers one `Stat` request.
pub async fn handle<S>(
    conn: &mut Connection<S>,
    session: &Session,
    state: &ServerState,
    path: &str,
) -> Result<(), SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let hashes = Arc::clone(&state.served);
    match on_home(session, path, "stat", move |home, path| {
        stat(home, path, &hashes)
    })
    .await
    {
        Ok(message) => send(conn, message).await,
        Err(refusal) => send_error(conn, refusal).await,
    }
}

/// Describes the path, with a regular file's SHA-256 (from a list of `hashes` that knows it,
/// else hashed). Blocking.
fn stat(
    home: &cap_std::fs::Dir,
    path: &RemotePath,
    hashes: &Arc<cap_std::fs::Dir>,
) -> Result<ServerMessage, Refusal> {
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
    let sha256 =
        crate::served::sha256_of(hashes, &file).map_err(|e| jail::refusal_for(&e, path))?;
    Ok(ServerMessage::StatInfo {
        entry: entry(name, &meta),
        sha256: Some(sha256),
    })
}
