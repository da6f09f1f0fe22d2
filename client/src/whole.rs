//! Small files, sent whole and pipelined: each goes in one `PutWhole` message with its
//! SHA-256, up to [`WINDOW`] ahead of the answers, so a folder of small files costs no round
//! trip per file. Messages are queued and written together, flushed only before waiting for
//! an answer that is not already here. The server answers in order, once each file is durable
//! and in place.
//!
//! The files are opened, read and hashed on a reader thread of their own, [`READ_AHEAD`]
//! files ahead of the sending, so the runtime never waits on the disk and reading overlaps
//! the network. This module must never read a file on the async runtime.

use std::collections::VecDeque;
use std::io::Read;

use ftp_proto::{ClientMessage, ErrorKind, MAX_CHUNK_LEN, ServerMessage};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;

use crate::connection::Client;
use crate::error::ClientError;
use crate::jobs::{Outcome, PutJob};
use crate::upload;

/// Files at most this large go whole.
pub const SMALL_FILE: u64 = (MAX_CHUNK_LEN / 4) as u64;

/// Files sent ahead of their answers: two of the server's batches (512 files each), so the
/// next batch is on its way while the server makes the one before durable.
const WINDOW: usize = 1024;

/// Files the reader thread holds read ahead of the sending (each at most [`SMALL_FILE`]
/// bytes, so at most 8 MiB of file data waits here).
const READ_AHEAD: usize = 32;

/// One file as the reader thread hands it over: its index in the jobs, and its message, size
/// and SHA-256, or why it could not be read.
type ReadFile = (usize, Result<(ClientMessage, u64, [u8; 32]), ClientError>);

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
        // Stops at its next file once this attempt ends and `reads` is dropped.
        let mut reads = spawn_reader(&jobs[queued..], queued, force, upload_id)?;
        while *next < jobs.len() {
            while queued < jobs.len() && sent < WINDOW {
                let read = self.interrupt().guard(reads.recv()).await?;
                let Some((index, read)) = read.filter(|(index, _)| *index == queued) else {
                    return Err(crate::blocking::thread_failed(
                        "the small-file reader stopped early",
                    ));
                };
                queued += 1;
                match read {
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

/// Starts the thread that reads `jobs` (the first of them at index `first`) in order, each
/// with [`read_whole`], and hands them over at most [`READ_AHEAD`] ahead of their sending. The
/// thread ends after the last file, or at its next file once the receiver is dropped.
fn spawn_reader(
    jobs: &[PutJob],
    first: usize,
    force: bool,
    upload_id: [u8; 16],
) -> Result<mpsc::Receiver<ReadFile>, ClientError> {
    let (to_sender, reads) = mpsc::channel(READ_AHEAD);
    let jobs = jobs.to_vec();
    std::thread::Builder::new()
        .name("ftp-small-files".into())
        .spawn(move || {
            for (index, job) in (first..).zip(&jobs) {
                let read = read_whole(job, force, upload_id);
                if to_sender.blocking_send((index, read)).is_err() {
                    return;
                }
            }
        })
        .map_err(|source| ClientError::Local {
            context: "cannot start the small-file reader thread".into(),
            source,
        })?;
    Ok(reads)
}

/// Reads a small file and builds its message; returns it with the file's size and hash.
/// Blocking: runs on the reader thread only.
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
    let message = ClientMessage::PutWhole(ftp_proto::WholeRequest {
        path: job.remote.clone(),
        file: identity,
        force,
        upload_id,
        data: data.into(),
        sha256,
    });
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

#[cfg(test)]
mod tests {
    use std::os::unix::fs::OpenOptionsExt;
    use std::path::Path;
    use std::sync::mpsc as std_mpsc;
    use std::time::Duration;

    use ftp_proto::SharedKey;
    use futures::{SinkExt, StreamExt};

    use super::*;

    /// A server at the other end of `stream`: the key handshake, then `PutDone` for each
    /// `PutWhole`.
    async fn serve(stream: tokio::io::DuplexStream, key: SharedKey) {
        let mut conn = crate::test_server::accept(stream, &key).await;
        while let Some(Ok(ClientMessage::PutWhole(ftp_proto::WholeRequest {
            data, sha256, ..
        }))) = conn.next().await
        {
            let size = data.len() as u64;
            conn.send(ServerMessage::PutDone { size, sha256 })
                .await
                .unwrap();
        }
    }

    /// Opens `fifo` for writing without blocking: it succeeds only while a reader has it open
    /// or is waiting in its open.
    fn open_writer(fifo: &Path) -> std::io::Result<std::fs::File> {
        let flags = rustix::fs::OFlags::NONBLOCK.bits();
        std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(i32::try_from(flags).unwrap())
            .open(fifo)
    }

    /// A FIFO among the files (swapped in after the command looked) is refused, never waited
    /// on, and the files after it still go. Nobody writes to it: an open that waited for a
    /// writer would never return, on the runtime or off it. (A thread opens the FIFO for
    /// writing after a long wait so that such a failure ends instead of hanging.)
    #[test]
    fn a_fifo_among_the_files_is_refused_without_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.unwrap().success());
        let file = dir.path().join("file");
        std::fs::write(&file, b"data").unwrap();
        let jobs = [
            PutJob {
                local: fifo.clone(),
                remote: "fifo".into(),
                size: 0,
            },
            PutJob {
                local: file,
                remote: "file".into(),
                size: 4,
            },
        ];
        let (done, finished) = std_mpsc::channel::<()>();
        let rescue = std::thread::spawn(move || {
            if finished.recv_timeout(Duration::from_secs(30)).is_ok() {
                return false;
            }
            drop(open_writer(&fifo));
            true
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let results = runtime.block_on(async move {
            let (mut client, server) = crate::test_server::connect(serve).await;
            let mut results = Vec::new();
            let mut next = 0;
            client
                .put_whole(&jobs, &mut next, false, [1; 16], &mut |index, result| {
                    results.push((index, result.is_ok()));
                })
                .await
                .unwrap();
            drop(client);
            server.await.unwrap();
            results
        });
        let _ = done.send(());
        assert!(
            !rescue.join().unwrap(),
            "the FIFO's open waited for a writer"
        );
        assert_eq!(results, [(0, false), (1, true)]);
    }
}
