//! Stores under test: each store with a way to seed files and links from outside, as uploads
//! and users would leave them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::Home;
use super::local::{LocalHome, LocalStore, Shared};
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
        let store = local_store(folder.path());
        let home = store.home_at(open(&root), "alice");
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

/// A capability handle on the folder at `path`.
pub fn open(path: &Path) -> Arc<cap_std::fs::Dir> {
    Arc::new(cap_std::fs::Dir::open_ambient_dir(path, cap_std::ambient_authority()).unwrap())
}

/// A local store rooted at `base`, its internal folders (`served`, `partials` and the two
/// folders of whole files' partials in it) made there.
pub fn local_store(base: &Path) -> LocalStore {
    for folder in ["served", "partials/whole-a", "partials/whole-b"] {
        std::fs::create_dir_all(base.join(folder)).unwrap();
    }
    let shared = Shared {
        served: open(&base.join("served")),
        partials: open(&base.join("partials")),
        whole_partials: [
            open(&base.join("partials/whole-a")),
            open(&base.join("partials/whole-b")),
        ],
        modes: crate::modes::Modes {
            file: 0o640,
            dir: 0o750,
        },
        reserve: Some(0),
    };
    LocalStore::new(open(base), shared)
}
