//! `Get`: stream a file from an offset, then the SHA-256 of the whole file.
//!
//! The file is opened through the home's capability handle (a symbolic link may not lead out
//! of the home) without blocking, and refused unless it is a regular file (a FIFO would hang
//! the open, a device would be read forever), read and hashed on a blocking thread (not hashed when its SHA-256 is known:
//! see [`crate::storage::local::served`]), and sent in `Data` frames with no per-frame reply. If the file
//! changes size while it is read, the client gets an error instead of `GetDone`, and its
//! `.part` stays for a later run. A download the client asked to be paced (`--limit-rate`) is
//! sent at that pace, never below the server's own floor, in frames of an eighth of a
//! second's worth: the data leaves at the pace instead of piling up in socket buffers, which
//! would hide the client's pace from the floor. The floor starts with the first frame, and time
//! the reader is behind (hashing a resumed prefix, a slow disk) is the server's, not the
//! client's.

use ftp_proto::pace::Pacer;
use ftp_proto::{ErrorKind, MAX_CHUNK_LEN, ServerMessage, file_frames};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

use super::{Session, Way};
use crate::connection::{Connection, send, send_error};
use crate::error::shutting_down;
use crate::error::{Refusal, SessionError};
use crate::jail::RemotePath;
use crate::state::ServerState;
use crate::storage::Reading;

/// How long one send may wait before the log says the reader is slow.
const SLOW_READER_NOTICE: std::time::Duration = std::time::Duration::from_secs(1);

/// Answers one `Get` request.
pub async fn handle<S>(
    conn: &mut Connection<S>,
    session: &Session,
    state: &ServerState,
    path: &str,
    offset: u64,
    limit_rate: Option<u64>,
) -> Result<(), SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // Paced no slower than the floor: the server never cuts its own pace.
    let pace = limit_rate.map(|rate| rate.max(state.config.min_transfer_rate));
    // The user's rate (across their sessions) makes frames small too, so it moves smoothly.
    let smallest = match (pace, session.account.limits.rate) {
        (Some(pace), Some(rate)) => Some(pace.min(rate)),
        (pace, rate) => pace.or(rate),
    };
    let chunk_len = smallest.map_or(MAX_CHUNK_LEN, ftp_proto::pace::chunk_len);
    let reading = match open(session, path, offset, chunk_len).await {
        Ok(reading) => reading,
        Err(refusal) => return send_error(conn, refusal).await,
    };
    let Reading {
        size,
        offset,
        mut chunks,
        sha256,
        known,
        ..
    } = reading;
    send(
        conn,
        ServerMessage::GetReady {
            size,
            modified: reading.modified_secs,
            modified_nanos: reading.modified_nanos,
            offset,
        },
    )
    .await?;
    match known {
        // Known from the upload or an earlier download of this very file: nothing is hashed.
        Some(end) if end == size => {
            tracing::info!(user = %session.account.name, path, offset, "sending with its SHA-256 known");
        }
        Some(restored) => {
            tracing::info!(user = %session.account.name, path, offset, restored, "resuming download");
        }
        None => {}
    }
    // Both start with the first frame.
    let mut floor: Option<crate::rate_floor::RateFloor> = None;
    let mut pacer: Option<Pacer> = None;
    let mut position = offset;
    loop {
        let asked = Instant::now();
        let Some(data) = chunks.recv().await else {
            break;
        };
        // The floor starts with the first frame; a reader behind is the server's delay.
        let floor = match &mut floor {
            Some(floor) => {
                floor.excuse(asked.elapsed());
                floor
            }
            None => {
                pacer = pace.map(Pacer::new);
                floor.insert(super::rate_floor(state))
            }
        };
        let len = data.len() as u64;
        if let Some(pacer) = pacer.as_mut() {
            tokio::select! {
                () = pacer.take(len) => {}
                () = state.shutdown.cancelled() => return Err(shutting_down()),
            }
        }
        // The user's rate across all their sessions: waiting for it is the server's delay.
        tokio::select! {
            waited = session.pace(Way::Down, len) => floor.excuse(waited),
            () = state.shutdown.cancelled() => return Err(shutting_down()),
        }
        let sending = file_frames::send_data(conn, position, data);
        tokio::pin!(sending);
        // A reader that stops reading blocks the send: the floor's deadline still ends it.
        let notice = tokio::time::sleep(SLOW_READER_NOTICE);
        tokio::pin!(notice);
        let mut noticed = false;
        loop {
            tokio::select! {
                sent = &mut sending => {
                    sent.map_err(SessionError::from)?;
                    break;
                }
                () = &mut notice, if !noticed => {
                    noticed = true;
                    tracing::debug!(user = %session.account.name, path, position, "waiting for a slow reader");
                }
                () = tokio::time::sleep_until(floor.deadline()) => {
                    floor.check(Instant::now()).map_err(SessionError::Fatal)?;
                }
                () = state.shutdown.cancelled() => return Err(shutting_down()),
            }
        }
        floor.record(len);
        floor.check(Instant::now()).map_err(SessionError::Fatal)?;
        position += len;
    }
    match sha256.await {
        Ok(sha256) => send(conn, ServerMessage::GetDone { sha256 }).await,
        Err(error) => {
            let error = &error.detail;
            tracing::warn!(user = %session.account.name, path, %error, "download failed");
            Err(SessionError::Fatal(Refusal::new(
                ErrorKind::Internal,
                format!("download of {path} failed on the server: {error}"),
            )))
        }
    }
}

/// Starts reading the regular file at `path`: anything but a regular file is refused by name.
async fn open(
    session: &Session,
    path: &str,
    offset: u64,
    chunk_len: usize,
) -> Result<Reading, Refusal> {
    let path = RemotePath::parse(path)?;
    if path.is_home() {
        return Err(Refusal::new(
            ErrorKind::InvalidPath,
            "download refused: the remote path names your home folder, not a file",
        ));
    }
    let reading = session.storage.read(&path, offset, chunk_len).await;
    reading.map_err(|failure| {
        let refusal = Refusal::from_storage(&failure, &path);
        Refusal {
            message: format!("download refused: {}", refusal.message),
            ..refusal
        }
    })
}
