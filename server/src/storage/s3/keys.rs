//! Where everything of the S3 store lives in the bucket, under the configured prefix:
//! `files/<home>/<path>` for files, `files/<home>/<folder>/.ftpd-internal` for the marker that
//! keeps a folder (empty or not) in existence, `uploads/<home>/<path>` for the state of the
//! unfinished uploads going to a path, `sums/<home>/<path>` for a large file's SHA-256 and
//! `tails/<name>` for the bytes of an interrupted upload short of a part. Names are kept as
//! they are (the path rules already refuse `/`, `.`, `..` and control characters), so other
//! S3 tools see the files under their own names. The marker's name is the one the path rules
//! reserve for the server, so no user's file can be mistaken for one.

use object_store::path::Path;

use crate::jail::{INTERNAL_DIR, RemotePath};

/// The name of a folder's marker object.
pub const MARKER: &str = INTERNAL_DIR;

/// Joins key segments, skipping empty ones.
fn join<'a>(parts: impl IntoIterator<Item = &'a str>) -> String {
    let mut key = String::new();
    for part in parts.into_iter().filter(|p| !p.is_empty()) {
        if !key.is_empty() {
            key.push('/');
        }
        key.push_str(part);
    }
    key
}

/// A key as object_store names it. Every segment comes from a checked remote path, a checked
/// home or the configured prefix, so none is refused.
fn path(key: String) -> Path {
    Path::parse(&key).unwrap_or_else(|_| Path::from(key.as_str()))
}

/// The keys of one user's home.
#[derive(Debug, Clone)]
pub struct HomeKeys {
    /// `<prefix>/files/<home>`.
    files: String,
    /// `<prefix>/uploads/<home>`.
    uploads: String,
    /// `<prefix>/sums/<home>`.
    sums: String,
}

impl HomeKeys {
    /// The keys of the home at `home` (its components joined by `/`) under `prefix`.
    pub fn new(prefix: &str, home: &str) -> Self {
        HomeKeys {
            files: join([prefix, "files", home]),
            uploads: join([prefix, "uploads", home]),
            sums: join([prefix, "sums", home]),
        }
    }

    /// The object of the file at `at`.
    pub fn file(&self, at: &RemotePath) -> Path {
        path(join(
            std::iter::once(self.files.as_str()).chain(at.components().iter().map(String::as_str)),
        ))
    }

    /// The folder at `at` as a prefix (the home's own for the home).
    pub fn folder(&self, at: &RemotePath) -> Path {
        self.file(at)
    }

    /// The marker of the folder at `at`.
    pub fn marker(&self, at: &RemotePath) -> Path {
        self.file(at).join(MARKER)
    }

    /// The state object of the uploads going to `at`.
    pub fn state(&self, at: &RemotePath) -> Path {
        path(join(
            std::iter::once(self.uploads.as_str())
                .chain(at.components().iter().map(String::as_str)),
        ))
    }

    /// The prefix of every upload state of the home.
    pub fn states(&self) -> Path {
        path(self.uploads.clone())
    }

    /// The SHA-256 record of the file at `at`.
    pub fn sum(&self, at: &RemotePath) -> Path {
        path(join(
            std::iter::once(self.sums.as_str()).chain(at.components().iter().map(String::as_str)),
        ))
    }

    /// The remote path of an object below the folder `base`'s prefix `prefix`: `None` for what
    /// is not below it or not a path the path rules accept.
    pub fn below(prefix: &Path, base: &RemotePath, key: &Path) -> Option<RemotePath> {
        let rest: Vec<String> = key
            .prefix_match(prefix)?
            .map(|p| p.as_ref().to_owned())
            .collect();
        if rest.is_empty() {
            return None;
        }
        let mut at = base.clone();
        for part in rest {
            at = at.child(&part);
        }
        RemotePath::parse(&at.to_string()).ok()
    }
}

/// The key of the tail object `name`, under `prefix`.
pub fn tail(prefix: &str, name: &str) -> Path {
    path(join([prefix, "tails", name]))
}

/// The prefix of every file of every home.
pub fn all_files(prefix: &str) -> Path {
    path(join([prefix, "files"]))
}

/// The prefix of every upload state of every home.
pub fn all_states(prefix: &str) -> Path {
    path(join([prefix, "uploads"]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(text: &str) -> RemotePath {
        RemotePath::parse(text).unwrap()
    }

    #[test]
    fn keys_are_laid_out_under_the_prefix() {
        let keys = HomeKeys::new("team/ftpd", "alice");
        assert_eq!(
            keys.file(&at("a/b c.txt")).as_ref(),
            "team/ftpd/files/alice/a/b c.txt"
        );
        assert_eq!(keys.folder(&at("/")).as_ref(), "team/ftpd/files/alice");
        assert_eq!(
            keys.marker(&at("d")).as_ref(),
            "team/ftpd/files/alice/d/.ftpd-internal"
        );
        assert_eq!(keys.state(&at("x")).as_ref(), "team/ftpd/uploads/alice/x");
        assert_eq!(keys.sum(&at("x")).as_ref(), "team/ftpd/sums/alice/x");
        let bare = HomeKeys::new("", "bob/inner");
        assert_eq!(bare.file(&at("f")).as_ref(), "files/bob/inner/f");
        assert_eq!(tail("p", "t1").as_ref(), "p/tails/t1");
    }

    proptest! {
        /// Any path the path rules accept comes back from its key as itself.
        #[test]
        fn a_key_gives_its_path_back(parts in proptest::collection::vec("[^/\\x00-\\x1f\\x7f]{1,12}", 1..5)) {
            let text = parts.join("/");
            prop_assume!(RemotePath::parse(&text).is_ok());
            let path = at(&text);
            prop_assume!(!path.is_home());
            let keys = HomeKeys::new("pre", "h");
            let home = at("/");
            let back = HomeKeys::below(&keys.folder(&home), &home, &keys.file(&path));
            prop_assert_eq!(back, Some(path));
        }
    }
}
