//! Server configuration: embedded defaults, then the TOML config file, then environment
//! variables and flags (clap merges those two), then validation.
//!
//! Every limit is a named value here with a default, documented in `config/ftpd.toml`.
//! Relative paths are taken from the current directory. This module reads no secret.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::cli::SettingsArgs;

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
    /// TLS certificate chain (PEM).
    pub tls_cert: PathBuf,
    /// TLS private key (PEM, mode 0600).
    pub tls_key: PathBuf,
    /// Neither TLS file was named: a self-signed pair is generated at the default paths when
    /// missing. A named file that is missing is an error instead (never silently replaced).
    pub tls_generate: bool,
    /// Serve plain TCP, no TLS (benchmarks; the client must ask for it too).
    pub insecure_plaintext: bool,
    /// Time a new connection has to prove the key and log in.
    pub handshake_timeout: Duration,
    /// Time a logged-in connection may stay silent before it is closed.
    pub idle_timeout: Duration,
    /// Connections served at once; more are answered "busy" and closed.
    pub max_connections: usize,
    /// Failed logins allowed on one connection before it is closed.
    pub max_login_attempts: u32,
    /// Password verifications (argon2, CPU and memory heavy) running at once.
    pub max_parallel_logins: usize,
    /// fsync an upload's data and folder before it becomes visible (durable against power loss).
    pub fsync: bool,
    /// Partial uploads untouched this long are deleted.
    pub partial_ttl: Duration,
    /// Largest file a client may upload, in bytes.
    pub max_file_size: u64,
    /// Slowest average transfer, in bytes per second over `transfer_rate_window`, before a
    /// transfer is cut (0: no floor, only `idle_timeout`).
    pub min_transfer_rate: u64,
    /// Window over which `min_transfer_rate` is averaged.
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
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], ftp_proto::DEFAULT_PORT)),
            root: PathBuf::from("uploads"),
            users: PathBuf::from("ftpd-users.toml"),
            secret_file: PathBuf::from("ftpd.key"),
            tls_cert: PathBuf::from("ftpd-cert.pem"),
            tls_key: PathBuf::from("ftpd-cert.key"),
            tls_generate: true,
            insecure_plaintext: false,
            handshake_timeout: Duration::from_secs(15),
            idle_timeout: Duration::from_secs(300),
            max_connections: 256,
            max_login_attempts: 3,
            max_parallel_logins: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            fsync: true,
            partial_ttl: Duration::from_secs(24 * 3600),
            max_file_size: 16 << 40,
            min_transfer_rate: 1024,
            transfer_rate_window: Duration::from_secs(30),
            login_failure_delay: Duration::from_millis(500),
            login_failures_before_lockout: 10,
            login_lockout: Duration::from_secs(300),
            max_partials_per_user: 32,
            shutdown_grace: Duration::from_secs(10),
            modes: crate::modes::Modes::default(),
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
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    insecure_plaintext: Option<bool>,
    #[serde(default, with = "humantime_serde")]
    handshake_timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    idle_timeout: Option<Duration>,
    max_connections: Option<usize>,
    max_login_attempts: Option<u32>,
    max_parallel_logins: Option<usize>,
    fsync: Option<bool>,
    #[serde(default, with = "humantime_serde")]
    partial_ttl: Option<Duration>,
    max_file_size: Option<String>,
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
        if let Some(t) = file.idle_timeout {
            config.idle_timeout = t;
        }
        if let Some(n) = file.max_connections {
            config.max_connections = n;
        }
        if let Some(n) = file.max_login_attempts {
            config.max_login_attempts = n;
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
        positive("max_login_attempts", self.max_login_attempts as usize)?;
        positive("max_parallel_logins", self.max_parallel_logins)?;
        positive(
            "login_failures_before_lockout",
            self.login_failures_before_lockout as usize,
        )?;
        positive("max_partials_per_user", self.max_partials_per_user)?;
        for (key, value) in [
            ("handshake_timeout", self.handshake_timeout),
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
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_file_which_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ftpd.toml");
        std::fs::write(
            &file,
            "root = \"/srv/files\"\nlisten = \"127.0.0.1:9000\"\nhandshake_timeout = \"2s\"\n",
        )
        .unwrap();
        let args = SettingsArgs {
            config: Some(file),
            listen: Some("[::1]:0".into()),
            ..Default::default()
        };
        let config = Config::load(&args).unwrap();
        assert_eq!(config.root, PathBuf::from("/srv/files"));
        assert_eq!(config.listen, "[::1]:0".parse().unwrap());
        assert_eq!(config.handshake_timeout, Duration::from_secs(2));
        assert_eq!(config.users, PathBuf::from("ftpd-users.toml"));
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ftpd.toml");
        let load = |text: &str| {
            std::fs::write(&file, text).unwrap();
            Config::load(&SettingsArgs {
                config: Some(file.clone()),
                ..Default::default()
            })
            .unwrap_err()
            .to_string()
        };
        assert!(load("rooot = \"x\"\n").contains("rooot"));
        assert!(load("max_connections = 0\n").contains("max_connections"));
        assert!(load("listen = \"localhost\"\n").contains("listen"));
        assert!(load("idle_timeout = \"soon\"\n").contains("idle_timeout"));
        assert!(load("max_file_size = \"lots\"\n").contains("max_file_size"));
        assert!(load("tls_cert = \"cert.pem\"\n").contains("tls_key"));
        assert!(load("file_mode = \"0400\"\n").contains("file_mode"));
        assert!(load("dir_mode = \"04755\"\n").contains("dir_mode"));
        assert!(load("dir_mode = 700\n").contains("dir_mode"));
    }

    #[test]
    fn modes_are_read_from_the_file_in_octal() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ftpd.toml");
        std::fs::write(&file, "file_mode = \"0640\"\ndir_mode = \"0o750\"\n").unwrap();
        let args = SettingsArgs {
            config: Some(file),
            ..Default::default()
        };
        let config = Config::load(&args).unwrap();
        assert_eq!((config.modes.file, config.modes.dir), (0o640, 0o750));
    }

    #[test]
    fn named_tls_files_are_never_generated_and_plaintext_is_off_by_default() {
        let defaults = Config::load(&SettingsArgs {
            config: Some(PathBuf::from("/dev/null")),
            ..Default::default()
        })
        .unwrap();
        assert!(defaults.tls_generate && !defaults.insecure_plaintext);
        let named = Config::load(&SettingsArgs {
            config: Some(PathBuf::from("/dev/null")),
            tls_cert: Some("c.pem".into()),
            tls_key: Some("k.pem".into()),
            insecure_plaintext: true,
            ..Default::default()
        })
        .unwrap();
        assert!(!named.tls_generate && named.insecure_plaintext);
        assert_eq!(named.tls_cert, PathBuf::from("c.pem"));
    }

    /// The shipped example, with every `# key = value` line uncommented.
    fn example_with_every_key_set() -> String {
        let text = include_str!("../../config/ftpd.toml");
        text.lines()
            .filter_map(|line| line.strip_prefix("# "))
            .filter(|line| {
                line.split_once(" = ")
                    .is_some_and(|(key, _)| key.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
            })
            .map(|line| format!("{line}\n"))
            .collect()
    }

    #[test]
    fn the_example_config_documents_every_key_with_its_default() {
        let example = example_with_every_key_set();
        let file: FileConfig = toml::from_str(&example).unwrap();
        let defaults = Config::default();
        assert_eq!(file.listen.as_deref(), Some("127.0.0.1:2121"));
        assert_eq!(file.root, Some(defaults.root));
        assert_eq!(file.users, Some(defaults.users));
        assert_eq!(file.secret_file, Some(defaults.secret_file));
        assert_eq!(file.tls_cert, Some(defaults.tls_cert));
        assert_eq!(file.tls_key, Some(defaults.tls_key));
        assert_eq!(file.insecure_plaintext, Some(defaults.insecure_plaintext));
        assert_eq!(file.handshake_timeout, Some(defaults.handshake_timeout));
        assert_eq!(file.idle_timeout, Some(defaults.idle_timeout));
        assert_eq!(file.max_connections, Some(defaults.max_connections));
        assert_eq!(file.max_login_attempts, Some(defaults.max_login_attempts));
        assert!(file.max_parallel_logins.is_some());
        assert_eq!(file.fsync, Some(defaults.fsync));
        assert_eq!(file.partial_ttl, Some(defaults.partial_ttl));
        let max = ftp_proto::units::parse_bytes(&file.max_file_size.unwrap()).unwrap();
        assert_eq!(max, defaults.max_file_size);
        let floor = ftp_proto::units::parse_bytes(&file.min_transfer_rate.unwrap()).unwrap();
        assert_eq!(floor, defaults.min_transfer_rate);
        assert_eq!(
            file.transfer_rate_window,
            Some(defaults.transfer_rate_window)
        );
        assert_eq!(file.login_failure_delay, Some(defaults.login_failure_delay));
        assert_eq!(
            file.login_failures_before_lockout,
            Some(defaults.login_failures_before_lockout)
        );
        assert_eq!(file.login_lockout, Some(defaults.login_lockout));
        assert_eq!(
            file.max_partials_per_user,
            Some(defaults.max_partials_per_user)
        );
        assert_eq!(file.shutdown_grace, Some(defaults.shutdown_grace));
        let file_mode = crate::modes::parse(&file.file_mode.unwrap(), 0o600).unwrap();
        let dir_mode = crate::modes::parse(&file.dir_mode.unwrap(), 0o700).unwrap();
        assert_eq!(
            (file_mode, dir_mode),
            (defaults.modes.file, defaults.modes.dir)
        );
        // With everything commented out, as shipped, the file changes nothing.
        let shipped: FileConfig = toml::from_str(include_str!("../../config/ftpd.toml")).unwrap();
        assert!(shipped.listen.is_none() && shipped.root.is_none());
    }

    #[test]
    fn a_missing_named_config_file_is_an_error() {
        let args = SettingsArgs {
            config: Some(PathBuf::from("/nonexistent/ftpd.toml")),
            ..Default::default()
        };
        assert!(matches!(Config::load(&args), Err(ConfigError::Read { .. })));
    }
}
