//! Stores under test: each store with a way to seed files and links from outside, as uploads
//! and users would leave them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::local::{LocalHome, LocalStore, Shared};
use super::memory::{MemoryHome, MemoryStore};
use super::{Home, Store};
use crate::jail::RemotePath;

/// A store under test, and how to put things in it from outside.
pub trait Fixture {
    /// The store.
    fn home(&self) -> &dyn Home;
    /// Puts a regular file at `path` (folders above it made); `Err` if something is in the way.
    fn try_seed_file(&self, path: &str, content: &[u8]) -> Result<(), String>;
    /// Puts a symbolic link at `path` to `target` (only where [`Fixture::has_links`]).
    fn seed_link(&self, path: &str, target: &str);
    /// Whether the store keeps symbolic links (an object store has none).
    fn has_links(&self) -> bool {
        true
    }
    /// The store the home is in: [`Store::open_home`] of [`USER`] at [`HOME`] opens it again.
    fn store(&self) -> &dyn Store;

    /// [`Fixture::try_seed_file`], where nothing can be in the way.
    fn seed_file(&self, path: &str, content: &[u8]) {
        self.try_seed_file(path, content).unwrap();
    }
}

/// The user whose home a fixture holds.
pub const USER: &str = "alice";

/// Where that home is, relative to the store's root.
pub const HOME: &str = "home";

/// A local home in a temporary folder, seeded through the file system.
pub struct Local {
    /// Holds the folder.
    _folder: tempfile::TempDir,
    /// The home's folder.
    root: PathBuf,
    /// The home.
    home: LocalHome,
    /// The store it is in.
    store: LocalStore,
}

impl Local {
    /// An empty home (and an empty served-digest folder).
    pub fn new() -> Self {
        let folder = tempfile::tempdir().unwrap();
        let root = folder.path().join(HOME);
        std::fs::create_dir(&root).unwrap();
        let store = local_store(folder.path());
        let home = store.home_at(open(&root), USER);
        Local {
            _folder: folder,
            root,
            home,
            store,
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

    fn store(&self) -> &dyn Store {
        &self.store
    }
}

/// A memory home in its own store, seeded through its API.
pub struct Memory {
    /// The store.
    store: MemoryStore,
    /// [`USER`]'s home in it.
    home: MemoryHome,
}

impl Memory {
    /// An empty store, with [`USER`]'s home.
    pub fn new() -> Self {
        let store = MemoryStore::new();
        let home = store.home(USER);
        Memory { store, home }
    }
}

impl Fixture for Memory {
    fn home(&self) -> &dyn Home {
        &self.home
    }

    fn store(&self) -> &dyn Store {
        &self.store
    }

    fn try_seed_file(&self, path: &str, content: &[u8]) -> Result<(), String> {
        self.home
            .put_file(&RemotePath::parse(path).unwrap(), content)
            .map_err(|e| e.to_string())
    }

    fn seed_link(&self, path: &str, target: &str) {
        self.home
            .put_link(&RemotePath::parse(path).unwrap(), target)
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
