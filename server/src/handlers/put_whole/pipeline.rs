//! The one entry point of the small-file pipeline for the session loop: how the next request is
//! read while whole-file answers are owed. With nothing owed the request must come within
//! `idle_timeout`; with answers owed, requests already on the connection are taken first, and
//! while none is waiting the batches settle and their answers go out. Any request other than
//! a `PutWhole` waits until every file before it is answered, so answers keep request order.

use ftp_proto::ClientMessage;
use futures::FutureExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::{Instant, timeout_at};

use ftp_proto::WholeRequest;

use super::{Batches, answer, finish, idle};
use crate::connection::{Connection, receive};
use crate::error::{SessionError, shutting_down};
use crate::handlers::Session;
use crate::state::ServerState;

/// A session's whole-file uploads not answered yet, and how its next request is read.
#[derive(Default)]
pub struct Pipeline {
    /// The batches being received and settling.
    batches: Batches,
}

impl Pipeline {
    /// The next request of a logged-in session, once everything owed before it is answered
    /// (unless it is one more whole file).
    pub async fn next_request<S>(
        &mut self,
        conn: &mut Connection<S>,
        session: &Session,
        state: &ServerState,
    ) -> Result<ClientMessage, SessionError>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let message = loop {
            if self.batches.is_empty() {
                let next = timeout_at(Instant::now() + state.config.idle_timeout, receive(conn));
                break tokio::select! {
                    message = next => message.map_err(|_| SessionError::IdleTimeout)??,
                    () = state.shutdown.cancelled() => return Err(shutting_down()),
                };
            }
            if let Some(message) = receive(conn).now_or_never() {
                // Whole-file answers wait while more requests are already here.
                break message?;
            }
            // Nothing waiting: the batch being received settles (or grows while the one before
            // settles) as the connection reads on; answers go out once their batch is settled.
            idle(conn, session, &mut self.batches).await?;
            tokio::select! {
                message = receive(conn) => break message?,
                answers = self.batches.settled() => answer(conn, session, answers).await?,
            }
        };
        if !self.batches.is_empty() && !matches!(message, ClientMessage::PutWhole(_)) {
            finish(conn, session, &mut self.batches).await?;
        }
        Ok(message)
    }

    /// Takes one whole file into the batch being received.
    pub async fn receive<S>(
        &mut self,
        conn: &mut Connection<S>,
        session: &Session,
        state: &ServerState,
        request: WholeRequest,
    ) -> Result<(), SessionError>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        super::receive(conn, session, state, &mut self.batches, request).await
    }
}
