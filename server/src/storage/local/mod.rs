//! Homes on the local disk: a capability handle on the home beneath the root (cap-std, so no
//! path leaves it), the served-digest lists that spare re-hashing an unchanged file, folders
//! made with the configured mode. Every call runs on a blocking thread.

pub mod metadata;
pub mod opening;
mod remove_tree;
mod rename;
pub mod walk;

use std::sync::Arc;

use ftp_proto::{DirEntry, EntryKind, PartialInfo};

use tokio::sync::mpsc;

use super::{Described, Failure, Home, Reading, Removed, StorageError, TreeBatch};
use crate::failure::errno::classify;
use crate::jail::{INTERNAL_DIR, RemotePath};
use metadata::entry;

/// One user's home on the local disk.
#[derive(Debug, Clone)]
pub struct LocalHome {
    /// Capability handle on the home: every path is resolved beneath it.
    dir: Arc<cap_std::fs::Dir>,
    /// The folder of served files' checkpoint lists (the digests of files read before).
    served: Arc<cap_std::fs::Dir>,
    /// The server's folder of unfinished uploads (every user's, each named after its user).
    partials: Arc<cap_std::fs::Dir>,
    /// The user whose home this is.
    user: String,
    /// Mode of each folder made.
    dir_mode: u32,
}

impl LocalHome {
    /// `user`'s home `dir`, with the server's folders of served digests and of unfinished
    /// uploads, and the mode new folders get.
    pub fn new(
        dir: Arc<cap_std::fs::Dir>,
        served: Arc<cap_std::fs::Dir>,
        partials: Arc<cap_std::fs::Dir>,
        user: &str,
        dir_mode: u32,
    ) -> Self {
        LocalHome {
            dir,
            served,
            partials,
            user: user.to_owned(),
            dir_mode,
        }
    }

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
            let hashes = hash.then_some(&home.served);
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
                let plan = crate::served::hash_plan(&home.served, &file, offset);
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
            let found = crate::partials::list(&home.partials, &home.user);
            let found = found.map_err(|e| classify(&e))?;
            Ok(found.into_iter().map(|(_, info)| info).collect())
        })
        .await
    }

    async fn drop_partials(&self, path: &RemotePath) -> Result<usize, StorageError> {
        let target = path.to_string();
        self.blocking(move |home| {
            let mut count = 0;
            let found = crate::partials::list(&home.partials, &home.user);
            for (name, info) in found.map_err(|e| classify(&e))? {
                if info.path == target {
                    home.partials.remove_file(&name).map_err(|e| classify(&e))?;
                    crate::partials::forget_checkpoints(&home.partials, &name);
                    count += 1;
                }
            }
            Ok(count)
        })
        .await
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
        let sha256 = crate::served::sha256_of(&self.served, &file).map_err(|e| classify(&e))?;
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
        crate::modes::create_dir_all(&self.dir, &relative, self.dir_mode)
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
