//! `List`: the entries of a folder, or the one entry of a file, beneath the home.
//!
//! Entries are sorted by name and sent in batches so a large folder never needs one huge frame.
//! Symbolic links are shown as links and never followed. The internal folder is never shown.

use ftp_proto::{DirEntry, ServerMessage};
use tokio::io::{AsyncRead, AsyncWrite};

use super::{Session, entry, on_home};
use crate::connection::{Connection, send, send_error};
use crate::error::{Refusal, SessionError};
use crate::jail::{self, INTERNAL_DIR, RemotePath};

/// Entries per `Listing` frame: 1,000 names of at most 255 bytes stay far below the frame limit.
const BATCH: usize = 1000;

/// Answers one `List` request.
pub async fn handle<S>(
    conn: &mut Connection<S>,
    session: &Session,
    path: &str,
) -> Result<(), SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let entries = match on_home(session, path, "listing", list).await {
        Ok(entries) => entries,
        Err(refusal) => return send_error(conn, refusal).await,
    };
    let mut batches = entries.chunks(BATCH).peekable();
    if batches.peek().is_none() {
        return send(
            conn,
            ServerMessage::Listing {
                entries: Vec::new(),
                last: true,
            },
        )
        .await;
    }
    while let Some(batch) = batches.next() {
        let last = batches.peek().is_none();
        send(
            conn,
            ServerMessage::Listing {
                entries: batch.to_vec(),
                last,
            },
        )
        .await?;
    }
    Ok(())
}

/// Reads the listing from disk; blocking.
fn list(home: &cap_std::fs::Dir, path: &RemotePath) -> Result<Vec<DirEntry>, Refusal> {
    let relative = path.relative();
    let meta = home
        .symlink_metadata(&relative)
        .map_err(|e| jail::refusal_for(&e, path))?;
    if !meta.is_dir() {
        let name = relative
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        return Ok(vec![entry(name, &meta)]);
    }
    let mut entries = Vec::new();
    for item in home
        .read_dir(&relative)
        .map_err(|e| jail::refusal_for(&e, path))?
    {
        let item = item.map_err(|e| jail::refusal_for(&e, path))?;
        let name = item.file_name().to_string_lossy().into_owned();
        if name == INTERNAL_DIR {
            continue;
        }
        // An entry removed while listing is simply skipped.
        if let Ok(meta) = item.metadata() {
            entries.push(entry(name, &meta));
        }
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}
