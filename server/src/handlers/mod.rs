//! Request handlers, one file per operation. Handlers see typed messages and a logged-in
//! [`Session`]; they speak to its store ([`crate::storage::Home`]) and answer refusals with an
//! error frame while the session goes on. Uploads (`put`, `put_whole`) still work on the home's
//! capability handle directly, on blocking threads: they are the next to move behind the seam.

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

use std::sync::Arc;

use ftp_proto::ErrorKind;

use crate::error::Refusal;
use crate::jail;
use crate::state::ServerState;
use crate::storage::Home;
use crate::users::Account;

/// What a handler knows about the logged-in user.
#[derive(Debug)]
pub struct Session {
    /// The user.
    pub account: Account,
    /// Capability handle on the user's home: every path is resolved beneath it.
    pub home: Arc<cap_std::fs::Dir>,
    /// The user's home in its store: what the handlers moved behind the seam ask it.
    pub storage: Arc<dyn Home>,
}

impl Session {
    /// A session of `account` in the local `home`, with the store over it.
    pub fn local(account: Account, home: cap_std::fs::Dir, state: &ServerState) -> Self {
        let home = Arc::new(home);
        let storage = crate::storage::local::LocalHome::new(
            Arc::clone(&home),
            Arc::clone(&state.served),
            Arc::clone(&state.partials),
            &account.name,
            state.config.modes.dir,
        );
        Session {
            account,
            home,
            storage: Arc::new(storage),
        }
    }
}

/// Opens the user's home beneath the root, creating it on first login.
pub async fn open_home(
    state: &ServerState,
    account: &Account,
) -> Result<cap_std::fs::Dir, Refusal> {
    let root = Arc::clone(&state.root);
    let home = account.home.clone();
    let mode = state.config.modes.dir;
    tokio::task::spawn_blocking(move || jail::open_home(&root, &home, mode))
        .await
        .map_err(|e| Refusal::internal("opening the home folder", e))?
        .map_err(|e| Refusal::internal("opening the home folder", e))
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
