//! Secrets: the client keys (the shared one, `default`, and named ones) and user passwords.
//!
//! Both types print as `***` through `Debug` and `Display`, and wipe their memory when dropped,
//! so a secret can sit in a logged struct without leaking. Never add a way to print them.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::KeyError;
use crate::files::private_file::{
    PrivacyError, check_private, write_private_file, write_private_file_new,
};

/// Length of the shared key in bytes.
pub const KEY_LEN: usize = 32;

/// A user's password, as typed or as carried in a login message.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(transparent)]
pub struct Password(String);

impl Password {
    /// Wraps a password.
    pub fn new(password: String) -> Self {
        Password(password)
    }

    /// The password's bytes, for hashing or verification only.
    pub fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the password is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// The name of the shared key file's key (`ftpd.key`, written by `ftpd keygen`): what a client
/// whose key file names no key holds, and what a plain `Hello` proves.
pub const DEFAULT_KEY_NAME: &str = "default";

/// Longest key name accepted.
pub const MAX_KEY_NAME_LEN: usize = 64;

/// Whether `name` can name a key: 1 to 64 letters, digits, '.', '_' or '-', not starting with
/// '.' or '-'.
pub fn valid_key_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_KEY_NAME_LEN
        && !name.starts_with(['.', '-'])
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A client key: the key shared by the server and its legitimate clients (used only for the
/// HMAC handshake), and the name the server knows it by.
///
/// On disk it is a file of mode 0600 holding 64 hex digits on a line of their own; a named key
/// (`ftpd key add NAME`) has a `name = NAME` line too, and `#` comment lines are skipped. A file
/// with no name line (today's `ftpd.key`) is the key named [`DEFAULT_KEY_NAME`].
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SharedKey {
    /// The key's bytes.
    bytes: [u8; KEY_LEN],
    /// Its name; `None` for the default key.
    name: Option<String>,
}

impl SharedKey {
    /// Wraps raw key bytes (the default key).
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        SharedKey { bytes, name: None }
    }

    /// The same key under `name` (`default` gives the default key back).
    pub fn with_name(mut self, name: &str) -> Self {
        self.name = (name != DEFAULT_KEY_NAME).then(|| name.to_owned());
        self
    }

    /// A new key from the operating system's random generator.
    pub fn generate() -> Result<Self, KeyError> {
        let mut bytes = [0u8; KEY_LEN];
        getrandom::fill(&mut bytes).map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(SharedKey::from_bytes(bytes))
    }

    /// The key's bytes, for the HMAC only.
    pub fn expose(&self) -> &[u8; KEY_LEN] {
        &self.bytes
    }

    /// The key's name, [`DEFAULT_KEY_NAME`] for a key file that names none.
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or(DEFAULT_KEY_NAME)
    }

    /// Whether this is the default key (a plain `Hello` proves it).
    pub fn is_default(&self) -> bool {
        self.name.is_none()
    }

    /// Parses the text of a key file: 64 hex digits on a line of their own, and optionally a
    /// `name = NAME` line and `#` comment lines; surrounding whitespace allowed.
    pub fn parse(text: &str, path: &Path) -> Result<Self, KeyError> {
        let format_error = || KeyError::Format {
            path: path.to_path_buf(),
            expected: KEY_LEN * 2,
        };
        let mut name = None;
        let mut digits = None;
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(value) = line.strip_prefix("name").map(str::trim_start)
                && let Some(value) = value.strip_prefix('=')
            {
                let value = value.trim().trim_matches('"');
                if name.is_some() || !valid_key_name(value) {
                    return Err(format_error());
                }
                name = Some(value);
                continue;
            }
            if digits.replace(line).is_some() {
                return Err(format_error());
            }
        }
        let mut bytes = [0u8; KEY_LEN];
        hex::decode_to_slice(digits.ok_or_else(format_error)?, &mut bytes)
            .map_err(|_| format_error())?;
        let key = SharedKey::from_bytes(bytes);
        Ok(match name {
            Some(name) => key.with_name(name),
            None => key,
        })
    }

    /// Reads a key file, refusing one that group or others can read.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let io_error = |source| KeyError::Io {
            path: path.to_path_buf(),
            source,
        };
        check_private(path).map_err(|e| match e {
            PrivacyError::Io(source) => io_error(source),
            PrivacyError::Exposed(mode) => KeyError::Exposed {
                path: path.to_path_buf(),
                mode,
            },
        })?;
        let mut text = std::fs::read_to_string(path).map_err(io_error)?;
        let key = Self::parse(&text, path);
        text.zeroize();
        key
    }

    /// The key file's text: the hex digits alone for the default key (as `ftpd keygen` always
    /// wrote it), with a comment and the name line before them for a named key.
    fn file_text(&self) -> String {
        match &self.name {
            None => format!("{}\n", hex::encode(self.bytes)),
            Some(name) => format!(
                "# ftpd client key {name:?}: give it to the client with --secret-file; keep it mode 0600\nname = {name}\n{}\n",
                hex::encode(self.bytes)
            ),
        }
    }

    /// Writes the key as a new file of mode 0600 (through a temporary file and a rename), refusing
    /// to replace an existing file unless `replace` is set.
    pub fn store(&self, path: &Path, replace: bool) -> Result<(), KeyError> {
        let io_error = |source| KeyError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut text = self.file_text();
        let result = if replace {
            write_private_file(path, text.as_bytes())
        } else {
            write_private_file_new(path, text.as_bytes())
        };
        text.zeroize();
        result.map_err(|source| match source.kind() {
            std::io::ErrorKind::AlreadyExists => KeyError::Exists {
                path: path.to_path_buf(),
            },
            _ => io_error(source),
        })
    }
}

impl fmt::Debug for SharedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for SharedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let password = Password::new("hunter2".into());
        assert_eq!(format!("{password:?} {password}"), "*** ***");
        let key = SharedKey::from_bytes([7; KEY_LEN]);
        assert_eq!(format!("{key:?} {key}"), "*** ***");
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Login {
            password: Password,
        }
        assert!(!format!("{:?}", Login { password }).contains("hunter2"));
    }

    #[test]
    fn key_file_round_trips_with_mode_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let key = SharedKey::generate().unwrap();
        key.store(&path, false).unwrap();
        let mode = std::fs::metadata(&path)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0);
        assert_eq!(mode, 0o600);
        let loaded = SharedKey::load(&path).unwrap();
        assert_eq!(loaded.expose(), key.expose());
        assert!(matches!(
            key.store(&path, false),
            Err(KeyError::Exists { .. })
        ));
    }

    #[test]
    fn exposed_key_file_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        std::fs::write(&path, "00".repeat(KEY_LEN)).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            SharedKey::load(&path),
            Err(KeyError::Exposed { mode: 0o644, .. })
        ));
    }

    #[test]
    fn a_named_key_file_round_trips_and_a_plain_one_is_the_default() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("laptop.key");
        let key = SharedKey::generate().unwrap().with_name("laptop");
        key.store(&path, false).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("name = laptop"), "{text}");
        let loaded = SharedKey::load(&path).unwrap();
        assert_eq!((loaded.name(), loaded.expose()), ("laptop", key.expose()));
        assert!(!loaded.is_default());
        let plain = SharedKey::parse(&"ab".repeat(KEY_LEN), &path).unwrap();
        assert!(plain.is_default() && plain.name() == DEFAULT_KEY_NAME);
        let named_default =
            SharedKey::parse(&format!("name = default\n{}", "ab".repeat(KEY_LEN)), &path).unwrap();
        assert!(named_default.is_default());
        // A default key is still written as the bare hex line earlier clients read.
        let default_path = dir.path().join("ftpd.key");
        plain.store(&default_path, false).unwrap();
        assert_eq!(
            std::fs::read_to_string(&default_path).unwrap(),
            format!("{}\n", "ab".repeat(KEY_LEN))
        );
    }

    #[test]
    fn malformed_named_key_text_is_refused() {
        let path = Path::new("k");
        let hex = "ab".repeat(KEY_LEN);
        for text in [
            format!("name = \n{hex}"),
            format!("name = a b\n{hex}"),
            format!("name = x\nname = y\n{hex}"),
            format!("name = x\n{hex}\n{hex}"),
            "name = x\n".to_owned(),
            format!("name = {}\n{hex}", "n".repeat(MAX_KEY_NAME_LEN + 1)),
        ] {
            assert!(SharedKey::parse(&text, path).is_err(), "{text:?}");
        }
    }

    #[test]
    fn key_names() {
        for good in ["laptop", "ci-runner.2", "a", "A_b"] {
            assert!(valid_key_name(good), "{good}");
        }
        for bad in ["", ".x", "-x", "a b", "a/b", "ä", &"n".repeat(65)] {
            assert!(!valid_key_name(bad), "{bad}");
        }
    }

    #[test]
    fn malformed_key_text_is_refused() {
        let path = Path::new("k");
        for text in [
            "",
            "abc",
            &"zz".repeat(KEY_LEN),
            &"0".repeat(KEY_LEN * 2 + 2),
        ] {
            assert!(SharedKey::parse(text, path).is_err(), "{text:?}");
        }
        assert!(SharedKey::parse(&format!("  {}\n", "Ab".repeat(KEY_LEN)), path).is_ok());
    }
}
