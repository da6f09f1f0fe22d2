//! `PutWhole`: small files sent whole, many before any answer, made durable together. The
//! session reads its requests through the [`Pipeline`], the one entry point of all this.
//!
//! Each file is checked like a `Put` (permission, path, size, lock) as it arrives and handed
//! to the batch being received in the store ([`crate::storage::WholeBatch`]), which checks the
//! destination, verifies the SHA-256 and writes the file while the connection reads on. When
//! no further message is waiting on the connection, or the batch is full, the batch is closed
//! ([`close`]): the store makes it durable and visible (on the local disk: one sync for every
//! file's data, the renames, one sync for the names) while the next batch is already being
//! received; then its answers go out in order ([`answer`]). A batch is closed only once the one before it
//! is answered, so answers keep the order of the requests ([`batches`]). Files still appear
//! under their final names only whole and verified, and an answer still means the file is
//! durable; what the batch saves is a round trip and two syncs per file.

mod batches;
mod pipeline;

use ftp_proto::{ErrorKind, MAX_CHUNK_LEN, PutRequest, ServerMessage, WholeRequest};
use futures::SinkExt;
use tokio::io::{AsyncRead, AsyncWrite};

use super::Session;
use super::put::{Upload, check};
use crate::connection::Connection;
use crate::error::{Refusal, SessionError};
use crate::jail::RemotePath;
use crate::state::ServerState;
use crate::storage::WholeFile;
use crate::uploads::PathLock;
use batches::{Answer, Batches};
pub use pipeline::Pipeline;

/// A file that passed the checks needing no disk, with its destination locked.
struct Admitted {
    /// The upload.
    upload: Upload,
    /// The file, as the store gets it.
    file: WholeFile,
    /// The destination's lock, held until the file is in place.
    lock: PathLock,
}

/// Most files answered together.
pub const MAX_BATCH: usize = 512;

/// Checks one file and hands it to the store thread of the batch being received; its answer
/// joins the batch.
async fn receive<S>(
    conn: &mut Connection<S>,
    session: &Session,
    state: &ServerState,
    batches: &mut Batches,
    request: WholeRequest,
) -> Result<(), SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // The same destination twice in one burst: the first must land (and let go of its lock)
    // before the second is looked at.
    if let Ok(path) = RemotePath::parse(&request.path)
        && batches.holds(&path.relative())
    {
        finish(conn, session, batches).await?;
    }
    match admit(session, state, request).await {
        Ok(admitted) => batches.receiving.store(session, state, admitted).await,
        Err(refusal) => batches.receiving.decided(ServerMessage::from(refusal)),
    }
    if batches.is_full() {
        close(conn, session, batches).await?;
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
    let upload = Upload::new(session, path, &put);
    let lock = state
        .locks
        .lock(
            upload.lock_key(session),
            put.upload_id,
            &upload.target.partial,
            &upload.shown,
        )
        .await?;
    let conflict = crate::storage::Conflict::of(upload.force);
    let reservation = super::put::reserve(session, &upload.target, &upload.shown, conflict).await?;
    if let Some(reservation) = reservation {
        // Counted as stored at once; a file that does not land after all (identical content,
        // a refusal) marks the count stale when its answer goes out.
        reservation.landed();
    }
    session.pace(super::Way::Up, size).await;
    let file = WholeFile {
        path: upload.target.path.clone(),
        partial: upload.target.partial.clone(),
        force: upload.force,
        modified: upload.target.modified,
        data: request.data,
        sha256: request.sha256,
    };
    Ok(Admitted { upload, file, lock })
}

/// Nothing more is waiting on the connection: the files received go to the store thread, and
/// the batch being received is closed unless one is settling already (then it grows meanwhile,
/// and is closed once that one is answered).
async fn idle<S>(
    conn: &mut Connection<S>,
    session: &Session,
    batches: &mut Batches,
) -> Result<(), SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if batches.is_settling() {
        batches.hand_over().await;
        Ok(())
    } else {
        close(conn, session, batches).await
    }
}

/// Closes the batch being received, so its thread makes it durable and visible while the
/// connection reads on; the batch before it is answered first (waiting for it if need be).
async fn close<S>(
    conn: &mut Connection<S>,
    session: &Session,
    batches: &mut Batches,
) -> Result<(), SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if batches.receiving.owed() == 0 {
        return Ok(());
    }
    answer_settling(conn, session, batches).await?;
    batches.close().await;
    Ok(())
}

/// Answers every file received: closes the batch being received and waits until all are
/// settled.
async fn finish<S>(
    conn: &mut Connection<S>,
    session: &Session,
    batches: &mut Batches,
) -> Result<(), SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    close(conn, session, batches).await?;
    answer_settling(conn, session, batches).await
}

/// Waits for the batch settling, if any, and sends its answers.
async fn answer_settling<S>(
    conn: &mut Connection<S>,
    session: &Session,
    batches: &mut Batches,
) -> Result<(), SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if batches.is_settling() {
        let answers = batches.settled().await;
        answer(conn, session, answers).await?;
    }
    Ok(())
}

/// Sends the answers of a settled batch ([`Batches::settled`]) in order, in one write.
async fn answer<S>(
    conn: &mut Connection<S>,
    session: &Session,
    answers: Result<Vec<Answer>, Refusal>,
) -> Result<(), SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    for (answer, shown) in answers.map_err(SessionError::Fatal)? {
        if let (ServerMessage::PutDone { size, .. }, Some(shown)) = (&answer, &shown) {
            tracing::info!(user = %session.account.name, path = %shown, size, "upload complete");
        } else if session.account.limits.counts_usage() {
            // It was counted as stored when admitted.
            session.usage_changed();
        }
        conn.feed(answer).await.map_err(SessionError::from)?;
    }
    conn.flush().await.map_err(SessionError::from)
}
