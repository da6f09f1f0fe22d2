//! One upload attempt on an open, logged-in connection.
//!
//! The local file is read and hashed on a blocking thread (the bytes before the server's offset
//! are hashed without being sent) and streamed in chunks with no per-chunk reply: TCP flow
//! control is the back-pressure, and a bounded queue keeps memory flat whatever the file size.
//! The SHA-256 of the whole file goes last; the server answers only once the file is visible.

use std::path::Path;
use std::time::UNIX_EPOCH;

use ftp_proto::filestream;
use ftp_proto::{ClientMessage, ErrorKind, FileIdentity, ServerMessage};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::checkpoints::{self, Store};
use crate::connection::Client;
use crate::error::ClientError;
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
        let (file, file_id) = open_local(plan.local)?;
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
        let store = Store::for_upload(plan.local, &file);
        let hash_plan = checkpoints::plan(store.as_ref(), offset);
        let (mut incoming, reader) =
            filestream::spawn_reader(file, offset, size, chunk_len, hash_plan);
        let mut position = offset;
        while let Some(data) = incoming.recv().await {
            let len = data.len() as u64;
            if let Some(limiter) = limiter.as_mut() {
                limiter.take(len).await;
            }
            self.send_or_explain(ClientMessage::Chunk {
                offset: position,
                data,
            })
            .await?;
            position += len;
            tally.sent += len;
            progress.advance(len);
        }
        let sha256 = reader
            .await
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
                if let Some(store) = &store {
                    store.forget();
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
                    "{} already exists on the server with different content; use --force to replace it",
                    plan.remote
                ),
            })
        }
    }
}
