//! One upload attempt on an open, logged-in connection.
//!
//! The local file is read and hashed on a blocking thread (the bytes before the server's offset
//! are hashed without being sent) and streamed in chunks with no per-chunk reply: TCP flow
//! control is the back-pressure, and a bounded queue keeps memory flat whatever the file size.
//! The SHA-256 of the whole file goes last; the server answers only once the file is visible.
//! However sending stops (a lost connection, a signal: see [`crate::interrupt`]), the reader
//! thread is stopped and waited for, so its checkpoint list is complete before a retry or exit.

use std::path::Path;
use std::time::UNIX_EPOCH;

use bytes::Bytes;
use ftp_proto::filestream;
use ftp_proto::{ClientMessage, ErrorKind, FileIdentity, ServerMessage};
use indicatif::HumanBytes;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;

use crate::checkpoints::{self, Store};
use crate::connection::Client;
use crate::error::ClientError;
use crate::output::{printable, remote_shown};
use crate::progress::FileProgress;
use crate::rate::RateLimiter;
use crate::transfer::{Report, Tally};

/// What one upload asks for.
#[derive(Debug, Clone)]
pub struct PutPlan<'a> {
    /// Local file.
    pub local: &'a Path,
    /// Remote path.
    pub remote: &'a str,
    /// Replace an existing remote file.
    pub force: bool,
    /// The command's id (the same across reconnects).
    pub upload_id: [u8; 16],
}

/// The identity (size, modification time) of an open local file.
pub fn identity(meta: &std::fs::Metadata) -> FileIdentity {
    let (modified_secs, modified_nanos) = match meta.modified() {
        Ok(time) => match time.duration_since(UNIX_EPOCH) {
            Ok(d) => (
                i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                d.subsec_nanos(),
            ),
            Err(e) => {
                let d = e.duration();
                (
                    -i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                    d.subsec_nanos(),
                )
            }
        },
        Err(_) => (0, 0),
    };
    FileIdentity {
        size: meta.len(),
        modified_secs,
        modified_nanos,
    }
}

/// Opens a local file for upload; it must be a regular file.
pub fn open_local(path: &Path) -> Result<(std::fs::File, FileIdentity), ClientError> {
    let local_error = |source| ClientError::Local {
        context: format!("cannot read {}", path.display()),
        source,
    };
    let file = std::fs::File::open(path).map_err(local_error)?;
    let meta = file.metadata().map_err(local_error)?;
    if !meta.is_file() {
        return Err(ClientError::Usage(format!(
            "{} is not a regular file (folders are not uploaded recursively)",
            path.display()
        )));
    }
    Ok((file, identity(&meta)))
}

/// An interruption, told with how much of `plan`'s `size` bytes went out (`position`); any
/// other error as it is.
fn sent(error: ClientError, plan: &PutPlan<'_>, position: u64, size: u64) -> ClientError {
    if !matches!(error, ClientError::Interrupted(_)) {
        return error;
    }
    ClientError::Interrupted(format!(
        "{} of {} ({}) sent to {}, which keeps what it received; run the same command to resume",
        HumanBytes(position),
        printable(&plan.local.display().to_string()),
        HumanBytes(size),
        printable(&remote_shown(plan.remote)),
    ))
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    /// Uploads one file. `tally` counts every byte handed to the connection and the offset of
    /// the first attempt, across the attempts of one command.
    pub async fn put(
        &mut self,
        plan: &PutPlan<'_>,
        mut limiter: Option<RateLimiter>,
        progress: &FileProgress,
        tally: &mut Tally,
    ) -> Result<Report, ClientError> {
        let local = plan.local.to_path_buf();
        let (file, file_id) = crate::blocking::run(move || open_local(&local)).await?;
        self.send(ClientMessage::Put {
            path: plan.remote.to_owned(),
            file: file_id,
            force: plan.force,
            upload_id: plan.upload_id,
        })
        .await?;
        let offset = match self.receive().await? {
            ServerMessage::PutReady { offset } if offset <= file_id.size => offset,
            ServerMessage::PutReady { offset } => {
                return Err(ClientError::Protocol(format!(
                    "server resumes at {offset}, past the file's {} bytes",
                    file_id.size
                )));
            }
            ServerMessage::PutExisting { sha256 } => {
                tally.resumed_from.get_or_insert(file_id.size);
                return self.settle_existing(plan, file, file_id.size, sha256).await;
            }
            other => return Err(crate::connection::unexpected("an upload answer", &other)),
        };
        progress.start_at(offset, "server");
        tally.resumed_from.get_or_insert(offset);
        let chunk_len = limiter
            .as_ref()
            .map_or(ftp_proto::MAX_CHUNK_LEN, RateLimiter::chunk_len);
        let size = file_id.size;
        let local = plan.local.to_path_buf();
        let (file, store, hash_plan) = crate::blocking::run(move || {
            let store = Store::for_upload(&local, &file);
            let hash_plan = checkpoints::plan(store.as_ref(), offset);
            Ok((file, store, hash_plan))
        })
        .await?;
        let (mut incoming, reader) =
            filestream::spawn_reader(file, offset, size, chunk_len, hash_plan);
        let mut position = offset;
        let streamed = self
            .send_chunks(&mut incoming, &mut position, &mut limiter, progress, tally)
            .await;
        // The reader stops at its next chunk, or at once if it has read everything.
        drop(incoming);
        let read = reader.await;
        streamed.map_err(|error| sent(error, plan, position, size))?;
        let sha256 = read
            .map_err(|e| ClientError::Protocol(format!("reader thread failed: {e}")))?
            .map_err(|source| ClientError::Local {
                context: format!("cannot read {}", plan.local.display()),
                source,
            })?;
        self.send_or_explain(ClientMessage::PutFinish { sha256 })
            .await?;
        match self.receive().await? {
            ServerMessage::PutDone {
                size: done_size,
                sha256: server_sha,
            } if done_size == size && server_sha == sha256 => {
                if let Some(store) = store {
                    crate::blocking::run(move || {
                        store.forget();
                        Ok(())
                    })
                    .await?;
                }
                Ok(Report {
                    size,
                    offset,
                    sha256,
                    identical: false,
                })
            }
            ServerMessage::PutDone { .. } => Err(ClientError::Remote {
                kind: ErrorKind::Integrity,
                message: "the server reports a different size or SHA-256 for the stored file"
                    .into(),
            }),
            other => Err(crate::connection::unexpected("the upload's result", &other)),
        }
    }

    /// Sends the reader's chunks as `Chunk` messages from `*position` on, moving it past each
    /// one sent, until the reader has no more.
    async fn send_chunks(
        &mut self,
        incoming: &mut mpsc::Receiver<Bytes>,
        position: &mut u64,
        limiter: &mut Option<RateLimiter>,
        progress: &FileProgress,
        tally: &mut Tally,
    ) -> Result<(), ClientError> {
        while let Some(data) = self.interrupt().guard(incoming.recv()).await? {
            let len = data.len() as u64;
            if let Some(limiter) = limiter.as_mut() {
                self.interrupt().guard(limiter.take(len)).await?;
            }
            self.send_chunk_or_explain(*position, data).await?;
            *position += len;
            tally.sent += len;
            progress.advance(len);
        }
        Ok(())
    }

    /// After `PutExisting`: identical content is success, anything else a conflict.
    async fn settle_existing(
        &mut self,
        plan: &PutPlan<'_>,
        file: std::fs::File,
        size: u64,
        remote_sha: [u8; 32],
    ) -> Result<Report, ClientError> {
        let local_sha = tokio::task::spawn_blocking(move || filestream::hash_file(&file))
            .await
            .map_err(|e| ClientError::Protocol(format!("hash thread failed: {e}")))?
            .map_err(|source| ClientError::Local {
                context: format!("cannot read {}", plan.local.display()),
                source,
            })?;
        self.send(ClientMessage::PutCancel {}).await?;
        if local_sha == remote_sha {
            Ok(Report {
                size,
                offset: size,
                sha256: local_sha,
                identical: true,
            })
        } else {
            Err(ClientError::Remote {
                kind: ErrorKind::Exists,
                message: format!(
                    "upload refused: {} already exists with different content ({size} bytes, \
                     the same size); use --force to replace it",
                    crate::output::remote_shown(plan.remote)
                ),
            })
        }
    }
}
