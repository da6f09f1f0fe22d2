//! The users file: who may log in, their argon2id password hashes, homes and permissions.
//!
//! TOML, one `[users.NAME]` table per user, mode 0600, always rewritten whole through a
//! temporary file and a rename. Only argon2id PHC strings are ever stored: this module hashes
//! every password it is given and never writes or logs one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use argon2::password_hash::phc::Output;
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, PasswordHasher, Version};
use ftp_proto::Password;
use ftp_proto::files::private_file::{
    PrivacyError, read_private, write_private_file, write_private_file_new,
};
use serde::{Deserialize, Serialize};

use crate::jail;
use crate::limits::{self, Limits, Setting};

/// Longest user name accepted.
pub const MAX_NAME_LEN: usize = 64;

/// Header written at the top of every users file.
const HEADER: &str = "# ftpd users: managed by `ftpd user add|set|del|passwd`. Passwords are argon2id hashes.\n\
# Keep this file mode 0600: the server refuses to start otherwise.\n\n";

/// One user as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserEntry {
    /// argon2id PHC string (`$argon2id$v=19$m=…`).
    pub password: String,
    /// Home folder relative to the root; the user name when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home: Option<String>,
    /// May only list, stat and download.
    #[serde(default)]
    pub read_only: bool,
    /// Bytes the user may store, unfinished uploads included (`--quota`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<u64>,
    /// Files the user may store (`--max-files`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_files: Option<u64>,
    /// Bytes per second across all the user's sessions, each way (`--rate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<u64>,
    /// Sessions the user may have open at once (`--max-sessions`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_sessions: Option<u32>,
    /// `YYYY-MM-DD`: the account is refused from the start of that day, UTC (`--expires`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

/// Changes to a user's limits (`ftpd user add|set`): `None` leaves one as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LimitChanges {
    /// `--quota`.
    pub quota: Option<Setting<u64>>,
    /// `--max-files`.
    pub max_files: Option<Setting<u64>>,
    /// `--rate`.
    pub rate: Option<Setting<u64>>,
    /// `--max-sessions`.
    pub max_sessions: Option<Setting<u32>>,
    /// `--expires`.
    pub expires: Option<Setting<String>>,
}

impl LimitChanges {
    /// Whether nothing is to change.
    pub fn is_empty(&self) -> bool {
        *self == LimitChanges::default()
    }
}

/// The whole users file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Users {
    /// Users by name.
    #[serde(default)]
    pub users: BTreeMap<String, UserEntry>,
}

/// A logged-in user: what the session needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// User name.
    pub name: String,
    /// Home folder relative to the root.
    pub home: PathBuf,
    /// May only list, stat and download.
    pub read_only: bool,
    /// The account's limits (quota, files, rate, sessions).
    pub limits: Limits,
}

/// A users file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    /// The file could not be read or written.
    #[error("users file {}: {source}", path.display())]
    Io {
        /// The users file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// Group or others can read the file.
    #[error("users file {} can be read by group or others (mode {mode:04o}); run `chmod 600 {}`", path.display(), path.display())]
    Exposed {
        /// The users file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file is not valid.
    #[error("users file {}: {message}", path.display())]
    Invalid {
        /// The users file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A request about users that cannot be carried out.
    #[error("{0}")]
    Refused(String),
    /// Hashing failed (out of memory, RNG failure).
    #[error("cannot hash the password: {0}")]
    Hash(String),
}

impl UserEntry {
    /// The account this entry describes.
    pub fn account(&self, name: &str) -> Result<Account, String> {
        let home = jail::parse_home(self.home.as_deref().unwrap_or(name))?;
        Ok(Account {
            name: name.to_owned(),
            home,
            read_only: self.read_only,
            limits: self.limits(),
        })
    }

    /// The entry's limits.
    pub fn limits(&self) -> Limits {
        Limits {
            quota: self.quota,
            max_files: self.max_files,
            rate: self.rate,
            max_sessions: self.max_sessions,
        }
    }

    /// Whether the account is expired on day `today` (days since the epoch, UTC).
    pub fn is_expired(&self, today: i64) -> bool {
        self.expires
            .as_deref()
            .is_some_and(|expires| limits::is_expired(expires, today))
    }

    /// Applies `changes` to the entry's limits.
    pub fn apply(&mut self, changes: LimitChanges) {
        if let Some(quota) = changes.quota {
            self.quota = quota.value();
        }
        if let Some(max_files) = changes.max_files {
            self.max_files = max_files.value();
        }
        if let Some(rate) = changes.rate {
            self.rate = rate.value();
        }
        if let Some(max_sessions) = changes.max_sessions {
            self.max_sessions = max_sessions.value();
        }
        if let Some(expires) = changes.expires {
            self.expires = expires.value();
        }
    }
}

impl Users {
    /// Reads the users file, refusing one that group or others can read. A missing file is
    /// reported as `Ok(None)`.
    pub fn load(path: &Path) -> Result<Option<Users>, UsersError> {
        let text = match read_private(path) {
            Ok(None) => return Ok(None),
            Ok(Some(text)) => text,
            Err(PrivacyError::Io(source)) => {
                return Err(UsersError::Io {
                    path: path.to_path_buf(),
                    source,
                });
            }
            Err(PrivacyError::Exposed(mode)) => {
                return Err(UsersError::Exposed {
                    path: path.to_path_buf(),
                    mode,
                });
            }
        };
        let users: Users = toml::from_str(&text).map_err(|e| UsersError::Invalid {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        for (name, entry) in &users.users {
            let invalid = |message: String| UsersError::Invalid {
                path: path.to_path_buf(),
                message: format!("user {name:?}: {message}"),
            };
            validate_name(name).map_err(invalid)?;
            entry.account(name).map_err(invalid)?;
            if !entry.password.starts_with("$argon2id$") {
                return Err(invalid("password is not an argon2id hash".into()));
            }
            if let Some(expires) = &entry.expires {
                limits::date_days(expires).map_err(|e| invalid(format!("expires: {e}")))?;
            }
            if entry.max_sessions == Some(0) {
                return Err(invalid("max_sessions must be at least 1".into()));
            }
        }
        Ok(Some(users))
    }

    /// Writes the users file atomically with mode 0600.
    pub fn store(&self, path: &Path) -> Result<(), UsersError> {
        let text = self.render(path)?;
        write_private_file(path, text.as_bytes()).map_err(|source| UsersError::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Writes the users file only if it does not exist yet (first start).
    pub fn store_new(&self, path: &Path) -> Result<(), UsersError> {
        let text = self.render(path)?;
        write_private_file_new(path, text.as_bytes()).map_err(|source| UsersError::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    /// The file's text: the header, then the TOML.
    fn render(&self, path: &Path) -> Result<String, UsersError> {
        let body = toml::to_string(self).map_err(|e| UsersError::Invalid {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Ok(format!("{HEADER}{body}"))
    }

    /// Adds a new user with a freshly hashed password.
    pub fn add(
        &mut self,
        name: &str,
        password: &Password,
        home: Option<String>,
        read_only: bool,
    ) -> Result<&UserEntry, UsersError> {
        validate_name(name).map_err(UsersError::Refused)?;
        if self.users.contains_key(name) {
            return Err(UsersError::Refused(format!(
                "user {name:?} already exists (change the password with `ftpd user passwd {name}`)"
            )));
        }
        // Store the home as it will be used (`/srv/x` and `srv//x/` both become `srv/x`).
        let home = match home {
            Some(home) => Some(
                jail::parse_home(&home)
                    .map_err(UsersError::Refused)?
                    .to_string_lossy()
                    .into_owned(),
            ),
            None => None,
        };
        jail::parse_home(home.as_deref().unwrap_or(name)).map_err(UsersError::Refused)?;
        let entry = UserEntry {
            password: hash_password(password)?,
            home,
            read_only,
            quota: None,
            max_files: None,
            rate: None,
            max_sessions: None,
            expires: None,
        };
        Ok(self.users.entry(name.to_owned()).or_insert(entry))
    }

    /// Replaces a user's password hash.
    pub fn set_password(&mut self, name: &str, password: &Password) -> Result<(), UsersError> {
        let hash = hash_password(password)?;
        let entry = self
            .users
            .get_mut(name)
            .ok_or_else(|| UsersError::Refused(format!("no user named {name:?}")))?;
        entry.password = hash;
        Ok(())
    }

    /// Changes a user's limits.
    pub fn set_limits(&mut self, name: &str, changes: LimitChanges) -> Result<(), UsersError> {
        let entry = self
            .users
            .get_mut(name)
            .ok_or_else(|| UsersError::Refused(format!("no user named {name:?}")))?;
        entry.apply(changes);
        Ok(())
    }

    /// Removes a user; their files stay where they are.
    pub fn remove(&mut self, name: &str) -> Result<UserEntry, UsersError> {
        self.users
            .remove(name)
            .ok_or_else(|| UsersError::Refused(format!("no user named {name:?}")))
    }
}

/// Checks a user name: 1 to 64 bytes of ASCII letters, digits, `.`, `_`, `-`, not starting
/// with `.` or `-`.
pub fn validate_name(name: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(format!(
            "user name must be 1 to {MAX_NAME_LEN} characters long"
        ));
    }
    if !name.chars().all(allowed) || name.starts_with(['.', '-']) {
        return Err(format!(
            "user name {name:?} refused: use letters, digits, '.', '_' or '-', not starting with '.' or '-'"
        ));
    }
    Ok(())
}

/// Checks a new password's length.
pub fn validate_password(password: &Password) -> Result<(), String> {
    if password.is_empty() {
        return Err("the password is empty".into());
    }
    if password.len() > ftp_proto::MAX_PASSWORD_LEN {
        return Err(format!(
            "the password is longer than {} bytes",
            ftp_proto::MAX_PASSWORD_LEN
        ));
    }
    Ok(())
}

/// Hashes a password with argon2id (the crate's default parameters and a random salt). Slow by
/// design: call it off the async runtime.
pub fn hash_password(password: &Password) -> Result<String, UsersError> {
    validate_password(password).map_err(UsersError::Refused)?;
    Argon2::default()
        .hash_password(password.expose())
        .map(|hash| hash.to_string())
        .map_err(|e| UsersError::Hash(e.to_string()))
}

/// Checks a password against a PHC string in constant time. Slow by design: call it off the
/// async runtime. Any malformed hash simply fails.
pub fn verify_password(password: &Password, hash: &str) -> bool {
    verify_password_in(password, hash, &mut Vec::new())
}

/// [`verify_password`] computing in `work`, a reusable argon2 work area (grown as the hash's
/// parameters need): servers keep a few of these instead of allocating ~19 MiB per login.
pub fn verify_password_in(password: &Password, hash: &str, work: &mut Vec<Block>) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm.as_str()),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(version)) => version,
        Some(Err(_)) => return false,
    };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return false;
    };
    let blocks = params.block_count();
    if work.len() < blocks {
        work.resize(blocks, Block::default());
    }
    let mut output = vec![0u8; expected.len()];
    let computed = Argon2::new(algorithm, version, params).hash_password_into_with_memory(
        password.expose(),
        salt.as_ref(),
        &mut output,
        &mut work[..blocks],
    );
    // `Output` compares in constant time.
    computed.is_ok() && Output::new(&output).is_ok_and(|output| &output == expected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn pw(text: &str) -> Password {
        Password::new(text.into())
    }

    #[test]
    fn users_file_round_trips_with_hashes_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.toml");
        let mut users = Users::default();
        users.add("alice", &pw("s3cret-pass"), None, false).unwrap();
        users
            .add("bob", &pw("other-pass"), Some("team/bob".into()), true)
            .unwrap();
        users.store(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("s3cret-pass") && !text.contains("other-pass"));
        assert_eq!(text.matches("$argon2id$").count(), 2);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let loaded = Users::load(&path).unwrap().unwrap();
        assert_eq!(loaded, users);
        users
            .add("carol", &pw("pw"), Some("/etc//x/".into()), false)
            .unwrap();
        assert_eq!(users.users["carol"].home.as_deref(), Some("etc/x"));
        let bob = loaded.users["bob"].account("bob").unwrap();
        assert_eq!(bob.home, PathBuf::from("team/bob"));
        assert!(bob.read_only);
        assert!(verify_password(
            &pw("s3cret-pass"),
            &loaded.users["alice"].password
        ));
        assert!(!verify_password(
            &pw("s3cret-pasS"),
            &loaded.users["alice"].password
        ));
    }

    #[test]
    fn limits_round_trip_and_old_files_load_without_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.toml");
        // A file written before limits existed.
        let old = "[users.alice]\npassword = \"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA\"\nread_only = false\n";
        std::fs::write(&path, old).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let mut users = Users::load(&path).unwrap().unwrap();
        assert_eq!(users.users["alice"].limits(), Limits::default());
        assert!(!users.users["alice"].is_expired(limits::today()));
        users
            .set_limits(
                "alice",
                LimitChanges {
                    quota: Some(Setting::Set(10 << 30)),
                    max_files: Some(Setting::Set(1000)),
                    rate: Some(Setting::Set(10 << 20)),
                    max_sessions: Some(Setting::Set(2)),
                    expires: Some(Setting::Set("2027-01-31".into())),
                },
            )
            .unwrap();
        users.store(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("quota = 10737418240"), "{text}");
        assert!(text.contains("expires = \"2027-01-31\""), "{text}");
        let loaded = Users::load(&path).unwrap().unwrap();
        assert_eq!(loaded, users);
        let account = loaded.users["alice"].account("alice").unwrap();
        assert_eq!(
            account.limits,
            Limits {
                quota: Some(10 << 30),
                max_files: Some(1000),
                rate: Some(10 << 20),
                max_sessions: Some(2),
            }
        );
        let day = limits::date_days("2027-01-31").unwrap();
        assert!(!loaded.users["alice"].is_expired(day - 1));
        assert!(loaded.users["alice"].is_expired(day));
        // Cleared one by one; others stay.
        users
            .set_limits(
                "alice",
                LimitChanges {
                    quota: Some(Setting::Clear),
                    expires: Some(Setting::Clear),
                    ..LimitChanges::default()
                },
            )
            .unwrap();
        users.store(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains("quota") && !text.contains("expires"),
            "{text}"
        );
        assert!(text.contains("max_files = 1000"), "{text}");
        assert!(users.set_limits("nobody", LimitChanges::default()).is_err());
        // A bad date in the file is an invalid file, not an open account.
        std::fs::write(&path, format!("{old}expires = \"soon\"\n")).unwrap();
        assert!(matches!(
            Users::load(&path),
            Err(UsersError::Invalid { .. })
        ));
    }

    #[test]
    fn bad_names_homes_and_passwords_are_refused() {
        let mut users = Users::default();
        for name in ["", ".hidden", "-x", "a/b", "a b", "é", &"a".repeat(65)] {
            assert!(users.add(name, &pw("pw"), None, false).is_err(), "{name:?}");
        }
        assert!(
            users
                .add("eve", &pw("pw"), Some("../x".into()), false)
                .is_err()
        );
        assert!(users.add("eve", &pw(""), None, false).is_err());
        assert!(
            users
                .add("eve", &pw(&"x".repeat(1025)), None, false)
                .is_err()
        );
        assert!(users.users.is_empty());
        users.add("eve", &pw("pw"), None, false).unwrap();
        assert!(users.add("eve", &pw("pw"), None, false).is_err());
    }

    #[test]
    fn the_example_users_file_has_the_real_format() {
        let users: Users = toml::from_str(include_str!("../../config/users.toml")).unwrap();
        let auditor = users.users["auditor"].account("auditor").unwrap();
        assert!(auditor.read_only);
        assert_eq!(auditor.home, PathBuf::from("shared/reports"));
        assert_eq!(auditor.limits, Limits::default());
        let alice = &users.users["alice"];
        assert_eq!(
            alice.limits(),
            Limits {
                quota: Some(10 << 30),
                max_files: Some(100_000),
                rate: Some(10 << 20),
                max_sessions: Some(4),
            }
        );
        assert_eq!(alice.expires.as_deref(), Some("2027-12-31"));
        // The placeholder hash matches no password.
        assert!(!verify_password(&pw(""), &users.users["alice"].password));
        assert!(!verify_password(
            &pw("alice"),
            &users.users["alice"].password
        ));
    }

    #[test]
    fn exposed_or_plaintext_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.toml");
        assert!(Users::load(&path).unwrap().is_none());
        std::fs::write(&path, "[users.alice]\npassword = \"hunter2\"\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(
            Users::load(&path),
            Err(UsersError::Invalid { .. })
        ));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(matches!(
            Users::load(&path),
            Err(UsersError::Exposed { .. })
        ));
    }
}
