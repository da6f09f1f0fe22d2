//! Secrets: the shared client key and user passwords.
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

/// The key shared by the server and its legitimate clients, used only for the HMAC handshake.
///
/// On disk it is one line of 64 hex digits in a file of mode 0600.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SharedKey([u8; KEY_LEN]);

impl SharedKey {
    /// Wraps raw key bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        SharedKey(bytes)
    }

    /// A new key from the operating system's random generator.
    pub fn generate() -> Result<Self, KeyError> {
        let mut bytes = [0u8; KEY_LEN];
        getrandom::fill(&mut bytes).map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(SharedKey(bytes))
    }

    /// The key's bytes, for the HMAC only.
    pub fn expose(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// Parses the text of a key file: 64 hex digits, surrounding whitespace allowed.
    pub fn parse(text: &str, path: &Path) -> Result<Self, KeyError> {
        let format_error = || KeyError::Format {
            path: path.to_path_buf(),
            expected: KEY_LEN * 2,
        };
        let mut bytes = [0u8; KEY_LEN];
        hex::decode_to_slice(text.trim(), &mut bytes).map_err(|_| format_error())?;
        Ok(SharedKey(bytes))
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

    /// Writes the key as a new file of mode 0600 (through a temporary file and a rename), refusing
    /// to replace an existing file unless `replace` is set.
    pub fn store(&self, path: &Path, replace: bool) -> Result<(), KeyError> {
        let io_error = |source| KeyError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut text = hex::encode(self.0);
        text.push('\n');
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
