//! Server configuration: embedded defaults, then the TOML config file, then environment
//! variables and flags (clap merges those two), then validation.
//!
//! Every limit is a named value here with a default, documented in `config/ftpd.toml`.
//! Relative paths are taken from the current directory. This module reads no secret; the S3
//! credentials are read at start-up by [`s3::S3Config::credentials`], never from this file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::cli::SettingsArgs;

pub mod s3;

pub use s3::{S3Config, Storage};

/// Default name of the named client keys file (`ftpd key …`), in the users file's folder.
pub const DEFAULT_KEYS_FILE: &str = "ftpd-keys.toml";

/// The keys file that goes with a users file: beside it.
pub fn keys_beside(users: &Path) -> PathBuf {
    users.with_file_name(DEFAULT_KEYS_FILE)
}

/// Config file read when `--config` is not given and the file exists.
pub const DEFAULT_CONFIG_FILE: &str = "config/ftpd.toml";

/// The server's settings, complete and checked.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address the listener binds.
    pub listen: SocketAddr,
    /// Folder holding every home; created when missing.
    pub root: PathBuf,
    /// Users file (TOML, argon2id hashes, mode 0600).
    pub users: PathBuf,
    /// Shared client key file (mode 0600), generated when missing.
    pub secret_file: PathBuf,
    /// Named client keys file (mode 0600; `ftpd key …`), beside the users file unless named.
    pub keys: PathBuf,
    /// TLS certificate chain (PEM).
    pub tls_cert: PathBuf,
    /// TLS private key (PEM, mode 0600).
    pub tls_key: PathBuf,
    /// Neither TLS file was named: a self-signed pair is generated at the default paths when
    /// missing. A named file that is missing is an error instead (never silently replaced).
    pub tls_generate: bool,
    /// Serve plain TCP, no TLS (benchmarks; the client must ask for it too).
    pub insecure_plaintext: bool,
    /// Time a connection has to log in once it proved the key (and longest wait for a
    /// startup slot).
    pub handshake_timeout: Duration,
    /// Time a connection has for its TLS handshake and key proof once it holds a startup slot.
    pub startup_timeout: Duration,
    /// Connections in the TLS handshake and key proof at once, every address together (like
    /// OpenSSH's MaxStartups); more wait for a turn.
    pub max_startups: usize,
    /// Of those, from one address (an IPv6 /64; like OpenSSH's PerSourceMaxStartups).
    pub max_startups_per_address: usize,
    /// Time a logged-in connection may stay silent before it is closed.
    pub idle_timeout: Duration,
    /// Connections served at once; more are answered "busy" and closed.
    pub max_connections: usize,
    /// Failed logins allowed on one connection before it is closed.
    pub max_login_attempts: u32,
    /// Fewest characters `ftpd user add` and `ftpd user passwd` accept in a new password.
    pub min_password_length: usize,
    /// Password verifications (argon2, CPU and memory heavy) running at once.
    pub max_parallel_logins: usize,
    /// fsync an upload's data and folder before it becomes visible (durable against power loss).
    pub fsync: bool,
    /// Partial uploads untouched this long are deleted.
    pub partial_ttl: Duration,
    /// Largest file a client may upload, in bytes.
    pub max_file_size: u64,
    /// Free space kept on the root's file system: an upload that would eat into it is refused
    /// before any data is sent (`None`: 1% of the file system, at most 1 GiB; see [`crate::storage::local::space`]).
    pub disk_reserve: Option<u64>,
    /// Slowest average transfer, in bytes per second from the first data byte, before a
    /// transfer is cut (0: no floor, only `idle_timeout`); told to clients at login, which
    /// refuse a `--limit-rate` below it. See [`crate::rate_floor`].
    pub min_transfer_rate: u64,
    /// How far, in time at `min_transfer_rate`, a transfer may fall behind that pace (and how
    /// far ahead of it counts).
    pub transfer_rate_window: Duration,
    /// Delay added to the answer of each failed login, times the failures so far from that
    /// address.
    pub login_failure_delay: Duration,
    /// Failed logins from one address before it is refused for `login_lockout`.
    pub login_failures_before_lockout: u32,
    /// How long an address that failed too often is refused.
    pub login_lockout: Duration,
    /// Unfinished uploads one user may keep at once.
    pub max_partials_per_user: usize,
    /// On SIGINT/SIGTERM: time given to sessions to finish what they are doing.
    pub shutdown_grace: Duration,
    /// Modes of published files (`file_mode`) and created folders (`dir_mode`).
    pub modes: crate::modes::Modes,
    /// Where the homes are kept: beneath `root` (the default) or in an S3 bucket.
    pub storage: Storage,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], ftp_proto::DEFAULT_PORT)),
            root: PathBuf::from("uploads"),
            users: PathBuf::from("ftpd-users.toml"),
            secret_file: PathBuf::from("ftpd.key"),
            keys: PathBuf::from(DEFAULT_KEYS_FILE),
            tls_cert: PathBuf::from("ftpd-cert.pem"),
            tls_key: PathBuf::from("ftpd-cert.key"),
            tls_generate: true,
            insecure_plaintext: false,
            handshake_timeout: Duration::from_secs(15),
            startup_timeout: Duration::from_secs(5),
            max_startups: 64,
            max_startups_per_address: 8,
            idle_timeout: Duration::from_secs(300),
            max_connections: 256,
            max_login_attempts: 3,
            min_password_length: 8,
            max_parallel_logins: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            fsync: true,
            partial_ttl: Duration::from_secs(24 * 3600),
            max_file_size: 16 << 40,
            disk_reserve: None,
            min_transfer_rate: 1024,
            transfer_rate_window: Duration::from_secs(30),
            login_failure_delay: Duration::from_millis(500),
            login_failures_before_lockout: 10,
            login_lockout: Duration::from_secs(300),
            max_partials_per_user: 32,
            shutdown_grace: Duration::from_secs(10),
            modes: crate::modes::Modes::default(),
            storage: Storage::Local,
        }
    }
}

/// The config file's keys; every one optional, unknown keys refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    root: Option<PathBuf>,
    users: Option<PathBuf>,
    secret_file: Option<PathBuf>,
    keys: Option<PathBuf>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    insecure_plaintext: Option<bool>,
    #[serde(default, with = "humantime_serde")]
    handshake_timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    startup_timeout: Option<Duration>,
    max_startups: Option<usize>,
    max_startups_per_address: Option<usize>,
    #[serde(default, with = "humantime_serde")]
    idle_timeout: Option<Duration>,
    max_connections: Option<usize>,
    max_login_attempts: Option<u32>,
    min_password_length: Option<usize>,
    max_parallel_logins: Option<usize>,
    fsync: Option<bool>,
    #[serde(default, with = "humantime_serde")]
    partial_ttl: Option<Duration>,
    max_file_size: Option<String>,
    disk_reserve: Option<String>,
    min_transfer_rate: Option<String>,
    #[serde(default, with = "humantime_serde")]
    transfer_rate_window: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    login_failure_delay: Option<Duration>,
    login_failures_before_lockout: Option<u32>,
    #[serde(default, with = "humantime_serde")]
    login_lockout: Option<Duration>,
    max_partials_per_user: Option<usize>,
    #[serde(default, with = "humantime_serde")]
    shutdown_grace: Option<Duration>,
    file_mode: Option<String>,
    dir_mode: Option<String>,
    storage: Option<s3::StorageKind>,
    s3: Option<s3::FileS3>,
}

/// A configuration the user can fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The config file is not valid TOML or has unknown keys.
    #[error("config file {}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the parser said, with the line.
        message: String,
    },
    /// A value is out of range or malformed.
    #[error("invalid setting {key}: {message}")]
    Invalid {
        /// The setting's name.
        key: &'static str,
        /// What is wrong with it.
        message: String,
    },
}

impl Config {
    /// Builds the configuration from defaults, the config file, then environment and flags.
    pub fn load(args: &SettingsArgs) -> Result<Config, ConfigError> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None if Path::new(DEFAULT_CONFIG_FILE).exists() => {
                read_file(Path::new(DEFAULT_CONFIG_FILE))?
            }
            None => FileConfig::default(),
        };
        let mut config = Config::default();
        let listen = args.listen.clone().or(file.listen);
        if let Some(listen) = listen {
            config.listen = parse_listen(&listen)?;
        }
        if let Some(root) = args.root.clone().or(file.root) {
            config.root = root;
        }
        if let Some(users) = args.users.clone().or(file.users) {
            config.users = users;
        }
        if let Some(secret) = args.secret_file.clone().or(file.secret_file) {
            config.secret_file = secret;
        }
        config.keys = args
            .keys
            .clone()
            .or(file.keys)
            .unwrap_or_else(|| keys_beside(&config.users));
        let tls_cert = args.tls_cert.clone().or(file.tls_cert);
        let tls_key = args.tls_key.clone().or(file.tls_key);
        match (tls_cert, tls_key) {
            (None, None) => {}
            (Some(cert), Some(key)) => {
                config.tls_cert = cert;
                config.tls_key = key;
                config.tls_generate = false;
            }
            _ => {
                return Err(ConfigError::Invalid {
                    key: "tls_cert",
                    message: "tls_cert and tls_key go together: name both files or neither".into(),
                });
            }
        }
        config.insecure_plaintext =
            args.insecure_plaintext || file.insecure_plaintext.unwrap_or(false);
        if let Some(t) = file.handshake_timeout {
            config.handshake_timeout = t;
        }
        if let Some(t) = file.startup_timeout {
            config.startup_timeout = t;
        }
        if let Some(n) = file.max_startups {
            config.max_startups = n;
        }
        if let Some(n) = file.max_startups_per_address {
            config.max_startups_per_address = n;
        }
        if let Some(t) = file.idle_timeout {
            config.idle_timeout = t;
        }
        if let Some(n) = file.max_connections {
            config.max_connections = n;
        }
        if let Some(n) = file.max_login_attempts {
            config.max_login_attempts = n;
        }
        if let Some(n) = file.min_password_length {
            config.min_password_length = n;
        }
        if let Some(n) = file.max_parallel_logins {
            config.max_parallel_logins = n;
        }
        if let Some(fsync) = file.fsync {
            config.fsync = fsync;
        }
        if let Some(ttl) = file.partial_ttl {
            config.partial_ttl = ttl;
        }
        if let Some(size) = file.max_file_size {
            config.max_file_size =
                ftp_proto::units::parse_bytes(&size).map_err(|message| ConfigError::Invalid {
                    key: "max_file_size",
                    message,
                })?;
        }
        if let Some(size) = file.disk_reserve {
            config.disk_reserve =
                Some(ftp_proto::units::parse_bytes(&size).map_err(|message| {
                    ConfigError::Invalid {
                        key: "disk_reserve",
                        message,
                    }
                })?);
        }
        if let Some(rate) = file.min_transfer_rate {
            config.min_transfer_rate =
                ftp_proto::units::parse_bytes(&rate).map_err(|message| ConfigError::Invalid {
                    key: "min_transfer_rate",
                    message,
                })?;
        }
        if let Some(window) = file.transfer_rate_window {
            config.transfer_rate_window = window;
        }
        if let Some(delay) = file.login_failure_delay {
            config.login_failure_delay = delay;
        }
        if let Some(n) = file.login_failures_before_lockout {
            config.login_failures_before_lockout = n;
        }
        if let Some(lockout) = file.login_lockout {
            config.login_lockout = lockout;
        }
        if let Some(n) = file.max_partials_per_user {
            config.max_partials_per_user = n;
        }
        if let Some(grace) = file.shutdown_grace {
            config.shutdown_grace = grace;
        }
        let mode = |key, text: &str, owner| {
            crate::modes::parse(text, owner)
                .map_err(|message| ConfigError::Invalid { key, message })
        };
        if let Some(text) = file.file_mode {
            config.modes.file = mode("file_mode", &text, 0o600)?;
        }
        if let Some(text) = file.dir_mode {
            config.modes.dir = mode("dir_mode", &text, 0o700)?;
        }
        config.storage = s3::storage(file.storage, file.s3)?;
        config.validate()?;
        Ok(config)
    }

    /// Checks ranges that the types alone do not.
    fn validate(&self) -> Result<(), ConfigError> {
        let positive = |key, value: usize| {
            if value == 0 {
                Err(ConfigError::Invalid {
                    key,
                    message: "must be at least 1".into(),
                })
            } else {
                Ok(())
            }
        };
        positive("max_connections", self.max_connections)?;
        positive("max_startups", self.max_startups)?;
        positive("max_startups_per_address", self.max_startups_per_address)?;
        positive("max_login_attempts", self.max_login_attempts as usize)?;
        positive("max_parallel_logins", self.max_parallel_logins)?;
        positive("min_password_length", self.min_password_length)?;
        positive(
            "login_failures_before_lockout",
            self.login_failures_before_lockout as usize,
        )?;
        positive("max_partials_per_user", self.max_partials_per_user)?;
        for (key, value) in [
            ("handshake_timeout", self.handshake_timeout),
            ("startup_timeout", self.startup_timeout),
            ("idle_timeout", self.idle_timeout),
            ("partial_ttl", self.partial_ttl),
            ("transfer_rate_window", self.transfer_rate_window),
        ] {
            if value.is_zero() {
                return Err(ConfigError::Invalid {
                    key,
                    message: "must be longer than 0s".into(),
                });
            }
        }
        Ok(())
    }
}

/// Reads and parses one config file.
fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Parses a listen address such as `127.0.0.1:2121`, `[::1]:0` or `0.0.0.0:2121`.
fn parse_listen(text: &str) -> Result<SocketAddr, ConfigError> {
    text.parse().map_err(|_| ConfigError::Invalid {
        key: "listen",
        message: format!("{text:?} is not an IP address and port such as 127.0.0.1:2121"),
    })
}

#[cfg(test)]
mod tests;
