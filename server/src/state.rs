//! What every session shares: the settings, the shared key, the TLS identity, the
//! authenticator, the root and its internal folders, the upload locks, the login throttle and
//! the shutdown signal.

use std::sync::Arc;

use ftp_proto::SharedKey;

use crate::auth::Authenticator;
use crate::config::Config;
use crate::throttle::LoginThrottle;
use crate::uploads::PathLocks;
use tokio_util::sync::CancellationToken;

/// Read-only state shared by all sessions.
#[derive(Debug)]
pub struct ServerState {
    /// The settings in force.
    pub config: Config,
    /// The key clients must prove they hold.
    pub key: SharedKey,
    /// The certificate connections are accepted with; `None` serves plain TCP
    /// (`insecure_plaintext`).
    pub tls: Option<crate::tls::TlsIdentity>,
    /// Checks logins against the users file.
    pub auth: Authenticator,
    /// Capability handle on the root: homes are opened beneath it and nowhere else.
    pub root: Arc<cap_std::fs::Dir>,
    /// Capability handle on the partial uploads folder (inside the root's internal folder).
    pub partials: Arc<cap_std::fs::Dir>,
    /// Capability handles on the two folders of partials of small files sent whole
    /// ([`crate::uploads::WHOLE_FILE_FOLDERS`]).
    pub whole_partials: [Arc<cap_std::fs::Dir>; 2],
    /// Capability handle on the folder of served files' checkpoint lists.
    pub served: Arc<cap_std::fs::Dir>,
    /// Destinations being uploaded to right now.
    pub locks: Arc<PathLocks>,
    /// Failed logins by client address.
    pub throttle: LoginThrottle,
    /// Cancelled when the server begins a graceful shutdown.
    pub shutdown: CancellationToken,
}
