//! The local side of `ftp sync --delete` when it downloads: listing the local destination
//! (links listed as links, never followed) and removing a path of it (a folder whole, a link
//! as the link, never what it points to). Blocking calls: run them through
//! [`crate::blocking::run`].

use std::path::Path;

use crate::error::ClientError;

/// One local entry, relative to the folder listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalEntry {
    /// `/`-joined path relative to the folder listed.
    pub path: String,
    /// A real folder (a link to one is not).
    pub is_dir: bool,
}

/// Every entry beneath `root`, depth first, each folder before its contents, names of one
/// folder in byte order; links are not followed. A missing `root` lists nothing; names that
/// are not UTF-8 are left out (and so never deleted).
pub fn list(root: &Path) -> Result<Vec<LocalEntry>, ClientError> {
    match std::fs::symlink_metadata(root) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(ClientError::Local {
                context: format!("cannot look at {}", root.display()),
                source,
            });
        }
        Ok(meta) if !meta.is_dir() => {
            return Err(ClientError::Remote {
                kind: ftp_proto::ErrorKind::Exists,
                message: format!("{} is not a folder", root.display()),
            });
        }
        Ok(_) => {}
    }
    let mut found = Vec::new();
    walk(root, "", &mut found)?;
    Ok(found)
}

/// Adds the entries of `folder` (whose relative path is `prefix`) and beneath to `found`.
fn walk(folder: &Path, prefix: &str, found: &mut Vec<LocalEntry>) -> Result<(), ClientError> {
    let unreadable = |source| ClientError::Local {
        context: format!("cannot list {}", folder.display()),
        source,
    };
    let mut names: Vec<(String, bool)> = Vec::new();
    for entry in std::fs::read_dir(folder).map_err(unreadable)? {
        let entry = entry.map_err(unreadable)?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let is_dir = entry.file_type().map_err(unreadable)?.is_dir();
        names.push((name, is_dir));
    }
    names.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    for (name, is_dir) in names {
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        found.push(LocalEntry {
            path: path.clone(),
            is_dir,
        });
        if is_dir {
            walk(&folder.join(&name), &path, found)?;
        }
    }
    Ok(())
}

/// Removes `path`: a real folder with everything in it, anything else (a link included) alone.
/// Never follows a link: a link to a folder outside goes, the folder it names stays.
pub fn remove(path: &Path) -> Result<(), ClientError> {
    let failed = |source| ClientError::Local {
        context: format!("cannot delete {}", path.display()),
        source,
    };
    let meta = match std::fs::symlink_metadata(path) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        other => other.map_err(failed)?,
    };
    if meta.is_dir() {
        // remove_dir_all removes links inside as links, never descending through them.
        std::fs::remove_dir_all(path).map_err(failed)
    } else {
        std::fs::remove_file(path).map_err(failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_is_depth_first_in_byte_order_and_never_follows_links() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "x").unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("b/c")).unwrap();
        std::fs::write(root.join("b/c/d"), "").unwrap();
        std::fs::write(root.join("a"), "").unwrap();
        std::fs::write(root.join("B"), "").unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("b/link")).unwrap();
        let listed: Vec<(String, bool)> = list(root)
            .unwrap()
            .into_iter()
            .map(|e| (e.path, e.is_dir))
            .collect();
        let expected = [
            ("B", false),
            ("a", false),
            ("b", true),
            ("b/c", true),
            ("b/c/d", false),
            ("b/link", false),
        ];
        assert_eq!(listed, expected.map(|(p, d)| (p.to_owned(), d)).to_vec());
        assert!(list(&root.join("missing")).unwrap().is_empty());
        assert_eq!(list(&root.join("a")).unwrap_err().exit_code(), 4);
    }

    #[test]
    fn removing_never_follows_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("keep"), "x").unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("tree/sub")).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("tree/sub/out")).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("top")).unwrap();
        remove(&root.join("top")).unwrap();
        remove(&root.join("tree")).unwrap();
        remove(&root.join("never-there")).unwrap();
        assert!(!root.join("top").exists() && !root.join("tree").exists());
        assert!(outside.path().join("keep").exists());
    }
}
