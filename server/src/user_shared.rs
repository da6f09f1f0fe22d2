//! What every session of one user shares while any is open ([`Registry`]): the count of open
//! sessions (`max_sessions`), one pacer each way for the user's `rate` across all their
//! sessions, and the last count of what the user stores (for the quota, [`crate::usage`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use crate::limits::SharedPacer;
use crate::usage::UsageCache;

/// What all sessions of one user share while any is open.
#[derive(Debug, Default)]
pub struct UserShared {
    /// Sessions open now.
    sessions: Mutex<u32>,
    /// Paces the user's uploads (their `rate`).
    pub uploads: SharedPacer,
    /// Paces the user's downloads (their `rate`).
    pub downloads: SharedPacer,
    /// What the user stores, as last counted, and the uploads under way.
    pub usage: Arc<UsageCache>,
}

/// The per-user shares of the users with sessions open (kept while a session holds one).
#[derive(Debug, Default)]
pub struct Registry {
    /// By user name; an entry whose sessions all ended is dropped at the next lookup.
    users: Mutex<HashMap<String, Weak<UserShared>>>,
}

/// A session's place in its user's count; given back when dropped.
#[derive(Debug)]
pub struct SessionSlot {
    /// The user's shared state.
    pub shared: Arc<UserShared>,
}

impl Drop for SessionSlot {
    fn drop(&mut self) {
        if let Ok(mut sessions) = self.shared.sessions.lock() {
            *sessions = sessions.saturating_sub(1);
        }
    }
}

/// Why a session was not let in: the user's sessions already open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManySessions {
    /// The account's `max_sessions`.
    pub max: u32,
}

impl Registry {
    /// The shared state of `user`, made when no session of theirs holds one.
    pub fn shared(&self, user: &str) -> Arc<UserShared> {
        let Ok(mut users) = self.users.lock() else {
            return Arc::default();
        };
        if let Some(shared) = users.get(user).and_then(Weak::upgrade) {
            return shared;
        }
        // Forget users whose sessions all ended, so the map stays as small as those open.
        users.retain(|_, shared| shared.strong_count() > 0);
        let shared = Arc::<UserShared>::default();
        users.insert(user.to_owned(), Arc::downgrade(&shared));
        shared
    }

    /// Counts a new session of `user`, unless `max` are open already.
    pub fn enter(&self, user: &str, max: Option<u32>) -> Result<SessionSlot, TooManySessions> {
        let shared = self.shared(user);
        {
            let Ok(mut sessions) = shared.sessions.lock() else {
                return Err(TooManySessions { max: 0 });
            };
            if let Some(max) = max
                && *sessions >= max
            {
                return Err(TooManySessions { max });
            }
            *sessions += 1;
        }
        Ok(SessionSlot { shared })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_counted_per_user_and_given_back() {
        let registry = Registry::default();
        let one = registry.enter("alice", Some(2)).unwrap();
        let two = registry.enter("alice", Some(2)).unwrap();
        assert_eq!(
            registry.enter("alice", Some(2)).unwrap_err(),
            TooManySessions { max: 2 }
        );
        let bob = registry.enter("bob", Some(1)).unwrap();
        drop(one);
        let three = registry.enter("alice", Some(2)).unwrap();
        assert!(Arc::ptr_eq(&two.shared, &three.shared));
        assert!(!Arc::ptr_eq(&bob.shared, &three.shared));
        drop((two, three, bob));
        assert!(registry.enter("alice", Some(1)).is_ok());
    }
}
