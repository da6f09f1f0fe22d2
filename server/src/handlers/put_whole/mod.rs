//! `PutWhole`: small files sent whole, many before any answer, made durable together.
//!
//! Each file is checked like a `Put` (permission, path, size, lock) as it arrives and handed
//! to the batch's [`store`] thread, which checks the destination, verifies the SHA-256 and
//! writes the partial while the connection reads on; its answer waits in the batch. When no
//! further message is waiting on the connection, or the batch is full, [`flush`] has the
//! thread sync the file system once (every partial of the batch), rename each into place and
//! sync again (the new names) ([`settle`]), then sends the answers in order. Files still appear
//! under their final names only whole and verified, and an answer still means the file is
//! durable; what the batch saves is a round trip and two syncs per file.

mod settle;
mod store;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use ftp_proto::{ErrorKind, FileIdentity, MAX_CHUNK_LEN, ServerMessage};
use futures::SinkExt;
use tokio::io::{AsyncRead, AsyncWrite};

use super::Session;
use super::put::{PutRequest, Upload, check};
use crate::error::{Refusal, SessionError};
use crate::jail::RemotePath;
use crate::session::Connection;
use crate::state::ServerState;
use crate::uploads;
use store::{Admitted, StoreThread};

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

/// The files received and not answered yet.
#[derive(Default)]
pub struct Batch {
    /// Stores the batch's files; started by its first file.
    store: Option<StoreThread>,
    /// How many answers the batch owes.
    owed: usize,
    /// Destinations (relative to the home) of the batch's files, whose locks it may hold.
    destinations: HashSet<PathBuf>,
}

impl Batch {
    /// Nothing waits.
    pub fn is_empty(&self) -> bool {
        self.owed == 0
    }

    /// The batch must be flushed before more is added.
    pub fn is_full(&self) -> bool {
        self.owed >= MAX_BATCH
    }

    /// The store thread, started when the batch gets its first file.
    fn store_thread(&mut self, session: &Session, state: &ServerState) -> &StoreThread {
        self.store.get_or_insert_with(|| {
            StoreThread::start(
                Arc::clone(&session.home),
                Arc::clone(&state.partials),
                state.config.fsync,
            )
        })
    }
}

/// Checks one file and hands it to the batch's store thread; its answer joins the batch.
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
        && batch.destinations.contains(&path.relative())
    {
        flush(conn, session, batch).await?;
    }
    let admitted = admit(session, state, request).await;
    batch.owed += 1;
    match admitted {
        Ok(file) => {
            batch.destinations.insert(file.upload.destination.clone());
            batch.store_thread(session, state).store(file).await;
        }
        Err(refusal) => {
            let answer = ServerMessage::Error {
                kind: refusal.kind,
                message: refusal.message,
            };
            batch.store_thread(session, state).answer(answer).await;
        }
    }
    if batch.is_full() {
        flush(conn, session, batch).await?;
    }
    Ok(())
}

/// The checks that need no disk, and the destination's lock.
async fn admit(
    session: &Session,
    state: &ServerState,
    request: WholeRequest,
) -> Result<Admitted, Refusal> {
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
    Ok(Admitted {
        path,
        upload,
        force: put.force,
        data: request.data,
        sha256: request.sha256,
        lock,
    })
}

/// Makes every stored file of the batch durable and visible, then sends all the answers in
/// order.
pub async fn flush<S>(
    conn: &mut Connection<S>,
    session: &Session,
    batch: &mut Batch,
) -> Result<(), SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let Some(store) = batch.store.take() else {
        return Ok(());
    };
    let (files, started) = (batch.owed, std::time::Instant::now());
    batch.owed = 0;
    batch.destinations.clear();
    let answers = store.settle().await.map_err(SessionError::Fatal)?;
    tracing::debug!(
        files,
        ms = started.elapsed().as_millis() as u64,
        "whole-file batch settled"
    );
    // One write for the whole batch: the answers are fed, then flushed once.
    for (answer, shown) in answers {
        if let (ServerMessage::PutDone { size, .. }, Some(shown)) = (&answer, &shown) {
            tracing::info!(user = %session.account.name, path = %shown, size, "upload complete");
        }
        conn.feed(answer).await.map_err(SessionError::Codec)?;
    }
    conn.flush().await.map_err(SessionError::Codec)
}
