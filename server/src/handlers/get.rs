//! `Get`: stream a file from an offset, then the SHA-256 of the whole file.
//!
//! The file is opened through the home's capability handle (a symbolic link may not lead out
//! of the home) without blocking, and refused unless it is a regular file (a FIFO would hang
//! the open, a device would be read forever), read and hashed on a blocking thread (not hashed when its SHA-256 is known:
//! see [`crate::served`]), and sent in `Data` frames with no per-frame reply. If the file
//! changes size while it is read, the client gets an error instead of `GetDone`, and its
//! `.part` stays for a later run. A download the client asked to be paced (`--limit-rate`) is
//! sent at that pace, never below the server's own floor, in frames of an eighth of a
//! second's worth: the data leaves at the pace instead of piling up in socket buffers, which
//! would hide the client's pace from the floor. The floor starts with the first frame, and time
//! the reader is behind (hashing a resumed prefix, a slow disk) is the server's, not the
//! client's.

use std::sync::Arc;

use ftp_proto::pace::Pacer;
use ftp_proto::{ErrorKind, MAX_CHUNK_LEN, ServerMessage, file_frames, filestream};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

use super::{Session, modified_nanos, modified_secs, on_home};
use crate::connection::{Connection, send, send_error};
use crate::error::shutting_down;
use crate::error::{Refusal, SessionError};
use crate::jail::RemotePath;
use crate::state::ServerState;

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
    let folder = Arc::clone(&state.served);
    let opened = on_home(session, path, "opening a download", move |home, path| {
        let (file, meta) = open(home, path)?;
        // Past the end of the file: start over.
        let offset = if offset > meta.len() { 0 } else { offset };
        let plan = crate::served::hash_plan(&folder, &file, offset);
        Ok((file, meta, offset, plan))
    })
    .await;
    let (file, meta, offset, plan) = match opened {
        Ok(opened) => opened,
        Err(refusal) => return send_error(conn, refusal).await,
    };
    let size = meta.len();
    send(
        conn,
        ServerMessage::GetReady {
            size,
            modified: modified_secs(&meta),
            modified_nanos: modified_nanos(&meta),
            offset,
        },
    )
    .await?;
    match plan.resume_from.as_ref().map(|c| c.offset) {
        // Known from the upload or an earlier download of this very file: nothing is hashed.
        Some(end) if end == size => {
            tracing::info!(user = %session.account.name, path, offset, "sending with its SHA-256 known");
        }
        Some(restored) => {
            tracing::info!(user = %session.account.name, path, offset, restored, "resuming download");
        }
        None => {}
    }
    // Paced no slower than the floor: the server never cuts its own pace.
    let pace = limit_rate.map(|rate| rate.max(state.config.min_transfer_rate));
    let chunk_len = pace.map_or(MAX_CHUNK_LEN, ftp_proto::pace::chunk_len);
    let (mut chunks, reader) = filestream::spawn_reader(file, offset, size, chunk_len, plan);
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
    match reader.await {
        Ok(Ok(sha256)) => send(conn, ServerMessage::GetDone { sha256 }).await,
        Ok(Err(error)) => {
            tracing::warn!(user = %session.account.name, path, %error, "download failed");
            Err(SessionError::Fatal(Refusal::new(
                ErrorKind::Internal,
                format!("download of {path} failed on the server: {error}"),
            )))
        }
        Err(error) => Err(SessionError::Fatal(Refusal::internal("download", error))),
    }
}

/// Opens a regular file beneath the home, without blocking on a FIFO or device: anything but
/// a regular file is refused by name. Blocking.
fn open(
    home: &cap_std::fs::Dir,
    path: &RemotePath,
) -> Result<(std::fs::File, cap_std::fs::Metadata), Refusal> {
    if path.is_home() {
        return Err(Refusal::new(
            ErrorKind::InvalidPath,
            "download refused: the remote path names your home folder, not a file",
        ));
    }
    crate::opening::open_regular(home, &path.relative()).map_err(|failure| {
        let refusal = Refusal::from_storage(&failure, path);
        Refusal {
            message: format!("download refused: {}", refusal.message),
            ..refusal
        }
    })
}
