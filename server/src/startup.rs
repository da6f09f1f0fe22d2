//! Getting a server ready: the shared key and the TLS certificate (generated on first start),
//! the users file (an initial user on first start), the store of the homes (the root folder,
//! created with `dir_mode`, its internal folder always 0700; or, with `storage = "s3"`, the
//! bucket, checked before the server listens), and the authenticator.
//!
//! Everything the user can fix is a [`StartupError`] naming the file and the fix. This module
//! prints nothing; it reports what it created so `main` can tell the person at the terminal.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ftp_proto::{KeyError, Password, SharedKey};

use crate::auth::Authenticator;
use crate::config::s3::{ACCESS_KEY_VARIABLE, CredentialsError, S3Config, SECRET_KEY_VARIABLE};
use crate::config::{Config, Storage};
use crate::jail::INTERNAL_DIR;
use crate::state::ServerState;
use crate::storage::Store;
use crate::users::{Users, UsersError};

/// Name of the user created on first start.
pub const INITIAL_USER: &str = "admin";

/// A reason the server cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The shared key file is unusable.
    #[error("shared key: {0}")]
    Key(#[from] KeyError),
    /// The users file is unusable.
    #[error("{0}")]
    Users(#[from] UsersError),
    /// The keys file is unusable.
    #[error("{0}")]
    Keys(#[from] crate::keys::KeysError),
    /// The TLS certificate or key is unusable.
    #[error("TLS certificate: {0}")]
    Tls(#[from] crate::tls::TlsError),
    /// The root folder cannot be created or opened.
    #[error("root folder {}: {source}", path.display())]
    Root {
        /// The root.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// There are no usable S3 credentials.
    #[error(transparent)]
    S3Credentials(#[from] CredentialsError),
    /// The S3 bucket cannot be used: unreachable, credentials refused, or missing.
    #[error("{0}")]
    S3(String),
}

/// What start-up created, for `main` to announce.
#[derive(Debug, Default)]
pub struct FirstRun {
    /// A new shared key was written to the configured file.
    pub generated_key: bool,
    /// A new self-signed certificate and key were written to the configured files.
    pub generated_cert: bool,
    /// A first user was created, with this random password (shown once, stored hashed).
    pub initial_user: Option<(String, Password)>,
}

/// Prepares the shared state; creates the key, users file and root when missing. The homes
/// are kept where `storage` says: beneath the root on the local disk, or in the S3 bucket
/// (checked here; the root is then neither made nor opened).
pub async fn prepare(config: Config) -> Result<(Arc<ServerState>, FirstRun), StartupError> {
    prepare_parts(config, None).await
}

/// Prepares the shared state as [`prepare`] does (the key and users file created when
/// missing), with the homes kept in `store` instead of beneath the root, which is neither made
/// nor opened.
pub async fn prepare_with_store(
    config: Config,
    store: Arc<dyn Store>,
) -> Result<(Arc<ServerState>, FirstRun), StartupError> {
    prepare_parts(config, Some(store)).await
}

/// What [`prepare`] and [`prepare_with_store`] share: the key, the TLS identity, the users
/// file, then `store` or (`None`) the one the configuration names, and the state around them.
async fn prepare_parts(
    config: Config,
    store: Option<Arc<dyn Store>>,
) -> Result<(Arc<ServerState>, FirstRun), StartupError> {
    let mut first_run = FirstRun::default();
    let key = if config.secret_file.exists() {
        SharedKey::load(&config.secret_file)?
    } else {
        let key = SharedKey::generate()?;
        match key.store(&config.secret_file, false) {
            Ok(()) => {
                first_run.generated_key = true;
                key
            }
            // Another process created it first: use that one.
            Err(KeyError::Exists { .. }) => SharedKey::load(&config.secret_file)?,
            Err(error) => return Err(error.into()),
        }
    };
    let tls = if config.insecure_plaintext {
        None
    } else {
        let tls_config = config.clone();
        let (identity, generated) =
            tokio::task::spawn_blocking(move || crate::tls::load_or_generate(&tls_config))
                .await
                .map_err(|e| crate::tls::TlsError::Setup(e.to_string()))??;
        first_run.generated_cert = generated;
        Some(identity)
    };
    let users_path = config.users.clone();
    first_run.initial_user = tokio::task::spawn_blocking(move || ensure_users(&users_path))
        .await
        .map_err(|e| UsersError::Hash(e.to_string()))??;
    let store = match store {
        Some(store) => store,
        None => configured_store(&config).await?,
    };
    let keys_path = config.keys.clone();
    tokio::task::spawn_blocking(move || crate::keys::check(&keys_path))
        .await
        .map_err(|e| {
            crate::keys::KeysError::Refused(format!("checking the keys file failed: {e}"))
        })??;
    let keys = crate::keys::KeyRing::new(config.keys.clone());
    let auth = Authenticator::new(config.users.clone(), config.max_parallel_logins);
    let throttle = crate::throttle::LoginThrottle::new(
        config.login_failure_delay,
        config.login_failures_before_lockout,
        config.login_lockout,
    );
    let state = ServerState {
        throttle,
        shutdown: tokio_util::sync::CancellationToken::new(),
        config,
        key,
        keys,
        tls,
        auth,
        store,
        locks: Arc::default(),
        limits: crate::user_shared::Registry::default(),
    };
    Ok((Arc::new(state), first_run))
}

/// The store `storage` names.
pub(crate) async fn configured_store(config: &Config) -> Result<Arc<dyn Store>, StartupError> {
    match &config.storage {
        Storage::Local => local_store(config),
        Storage::S3(s3) => s3_store(s3).await,
    }
}

/// The S3 bucket as the store of the homes, with the credentials of the environment or the
/// credentials file; an endpoint, bucket or credentials that cannot be used is an error that
/// says which.
async fn s3_store(s3: &S3Config) -> Result<Arc<dyn Store>, StartupError> {
    let from_env = |name| std::env::var(name).ok();
    let s3 = s3.clone();
    let credentials = tokio::task::spawn_blocking(move || {
        let credentials =
            s3.credentials(from_env(ACCESS_KEY_VARIABLE), from_env(SECRET_KEY_VARIABLE));
        credentials.map(|credentials| s3.settings(credentials))
    })
    .await
    .map_err(|e| StartupError::S3(format!("reading the S3 credentials: {e}")))?;
    let settings = credentials?;
    let store = crate::storage::s3::S3Store::connect(&settings)
        .await
        .map_err(StartupError::S3)?;
    tracing::info!(
        endpoint = settings.endpoint.as_deref().unwrap_or("AWS"),
        bucket = %settings.bucket,
        prefix = %settings.prefix,
        "opened the S3 bucket"
    );
    Ok(Arc::new(store))
}

/// The root on the local disk as the store of the homes: created with its internal folders
/// when missing, and opened.
fn local_store(config: &Config) -> Result<Arc<dyn Store>, StartupError> {
    let root = open_root(&config.root, config.modes.dir)?;
    let store = crate::storage::local::LocalStore::open(root, config.modes, config.disk_reserve)
        .map_err(|source| StartupError::Root {
            path: config.root.join(INTERNAL_DIR),
            source,
        })?;
    Ok(Arc::new(store))
}

/// Checks the users file; when it does not exist, creates it with one user and a random
/// password, which is returned. Blocking (argon2).
fn ensure_users(path: &std::path::Path) -> Result<Option<(String, Password)>, UsersError> {
    if Users::load(path)?.is_some() {
        return Ok(None);
    }
    let password = random_password().map_err(|e| UsersError::Hash(e.to_string()))?;
    let mut users = Users::default();
    users.add(INITIAL_USER, &password, None, false)?;
    match users.store_new(path) {
        Ok(()) => Ok(Some((INITIAL_USER.to_owned(), password))),
        // Another process created it first: that one stands.
        Err(UsersError::Io { source, .. })
            if source.kind() == std::io::ErrorKind::AlreadyExists =>
        {
            Users::load(path).map(|_| None)
        }
        Err(error) => Err(error),
    }
}

/// A random password of 20 characters that are easy to read aloud (~113 bits).
fn random_password() -> Result<Password, KeyError> {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut password = String::with_capacity(20);
    while password.len() < 20 {
        let bytes = ftp_proto::handshake::new_nonce()?;
        // Rejection sampling keeps every character equally likely.
        let limit = (256 / ALPHABET.len() * ALPHABET.len()) as u8;
        for byte in bytes.into_iter().filter(|b| *b < limit) {
            if password.len() == 20 {
                break;
            }
            password.push(ALPHABET[byte as usize % ALPHABET.len()] as char);
        }
    }
    Ok(Password::new(password))
}

/// Creates (when missing, with exactly `mode`) and opens the root folder.
fn open_root(path: &Path, mode: u32) -> Result<cap_std::fs::Dir, StartupError> {
    let error = |source| StartupError::Root {
        path: path.to_path_buf(),
        source,
    };
    // Only the root itself is created: a mistyped parent is an error, not a new tree.
    match std::fs::create_dir(path) {
        Ok(()) => {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(error)?;
            tracing::info!(path = %path.display(), "created the root folder");
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(error(std::io::Error::new(
                e.kind(),
                "its parent folder does not exist (create it first)",
            )));
        }
        Err(e) => return Err(error(e)),
    }
    cap_std::fs::Dir::open_ambient_dir(path, cap_std::ambient_authority()).map_err(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_passwords_are_long_and_differ() {
        let a = random_password().unwrap();
        let b = random_password().unwrap();
        assert_eq!(a.len(), 20);
        assert_ne!(a.expose(), b.expose());
    }

    #[tokio::test]
    async fn first_start_creates_key_users_and_root() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            root: dir.path().join("root"),
            users: dir.path().join("users.toml"),
            secret_file: dir.path().join("key"),
            tls_cert: dir.path().join("cert.pem"),
            tls_key: dir.path().join("cert.key"),
            ..Config::default()
        };
        let (state, first) = prepare(config.clone()).await.unwrap();
        assert!(first.generated_key && first.generated_cert);
        assert!(state.tls.is_some() && config.tls_key.exists());
        let (name, password) = first.initial_user.unwrap();
        let users = Users::load(&config.users).unwrap().unwrap();
        assert!(crate::users::verify_password(
            &password,
            &users.users[&name].password
        ));
        assert!(config.root.is_dir());
        let (_, second) = prepare(config).await.unwrap();
        assert!(!second.generated_key && !second.generated_cert && second.initial_user.is_none());
    }
}
