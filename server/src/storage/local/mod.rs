//! Homes on the local disk, and everything POSIX the server does: a capability handle on each
//! home beneath the root (cap-std, so no path leaves it), the internal folder beside the homes
//! (`.ftpd-internal`: partial uploads with their sidecars and checkpoint lists, the served
//! files' lists that spare re-hashing an unchanged file), uploads ([`partial`]: resumable
//! partials written behind by direct I/O, fsync and a rename that never replaces unless
//! asked; [`batch`]: whole files on one store thread, two `syncfs` per batch), the disk guard
//! ([`space`]), and expiry. Every call runs on a blocking thread.

mod batch;
pub mod ledger;
pub mod metadata;
pub mod opening;
pub mod partial;
pub mod partials;
mod place;
mod remove_tree;
mod rename;
pub mod served;
pub mod space;
pub mod walk;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ftp_proto::files::filestream::HashingWriter;
use ftp_proto::{DirEntry, EntryKind, PartialInfo};
use tokio::sync::mpsc;

use super::{
    Conflict, Described, Failure, Home, PartialUpload, Reading, Removed, StorageError, Store,
    TreeBatch, UploadLimits, UploadTarget, WholeBatch,
};
use crate::failure::errno::classify;
use crate::jail::{INTERNAL_DIR, RemotePath};
use crate::modes::Modes;
use metadata::entry;

/// The server's folders beside the homes, and how files are made: shared by every home.
#[derive(Debug)]
pub struct Shared {
    /// The folder of served files' checkpoint lists (the digests of files read before).
    pub served: Arc<cap_std::fs::Dir>,
    /// The server's folder of unfinished uploads (every user's, each named after its user).
    pub partials: Arc<cap_std::fs::Dir>,
    /// The two folders of whole files' partials, one per batch in flight.
    pub whole_partials: [Arc<cap_std::fs::Dir>; 2],
    /// Modes of the files and folders made.
    pub modes: Modes,
    /// Space kept free (`disk_reserve`; `None`: the default, see [`space::reserve`]).
    pub reserve: Option<u64>,
}

/// Every home beneath one root on the local disk.
#[derive(Debug, Clone)]
pub struct LocalStore {
    /// Capability handle on the root: homes are opened beneath it and nowhere else.
    root: Arc<cap_std::fs::Dir>,
    /// What the homes share.
    shared: Arc<Shared>,
}

impl LocalStore {
    /// The homes beneath `root`, its internal folder (the partials, the checkpoint lists) made
    /// or opened there; folders and files made with `modes`, `reserve` kept free. Blocking.
    pub fn open(
        root: cap_std::fs::Dir,
        modes: Modes,
        reserve: Option<u64>,
    ) -> std::io::Result<Self> {
        let internal = Path::new(INTERNAL_DIR);
        // The internal folder is the server's alone, whatever mode an older version or the
        // umask gave it: closing it closes everything inside.
        crate::modes::create_dir_all(&root, internal, crate::modes::INTERNAL_DIR_MODE)?;
        crate::modes::set_dir_mode(&root, internal, crate::modes::INTERNAL_DIR_MODE)?;
        let partials = partial::open_partials(&root)?;
        let whole_partials = partial::open_whole_file_folders(&partials)?;
        let served = served::open_checkpoints(&root)?;
        let shared = Shared {
            served: Arc::new(served),
            partials: Arc::new(partials),
            whole_partials: whole_partials.map(Arc::new),
            modes,
            reserve,
        };
        Ok(LocalStore::new(Arc::new(root), shared))
    }

    /// The homes beneath `root`, with the server's folders and modes.
    pub fn new(root: Arc<cap_std::fs::Dir>, shared: Shared) -> Self {
        LocalStore {
            root,
            shared: Arc::new(shared),
        }
    }

    /// `user`'s home, already open as `dir`.
    pub fn home_at(&self, dir: Arc<cap_std::fs::Dir>, user: &str) -> LocalHome {
        LocalHome {
            dir,
            shared: Arc::clone(&self.shared),
            user: user.to_owned(),
        }
    }
}

#[async_trait::async_trait]
impl Store for LocalStore {
    async fn open_home(&self, user: &str, home: &Path) -> Result<Arc<dyn Home>, StorageError> {
        let (store, home) = (self.clone(), home.to_path_buf());
        let user = user.to_owned();
        tokio::task::spawn_blocking(move || {
            let dir = crate::jail::open_home(&store.root, &home, store.shared.modes.dir)
                .map_err(|e| classify(&e))?;
            let home: Arc<dyn Home> = Arc::new(store.home_at(Arc::new(dir), &user));
            Ok(home)
        })
        .await
        .unwrap_or_else(|e| Err(StorageError::new(Failure::Internal, e.to_string())))
    }

    async fn expire(&self, ttl: Duration) -> Result<usize, StorageError> {
        let shared = Arc::clone(&self.shared);
        tokio::task::spawn_blocking(move || {
            let mut removed = partial::expire(&shared.partials, ttl)?;
            removed += partial::expire(&shared.served, ttl)?;
            for folder in &shared.whole_partials {
                removed += partial::expire(folder, ttl)?;
            }
            Ok(removed)
        })
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())))
        .map_err(|e| classify(&e))
    }
}

/// One user's home on the local disk.
#[derive(Debug, Clone)]
pub struct LocalHome {
    /// Capability handle on the home: every path is resolved beneath it.
    dir: Arc<cap_std::fs::Dir>,
    /// What every home shares.
    shared: Arc<Shared>,
    /// The user whose home this is.
    user: String,
}

impl LocalHome {
    /// Runs blocking file-system `work` on this home off the runtime.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&LocalHome) -> Result<T, StorageError> + Send + 'static,
    ) -> Result<T, StorageError> {
        let home = self.clone();
        tokio::task::spawn_blocking(move || work(&home))
            .await
            .unwrap_or_else(|e| Err(StorageError::new(Failure::Internal, e.to_string())))
    }
}

#[async_trait::async_trait]
impl Home for LocalHome {
    async fn describe(&self, path: &RemotePath, hash: bool) -> Result<Described, StorageError> {
        let path = path.clone();
        self.blocking(move |home| home.describe_now(&path, hash))
            .await
    }

    async fn list(&self, path: &RemotePath) -> Result<Vec<DirEntry>, StorageError> {
        let path = path.clone();
        self.blocking(move |home| home.list_now(&path)).await
    }

    async fn make_dir(&self, path: &RemotePath) -> Result<bool, StorageError> {
        let path = path.clone();
        self.blocking(move |home| home.make_dir_now(&path)).await
    }

    async fn remove(&self, path: &RemotePath) -> Result<(), StorageError> {
        let path = path.clone();
        self.blocking(move |home| home.remove_now(&path)).await
    }

    async fn rename(
        &self,
        from: &RemotePath,
        to: &RemotePath,
        replace: bool,
    ) -> Result<(), StorageError> {
        let (from, to) = (from.clone(), to.clone());
        self.blocking(move |home| rename::rename(&home.dir, &from, &to, replace))
            .await
    }

    async fn walk_tree(&self, path: &RemotePath, hash: bool, out: mpsc::Sender<TreeBatch>) {
        let (home, path, failed) = (self.clone(), path.clone(), out.clone());
        let walked = tokio::task::spawn_blocking(move || {
            let hashes = hash.then_some(&home.shared.served);
            if let Err(failure) = walk::walk(&home.dir, &path, hashes, &out) {
                // The receiver may be gone (the client left): nothing more to say then.
                let _ = out.blocking_send(Err(failure));
            }
        });
        if let Err(error) = walked.await {
            // Never an end that looks like a whole tree.
            let failure = StorageError::new(Failure::Internal, error.to_string());
            let _ = failed.send(Err(failure)).await;
        }
    }

    async fn remove_tree(&self, path: &RemotePath) -> Result<Removed, StorageError> {
        let path = path.clone();
        self.blocking(move |home| remove_tree::remove_tree(&home.dir, &path))
            .await
    }

    async fn read(
        &self,
        path: &RemotePath,
        offset: u64,
        chunk_len: usize,
    ) -> Result<Reading, StorageError> {
        let path = path.clone();
        let (file, meta, offset, plan) = self
            .blocking(move |home| {
                let (file, meta) = opening::open_regular(&home.dir, &path.relative())?;
                // Past the end of the file: start over.
                let offset = if offset > meta.len() { 0 } else { offset };
                let plan = served::hash_plan(&home.shared.served, &file, offset);
                Ok((file, meta, offset, plan))
            })
            .await?;
        let size = meta.len();
        let known = plan.resume_from.as_ref().map(|c| c.offset);
        let (chunks, reader) =
            ftp_proto::files::filestream::spawn_reader(file, offset, size, chunk_len, plan);
        let sha256 = async move {
            match reader.await {
                Ok(Ok(sha256)) => Ok(sha256),
                Ok(Err(error)) => Err(classify(&error)),
                Err(error) => Err(StorageError::new(Failure::Internal, error.to_string())),
            }
        };
        Ok(Reading {
            size,
            modified_secs: metadata::modified_secs(&meta),
            modified_nanos: metadata::modified_nanos(&meta),
            offset,
            known,
            chunks,
            sha256: Box::pin(sha256),
        })
    }

    async fn partials(&self) -> Result<Vec<PartialInfo>, StorageError> {
        self.blocking(|home| {
            let found = partials::list(&home.shared.partials, &home.user);
            let found = found.map_err(|e| classify(&e))?;
            Ok(found.into_iter().map(|(_, info)| info).collect())
        })
        .await
    }

    async fn drop_partials(&self, path: &RemotePath) -> Result<usize, StorageError> {
        let target = path.to_string();
        self.blocking(move |home| {
            let mut count = 0;
            let found = partials::list(&home.shared.partials, &home.user);
            for (name, info) in found.map_err(|e| classify(&e))? {
                if info.path == target {
                    home.shared
                        .partials
                        .remove_file(&name)
                        .map_err(|e| classify(&e))?;
                    partials::forget_checkpoints(&home.shared.partials, &name);
                    count += 1;
                }
            }
            Ok(count)
        })
        .await
    }

    async fn check_destination(
        &self,
        path: &RemotePath,
        size: u64,
        conflict: Conflict,
    ) -> Result<Option<[u8; 32]>, StorageError> {
        let path = path.clone();
        self.blocking(move |home| home.check_destination_now(&path, size, conflict))
            .await
    }

    async fn open_upload(
        &self,
        target: UploadTarget,
        limits: UploadLimits,
    ) -> Result<Box<dyn PartialUpload>, StorageError> {
        let opening = target.clone();
        let (file, offset, plan, identity) = self
            .blocking(move |home| home.open_upload_now(&opening, &limits))
            .await?;
        let restored = plan.resume_from.as_ref().map_or(0, |c| c.offset);
        Ok(Box::new(partial::LocalPartial {
            home: self.clone(),
            target,
            writer: HashingWriter::start(file, offset, plan),
            offset,
            restored,
            identity,
        }))
    }

    fn start_batch(&self, slot: usize, durable: bool) -> Box<dyn WholeBatch> {
        Box::new(batch::LocalBatch::start(self, slot, durable))
    }
}

impl LocalHome {
    /// [`Home::describe`]. Blocking.
    fn describe_now(&self, path: &RemotePath, hash: bool) -> Result<Described, StorageError> {
        let relative = path.relative();
        let meta = self
            .dir
            .symlink_metadata(&relative)
            .map_err(|e| classify(&e))?;
        let name = path.name().unwrap_or_default().to_owned();
        let described = entry(name.clone(), &meta);
        if !hash || described.kind != EntryKind::File {
            return Ok(Described {
                entry: described,
                sha256: None,
            });
        }
        // Opened without blocking, and described from the handle: a FIFO put there since the
        // look above is refused, not waited on.
        let (file, meta) = opening::open_regular(&self.dir, &relative)?;
        let sha256 = served::sha256_of(&self.shared.served, &file).map_err(|e| classify(&e))?;
        Ok(Described {
            entry: entry(name, &meta),
            sha256: Some(sha256),
        })
    }

    /// [`Home::list`]. Blocking.
    fn list_now(&self, path: &RemotePath) -> Result<Vec<DirEntry>, StorageError> {
        let relative = path.relative();
        let meta = self
            .dir
            .symlink_metadata(&relative)
            .map_err(|e| classify(&e))?;
        if !meta.is_dir() {
            let name = path.name().unwrap_or_default().to_owned();
            return Ok(vec![entry(name, &meta)]);
        }
        let mut entries = Vec::new();
        for item in self.dir.read_dir(&relative).map_err(|e| classify(&e))? {
            let item = item.map_err(|e| classify(&e))?;
            let name = item.file_name().to_string_lossy().into_owned();
            if name == INTERNAL_DIR {
                continue;
            }
            // An entry removed while listing is simply skipped.
            if let Ok(meta) = item.metadata() {
                entries.push(entry(name, &meta));
            }
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }

    /// [`Home::make_dir`]. Blocking.
    fn make_dir_now(&self, path: &RemotePath) -> Result<bool, StorageError> {
        let relative = path.relative();
        match self.dir.symlink_metadata(&relative) {
            Ok(meta) if meta.is_dir() => return Ok(false),
            Ok(_) => return Err(StorageError::of(Failure::InTheWay)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(classify(&e)),
        }
        crate::modes::create_dir_all(&self.dir, &relative, self.shared.modes.dir)
            .map_err(|e| classify(&e))?;
        Ok(true)
    }

    /// [`Home::remove`]. Blocking.
    fn remove_now(&self, path: &RemotePath) -> Result<(), StorageError> {
        let relative = path.relative();
        let meta = self
            .dir
            .symlink_metadata(&relative)
            .map_err(|e| classify(&e))?;
        let removed = if meta.is_dir() {
            self.dir.remove_dir(&relative)
        } else {
            self.dir.remove_file(&relative)
        };
        removed.map_err(|e| match e.kind() {
            std::io::ErrorKind::DirectoryNotEmpty => {
                StorageError::new(Failure::NotEmpty, e.to_string())
            }
            _ => classify(&e),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::conformance;
    use crate::storage::fixtures::{Fixture, Local};

    #[tokio::test]
    async fn the_local_disk_passes_the_conformance_suite() {
        conformance::run_all(Local::new).await;
    }

    #[tokio::test]
    async fn the_internal_folder_is_never_listed() {
        let local = Local::new();
        std::fs::create_dir(local.root().join(INTERNAL_DIR)).unwrap();
        std::fs::write(local.root().join("a"), b"x").unwrap();
        let names: Vec<String> = local
            .home()
            .list(&RemotePath::parse("/").unwrap())
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, ["a"]);
    }
}
