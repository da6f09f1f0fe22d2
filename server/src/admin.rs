//! The maintenance commands: `ftpd user add|set|del|list|passwd` and `ftpd keygen`.
//!
//! Passwords come from a hidden prompt typed twice on a terminal, or from the first line of
//! standard input with `--password-stdin`; they are hashed at once and never printed. These
//! commands are synchronous: they run before (or instead of) the async runtime. Each names the
//! users file on stderr when it does not exist yet (`user add` then creates it).

use std::io::{BufRead, IsTerminal};
use std::path::Path;

use ftp_proto::{Password, SharedKey};

use crate::cli::UserCommand;
use crate::config::Config;
use crate::limits;
use crate::users::{self, Users, UsersError};
use ftp_proto::units::exact_bytes;

/// Runs one `ftpd user …` command; returns what to print on success.
pub fn user(command: UserCommand, config: &Config) -> Result<String, UsersError> {
    let path = &config.users;
    let loaded = Users::load(path)?;
    let is_new = loaded.is_none();
    let mut users = loaded.unwrap_or_default();
    let min_length = config.min_password_length;
    if is_new && !matches!(command, UserCommand::Add { .. }) {
        eprintln!("ftpd: no users file {} yet", path.display());
    }
    let message = match command {
        UserCommand::Add {
            name,
            password_stdin,
            home,
            read_only,
            limits,
        } => {
            users::validate_name(&name).map_err(UsersError::Refused)?;
            if users.users.contains_key(&name) {
                return Err(UsersError::Refused(format!(
                    "user {name:?} already exists (change the password with `ftpd user passwd {name}`)"
                )));
            }
            if let Some(home) = home.as_deref().filter(|home| home.starts_with('/')) {
                return Err(UsersError::Refused(format!(
                    "home {home:?} refused: homes are relative to the root {} (give e.g. {:?})",
                    config.root.display(),
                    home.trim_start_matches('/')
                )));
            }
            let password = read_new_password(&name, password_stdin, min_length)?;
            users.add(&name, &password, home, read_only)?;
            users.set_limits(&name, limits.changes())?;
            let account = users.users[&name]
                .account(&name)
                .map_err(UsersError::Refused)?;
            if is_new {
                eprintln!("ftpd: creating a new users file {}", path.display());
            }
            users.store(path)?;
            format!(
                "added user {name} (home {}/{}{}) to {}",
                config.root.display(),
                account.home.display(),
                if read_only { ", read-only" } else { "" },
                path.display()
            )
        }
        UserCommand::Set { name, limits } => {
            let changes = limits.changes();
            if changes.is_empty() {
                return Err(UsersError::Refused(
                    "nothing to change: give --quota, --max-files, --rate, --max-sessions or --expires".into(),
                ));
            }
            users.set_limits(&name, changes)?;
            users.store(path)?;
            let entry = &users.users[&name];
            format!("changed the limits of {name}: {}", limits_text(entry))
        }
        UserCommand::Del { name } => {
            users.remove(&name)?;
            users.store(path)?;
            format!("removed user {name}; their files stay in place")
        }
        UserCommand::Passwd {
            name,
            password_stdin,
        } => {
            if !users.users.contains_key(&name) {
                return Err(UsersError::Refused(format!("no user named {name:?}")));
            }
            let password = read_new_password(&name, password_stdin, min_length)?;
            users.set_password(&name, &password)?;
            users.store(path)?;
            format!("changed the password of {name}")
        }
        UserCommand::List => list(&users, &crate::usage_report::used(config, &users)),
    };
    Ok(message)
}

/// A user's limits in words: `quota 10 GiB, max-files 1000, rate 10 MiB/s, max-sessions 2,
/// expires 2027-01-31`, or `no limits`.
fn limits_text(entry: &users::UserEntry) -> String {
    let mut parts = Vec::new();
    if let Some(quota) = entry.quota {
        parts.push(format!("quota {}", exact_bytes(quota)));
    }
    if let Some(max) = entry.max_files {
        parts.push(format!("max-files {max}"));
    }
    if let Some(rate) = entry.rate {
        parts.push(format!("rate {}", limits::shown_rate(rate)));
    }
    if let Some(max) = entry.max_sessions {
        parts.push(format!("max-sessions {max}"));
    }
    if let Some(expires) = &entry.expires {
        let expired = if entry.is_expired(limits::today()) {
            " (expired)"
        } else {
            ""
        };
        parts.push(format!("expires {expires}{expired}"));
    }
    if parts.is_empty() {
        "no limits".into()
    } else {
        parts.join(", ")
    }
}

/// The `user list` table; `used` holds what each user stores, where it could be counted.
fn list(users: &Users, used: &std::collections::HashMap<String, crate::usage::Usage>) -> String {
    if users.users.is_empty() {
        return "no users (add one with `ftpd user add NAME`)".into();
    }
    let width = users
        .users
        .keys()
        .map(String::len)
        .max()
        .unwrap_or(4)
        .max(4);
    let homes = users
        .users
        .iter()
        .map(|(name, entry)| entry.home.as_deref().unwrap_or(name).len())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut out = format!(
        "{:width$}  {:<10}  {:homes$}  {:<24}  LIMITS",
        "USER", "ACCESS", "HOME", "USED"
    );
    for (name, entry) in &users.users {
        let access = if entry.read_only {
            "read-only"
        } else {
            "read-write"
        };
        let home = entry.home.as_deref().unwrap_or(name);
        let used = match used.get(name) {
            Some(usage) => format!(
                "{}, {}",
                limits::shown_size(usage.bytes),
                ftp_proto::units::files(usage.files)
            ),
            None => "-".into(),
        };
        let limits = limits_text(entry);
        out.push_str(&format!(
            "\n{name:width$}  {access:<10}  {home:homes$}  {used:<24}  {limits}"
        ));
    }
    out
}

/// Gets a new password: typed twice at a hidden prompt, or one line of standard input; at
/// least `min_length` characters (`min_password_length`). At a prompt, a password that is
/// refused (too short, too long) is said so at once and asked again, up to three times, as
/// passwd(1) does, before it is typed a second time.
fn read_new_password(
    name: &str,
    from_stdin: bool,
    min_length: usize,
) -> Result<Password, UsersError> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map_err(|e| {
            UsersError::Refused(format!("cannot read the password from standard input: {e}"))
        })?;
        let password = Password::new(line.trim_end_matches(['\n', '\r']).to_owned());
        acceptable(&password, min_length).map_err(UsersError::Refused)?;
        return Ok(password);
    }
    if !std::io::stdin().is_terminal() {
        return Err(UsersError::Refused(
            "no terminal to ask for a password: pipe it in with --password-stdin".into(),
        ));
    }
    let prompt = |text: &str| {
        rpassword::prompt_password(text)
            .map(Password::new)
            .map_err(|e| UsersError::Refused(format!("cannot read the password: {e}")))
    };
    let mut tries = 0;
    let first = loop {
        let typed = prompt(&format!("New password for {name}: "))?;
        match acceptable(&typed, min_length) {
            Ok(()) => break typed,
            Err(why) if tries < 2 => {
                eprintln!("ftpd: {why}; try again");
                tries += 1;
            }
            Err(why) => return Err(UsersError::Refused(format!("{why}; nothing changed"))),
        }
    };
    let second = prompt("Type it again: ")?;
    if first != second {
        return Err(UsersError::Refused(
            "the two passwords differ; nothing changed".into(),
        ));
    }
    Ok(first)
}

/// Why `password` cannot be used, if it cannot: its form (see [`users::validate_password`]),
/// or fewer than `min_length` characters.
fn acceptable(password: &Password, min_length: usize) -> Result<(), String> {
    users::validate_password(password)?;
    let length =
        std::str::from_utf8(password.expose()).map_or(password.len(), |text| text.chars().count());
    if length < min_length {
        return Err(format!(
            "the password has {length} characters; it needs at least {min_length} characters (config key min_password_length)"
        ));
    }
    Ok(())
}

/// `ftpd keygen`: writes a new shared key (mode 0600).
pub fn keygen(out: &Path, force: bool) -> Result<String, ftp_proto::KeyError> {
    let key = SharedKey::generate()?;
    key.store(out, force)?;
    Ok(format!(
        "wrote a new shared key to {} (mode 0600); give each client a copy (ftp --secret-file)",
        out.display()
    ))
}
