//! The accept loop: one task per connection, a cap on connections, and shutdown.
//!
//! A connection over `max_connections` gets a "busy" error frame and is closed at once. A
//! session that fails (or even panics) ends alone: the loop keeps serving everyone else. When
//! `shutdown` completes, the listener closes, sessions are told to stop (see
//! [`crate::state::ServerState::shutdown`]) and get `shutdown_grace` to finish.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ftp_proto::{ErrorKind, ServerCodec, ServerMessage};
use futures::SinkExt;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::codec::Framed;

use crate::session;
use crate::state::ServerState;

/// How long a refused connection may take to receive its "busy" frame.
const BUSY_REPLY_TIMEOUT: Duration = Duration::from_secs(2);

/// Serves connections on `listener` until `shutdown` completes, then closes every session.
pub async fn run(
    listener: TcpListener,
    state: Arc<ServerState>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(state.config.max_connections));
    let expiry = tokio::spawn(expire_partials(Arc::clone(&state)));
    let mut sessions = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(finished) = sessions.join_next(), if !sessions.is_empty() => {
                if let Err(error) = finished {
                    tracing::error!(%error, "a session task failed");
                }
            }
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of file descriptors or a connection reset before accept: wait a
                        // moment instead of spinning, then carry on.
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                match Arc::clone(&permits).try_acquire_owned() {
                    Ok(permit) => {
                        let state = Arc::clone(&state);
                        sessions.spawn(async move {
                            session::serve(stream, peer, state).await;
                            drop(permit);
                        });
                    }
                    Err(_) => {
                        tracing::warn!(%peer, "refusing a connection: at the connection limit");
                        let limit = state.config.max_connections;
                        sessions.spawn(async move {
                            let mut conn = Framed::new(stream, ServerCodec::default());
                            let busy = ServerMessage::Error {
                                kind: ErrorKind::Busy,
                                message: format!("server busy: all {limit} connections in use, try again later"),
                            };
                            let _ = tokio::time::timeout(BUSY_REPLY_TIMEOUT, conn.send(busy)).await;
                        });
                    }
                }
            }
        }
    }
    // Graceful shutdown: no new connections, sessions told to stop (uploads keep what they
    // received, in-flight chunks land), then a bounded wait.
    drop(listener);
    let grace = state.config.shutdown_grace;
    tracing::info!(
        sessions = sessions.len(),
        "shutting down: no new connections; waiting up to {} s for sessions",
        grace.as_secs_f64()
    );
    state.shutdown.cancel();
    expiry.abort();
    let drained = tokio::time::timeout(grace, async {
        while let Some(finished) = sessions.join_next().await {
            if let Err(error) = finished
                && error.is_panic()
            {
                tracing::error!(%error, "a session task failed");
            }
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            sessions = sessions.len(),
            "grace period over; closing the remaining sessions"
        );
        sessions.shutdown().await;
    }
    tracing::info!("stopped");
    Ok(())
}

/// Deletes stale partial uploads now and then, for as long as the server runs.
async fn expire_partials(state: Arc<ServerState>) {
    let ttl = state.config.partial_ttl;
    let every = (ttl / 4).clamp(Duration::from_secs(1), Duration::from_secs(3600));
    loop {
        let partials = Arc::clone(&state.partials);
        let served = Arc::clone(&state.served);
        let expired = tokio::task::spawn_blocking(move || {
            Ok::<_, std::io::Error>(
                crate::uploads::expire(&partials, ttl)? + crate::uploads::expire(&served, ttl)?,
            )
        });
        match expired.await {
            Ok(Ok(0)) => {}
            Ok(Ok(removed)) => tracing::info!(removed, "expired stale partial uploads"),
            Ok(Err(error)) => tracing::warn!(%error, "cannot expire partial uploads"),
            Err(error) => tracing::warn!(%error, "partial expiry task failed"),
        }
        tokio::time::sleep(every).await;
    }
}
