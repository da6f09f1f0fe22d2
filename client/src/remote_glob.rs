//! Remote globs: `*`, `?` and `[..]` in the last component of a remote path, matched by the
//! client against a listing of its folder (the server never sees a pattern). Matching follows
//! the shell: `*` and `?` never match `/`, and a name starting with `.` is matched only by a
//! pattern starting with `.`. A pattern in a folder component (`logs/*/x.gz`) is refused.
//! Also which remote names can be local file names ([`remote_file_name`]).

use globset::{GlobBuilder, GlobMatcher};

use crate::error::ClientError;

/// Whether `text` holds a glob character.
pub fn has_glob(text: &str) -> bool {
    text.contains(['*', '?', '['])
}

/// A remote path split into the folder to list and the pattern its names must match.
#[derive(Debug)]
pub struct RemoteGlob {
    /// The folder ("" for the home).
    pub folder: String,
    /// The last component, as typed.
    pub pattern: String,
    /// The compiled pattern.
    matcher: GlobMatcher,
}

impl RemoteGlob {
    /// Parses `remote`, whose last component holds a glob; a glob in a folder component, or a
    /// pattern that does not parse, is a usage error.
    pub fn parse(remote: &str) -> Result<RemoteGlob, ClientError> {
        let trimmed = remote.trim_end_matches('/');
        let (folder, pattern) = match trimmed.rsplit_once('/') {
            Some((folder, pattern)) => (folder, pattern),
            None => ("", trimmed),
        };
        if has_glob(folder) {
            return Err(ClientError::Usage(format!(
                "{remote:?}: patterns (*, ?, [..]) are matched in the last part of a remote path only"
            )));
        }
        let matcher = GlobBuilder::new(pattern)
            .literal_separator(true)
            .backslash_escape(true)
            .build()
            .map_err(|e| ClientError::Usage(format!("{remote:?} is not a usable pattern: {e}")))?
            .compile_matcher();
        Ok(RemoteGlob {
            folder: folder.to_owned(),
            pattern: pattern.to_owned(),
            matcher,
        })
    }

    /// Whether the name `name` of an entry of the folder matches.
    pub fn matches(&self, name: &str) -> bool {
        if name.starts_with('.') && !self.pattern.starts_with('.') {
            return false;
        }
        self.matcher.is_match(name)
    }

    /// The remote path of the folder's entry `name`.
    pub fn child(&self, name: &str) -> String {
        if self.folder.is_empty() {
            name.to_owned()
        } else {
            format!("{}/{name}", self.folder)
        }
    }
}

/// The last component of a remote path, if it is a safe local file name.
pub fn remote_file_name(remote: &str) -> Result<&str, ClientError> {
    let name = remote
        .rsplit('/')
        .find(|part| !part.is_empty())
        .unwrap_or("");
    let safe = !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains('\\')
        && !name.chars().any(char::is_control);
    if safe {
        Ok(name)
    } else {
        Err(ClientError::Usage(format!(
            "{remote:?} does not end in a usable file name; give LOCAL"
        )))
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_names_as_a_shell_does() {
        let glob = RemoteGlob::parse("logs/*.gz").unwrap();
        assert_eq!(glob.folder, "logs");
        assert!(glob.matches("a.gz"));
        assert!(!glob.matches("a.gz.tmp"));
        assert!(!glob.matches(".hidden.gz"), "dot files need a dot");
        assert_eq!(glob.child("a.gz"), "logs/a.gz");
        let classes = RemoteGlob::parse("/f[0-2]?.txt").unwrap();
        assert_eq!(classes.folder, "");
        assert!(classes.matches("f1x.txt"));
        assert!(!classes.matches("f3x.txt"));
        let dots = RemoteGlob::parse(".*").unwrap();
        assert!(dots.matches(".profile"));
        assert_eq!(RemoteGlob::parse("*").unwrap().child("x"), "x");
        assert!(RemoteGlob::parse("a\\*").unwrap().matches("a*"));
        assert!(!RemoteGlob::parse("a\\*").unwrap().matches("ab"));
    }

    #[test]
    fn a_pattern_in_a_folder_or_a_broken_one_is_a_usage_error() {
        for bad in ["logs/*/x.gz", "*/x", "a/[b"] {
            let error = RemoteGlob::parse(bad).unwrap_err();
            assert_eq!(error.exit_code(), 2, "{bad}: {error}");
        }
        assert!(has_glob("a[1]") && has_glob("?") && !has_glob("plain.txt"));
    }
}
