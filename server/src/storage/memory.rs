//! Homes held in memory: the same [`Home`] as the local disk, for tests and fuzzing, with no
//! file system beneath. Links are kept and described but never followed (a path through one
//! is a parent that is not a folder).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use ftp_proto::{DirEntry, EntryKind, PartialInfo, TreeEntry};
use sha2::{Digest, Sha256};

use tokio::sync::mpsc;

use super::{
    BATCH_ENTRIES, BATCH_PATH_BYTES, Described, Failure, Home, Reading, Removed, StorageError,
    TreeBatch,
};
use crate::jail::RemotePath;

/// What is at one path of a memory home.
#[derive(Debug, Clone)]
enum Node {
    /// A folder (its entries are the paths beneath it).
    Folder { modified: i64 },
    /// A regular file.
    File { content: Vec<u8>, modified: i64 },
    /// A symbolic link to `target`.
    Link { target: String, modified: i64 },
}

/// One user's home in memory. Paths are their components; the home itself is the empty path.
#[derive(Debug, Default)]
pub struct MemoryHome {
    /// Every path but the home's, each with what is there.
    nodes: Mutex<BTreeMap<Vec<String>, Node>>,
}

/// Seconds since the epoch now.
fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A path's components.
fn key(path: &RemotePath) -> Vec<String> {
    path.components().to_vec()
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
                content: content.to_vec(),
                modified: now(),
            },
        );
        Ok(())
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

    /// The map, even if a panicking test poisoned it.
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<Vec<String>, Node>> {
        self.nodes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// What is at `key`: the home is a folder; a parent that is missing is not found, one that is
/// not a folder is [`Failure::ParentNotFolder`].
fn look(nodes: &BTreeMap<Vec<String>, Node>, key: &[String]) -> Result<Node, StorageError> {
    if key.is_empty() {
        return Ok(Node::Folder { modified: 0 });
    }
    for depth in 1..key.len() {
        match nodes.get(&key[..depth]) {
            Some(Node::Folder { .. }) => {}
            Some(_) => return Err(StorageError::of(Failure::ParentNotFolder)),
            None => return Err(StorageError::of(Failure::NotFound)),
        }
    }
    nodes
        .get(key)
        .cloned()
        .ok_or_else(|| StorageError::of(Failure::NotFound))
}

/// Makes the folders above `key` that are missing; something else in the way is
/// [`Failure::InTheWay`].
fn make_parents(
    nodes: &mut BTreeMap<Vec<String>, Node>,
    key: &[String],
) -> Result<(), StorageError> {
    for depth in 1..key.len() {
        match nodes.get(&key[..depth]) {
            Some(Node::Folder { .. }) => {}
            Some(_) => return Err(StorageError::of(Failure::InTheWay)),
            None => {
                nodes.insert(key[..depth].to_vec(), Node::Folder { modified: now() });
            }
        }
    }
    Ok(())
}

/// The wire's description of `node` named `name`.
fn entry(name: String, node: &Node) -> DirEntry {
    let (kind, size, modified) = match node {
        Node::Folder { modified } => (EntryKind::Dir, 0, *modified),
        Node::File { content, modified } => (EntryKind::File, content.len() as u64, *modified),
        Node::Link { target, modified } => (EntryKind::Symlink, target.len() as u64, *modified),
    };
    DirEntry {
        name,
        kind,
        size,
        modified,
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
        let content = bytes::Bytes::from(content);
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

    /// Uploads are not behind the seam yet: a memory home never holds an unfinished one.
    async fn partials(&self) -> Result<Vec<PartialInfo>, StorageError> {
        Ok(Vec::new())
    }

    async fn drop_partials(&self, _path: &RemotePath) -> Result<usize, StorageError> {
        Ok(0)
    }

    async fn check_destination(
        &self,
        _path: &RemotePath,
        _size: u64,
        _conflict: super::Conflict,
    ) -> Result<Option<[u8; 32]>, StorageError> {
        todo!()
    }

    async fn open_upload(
        &self,
        _target: super::UploadTarget,
        _limits: super::UploadLimits,
    ) -> Result<Box<dyn super::PartialUpload>, StorageError> {
        todo!()
    }

    fn start_batch(&self, _slot: usize, _durable: bool) -> Box<dyn super::WholeBatch> {
        todo!()
    }
}

/// The children of the folder at `key`, in name order (keys sort component by component).
fn children<'a>(
    nodes: &'a BTreeMap<Vec<String>, Node>,
    key: &'a [String],
) -> impl Iterator<Item = (&'a Vec<String>, &'a Node)> + 'a {
    nodes
        .range(key.to_vec()..)
        .take_while(move |(k, _)| k.starts_with(key))
        .filter(move |(k, _)| k.len() == key.len() + 1)
}

/// The whole walk of the folder at `key` in `ls -R` order, with each regular file's digest
/// when `hash`.
fn walk(nodes: &BTreeMap<Vec<String>, Node>, key: &[String], hash: bool) -> Vec<TreeEntry> {
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

/// The folder at `key` (the home for the empty key): missing is not found, anything else is a
/// parent that is not a folder.
fn folder(nodes: &BTreeMap<Vec<String>, Node>, key: &[String]) -> Result<(), StorageError> {
    match look(nodes, key)? {
        Node::Folder { .. } => Ok(()),
        _ => Err(StorageError::of(Failure::ParentNotFolder)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::conformance;

    #[tokio::test]
    async fn memory_passes_the_conformance_suite() {
        conformance::run_all(MemoryHome::new).await;
    }
}
