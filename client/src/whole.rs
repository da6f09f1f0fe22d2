//! Small files, sent whole and pipelined: each goes in one `PutWhole` message with its
//! SHA-256, up to [`WINDOW`] ahead of the answers, so a folder of small files costs no round
//! trip per file. Messages are queued and written together, flushed only before waiting for
//! an answer that is not already here. The server answers in order, once each file is durable
//! and in place.

use std::collections::VecDeque;
use std::io::Read;

use ftp_proto::{ClientMessage, ErrorKind, MAX_CHUNK_LEN, ServerMessage};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::connection::Client;
use crate::error::ClientError;
use crate::transfer::{Outcome, PutJob};
use crate::upload;

/// Files at most this large go whole.
pub const SMALL_FILE: u64 = (MAX_CHUNK_LEN / 4) as u64;

/// Files sent ahead of their answers: two of the server's batches (512 files each), so the
/// next batch is on its way while the server makes the one before durable.
const WINDOW: usize = 1024;

/// A file on its way: sent and awaiting its answer, or already failed locally.
enum Flight {
    /// Sent; the answer is next in line.
    Sent {
        /// Index in the jobs.
        index: usize,
        /// Its size.
        size: u64,
        /// Its SHA-256.
        sha256: [u8; 32],
    },
    /// Could not be read; reported in its turn.
    Failed {
        /// Index in the jobs.
        index: usize,
        /// Why.
        error: ClientError,
    },
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    /// Uploads `jobs[*next..]` whole, calling `done` for each in order. `*next` moves past each
    /// answered file, so after a lost connection (the error returned) a new connection carries
    /// on from there.
    pub async fn put_whole(
        &mut self,
        jobs: &[PutJob],
        next: &mut usize,
        force: bool,
        upload_id: [u8; 16],
        done: &mut impl FnMut(usize, Result<Outcome, ClientError>),
    ) -> Result<(), ClientError> {
        let mut flights: VecDeque<Flight> = VecDeque::new();
        let mut queued = *next;
        let mut sent = 0;
        while *next < jobs.len() {
            while queued < jobs.len() && sent < WINDOW {
                let index = queued;
                queued += 1;
                match read_whole(&jobs[index], force, upload_id) {
                    Ok((message, size, sha256)) => {
                        self.feed_or_explain(message).await?;
                        flights.push_back(Flight::Sent {
                            index,
                            size,
                            sha256,
                        });
                        sent += 1;
                    }
                    Err(error) => flights.push_back(Flight::Failed { index, error }),
                }
            }
            match flights.pop_front() {
                Some(Flight::Failed { index, error }) => done(index, Err(error)),
                Some(Flight::Sent {
                    index,
                    size,
                    sha256,
                }) => {
                    sent -= 1;
                    let answer = match self.receive_flushing().await {
                        Err(error @ ClientError::Remote { .. }) => Err(error),
                        Err(error) => return Err(error),
                        Ok(message) => settle(&jobs[index], message, size, sha256),
                    };
                    done(index, answer);
                }
                None => return Ok(()),
            }
            *next += 1;
        }
        Ok(())
    }
}

/// Reads a small file and builds its message; returns it with the file's size and hash.
fn read_whole(
    job: &PutJob,
    force: bool,
    upload_id: [u8; 16],
) -> Result<(ClientMessage, u64, [u8; 32]), ClientError> {
    let (mut file, identity) = upload::open_local(&job.local)?;
    let mut data = Vec::with_capacity(usize::try_from(identity.size).unwrap_or(0));
    file.read_to_end(&mut data)
        .map_err(|source| ClientError::Local {
            context: format!("cannot read {}", job.local.display()),
            source,
        })?;
    if data.len() as u64 != identity.size || identity.size > SMALL_FILE {
        return Err(ClientError::Local {
            context: format!("cannot read {}", job.local.display()),
            source: std::io::Error::other("the file changed size while it was being read"),
        });
    }
    let sha256: [u8; 32] = Sha256::digest(&data).into();
    let size = identity.size;
    let message = ClientMessage::PutWhole {
        path: job.remote.clone(),
        file: identity,
        force,
        upload_id,
        data: data.into(),
        sha256,
    };
    Ok((message, size, sha256))
}

/// What the server's answer means for one file.
fn settle(
    job: &PutJob,
    answer: ServerMessage,
    size: u64,
    sha256: [u8; 32],
) -> Result<Outcome, ClientError> {
    let outcome = |identical: bool| Outcome {
        size,
        sent: if identical { 0 } else { size },
        resumed_from: 0,
        sha256,
        identical,
        hashed_from_cache: false,
    };
    match answer {
        ServerMessage::PutDone {
            size: done_size,
            sha256: done_sha,
        } if done_size == size && done_sha == sha256 => Ok(outcome(false)),
        ServerMessage::PutDone { .. } => Err(ClientError::Remote {
            kind: ErrorKind::Integrity,
            message: "the server reports a different size or SHA-256 for the stored file".into(),
        }),
        ServerMessage::PutExisting { sha256: existing } if existing == sha256 => Ok(outcome(true)),
        ServerMessage::PutExisting { .. } => Err(ClientError::Remote {
            kind: ErrorKind::Exists,
            message: format!(
                "upload refused: {} already exists with different content ({size} bytes, the \
                 same size); use --force to replace it",
                crate::output::remote_shown(&job.remote)
            ),
        }),
        other => Err(crate::connection::unexpected("an upload's result", &other)),
    }
}
