//! The login part of a session: up to `max_login_attempts` user name and password pairs, each
//! counted by the login throttle before its password is checked. Passwords are never logged,
//! nor are user names that are no account's (one may be a password typed in the wrong field).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering};

use ftp_proto::{ClientMessage, ErrorKind, ServerMessage};
use tokio::io::{AsyncRead, AsyncWrite};

use super::{Connection, out_of_order, receive, send, send_error};
use crate::auth::LoginError;
use crate::error::{Refusal, SessionError};
use crate::state::ServerState;
use crate::user_shared::SessionSlot;
use crate::users::Account;

/// What a login is waiting for when its deadline passes: the peer's next login message
/// ([`WAITING`]: nothing sent since was read), the server (a place in the throttle's count, an
/// argon2 slot, the check itself: [`CHECKING`]), or the answer to a checked password to go out
/// after its failure delay ([`ANSWERING`]).
pub(super) const WAITING: u8 = 0;
/// See [`WAITING`].
pub(super) const CHECKING: u8 = 1;
/// See [`WAITING`].
pub(super) const ANSWERING: u8 = 2;

/// Login attempts, at most `max_login_attempts` on this connection; `phase` says what each
/// waits for (see [`WAITING`]).
pub(super) async fn log_in<S>(
    conn: &mut Connection<S>,
    peer: SocketAddr,
    state: &ServerState,
    phase: &AtomicU8,
) -> Result<(Account, SessionSlot), SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let max = state.config.max_login_attempts;
    for attempt in 1..=max {
        let (user, password) = match receive(conn).await? {
            ClientMessage::Login { user, password } => (user, password),
            _ => return Err(out_of_order("expected a login")),
        };
        phase.store(CHECKING, Ordering::Relaxed);
        let reserved = match state.throttle.begin(peer.ip()).await {
            Ok(reserved) => reserved,
            Err(remaining) => {
                tracing::warn!(%peer, "login refused: address locked out");
                return Err(SessionError::Fatal(Refusal::new(
                    ErrorKind::TooManyAttempts,
                    format!(
                        "login refused: too many failed logins from {}; try again in {} s",
                        peer.ip(),
                        remaining.as_secs().max(1)
                    ),
                )));
            }
        };
        let checked = state.auth.login(&user, password).await;
        phase.store(ANSWERING, Ordering::Relaxed);
        let (why, known) = match checked {
            Ok(account) => {
                reserved.succeeded(&user);
                let slot = enter(state, peer, &account)?;
                send(
                    conn,
                    ServerMessage::Welcome {
                        user: account.name.clone(),
                        read_only: account.read_only,
                        min_transfer_rate: state.config.min_transfer_rate,
                    },
                )
                .await?;
                return Ok((account, slot));
            }
            Err(LoginError::Unavailable(why)) => {
                return Err(SessionError::Fatal(Refusal::new(ErrorKind::Internal, why)));
            }
            Err(error @ LoginError::Rejected { known }) => (error.to_string(), known),
            Err(error @ LoginError::TooLong) => (error.to_string(), false),
        };
        let delay = reserved.failed(&user, std::time::Instant::now());
        let delay_ms = delay.as_millis() as u64;
        if known {
            tracing::warn!(%peer, user = ?user, attempt, delay_ms, "login failed: {why}");
        } else {
            // The name is no account's: it may be a password typed in the wrong field.
            tracing::warn!(%peer, attempt, delay_ms, "login failed: {why} (a user name that is no account's, not logged)");
        }
        tokio::time::sleep(delay).await;
        if attempt == max {
            return Err(SessionError::Fatal(Refusal::new(
                ErrorKind::TooManyAttempts,
                format!("login failed: {why}; too many attempts, closing"),
            )));
        }
        send_error(
            conn,
            Refusal::new(ErrorKind::LoginFailed, format!("login failed: {why}")),
        )
        .await?;
        phase.store(WAITING, Ordering::Relaxed);
    }
    Err(out_of_order("login attempts exhausted"))
}

/// Counts the session among its user's, refusing it when `max_sessions` are open already.
fn enter(
    state: &ServerState,
    peer: SocketAddr,
    account: &Account,
) -> Result<SessionSlot, SessionError> {
    state
        .limits
        .enter(&account.name, account.limits.max_sessions)
        .map_err(|too_many| {
            tracing::warn!(%peer, user = %account.name, max_sessions = too_many.max, "login refused: too many sessions");
            SessionError::Fatal(Refusal::new(
                ErrorKind::TooManySessions,
                format!(
                    "too many sessions: user {} already has {} open, the most this account allows; try again when one ends",
                    account.name, too_many.max
                ),
            ))
        })
}
