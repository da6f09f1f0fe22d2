//! Request handlers, one file per operation. Handlers see typed messages and a logged-in
//! [`Session`]; they speak only to its home in the store ([`crate::storage::Home`]) and answer
//! refusals with an error frame while the session goes on.

pub mod df;
pub mod get;
pub mod list;
pub mod mkdir;
pub mod partials;
pub mod put;
pub mod put_whole;
pub mod remove;
pub mod remove_tree;
pub mod rename;
pub mod stat;
#[cfg(test)]
pub(crate) mod test_session;
pub mod tree;
pub mod upload_refusals;

use std::sync::Arc;

use ftp_proto::ErrorKind;

use crate::error::Refusal;
use crate::state::ServerState;
use crate::storage::Home;
use crate::user_shared::SessionSlot;
use crate::users::Account;

/// What a handler knows about the logged-in user.
#[derive(Debug)]
pub struct Session {
    /// The user.
    pub account: Account,
    /// The user's home in its store.
    pub storage: Arc<dyn Home>,
    /// The session's place among its user's, and what they share (rate, storage count).
    pub slot: SessionSlot,
}

impl Session {
    /// Opens the home of `account` in the server's store (making it on first login).
    pub async fn open(
        account: Account,
        slot: SessionSlot,
        state: &ServerState,
    ) -> Result<Self, Refusal> {
        let storage = state
            .store
            .open_home(&account.name, &account.home)
            .await
            .map_err(|e| {
                tracing::error!(user = %account.name, error = %e, "cannot open the home folder");
                Refusal::new(ErrorKind::Internal, "server error: opening the home folder")
            })?;
        Ok(Session {
            account,
            storage,
            slot,
        })
    }
}

/// The minimum-rate check for one transfer, as configured (with no rate, silence for
/// `idle_timeout` is what ends a transfer).
pub fn rate_floor(state: &crate::state::ServerState) -> crate::rate_floor::RateFloor {
    let config = &state.config;
    if config.min_transfer_rate == 0 {
        crate::rate_floor::RateFloor::new(0, config.idle_timeout)
    } else {
        crate::rate_floor::RateFloor::new(config.min_transfer_rate, config.transfer_rate_window)
    }
}

/// Refuses a change (upload, remove, mkdir) for a read-only user, saying what and why.
pub fn require_write(session: &Session, action: &str) -> Result<(), Refusal> {
    if session.account.read_only {
        return Err(Refusal::new(
            ErrorKind::Denied,
            format!(
                "{action} refused: user {} is read-only (may list, stat and download only)",
                session.account.name
            ),
        ));
    }
    Ok(())
}

impl Session {
    /// Something changed what the user stores in a way the count does not follow (a removal,
    /// a replacing rename): the next quota check counts again.
    pub fn usage_changed(&self) {
        self.slot.shared.usage.stale();
    }

    /// Waits until `bytes` more may move `way` at the user's rate across all their sessions
    /// (no wait without a rate); how long it waited.
    pub async fn pace(&self, way: Way, bytes: u64) -> std::time::Duration {
        let Some(rate) = self.account.limits.rate else {
            return std::time::Duration::ZERO;
        };
        let pacer = match way {
            Way::Up => &self.slot.shared.uploads,
            Way::Down => &self.slot.shared.downloads,
        };
        pacer.take(bytes, rate).await
    }
}

/// Which way data moves, for the user's rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Way {
    /// To the server.
    Up,
    /// From the server.
    Down,
}
