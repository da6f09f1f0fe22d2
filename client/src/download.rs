//! One download attempt on an open, logged-in connection.
//!
//! Data goes to `LOCAL.part`, appended from its current length (the server is asked to resume
//! there) by a writer thread that hashes everything in the file. Only when the SHA-256 of the
//! whole `.part` equals the server's is it synced and renamed to `LOCAL`: a file never appears
//! under its final name unless whole and verified. A mismatch deletes the `.part` (exit 6).
//! A signal (see [`crate::interrupt`]) stops the receiving between two frames; the writer still
//! drains what it has, seals its checkpoint list and the `.part` is kept for a resume.

use std::path::{Path, PathBuf};

use ftp_proto::filestream::{HashingWriter, Written};
use ftp_proto::{ClientMessage, ErrorKind, ServerMessage};
use indicatif::HumanBytes;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::checkpoints::{self, Store};
use crate::connection::Client;
use crate::error::ClientError;
use crate::output::{printable, remote_shown};
use crate::progress::FileProgress;
use crate::rate::RateLimiter;
use crate::transfer::{Report, Tally};

/// What one download asks for.
#[derive(Debug, Clone)]
pub struct GetPlan<'a> {
    /// Remote path.
    pub remote: &'a str,
    /// Final local path.
    pub local: &'a Path,
    /// Sync the data (writeback starts as it arrives) before the rename.
    pub durable: bool,
}

/// The `.part` file next to `local`.
pub fn part_path(local: &Path) -> PathBuf {
    let mut name = local.as_os_str().to_owned();
    name.push(".part");
    PathBuf::from(name)
}

/// A local I/O error with its context.
fn local(context: String) -> impl FnOnce(std::io::Error) -> ClientError {
    move |source| ClientError::Local { context, source }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    /// Downloads one file (see the module doc). `tally` counts received bytes and the first
    /// attempt's offset across the attempts of one command.
    pub async fn get(
        &mut self,
        plan: &GetPlan<'_>,
        mut limiter: Option<RateLimiter>,
        progress: &FileProgress,
        tally: &mut Tally,
    ) -> Result<Report, ClientError> {
        let part = part_path(plan.local);
        let have = match std::fs::metadata(&part) {
            Ok(meta) => meta.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(local(format!("cannot read {}", part.display()))(e)),
        };
        self.send(ClientMessage::Get {
            path: plan.remote.to_owned(),
            offset: have,
        })
        .await?;
        let (size, offset) = match self.receive().await? {
            ServerMessage::GetReady { size, offset, .. } if offset <= size && offset <= have => {
                (size, offset)
            }
            ServerMessage::GetReady { .. } => {
                return Err(ClientError::Protocol(
                    "the server offered to resume past what either side has".into(),
                ));
            }
            other => return Err(crate::connection::unexpected("a download answer", &other)),
        };
        // Only now, with the remote file known to exist, is anything created locally.
        let file = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&part)
            .map_err(local(format!("cannot write {}", part.display())))?;
        if offset < have {
            file.set_len(offset)
                .map_err(local(format!("cannot write {}", part.display())))?;
        }
        tally.resumed_from.get_or_insert(offset);
        progress.start_sized(offset, size, "local .part file");
        let store = Store::for_download(&part, &file);
        let hash_plan = checkpoints::plan(store.as_ref(), offset);
        let writer = HashingWriter::start(file, offset, hash_plan);
        let received = self
            .receive_data(&writer, offset, size, &mut limiter, progress, tally)
            .await;
        // Whatever stopped the receiving, the writer drains and seals its list before this.
        let written = writer.finish().await;
        let server_sha = received.map_err(|error| kept(error, plan.remote, &part, size))?;
        let Written { file, sha256, .. } =
            written.map_err(local(format!("cannot write {}", part.display())))?;
        if let Some(store) = &store {
            store.forget();
        }
        if sha256 != server_sha {
            drop(file);
            let _ = std::fs::remove_file(&part);
            return Err(ClientError::Remote {
                kind: ErrorKind::Integrity,
                message: format!(
                    "integrity check failed for {}: the downloaded data does not match the server's SHA-256; the partial download was discarded, run the command again",
                    plan.remote
                ),
            });
        }
        // fsync, rename and the folder's fsync, off the runtime.
        let (moved, target, durable) = (part.clone(), plan.local.to_path_buf(), plan.durable);
        tokio::task::spawn_blocking(move || finish(file, &moved, &target, durable))
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())))
            .map_err(local(format!("cannot finish {}", plan.local.display())))?;
        Ok(Report {
            size,
            offset,
            sha256,
            identical: false,
        })
    }

    /// Receives `Data` frames into the writer until `GetDone`; returns the server's SHA-256.
    async fn receive_data(
        &mut self,
        writer: &HashingWriter,
        offset: u64,
        size: u64,
        limiter: &mut Option<RateLimiter>,
        progress: &FileProgress,
        tally: &mut Tally,
    ) -> Result<[u8; 32], ClientError> {
        let mut position = offset;
        loop {
            match self.receive().await? {
                ServerMessage::Data { offset, data } => {
                    let len = data.len() as u64;
                    if offset != position || position + len > size {
                        return Err(ClientError::Protocol(format!(
                            "data at {offset} ({len} bytes) does not follow {position} within {size} bytes"
                        )));
                    }
                    if let Some(limiter) = limiter.as_mut() {
                        self.interrupt().guard(limiter.take(len)).await?;
                    }
                    if !writer.write(data).await {
                        return Err(ClientError::Protocol("the local writer stopped".into()));
                    }
                    position += len;
                    tally.sent += len;
                    progress.advance(len);
                }
                ServerMessage::GetDone { sha256 } if position == size => return Ok(sha256),
                ServerMessage::GetDone { .. } => {
                    return Err(ClientError::Protocol(format!(
                        "the server ended the download at {position} of {size} bytes"
                    )));
                }
                other => return Err(crate::connection::unexpected("download data", &other)),
            }
        }
    }
}

/// An interruption, told with what `part` keeps of the `size` bytes of `remote`; any other
/// error as it is.
fn kept(error: ClientError, remote: &str, part: &Path, size: u64) -> ClientError {
    if !matches!(error, ClientError::Interrupted(_)) {
        return error;
    }
    let kept = std::fs::metadata(part).map_or(0, |meta| meta.len());
    ClientError::Interrupted(format!(
        "{} of {} ({}) kept in {}; run the same command to resume",
        HumanBytes(kept),
        printable(&remote_shown(remote)),
        HumanBytes(size),
        printable(&part.display().to_string()),
    ))
}

/// Makes a verified `.part` the final file: fsync (when `durable`), rename, fsync the folder.
/// Blocking.
fn finish(file: std::fs::File, part: &Path, local: &Path, durable: bool) -> std::io::Result<()> {
    if durable {
        file.sync_all()?;
    }
    drop(file);
    std::fs::rename(part, local)?;
    if !durable {
        return Ok(());
    }
    let folder = match local.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    std::fs::File::open(folder)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_part_file_sits_next_to_the_target() {
        assert_eq!(
            part_path(Path::new("a/b.iso")),
            PathBuf::from("a/b.iso.part")
        );
        assert_eq!(part_path(Path::new("x")), PathBuf::from("x.part"));
    }
}
