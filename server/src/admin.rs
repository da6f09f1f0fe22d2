//! The maintenance commands: `ftpd user add|del|list|passwd` and `ftpd keygen`.
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
use crate::users::{self, Users, UsersError};

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
            let entry = users.add(&name, &password, home, read_only)?;
            let account = entry.account(&name).map_err(UsersError::Refused)?;
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
        UserCommand::List => list(&users),
    };
    Ok(message)
}

/// The `user list` table.
fn list(users: &Users) -> String {
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
    let mut out = format!("{:width$}  {:<10}  HOME", "USER", "ACCESS");
    for (name, entry) in &users.users {
        let access = if entry.read_only {
            "read-only"
        } else {
            "read-write"
        };
        let home = entry.home.as_deref().unwrap_or(name);
        out.push_str(&format!("\n{name:width$}  {access:<10}  {home}"));
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
