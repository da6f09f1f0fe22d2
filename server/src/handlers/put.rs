//! `Put`: receive a file in chunks into a partial, verify its SHA-256, then make it visible.
//!
//! Order of checks: permission, path, size limit, the destination's lock ("busy"), then the
//! destination itself (a folder, or an existing file without `force`, is refused; a regular file
//! of the same size is answered with its hash, with or without `force`, so identical content
//! completes at once and is never sent again). With `force`, a client that found the content
//! different answers `PutReplace`, and the lock and the destination are taken again as for a
//! forced upload with nothing to compare: `PutReady` from a matching partial. Chunks must
//! arrive in order and stay within the declared size; anything else closes the connection. On
//! every exit the partial is finished first, so what the store holds is whole up to its length.
//! A verified file is put in place without replacing unless `force`
//! ([`crate::storage::HeldUpload::commit`]): one that appeared meanwhile is answered "already
//! exists" and the partial kept for `--force`. The destination's lock is let go before any
//! answer is sent, so whatever the client runs next never finds this upload holding it. An
//! upload the store cannot hold (the disk's free space less a reserve) is refused before any
//! data is sent; a store found full while writing (data or inodes) is answered as such
//! ([`super::upload_refusals`]). So is one that does not fit the user's quota or file limit
//! ([`reserve`]: checked from the declared size, less what a partial holds), before any
//! partial is made. Chunks are read at the user's rate, across all their sessions.

use ftp_proto::{ClientMessage, ErrorKind, MAX_CHUNK_LEN, PutRequest, ServerMessage};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

use super::upload_refusals as refusals;
use super::{Session, Way};
use crate::connection::{Connection, receive, send, send_error};
use crate::error::{Refusal, SessionError};
use crate::jail::RemotePath;
use crate::state::ServerState;
use crate::storage::{Conflict, HeldUpload, PartialUpload, UploadLimits, UploadTarget};
use crate::uploads::{self, PathLock};
use crate::usage::{self, Need, Reservation};

/// Where the destination stands before any data moves.
enum Prepared {
    /// A regular file of the same size is there and is to be compared: its hash.
    Existing([u8; 32]),
    /// Ready to receive into the open partial, with what it reserved of the user's quota.
    Ready(Box<dyn PartialUpload>, Option<Reservation>),
}

/// Everything about one accepted upload.
#[derive(Debug, Clone)]
pub(super) struct Upload {
    /// The destination and its partial, as the store is told.
    pub(super) target: UploadTarget,
    /// Printable remote path.
    pub(super) shown: String,
    /// Replace a file at the destination (without it, one that appears during the upload
    /// is left in place and the upload refused).
    pub(super) force: bool,
}

impl Upload {
    /// The upload of `request` to `path` by the session's user.
    pub(super) fn new(session: &Session, path: RemotePath, request: &PutRequest) -> Self {
        let partial = uploads::partial_name(&session.account.name, &path.relative(), &request.file);
        Upload {
            shown: path.to_string(),
            force: request.force,
            target: UploadTarget {
                partial,
                size: request.file.size,
                modified: uploads::client_time(&request.file),
                path,
            },
        }
    }

    /// The key of its destination's lock.
    pub(super) fn lock_key(&self, session: &Session) -> std::path::PathBuf {
        session.account.home.join(self.target.path.relative())
    }
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
    let upload = Upload::new(session, path, &request);
    let lock_key = upload.lock_key(session);
    let mut conflict = Conflict::of(request.force);
    // A second round only after `PutReplace`: the lock was let go before `PutExisting`.
    let (lock, mut partial, reservation) = loop {
        let lock = match state
            .locks
            .lock(
                lock_key.clone(),
                request.upload_id,
                &upload.target.partial,
                &upload.shown,
            )
            .await
        {
            Ok(lock) => lock,
            Err(refusal) => return send_error(conn, refusal).await,
        };
        match prepare(session, state, &upload, conflict).await {
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
            Ok(Prepared::Ready(partial, reservation)) => break (lock, partial, reservation),
        }
    };
    let offset = partial.offset();
    send(conn, ServerMessage::PutReady { offset }).await?;
    if offset > 0 {
        // Bytes below this are not re-read: their hash state was restored.
        let restored = partial.restored();
        // Which partial, as its store knows it: what its saved hash states are bound to.
        let identity = hex::encode(&partial.identity()[..8]);
        tracing::info!(user = %session.account.name, path = %upload.shown, offset, restored, %identity, "resuming upload");
    } else {
        tracing::debug!(user = %session.account.name, path = %upload.shown, "receiving upload");
    }
    let received = tokio::select! {
        result = receive_chunks(conn, session, state, partial.as_mut(), offset, upload.target.size) => result,
        () = lock.cancel.cancelled() => Err(SessionError::Fatal(Refusal::new(
            ErrorKind::Busy,
            "upload taken over by a newer connection of the same command",
        ))),
    };
    if received.is_err() {
        lock.ending();
    }
    // Drain the writer before anything else: the partial must be whole to its length.
    // If the writer failed, that failure (a full disk, say) is what ended the upload.
    let held = match partial.finish().await {
        Ok(held) => held,
        Err(error) => {
            return Err(SessionError::Fatal(refusals::write(&error, &upload.shown)));
        }
    };
    let expected = received?;
    let landed = complete(conn, session, state, &upload, lock, held, expected).await?;
    if landed && let Some(reservation) = reservation {
        reservation.landed();
    }
    Ok(())
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

/// Creates parent folders and checks the destination as `conflict` says, then opens the
/// partial within the limits on space and on unfinished uploads that nobody is writing.
async fn prepare(
    session: &Session,
    state: &ServerState,
    upload: &Upload,
    conflict: Conflict,
) -> Result<Prepared, Refusal> {
    let target = &upload.target;
    let existing = session
        .storage
        .check_destination(&target.path, target.size, conflict)
        .await
        .map_err(|e| refusals::destination(&e, &upload.shown))?;
    if let Some(sha256) = existing {
        return Ok(Prepared::Existing(sha256));
    }
    let reservation = reserve(session, &upload.target, &upload.shown, conflict).await?;
    let limits = UploadLimits {
        max_partials: state.config.max_partials_per_user,
        // Partials being written by live uploads (this one's included) are not idle.
        in_use: state.locks.partials_in_use(),
    };
    let partial = session
        .storage
        .open_upload(target.clone(), limits)
        .await
        .map_err(|e| refusals::open(&e, &upload.shown))?;
    Ok(Prepared::Ready(partial, reservation))
}

/// Checks an upload to `target` against the user's quota and file limit, before anything is
/// stored, and reserves what it needs: its size, less what a partial of it already holds (a
/// resume needs only the rest) and, when it replaces a file, less that file's size.
pub(super) async fn reserve(
    session: &Session,
    target: &UploadTarget,
    shown: &str,
    conflict: Conflict,
) -> Result<Option<Reservation>, Refusal> {
    let limits = &session.account.limits;
    if !limits.counts_usage() {
        return Ok(None);
    }
    let held = held_for(session, target).await;
    // Without replacing, the destination was found free; a replaced file's bytes go.
    let replaced = if conflict == Conflict::Refuse {
        None
    } else {
        match session.storage.describe(&target.path, false).await {
            Ok(described) if described.entry.kind != ftp_proto::EntryKind::Dir => {
                Some(described.entry.size)
            }
            _ => None,
        }
    };
    let need = Need {
        bytes: target
            .size
            .saturating_sub(held)
            .saturating_sub(replaced.unwrap_or(0)),
        files: u64::from(replaced.is_none()),
    };
    usage::reserve(
        &session.slot.shared.usage,
        session.storage.as_ref(),
        limits,
        need,
        shown,
    )
    .await
}

/// What an unfinished upload to `target` of the same size already holds (0 for none): the
/// bytes a resume does not need again.
async fn held_for(session: &Session, target: &UploadTarget) -> u64 {
    let Ok(partials) = session.storage.partials().await else {
        return 0;
    };
    let wanted = target.path.relative();
    partials
        .iter()
        .filter(|p| p.size == target.size && p.held <= p.size)
        .filter(|p| RemotePath::parse(&p.path).is_ok_and(|path| path.relative() == wanted))
        .map(|p| p.held)
        .max()
        .unwrap_or(0)
}

/// Receives chunks until `PutFinish`; returns the client's SHA-256.
async fn receive_chunks<S>(
    conn: &mut Connection<S>,
    session: &Session,
    state: &ServerState,
    partial: &mut dyn PartialUpload,
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
                if !partial.append(data).await {
                    // The writer failed; its error, from `finish`, is what the client is told.
                    return Err(SessionError::Fatal(Refusal::new(
                        ErrorKind::Internal,
                        "the server could not store the data",
                    )));
                }
                position += len;
                // The user's rate across their sessions holds the next chunk back.
                let paced = tokio::select! {
                    waited = session.pace(Way::Up, len) => waited,
                    () = state.shutdown.cancelled() => return Err(crate::error::shutting_down()),
                };
                // A writer behind (a slow disk, a prefix being hashed) is the server's delay,
                // and so is the user's rate.
                floor.excuse(queued.elapsed().saturating_sub(paced));
                floor.excuse(paced);
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

/// Verifies the whole file and makes it visible, or discards it on a mismatch; whether it
/// landed. The destination's `lock` is let go before the client is told anything, so a command
/// it starts next never finds this upload still holding it.
async fn complete<S>(
    conn: &mut Connection<S>,
    session: &Session,
    state: &ServerState,
    upload: &Upload,
    lock: PathLock,
    held: Box<dyn HeldUpload>,
    expected: [u8; 32],
) -> Result<bool, SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let actual = held.sha256();
    if actual != expected {
        tracing::warn!(user = %session.account.name, path = %upload.shown, "SHA-256 mismatch; partial discarded");
        held.abandon().await;
        drop(lock);
        send_error(
            conn,
            Refusal::new(
                ErrorKind::Integrity,
                format!(
                    "integrity check failed for {}: the server's SHA-256 differs from the client's; the partial upload was discarded, run the command again",
                    upload.shown
                ),
            ),
        )
        .await?;
        return Ok(false);
    }
    let finished = held.commit(state.config.fsync, upload.force).await;
    drop(lock);
    if let Err(error) = finished {
        // The partial stays whole and verified: a rerun finishes it without resending.
        send_error(conn, refusals::commit(&error, &upload.shown, upload.force)).await?;
        return Ok(false);
    }
    let size = upload.target.size;
    tracing::info!(user = %session.account.name, path = %upload.shown, size, "upload complete");
    send(
        conn,
        ServerMessage::PutDone {
            size,
            sha256: actual,
        },
    )
    .await?;
    Ok(true)
}

/// A protocol violation during an upload.
fn protocol(what: &str) -> SessionError {
    SessionError::Fatal(Refusal::new(ErrorKind::Protocol, what.to_owned()))
}

#[cfg(test)]
#[path = "put_tests.rs"]
mod tests;
