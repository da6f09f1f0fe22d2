//! One upload attempt on an open, logged-in connection.
//!
//! The local file is read and hashed on a blocking thread (the bytes before the server's offset
//! are hashed without being sent) and streamed in chunks with no per-chunk reply: TCP flow
//! control is the back-pressure, and a bounded queue keeps memory flat whatever the file size.
//! The SHA-256 of the whole file goes last; the server answers only once the file is visible.
//! However sending stops (a lost connection, a signal: see [`crate::interrupt`]), the reader
//! thread is stopped and waited for, so its checkpoint list is complete before a retry or exit.
//!
//! A file whose SHA-256 the client's cache knows (see [`crate::checkpoints`]) is not hashed
//! again: neither to be declared at the end nor to be compared with a remote file of the same
//! size (see [`crate::local_hash`]). With `--force`, a remote file of the same size is compared
//! too: identical content is never sent again, different content is replaced after
//! `PutReplace`. When the server finds the declared digest wrong, the
//! cached one is dropped, so the same command run again reads the file and succeeds.

use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use bytes::Bytes;
use ftp_proto::files::filestream;
use ftp_proto::{ClientMessage, ErrorKind, FileIdentity, ServerMessage};
use indicatif::HumanBytes;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;

use crate::checkpoints::{self, Store};
use crate::connection::Client;
use crate::error::ClientError;
use crate::jobs::{PutPlan, Report, Tally};
use crate::local_hash;
use crate::output::{printable, remote_shown};
use crate::progress::FileProgress;
use crate::rate::RateLimiter;

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
    // Without blocking: a FIFO or a device is refused below, never waited on. A link named
    // on the command line is followed, as cp and scp do.
    let mut options = std::fs::OpenOptions::new();
    let nonblocking = rustix::fs::OFlags::NONBLOCK.bits();
    options
        .read(true)
        .custom_flags(i32::try_from(nonblocking).unwrap_or(0));
    let file = options.open(path).map_err(local_error)?;
    let meta = file.metadata().map_err(local_error)?;
    if !meta.is_file() {
        return Err(ClientError::Usage(format!(
            "{} is not a regular file (folders are not uploaded recursively)",
            printable(&path.display().to_string())
        )));
    }
    Ok((file, identity(&meta)))
}

/// Whether the server refused the upload's data as not matching its declared digest.
fn integrity(error: &ClientError) -> bool {
    matches!(
        error,
        ClientError::Remote {
            kind: ErrorKind::Integrity,
            ..
        }
    )
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

/// The offset of a `PutReady` answer, checked against the file's `size`.
fn ready(answer: ServerMessage, size: u64) -> Result<u64, ClientError> {
    match answer {
        ServerMessage::PutReady { offset } if offset <= size => Ok(offset),
        ServerMessage::PutReady { offset } => Err(ClientError::Protocol(format!(
            "server resumes at {offset}, past the file's {size} bytes"
        ))),
        other => Err(crate::connection::unexpected("an upload answer", &other)),
    }
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
        self.send(ClientMessage::Put(ftp_proto::PutRequest {
            path: plan.remote.to_owned(),
            file: file_id,
            force: plan.force,
            upload_id: plan.upload_id,
        }))
        .await?;
        let (offset, file) = match self.receive().await? {
            ServerMessage::PutExisting { sha256 } => {
                let file = Arc::new(file);
                let settled = self
                    .settle_existing(plan, Arc::clone(&file), file_id.size, sha256, progress)
                    .await?;
                if let Some(identical) = settled {
                    tally.resumed_from.get_or_insert(file_id.size);
                    tally.hashed_from_cache |= identical.from_cache;
                    return Ok(Report {
                        size: file_id.size,
                        offset: file_id.size,
                        sha256: identical.sha256,
                        identical: true,
                    });
                }
                // Different content and `force`: the server now answers as to a forced upload.
                let file = Arc::try_unwrap(file)
                    .or_else(|shared| shared.try_clone())
                    .map_err(|source| ClientError::Local {
                        context: format!("cannot read {}", plan.local.display()),
                        source,
                    })?;
                self.send(ClientMessage::PutReplace {}).await?;
                (ready(self.receive().await?, file_id.size)?, file)
            }
            answer => (ready(answer, file_id.size)?, file),
        };
        progress.start_at(offset, "server");
        tally.resumed_from.get_or_insert(offset);
        let chunk_len = limiter
            .as_ref()
            .map_or(ftp_proto::MAX_CHUNK_LEN, RateLimiter::chunk_len);
        let size = file_id.size;
        let local = plan.local.to_path_buf();
        let (file, store, hash_plan) = crate::blocking::run(move || {
            let store = Store::for_file(&local, &file);
            let hash_plan = checkpoints::plan(store.as_ref(), offset);
            Ok((file, store, hash_plan))
        })
        .await?;
        let hash_plan = hash_plan.with_progress(progress.hashing("hashing"));
        let from_cache = hash_plan
            .resume_from
            .as_ref()
            .is_some_and(|c| c.offset == size);
        let source = file.try_clone().ok();
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
        let finished = self.finish_put(size, sha256).await;
        if let Some(store) = store {
            match (&finished, source) {
                (Ok(()), Some(source)) => {
                    crate::blocking::run(move || {
                        store.settle(&source);
                        Ok(())
                    })
                    .await?;
                }
                (Err(error), _) if !integrity(error) => {}
                // A digest the server found wrong (read or cached) is not kept.
                _ => {
                    crate::blocking::run(move || {
                        store.forget();
                        Ok(())
                    })
                    .await?;
                }
            }
        }
        finished?;
        tally.hashed_from_cache |= from_cache;
        Ok(Report {
            size,
            offset,
            sha256,
            identical: false,
        })
    }

    /// Declares the file's `sha256` and waits until the server has the file of `size` bytes
    /// with that digest in place.
    async fn finish_put(&mut self, size: u64, sha256: [u8; 32]) -> Result<(), ClientError> {
        self.send_or_explain(ClientMessage::PutFinish { sha256 })
            .await?;
        match self.receive().await? {
            ServerMessage::PutDone {
                size: done_size,
                sha256: server_sha,
            } if done_size == size && server_sha == sha256 => Ok(()),
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

    /// After `PutExisting`: identical content is success (`Some`, with the local hash, after
    /// `PutCancel`); different content is a conflict without `force` (after `PutCancel`) and
    /// `None` with it: the caller then asks for the replacement. The local file's hash comes
    /// from the cache when it is there and matches (see [`crate::local_hash`]).
    async fn settle_existing(
        &mut self,
        plan: &PutPlan<'_>,
        file: Arc<std::fs::File>,
        size: u64,
        remote_sha: [u8; 32],
        progress: &FileProgress,
    ) -> Result<Option<local_hash::LocalHash>, ClientError> {
        let first = local_hash::hash(
            plan.local,
            Arc::clone(&file),
            true,
            progress.hashing("checking"),
        );
        let first = self.interrupt().guard(first).await?;
        let again = || local_hash::hash(plan.local, file, false, progress.hashing("checking"));
        let local = match first {
            Ok(first) => {
                let confirmed = local_hash::confirmed(first, &remote_sha, again);
                self.interrupt().guard(confirmed).await?
            }
            Err(error) => Err(error),
        }
        .map_err(|source| ClientError::Local {
            context: format!("cannot read {}", plan.local.display()),
            source,
        })?;
        if local.sha256 != remote_sha && plan.force {
            return Ok(None);
        }
        self.send(ClientMessage::PutCancel {}).await?;
        if local.sha256 == remote_sha {
            Ok(Some(local))
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
