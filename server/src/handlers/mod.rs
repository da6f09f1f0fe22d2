//! Request handlers, one file per operation. Handlers see typed messages and a logged-in
//! [`Session`]; they touch the disk only through the home's capability handle, on blocking
//! threads, and answer refusals with an error frame while the session goes on.

pub mod list;
pub mod put;

use std::sync::Arc;

use crate::error::Refusal;
use crate::jail;
use crate::state::ServerState;
use crate::users::Account;

/// What a handler knows about the logged-in user.
#[derive(Debug)]
pub struct Session {
    /// The user.
    pub account: Account,
    /// Capability handle on the user's home: every path is resolved beneath it.
    pub home: Arc<cap_std::fs::Dir>,
}

/// Opens the user's home beneath the root, creating it on first login.
pub async fn open_home(
    state: &ServerState,
    account: &Account,
) -> Result<cap_std::fs::Dir, Refusal> {
    let root = Arc::clone(&state.root);
    let home = account.home.clone();
    tokio::task::spawn_blocking(move || jail::open_home(&root, &home))
        .await
        .map_err(|e| Refusal::internal("opening the home folder", e))?
        .map_err(|e| Refusal::internal("opening the home folder", e))
}
