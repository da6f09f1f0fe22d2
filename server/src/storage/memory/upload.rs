//! Partial uploads in memory, with the local disk's rules: a partial is kept by its name,
//! resumed from what it holds (one longer than its size starts afresh), counted against the
//! user's limit of idle partials, appended in order with its hash state kept beside it, and put
//! in place under its destination only when finished and committed. Partials are listed by
//! the remote path the user named, dropped by it, and expire when left alone.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ftp_proto::PartialInfo;
use sha2::{Digest, Sha256};

use super::nodes::{Files, Node, Partial, check_place, found, key, make_parents, now, seconds};
use crate::jail::RemotePath;
use crate::storage::upload::judge;
use crate::storage::{
    Conflict, Failure, HeldUpload, PartialUpload, StorageError, UploadLimits, UploadTarget,
};

/// [`crate::storage::Home::check_destination`]: makes the missing folders above `path` and
/// judges what is there, hashing a regular file only when [`judge`] says it is compared.
pub(super) fn check_destination(
    files: &Files,
    path: &RemotePath,
    size: u64,
    conflict: Conflict,
) -> Result<Option<[u8; 32]>, StorageError> {
    let key = key(path);
    let (there, content) = {
        let mut nodes = files.nodes();
        make_parents(&mut nodes, &key)?;
        found(&nodes, &key)
    };
    if !judge(there, size, conflict).map_err(StorageError::of)? {
        return Ok(None);
    }
    Ok(content.map(|content| Sha256::digest(&content).into()))
}

/// The error of an upload whose partial was taken away (dropped or expired) meanwhile.
fn gone() -> StorageError {
    StorageError::new(
        Failure::NotFound,
        "the partial upload was removed meanwhile",
    )
}

/// [`crate::storage::Home::open_upload`]: opens the partial `target.partial` or resumes it.
pub(super) fn open(
    files: &Arc<Files>,
    target: UploadTarget,
    limits: &UploadLimits,
) -> Result<MemoryPartial, StorageError> {
    let shown = target.path.to_string();
    let mut partials = files.partials();
    let (id, offset, hash) = match partials.by_name.get_mut(&target.partial) {
        Some(partial) => {
            if partial.content.len() as u64 > target.size {
                partial.content.clear();
                partial.hash = Sha256::new();
            }
            partial.shown = shown;
            partial.size = target.size;
            partial.touched = Instant::now();
            (
                partial.id,
                partial.content.len() as u64,
                partial.hash.clone(),
            )
        }
        None => {
            let idle = partials
                .by_name
                .keys()
                .filter(|name| !limits.in_use.contains(*name))
                .count();
            if idle >= limits.max_partials {
                return Err(StorageError::of(Failure::TooManyUnfinished(idle)));
            }
            let id = partials.next_id;
            partials.next_id += 1;
            let fresh = Partial {
                id,
                shown,
                size: target.size,
                content: Vec::new(),
                hash: Sha256::new(),
                touched: Instant::now(),
            };
            partials.by_name.insert(target.partial.clone(), fresh);
            (id, 0, Sha256::new())
        }
    };
    drop(partials);
    Ok(MemoryPartial {
        files: Arc::clone(files),
        target,
        id,
        offset,
        position: offset,
        hash,
        failure: None,
    })
}

/// Puts a partial named `name` holding `content`, as an interrupted upload leaves it.
pub(super) fn put(files: &Files, name: &str, path: &RemotePath, size: u64, content: &[u8]) {
    let mut partials = files.partials();
    let id = partials.next_id;
    partials.next_id += 1;
    let partial = Partial {
        id,
        shown: path.to_string(),
        size,
        content: content.to_vec(),
        hash: Sha256::new_with_prefix(content),
        touched: Instant::now(),
    };
    partials.by_name.insert(name.to_owned(), partial);
}

/// The unfinished uploads, sorted by remote path (then by partial name), as
/// [`crate::partials::list`] gives them from the disk.
pub(super) fn list(files: &Files) -> Vec<PartialInfo> {
    let partials = files.partials();
    let mut listed: Vec<(&String, PartialInfo)> = partials
        .by_name
        .iter()
        .map(|(name, partial)| {
            let info = PartialInfo {
                path: partial.shown.clone(),
                size: partial.size,
                held: partial.content.len() as u64,
                age_secs: partial.touched.elapsed().as_secs(),
            };
            (name, info)
        })
        .collect();
    listed.sort_by(|a, b| a.1.path.cmp(&b.1.path).then(a.0.cmp(b.0)));
    listed.into_iter().map(|(_, info)| info).collect()
}

/// Drops every partial going to `path`; how many.
pub(super) fn drop_going_to(files: &Files, path: &RemotePath) -> usize {
    let shown = path.to_string();
    let mut partials = files.partials();
    let before = partials.by_name.len();
    partials.by_name.retain(|_, partial| partial.shown != shown);
    before - partials.by_name.len()
}

/// Drops the partials untouched for longer than `ttl`; how many.
pub(super) fn expire(files: &Files, ttl: Duration) -> usize {
    let mut partials = files.partials();
    let before = partials.by_name.len();
    partials
        .by_name
        .retain(|_, partial| partial.touched.elapsed() <= ttl);
    before - partials.by_name.len()
}

/// A partial in memory being appended to.
pub struct MemoryPartial {
    /// The home's files.
    files: Arc<Files>,
    /// What it is.
    target: UploadTarget,
    /// Which opening of the partial's name this is.
    id: u64,
    /// What it held when opened.
    offset: u64,
    /// Where the next append goes.
    position: u64,
    /// The hash state of everything up to `position`.
    hash: Sha256,
    /// Why appending stopped, once it did.
    failure: Option<StorageError>,
}

#[async_trait::async_trait]
impl PartialUpload for MemoryPartial {
    fn offset(&self) -> u64 {
        self.offset
    }

    /// The hash state is kept beside the content: nothing is read again.
    fn restored(&self) -> u64 {
        self.offset
    }

    /// Its name and this opening: the hash state lives with the content, so nothing else can
    /// be bound to it.
    fn identity(&self) -> [u8; 32] {
        let mut identity = Sha256::new();
        identity.update(b"ftpd memory partial\0");
        identity.update(self.target.partial.as_bytes());
        identity.update(self.id.to_be_bytes());
        identity.finalize().into()
    }

    async fn append(&mut self, data: Bytes) -> bool {
        if self.failure.is_some() {
            return false;
        }
        // Hashed outside the lock; the partial takes the data and the state together.
        self.hash.update(&data);
        let mut partials = self.files.partials();
        match partials.by_name.get_mut(&self.target.partial) {
            Some(partial)
                if partial.id == self.id && partial.content.len() as u64 == self.position =>
            {
                partial.content.extend_from_slice(&data);
                partial.hash = self.hash.clone();
                partial.touched = Instant::now();
                self.position += data.len() as u64;
                true
            }
            _ => {
                self.failure = Some(gone());
                false
            }
        }
    }

    async fn finish(self: Box<Self>) -> Result<Box<dyn HeldUpload>, StorageError> {
        if let Some(failure) = self.failure {
            return Err(failure);
        }
        let MemoryPartial {
            files,
            target,
            id,
            hash,
            ..
        } = *self;
        let held = files
            .partials()
            .by_name
            .get(&target.partial)
            .is_some_and(|partial| partial.id == id);
        if !held {
            return Err(gone());
        }
        Ok(Box::new(MemoryHeld {
            files,
            target,
            id,
            sha256: hash.finalize().into(),
        }))
    }
}

/// A partial in memory received whole.
pub struct MemoryHeld {
    /// The home's files.
    files: Arc<Files>,
    /// What it is.
    target: UploadTarget,
    /// Which opening of the partial's name this is.
    id: u64,
    /// The SHA-256 of its content.
    sha256: [u8; 32],
}

#[async_trait::async_trait]
impl HeldUpload for MemoryHeld {
    fn sha256(&self) -> [u8; 32] {
        self.sha256
    }

    async fn commit(self: Box<Self>, _durable: bool, replace: bool) -> Result<(), StorageError> {
        let key = key(&self.target.path);
        let modified = self.target.modified.map_or_else(now, seconds);
        let mut nodes = self.files.nodes();
        // Checked before the partial is taken: on a refusal it stays, to finish later.
        check_place(&nodes, &key, replace)?;
        let content = {
            let mut partials = self.files.partials();
            match partials.by_name.get(&self.target.partial) {
                Some(partial) if partial.id == self.id => {}
                _ => return Err(gone()),
            }
            partials
                .by_name
                .remove(&self.target.partial)
                .map(|partial| partial.content)
                .unwrap_or_default()
        };
        nodes.insert(
            key,
            Node::File {
                content: Bytes::from(content),
                modified,
            },
        );
        Ok(())
    }

    async fn abandon(self: Box<Self>) {
        let mut partials = self.files.partials();
        if partials
            .by_name
            .get(&self.target.partial)
            .is_some_and(|partial| partial.id == self.id)
        {
            partials.by_name.remove(&self.target.partial);
        }
    }
}
