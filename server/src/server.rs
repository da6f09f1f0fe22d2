//! The accept loop: one task per connection, caps on connections, and shutdown.
//!
//! A new connection is first admitted among those that have not proved the key
//! ([`crate::startups`]: `max_startups` at once, `max_startups_per_address` from one address;
//! more wait for a turn, up to `handshake_timeout`, without any work done for them). Once it has
//! a turn it takes one of `max_connections` places, sets up TLS (or plain TCP) through
//! [`crate::transport`] and runs the session, which must prove the key by `startup_timeout`
//! from then. A connection refused gets a "busy" error frame (over TLS for a TLS server, so the
//! client can read it): `Unavailable`, which clients retry, when too many are starting, `Busy`
//! over `max_connections`; at most
//! [`MAX_BUSY_REPLIES`] of those at once; beyond, it is just closed. A session that fails (or
//! even panics) ends alone: the loop keeps serving everyone else. When `shutdown` completes,
//! the listener closes, sessions are told to stop (see
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

use crate::error::Refusal;
use crate::session::Startup;
use crate::startups::{Startups, Ticket};
use crate::state::ServerState;
use crate::{session, transport};

/// How long a refused connection may take to receive its "busy" frame.
const BUSY_REPLY_TIMEOUT: Duration = Duration::from_secs(2);

/// Refused connections told "busy" at once (each costs a TLS handshake); more are just closed,
/// so a flood cannot make the server work for it.
pub const MAX_BUSY_REPLIES: usize = 64;

/// What the accept loop's tasks share.
struct Limits {
    /// Places for connections (`max_connections`).
    permits: Arc<Semaphore>,
    /// Connections that have not proved the key yet.
    startups: Arc<Startups>,
    /// Busy replies being sent.
    replies: Arc<Semaphore>,
}

/// Serves connections on `listener` until `shutdown` completes, then closes every session.
pub async fn run(
    listener: TcpListener,
    state: Arc<ServerState>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let config = &state.config;
    let limits = Arc::new(Limits {
        permits: Arc::new(Semaphore::new(config.max_connections)),
        startups: Startups::new(
            config.max_startups,
            config.max_startups_per_address,
            config
                .max_connections
                .saturating_add(config.max_startups_per_address),
            config
                .max_connections
                .saturating_mul(2)
                .saturating_add(config.max_startups),
        ),
        replies: Arc::new(Semaphore::new(MAX_BUSY_REPLIES)),
    });
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
                match limits.startups.admit(peer.ip()) {
                    Ok(ticket) => {
                        let (state, limits) = (Arc::clone(&state), Arc::clone(&limits));
                        sessions.spawn(start(stream, peer, ticket, state, limits));
                    }
                    Err(refused) => {
                        tracing::warn!(%peer, "refusing a connection: {refused}");
                        let busy = Refusal::new(
                            ErrorKind::Unavailable,
                            format!("server busy: {refused}, try again later"),
                        );
                        if let Some(reply) = busy_reply(stream, peer, &state, &limits, busy) {
                            sessions.spawn(reply);
                        }
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

/// Waits for a startup slot for an admitted connection, takes a connection place, then serves
/// it; refuses it "busy" when either does not come.
async fn start(
    tcp: TcpStream,
    peer: SocketAddr,
    ticket: Ticket,
    state: Arc<ServerState>,
    limits: Arc<Limits>,
) {
    let wait = state.config.handshake_timeout;
    let slot = tokio::select! {
        slot = tokio::time::timeout(wait, ticket.slot()) => slot.ok().flatten(),
        () = state.shutdown.cancelled() => return,
    };
    let Some(slot) = slot else {
        tracing::warn!(%peer, "refusing a connection: no startup slot within {wait:?}, or its place in the queue went to another address");
        let busy = Refusal::new(
            ErrorKind::Unavailable,
            "server busy: too many connections are starting, try again later",
        );
        if let Some(reply) = busy_reply(tcp, peer, &state, &limits, busy) {
            reply.await;
        }
        return;
    };
    let Ok(permit) = Arc::clone(&limits.permits).try_acquire_owned() else {
        drop(slot);
        tracing::warn!(%peer, "refusing a connection: at the connection limit");
        let limit = state.config.max_connections;
        let busy = Refusal::new(
            ErrorKind::Busy,
            format!("server busy: all {limit} connections in use, try again later"),
        );
        if let Some(reply) = busy_reply(tcp, peer, &state, &limits, busy) {
            reply.await;
        }
        return;
    };
    serve(tcp, peer, slot, state).await;
    drop(permit);
}

/// Sets up TLS (or plain TCP) on one connection, then runs its session; the TLS handshake and
/// key proof must be done within `startup_timeout`.
async fn serve(
    tcp: TcpStream,
    peer: SocketAddr,
    slot: crate::startups::Slot,
    state: Arc<ServerState>,
) {
    let timeout = state.config.startup_timeout;
    let deadline = tokio::time::Instant::now() + timeout;
    let accepted = tokio::select! {
        accepted = transport::accept(tcp, state.tls.as_ref(), timeout) => accepted,
        () = state.shutdown.cancelled() => return,
    };
    let stream = match accepted {
        Ok(stream) => stream,
        Err(error) => return transport::log_refused(peer, &error),
    };
    let startup = Startup {
        slot: Some(slot),
        deadline,
    };
    match stream.binding() {
        Ok(binding) => session::serve_started(stream, peer, binding, state, startup).await,
        Err(error) => tracing::warn!(%peer, %error, "closing connection: no TLS exporter value"),
    }
}

/// A task telling a refused connection that the server is busy, if fewer than
/// [`MAX_BUSY_REPLIES`] are being told already; `None` closes it without a word.
fn busy_reply(
    tcp: TcpStream,
    peer: SocketAddr,
    state: &Arc<ServerState>,
    limits: &Limits,
    busy: Refusal,
) -> Option<impl Future<Output = ()> + Send + 'static> {
    let permit = Arc::clone(&limits.replies).try_acquire_owned().ok()?;
    let state = Arc::clone(state);
    Some(async move {
        refuse_busy(tcp, peer, state, busy).await;
        drop(permit);
    })
}

/// Tells a refused connection that the server is busy, in the transport it speaks.
async fn refuse_busy(tcp: TcpStream, peer: SocketAddr, state: Arc<ServerState>, busy: Refusal) {
    let reply = async {
        let stream = match transport::accept(tcp, state.tls.as_ref(), BUSY_REPLY_TIMEOUT).await {
            Ok(stream) => stream,
            Err(error) => return transport::log_refused(peer, &error),
        };
        let mut conn = Framed::new(stream, ServerCodec::default());
        let busy = ServerMessage::Error {
            kind: busy.kind,
            message: busy.message,
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
        match state.store.expire(ttl).await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "expired stale partial uploads"),
            Err(error) => tracing::warn!(%error, "cannot expire partial uploads"),
        }
        tokio::time::sleep(every).await;
    }
}
