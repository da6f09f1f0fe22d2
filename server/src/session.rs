//! One connection's state machine: hello and mutual key proof, then login, then commands.
//!
//! Generic over any `AsyncRead + AsyncWrite`: [`crate::transport`] hands it a TLS (or, asked
//! for explicitly, plain) stream and the [`ChannelBinding`] the key proofs must carry, so a proof
//! relayed from another TLS session fails. The key proof must be done by the startup deadline
//! (`startup_timeout` from the start of the TLS handshake), while the connection holds its
//! startup slot ([`crate::startups`]), which it gives back once the key is proved; the login
//! must then arrive within `handshake_timeout`. A login that waits past that for its password
//! to be checked (other logins ahead of it) is told the server is busy, a transient refusal the
//! client retries; a peer that never sends its login is a protocol timeout. Afterwards each
//! request must arrive within `idle_timeout`. Any protocol violation gets an error frame and
//! the connection closes. No password is read before the client proved the key, and none is
//! ever logged; nor is a user name that is not an account's (it may be a mistyped password).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use ftp_proto::handshake::{self, ChannelBinding, Nonce};
use ftp_proto::{
    ClientMessage, DEFAULT_KEY_NAME, ErrorKind, PROTOCOL_VERSION, ServerCodec, ServerMessage,
};
use futures::SinkExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::{Instant, timeout_at};
use tokio_util::codec::Framed;

use crate::connection::{Connection, receive, send, send_error};
use crate::error::{Refusal, SessionError, shutting_down};
use crate::handlers;
use crate::keys::SessionKey;
use crate::startups::Slot;
use crate::state::ServerState;

mod login;

/// Serves one connection to its end; every outcome is logged, none is returned. The key proof
/// must come within `startup_timeout` from now.
pub async fn serve<S>(stream: S, peer: SocketAddr, binding: ChannelBinding, state: Arc<ServerState>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let startup = Startup {
        slot: None,
        deadline: Instant::now() + state.config.startup_timeout,
    };
    serve_started(stream, peer, binding, state, startup).await;
}

/// A connection's place among those that have not proved the key yet.
#[derive(Debug)]
pub struct Startup {
    /// Its startup slot, given back once the key is proved.
    pub slot: Option<Slot>,
    /// When the key proof must be done.
    pub deadline: Instant,
}

/// Like [`serve`], for a connection that started (and holds `startup`) earlier.
pub async fn serve_started<S>(
    stream: S,
    peer: SocketAddr,
    binding: ChannelBinding,
    state: Arc<ServerState>,
    startup: Startup,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut conn = Framed::new(stream, ServerCodec::default());
    let result = run(&mut conn, peer, &binding, &state, startup).await;
    match &result {
        Ok(()) => tracing::debug!(%peer, "session ended"),
        Err(SessionError::Closed) => tracing::debug!(%peer, "peer closed the connection"),
        Err(SessionError::Codec(ftp_proto::CodecError::FrameTooLarge { len, .. }))
            if binding.is_plaintext() && crate::transport::looks_like_tls(*len) =>
        {
            tracing::info!(%peer, "closing connection: a TLS client connected, but this server runs with insecure_plaintext");
        }
        Err(error) => tracing::info!(%peer, %error, "closing connection"),
    }
    // The last word is bounded: a peer that stops reading must not hold the session open.
    let farewell = async {
        if let Err(error) = result
            && let Some(refusal) = error.reply()
        {
            let _ = send_error(&mut conn, refusal).await;
        }
        let _ = conn.close().await;
    };
    if tokio::time::timeout(CLOSE_TIMEOUT, farewell).await.is_err() {
        tracing::debug!(%peer, "peer did not take the closing frame; dropping the connection");
    }
}

/// Longest wait to deliver the closing error frame of a session.
const CLOSE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The session proper; an `Err` closes the connection after its reply (if any) is sent.
async fn run<S>(
    conn: &mut Connection<S>,
    peer: SocketAddr,
    binding: &ChannelBinding,
    state: &ServerState,
    startup: Startup,
) -> Result<(), SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let proof = timeout_at(startup.deadline, prove_key(conn, binding, state));
    let key = tokio::select! {
        result = proof => {
            result.map_err(|_| SessionError::StartupTimeout(state.config.startup_timeout))??
        }
        () = state.shutdown.cancelled() => return Err(shutting_down()),
    };
    drop(startup.slot);
    tracing::debug!(%peer, key = %key.name, "client proved the key");
    state.keys.used(&key.name);
    let limit = state.config.handshake_timeout;
    let phase = AtomicU8::new(login::WAITING);
    let login = timeout_at(
        Instant::now() + limit,
        login::log_in(conn, peer, state, &phase),
    );
    let (account, slot) = tokio::select! {
        result = login => match result {
            Ok(account) => account?,
            Err(_) => {
                return Err(match phase.load(Ordering::Relaxed) {
                    login::WAITING => SessionError::HandshakeTimeout(limit),
                    login::CHECKING => SessionError::LoginQueued(limit),
                    _ => SessionError::LoginUnanswered(limit),
                });
            }
        },
        () = state.shutdown.cancelled() => return Err(shutting_down()),
    };
    if !key.allows(&account.name) {
        tracing::info!(%peer, user = %account.name, key = %key.name, "login refused: the key may not log in as this user");
        return Err(SessionError::Fatal(Refusal::new(
            ErrorKind::LoginFailed,
            format!(
                "key {:?} may not log in as user {:?} (its users are set by `ftpd key add --users`)",
                key.name, account.name
            ),
        )));
    }
    tracing::info!(%peer, user = %account.name, key = %key.name, "logged in");
    let session = handlers::Session::open(account, slot, state)
        .await
        .map_err(SessionError::Fatal)?;
    let mut pipeline = handlers::put_whole::Pipeline::default();
    let serving = async {
        loop {
            let message = pipeline.next_request(conn, &session, state).await?;
            if dispatch(conn, &session, state, &mut pipeline, message).await? {
                return Ok(());
            }
        }
    };
    // A revoked key (or one rotated out whose grace ended) ends the session wherever it is, as
    // a cut connection would: what was received stays for a resume.
    tokio::select! {
        result = serving => result,
        () = state.keys.revoked(&key) => {
            tracing::info!(%peer, user = %session.account.name, key = %key.name, "ending the session: its key was revoked");
            Err(SessionError::Fatal(Refusal::new(
                ErrorKind::BadKey,
                format!("client key {:?} was revoked (or its grace period after a rotation ended): this session is closed", key.name),
            )))
        }
    }
}

/// Handles one request of a logged-in session; `true` when the client said goodbye.
async fn dispatch<S>(
    conn: &mut Connection<S>,
    session: &handlers::Session,
    state: &ServerState,
    pipeline: &mut handlers::put_whole::Pipeline,
    message: ClientMessage,
) -> Result<bool, SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match message {
        ClientMessage::List { path } => handlers::list::handle(conn, session, &path).await?,
        ClientMessage::Put(request) => {
            handlers::put::handle(conn, session, state, request).await?;
        }
        ClientMessage::Get {
            path,
            offset,
            limit_rate,
        } => {
            handlers::get::handle(conn, session, state, &path, offset, limit_rate).await?;
        }
        ClientMessage::Stat { path } => handlers::stat::handle(conn, session, &path).await?,
        ClientMessage::Remove { path } => {
            handlers::remove::handle(conn, session, &path).await?;
        }
        ClientMessage::MakeDir { path } => {
            handlers::mkdir::handle(conn, session, &path).await?;
        }
        ClientMessage::Rename { from, to, force } => {
            handlers::rename::handle(conn, session, state, &from, &to, force).await?;
        }
        ClientMessage::Partials {} => handlers::partials::list(conn, session).await?,
        ClientMessage::RemovePartial { path } => {
            handlers::partials::remove(conn, session, state, &path).await?;
        }
        ClientMessage::ListTree { path, sha256 } => {
            handlers::tree::handle(conn, session, &path, sha256).await?;
        }
        ClientMessage::RemoveTree { path } => {
            handlers::remove_tree::handle(conn, session, &path).await?;
        }
        ClientMessage::DiskUsage {} => handlers::df::handle(conn, session).await?,
        ClientMessage::Quit {} => return Ok(true),
        ClientMessage::PutWhole(request) => {
            pipeline.receive(conn, session, state, request).await?;
        }
        ClientMessage::Hello { .. }
        | ClientMessage::KeyHello { .. }
        | ClientMessage::Login { .. } => {
            return Err(out_of_order("a second hello or login"));
        }
        ClientMessage::Chunk { .. }
        | ClientMessage::PutFinish { .. }
        | ClientMessage::PutCancel {}
        | ClientMessage::PutReplace {} => {
            return Err(out_of_order("upload data with no upload in progress"));
        }
    }
    Ok(false)
}

/// Hello exchange: send our nonce, check the client's proof (of the shared key for a plain
/// hello, of the key it names for a `KeyHello`), prove the key in return; the key proved.
async fn prove_key<S>(
    conn: &mut Connection<S>,
    binding: &ChannelBinding,
    state: &ServerState,
) -> Result<SessionKey, SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let server_nonce: Nonce = handshake::new_nonce()
        .map_err(|e| SessionError::Fatal(Refusal::internal("random generator", e)))?;
    send(
        conn,
        ServerMessage::Hello {
            version: PROTOCOL_VERSION,
            nonce: server_nonce,
        },
    )
    .await?;
    let (version, client_nonce, proof, name) = match receive(conn).await? {
        ClientMessage::Hello {
            version,
            nonce,
            proof,
        } => (version, nonce, proof, None),
        ClientMessage::KeyHello {
            version,
            key,
            nonce,
            proof,
        } => (version, nonce, proof, Some(key)),
        _ => return Err(out_of_order("expected the client's hello")),
    };
    if version != PROTOCOL_VERSION {
        return Err(SessionError::Fatal(Refusal::new(
            ErrorKind::Version,
            format!(
                "protocol version mismatch: client speaks version {version}, server speaks version {PROTOCOL_VERSION}"
            ),
        )));
    }
    let (key, session_key) = match name.as_deref() {
        None | Some(DEFAULT_KEY_NAME) => {
            if !handshake::verify_client_proof(
                &state.key,
                binding,
                &server_nonce,
                &client_nonce,
                &proof,
            ) {
                return Err(SessionError::Fatal(Refusal::new(
                    ErrorKind::BadKey,
                    "client key rejected: this client does not hold the server's shared key",
                )));
            }
            (state.key.clone(), SessionKey::default_key())
        }
        Some(name) => {
            let checked = state
                .keys
                .check_proof(name, binding, &server_nonce, &client_nonce, &proof)
                .await;
            match checked {
                Some(proved) => proved,
                None => {
                    // Only a name that could be a key's is logged (it came before any proof).
                    let shown = if ftp_proto::secret::valid_key_name(name) {
                        name
                    } else {
                        "(not a key name)"
                    };
                    tracing::info!(key = %shown, "client key rejected: unknown, revoked or wrong");
                    // One answer for an unknown name and a wrong proof.
                    return Err(SessionError::Fatal(Refusal::new(
                        ErrorKind::BadKey,
                        "client key rejected: the server holds no valid key of this name and proof (revoked, rotated out, or never made)",
                    )));
                }
            }
        }
    };
    let proof = handshake::server_proof(&key, binding, &client_nonce, &server_nonce);
    send(conn, ServerMessage::Proof { proof }).await?;
    Ok(session_key)
}

/// A protocol violation that ends the session.
fn out_of_order(what: &str) -> SessionError {
    SessionError::Fatal(Refusal::new(
        ErrorKind::Protocol,
        format!("message out of order: {what}"),
    ))
}
