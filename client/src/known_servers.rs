//! The known-servers file, like ssh's known_hosts: one `HOST:PORT SHA256:<hex>` line per server
//! the user has connected to, written on the first connection (trust on first use) and checked
//! on every later one. Lines starting with `#`, blank lines and lines that do not parse are
//! skipped (and kept as they are).
//!
//! This module only reads and appends the file; deciding what a mismatch means is the
//! verifier's job, and the file is never rewritten: a changed server stays refused until the
//! user removes its line.
//!
//! The file is opened without following a link at its name (a link there is refused, so a
//! planted link can neither feed it other fingerprints nor make it append elsewhere), and must
//! be a regular file owned by this user. A new file is created 0600, its folders 0700.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use ftp_proto::tls::Fingerprint;

use crate::error::ClientError;

/// What the file says about one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Known {
    /// No line for it yet.
    Unknown,
    /// Recorded with this fingerprint on this line (1-based).
    Recorded {
        /// The fingerprint recorded.
        fingerprint: Fingerprint,
        /// Its line in the file.
        line: usize,
    },
}

/// The known-servers file.
#[derive(Debug, Clone)]
pub struct KnownServers {
    /// Where it is (it may not exist yet).
    pub path: PathBuf,
}

/// The file's first line when ftp creates it.
const HEADER: &str = "# ftp known servers: HOST:PORT and the SHA-256 of its TLS certificate, one per line.\n# Written on the first connection to a server; remove a line to accept a changed certificate.\n";

impl KnownServers {
    /// The file named by `--known-servers` / `FTP_KNOWN_SERVERS`, else the default one in the
    /// user's config folder.
    pub fn locate(named: Option<&Path>) -> Result<Self, ClientError> {
        let path = match named {
            Some(path) => path.to_path_buf(),
            None => crate::credentials::config_dir()
                .map(|dir| dir.join("ftp").join("known_servers"))
                .ok_or_else(|| {
                    ClientError::Usage(
                        "no place for the known-servers file: set HOME, XDG_CONFIG_HOME or FTP_KNOWN_SERVERS, or pin the server with --fingerprint".into(),
                    )
                })?,
        };
        Ok(KnownServers { path })
    }

    /// What the file says about `server` (`HOST:PORT`); a missing file knows nothing.
    pub fn lookup(&self, server: &str) -> Result<Known, ClientError> {
        let error = |source| ClientError::Local {
            context: format!("cannot read {}", self.path.display()),
            source,
        };
        let mut file = match self.open(OpenOptions::new().read(true)) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Known::Unknown),
            Err(source) => return Err(error(source)),
        };
        let mut text = String::new();
        file.read_to_string(&mut text).map_err(error)?;
        Ok(find(&text, server))
    }

    /// Appends a line for `server`, creating the file (and its folder) when missing.
    pub fn record(&self, server: &str, fingerprint: &Fingerprint) -> Result<(), ClientError> {
        let error = |source| ClientError::Local {
            context: format!("cannot record the server in {}", self.path.display()),
            source,
        };
        if let Some(folder) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(folder)
                .map_err(error)?;
        }
        let mut file = self
            .open(OpenOptions::new().create(true).append(true).mode(0o600))
            .map_err(error)?;
        let empty = file.metadata().map(|m| m.len() == 0).unwrap_or(false);
        let mut text = if empty {
            HEADER.to_owned()
        } else {
            String::new()
        };
        text.push_str(&format!("{server} {fingerprint}\n"));
        // One write of the whole text, so two clients appending at once never interleave.
        file.write_all(text.as_bytes()).map_err(error)
    }
}

impl KnownServers {
    /// Opens the file with `options`, never through a link; it must be a regular file of
    /// this user.
    fn open(&self, options: &mut OpenOptions) -> std::io::Result<File> {
        let flags = rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK;
        let file = options
            .custom_flags(i32::try_from(flags.bits()).unwrap_or(0))
            .open(&self.path)
            .map_err(|e| {
                if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
                    std::io::Error::other("it is a symbolic link (give the real file)")
                } else {
                    e
                }
            })?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(std::io::Error::other("it is not a regular file"));
        }
        if meta.uid() != rustix::process::geteuid().as_raw() {
            return Err(std::io::Error::other("it belongs to another user"));
        }
        Ok(file)
    }
}

/// The first line about `server` in the file's text.
fn find(text: &str, server: &str) -> Known {
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let mut fields = line.split_whitespace();
        let (Some(host), Some(fingerprint)) = (fields.next(), fields.next()) else {
            continue;
        };
        if host != server {
            continue;
        }
        if let Ok(fingerprint) = fingerprint.parse() {
            return Known::Recorded {
                fingerprint,
                line: index + 1,
            };
        }
    }
    Known::Unknown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_server_is_found_on_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let known = KnownServers {
            path: dir.path().join("sub/known_servers"),
        };
        let (a, b) = (Fingerprint::of(b"a"), Fingerprint::of(b"b"));
        assert_eq!(known.lookup("h:1").unwrap(), Known::Unknown);
        known.record("h:1", &a).unwrap();
        known.record("h:2", &b).unwrap();
        let text = std::fs::read_to_string(&known.path).unwrap();
        assert!(text.starts_with("# ftp known servers"), "{text}");
        let first = HEADER.lines().count() + 1;
        assert_eq!(
            known.lookup("h:1").unwrap(),
            Known::Recorded {
                fingerprint: a,
                line: first
            }
        );
        assert_eq!(
            known.lookup("h:2").unwrap(),
            Known::Recorded {
                fingerprint: b,
                line: first + 1
            }
        );
        assert_eq!(known.lookup("h:3").unwrap(), Known::Unknown);
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&known.path), 0o600);
        assert_eq!(mode(known.path.parent().unwrap()), 0o700);
    }

    #[test]
    fn a_planted_link_is_neither_read_nor_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "h:1 SHA256:00\n").unwrap();
        let known = KnownServers {
            path: dir.path().join("known_servers"),
        };
        std::os::unix::fs::symlink(&victim, &known.path).unwrap();
        let error = known.lookup("h:1").unwrap_err().to_string();
        assert!(error.contains("symbolic link"), "{error}");
        assert!(known.record("h:2", &Fingerprint::of(b"x")).is_err());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "h:1 SHA256:00\n");
        std::fs::remove_file(&known.path).unwrap();
        std::os::unix::fs::symlink(dir.path().join("none"), &known.path).unwrap();
        assert!(known.record("h:2", &Fingerprint::of(b"x")).is_err());
        assert!(!dir.path().join("none").exists());
    }

    #[test]
    fn comments_and_broken_lines_are_skipped() {
        let good = Fingerprint::of(b"good");
        let text = format!("# h:1 {good}\nh:1\nh:1 SHA256:zz\n\nh:1 {good} trailing\n");
        assert_eq!(
            find(&text, "h:1"),
            Known::Recorded {
                fingerprint: good,
                line: 5
            }
        );
        assert_eq!(find("garbage", "h:1"), Known::Unknown);
    }
}
