//! `List`: the entries of a folder, or the one entry of a file, beneath the home.
//!
//! Entries are sorted by name and sent in batches so a large folder never needs one huge frame.
//! Symbolic links are shown as links and never followed. The internal folder is never shown.

use ftp_proto::ServerMessage;
use tokio::io::{AsyncRead, AsyncWrite};

use super::Session;
use crate::connection::{Connection, send, send_error};
use crate::error::{Refusal, SessionError};
use crate::jail::RemotePath;

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
    let listed = match RemotePath::parse(path) {
        Ok(path) => session
            .storage
            .list(&path)
            .await
            .map_err(|e| Refusal::from_storage(&e, &path)),
        Err(refusal) => Err(refusal),
    };
    let entries = match listed {
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
