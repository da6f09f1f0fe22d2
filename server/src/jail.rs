//! Remote paths, and their resolution beneath a user's home.
//!
//! Two layers, both always applied:
//! 1. [`RemotePath::parse`] checks the text: no `..`, no backslash, no NUL or control character,
//!    no component over 255 bytes, no path over 4096 bytes, never the internal partials folder.
//!    `/` and `.` mean the home itself, so absolute paths are read as relative to the home.
//! 2. Every file system call goes through a [`cap_std::fs::Dir`] opened on the home, which the
//!    kernel resolves beneath that folder (openat2 `RESOLVE_BENEATH` where available), so a
//!    symbolic link can never lead outside it.
//!
//! File system errors become refusals in [`refusal_for`], the one place each errno class
//! (missing, denied, link loop, name too long, disk full, ...) gets its wire kind and message.
//!
//! Nothing here may normalise a path after checking it.

use std::fmt;
use std::path::{Path, PathBuf};

use ftp_proto::ErrorKind;

use crate::error::Refusal;

/// Name of the server's internal folder (partial uploads) at the root; never reachable remotely.
pub const INTERNAL_DIR: &str = ".ftpd-internal";

/// Longest remote path accepted, in bytes.
pub const MAX_PATH_LEN: usize = 4096;

/// Longest path component accepted, in bytes.
pub const MAX_COMPONENT_LEN: usize = 255;

/// A remote path that passed the textual checks: zero or more plain components.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemotePath {
    /// The components, each non-empty and free of `/`, `..` and control characters.
    components: Vec<String>,
}

impl RemotePath {
    /// Checks a path sent by a client. The error says what was refused and why.
    pub fn parse(text: &str) -> Result<RemotePath, Refusal> {
        let refuse = |why: String| Refusal::new(ErrorKind::InvalidPath, why);
        if text.len() > MAX_PATH_LEN {
            return Err(refuse(format!(
                "path refused: longer than {MAX_PATH_LEN} bytes"
            )));
        }
        if text.contains('\\') {
            return Err(refuse(format!(
                "path {text:?} refused: backslashes are not allowed (use /)"
            )));
        }
        if let Some(c) = text.chars().find(|c| c.is_control()) {
            return Err(refuse(format!(
                "path {text:?} refused: control character {c:?} is not allowed"
            )));
        }
        let mut components = Vec::new();
        for part in text.split('/') {
            match part {
                "" | "." => continue,
                ".." => {
                    return Err(refuse(format!(
                        "path {text:?} refused: '..' is not allowed"
                    )));
                }
                _ if part.len() > MAX_COMPONENT_LEN => {
                    return Err(refuse(format!(
                        "path refused: a name is longer than {MAX_COMPONENT_LEN} bytes"
                    )));
                }
                INTERNAL_DIR => {
                    return Err(refuse(format!(
                        "path {text:?} refused: {INTERNAL_DIR} is reserved by the server"
                    )));
                }
                _ => components.push(part.to_owned()),
            }
        }
        Ok(RemotePath { components })
    }

    /// Whether this is the home folder itself.
    pub fn is_home(&self) -> bool {
        self.components.is_empty()
    }

    /// The last component (`None` for the home).
    pub fn name(&self) -> Option<&str> {
        self.components.last().map(String::as_str)
    }

    /// The folder holding this path (the home for a top-level name, and for the home itself).
    pub fn parent(&self) -> RemotePath {
        let mut components = self.components.clone();
        components.pop();
        RemotePath { components }
    }

    /// This path with `name`, a component taken from another checked path, added.
    pub fn child(&self, name: &str) -> RemotePath {
        let mut components = self.components.clone();
        components.push(name.to_owned());
        RemotePath { components }
    }

    /// Whether `self` is `ancestor` or lies beneath it.
    pub fn is_within(&self, ancestor: &RemotePath) -> bool {
        self.components.starts_with(&ancestor.components)
    }

    /// The names from the home down (none for the home itself).
    pub fn components(&self) -> &[String] {
        &self.components
    }

    /// The path relative to the home, for a [`cap_std::fs::Dir`] opened on it (`.` for the home).
    pub fn relative(&self) -> PathBuf {
        if self.components.is_empty() {
            PathBuf::from(".")
        } else {
            self.components.iter().collect()
        }
    }
}

impl fmt::Display for RemotePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "/{}", self.components.join("/"))
    }
}

/// Checks a home folder named in the users file: a non-empty relative path under the root.
pub fn parse_home(text: &str) -> Result<PathBuf, String> {
    let path = RemotePath::parse(text).map_err(|r| r.message)?;
    if path.is_home() {
        return Err(format!(
            "home {text:?} refused: a home must be a folder inside the root, not the root itself"
        ));
    }
    Ok(path.relative())
}

/// Opens (creating when missing, with `mode`) a user's home beneath the root; blocking.
pub fn open_home(
    root: &cap_std::fs::Dir,
    home: &Path,
    mode: u32,
) -> std::io::Result<cap_std::fs::Dir> {
    crate::modes::create_dir_all(root, home, mode)?;
    root.open_dir(home)
}

/// What the client is told of a local file-system error at `path` (see
/// [`Refusal::from_storage`]).
pub fn refusal_for(error: &std::io::Error, path: &impl fmt::Display) -> Refusal {
    Refusal::from_storage(&crate::failure::errno::classify(error), path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_paths_are_kept_relative_to_the_home() {
        let cases = [
            ("", "."),
            ("/", "."),
            (".", "."),
            ("//./", "."),
            ("docs", "docs"),
            ("/docs/a.txt", "docs/a.txt"),
            ("docs//a.txt/", "docs/a.txt"),
            ("./docs/./a", "docs/a"),
            ("C:", "C:"),
            ("...", "..."),
            ("..a", "..a"),
            ("\u{2215}..\u{2215}x", "\u{2215}..\u{2215}x"),
            ("\u{ff0e}\u{ff0e}", "\u{ff0e}\u{ff0e}"),
        ];
        for (text, relative) in cases {
            let path = RemotePath::parse(text).unwrap();
            assert_eq!(path.relative(), PathBuf::from(relative), "{text:?}");
        }
    }

    #[test]
    fn escapes_and_bad_characters_are_refused() {
        let long_name = "a".repeat(256);
        let long_path = "a/".repeat(2049);
        let cases = [
            "..",
            "../x",
            "a/../../x",
            "/..",
            "a/..",
            "a\\b",
            "..\\x",
            "C:\\Windows",
            "a\0b",
            "a\nb",
            "\u{7f}",
            "\u{85}",
            long_name.as_str(),
            long_path.as_str(),
            INTERNAL_DIR,
            "/.ftpd-internal/x",
            "a/.ftpd-internal",
        ];
        for text in cases {
            let refusal = RemotePath::parse(text).unwrap_err();
            assert_eq!(refusal.kind, ErrorKind::InvalidPath, "{text:?}");
        }
    }

    #[test]
    fn homes_must_be_below_the_root() {
        assert_eq!(parse_home("alice").unwrap(), PathBuf::from("alice"));
        assert_eq!(parse_home("/team/bob").unwrap(), PathBuf::from("team/bob"));
        for bad in ["", "/", ".", "..", "../x", "a\\b"] {
            assert!(parse_home(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_symlink_out_of_the_home_is_not_followed() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "x").unwrap();
        std::fs::create_dir(root.path().join("bob")).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("bob/escape")).unwrap();
        std::os::unix::fs::symlink("../alice", root.path().join("bob/sideways")).unwrap();
        let root_dir =
            cap_std::fs::Dir::open_ambient_dir(root.path(), cap_std::ambient_authority()).unwrap();
        let home = open_home(&root_dir, Path::new("bob"), 0o700).unwrap();
        assert!(home.metadata("escape/secret").is_err());
        assert!(home.read_dir("escape").is_err());
        assert!(home.metadata("sideways").is_err());
    }

    #[test]
    fn each_errno_class_is_a_clear_refusal_of_its_kind() {
        use rustix::io::Errno;
        let kind = |errno: Errno| refusal_for(&errno.into(), &"/x").kind;
        assert_eq!(kind(Errno::NOENT), ErrorKind::NotFound);
        assert_eq!(kind(Errno::ACCESS), ErrorKind::Denied);
        assert_eq!(kind(Errno::PERM), ErrorKind::Denied);
        assert_eq!(kind(Errno::LOOP), ErrorKind::InvalidPath);
        assert_eq!(kind(Errno::NAMETOOLONG), ErrorKind::InvalidPath);
        assert_eq!(kind(Errno::NOTDIR), ErrorKind::NotFound);
        assert_eq!(kind(Errno::ISDIR), ErrorKind::Exists);
        assert_eq!(kind(Errno::NOSPC), ErrorKind::NoSpace);
        assert_eq!(kind(Errno::DQUOT), ErrorKind::NoSpace);
        assert_eq!(kind(Errno::NXIO), ErrorKind::Denied);
        assert_eq!(kind(Errno::IO), ErrorKind::Internal);
        let looped = refusal_for(&Errno::LOOP.into(), &"/a");
        assert_eq!(
            looped.message,
            "/a: too many levels of symbolic links (a link loop, or a link to itself)"
        );
        let escape = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "outside");
        assert!(
            refusal_for(&escape, &"/e")
                .message
                .contains("outside your home")
        );
    }

    proptest! {
        #[test]
        fn accepted_paths_never_climb(text in "[a-z./\\\\\0\n]{0,40}") {
            if let Ok(path) = RemotePath::parse(&text) {
                let relative = path.relative();
                prop_assert!(relative.is_relative());
                for component in relative.components() {
                    prop_assert!(matches!(component, std::path::Component::Normal(_) | std::path::Component::CurDir));
                }
                let s = relative.to_string_lossy().into_owned();
                prop_assert!(!s.contains('\\') && !s.contains('\0') && !s.contains('\n'));
            }
        }

        #[test]
        fn any_string_parses_or_is_refused(text in "\\PC{0,300}") {
            let _ = RemotePath::parse(&text);
        }
    }
}
