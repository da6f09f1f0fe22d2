//! A whole tree removed from the local disk (`ftp rm -r`), counting what went. Links inside
//! are removed as links, never followed. A file or link named directly is removed as one.
//! Unfinished uploads live in the internal folder, outside any tree a user can name, so an
//! upload into the folder carries on and recreates its parents when it finishes.

use super::walk::open_below;
use crate::failure::errno::classify;
use crate::jail::RemotePath;
use crate::storage::{Failure, Removed, StorageError};

/// Removes the path and, for a folder, everything beneath it. Blocking.
pub fn remove_tree(home: &cap_std::fs::Dir, path: &RemotePath) -> Result<Removed, StorageError> {
    if path.is_home() {
        return Err(StorageError::of(Failure::InvalidName));
    }
    let relative = path.relative();
    let meta = home.symlink_metadata(&relative).map_err(|e| classify(&e))?;
    if !meta.is_dir() {
        home.remove_file(&relative).map_err(|e| classify(&e))?;
        return Ok(Removed {
            files: 1,
            folders: 0,
        });
    }
    let Some(dir) = open_below(home, &relative, &meta, path)? else {
        return Err(StorageError::of(Failure::Changed));
    };
    let mut removed = empty(dir, path)?;
    home.remove_dir(&relative).map_err(|e| classify(&e))?;
    removed.folders += 1;
    Ok(removed)
}

/// One folder being emptied: the folder, its names not yet removed, its path and its name in
/// the folder above.
struct Level {
    dir: cap_std::fs::Dir,
    entries: cap_std::fs::ReadDir,
    shown: RemotePath,
    name: std::ffi::OsString,
}

/// Removes everything inside `dir` (whose path is `shown`), depth first, with a stack of open
/// folders instead of recursion, so no depth of tree can exhaust the thread's stack. Blocking.
fn empty(dir: cap_std::fs::Dir, shown: &RemotePath) -> Result<Removed, StorageError> {
    let mut removed = Removed::default();
    let entries = dir.entries().map_err(|e| classify(&e).at(shown))?;
    let mut stack = vec![Level {
        dir,
        entries,
        shown: shown.clone(),
        name: std::ffi::OsString::new(),
    }];
    while let Some(current) = stack.last_mut() {
        let Some(item) = current.entries.next() else {
            let done = stack.pop();
            if let (Some(done), Some(parent)) = (done, stack.last()) {
                parent
                    .dir
                    .remove_dir(&done.name)
                    .map_err(|e| classify(&e).at(&done.shown))?;
                removed.folders += 1;
            }
            continue;
        };
        let item = item.map_err(|e| classify(&e).at(&current.shown))?;
        let name = item.file_name();
        let child = current.shown.child(&name.to_string_lossy());
        // Not following links: a link to a folder is a link, removed as a file.
        let is_dir = item
            .file_type()
            .map_err(|e| classify(&e).at(&child))?
            .is_dir();
        let inner = if is_dir {
            let seen = match item.metadata() {
                Ok(seen) => Some(seen),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(classify(&e).at(&child)),
            };
            match seen {
                Some(seen) => open_below(&current.dir, &name, &seen, &child)?,
                None => continue,
            }
        } else {
            None
        };
        // A folder swapped for a link (or a file) meanwhile is removed as what it is now.
        if let Some(inner) = inner {
            let entries = inner.entries().map_err(|e| classify(&e).at(&child))?;
            stack.push(Level {
                dir: inner,
                entries,
                shown: child,
                name,
            });
        } else {
            match current.dir.remove_file(&name) {
                Ok(()) => removed.files += 1,
                // Removed by someone else meanwhile: gone all the same.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(classify(&e).at(&child)),
            }
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_a_tree_counting_and_never_following_links() {
        let temp = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("keep"), "k").unwrap();
        let root = temp.path();
        std::fs::create_dir_all(root.join("t/a/b")).unwrap();
        std::fs::create_dir_all(root.join("t/empty")).unwrap();
        std::fs::write(root.join("t/a/b/f"), "f").unwrap();
        std::fs::write(root.join("t/g"), "g").unwrap();
        std::fs::create_dir(root.join("other")).unwrap();
        std::fs::write(root.join("other/h"), "h").unwrap();
        std::os::unix::fs::symlink("../other", root.join("t/a/link")).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("t/out")).unwrap();
        let home = cap_std::fs::Dir::open_ambient_dir(root, cap_std::ambient_authority()).unwrap();
        let removed = remove_tree(&home, &RemotePath::parse("t").unwrap()).unwrap();
        assert_eq!(
            removed,
            Removed {
                files: 4,
                folders: 4
            }
        );
        assert!(!root.join("t").exists());
        assert!(root.join("other/h").exists(), "a link's target stays");
        assert!(outside.path().join("keep").exists());
        let home_itself = remove_tree(&home, &RemotePath::parse("/").unwrap()).unwrap_err();
        assert_eq!(home_itself.failure, Failure::InvalidName);
        let file = remove_tree(&home, &RemotePath::parse("other/h").unwrap()).unwrap();
        assert_eq!(file.files, 1);
        let missing = remove_tree(&home, &RemotePath::parse("nothing").unwrap()).unwrap_err();
        assert_eq!(missing.failure, Failure::NotFound);
    }

    #[test]
    fn a_deep_tree_goes_whole() {
        let temp = tempfile::tempdir().unwrap();
        let mut deep = temp.path().join("t");
        for _ in 0..300 {
            deep.push("d");
        }
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::write(deep.join("leaf"), "l").unwrap();
        std::fs::write(temp.path().join("t/new\nline\\"), "").unwrap();
        let home =
            cap_std::fs::Dir::open_ambient_dir(temp.path(), cap_std::ambient_authority()).unwrap();
        let removed = remove_tree(&home, &RemotePath::parse("t").unwrap()).unwrap();
        assert_eq!(
            removed,
            Removed {
                files: 2,
                folders: 301
            }
        );
        assert!(!temp.path().join("t").exists());
    }
}
