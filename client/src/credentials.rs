//! Where the client's secrets come from: the shared key file, and the password from
//! `--password-file`, `FTP_PASSWORD`, or a hidden prompt on the terminal, in that order.
//!
//! With no password given and no terminal to ask on, the answer is an immediate error naming
//! the ways to give one, never a hang. Secrets stay in types that print as `***`. A password
//! file that group or others can read is refused, as a key file is.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use ftp_proto::{KeyError, Password, SharedKey};

use crate::error::ClientError;

/// Key file looked for in the current folder when none is named (what `ftpd` writes there).
const LOCAL_KEY_FILE: &str = "ftpd.key";

/// Environment variable holding the password itself.
pub const PASSWORD_ENV: &str = "FTP_PASSWORD";

/// How the password will be obtained.
#[derive(Debug)]
pub enum PasswordSource {
    /// Already known (from a file or the environment).
    Given(Password),
    /// Ask on the terminal, hidden.
    Prompt,
}

/// Finds and reads the shared key: `--secret-file`, else `./ftpd.key`, else the user's
/// config folder (`$XDG_CONFIG_HOME/ftp/secret.key` or `~/.config/ftp/secret.key`). Returns
/// the key and the file it came from.
pub fn load_key(named: Option<&Path>) -> Result<(SharedKey, PathBuf), ClientError> {
    if let Some(path) = named {
        return Ok((SharedKey::load(path)?, path.to_path_buf()));
    }
    let mut candidates = vec![PathBuf::from(LOCAL_KEY_FILE)];
    if let Some(config) = config_dir() {
        candidates.push(config.join("ftp").join("secret.key"));
    }
    match candidates.iter().find(|p| p.exists()) {
        Some(path) => Ok((SharedKey::load(path)?, path.clone())),
        None => Err(ClientError::Usage(format!(
            "no shared key: give the server's key file with --secret-file or FTP_SECRET_FILE, or copy it to {} (looked for {})",
            candidates.last().map_or_else(
                || "~/.config/ftp/secret.key".into(),
                |p| p.display().to_string()
            ),
            candidates
                .iter()
                .map(|p| std::path::absolute(p)
                    .unwrap_or_else(|_| p.clone())
                    .display()
                    .to_string())
                .collect::<Vec<_>>()
                .join(" and ")
        ))),
    }
}

/// The user's config folder (`$XDG_CONFIG_HOME`, else `~/.config`).
pub fn config_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))
}

/// The user name: `--user` / `FTP_USER`, else the login name.
pub fn user_name(named: Option<&str>) -> Result<String, ClientError> {
    named
        .map(str::to_owned)
        .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
        .or_else(|| std::env::var("LOGNAME").ok().filter(|u| !u.is_empty()))
        .ok_or_else(|| ClientError::Usage("no user name: give --user or FTP_USER".into()))
}

/// Decides where the password comes from, failing at once when there is no way to get one.
pub fn password_source(file: Option<&Path>) -> Result<PasswordSource, ClientError> {
    if let Some(path) = file {
        // Refused as a key file is: a password file holds a secret too.
        use ftp_proto::files::private_file::{PrivacyError, check_private};
        let exposed = |mode| {
            let why = KeyError::Exposed {
                path: path.to_path_buf(),
                mode,
            };
            ClientError::Local {
                context: "password file".into(),
                source: std::io::Error::new(std::io::ErrorKind::PermissionDenied, why.to_string()),
            }
        };
        match check_private(path) {
            Err(PrivacyError::Exposed(mode)) => return Err(exposed(mode)),
            // A file that cannot be read is reported by the read below.
            Err(PrivacyError::Io(_)) | Ok(()) => {}
        }
        let text = std::fs::read_to_string(path).map_err(|source| ClientError::Local {
            context: format!("cannot read the password file {}", path.display()),
            source,
        })?;
        let line = text.lines().next().unwrap_or_default();
        return checked(Password::new(line.to_owned())).map(PasswordSource::Given);
    }
    if let Ok(password) = std::env::var(PASSWORD_ENV) {
        return checked(Password::new(password)).map(PasswordSource::Given);
    }
    if std::io::stdin().is_terminal() {
        return Ok(PasswordSource::Prompt);
    }
    Err(ClientError::Usage(format!(
        "no password given and no terminal to ask for one: set {PASSWORD_ENV}, or use --password-file FILE (or FTP_PASSWORD_FILE)"
    )))
}

/// The terminal kept from echoing while a typed password is checked: what is typed meanwhile
/// (a password typed again, ahead of a retry prompt) is neither shown nor left for the shell to
/// read once the client exits. Dropped, it discards that input and gives the echo back.
pub struct EchoHeld {
    /// The terminal's settings before.
    saved: rustix::termios::Termios,
}

impl EchoHeld {
    /// Turns the echo of standard input off, if it is a terminal.
    pub fn hold() -> Option<EchoHeld> {
        let stdin = std::io::stdin();
        let saved = rustix::termios::tcgetattr(&stdin).ok()?;
        let mut quiet = saved.clone();
        quiet.local_modes -= rustix::termios::LocalModes::ECHO;
        rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, &quiet).ok()?;
        Some(EchoHeld { saved })
    }
}

impl Drop for EchoHeld {
    fn drop(&mut self) {
        let stdin = std::io::stdin();
        // Best effort: a terminal gone meanwhile has nothing left to restore.
        let _ = rustix::termios::tcflush(&stdin, rustix::termios::QueueSelector::IFlush);
        let _ =
            rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, &self.saved);
    }
}

/// Asks for the password on the terminal without echo.
pub fn prompt(user: &str, server: &str) -> Result<Password, ClientError> {
    let password = rpassword::prompt_password(format!("Password for {user}@{server}: ")).map_err(
        |source| {
            // The prompt left the cursor on its line (Ctrl-D, Ctrl-C): end it first.
            eprintln!();
            match source.kind() {
                std::io::ErrorKind::UnexpectedEof => {
                    ClientError::Usage("no password entered".into())
                }
                // Ctrl-C with a handler of ours (or rustyline's) in place: the read is cut,
                // and the user asked to stop, as the signal would have stopped the process.
                std::io::ErrorKind::Interrupted => {
                    ClientError::Interrupted("stopped at the password prompt".into())
                }
                _ => ClientError::Local {
                    context: "cannot read the password from the terminal".into(),
                    source,
                },
            }
        },
    )?;
    checked(Password::new(password))
}

/// Refuses a password the server would refuse anyway (empty, or over 1 KiB).
fn checked(password: Password) -> Result<Password, ClientError> {
    if password.is_empty() {
        return Err(ClientError::Usage("the password is empty".into()));
    }
    if password.len() > ftp_proto::MAX_PASSWORD_LEN {
        return Err(ClientError::Usage(format!(
            "the password is longer than {} bytes",
            ftp_proto::MAX_PASSWORD_LEN
        )));
    }
    Ok(password)
}
