//! `Put`: receive a file in chunks into a partial, verify its SHA-256, then make it visible.
//!
//! Order of checks: permission, path, size limit, the destination's lock ("busy"), then the
//! destination itself (a folder, or an existing file without `force`, is refused; a regular file
//! of the same size is answered with its hash, with or without `force`, so identical content
//! completes at once and is never sent again). With `force`, a client that found the content
//! different answers `PutReplace`, and the lock and the destination are taken again as for a
//! forced upload with nothing to compare: `PutReady` from a matching partial. Chunks must
//! arrive in order and stay within the declared size; anything else closes the connection. On
//! every exit the writer is drained first, so the partial on disk is whole up to its length.
//! A verified file is put in place without replacing unless `force` ([`crate::place`]): one
//! that appeared meanwhile is answered "already exists" and the partial kept for `--force`.
//! The destination's lock is let go before any answer is sent, so whatever the client runs
//! next never finds this upload holding it. An upload the disk's free space (less a reserve)
//! cannot hold is refused before any data is sent; a disk found full while writing (data or
//! inodes) is answered as such.

use std::path::PathBuf;
use std::sync::Arc;

use ftp_proto::{ClientMessage, ErrorKind, MAX_CHUNK_LEN, PutRequest, ServerMessage};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

use super::Session;
use crate::connection::{Connection, receive, send, send_error};
use crate::error::{Refusal, SessionError};
use crate::jail::{self, RemotePath};
use crate::state::ServerState;
use crate::uploads::PathLock;
use crate::{place, served, uploads};
use ftp_proto::files::filestream::{HashPlan, HashingWriter, Written};

/// What to do with a file already at the destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Conflict {
    /// No `force`: a regular file of the same size is compared (its hash is answered), any
    /// other existing file refused.
    Refuse,
    /// `force`: a regular file of the same size is compared, any other replaced.
    Compare,
    /// `force`, after the client compared and asked with `PutReplace`: replaced, unhashed.
    Replace,
}

impl Conflict {
    /// How a request with or without `force` starts.
    pub(super) fn of(force: bool) -> Self {
        if force { Self::Compare } else { Self::Refuse }
    }
}

/// Where the destination stands before any data moves.
enum Prepared {
    /// A regular file of the same size is there and is to be compared: its hash.
    Existing([u8; 32]),
    /// Ready to receive from `offset` into the open partial, hashing as planned.
    Ready(std::fs::File, u64, HashPlan),
}

/// Everything about one accepted upload.
#[derive(Debug, Clone)]
pub(super) struct Upload {
    /// The uploading user.
    pub(super) user: String,
    /// Destination relative to the home.
    pub(super) destination: PathBuf,
    /// Printable remote path.
    pub(super) shown: String,
    /// Name of the partial.
    pub(super) partial: String,
    /// Declared size.
    pub(super) size: u64,
    /// Replace a file at the destination (without it, one that appears during the upload
    /// is left in place and the upload refused).
    pub(super) force: bool,
    /// Modes of the file and of the parent folders it creates.
    pub(super) modes: crate::modes::Modes,
    /// The configured `disk_reserve` ([`crate::space`]).
    pub(super) disk_reserve: Option<u64>,
    /// The client's modification time of the file, which the stored file gets (`None` when
    /// the system cannot hold it: the file keeps the time it was written).
    pub(super) modified: Option<std::time::SystemTime>,
}

/// Answers one `Put` request, through to `PutDone` or a refusal.
pub async fn handle<S>(
    conn: &mut Connection<S>,
    session: &Session,
    state: &ServerState,
    request: PutRequest,
) -> Result<(), SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let path = match check(session, state, &request) {
        Ok(path) => path,
        Err(refusal) => return send_error(conn, refusal).await,
    };
    let destination = path.relative();
    let upload = Upload {
        partial: uploads::partial_name(&session.account.name, &destination, &request.file),
        user: session.account.name.clone(),
        shown: path.to_string(),
        size: request.file.size,
        force: request.force,
        modes: state.config.modes,
        disk_reserve: state.config.disk_reserve,
        modified: uploads::client_time(&request.file),
        destination,
    };
    let lock_key = session.account.home.join(&upload.destination);
    let mut conflict = Conflict::of(request.force);
    // A second round only after `PutReplace`: the lock was let go before `PutExisting`.
    let (lock, file, offset, plan) = loop {
        let lock = match state
            .locks
            .lock(
                lock_key.clone(),
                request.upload_id,
                &upload.partial,
                &upload.shown,
            )
            .await
        {
            Ok(lock) => lock,
            Err(refusal) => return send_error(conn, refusal).await,
        };
        let prepared = {
            let home = Arc::clone(&session.home);
            let partials = Arc::clone(&state.partials);
            let (target, path) = (upload.clone(), path.clone());
            let max_partials = state.config.max_partials_per_user;
            // Partials being written by live uploads (this one's included) are not idle.
            let in_use = state.locks.partials_in_use();
            tokio::task::spawn_blocking(move || {
                prepare(
                    &home,
                    &partials,
                    &path,
                    &target,
                    conflict,
                    max_partials,
                    &in_use,
                )
            })
            .await
            .unwrap_or_else(|e| Err(Refusal::internal("preparing an upload", e)))
        };
        match prepared {
            Err(refusal) => {
                drop(lock);
                return send_error(conn, refusal).await;
            }
            Ok(Prepared::Existing(sha256)) => {
                drop(lock);
                send(conn, ServerMessage::PutExisting { sha256 }).await?;
                match receive(conn).await? {
                    ClientMessage::PutCancel {} => return Ok(()),
                    ClientMessage::PutReplace {} if conflict == Conflict::Compare => {
                        conflict = Conflict::Replace;
                    }
                    _ => {
                        return Err(protocol(
                            "expected PutCancel after PutExisting (or PutReplace, with force)",
                        ));
                    }
                }
            }
            Ok(Prepared::Ready(file, offset, plan)) => break (lock, file, offset, plan),
        }
    };
    send(conn, ServerMessage::PutReady { offset }).await?;
    if offset > 0 {
        // Bytes below this are not re-read: their hash state was restored.
        let restored = plan.resume_from.as_ref().map_or(0, |c| c.offset);
        tracing::info!(user = %session.account.name, path = %upload.shown, offset, restored, "resuming upload");
    } else {
        tracing::debug!(user = %session.account.name, path = %upload.shown, "receiving upload");
    }
    let writer = HashingWriter::start(file, offset, plan);
    let received = tokio::select! {
        result = receive_chunks(conn, state, &writer, offset, upload.size) => result,
        () = lock.cancel.cancelled() => Err(SessionError::Fatal(Refusal::new(
            ErrorKind::Busy,
            "upload taken over by a newer connection of the same command",
        ))),
    };
    // Drain the writer before anything else: the partial must be whole to its length.
    // If the writer failed, that failure (a full disk, say) is what ended the upload.
    let written = match writer.finish().await {
        Ok(written) => written,
        Err(error) => {
            return Err(SessionError::Fatal(place::storage_refusal(
                &error,
                &upload.shown,
            )));
        }
    };
    let expected = received?;
    complete(conn, session, state, &upload, lock, written, expected).await
}

/// Permission, path and size checks that need no disk access.
pub(super) fn check(
    session: &Session,
    state: &ServerState,
    request: &PutRequest,
) -> Result<RemotePath, Refusal> {
    super::require_write(session, "upload")?;
    let path = RemotePath::parse(&request.path)?;
    if path.is_home() {
        return Err(Refusal::new(
            ErrorKind::InvalidPath,
            "upload refused: the remote path names your home folder, not a file",
        ));
    }
    if request.file.size > state.config.max_file_size {
        return Err(Refusal::new(
            ErrorKind::Denied,
            format!(
                "upload refused: {} bytes is over the server's limit of {} bytes",
                request.file.size, state.config.max_file_size
            ),
        ));
    }
    Ok(path)
}

/// Creates parent folders, checks the destination as `conflict` says, refuses what the disk
/// cannot hold ([`crate::space`]), opens the partial (refusing a new one past the user's limit of
/// unfinished uploads that nobody is writing: those named in `in_use` are being received).
/// Blocking.
fn prepare(
    home: &cap_std::fs::Dir,
    partials: &Arc<cap_std::fs::Dir>,
    path: &RemotePath,
    upload: &Upload,
    conflict: Conflict,
    max_partials: usize,
    in_use: &std::collections::HashSet<String>,
) -> Result<Prepared, Refusal> {
    if let Some(sha256) = check_destination(home, path, upload, conflict)? {
        return Ok(Prepared::Existing(sha256));
    }
    let held = partials
        .symlink_metadata(&upload.partial)
        .ok()
        .map(|m| m.len());
    crate::space::guard(
        partials,
        upload.disk_reserve,
        upload.size,
        held.unwrap_or(0),
        &upload.shown,
    )?;
    if held.is_none() {
        let held = uploads::count_idle_partials(partials, &upload.user, in_use)
            .map_err(|e| Refusal::internal("counting partial uploads", e))?;
        if held >= max_partials {
            return Err(Refusal::new(
                ErrorKind::Denied,
                format!(
                    "upload refused: you already have {held} unfinished uploads, the server's limit; finish them or let them expire"
                ),
            ));
        }
    }
    let opening = |error: std::io::Error| {
        if place::is_disk_full(&error) {
            tracing::warn!(path = %upload.shown, %error, "disk full");
            place::disk_full(&format!("nothing of {} could be stored", upload.shown))
        } else {
            Refusal::internal("opening a partial upload", error)
        }
    };
    let (file, offset) =
        uploads::open_partial(partials, &upload.partial, upload.size, upload.modes.file)
            .map_err(opening)?;
    let plan = uploads::hash_plan(partials, &upload.partial, &file, offset).map_err(opening)?;
    crate::partials::record(partials, &upload.partial, upload.size, &upload.shown);
    Ok(Prepared::Ready(file, offset, plan))
}

/// Creates the destination's parent folders and checks the destination (see
/// [`inspect_destination`]). Blocking.
pub(super) fn check_destination(
    home: &cap_std::fs::Dir,
    path: &RemotePath,
    upload: &Upload,
    conflict: Conflict,
) -> Result<Option<[u8; 32]>, Refusal> {
    let destination = upload.destination.as_path();
    if let Some(parent) = destination.parent().filter(|p| !p.as_os_str().is_empty()) {
        crate::modes::create_dir_all(home, parent, upload.modes.dir).map_err(|e| {
            if place::is_disk_full(&e) {
                place::disk_full(&format!("no folder could be made for {}", upload.shown))
            } else {
                jail::refusal_for(&e, path)
            }
        })?;
    }
    inspect_destination(home, destination, path, upload.size, conflict)
}

/// Checks the destination `name` beneath `dir` (`path` as the client named it): a folder is
/// refused; a regular file of `size` bytes is answered with its hash (`Some`), so identical
/// content completes at once, unless `conflict` is [`Conflict::Replace`]; any other existing
/// file is refused without `force` ([`Conflict::Refuse`]); nothing there, or a file to be
/// replaced, is `None`. Blocking.
pub(super) fn inspect_destination(
    dir: &cap_std::fs::Dir,
    name: &std::path::Path,
    path: &RemotePath,
    size: u64,
    conflict: Conflict,
) -> Result<Option<[u8; 32]>, Refusal> {
    match dir.symlink_metadata(name) {
        Ok(meta) if meta.is_dir() => {
            return Err(Refusal::new(
                ErrorKind::Exists,
                format!(
                    "upload refused: {path} is a folder (to put a file inside it, end the remote path with /)"
                ),
            ));
        }
        Ok(meta) if conflict != Conflict::Replace && meta.is_file() && meta.len() == size => {
            let sha256 = uploads::hash_file(dir, name).map_err(|e| jail::refusal_for(&e, path))?;
            return Ok(Some(sha256));
        }
        Ok(meta) if conflict == Conflict::Refuse => {
            return Err(Refusal::new(
                ErrorKind::Exists,
                format!(
                    "upload refused: {path} already exists ({} bytes); use --force to replace it",
                    meta.len()
                ),
            ));
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(jail::refusal_for(&e, path)),
    }
    Ok(None)
}

/// Receives chunks until `PutFinish`; returns the client's SHA-256.
async fn receive_chunks<S>(
    conn: &mut Connection<S>,
    state: &ServerState,
    writer: &HashingWriter,
    offset: u64,
    size: u64,
) -> Result<[u8; 32], SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut floor = super::rate_floor(state);
    let mut position = offset;
    loop {
        let message = tokio::select! {
            message = receive(conn) => message?,
            () = tokio::time::sleep_until(floor.deadline()) => {
                floor.check(Instant::now()).map_err(SessionError::Fatal)?;
                continue;
            }
            () = state.shutdown.cancelled() => return Err(SessionError::Fatal(Refusal::new(
                ErrorKind::Unavailable,
                format!("the server is shutting down; the {} bytes received are kept, run the command again to resume", position),
            ))),
        };
        match message {
            ClientMessage::Chunk { offset, data } => {
                if offset != position {
                    return Err(protocol(&format!(
                        "chunk at offset {offset}, expected {position}"
                    )));
                }
                let len = data.len() as u64;
                if data.len() > MAX_CHUNK_LEN
                    || position.checked_add(len).is_none_or(|end| end > size)
                {
                    return Err(protocol(&format!(
                        "chunk of {len} bytes at {position} goes past the declared size of {size} bytes"
                    )));
                }
                let queued = Instant::now();
                if !writer.write(data).await {
                    // The writer failed; its error, from `finish`, is what the client is told.
                    return Err(SessionError::Fatal(Refusal::new(
                        ErrorKind::Internal,
                        "the server could not store the data",
                    )));
                }
                position += len;
                // A writer behind (a slow disk, a prefix being hashed) is the server's delay.
                floor.excuse(queued.elapsed());
                floor.record(len);
                floor.check(Instant::now()).map_err(SessionError::Fatal)?;
            }
            ClientMessage::PutFinish { sha256 } if position == size => return Ok(sha256),
            ClientMessage::PutFinish { .. } => {
                return Err(protocol(&format!(
                    "upload finished at {position} of {size} bytes"
                )));
            }
            _ => return Err(protocol("expected a chunk or PutFinish during an upload")),
        }
    }
}

/// Verifies the whole file and makes it visible, or discards it on a mismatch. The destination's
/// `lock` is let go before the client is told anything, so a command it starts next never
/// finds this upload still holding it.
async fn complete<S>(
    conn: &mut Connection<S>,
    session: &Session,
    state: &ServerState,
    upload: &Upload,
    lock: PathLock,
    written: Written,
    expected: [u8; 32],
) -> Result<(), SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let Written {
        file,
        sha256: actual,
        end,
    } = written;
    let home = Arc::clone(&session.home);
    let partials = Arc::clone(&state.partials);
    let served = Arc::clone(&state.served);
    let (partial, destination) = (upload.partial.clone(), upload.destination.clone());
    if actual != expected {
        tracing::warn!(user = %session.account.name, path = %upload.shown, "SHA-256 mismatch; partial discarded");
        // The last handle is closed on the blocking thread too: closing an unlinked file frees
        // its blocks, which takes a while for a large one.
        let _ = tokio::task::spawn_blocking(move || {
            crate::partials::forget_checkpoints(&partials, &partial);
            let removed = partials.remove_file(&partial);
            drop(file);
            removed
        })
        .await;
        drop(lock);
        return send_error(
            conn,
            Refusal::new(
                ErrorKind::Integrity,
                format!(
                    "integrity check failed for {}: the server's SHA-256 differs from the client's; the partial upload was discarded, run the command again",
                    upload.shown
                ),
            ),
        )
        .await;
    }
    let (durable, replace, modified) = (state.config.fsync, upload.force, upload.modified);
    let finished = tokio::task::spawn_blocking(move || {
        let placed = uploads::finish(
            &partials,
            &partial,
            file,
            &home,
            &destination,
            modified,
            durable,
            replace,
        )?;
        if let Some(meta) = placed {
            served::record(&served, &meta, end);
        }
        Ok(())
    })
    .await
    .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())));
    drop(lock);
    if let Err(error) = finished {
        // The partial stays whole and verified: a rerun finishes it without resending.
        return send_error(
            conn,
            place::finish_refusal(&error, &upload.shown, upload.force),
        )
        .await;
    }
    tracing::info!(user = %session.account.name, path = %upload.shown, size = upload.size, "upload complete");
    send(
        conn,
        ServerMessage::PutDone {
            size: upload.size,
            sha256: actual,
        },
    )
    .await
}

/// A protocol violation during an upload.
fn protocol(what: &str) -> SessionError {
    SessionError::Fatal(Refusal::new(ErrorKind::Protocol, what.to_owned()))
}

#[cfg(test)]
#[path = "put_tests.rs"]
mod tests;
