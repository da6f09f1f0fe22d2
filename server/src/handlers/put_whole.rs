//! `PutWhole`: small files sent whole, many before any answer, made durable together.
//!
//! Each file is checked like a `Put` (permission, path, size, lock, destination), verified
//! against its SHA-256, and written to a partial; its answer waits
//! in a [`Batch`]. When no further message is waiting on the connection, or the batch is
//! full, [`flush`] syncs the file system once (every partial of the batch), renames each into
//! place, syncs the file system again (the new names), and sends the answers in order. Files
//! still appear under their final names only whole and verified, and an answer still means
//! the file is durable; what the batch saves is a round trip and two syncs per file.

use std::io::Write;
use std::sync::Arc;

use bytes::Bytes;
use ftp_proto::{ErrorKind, FileIdentity, MAX_CHUNK_LEN, ServerMessage};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWrite};

use super::Session;
use super::put::{PutRequest, Upload, check, check_destination};
use crate::error::{Refusal, SessionError};
use crate::jail::{self, RemotePath};
use crate::session::{Connection, send};
use crate::state::ServerState;
use crate::uploads::{self, PathLock};

/// Most files answered together.
pub const MAX_BATCH: usize = 512;

/// A `PutWhole` request as received.
#[derive(Debug)]
pub struct WholeRequest {
    /// Remote path as sent.
    pub path: String,
    /// The local file's identity.
    pub file: FileIdentity,
    /// Replace an existing file.
    pub force: bool,
    /// The command's id.
    pub upload_id: [u8; 16],
    /// The content.
    pub data: Bytes,
    /// The client's SHA-256 of the content.
    pub sha256: [u8; 32],
}

/// A file written to its partial, waiting to be made durable and visible.
struct Stored {
    /// The upload.
    upload: Upload,
    /// Its SHA-256, verified.
    sha256: [u8; 32],
    /// Held until the file is in place.
    _lock: PathLock,
}

/// One answer of the batch, in request order.
enum Pending {
    /// Answered once the file is in place.
    Stored(Stored),
    /// Answered as it is.
    Ready(ServerMessage),
}

/// The answers not sent yet.
#[derive(Default)]
pub struct Batch {
    /// In request order.
    pending: Vec<Pending>,
}

impl Batch {
    /// Nothing waits.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// The batch must be flushed before more is added.
    pub fn is_full(&self) -> bool {
        self.pending.len() >= MAX_BATCH
    }

    /// A file of the batch goes to `destination` (relative to the home), holding its lock.
    fn holds(&self, destination: &std::path::Path) -> bool {
        self.pending
            .iter()
            .any(|p| matches!(p, Pending::Stored(s) if s.upload.destination == destination))
    }
}

/// Checks and stores one file; its answer joins the batch.
pub async fn receive<S>(
    conn: &mut Connection<S>,
    session: &Session,
    state: &ServerState,
    batch: &mut Batch,
    request: WholeRequest,
) -> Result<(), SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // The same destination twice in one burst: the first must land (and let go of its lock)
    // before the second is looked at.
    if let Ok(path) = RemotePath::parse(&request.path)
        && batch.holds(&path.relative())
    {
        flush(conn, session, state, batch).await?;
    }
    let answer = match store(session, state, request).await {
        Ok(pending) => pending,
        Err(refusal) => Pending::Ready(ServerMessage::Error {
            kind: refusal.kind,
            message: refusal.message,
        }),
    };
    batch.pending.push(answer);
    if batch.is_full() {
        flush(conn, session, state, batch).await?;
    }
    Ok(())
}

/// Everything up to the partial on disk.
async fn store(
    session: &Session,
    state: &ServerState,
    request: WholeRequest,
) -> Result<Pending, Refusal> {
    let size = request.data.len() as u64;
    if request.file.size != size || request.data.len() > MAX_CHUNK_LEN {
        return Err(Refusal::new(
            ErrorKind::Protocol,
            "a whole-file upload must carry exactly its declared size, at most one chunk",
        ));
    }
    let put = PutRequest {
        path: request.path,
        file: request.file,
        force: request.force,
        upload_id: request.upload_id,
    };
    let path = check(session, state, &put)?;
    let destination = path.relative();
    let lock = state
        .locks
        .lock(session.account.home.join(&destination), put.upload_id)
        .await?;
    let upload = Upload {
        partial: uploads::partial_name(&session.account.name, &destination, &put.file),
        user: session.account.name.clone(),
        destination,
        shown: path.to_string(),
        size,
    };
    let home = Arc::clone(&session.home);
    let partials = Arc::clone(&state.partials);
    let (target, force, data, sha256) = (upload.clone(), put.force, request.data, request.sha256);
    let existing = tokio::task::spawn_blocking(move || -> Result<Option<[u8; 32]>, Refusal> {
        if let Some(existing) = check_destination(&home, &path, &target, force)? {
            return Ok(Some(existing));
        }
        if <[u8; 32]>::from(Sha256::digest(&data)) != sha256 {
            return Err(Refusal::new(
                ErrorKind::Integrity,
                format!(
                    "integrity check failed for {path}: the data received does not match the client's SHA-256; nothing was stored, run the command again"
                ),
            ));
        }
        write_partial(&partials, &target.partial, &data)
            .map_err(|e| Refusal::internal("storing an upload", e))?;
        Ok(None)
    })
    .await
    .unwrap_or_else(|e| Err(Refusal::internal("storing an upload", e)))?;
    Ok(match existing {
        // The client compares: identical content is done, anything else a conflict.
        Some(existing) => Pending::Ready(ServerMessage::PutExisting { sha256: existing }),
        None => Pending::Stored(Stored {
            upload,
            sha256: request.sha256,
            _lock: lock,
        }),
    })
}

/// Writes `data` as the partial `name` (the batch's `syncfs` makes it durable). Blocking.
fn write_partial(partials: &cap_std::fs::Dir, name: &str, data: &[u8]) -> std::io::Result<()> {
    let mut options = cap_std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    let mut file = partials.open_with(name, &options)?.into_std();
    file.write_all(data)?;
    Ok(())
}

/// Makes every stored file of the batch durable and visible, then sends all the answers in
/// order.
pub async fn flush<S>(
    conn: &mut Connection<S>,
    session: &Session,
    state: &ServerState,
    batch: &mut Batch,
) -> Result<(), SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let pending = std::mem::take(&mut batch.pending);
    let home = Arc::clone(&session.home);
    let partials = Arc::clone(&state.partials);
    let durable = state.config.fsync;
    let (files, started) = (pending.len(), std::time::Instant::now());
    let answers = tokio::task::spawn_blocking(move || settle(&home, &partials, pending, durable))
        .await
        .map_err(|e| SessionError::Fatal(Refusal::internal("finishing uploads", e)))?;
    tracing::debug!(
        files,
        ms = started.elapsed().as_millis() as u64,
        "whole-file batch settled"
    );
    for (answer, shown) in answers {
        if let (ServerMessage::PutDone { size, .. }, Some(shown)) = (&answer, &shown) {
            tracing::info!(user = %session.account.name, path = %shown, size, "upload complete");
        }
        send(conn, answer).await?;
    }
    Ok(())
}

/// The blocking half of [`flush`]: with fsync on, one `syncfs` makes every partial of the
/// batch durable, the renames follow, and a second `syncfs` makes the new names durable (two
/// flushes for the whole batch instead of a data and a folder sync per file). Returns each
/// answer with the path of a file that landed.
fn settle(
    home: &cap_std::fs::Dir,
    partials: &cap_std::fs::Dir,
    pending: Vec<Pending>,
    durable: bool,
) -> Vec<(ServerMessage, Option<String>)> {
    let stored_any = pending.iter().any(|p| matches!(p, Pending::Stored(_)));
    let data_synced = if durable && stored_any {
        sync_file_system(partials)
    } else {
        Ok(())
    };
    let mut answers = Vec::with_capacity(pending.len());
    for item in pending {
        let stored = match item {
            Pending::Ready(answer) => {
                answers.push((answer, None));
                continue;
            }
            Pending::Stored(stored) => stored,
        };
        let upload = &stored.upload;
        let landed = match &data_synced {
            Ok(()) => partials.rename(&upload.partial, home, &upload.destination),
            Err(error) => Err(std::io::Error::new(error.kind(), error.to_string())),
        };
        let answer = match landed {
            Ok(()) => (
                ServerMessage::PutDone {
                    size: upload.size,
                    sha256: stored.sha256,
                },
                Some(upload.shown.clone()),
            ),
            Err(error) => {
                let _ = partials.remove_file(&upload.partial);
                let refusal = jail::refusal_for(&error, &upload.shown);
                let message = ServerMessage::Error {
                    kind: refusal.kind,
                    message: refusal.message,
                };
                (message, None)
            }
        };
        answers.push(answer);
    }
    let landed_any = answers.iter().any(|(_, shown)| shown.is_some());
    if durable
        && landed_any
        && let Err(error) = sync_file_system(home)
    {
        // The new names may not survive a crash: say so rather than claim durability.
        tracing::warn!(%error, "cannot sync the file system after an upload batch");
        for (answer, shown) in &mut answers {
            if shown.take().is_some() {
                *answer = ServerMessage::Error {
                    kind: ErrorKind::Internal,
                    message: "the server could not sync its disk after the upload".into(),
                };
            }
        }
    }
    answers
}

/// Syncs the file system holding `dir` (through a plain read-only handle: one from `open_dir`
/// may be `O_PATH`, which cannot be synced). Blocking.
fn sync_file_system(dir: &cap_std::fs::Dir) -> std::io::Result<()> {
    let handle = dir.open(".")?.into_std();
    rustix::fs::syncfs(&handle)?;
    Ok(())
}
