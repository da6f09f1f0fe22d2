//! The S3 home as the storage seam's [`Home`]: each operation is [`super::home`]'s, and
//! uploads are [`super::upload`]'s and [`super::batch`]'s. Kept apart so that those three
//! use the home's parts without the home naming them back.

use std::collections::BTreeSet;

use ftp_proto::{DirEntry, PartialInfo};
use futures::{StreamExt, TryStreamExt};
use object_store::{ObjectStore, ObjectStoreExt};
use tokio::sync::{mpsc, oneshot};

use super::hashing;
use super::home::{Found, S3Home, a_folder, file_entry, folder_entry, moved_to, send_object};
use super::keys::{HomeKeys, MARKER};
use super::objects::{self, storage_error};
use crate::jail::RemotePath;
use crate::storage::{
    Conflict, Described, Failure, Home, PartialUpload, Reading, Removed, StorageError, TreeBatch,
    UploadLimits, UploadTarget, WholeBatch,
};

#[async_trait::async_trait]
impl Home for S3Home {
    async fn describe(&self, path: &RemotePath, hash: bool) -> Result<Described, StorageError> {
        let name = path.name().unwrap_or_default().to_owned();
        match self.found(path).await? {
            Found::Nothing => Err(self.missing(path).await),
            Found::Folder(marker) => Ok(Described {
                entry: folder_entry(name, marker.as_ref()),
                sha256: None,
            }),
            Found::File(stat) => {
                let sha256 = if hash {
                    Some(self.sha256_of(path, &stat).await?)
                } else {
                    None
                };
                Ok(Described {
                    entry: file_entry(name, &stat),
                    sha256,
                })
            }
        }
    }

    async fn list(&self, path: &RemotePath) -> Result<Vec<DirEntry>, StorageError> {
        match self.found(path).await? {
            Found::Nothing => Err(self.missing(path).await),
            Found::File(stat) => Ok(vec![file_entry(
                path.name().unwrap_or_default().to_owned(),
                &stat,
            )]),
            Found::Folder(_) => Ok(self
                .children(path)
                .await?
                .into_iter()
                .map(|(entry, _)| entry)
                .collect()),
        }
    }

    async fn make_dir(&self, path: &RemotePath) -> Result<bool, StorageError> {
        if self.file_above(path).await? {
            return Err(StorageError::of(Failure::ParentNotFolder));
        }
        let made = match self.found(path).await? {
            Found::File(_) => return Err(StorageError::of(Failure::InTheWay)),
            Found::Folder(_) => false,
            Found::Nothing => true,
        };
        self.keep_folders(path).await?;
        Ok(made)
    }

    async fn remove(&self, path: &RemotePath) -> Result<(), StorageError> {
        match self.found(path).await? {
            Found::Nothing => return Err(self.missing(path).await),
            Found::File(_) => {
                objects::delete(self.bucket(), &self.keys.file(path)).await?;
                objects::delete(self.bucket(), &self.keys.sum(path)).await?;
            }
            Found::Folder(_) => {
                self.forget_folders();
                let marker = self.keys.marker(path);
                let mut below = self.everything_below(path);
                while let Some(key) = below.next().await {
                    if key? != marker {
                        return Err(StorageError::of(Failure::NotEmpty));
                    }
                }
                objects::delete(self.bucket(), &marker).await?;
            }
        }
        self.keep_folders(&path.parent()).await
    }

    async fn rename(
        &self,
        from: &RemotePath,
        to: &RemotePath,
        replace: bool,
    ) -> Result<(), StorageError> {
        let moving = match self.found(from).await? {
            Found::Nothing => return Err(self.missing(from).await.at(from)),
            found => found,
        };
        match self.found(&to.parent()).await? {
            Found::Folder(_) => {}
            _ => return Err(StorageError::of(Failure::NoSuchFolder).at(to)),
        }
        match (self.found(to).await?, &moving) {
            (Found::Nothing, _) => {}
            (Found::Folder(_), _) => return Err(StorageError::of(Failure::FolderInTheWay).at(to)),
            (Found::File(_), Found::Folder(_)) => {
                return Err(StorageError::of(Failure::FolderOverFile).at(to));
            }
            (Found::File(_), _) if !replace => {
                return Err(StorageError::of(Failure::AlreadyThere).at(to));
            }
            (Found::File(_), _) => {}
        }
        match moving {
            Found::File(stat) => self.move_file(from, to, &stat).await?,
            _ => {
                self.forget_folders();
                // Not atomic: each object is copied, then the originals are deleted.
                let prefix = self.keys.folder(from);
                let listed: Vec<object_store::ObjectMeta> = self
                    .bucket()
                    .list(Some(&prefix))
                    .try_collect()
                    .await
                    .map_err(storage_error)?;
                let mut keys = Vec::with_capacity(listed.len());
                for object in listed {
                    let key = object.location;
                    let Some(rest) = key.prefix_match(&prefix) else {
                        continue;
                    };
                    let target = rest.fold(self.keys.folder(to), |t, part| t.join(part));
                    self.bucket()
                        .copy(&key, &target)
                        .await
                        .map_err(storage_error)?;
                    if let Some(inner) = HomeKeys::below(&prefix, from, &key) {
                        let etag = object
                            .e_tag
                            .as_deref()
                            .map(objects::bare)
                            .unwrap_or_default();
                        self.move_sum(&inner, &moved_to(from, to, &inner), &etag, &target)
                            .await?;
                    }
                    keys.push(key);
                }
                self.keep_folders(to).await?;
                self.delete_all(keys).await?;
            }
        }
        self.keep_folders(&from.parent()).await
    }

    async fn walk_tree(&self, path: &RemotePath, hash: bool, out: mpsc::Sender<TreeBatch>) {
        let ended = match self.found(path).await {
            Ok(Found::Folder(_)) => self.walk(path, hash, &out).await,
            Ok(Found::File(_)) => Err(StorageError::of(Failure::NotAFolder)),
            Ok(Found::Nothing) => Err(self.missing(path).await),
            Err(error) => Err(error),
        };
        if let Err(error) = ended {
            let _ = out.send(Err(error)).await;
        }
    }

    async fn remove_tree(&self, path: &RemotePath) -> Result<Removed, StorageError> {
        if path.is_home() {
            return Err(StorageError::new(
                Failure::InvalidName,
                "the home itself is never removed",
            ));
        }
        match self.found(path).await? {
            Found::Nothing => return Err(self.missing(path).await),
            Found::File(_) => {
                objects::delete(self.bucket(), &self.keys.file(path)).await?;
                objects::delete(self.bucket(), &self.keys.sum(path)).await?;
                self.keep_folders(&path.parent()).await?;
                return Ok(Removed {
                    files: 1,
                    folders: 0,
                });
            }
            Found::Folder(_) => {}
        }
        self.forget_folders();
        let prefix = self.keys.folder(path);
        let mut folders = BTreeSet::new();
        let mut removed = Removed::default();
        let mut keys = Vec::new();
        let mut sums = Vec::new();
        let mut below = self.everything_below(path);
        while let Some(key) = below.next().await {
            let key = key?;
            let Some(rest) = key.prefix_match(&prefix) else {
                continue;
            };
            let parts: Vec<String> = rest.map(|p| p.as_ref().to_owned()).collect();
            let Some((name, dirs)) = parts.split_last() else {
                continue;
            };
            for depth in 1..=dirs.len() {
                folders.insert(dirs[..depth].join("/"));
            }
            if name != MARKER {
                removed.files += 1;
                if let Some(inner) = HomeKeys::below(&prefix, path, &key) {
                    sums.push(self.keys.sum(&inner));
                }
            }
            keys.push(key);
        }
        removed.folders = folders.len() as u64 + 1;
        self.delete_all(keys).await?;
        self.delete_all(sums).await?;
        self.keep_folders(&path.parent()).await?;
        Ok(removed)
    }

    async fn read(
        &self,
        path: &RemotePath,
        offset: u64,
        chunk_len: usize,
    ) -> Result<Reading, StorageError> {
        let stat = match self.found(path).await? {
            Found::File(stat) => stat,
            Found::Folder(_) => return Err(a_folder()),
            Found::Nothing => return Err(self.missing(path).await),
        };
        let offset = if offset > stat.size { 0 } else { offset };
        let sum = self.keys.sum(path);
        let known = hashing::recorded(self.bucket(), &sum, &stat).await;
        let (chunks_in, chunks) = mpsc::channel(4);
        let (digest_in, digest) = oneshot::channel();
        let home = self.clone();
        let key = self.keys.file(path);
        let (size, etag, modified) = (stat.size, stat.etag.clone(), stat.modified);
        tokio::spawn(async move {
            let sent = send_object(
                &home,
                &key,
                &stat,
                offset,
                chunk_len.max(1),
                known,
                chunks_in,
            )
            .await;
            let outcome = match (sent, known) {
                (Ok(_), Some(sha)) => Ok(sha),
                (Ok(Some(sha)), None) => {
                    hashing::record(home.bucket(), &sum, &etag, &sha).await;
                    Ok(sha)
                }
                (Ok(None), None) => Err(StorageError::new(
                    Failure::Internal,
                    "the download stopped before the end",
                )),
                (Err(error), _) => Err(error),
            };
            let _ = digest_in.send(outcome);
        });
        Ok(Reading {
            size,
            modified_secs: modified.0,
            modified_nanos: modified.1,
            offset,
            known: known.map(|_| size),
            chunks,
            sha256: Box::pin(async move {
                digest.await.unwrap_or_else(|_| {
                    Err(StorageError::new(
                        Failure::Internal,
                        "the download was dropped",
                    ))
                })
            }),
        })
    }

    async fn partials(&self) -> Result<Vec<PartialInfo>, StorageError> {
        super::unfinished::partials(self).await
    }

    async fn drop_partials(&self, path: &RemotePath) -> Result<usize, StorageError> {
        super::unfinished::drop_going_to(self, path).await
    }

    async fn check_destination(
        &self,
        path: &RemotePath,
        size: u64,
        conflict: Conflict,
    ) -> Result<Option<[u8; 32]>, StorageError> {
        super::upload::check_destination(self, path, size, conflict).await
    }

    async fn open_upload(
        &self,
        target: UploadTarget,
        limits: UploadLimits,
    ) -> Result<Box<dyn PartialUpload>, StorageError> {
        Ok(Box::new(super::upload::open(self, target, &limits).await?))
    }

    fn start_batch(&self, _slot: usize, _durable: bool) -> Box<dyn WholeBatch> {
        Box::new(super::batch::S3Batch::new(self.clone()))
    }
}
