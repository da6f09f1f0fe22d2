//! Test support for handler tests: a prepared server state whose homes are in memory, and a
//! logged-in session of user `alice`, whose home exists and is empty; [`Alice`] seeds and looks
//! into that home.
#![allow(clippy::expect_used)]

use std::sync::Arc;

use super::Session;
use crate::jail::RemotePath;
use crate::state::ServerState;
use crate::storage::memory::{MemoryHome, MemoryStore};
use crate::users::Account;

/// Alice's home in the memory store (and the temporary folder of the key and users file).
pub struct Alice {
    /// Holds the key and the users file.
    _dir: tempfile::TempDir,
    /// The home her session opened.
    pub home: MemoryHome,
}

impl Alice {
    /// Puts a file at `path` (its folders made).
    pub fn seed(&self, path: &str, content: &[u8]) {
        self.home
            .put_file(&remote(path), content)
            .expect("seed a file");
    }

    /// The content of the regular file at `path`, if one is there.
    pub fn content(&self, path: &str) -> Option<Vec<u8>> {
        self.home.content(&remote(path)).map(|c| c.to_vec())
    }

    /// Whether anything is at `path`.
    pub fn exists(&self, path: &str) -> bool {
        self.home.exists(&remote(path))
    }
}

/// A checked remote path.
fn remote(text: &str) -> RemotePath {
    RemotePath::parse(text).expect("a test path")
}

/// Alice's home, the server's state and her session.
pub async fn alice() -> (Alice, Arc<ServerState>, Session) {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = crate::Config {
        root: dir.path().join("root"),
        users: dir.path().join("users.toml"),
        secret_file: dir.path().join("key"),
        insecure_plaintext: true,
        ..crate::Config::default()
    };
    let store = Arc::new(MemoryStore::new());
    let home = store.home("alice");
    let (state, _) = crate::startup::prepare_with_store(config, store)
        .await
        .expect("server state");
    let account = Account {
        name: "alice".into(),
        home: "alice".into(),
        read_only: false,
        limits: crate::limits::Limits::default(),
    };
    let slot = state.limits.enter("alice", None).expect("a session slot");
    let session = Session::open(account, slot, &state)
        .await
        .expect("alice's session");
    (Alice { _dir: dir, home }, state, session)
}
