//! Command-line syntax of `ftp` (clap derive, every global option also from the environment).
//! Parsing only: [`crate::credentials`] turns these into a key and a password.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// ftp: put and get files on an ftpd server, verified and resumable.
#[derive(Debug, Parser)]
#[command(
    name = "ftp",
    version,
    about,
    long_about = None,
    after_help = "Environment: FTP_CONFIG, FTP_SERVER, FTP_USER, FTP_PASSWORD (the password itself), \
FTP_PASSWORD_FILE, FTP_SECRET_FILE, FTP_FINGERPRINT, FTP_CA_FILE, FTP_KNOWN_SERVERS, \
FTP_INSECURE_PLAINTEXT, FTP_TIMEOUT, and for get FTP_NO_FSYNC. With no password given, ftp \
asks on the terminal.\n\
Server identity: --fingerprint pins the certificate; else --ca-file verifies it against a CA; \
else the first connection records it in the known-servers file and later ones must match.\n\
Exit codes: 0 success, 2 usage, 3 authentication failed, 4 remote path rejected, missing, \
busy or already there, 5 connection failed or lost, 6 integrity check failed, 7 server \
identity changed or not verified, 130 stopped by Ctrl-C or SIGTERM (run the same command to \
resume), 1 other."
)]
pub struct Cli {
    /// Connection and output options.
    #[command(flatten)]
    pub global: GlobalArgs,

    /// Run the commands in FILE, one a line (`-` for standard input), with one login.
    #[arg(short = 'b', long = "batch", value_name = "FILE")]
    pub batch: Option<PathBuf>,

    /// What to do (none, at a terminal: the interactive session).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Options shared by every command.
#[derive(Debug, Clone, Default, Args)]
pub struct GlobalArgs {
    /// Client config file with [defaults] and [servers.NAME] tables (see config/ftp.toml)
    /// [default: $XDG_CONFIG_HOME/ftp/config.toml, else ~/.config/ftp/config.toml].
    #[arg(long, env = "FTP_CONFIG", global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Server address: HOST[:PORT], [IPV6]:PORT, USER@HOST[:PORT] or
    /// ftp://[USER@]HOST[:PORT], or the NAME of a [servers.NAME] table in the config file
    /// [default: 127.0.0.1:2121].
    #[arg(long, env = "FTP_SERVER", global = true, value_name = "ADDR")]
    pub server: Option<String>,

    /// User name [default: the user in --server, else $USER].
    #[arg(long, env = "FTP_USER", global = true, value_name = "NAME")]
    pub user: Option<String>,

    /// Read the password from this file's first line (FTP_PASSWORD gives it directly).
    #[arg(long, env = "FTP_PASSWORD_FILE", global = true, value_name = "FILE")]
    pub password_file: Option<PathBuf>,

    /// The server's shared key file [default: ./ftpd.key, then ~/.config/ftp/secret.key].
    #[arg(long, env = "FTP_SECRET_FILE", global = true, value_name = "FILE")]
    pub secret_file: Option<PathBuf>,

    /// Accept only the server certificate with this SHA-256 fingerprint (`ftpd fingerprint`
    /// prints it: SHA256:<hex>, or hex pairs separated by colons).
    #[arg(long, env = "FTP_FINGERPRINT", global = true, value_name = "SHA256")]
    pub fingerprint: Option<String>,

    /// Verify the server's certificate against this CA (PEM) and the --server host name.
    #[arg(long, env = "FTP_CA_FILE", global = true, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,

    /// Known-servers file for trust on first use [default:
    /// $XDG_CONFIG_HOME/ftp/known_servers, else ~/.config/ftp/known_servers].
    #[arg(long, env = "FTP_KNOWN_SERVERS", global = true, value_name = "FILE")]
    pub known_servers: Option<PathBuf>,

    /// Connect over plain TCP, without TLS (benchmarks only: the server must run with
    /// --insecure-plaintext too; passwords and files cross in clear).
    #[arg(long, env = "FTP_INSECURE_PLAINTEXT", global = true, value_parser = ftp_proto::units::parse_switch)]
    pub insecure_plaintext: bool,

    /// Longest wait for the server to answer, or to take the data being sent, before the
    /// connection counts as lost (and --retries reconnects): 60s, 2m, or seconds.
    #[arg(long, env = "FTP_TIMEOUT", global = true, value_name = "DURATION", value_parser = parse_timeout)]
    pub timeout: Option<std::time::Duration>,

    /// Print one JSON object per result on stdout.
    #[arg(long, global = true)]
    pub json: bool,

    /// No progress output.
    #[arg(long, short, global = true)]
    pub quiet: bool,
}

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List a remote folder (or show one file): type, size, modification time, name.
    Ls {
        /// Remote path, relative to your home ("/" is your home).
        #[arg(default_value = "/")]
        path: String,
        /// List the whole tree beneath PATH, folder by folder, as it streams: each folder once
        /// everything beneath it is listed (deeper folders first, PATH last); with --json, one
        /// object per folder.
        #[arg(short = 'R', long)]
        recursive: bool,
    },
    /// Upload files or a folder (-r): chunked, verified with SHA-256, resumed after any
    /// interruption.
    #[command(
        after_help = "Examples:\n  ftp put photo.png\n  ftp put big.iso backups/2026/big.iso --retries 10\n  ftp put *.log --to logs/ --limit-rate 10M\n  ftp put -r photos backup/"
    )]
    Put(PutArgs),
    /// Download files or a folder (-r): each written to LOCAL.part, resumed after any
    /// interruption, verified with SHA-256, then renamed to LOCAL.
    #[command(
        after_help = "Examples:\n  ftp get photo.png\n  ftp get backups/big.iso /tmp/ --retries 10\n  ftp get 'logs/*.gz' notes.txt --to ./inbox\n  ftp get -r photos ~/Pictures/"
    )]
    Get(GetArgs),
    /// Show a remote path's type, size, modification time and (for a file) SHA-256.
    Stat {
        /// Remote path.
        path: String,
    },
    /// Remove a remote file, link or empty folder (with -r, a whole folder; with --partial, an
    /// unfinished upload).
    Rm {
        /// Remote path.
        path: String,
        /// Remove a folder and everything in it (links inside are removed, never followed;
        /// your home itself is refused).
        #[arg(short = 'r', long)]
        recursive: bool,
        /// Drop your unfinished upload to PATH (see `ftp partials`) instead; "busy" (exit 4)
        /// while an upload is writing it.
        #[arg(long)]
        partial: bool,
    },
    /// List your unfinished uploads: remote path, bytes the server holds of the size, age.
    Partials,
    /// Show what you store on the server (unfinished uploads included), your quota and file
    /// limit, and what is free.
    Df,
    /// Create a remote folder and any missing parents (a folder already there is fine).
    Mkdir {
        /// Remote path.
        path: String,
    },
    /// Rename a remote file, link or folder within your home, atomically.
    #[command(after_help = "Examples:\n  ftp mv draft.txt final.txt\n  ftp mv photo.png albums/")]
    Mv {
        /// Remote path to move (a link is moved as the link).
        src: String,
        /// New remote path; ending in `/` or naming a folder means inside it, under SRC's name.
        /// Its parent folders must exist.
        dst: String,
        /// Replace an existing file at DST (a folder is never replaced).
        #[arg(long)]
        force: bool,
    },
    /// Make DST identical to SRC, one way: the remote side is written with a leading ':'
    /// (`ftp sync photos :backup/photos` uploads, `ftp sync :backup/photos photos` downloads).
    #[command(
        after_help = "Examples:\n  ftp sync photos :backup/photos --delete --dry-run\n  ftp sync :site/www ./www --delete --max-delete 100"
    )]
    Sync(SyncArgs),
    /// Open an interactive session: one login, then a prompt with cd, ls, get, put, mget,
    /// mput and the other commands (`help` lists them).
    #[command(after_long_help = SHELL_HELP)]
    Shell,
}

/// What `ftp shell --help` and its man page add: the session's own commands beside ftp's.
pub const SHELL_HELP: &str = "\
At the prompt, every ftp command runs without the `ftp` word and without logging in again \
(ls, stat, get, put, rm, mkdir, mv, partials, sync, ...), and these run in the session itself:
  cd [PATH]       change the remote current folder (none: back to your home)
  pwd             print the remote current folder
  lcd [PATH]      change the local current folder (none: $HOME)
  lpwd            print the local current folder
  lls [PATH]      list a local folder: type, size, name
  mput PATTERN... upload the local files matching the patterns into the remote folder
  mget PATTERN... download the remote files matching the patterns into the local folder
  help [COMMAND]  list the commands, or show one's help
  exit, quit      end the session (Ctrl-D too)
Remote paths start from the remote folder, local ones from the local one. Tab completes \
commands and remote and local names; history is kept in $XDG_STATE_HOME/ftp/history. \
`ftp -b FILE` (or `-b -`) runs the same lines from a file, stopping at the first failure \
unless the line starts with '-'.";

/// Options of every tree transfer (`put -r`, `get -r`, `sync`).
#[derive(Debug, Clone, Default, Args)]
pub struct TreeArgs {
    /// Compare SHA-256 instead of size and modification time to tell unchanged files.
    #[arg(long)]
    pub checksum: bool,

    /// Send what local symbolic links point to instead of skipping them.
    #[arg(short = 'L', long)]
    pub follow_links: bool,
}

/// `ftp sync` options.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// The folder to copy from (`:PATH` for a remote one).
    pub src: String,

    /// The folder to make identical to SRC (`:PATH` for a remote one).
    pub dst: String,

    /// Remove what SRC does not have from DST.
    #[arg(long)]
    pub delete: bool,

    /// Print what would be done, one line per action, and change nothing.
    #[arg(long, short = 'n')]
    pub dry_run: bool,

    /// Stop before deleting more than N files and folders (nothing is deleted then).
    #[arg(long, value_name = "N")]
    pub max_delete: Option<u64>,

    /// Tree options.
    #[command(flatten)]
    pub tree: TreeArgs,

    /// Times to reconnect and resume after a lost connection (exponential backoff).
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub retries: u32,

    /// Most bytes per second to move, e.g. 500K, 10M, 1G.
    #[arg(long, value_name = "RATE", value_parser = crate::rate::parse_rate)]
    pub limit_rate: Option<u64>,

    /// Skip the fsync before each downloaded file is renamed into place.
    #[arg(long, env = "FTP_NO_FSYNC", value_parser = ftp_proto::units::parse_switch)]
    pub no_fsync: bool,
}

/// `ftp get` options.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// REMOTE [LOCAL], or REMOTE... with --to DIR (`*`, `?` and `[..]` in the last part of a
    /// REMOTE match regular files in its folder, not names starting with '.' unless the
    /// pattern does; a lone REMOTE with a pattern means --to .). LOCAL defaults to the remote
    /// name, here; a LOCAL that is a folder or ends in '/' means inside it.
    #[arg(required = true, value_name = "PATHS")]
    pub paths: Vec<String>,

    /// Local folder for every REMOTE file (it must exist); the command ends with a summary
    /// line.
    #[arg(long, value_name = "DIR")]
    pub to: Option<PathBuf>,

    /// Copy a whole remote folder: REMOTE_DIR [LOCAL] (LOCAL names the copy of the folder
    /// itself [default: its name, here]; ending in '/' means inside that folder).
    #[arg(short = 'r', long)]
    pub recursive: bool,

    /// With -r: compare SHA-256 instead of size and modification time to tell unchanged
    /// files.
    #[arg(long)]
    pub checksum: bool,

    /// Replace a local file that already exists with different content (one that already
    /// holds the remote file's content is left as it is and nothing is downloaded).
    #[arg(long)]
    pub force: bool,

    /// Times to reconnect and resume after a lost connection (exponential backoff).
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub retries: u32,

    /// Most bytes per second to receive, e.g. 500K, 10M, 1G.
    #[arg(long, value_name = "RATE", value_parser = crate::rate::parse_rate)]
    pub limit_rate: Option<u64>,

    /// Skip the fsync before the download is renamed into place: faster, but a power loss
    /// right after may leave the file incomplete.
    #[arg(long, env = "FTP_NO_FSYNC", value_parser = ftp_proto::units::parse_switch)]
    pub no_fsync: bool,
}

/// `ftp put` options.
#[derive(Debug, Args)]
pub struct PutArgs {
    /// LOCAL [REMOTE], or LOCAL... with --to DIR. REMOTE defaults to the local file's name in
    /// your home; a REMOTE ending in '/' is a folder. Missing remote folders are created.
    #[arg(required = true, value_name = "PATHS")]
    pub paths: Vec<PathBuf>,

    /// Remote folder for every LOCAL file.
    #[arg(long, value_name = "DIR")]
    pub to: Option<String>,

    /// Copy a whole folder: DIR [REMOTE] (REMOTE names the copy of the folder itself
    /// [default: its name in your home]; ending in '/' means inside that folder).
    #[arg(short = 'r', long)]
    pub recursive: bool,

    /// Tree options (with -r).
    #[command(flatten)]
    pub tree: TreeArgs,

    /// Replace remote files that already exist with different content (identical content
    /// is left as it is and never sent again).
    #[arg(long)]
    pub force: bool,

    /// Times to reconnect and resume after a lost connection (exponential backoff).
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub retries: u32,

    /// Most bytes per second to send, e.g. 500K, 10M, 1G.
    #[arg(long, value_name = "RATE", value_parser = crate::rate::parse_rate)]
    pub limit_rate: Option<u64>,
}

/// A `--timeout`: a whole number of seconds or a duration such as `90s` or `2m`, at least 1 s.
pub(crate) fn parse_timeout(text: &str) -> Result<std::time::Duration, String> {
    let duration = match text.parse::<u64>() {
        Ok(seconds) => std::time::Duration::from_secs(seconds),
        Err(_) => humantime::parse_duration(text)
            .map_err(|_| format!("{text:?} is not a duration: use seconds (60), or a number with s, m or h (90s, 2m, 1h)"))?,
    };
    if duration < std::time::Duration::from_secs(1) {
        return Err(format!("{text:?} is shorter than the least timeout, 1s"));
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_seconds_or_durations_of_at_least_a_second() {
        let seconds = std::time::Duration::from_secs;
        assert_eq!(parse_timeout("90"), Ok(seconds(90)));
        assert_eq!(parse_timeout("2m"), Ok(seconds(120)));
        assert_eq!(parse_timeout("1s"), Ok(seconds(1)));
        for bad in ["0", "500ms", "soon", "-1", ""] {
            assert!(parse_timeout(bad).is_err(), "{bad:?}");
        }
    }
}
