//! `Partials` and `RemovePartial`: a user's unfinished uploads, listed by remote path, and one
//! dropped. Dropping takes the destination's lock first, so a partial a live upload is
//! writing is answered "busy" and never pulled from under it.

use ftp_proto::{ErrorKind, ServerMessage};
use tokio::io::{AsyncRead, AsyncWrite};

use super::Session;
use crate::connection::{Connection, send, send_error};
use crate::error::{Refusal, SessionError};
use crate::jail::RemotePath;
use crate::state::ServerState;

/// Answers one `Partials` request.
pub async fn list<S>(conn: &mut Connection<S>, session: &Session) -> Result<(), SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let listed = session.storage.partials().await;
    match listed.map_err(|e| Refusal::internal("listing partial uploads", e.detail)) {
        Ok(partials) => send(conn, ServerMessage::PartialList { partials }).await,
        Err(refusal) => send_error(conn, refusal).await,
    }
}

/// Answers one `RemovePartial` request.
pub async fn remove<S>(
    conn: &mut Connection<S>,
    session: &Session,
    state: &ServerState,
    path: &str,
) -> Result<(), SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match try_remove(session, state, path).await {
        Ok(count) => {
            tracing::info!(user = %session.account.name, path, count, "partial upload dropped");
            send(conn, ServerMessage::Done { changed: true }).await
        }
        Err(refusal) => send_error(conn, refusal).await,
    }
}

/// Drops every partial of the user going to `path`; returns how many.
async fn try_remove(session: &Session, state: &ServerState, path: &str) -> Result<usize, Refusal> {
    let path = RemotePath::parse(path)?;
    let shown = path.to_string();
    // A fresh id: never taken for a retry of a live upload, which would be taken over.
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).map_err(|e| Refusal::internal("a lock id", e))?;
    let key = session.account.home.join(path.relative());
    let lock = state.locks.lock(key, id, "", &shown).await?;
    let removed = session.storage.drop_partials(&path).await;
    session.usage_changed();
    let removed = removed.map_err(|e| Refusal::internal("dropping a partial upload", e.detail))?;
    drop(lock);
    if removed == 0 {
        return Err(Refusal::new(
            ErrorKind::NotFound,
            format!("no unfinished upload to {shown} (see ftp partials)"),
        ));
    }
    Ok(removed)
}
