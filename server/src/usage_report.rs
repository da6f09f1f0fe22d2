//! What each user stores, for `ftpd user list`: the configured store opened on a small runtime
//! of its own (the maintenance commands run before any), each user's home counted through the
//! storage seam ([`crate::storage::Home::usage`]). A home not made yet on the local disk is not
//! made here; anything that cannot be counted is left out (the table shows `-`).

use std::collections::HashMap;

use crate::config::{Config, Storage};
use crate::usage::Usage;
use crate::users::Users;

/// What each user of `users` stores, by name, where it could be counted.
pub fn used(config: &Config, users: &Users) -> HashMap<String, Usage> {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return HashMap::new();
    };
    runtime.block_on(count_all(config, users))
}

/// See [`used`].
async fn count_all(config: &Config, users: &Users) -> HashMap<String, Usage> {
    let mut used = HashMap::new();
    if matches!(config.storage, Storage::Local) && !config.root.is_dir() {
        return used;
    }
    let store = match crate::startup::configured_store(config).await {
        Ok(store) => store,
        Err(error) => {
            eprintln!("ftpd: note: cannot open the store to count what users store: {error}");
            return used;
        }
    };
    for (name, entry) in &users.users {
        let Ok(account) = entry.account(name) else {
            continue;
        };
        if matches!(config.storage, Storage::Local) && !config.root.join(&account.home).is_dir() {
            continue;
        }
        let Ok(home) = store.open_home(name, &account.home).await else {
            continue;
        };
        if let Ok(usage) = home.usage().await {
            used.insert(name.clone(), usage);
        }
    }
    used
}
