//! The accept loop: one task per connection, a cap on connections, and shutdown.
//!
//! Each task first sets up TLS (or plain TCP) through [`crate::transport`], then runs the
//! session. A connection over `max_connections` gets a "busy" error frame (over TLS for a TLS
//! server, so the client can read it) and is closed at once. A
//! session that fails (or even panics) ends alone: the loop keeps serving everyone else. When
//! `shutdown` completes, the listener closes, sessions are told to stop (see
//! [`crate::state::ServerState::shutdown`]) and get `shutdown_grace` to finish.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ftp_proto::{ErrorKind, ServerCodec, ServerMessage};
use futures::SinkExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::codec::Framed;

use crate::state::ServerState;
use crate::{session, transport};

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
                            serve(stream, peer, state).await;
                            drop(permit);
                        });
                    }
                    Err(_) => {
                        tracing::warn!(%peer, "refusing a connection: at the connection limit");
                        sessions.spawn(refuse_busy(stream, peer, Arc::clone(&state)));
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

/// Sets up TLS (or plain TCP) on one connection, then runs its session.
async fn serve(tcp: TcpStream, peer: SocketAddr, state: Arc<ServerState>) {
    let timeout = state.config.handshake_timeout;
    let accepted = tokio::select! {
        accepted = transport::accept(tcp, state.tls.as_ref(), timeout) => accepted,
        () = state.shutdown.cancelled() => return,
    };
    let stream = match accepted {
        Ok(stream) => stream,
        Err(error) => return transport::log_refused(peer, &error),
    };
    match stream.binding() {
        Ok(binding) => session::serve(stream, peer, binding, state).await,
        Err(error) => tracing::warn!(%peer, %error, "closing connection: no TLS exporter value"),
    }
}

/// Tells a connection over the limit that the server is busy, in the transport it speaks.
async fn refuse_busy(tcp: TcpStream, peer: SocketAddr, state: Arc<ServerState>) {
    let limit = state.config.max_connections;
    let reply = async {
        let stream = match transport::accept(tcp, state.tls.as_ref(), BUSY_REPLY_TIMEOUT).await {
            Ok(stream) => stream,
            Err(error) => return transport::log_refused(peer, &error),
        };
        let mut conn = Framed::new(stream, ServerCodec::default());
        let busy = ServerMessage::Error {
            kind: ErrorKind::Busy,
            message: format!("server busy: all {limit} connections in use, try again later"),
        };
        let _ = conn.send(busy).await;
        let _ = conn.close().await;
    };
    let _ = tokio::time::timeout(BUSY_REPLY_TIMEOUT, reply).await;
}

/// Deletes stale partial uploads now and then, for as long as the server runs.
async fn expire_partials(state: Arc<ServerState>) {
    let ttl = state.config.partial_ttl;
    let every = (ttl / 4).clamp(Duration::from_secs(1), Duration::from_secs(3600));
    loop {
        let partials = Arc::clone(&state.partials);
        let served = Arc::clone(&state.served);
        let whole = state.whole_partials.clone();
        let expired = tokio::task::spawn_blocking(move || {
            let mut removed =
                crate::uploads::expire(&partials, ttl)? + crate::uploads::expire(&served, ttl)?;
            for folder in &whole {
                removed += crate::uploads::expire(folder, ttl)?;
            }
            Ok::<_, std::io::Error>(removed)
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
