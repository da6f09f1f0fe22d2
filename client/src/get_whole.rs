//! Small files, downloaded pipelined: the twin of [`crate::whole`]. Up to [`WINDOW`] `Get`
//! requests (and at most [`AHEAD_BYTES`] of them) go out ahead of their answers (the server
//! answers requests in order and reads none while it sends a file), so many small files cost
//! no round trip each.
//!
//! Each file's data is gathered in memory (each is at most a few hundred KiB: callers pass
//! files whose listed size is at most [`crate::whole::SMALL_FILE`]) and handed to a writer
//! thread, which makes whole batches of files durable together instead of one fsync per file:
//! for each file of a batch it checks the SHA-256 of the data against the server's, writes its
//! `.part` (opened and locked as every download's part: see [`crate::part`]) and gives it the
//! server's modification time; then one `syncfs` per file system makes the data of the whole
//! batch durable; then each part is renamed into place (checked as [`crate::part::Part::finish`]
//! checks it) and each folder of the batch is fsynced once. A file appears under its final name
//! only whole, verified and durable, and a killed client leaves at most `.part` files (which
//! the next run starts again: a small file is cheaper to fetch again than to resume).
//!
//! Without `force` the callers send here only files with nothing at their local names (an
//! existing file is compared by the single-file path, [`crate::download`]), and a file that
//! appears at a target meanwhile is refused; with `force`, whatever is at a target is replaced
//! by the rename, never compared. Nothing here touches the disk on the async runtime, and the
//! data is hashed on the writer thread.

mod writer;

use std::collections::VecDeque;
use std::path::PathBuf;

use bytes::Bytes;
use ftp_proto::{ClientMessage, ServerMessage};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::connection::Client;
use crate::error::ClientError;
use crate::jobs::{GetJob, Outcome};
use crate::output::{printable, remote_shown};
use writer::spawn_writer;

/// Requests sent ahead of their answers.
const WINDOW: usize = 256;

/// Most bytes of requests sent ahead (a rough size of each `Get`: its path and a little more).
/// The server does not read while it sends a file, so requests ahead must fit in the socket
/// buffers between the two sides, or both would wait on each other: far below the smallest
/// buffers, even when every path is 4 KiB long.
const AHEAD_BYTES: usize = 32 * 1024;

/// What one `Get` request counts for [`AHEAD_BYTES`].
fn request_bytes(job: &GetJob) -> usize {
    job.remote.len() + 64
}

/// Files received and waiting for the writer (each at most [`MAX_WHOLE`], most far smaller:
/// with a batch being written, the client holds at most about 16 MiB plus these).
const WAITING: usize = 64;

/// Most files the writer makes durable together (each holds one file descriptor until its
/// batch is in place; a batch is drawn from the [`WAITING`] files, so it rarely gets this big).
const BATCH_FILES: usize = 128;

/// Most bytes of file data the writer makes durable together.
const BATCH_BYTES: u64 = 16 << 20;

/// Largest file gathered in memory: a file that grew past it since it was listed is refused
/// here (the next run lists it again and fetches it in chunks).
const MAX_WHOLE: u64 = 4 << 20;

/// One file received from the server, not yet checked.
struct Received {
    /// Index in the jobs.
    index: usize,
    /// Final local path.
    local: PathBuf,
    /// Make it durable before it appears.
    durable: bool,
    /// Its data, frame by frame.
    data: Vec<Bytes>,
    /// Its size.
    size: u64,
    /// The server's SHA-256 of it.
    sha256: [u8; 32],
    /// The server's modification time, when known.
    modified: Option<std::time::SystemTime>,
}

/// A small file already at its local name, whose remote counterpart has the same size: the
/// server sent only its SHA-256, to compare with the local file's.
struct Compared {
    /// Index in the jobs.
    index: usize,
    /// The local file.
    local: PathBuf,
    /// The remote path (for the message of a difference).
    remote: String,
    /// The size of both.
    size: u64,
    /// The server's SHA-256 of its file.
    sha256: [u8; 32],
}

/// What the receiving hands the writer, in the jobs' order.
enum Arrived {
    /// A file to check and put in place.
    File(Received),
    /// A local file to compare with the server's SHA-256.
    Compare(Compared),
    /// A file the server refused: reported in its turn.
    Refused(usize, ClientError),
}

/// The refusal of a local file that differs from the remote one (as a single `get` says it).
fn differs(local: &std::path::Path, remote: &str) -> ClientError {
    ClientError::Remote {
        kind: ftp_proto::ErrorKind::Exists,
        message: format!(
            "{} already exists and differs from {}; use --force to replace it",
            printable(&local.display().to_string()),
            printable(&remote_shown(remote)),
        ),
    }
}

/// A file's result, from the writer.
type Finished = (usize, Result<Outcome, ClientError>);

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    /// Downloads `jobs[*next..]` (small files) pipelined, calling `done` for each in order once
    /// it is in place (or failed). A job whose `existing[index]` is the length of the regular
    /// file already at its local name is compared instead, as a single `get` compares it
    /// (asked from that length, so the server sends only its SHA-256 when the sizes match):
    /// `identical`, or refused as different (exit 4), never written. `existing` may be shorter
    /// than `jobs` (empty: nothing is there). `*next` moves past each reported file, so after a
    /// lost connection (the error returned) a new connection carries on from there; files
    /// already received are put in place first.
    pub async fn get_whole(
        &mut self,
        jobs: &[GetJob],
        existing: &[Option<u64>],
        next: &mut usize,
        force: bool,
        done: &mut impl FnMut(usize, Result<Outcome, ClientError>),
    ) -> Result<(), ClientError> {
        let asked = |index: usize| existing.get(index).copied().flatten().unwrap_or(0);
        let (to_writer, mut finished) = spawn_writer(force)?;
        let mut report = |(index, result): Finished, next: &mut usize| {
            done(index, result);
            *next = index + 1;
        };
        let mut flights: VecDeque<usize> = VecDeque::new();
        let mut queued = *next;
        let mut ahead = 0;
        let ended = 'files: loop {
            while queued < jobs.len()
                && flights.len() < WINDOW
                && (flights.is_empty() || ahead + request_bytes(&jobs[queued]) <= AHEAD_BYTES)
            {
                ahead += request_bytes(&jobs[queued]);
                let get = ClientMessage::Get {
                    path: jobs[queued].remote.clone(),
                    offset: asked(queued),
                    limit_rate: None,
                };
                if let Err(error) = self.feed_or_explain(get).await {
                    break 'files Err(error);
                }
                flights.push_back(queued);
                queued += 1;
            }
            let Some(index) = flights.pop_front() else {
                break Ok(());
            };
            ahead -= request_bytes(&jobs[index]);
            let arrived = match self.receive_whole(index, &jobs[index], asked(index)).await {
                Ok(arrived) => arrived,
                Err(error @ ClientError::Remote { .. })
                    if !crate::transfer::is_retryable(&error) =>
                {
                    Arrived::Refused(index, error)
                }
                Err(error) => {
                    // The rest of this file's answer, and the later ones, may be on the way.
                    self.set_out_of_step();
                    break Err(error);
                }
            };
            if to_writer.send(arrived).await.is_err() {
                break Err(crate::blocking::thread_failed(
                    "the download writer stopped early",
                ));
            }
            while let Ok(result) = finished.try_recv() {
                report(result, next);
            }
        };
        // What was received goes in place before this attempt ends, whatever ended it.
        drop(to_writer);
        while let Some(result) = finished.recv().await {
            report(result, next);
        }
        ended
    }

    /// Receives the answer to the `Get` of `job` asked from `asked` (0, or the length of the
    /// local file to compare): `GetReady`, its data, `GetDone`.
    async fn receive_whole(
        &mut self,
        index: usize,
        job: &GetJob,
        asked: u64,
    ) -> Result<Arrived, ClientError> {
        let (size, offset, modified) = match self.receive_flushing().await? {
            ServerMessage::GetReady {
                size,
                modified,
                modified_nanos,
                offset,
                // From where it was asked, or (past the end of the file) from the start.
            } if offset <= size && (offset == asked || offset == 0) => (
                size,
                offset,
                crate::download::server_time(modified, modified_nanos),
            ),
            ServerMessage::GetReady { .. } => {
                return Err(ClientError::Protocol(
                    "the server offered to resume a download past what was asked".into(),
                ));
            }
            other => return Err(crate::connection::unexpected("a download answer", &other)),
        };
        let comparing = asked > 0;
        let keep = !comparing && size <= MAX_WHOLE;
        let mut data = Vec::new();
        let mut position = offset;
        let sha256 = loop {
            match self.receive().await? {
                ServerMessage::Data {
                    offset,
                    data: bytes,
                } => {
                    let len = bytes.len() as u64;
                    if offset != position || position + len > size {
                        return Err(ClientError::Protocol(format!(
                            "data at {offset} ({len} bytes) does not follow {position} within {size} bytes"
                        )));
                    }
                    position += len;
                    if keep {
                        data.push(bytes);
                    }
                }
                ServerMessage::GetDone { sha256 } if position == size => break sha256,
                ServerMessage::GetDone { .. } => {
                    return Err(ClientError::Protocol(format!(
                        "the server ended the download at {position} of {size} bytes"
                    )));
                }
                other => return Err(crate::connection::unexpected("download data", &other)),
            }
        };
        if comparing {
            if size != asked || offset != asked {
                return Ok(Arrived::Refused(index, differs(&job.local, &job.remote)));
            }
            return Ok(Arrived::Compare(Compared {
                index,
                local: job.local.clone(),
                remote: job.remote.clone(),
                size,
                sha256,
            }));
        }
        if !keep {
            return Err(ClientError::Local {
                context: format!(
                    "{} grew to {size} bytes since it was listed",
                    printable(&remote_shown(&job.remote))
                ),
                source: std::io::Error::other("run the command again to fetch it"),
            });
        }
        Ok(Arrived::File(Received {
            index,
            local: job.local.clone(),
            durable: job.durable,
            data,
            size,
            sha256,
            modified,
        }))
    }
}

#[cfg(test)]
mod tests;
