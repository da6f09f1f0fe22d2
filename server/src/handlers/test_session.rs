//! Test support for handler tests: a prepared server state in a temporary folder and a
//! logged-in session of user `alice`, whose home (`root/alice`) exists and is empty.
#![allow(clippy::expect_used)]

use std::sync::Arc;

use super::Session;
use crate::state::ServerState;
use crate::users::Account;

/// The temporary folder (keep it alive), the server's state and alice's session.
pub async fn alice() -> (tempfile::TempDir, Arc<ServerState>, Session) {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = crate::Config {
        root: dir.path().join("root"),
        users: dir.path().join("users.toml"),
        secret_file: dir.path().join("key"),
        insecure_plaintext: true,
        ..crate::Config::default()
    };
    let (state, _) = crate::prepare(config).await.expect("server state");
    std::fs::create_dir(dir.path().join("root/alice")).expect("alice's home");
    let account = Account {
        name: "alice".into(),
        home: "alice".into(),
        read_only: false,
    };
    let session = Session::open(account, &state)
        .await
        .expect("alice's session");
    (dir, state, session)
}
