//! The keys file: the named client keys (`ftpd key add|list|revoke|rotate`), each with the
//! users it may log in as, when it was made, and after a rotation the key it replaced with the
//! time that one stays valid until.
//!
//! TOML, one `[keys.NAME]` table per key, mode 0600, always rewritten whole through a temporary
//! file and a rename; the server refuses to start with one that group or others can read, as it
//! does the users file. The key bytes are held in [`SharedKey`]s, which print as `***`: nothing
//! here ever prints or logs one. The key named `default` is the shared key file (`ftpd.key`),
//! never an entry here. When each key was last used is kept apart, in
//! [`last_used_path`] (written by the server, at most once a minute per key), so the server never
//! rewrites the file an operator edits. The server side (checking proofs, watching for revoked
//! keys) is [`ring`]; the commands are [`admin`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use ftp_proto::files::private_file::{PrivacyError, read_private, write_private_file};
use ftp_proto::secret::{DEFAULT_KEY_NAME, KEY_LEN, valid_key_name};
use ftp_proto::{KeyError, SharedKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub mod admin;
pub mod ring;
#[cfg(test)]
mod tests;

pub use ring::{KeyRing, SessionKey};

/// Header written at the top of every keys file.
const HEADER: &str = "# ftpd client keys: managed by `ftpd key add|revoke|rotate`. The keys are secrets.\n\
# Keep this file mode 0600: the server refuses to start otherwise.\n\n";

/// Where the server records when each key was last used: beside the keys file, with
/// `.used.toml` in place of its extension.
pub fn last_used_path(keys: &Path) -> PathBuf {
    keys.with_extension("used.toml")
}

/// A key as stored: 64 hex digits in the file, a [`SharedKey`] in memory.
#[derive(Clone)]
pub struct StoredKey(pub SharedKey);

impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl PartialEq for StoredKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.expose() == other.0.expose()
    }
}

impl Eq for StoredKey {}

impl Serialize for StoredKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut text = hex::encode(self.0.expose());
        let result = serializer.serialize_str(&text);
        zeroize::Zeroize::zeroize(&mut text);
        result
    }
}

impl<'de> Deserialize<'de> for StoredKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut text = String::deserialize(deserializer)?;
        let mut bytes = [0u8; KEY_LEN];
        let decoded = hex::decode_to_slice(text.trim(), &mut bytes);
        zeroize::Zeroize::zeroize(&mut text);
        decoded.map_err(|_| {
            serde::de::Error::custom(format!("a key must be {} hex digits", KEY_LEN * 2))
        })?;
        let key = StoredKey(SharedKey::from_bytes(bytes));
        zeroize::Zeroize::zeroize(&mut bytes);
        Ok(key)
    }
}

/// One named key as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyEntry {
    /// The key (64 hex digits).
    pub key: StoredKey,
    /// The users who may log in with it; empty: any user.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<String>,
    /// When it was made (`key add`) or last rotated.
    #[serde(with = "humantime_serde")]
    pub created: SystemTime,
    /// The key it replaced at its last rotation, while that one is still valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<PreviousKey>,
}

/// A rotated-out key, valid until its grace period ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviousKey {
    /// The old key (64 hex digits).
    pub key: StoredKey,
    /// When it stops being accepted (its open sessions end then too).
    #[serde(with = "humantime_serde")]
    pub valid_until: SystemTime,
}

impl KeyEntry {
    /// Whether the key may log in as `user`.
    pub fn allows(&self, user: &str) -> bool {
        self.users.is_empty() || self.users.iter().any(|u| u == user)
    }

    /// The rotated-out key, if it is still valid at `now`.
    pub fn previous_at(&self, now: SystemTime) -> Option<&SharedKey> {
        self.previous
            .as_ref()
            .filter(|p| p.valid_until > now)
            .map(|p| &p.key.0)
    }
}

/// The whole keys file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Keys {
    /// Keys by name.
    #[serde(default)]
    pub keys: BTreeMap<String, KeyEntry>,
}

/// A keys file that cannot be used, or a key command that cannot be carried out.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// The file could not be read or written.
    #[error("keys file {}: {source}", path.display())]
    Io {
        /// The keys file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// Group or others can read the file.
    #[error("keys file {} can be read by group or others (mode {mode:04o}); run `chmod 600 {}`", path.display(), path.display())]
    Exposed {
        /// The keys file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file is not valid.
    #[error("keys file {}: {message}", path.display())]
    Invalid {
        /// The keys file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A client key file could not be written.
    #[error("{0}")]
    KeyFile(#[from] KeyError),
    /// A request about keys that cannot be carried out.
    #[error("{0}")]
    Refused(String),
}

impl Keys {
    /// Reads the keys file, refusing one that group or others can read. A missing file is
    /// reported as `Ok(None)`.
    pub fn load(path: &Path) -> Result<Option<Keys>, KeysError> {
        let mut text = match read_private(path) {
            Ok(None) => return Ok(None),
            Ok(Some(text)) => text,
            Err(PrivacyError::Io(source)) => {
                return Err(KeysError::Io {
                    path: path.to_path_buf(),
                    source,
                });
            }
            Err(PrivacyError::Exposed(mode)) => {
                return Err(KeysError::Exposed {
                    path: path.to_path_buf(),
                    mode,
                });
            }
        };
        let parsed = Keys::parse(&text).map_err(|message| KeysError::Invalid {
            path: path.to_path_buf(),
            message,
        });
        zeroize::Zeroize::zeroize(&mut text);
        parsed.map(Some)
    }

    /// Parses the text of a keys file and checks every name in it. A parse error names the
    /// line, never quotes a key.
    pub fn parse(text: &str) -> Result<Keys, String> {
        let keys: Keys = toml::from_str(text).map_err(|e| {
            // toml's message quotes the offending line, which may hold a key: keep only what
            // it says and where.
            let place = e
                .span()
                .map(|span| {
                    let line = text[..span.start.min(text.len())].lines().count().max(1);
                    format!(" (line {line})")
                })
                .unwrap_or_default();
            format!("{}{place}", e.message())
        })?;
        for (name, entry) in &keys.keys {
            if !valid_key_name(name) || name == DEFAULT_KEY_NAME {
                return Err(format!("{name:?} cannot name a key"));
            }
            for user in &entry.users {
                crate::users::validate_name(user).map_err(|e| format!("key {name}: {e}"))?;
            }
        }
        Ok(keys)
    }

    /// Writes the whole file through a temporary file and a rename, mode 0600.
    pub fn store(&self, path: &Path) -> Result<(), KeysError> {
        let body = toml::to_string(self).map_err(|e| KeysError::Invalid {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let mut text = format!("{HEADER}{body}");
        let written = write_private_file(path, text.as_bytes());
        zeroize::Zeroize::zeroize(&mut text);
        written.map_err(|source| KeysError::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// When each key was last used, as the server records it ([`last_used_path`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastUsed {
    /// Time of the last proof, by key name.
    #[serde(default)]
    pub last_used: BTreeMap<String, Stamp>,
}

/// A point in time as the last-used file holds it (RFC 3339).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Stamp(#[serde(with = "humantime_serde")] pub SystemTime);

impl LastUsed {
    /// Reads the last-used file; missing or unreadable, it says nothing was used (it is a
    /// record for people, never a reason to refuse anything).
    pub fn load(path: &Path) -> LastUsed {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|text| toml::from_str(&text).ok())
            .unwrap_or_default()
    }

    /// Records that `name` was used at `when` (read, changed and written back whole).
    pub fn record(path: &Path, name: &str, when: SystemTime) -> std::io::Result<()> {
        let mut used = LastUsed::load(path);
        used.last_used
            .insert(name.to_owned(), Stamp(whole_seconds(when)));
        let text = toml::to_string(&used).map_err(std::io::Error::other)?;
        let text =
            format!("# ftpd: when each client key was last used (written by the server)\n\n{text}");
        // Not a secret, but kept as private as the keys file it describes.
        write_private_file(path, text.as_bytes())
    }
}

/// `when` without its fraction of a second.
pub fn whole_seconds(when: SystemTime) -> SystemTime {
    let since = when
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    SystemTime::UNIX_EPOCH + Duration::from_secs(since.as_secs())
}

/// `when` to the millisecond.
pub fn whole_millis(when: SystemTime) -> SystemTime {
    let since = when
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let millis = u64::try_from(since.as_millis()).unwrap_or(u64::MAX);
    SystemTime::UNIX_EPOCH + Duration::from_millis(millis)
}

/// Writes a client's key file, never over an existing one.
pub fn write_client_key(key: &SharedKey, path: &Path) -> Result<(), KeysError> {
    key.store(path, false).map_err(KeysError::from)
}

/// Makes sure a keys file can be used (at start-up): absent, or private and valid.
pub fn check(path: &Path) -> Result<(), KeysError> {
    Keys::load(path).map(|_| ())
}
