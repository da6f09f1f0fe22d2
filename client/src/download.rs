//! One download attempt on an open, logged-in connection.
//!
//! Data goes to the `.part` file next to `LOCAL` (see [`crate::part`]: its name, how it is
//! opened without following links, its lock and the checked rename), appended from its
//! current length (the server is asked to resume there) by a writer thread that hashes
//! everything in the file. A part is resumed only while the remote file is the one it was
//! started from (see [`crate::remote_identity`]); otherwise the client says so and starts
//! over. Only when the SHA-256 of the whole `.part` equals the server's is it synced and
//! renamed to `LOCAL`: a file never appears under its final name unless whole and verified.
//! A mismatch deletes the `.part` (exit 6). A full local disk is told as such and the part is
//! kept. A signal (see [`crate::interrupt`]) stops the receiving between two frames; the
//! writer still drains what it has, seals its checkpoint list and the `.part` is kept for a
//! resume. An existing `LOCAL` without `--force` is compared, not replaced; with `--force`, one
//! of the remote file's size is compared first and left untouched when identical (see
//! [`crate::identical`]). Every file-system call here runs on a blocking thread (see
//! [`crate::blocking`]); this module must never touch the disk on the async runtime.

use std::path::Path;

use ftp_proto::files::filestream::{HashPlan, HashingWriter, Written};
use ftp_proto::{ClientMessage, EntryKind, ErrorKind, ServerMessage};
use indicatif::HumanBytes;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::blocking;
use crate::checkpoints::{self, Store};
use crate::connection::Client;
use crate::error::ClientError;
use crate::jobs::{GetPlan, Report, Tally};
use crate::output::{printable, remote_shown};
use crate::part::Part;
pub use crate::part::{local_error, part_path};
use crate::progress::FileProgress;
use crate::rate::RateLimiter;
use crate::remote_identity::{Record, RemoteIdentity};

/// What a resume of a changed remote file says.
const CHANGED: &str = "the remote file changed since the partial download; starting over";

/// The server's modification time of a file (seconds since the epoch and nanoseconds), which
/// the downloaded copy gets; `None` for 0 seconds, which the server sends when it does not know
/// it, and for nanoseconds past a second.
pub(crate) fn server_time(modified: i64, nanos: u32) -> Option<std::time::SystemTime> {
    let secs = u64::try_from(modified).ok().filter(|&secs| secs > 0)?;
    let nanos = Some(nanos).filter(|&nanos| nanos < 1_000_000_000)?;
    std::time::UNIX_EPOCH.checked_add(std::time::Duration::new(secs, nanos))
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
        if plan.force
            && let Some(identical) = self.compare_before_replacing(plan, progress, tally).await?
        {
            return Ok(identical);
        }
        let (local, force) = (plan.local.to_path_buf(), plan.force);
        let (part, have, saved) = match blocking::run(move || look(&local, force)).await? {
            Found::Existing(len) => {
                return self.compare_existing(plan, len, progress, tally).await;
            }
            Found::Part { part, have, saved } => (part, have, saved),
        };
        let mut ask = have;
        if have > 0
            && let Some(saved) = &saved
            && !self.still_the_same(plan.remote, saved).await?
        {
            progress.note(&format!(
                "{}: {CHANGED}",
                printable(&remote_shown(plan.remote))
            ));
            ask = 0;
        }
        self.send(ClientMessage::Get {
            path: plan.remote.to_owned(),
            offset: ask,
            limit_rate: limiter.as_ref().map(RateLimiter::rate),
        })
        .await?;
        let (size, modified, modified_nanos, offset) = match self.receive().await? {
            ServerMessage::GetReady {
                size,
                modified,
                modified_nanos,
                offset,
            } if offset <= size && offset <= ask => (size, modified, modified_nanos, offset),
            ServerMessage::GetReady { .. } => {
                return Err(ClientError::Protocol(
                    "the server offered to resume past what either side has".into(),
                ));
            }
            other => return Err(crate::connection::unexpected("a download answer", &other)),
        };
        let identity = RemoteIdentity {
            // As the server resolves it: `x` and `/x` are the same file.
            remote: remote_shown(plan.remote),
            size,
            modified,
        };
        let changed = saved.as_ref().is_some_and(|saved| *saved != identity);
        if offset > 0 && changed {
            // Changed between the look and the request: the data on its way continues the
            // wrong file. Drop it, and let a reconnect start over.
            if let Some(part) = part {
                blocking::run(move || part.file.set_len(0).map_err(|e| local_error(&part.path, e)))
                    .await?;
            }
            return Err(ClientError::Connection(CHANGED.into()));
        }
        // Only now, with the remote file known to exist, is anything created locally.
        let part_path = part_path(plan.local);
        let Opened {
            part,
            file,
            record,
            store,
            hash_plan,
        } = blocking::run(move || open(part, &part_path, offset, &identity, saved)).await?;
        tally.resumed_from.get_or_insert(offset);
        progress.start_sized(offset, size, "local .part file");
        let hash_plan = hash_plan.with_progress(progress.hashing("hashing"));
        let writer = HashingWriter::start(file, offset, hash_plan);
        let received = self
            .receive_data(&writer, offset, size, &mut limiter, progress, tally)
            .await;
        if !matches!(received, Ok(Some(_))) {
            // Stopped before `GetDone`: the rest of the data may still be on its way.
            self.set_out_of_step();
        }
        // Whatever stopped the receiving, the writer drains and seals its list before this.
        let written = writer.finish().await;
        let (server_sha, Written { file, sha256, end }) = match (received, written) {
            (Ok(Some(sha)), Ok(written)) => (sha, written),
            // The writer stopped (a full disk, most often): its error is the story.
            (_, Err(error)) => return Err(local_error(&part.path, error)),
            (Ok(None), Ok(_)) => {
                return Err(ClientError::Protocol("the local writer stopped".into()));
            }
            (Err(error), Ok(_)) => return Err(kept(error, plan.remote, &part.path, size).await),
        };
        if sha256 != server_sha {
            blocking::run(move || {
                if let Some(store) = &store {
                    store.forget();
                }
                drop(file);
                let _ = std::fs::remove_file(&part.path);
                if let Some(record) = &record {
                    record.forget();
                }
                Ok(())
            })
            .await?;
            return Err(ClientError::Remote {
                kind: ErrorKind::Integrity,
                message: format!(
                    "integrity check failed for {}: the downloaded data does not match the server's SHA-256; the partial download was discarded, run the command again",
                    printable(&remote_shown(plan.remote))
                ),
            });
        }
        // fsync, the checked rename and the folder's fsync, off the runtime.
        let (target, durable) = (plan.local.to_path_buf(), plan.durable);
        let modified = server_time(modified, modified_nanos);
        let shown = plan.local.to_path_buf();
        blocking::run(move || {
            if let Some(store) = &store {
                store.forget();
            }
            let id = part.id();
            part.finish(file, &target, modified, durable).map_err(|e| {
                match local_error(&shown, e) {
                    ClientError::Local { context, source } => ClientError::Local {
                        context: context.replacen("cannot write", "cannot finish", 1),
                        source,
                    },
                    other => other,
                }
            })?;
            // The file's SHA-256 is kept in the cache (see `crate::local_hash`).
            crate::local_hash::remember_download(&target, id, &end);
            if let Some(record) = &record {
                record.forget();
            }
            Ok(())
        })
        .await?;
        Ok(Report {
            size,
            offset,
            sha256,
            identical: false,
        })
    }

    /// Whether `remote` still has the size and modification time `saved` recorded (a cheap
    /// `List` of the one file). A link or anything else not described as a file is taken as
    /// the same: the server's answer to `Get` is checked again.
    async fn still_the_same(
        &mut self,
        remote: &str,
        saved: &RemoteIdentity,
    ) -> Result<bool, ClientError> {
        if saved.remote != remote_shown(remote) {
            return Ok(false);
        }
        let entries = self.list(remote).await?;
        Ok(match entries.as_slice() {
            [entry] if entry.kind == EntryKind::File => {
                entry.size == saved.size && entry.modified == saved.modified
            }
            _ => true,
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
    ) -> Result<Option<[u8; 32]>, ClientError> {
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
                        // Its error comes with `finish`.
                        return Ok(None);
                    }
                    position += len;
                    tally.sent += len;
                    progress.advance(len);
                }
                ServerMessage::GetDone { sha256 } if position == size => return Ok(Some(sha256)),
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

/// What is at a download's target before an attempt.
enum Found {
    /// A regular file of this length, to compare rather than replace.
    Existing(u64),
    /// The part, if there is one, the bytes it holds, and the remote file it was started from
    /// when that is on record.
    Part {
        /// The opened, verified and locked part.
        part: Option<Part>,
        /// Its length.
        have: u64,
        /// The remote file it holds the start of.
        saved: Option<RemoteIdentity>,
    },
}

/// Looks at the target `local` (unless `force`) and its part. Blocking.
fn look(local: &Path, force: bool) -> Result<Found, ClientError> {
    if !force && let Some(len) = crate::identical::existing_len(local)? {
        return Ok(Found::Existing(len));
    }
    let part = Part::open_existing(&part_path(local))?;
    let have = match &part {
        Some(part) => part
            .file
            .metadata()
            .map_err(|e| local_error(&part.path, e))?
            .len(),
        None => 0,
    };
    let saved = part
        .as_ref()
        .and_then(|p| Record::for_part(&p.path, p.id()))
        .and_then(|record| record.load());
    Ok(Found::Part { part, have, saved })
}

/// A part ready for the writer.
struct Opened {
    /// The part (its lock held until the rename).
    part: Part,
    /// The writer's handle on it, cut to the offset.
    file: std::fs::File,
    /// Where the remote file it belongs to is on record.
    record: Option<Record>,
    /// Its checkpoint list.
    store: Option<Store>,
    /// How the writer hashes what the part already holds.
    hash_plan: HashPlan,
}

/// Opens the part at `path` (`part` when it was already open, else created), cuts it to
/// `offset`, records `identity` when it is new or restarted (`saved` is what was on record)
/// and plans the hashing. Blocking.
fn open(
    part: Option<Part>,
    path: &Path,
    offset: u64,
    identity: &RemoteIdentity,
    saved: Option<RemoteIdentity>,
) -> Result<Opened, ClientError> {
    let part = match part {
        Some(part) => part,
        None => Part::open_or_create(path)?,
    };
    let file = part
        .file
        .try_clone()
        .map_err(|e| local_error(&part.path, e))?;
    let len = file
        .metadata()
        .map_err(|e| local_error(&part.path, e))?
        .len();
    if offset < len {
        file.set_len(offset)
            .map_err(|e| local_error(&part.path, e))?;
    }
    let record = Record::for_part(&part.path, part.id());
    if let Some(record) = &record
        && (saved.as_ref() != Some(identity) || offset == 0)
    {
        record.save(identity);
    }
    let store = Store::for_download(&part.path, &file);
    let hash_plan = checkpoints::plan(store.as_ref(), offset);
    Ok(Opened {
        part,
        file,
        record,
        store,
        hash_plan,
    })
}

/// An interruption, told with what `part` keeps of the `size` bytes of `remote`; any other
/// error as it is.
async fn kept(error: ClientError, remote: &str, part: &Path, size: u64) -> ClientError {
    if !matches!(error, ClientError::Interrupted(_)) {
        return error;
    }
    let part_len = part.to_path_buf();
    let kept = blocking::run(move || Ok(std::fs::metadata(&part_len).map_or(0, |meta| meta.len())))
        .await
        .unwrap_or(0);
    ClientError::Interrupted(format!(
        "{} of {} ({}) kept in {}; run the same command to resume",
        HumanBytes(kept),
        printable(&remote_shown(remote)),
        HumanBytes(size),
        printable(&part.display().to_string()),
    ))
}
