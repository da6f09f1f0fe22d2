//! A user's home in memory: the same [`Home`] as the local disk, over the tree of
//! [`super::nodes`]. Links are kept and described but never followed (a path through one is a
//! parent that is not a folder). Uploads are [`super::upload`]'s and [`super::batch`]'s.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ftp_proto::{DirEntry, EntryKind, PartialInfo, TreeEntry};
use sha2::{Digest, Sha256};

use tokio::sync::mpsc;

use super::batch::MemoryBatch;
use super::nodes::{Files, Node, Nodes, children, entry, folder, key, look, make_parents, now};
use super::upload;
use crate::jail::RemotePath;
use crate::storage::{
    BATCH_ENTRIES, BATCH_PATH_BYTES, Conflict, Described, Failure, Home, PartialUpload, Reading,
    Removed, StorageError, TreeBatch, UploadLimits, UploadTarget, WholeBatch,
};

/// One user's home in memory. Paths are their components; the home itself is the empty path.
/// Clones share the same files and partials.
#[derive(Debug, Default, Clone)]
pub struct MemoryHome {
    /// The tree and the unfinished uploads.
    files: Arc<Files>,
}

impl MemoryHome {
    /// An empty home.
    pub fn new() -> Self {
        MemoryHome::default()
    }

    /// Puts a file at `path` (its folders made), as an upload would leave it.
    pub fn put_file(&self, path: &RemotePath, content: &[u8]) -> Result<(), StorageError> {
        let key = key(path);
        let mut nodes = self.lock();
        make_parents(&mut nodes, &key)?;
        if let Some(Node::Folder { .. }) = nodes.get(&key) {
            return Err(StorageError::of(Failure::FolderInTheWay));
        }
        nodes.insert(
            key,
            Node::File {
                content: Bytes::copy_from_slice(content),
                modified: now(),
            },
        );
        Ok(())
    }

    /// Makes the folder at `path` and its parents, as [`Home::make_dir`] does, without waiting.
    pub fn put_folder(&self, path: &RemotePath) -> Result<(), StorageError> {
        let key = key(path);
        let mut nodes = self.lock();
        make_parents(&mut nodes, &key)?;
        match nodes.get(&key) {
            Some(Node::Folder { .. }) => Ok(()),
            Some(_) => Err(StorageError::of(Failure::InTheWay)),
            None => {
                nodes.insert(key, Node::Folder { modified: now() });
                Ok(())
            }
        }
    }

    /// Whether anything (a file, a folder, a link) is at `path`.
    pub fn exists(&self, path: &RemotePath) -> bool {
        look(&self.lock(), &key(path)).is_ok()
    }

    /// Puts a link at `path` pointing to `target` (its folders made).
    pub fn put_link(&self, path: &RemotePath, target: &str) -> Result<(), StorageError> {
        let key = key(path);
        let mut nodes = self.lock();
        make_parents(&mut nodes, &key)?;
        if nodes.contains_key(&key) {
            return Err(StorageError::of(Failure::InTheWay));
        }
        let target = target.to_owned();
        nodes.insert(
            key,
            Node::Link {
                target,
                modified: now(),
            },
        );
        Ok(())
    }

    /// Puts an unfinished upload named `partial` going to `path` (`size` bytes declared),
    /// holding `content`, as an interrupted upload would leave it: the next upload of that
    /// name resumes it.
    pub fn put_partial(&self, partial: &str, path: &RemotePath, size: u64, content: &[u8]) {
        upload::put(&self.files, partial, path, size, content);
    }

    /// Empties the home: no file, folder, link or unfinished upload is left.
    pub fn clear(&self) {
        self.lock().clear();
        self.files.partials().by_name.clear();
    }

    /// The content of the regular file at `path`; `None` when nothing or something else is
    /// there.
    pub fn content(&self, path: &RemotePath) -> Option<Bytes> {
        match look(&self.lock(), &key(path)) {
            Ok(Node::File { content, .. }) => Some(content),
            _ => None,
        }
    }

    /// Drops the unfinished uploads nobody opened or wrote to for longer than `ttl`; how many.
    pub fn expire_partials(&self, ttl: Duration) -> usize {
        upload::expire(&self.files, ttl)
    }

    /// The tree, locked.
    fn lock(&self) -> std::sync::MutexGuard<'_, Nodes> {
        self.files.nodes()
    }
}

#[async_trait::async_trait]
impl Home for MemoryHome {
    async fn describe(&self, path: &RemotePath, hash: bool) -> Result<Described, StorageError> {
        let node = look(&self.lock(), &key(path))?;
        let sha256 = match &node {
            Node::File { content, .. } if hash => Some(Sha256::digest(content).into()),
            _ => None,
        };
        let name = path.name().unwrap_or_default().to_owned();
        Ok(Described {
            entry: entry(name, &node),
            sha256,
        })
    }

    async fn list(&self, path: &RemotePath) -> Result<Vec<DirEntry>, StorageError> {
        let nodes = self.lock();
        let key = key(path);
        let node = look(&nodes, &key)?;
        if !matches!(node, Node::Folder { .. }) {
            let name = path.name().unwrap_or_default().to_owned();
            return Ok(vec![entry(name, &node)]);
        }
        Ok(children(&nodes, &key)
            .filter_map(|(child, node)| Some(entry(child.last()?.clone(), node)))
            .collect())
    }

    async fn make_dir(&self, path: &RemotePath) -> Result<bool, StorageError> {
        let key = key(path);
        let mut nodes = self.lock();
        match look(&nodes, &key) {
            Ok(Node::Folder { .. }) => return Ok(false),
            Ok(_) => return Err(StorageError::of(Failure::InTheWay)),
            Err(e) if !e.is_not_found() => return Err(e),
            Err(_) => {}
        }
        make_parents(&mut nodes, &key)?;
        nodes.insert(key, Node::Folder { modified: now() });
        Ok(true)
    }

    async fn remove(&self, path: &RemotePath) -> Result<(), StorageError> {
        let key = key(path);
        let mut nodes = self.lock();
        if let Node::Folder { .. } = look(&nodes, &key)? {
            let has_children = nodes
                .range(key.clone()..)
                .nth(1)
                .is_some_and(|(next, _)| next.starts_with(&key));
            if has_children {
                return Err(StorageError::of(Failure::NotEmpty));
            }
        }
        nodes.remove(&key);
        Ok(())
    }

    async fn rename(
        &self,
        from: &RemotePath,
        to: &RemotePath,
        replace: bool,
    ) -> Result<(), StorageError> {
        let (source_key, target_key) = (key(from), key(to));
        if source_key.is_empty() || target_key.is_empty() {
            return Err(StorageError::of(Failure::InvalidName));
        }
        let mut nodes = self.lock();
        // In the order the disk finds things out: both folders, then the source, then the
        // destination.
        folder(&nodes, &source_key[..source_key.len() - 1]).map_err(|e| e.at(from))?;
        folder(&nodes, &target_key[..target_key.len() - 1]).map_err(|e| {
            match e.failure {
                Failure::NotFound => StorageError::of(Failure::NoSuchFolder),
                _ => e,
            }
            .at(to)
        })?;
        let source = look(&nodes, &source_key).map_err(|e| e.at(from))?;
        let is_folder = matches!(source, Node::Folder { .. });
        let refuse = |failure| Err(StorageError::of(failure).at(to));
        match nodes.get(&target_key) {
            None => {}
            Some(_) if !replace => return refuse(Failure::AlreadyThere),
            Some(Node::Folder { .. }) => return refuse(Failure::FolderInTheWay),
            Some(_) if is_folder => return refuse(Failure::FolderOverFile),
            Some(_) => {}
        }
        if target_key.starts_with(&source_key) {
            if target_key == source_key {
                return Ok(());
            }
            // Into itself.
            return refuse(Failure::InvalidName);
        }
        let moving: Vec<Vec<String>> = nodes
            .range(source_key.clone()..)
            .take_while(|(k, _)| k.starts_with(&source_key))
            .map(|(k, _)| k.clone())
            .collect();
        for old in moving {
            if let Some(node) = nodes.remove(&old) {
                let mut new = target_key.clone();
                new.extend_from_slice(&old[source_key.len()..]);
                nodes.insert(new, node);
            }
        }
        Ok(())
    }

    async fn walk_tree(&self, path: &RemotePath, hash: bool, out: mpsc::Sender<TreeBatch>) {
        let walked = {
            let nodes = self.lock();
            let key = key(path);
            match look(&nodes, &key) {
                Ok(Node::Folder { .. }) => Ok(walk(&nodes, &key, hash)),
                Ok(_) => Err(StorageError::of(Failure::NotAFolder).at(path)),
                Err(e) => Err(e),
            }
        };
        let entries = match walked {
            Ok(entries) => entries,
            Err(failure) => {
                let _ = out.send(Err(failure)).await;
                return;
            }
        };
        let mut batch = Vec::new();
        let mut bytes = 0;
        for entry in entries {
            bytes += entry.path.len();
            batch.push(entry);
            if batch.len() >= BATCH_ENTRIES || bytes >= BATCH_PATH_BYTES {
                bytes = 0;
                if out.send(Ok(std::mem::take(&mut batch))).await.is_err() {
                    return;
                }
            }
        }
        if !batch.is_empty() {
            let _ = out.send(Ok(batch)).await;
        }
    }

    async fn remove_tree(&self, path: &RemotePath) -> Result<Removed, StorageError> {
        let key = key(path);
        if key.is_empty() {
            return Err(StorageError::of(Failure::InvalidName));
        }
        let mut nodes = self.lock();
        look(&nodes, &key)?;
        let going: Vec<Vec<String>> = nodes
            .range(key.clone()..)
            .take_while(|(k, _)| k.starts_with(&key))
            .map(|(k, _)| k.clone())
            .collect();
        let mut removed = Removed::default();
        for gone in going {
            match nodes.remove(&gone) {
                Some(Node::Folder { .. }) => removed.folders += 1,
                Some(_) => removed.files += 1,
                None => {}
            }
        }
        Ok(removed)
    }

    async fn read(
        &self,
        path: &RemotePath,
        offset: u64,
        chunk_len: usize,
    ) -> Result<Reading, StorageError> {
        let node = look(&self.lock(), &key(path))?;
        let (content, modified) = match node {
            Node::File { content, modified } => (content, modified),
            Node::Folder { .. } => return Err(StorageError::of(Failure::NotRegular("a folder"))),
            Node::Link { .. } => {
                return Err(StorageError::of(Failure::NotRegular("a symbolic link")));
            }
        };
        let size = content.len() as u64;
        let offset = if offset > size { 0 } else { offset };
        let sha256: [u8; 32] = Sha256::digest(&content).into();
        let (out, chunks) = mpsc::channel(4);
        let start = usize::try_from(offset).unwrap_or(content.len());
        tokio::spawn(async move {
            let mut at = start;
            while at < content.len() {
                let end = content.len().min(at + chunk_len.max(1));
                if out.send(content.slice(at..end)).await.is_err() {
                    return;
                }
                at = end;
            }
        });
        Ok(Reading {
            size,
            modified_secs: modified,
            modified_nanos: 0,
            offset,
            known: None,
            chunks,
            sha256: Box::pin(async move { Ok(sha256) }),
        })
    }

    async fn partials(&self) -> Result<Vec<PartialInfo>, StorageError> {
        Ok(upload::list(&self.files))
    }

    async fn drop_partials(&self, path: &RemotePath) -> Result<usize, StorageError> {
        Ok(upload::drop_going_to(&self.files, path))
    }

    async fn check_destination(
        &self,
        path: &RemotePath,
        size: u64,
        conflict: Conflict,
    ) -> Result<Option<[u8; 32]>, StorageError> {
        upload::check_destination(&self.files, path, size, conflict)
    }

    async fn open_upload(
        &self,
        target: UploadTarget,
        limits: UploadLimits,
    ) -> Result<Box<dyn PartialUpload>, StorageError> {
        let opened = upload::open(&self.files, target, &limits)?;
        Ok(Box::new(opened))
    }

    fn start_batch(&self, _slot: usize, _durable: bool) -> Box<dyn WholeBatch> {
        Box::new(MemoryBatch::start(Arc::clone(&self.files)))
    }
}

/// The whole walk of the folder at `key` in `ls -R` order, with each regular file's digest
/// when `hash`.
fn walk(nodes: &Nodes, key: &[String], hash: bool) -> Vec<TreeEntry> {
    let mut walked = Vec::new();
    let mut folders = vec![key.to_vec()];
    while let Some(folder) = folders.pop() {
        let mut below = Vec::new();
        for (child, node) in children(nodes, &folder) {
            let described = entry(String::new(), node);
            let sha256 = match node {
                Node::File { content, .. } if hash => Some(Sha256::digest(content).into()),
                _ => None,
            };
            walked.push(TreeEntry {
                path: child[key.len()..].join("/"),
                kind: described.kind,
                size: described.size,
                modified_secs: described.modified,
                modified_nanos: 0,
                sha256,
            });
            if described.kind == EntryKind::Dir {
                below.push(child.clone());
            }
        }
        folders.extend(below.into_iter().rev());
    }
    walked
}
