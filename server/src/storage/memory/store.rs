//! Every user's home in memory, kept as long as the store lives: a session that opens a home
//! finds the files and unfinished uploads an earlier one left.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::home::MemoryHome;
use crate::storage::{Home, StorageError, Store};

/// Homes in memory, one per user name.
#[derive(Debug, Default)]
pub struct MemoryStore {
    /// By user name.
    homes: Mutex<BTreeMap<String, MemoryHome>>,
}

impl MemoryStore {
    /// A store with no homes yet.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    /// `user`'s home (made empty on first use), to seed or look into; it shares its files and
    /// partials with every home [`Store::open_home`] gives for `user`.
    pub fn home(&self, user: &str) -> MemoryHome {
        let mut homes = self.homes.lock().unwrap_or_else(PoisonError::into_inner);
        homes.entry(user.to_owned()).or_default().clone()
    }
}

#[async_trait::async_trait]
impl Store for MemoryStore {
    /// The home is found by the user's name alone: the path of a home on the disk means
    /// nothing in memory.
    async fn open_home(&self, user: &str, _home: &Path) -> Result<Arc<dyn Home>, StorageError> {
        Ok(Arc::new(self.home(user)))
    }

    async fn expire(&self, ttl: Duration) -> Result<usize, StorageError> {
        let homes: Vec<MemoryHome> = {
            let homes = self.homes.lock().unwrap_or_else(PoisonError::into_inner);
            homes.values().cloned().collect()
        };
        Ok(homes.iter().map(|home| home.expire_partials(ttl)).sum())
    }
}
