//! What every session shares: the settings, the shared key, the TLS identity, the
//! authenticator, the store of the homes, the upload locks, the login throttle and
//! the shutdown signal.

use std::sync::Arc;

use ftp_proto::SharedKey;

use crate::auth::Authenticator;
use crate::config::Config;
use crate::storage::Store;
use crate::throttle::LoginThrottle;
use crate::uploads::PathLocks;
use tokio_util::sync::CancellationToken;

/// Read-only state shared by all sessions.
#[derive(Debug)]
pub struct ServerState {
    /// The settings in force.
    pub config: Config,
    /// The key clients must prove they hold: the shared key file's, named `default`.
    pub key: SharedKey,
    /// The named client keys (the keys file, re-read when it changes).
    pub keys: crate::keys::KeyRing,
    /// The certificate connections are accepted with; `None` serves plain TCP
    /// (`insecure_plaintext`).
    pub tls: Option<crate::tls::TlsIdentity>,
    /// Checks logins against the users file.
    pub auth: Authenticator,
    /// Where the homes are kept: the root on the local disk, or any other [`Store`].
    pub store: Arc<dyn Store>,
    /// Destinations being uploaded to right now.
    pub locks: Arc<PathLocks>,
    /// Failed logins by client address.
    pub throttle: LoginThrottle,
    /// What each user's sessions share: their count, the user's rate, the count of their
    /// storage.
    pub limits: crate::user_shared::Registry,
    /// Cancelled when the server begins a graceful shutdown.
    pub shutdown: CancellationToken,
}
