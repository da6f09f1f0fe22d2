//! `ftpd key add|list|revoke|rotate`: the named client keys, managed in the keys file.
//!
//! `add` and `rotate` write the client's key file (its name and the key, mode 0600, never over
//! an existing file) before the keys file, so a key the client cannot have is never valid; if
//! the keys file then cannot be written, the client's file is removed again. These commands are
//! synchronous, like `ftpd user …`, and print no key.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use ftp_proto::SharedKey;
use ftp_proto::secret::{DEFAULT_KEY_NAME, valid_key_name};

use super::{KeyEntry, Keys, KeysError, LastUsed, PreviousKey, last_used_path};
use crate::cli::KeyCommand;
use crate::config::Config;

/// Runs one `ftpd key …` command; returns what to print on success.
pub fn key(command: KeyCommand, config: &Config) -> Result<String, KeysError> {
    let path = &config.keys;
    let loaded = Keys::load(path)?;
    let is_new = loaded.is_none();
    let mut keys = loaded.unwrap_or_default();
    let now = SystemTime::now();
    match command {
        KeyCommand::Add { name, out, users } => {
            check_name(&name)?;
            if keys.keys.contains_key(&name) {
                return Err(KeysError::Refused(format!(
                    "key {name:?} already exists (issue a new one with `ftpd key rotate {name}`)"
                )));
            }
            for user in &users {
                crate::users::validate_name(user).map_err(KeysError::Refused)?;
            }
            let key = SharedKey::generate()?.with_name(&name);
            let out = out.unwrap_or_else(|| default_out(&name));
            keys.keys.insert(
                name.clone(),
                KeyEntry {
                    key: super::StoredKey(key.clone()),
                    users: users.clone(),
                    created: super::whole_seconds(now),
                    previous: None,
                },
            );
            if is_new {
                eprintln!("ftpd: creating a new keys file {}", path.display());
            }
            write_both(&key, &out, &keys, path)?;
            Ok(format!(
                "added key {name} ({}) to {}; its client key file is {} (mode 0600): give it to that client with --secret-file",
                users_text(&users),
                path.display(),
                out.display()
            ))
        }
        KeyCommand::Revoke { name } => {
            refuse_default(&name, "revoke")?;
            if keys.keys.remove(&name).is_none() {
                return Err(unknown(&name, is_new, path));
            }
            keys.store(path)?;
            Ok(format!(
                "revoked key {name}: new connections with it are refused now, and its open sessions end within seconds"
            ))
        }
        KeyCommand::Rotate { name, grace, out } => {
            refuse_default(&name, "rotate")?;
            let Some(entry) = keys.keys.get_mut(&name) else {
                return Err(unknown(&name, is_new, path));
            };
            let key = SharedKey::generate()?.with_name(&name);
            let out = out.unwrap_or_else(|| default_out(&name));
            let valid_until = super::whole_millis(now + grace);
            let old = std::mem::replace(&mut entry.key, super::StoredKey(key.clone()));
            entry.previous = Some(PreviousKey {
                key: old,
                valid_until,
            });
            entry.created = super::whole_seconds(now);
            write_both(&key, &out, &keys, path)?;
            Ok(format!(
                "rotated key {name}: its new client key file is {} (mode 0600); the old key stays valid until {} ({} from now), then it is refused and its open sessions end",
                out.display(),
                humantime::format_rfc3339_seconds(valid_until),
                humantime::format_duration(grace)
            ))
        }
        KeyCommand::List => Ok(list(&keys, &config.secret_file, path, now)),
    }
}

/// Where a key's client file goes when `--out` is not given: `NAME.key` in the current folder.
fn default_out(name: &str) -> PathBuf {
    PathBuf::from(format!("{name}.key"))
}

/// Writes the client's key file, then the keys file; removes the first if the second fails.
fn write_both(key: &SharedKey, out: &Path, keys: &Keys, path: &Path) -> Result<(), KeysError> {
    super::write_client_key(key, out)?;
    if let Err(error) = keys.store(path) {
        let _ = std::fs::remove_file(out);
        return Err(error);
    }
    Ok(())
}

/// Refuses a name no key can have (and `default`, the shared key file's).
fn check_name(name: &str) -> Result<(), KeysError> {
    if name == DEFAULT_KEY_NAME {
        return Err(KeysError::Refused(format!(
            "{DEFAULT_KEY_NAME:?} is the shared key file's key (ftpd.key, see `ftpd keygen`): choose another name"
        )));
    }
    if !valid_key_name(name) {
        return Err(KeysError::Refused(format!(
            "key name {name:?} refused: use 1 to {} letters, digits, '.', '_' or '-', not starting with '.' or '-'",
            ftp_proto::secret::MAX_KEY_NAME_LEN
        )));
    }
    Ok(())
}

/// Refuses `revoke` or `rotate` of the shared key file's key.
fn refuse_default(name: &str, what: &str) -> Result<(), KeysError> {
    if name == DEFAULT_KEY_NAME {
        return Err(KeysError::Refused(format!(
            "cannot {what} {DEFAULT_KEY_NAME:?}: it is the shared key file (replace it with `ftpd keygen --force`, after which every client of it needs the new file)"
        )));
    }
    Ok(())
}

/// A name that is no key's.
fn unknown(name: &str, is_new: bool, path: &Path) -> KeysError {
    if is_new {
        KeysError::Refused(format!(
            "no key named {name:?}: there is no keys file {} yet",
            path.display()
        ))
    } else {
        KeysError::Refused(format!("no key named {name:?} in {}", path.display()))
    }
}

/// How the users a key may log in as are shown.
fn users_text(users: &[String]) -> String {
    if users.is_empty() {
        "any user".into()
    } else {
        format!("users {}", users.join(","))
    }
}

/// The `key list` table: the shared key file's key first, then the named ones.
fn list(keys: &Keys, secret_file: &Path, path: &Path, now: SystemTime) -> String {
    let used = LastUsed::load(&last_used_path(path));
    let last = |name: &str| {
        used.last_used.get(name).map_or_else(
            || "never".to_owned(),
            |stamp| humantime::format_rfc3339_seconds(stamp.0).to_string(),
        )
    };
    let mut rows = vec![[
        "KEY".to_owned(),
        "USERS".to_owned(),
        "CREATED".to_owned(),
        "LAST USED".to_owned(),
        "NOTE".to_owned(),
    ]];
    rows.push([
        DEFAULT_KEY_NAME.to_owned(),
        "any".to_owned(),
        "-".to_owned(),
        last(DEFAULT_KEY_NAME),
        format!("the shared key file {}", secret_file.display()),
    ]);
    for (name, entry) in &keys.keys {
        let note = match &entry.previous {
            Some(previous) if previous.valid_until > now => format!(
                "rotated; the old key is valid until {}",
                humantime::format_rfc3339_seconds(previous.valid_until)
            ),
            _ => String::new(),
        };
        rows.push([
            name.clone(),
            if entry.users.is_empty() {
                "any".to_owned()
            } else {
                entry.users.join(",")
            },
            humantime::format_rfc3339_seconds(entry.created).to_string(),
            last(name),
            note,
        ]);
    }
    let widths: Vec<usize> = (0..4)
        .map(|column| rows.iter().map(|row| row[column].len()).max().unwrap_or(0))
        .collect();
    rows.iter()
        .map(|row| {
            let mut line = String::new();
            for (column, width) in widths.iter().enumerate() {
                line.push_str(&format!("{:width$}  ", row[column]));
            }
            line.push_str(&row[4]);
            line.trim_end().to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The grace period `rotate` gives when `--grace` is not: 7 days.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(7 * 24 * 3600);
