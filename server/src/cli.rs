//! Command-line syntax of `ftpd` (clap derive). Parsing only: values are merged with the config
//! file and checked in [`crate::config`], and each subcommand runs in [`crate::admin`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::limits::Setting;
use crate::users::LimitChanges;

/// ftpd: an authenticated, resumable, verified file-transfer server.
#[derive(Debug, Parser)]
#[command(name = "ftpd", version, about, long_about = None)]
pub struct Cli {
    /// Settings that every command shares (they override the config file).
    #[command(flatten)]
    pub settings: SettingsArgs,

    /// Run a maintenance command instead of the server.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Options that override the config file; each also reads an environment variable. All of
/// them go before any subcommand; a maintenance command also takes, after its name, the few it
/// uses ([`UserSettings`], [`KeySettings`], [`CertSettings`]), and its help lists only those.
#[derive(Debug, Clone, Default, Args)]
pub struct SettingsArgs {
    /// Config file [default: config/ftpd.toml when present].
    #[arg(long, env = "FTPD_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Folder that holds every user's home [default: ./uploads].
    #[arg(long, env = "FTPD_ROOT", value_name = "DIR")]
    pub root: Option<PathBuf>,

    /// Address to listen on; port 0 picks a free port [default: 127.0.0.1:2121].
    #[arg(long, env = "FTPD_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,

    /// Users file (argon2id hashes, mode 0600) [default: ./ftpd-users.toml].
    #[arg(long, env = "FTPD_USERS", value_name = "FILE")]
    pub users: Option<PathBuf>,

    /// Shared client key (mode 0600; generated when missing) [default: ./ftpd.key].
    #[arg(long, env = "FTPD_SECRET_FILE", value_name = "FILE")]
    pub secret_file: Option<PathBuf>,

    /// Named client keys file (`ftpd key …`, mode 0600) [default: ftpd-keys.toml beside the
    /// users file].
    #[arg(long, env = "FTPD_KEYS", value_name = "FILE")]
    pub keys: Option<PathBuf>,

    /// TLS certificate chain (PEM), with --tls-key [default: ./ftpd-cert.pem, self-signed,
    /// generated when missing].
    #[arg(long, env = "FTPD_TLS_CERT", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,

    /// TLS private key (PEM, mode 0600), with --tls-cert [default: ./ftpd-cert.key].
    #[arg(long, env = "FTPD_TLS_KEY", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,

    /// Serve plain TCP without TLS (benchmarks only: passwords and files cross in clear, and
    /// only clients run with --insecure-plaintext can connect).
    #[arg(long, env = "FTPD_INSECURE_PLAINTEXT", value_parser = ftp_proto::units::parse_switch)]
    pub insecure_plaintext: bool,
}

/// The settings `ftpd user …` uses, also taken after `user` or its subcommand. Their
/// environment variables are read with [`SettingsArgs`].
#[derive(Debug, Clone, Default, Args)]
pub struct UserSettings {
    /// Config file [default: config/ftpd.toml when present; env: FTPD_CONFIG].
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Folder that holds every user's home [default: ./uploads; env: FTPD_ROOT].
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,

    /// Users file (argon2id hashes, mode 0600) [default: ./ftpd-users.toml; env: FTPD_USERS].
    #[arg(long, global = true, value_name = "FILE")]
    pub users: Option<PathBuf>,

    /// Taken after the subcommand by earlier versions; does nothing here (see [`Cli::unused`]).
    /// Its own id: a value given before `user` is the server's, not this one.
    #[arg(
        long = "secret-file",
        id = "unused_secret_file",
        global = true,
        hide = true
    )]
    pub secret_file: Option<PathBuf>,

    /// As `secret_file`.
    #[arg(long = "tls-cert", id = "unused_tls_cert", global = true, hide = true)]
    pub tls_cert: Option<PathBuf>,

    /// As `secret_file`.
    #[arg(long = "tls-key", id = "unused_tls_key", global = true, hide = true)]
    pub tls_key: Option<PathBuf>,
}

/// The settings `ftpd key …` uses, also taken after `key` or its subcommand. Their environment
/// variables are read with [`SettingsArgs`].
#[derive(Debug, Clone, Default, Args)]
pub struct KeysSettings {
    /// Config file [default: config/ftpd.toml when present; env: FTPD_CONFIG].
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Named client keys file (mode 0600) [default: ftpd-keys.toml beside the users file,
    /// which `ftpd --users FILE key …` names; env: FTPD_KEYS]. (`--users` after `key add` is
    /// the key's users, so the users file is given before `key`.)
    #[arg(long, global = true, value_name = "FILE")]
    pub keys: Option<PathBuf>,
}

/// The settings `ftpd keygen` uses, also taken after `keygen`.
#[derive(Debug, Clone, Default, Args)]
pub struct KeySettings {
    /// Config file [default: config/ftpd.toml when present; env: FTPD_CONFIG].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// The configured shared client key, written unless --out names another file [default:
    /// ./ftpd.key; env: FTPD_SECRET_FILE].
    #[arg(long, value_name = "FILE")]
    pub secret_file: Option<PathBuf>,

    /// Taken after the subcommand by earlier versions; does nothing here (see [`Cli::unused`]).
    #[arg(long, hide = true, value_name = "DIR")]
    pub root: Option<PathBuf>,

    /// As `root`.
    #[arg(long, hide = true, value_name = "FILE")]
    pub users: Option<PathBuf>,

    /// As `root`.
    #[arg(long, hide = true, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,

    /// As `root`.
    #[arg(long, hide = true, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
}

/// The settings `ftpd fingerprint` uses, also taken after `fingerprint`.
#[derive(Debug, Clone, Default, Args)]
pub struct CertSettings {
    /// Config file [default: config/ftpd.toml when present; env: FTPD_CONFIG].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// TLS certificate chain (PEM), with --tls-key [default: ./ftpd-cert.pem, self-signed,
    /// generated when missing; env: FTPD_TLS_CERT].
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,

    /// TLS private key (PEM, mode 0600), with --tls-cert [default: ./ftpd-cert.key; env:
    /// FTPD_TLS_KEY].
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,

    /// Taken after the subcommand by earlier versions; does nothing here (see [`Cli::unused`]).
    #[arg(long, hide = true, value_name = "DIR")]
    pub root: Option<PathBuf>,

    /// As `root`.
    #[arg(long, hide = true, value_name = "FILE")]
    pub users: Option<PathBuf>,

    /// As `root`.
    #[arg(long, hide = true, value_name = "FILE")]
    pub secret_file: Option<PathBuf>,
}

impl Cli {
    /// Flags given after a subcommand that it does not use. Earlier versions took every path
    /// flag after any subcommand, so scripts may still pass them: they are accepted, left out
    /// of the help, and named here so `main` can say they did nothing.
    pub fn unused(&self) -> Vec<&'static str> {
        let given = |flag: &'static str, value: &Option<PathBuf>| value.is_some().then_some(flag);
        match &self.command {
            Some(Command::User { settings, .. }) => [
                given("--secret-file", &settings.secret_file),
                given("--tls-cert", &settings.tls_cert),
                given("--tls-key", &settings.tls_key),
            ]
            .into_iter()
            .flatten()
            .collect(),
            Some(Command::Keygen { settings, .. }) => [
                given("--root", &settings.root),
                given("--users", &settings.users),
                given("--tls-cert", &settings.tls_cert),
                given("--tls-key", &settings.tls_key),
            ]
            .into_iter()
            .flatten()
            .collect(),
            Some(Command::Fingerprint { settings }) => [
                given("--root", &settings.root),
                given("--users", &settings.users),
                given("--secret-file", &settings.secret_file),
            ]
            .into_iter()
            .flatten()
            .collect(),
            Some(Command::Key { .. }) | None => Vec::new(),
        }
    }

    /// The settings in force: those before the subcommand (and the environment), overridden
    /// by those given after it.
    pub fn settings(&self) -> SettingsArgs {
        let mut settings = self.settings.clone();
        let replace = |value: &mut Option<PathBuf>, after: &Option<PathBuf>| {
            if after.is_some() {
                value.clone_from(after);
            }
        };
        match &self.command {
            Some(Command::User {
                settings: after, ..
            }) => {
                replace(&mut settings.config, &after.config);
                replace(&mut settings.root, &after.root);
                replace(&mut settings.users, &after.users);
            }
            Some(Command::Keygen {
                settings: after, ..
            }) => {
                replace(&mut settings.config, &after.config);
                replace(&mut settings.secret_file, &after.secret_file);
            }
            Some(Command::Key {
                settings: after, ..
            }) => {
                replace(&mut settings.config, &after.config);
                replace(&mut settings.keys, &after.keys);
            }
            Some(Command::Fingerprint { settings: after }) => {
                replace(&mut settings.config, &after.config);
                replace(&mut settings.tls_cert, &after.tls_cert);
                replace(&mut settings.tls_key, &after.tls_key);
            }
            None => {}
        }
        settings
    }
}

/// Maintenance commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Manage the users allowed to log in.
    User {
        /// The settings this command uses.
        #[command(flatten)]
        settings: UserSettings,
        /// What to do.
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage the named client keys (one per client machine or script).
    Key {
        /// The settings this command uses.
        #[command(flatten)]
        settings: KeysSettings,
        /// What to do.
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Write a new shared client key.
    Keygen {
        /// The settings this command uses.
        #[command(flatten)]
        settings: KeySettings,
        /// Where to write the key [default: the configured secret file].
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Replace an existing key file (every client then needs the new key).
        #[arg(long)]
        force: bool,
    },
    /// Print the SHA-256 fingerprint of the server's TLS certificate (generating the
    /// self-signed one first if it does not exist yet), for clients to pin with --fingerprint.
    Fingerprint {
        /// The settings this command uses.
        #[command(flatten)]
        settings: CertSettings,
    },
}

/// Per-user limits of `ftpd user add|set`; each is optional, and `none` removes one.
#[derive(Debug, Clone, Default, Args)]
pub struct LimitArgs {
    /// Bytes the user may store, unfinished uploads included: 10GiB, 500M, or none.
    #[arg(long, value_name = "SIZE", value_parser = crate::limits::parse_size)]
    pub quota: Option<Setting<u64>>,
    /// Files the user may store, or none.
    #[arg(long, value_name = "N", value_parser = crate::limits::parse_count)]
    pub max_files: Option<Setting<u64>>,
    /// Bytes per second across all the user's sessions, each way: 10MiB/s, 500K, or none.
    #[arg(long, value_name = "RATE", value_parser = crate::limits::parse_rate)]
    pub rate: Option<Setting<u64>>,
    /// Sessions the user may have open at once, or none.
    #[arg(long, value_name = "N", value_parser = crate::limits::parse_sessions)]
    pub max_sessions: Option<Setting<u32>>,
    /// Refuse the account from this day on (YYYY-MM-DD, UTC), or none.
    #[arg(long, value_name = "DATE", value_parser = crate::limits::parse_expiry)]
    pub expires: Option<Setting<String>>,
}

impl LimitArgs {
    /// The changes these flags ask for.
    pub fn changes(self) -> LimitChanges {
        LimitChanges {
            quota: self.quota,
            max_files: self.max_files,
            rate: self.rate,
            max_sessions: self.max_sessions,
            expires: self.expires,
        }
    }
}

/// `ftpd user …`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user (asks for the password twice on a terminal).
    Add {
        /// User name: letters, digits, '.', '_' or '-', at most 64 bytes.
        name: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// Home folder, relative to the root [default: the user name].
        #[arg(long, value_name = "DIR")]
        home: Option<String>,
        /// The user may list, stat and download, nothing else.
        #[arg(long)]
        read_only: bool,
        /// The user's limits.
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Change a user's limits (each flag takes `none` to remove that limit); open sessions
    /// keep theirs until they log in again.
    Set {
        /// User name.
        name: String,
        /// The limits to change.
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Remove a user (their files stay on disk).
    Del {
        /// User name.
        name: String,
    },
    /// List users, their homes, permissions and limits, with what each stores.
    List,
    /// Change a user's password.
    Passwd {
        /// User name.
        name: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
}

/// `ftpd key …`
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create a key for one client and write the client's key file (never over an existing
    /// file).
    Add {
        /// Key name: letters, digits, '.', '_' or '-', at most 64 bytes (not `default`).
        name: String,
        /// Where to write the client's key file [default: ./NAME.key].
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Only these users may log in with the key [default: any user].
        #[arg(long, value_name = "U1,U2", value_delimiter = ',')]
        users: Vec<String>,
    },
    /// List the keys: name, users, created, last used.
    List,
    /// Revoke a key: refused to new connections at once, its open sessions end within seconds.
    Revoke {
        /// Key name.
        name: String,
    },
    /// Issue a new key for a client, keeping the old one valid for a grace period.
    Rotate {
        /// Key name.
        name: String,
        /// How long the old key stays valid (e.g. 7d, 12h, 30s).
        #[arg(long, value_name = "DUR", default_value = "7d", value_parser = humantime::parse_duration)]
        grace: std::time::Duration,
        /// Where to write the client's new key file [default: ./NAME.key].
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The settings a command line ends up with.
    fn settings(args: &[&str]) -> SettingsArgs {
        let mut line = vec!["ftpd"];
        line.extend_from_slice(args);
        Cli::try_parse_from(line).unwrap().settings()
    }

    #[test]
    fn flags_after_a_subcommand_override_those_before_it() {
        let path = |text: &str| Some(PathBuf::from(text));
        assert_eq!(settings(&["--users", "a", "user", "list"]).users, path("a"));
        assert_eq!(settings(&["user", "list", "--users", "b"]).users, path("b"));
        assert_eq!(settings(&["user", "--users", "b", "list"]).users, path("b"));
        let add = settings(&[
            "--users", "a", "user", "add", "x", "--users", "b", "--root", "r",
        ]);
        assert_eq!((add.users, add.root), (path("b"), path("r")));
        let keygen = settings(&["--config", "c", "keygen", "--secret-file", "k"]);
        assert_eq!((keygen.config, keygen.secret_file), (path("c"), path("k")));
        let cert = settings(&["fingerprint", "--tls-cert", "c", "--tls-key", "k"]);
        assert_eq!((cert.tls_cert, cert.tls_key), (path("c"), path("k")));
        // Before the subcommand, any flag is still taken.
        let before = settings(&["--secret-file", "k", "--tls-cert", "c", "user", "list"]);
        assert_eq!(
            (before.secret_file, before.tls_cert),
            (path("k"), path("c"))
        );
    }

    #[test]
    fn key_add_users_are_the_keys_users_and_the_users_file_goes_before_key() {
        let cli = Cli::try_parse_from([
            "ftpd",
            "--users",
            "f",
            "key",
            "add",
            "ci",
            "--users",
            "alice,bob",
            "--keys",
            "k",
        ])
        .unwrap();
        let settings = cli.settings();
        assert_eq!(settings.users, Some(PathBuf::from("f")));
        assert_eq!(settings.keys, Some(PathBuf::from("k")));
        let Some(Command::Key {
            command: KeyCommand::Add { users, .. },
            ..
        }) = cli.command
        else {
            panic!("not key add: {:?}", cli.command);
        };
        assert_eq!(users, ["alice", "bob"]);
    }

    #[test]
    fn a_path_flag_a_subcommand_does_not_use_is_taken_and_named_as_unused() {
        let parse = |args: &[&str]| {
            let mut line = vec!["ftpd"];
            line.extend_from_slice(args);
            Cli::try_parse_from(line).unwrap()
        };
        assert_eq!(
            parse(&["user", "list", "--secret-file", "k"]).unused(),
            ["--secret-file"]
        );
        assert_eq!(
            parse(&["user", "add", "x", "--tls-cert", "c", "--users", "u"]).unused(),
            ["--tls-cert"]
        );
        assert_eq!(parse(&["keygen", "--users", "u"]).unused(), ["--users"]);
        assert_eq!(parse(&["fingerprint", "--root", "r"]).unused(), ["--root"]);
        assert!(
            parse(&["--secret-file", "k", "user", "list"])
                .unused()
                .is_empty()
        );
        // What only serving uses was never taken after a subcommand.
        let error =
            Cli::try_parse_from(["ftpd", "user", "list", "--listen", "127.0.0.1:0"]).unwrap_err();
        assert_eq!(error.kind(), clap::error::ErrorKind::UnknownArgument);
    }
}
