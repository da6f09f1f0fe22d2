//! The local side of `ftp sync --delete` when it downloads: removing a path of the local
//! destination (a folder whole, a link as the link, never what it points to). Blocking: run
//! it through [`crate::blocking::run`].

use std::path::Path;

use crate::error::ClientError;

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
