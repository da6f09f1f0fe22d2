//! `ListTree`: a whole folder tree in one request, as a stream of `TreeBatch` frames, in
//! `ls -R` order (see [`crate::storage::Home::walk_tree`]).
//!
//! The store walks and hands batches over a channel of two while this relays them, so memory
//! stays bounded whatever the tree's size. One batch is held back so the final one can be
//! marked `last`; a failure of the walk is answered instead of the rest. A client that goes
//! away stops the walk at its next batch.

use ftp_proto::{ServerMessage, TreeEntry};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;

use super::Session;
use crate::connection::{Connection, send, send_error};
use crate::error::{Refusal, SessionError};
use crate::jail::RemotePath;
use crate::storage::{Failure, StorageError, TreeBatch};

/// Answers one `ListTree` request.
pub async fn handle<S>(
    conn: &mut Connection<S>,
    session: &Session,
    path: &str,
    sha256: bool,
) -> Result<(), SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let path = match RemotePath::parse(path) {
        Ok(path) => path,
        Err(refusal) => return send_error(conn, refusal).await,
    };
    let (batches, received) = mpsc::channel::<TreeBatch>(2);
    let walk = session.storage.walk_tree(&path, sha256, batches);
    let (_, ended) = tokio::join!(walk, relay(conn, received));
    match ended? {
        Ended::Failed(failure) => send_error(conn, refusal(&failure, &path)).await,
        Ended::Whole(held) => {
            send(
                conn,
                ServerMessage::TreeBatch {
                    entries: held,
                    last: true,
                },
            )
            .await
        }
    }
}

/// How a walk ended, once every batch but the last was sent.
enum Ended {
    /// Walked to its end: the last batch, still to be sent.
    Whole(Vec<TreeEntry>),
    /// Stopped by this failure.
    Failed(StorageError),
}

/// Sends each batch as the next one arrives (the one held back is the last when the walk
/// ends). Dropping the receiver when the connection fails stops the walk.
async fn relay<S>(
    conn: &mut Connection<S>,
    mut received: mpsc::Receiver<TreeBatch>,
) -> Result<Ended, SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut held: Option<Vec<TreeEntry>> = None;
    loop {
        match received.recv().await {
            Some(Ok(batch)) => {
                if let Some(before) = held.replace(batch) {
                    let message = ServerMessage::TreeBatch {
                        entries: before,
                        last: false,
                    };
                    if let Err(error) = send(conn, message).await {
                        drop(received);
                        return Err(error);
                    }
                }
            }
            Some(Err(failure)) => return Ok(Ended::Failed(failure)),
            None => return Ok(Ended::Whole(held.unwrap_or_default())),
        }
    }
}

/// What the client is told of a walk that failed.
fn refusal(failure: &StorageError, path: &RemotePath) -> Refusal {
    match failure.failure {
        Failure::NotAFolder => Refusal::new(
            ftp_proto::ErrorKind::Denied,
            format!("{path} is not a folder"),
        ),
        _ => Refusal::from_storage(failure, path),
    }
}
