//! Stores under test: each store with a way to seed files and links from outside, as uploads
//! and users would leave them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::Home;
use super::local::LocalHome;
use super::memory::MemoryHome;
use crate::jail::RemotePath;

/// A store under test, and how to put things in it from outside.
pub trait Fixture {
    /// The store.
    fn home(&self) -> &dyn Home;
    /// Puts a regular file at `path` (folders above it made); `Err` if something is in the way.
    fn try_seed_file(&self, path: &str, content: &[u8]) -> Result<(), String>;
    /// Puts a symbolic link at `path` to `target`.
    fn seed_link(&self, path: &str, target: &str);

    /// [`Fixture::try_seed_file`], where nothing can be in the way.
    fn seed_file(&self, path: &str, content: &[u8]) {
        self.try_seed_file(path, content).unwrap();
    }
}

/// A local home in a temporary folder, seeded through the file system.
pub struct Local {
    /// Holds the folder.
    _folder: tempfile::TempDir,
    /// The home's folder.
    root: PathBuf,
    /// The store.
    home: LocalHome,
}

impl Local {
    /// An empty home (and an empty served-digest folder).
    pub fn new() -> Self {
        let folder = tempfile::tempdir().unwrap();
        let root = folder.path().join("home");
        std::fs::create_dir(&root).unwrap();
        std::fs::create_dir(folder.path().join("served")).unwrap();
        std::fs::create_dir(folder.path().join("partials")).unwrap();
        let open = |p: &Path| {
            Arc::new(cap_std::fs::Dir::open_ambient_dir(p, cap_std::ambient_authority()).unwrap())
        };
        let (served, partials) = (folder.path().join("served"), folder.path().join("partials"));
        let home = LocalHome::new(open(&root), open(&served), open(&partials), "alice", 0o750);
        Local {
            _folder: folder,
            root,
            home,
        }
    }

    /// The home's folder.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl Fixture for Local {
    fn home(&self) -> &dyn Home {
        &self.home
    }

    fn try_seed_file(&self, path: &str, content: &[u8]) -> Result<(), String> {
        let at = self.root.join(path);
        if let Some(parent) = at.parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        std::fs::write(at, content).map_err(|e| e.to_string())
    }

    fn seed_link(&self, path: &str, target: &str) {
        std::os::unix::fs::symlink(target, self.root.join(path)).unwrap();
    }
}

impl Fixture for MemoryHome {
    fn home(&self) -> &dyn Home {
        self
    }

    fn try_seed_file(&self, path: &str, content: &[u8]) -> Result<(), String> {
        self.put_file(&RemotePath::parse(path).unwrap(), content)
            .map_err(|e| e.to_string())
    }

    fn seed_link(&self, path: &str, target: &str) {
        self.put_link(&RemotePath::parse(path).unwrap(), target)
            .unwrap();
    }
}
