//! Command-line syntax of `ftpd` (clap derive). Parsing only: values are merged with the config
//! file and checked in [`crate::config`], and each subcommand runs in [`crate::admin`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

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

/// Options that override the config file; each also reads an environment variable. Those only
/// serving uses (`--listen`, `--insecure-plaintext`) go before any subcommand and stay out of
/// the maintenance commands' help; the others may also follow a subcommand.
#[derive(Debug, Clone, Default, Args)]
pub struct SettingsArgs {
    /// Config file [default: config/ftpd.toml when present].
    #[arg(long, env = "FTPD_CONFIG", global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Folder that holds every user's home [default: ./uploads].
    #[arg(long, env = "FTPD_ROOT", global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,

    /// Address to listen on; port 0 picks a free port [default: 127.0.0.1:2121].
    #[arg(long, env = "FTPD_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,

    /// Users file (argon2id hashes, mode 0600) [default: ./ftpd-users.toml].
    #[arg(long, env = "FTPD_USERS", global = true, value_name = "FILE")]
    pub users: Option<PathBuf>,

    /// Shared client key (mode 0600; generated when missing) [default: ./ftpd.key].
    #[arg(long, env = "FTPD_SECRET_FILE", global = true, value_name = "FILE")]
    pub secret_file: Option<PathBuf>,

    /// TLS certificate chain (PEM), with --tls-key [default: ./ftpd-cert.pem, self-signed,
    /// generated when missing].
    #[arg(long, env = "FTPD_TLS_CERT", global = true, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,

    /// TLS private key (PEM, mode 0600), with --tls-cert [default: ./ftpd-cert.key].
    #[arg(long, env = "FTPD_TLS_KEY", global = true, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,

    /// Serve plain TCP without TLS (benchmarks only: passwords and files cross in clear, and
    /// only clients run with --insecure-plaintext can connect).
    #[arg(long, env = "FTPD_INSECURE_PLAINTEXT", value_parser = ftp_proto::units::parse_switch)]
    pub insecure_plaintext: bool,
}

/// Maintenance commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Manage the users allowed to log in.
    #[command(subcommand)]
    User(UserCommand),
    /// Write a new shared client key.
    Keygen {
        /// Where to write the key [default: the configured secret file].
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Replace an existing key file (every client then needs the new key).
        #[arg(long)]
        force: bool,
    },
    /// Print the SHA-256 fingerprint of the server's TLS certificate (generating the
    /// self-signed one first if it does not exist yet), for clients to pin with --fingerprint.
    Fingerprint,
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
    },
    /// Remove a user (their files stay on disk).
    Del {
        /// User name.
        name: String,
    },
    /// List users, their homes and permissions.
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
