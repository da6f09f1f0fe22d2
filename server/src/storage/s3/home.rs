//! One user's home in the bucket: files described from a HEAD (the client's time and, for
//! small files, the SHA-256 are kept in the object's metadata), folders as prefixes kept by a
//! marker, listings by delimiter, trees walked folder by folder and removed in batches, moves
//! made by server-side copy then delete (a folder's move is not atomic), downloads streamed by
//! ranged GETs bound to the object's ETag. S3 has no links: nothing here is ever one. The
//! seam's [`crate::storage::Home`] is implemented on it in [`super::seam`].

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use ftp_proto::{DirEntry, EntryKind, TreeEntry};
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use tokio::sync::mpsc;

use super::keys::{HomeKeys, MARKER};
use super::objects::{self, Stat, storage_error};
use super::{Shared, hashing};
use crate::jail::RemotePath;
use crate::storage::{BATCH_ENTRIES, BATCH_PATH_BYTES, Failure, StorageError, TreeBatch};

/// Calls to the bucket made at once for one listing or tree.
pub const CONCURRENT: usize = 16;

/// What is at a path.
#[derive(Debug, Clone)]
pub enum Found {
    /// Nothing.
    Nothing,
    /// A folder: its marker, when it has one.
    Folder(Option<Stat>),
    /// A file.
    File(Stat),
}

/// One user's home in the bucket.
#[derive(Debug, Clone)]
pub struct S3Home {
    /// The bucket and this server's uploads.
    pub(super) shared: Arc<Shared>,
    /// The home's keys.
    pub(super) keys: HomeKeys,
    /// Folders this session made sure of, so a tree of small files does not ask again for
    /// each file; forgotten when a folder is removed or moved.
    known: Arc<Mutex<HashSet<String>>>,
}

/// Most folders a session remembers making sure of.
const KNOWN_FOLDERS: usize = 10_000;

/// A folder's entry.
pub(super) fn folder_entry(name: String, marker: Option<&Stat>) -> DirEntry {
    DirEntry {
        name,
        kind: EntryKind::Dir,
        size: 0,
        modified: marker.map_or(0, |m| m.modified.0),
    }
}

/// A file's entry.
pub(super) fn file_entry(name: String, stat: &Stat) -> DirEntry {
    DirEntry {
        name,
        kind: EntryKind::File,
        size: stat.size,
        modified: stat.modified.0,
    }
}

/// The failure for a folder where a regular file was wanted.
pub(super) fn a_folder() -> StorageError {
    StorageError::of(Failure::NotRegular("a folder"))
}

impl S3Home {
    /// The home at `home` (components joined by `/`).
    pub fn new(shared: Arc<Shared>, home: &str) -> Self {
        let keys = HomeKeys::new(&shared.prefix, home);
        S3Home {
            shared,
            keys,
            known: Arc::default(),
        }
    }

    /// The bucket.
    pub(super) fn bucket(&self) -> &objects::Bucket {
        &self.shared.bucket
    }

    /// Whether anything is beneath the folder `at`'s prefix, its marker included.
    async fn has_anything_below(&self, at: &RemotePath) -> Result<bool, StorageError> {
        let prefix = self.keys.folder(at);
        let mut listing = self.bucket().list(Some(&prefix));
        match listing.next().await {
            None => Ok(false),
            Some(Ok(_)) => Ok(true),
            Some(Err(error)) => Err(storage_error(error)),
        }
    }

    /// What is at `at`.
    pub(super) async fn found(&self, at: &RemotePath) -> Result<Found, StorageError> {
        if at.is_home() {
            return Ok(Found::Folder(None));
        }
        let (file_key, marker_key) = (self.keys.file(at), self.keys.marker(at));
        let (file, marker) = tokio::join!(
            objects::stat(self.bucket(), &file_key),
            objects::stat(self.bucket(), &marker_key)
        );
        if let Some(stat) = file? {
            return Ok(Found::File(stat));
        }
        if let Some(marker) = marker? {
            return Ok(Found::Folder(Some(marker)));
        }
        if self.has_anything_below(at).await? {
            return Ok(Found::Folder(None));
        }
        Ok(Found::Nothing)
    }

    /// The deepest folder above `at` that is a file, if any.
    pub(super) async fn file_above(&self, at: &RemotePath) -> Result<bool, StorageError> {
        let mut above = Vec::new();
        let mut parent = at.parent();
        while !parent.is_home() && !self.is_known_folder(&parent) {
            above.push(parent.clone());
            parent = parent.parent();
        }
        let keys: Vec<Path> = above.iter().map(|p| self.keys.file(p)).collect();
        let stats =
            futures::future::join_all(keys.iter().map(|key| objects::stat(self.bucket(), key)))
                .await;
        for stat in stats {
            if stat?.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Nothing at `at`: [`Failure::ParentNotFolder`] if a file is above it, else
    /// [`Failure::NotFound`].
    pub(super) async fn missing(&self, at: &RemotePath) -> StorageError {
        match self.file_above(at).await {
            Ok(true) => StorageError::of(Failure::ParentNotFolder),
            Ok(false) => StorageError::of(Failure::NotFound),
            Err(error) => error,
        }
    }

    /// Makes sure the folder `at` and every folder above it has a marker, so each stays a
    /// folder when what is in it goes.
    pub(super) async fn keep_folders(&self, at: &RemotePath) -> Result<(), StorageError> {
        let mut folders = Vec::new();
        let mut folder = at.clone();
        while !folder.is_home() && !self.is_known_folder(&folder) {
            folders.push(folder.clone());
            folder = folder.parent();
        }
        let markers: Vec<Path> = folders.iter().map(|f| self.keys.marker(f)).collect();
        let made = futures::future::join_all(markers.iter().map(|marker| {
            objects::create(
                self.bucket(),
                marker,
                Bytes::new(),
                objects::attributes(None, None),
            )
        }))
        .await;
        for outcome in made {
            outcome?;
        }
        let mut known = self.known_folders();
        if known.len() > KNOWN_FOLDERS {
            known.clear();
        }
        known.extend(folders.iter().map(ToString::to_string));
        Ok(())
    }

    /// The folders this session made sure of (marker there, no file in their place).
    fn known_folders(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether this session made sure of the folder `at`.
    fn is_known_folder(&self, at: &RemotePath) -> bool {
        self.known_folders().contains(&at.to_string())
    }

    /// Forgets every folder made sure of: one was removed or moved.
    pub(super) fn forget_folders(&self) {
        self.known_folders().clear();
    }

    /// The SHA-256 of the file at `at` that `stat` describes: recorded, or read and recorded.
    pub(super) async fn sha256_of(
        &self,
        at: &RemotePath,
        stat: &Stat,
    ) -> Result<[u8; 32], StorageError> {
        let sum = self.keys.sum(at);
        if let Some(sha) = hashing::recorded(self.bucket(), &sum, stat).await {
            return Ok(sha);
        }
        hashing::hash_object(self.bucket(), &self.keys.file(at), &sum, stat).await
    }

    /// The entries of the folder `at` sorted by name (`None`: not a folder), each file with
    /// its stat.
    pub(super) async fn children(
        &self,
        at: &RemotePath,
    ) -> Result<Vec<(DirEntry, Option<Stat>)>, StorageError> {
        let prefix = self.keys.folder(at);
        let listed = self
            .bucket()
            .list_with_delimiter(Some(&prefix))
            .await
            .map_err(storage_error)?;
        let folders = listed.common_prefixes.iter().filter_map(|p| {
            let name = p.filename()?.to_owned();
            let child = at.child(&name);
            Some((name, Some(child), None))
        });
        let files = listed
            .objects
            .iter()
            .filter_map(|o| {
                o.location
                    .filename()
                    .map(|n| (n.to_owned(), None, Some(())))
            })
            .filter(|(name, _, _)| name != MARKER);
        let all: Vec<(String, Option<RemotePath>, Option<()>)> = folders.chain(files).collect();
        let lookups = all.into_iter().map(|(name, folder, _)| {
            let bucket = std::sync::Arc::clone(self.bucket());
            let key = match &folder {
                Some(child) => self.keys.marker(child),
                None => self.keys.file(&at.child(&name)),
            };
            async move {
                let stat = objects::stat(&bucket, &key).await?;
                Ok::<_, StorageError>(match folder {
                    Some(_) => Some((folder_entry(name, stat.as_ref()), None)),
                    None => stat.map(|stat| (file_entry(name, &stat), Some(stat))),
                })
            }
        });
        let mut entries: Vec<(DirEntry, Option<Stat>)> = futures::stream::iter(lookups)
            .buffer_unordered(CONCURRENT)
            .try_filter_map(|e| async move { Ok(e) })
            .try_collect()
            .await?;
        // A name both a file and a folder (another tool's doing) shows as the file.
        entries.sort_by(|a, b| {
            a.0.name.cmp(&b.0.name).then(
                b.0.kind
                    .eq(&EntryKind::File)
                    .cmp(&a.0.kind.eq(&EntryKind::File)),
            )
        });
        entries.dedup_by(|a, b| a.0.name == b.0.name);
        Ok(entries)
    }

    /// Every key beneath the folder `at`'s prefix, in batches.
    pub(super) fn everything_below(
        &self,
        at: &RemotePath,
    ) -> futures::stream::BoxStream<'static, Result<Path, StorageError>> {
        let prefix = self.keys.folder(at);
        self.bucket()
            .list(Some(&prefix))
            .map(|meta| meta.map(|m| m.location).map_err(storage_error))
            .boxed()
    }

    /// Deletes `keys`, in batches.
    pub(super) async fn delete_all(&self, keys: Vec<Path>) -> Result<(), StorageError> {
        let stream = futures::stream::iter(keys.into_iter().map(Ok)).boxed();
        let mut deleted = self.bucket().delete_stream(stream);
        while let Some(outcome) = deleted.next().await {
            match outcome {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                Err(error) => return Err(storage_error(error)),
            }
        }
        Ok(())
    }

    /// Moves the file at `from` (as `stat` describes it) to `to`: copied with its metadata,
    /// its recorded SHA-256 moved with it, then deleted.
    pub(super) async fn move_file(
        &self,
        from: &RemotePath,
        to: &RemotePath,
        stat: &Stat,
    ) -> Result<(), StorageError> {
        let (source, target) = (self.keys.file(from), self.keys.file(to));
        self.bucket()
            .copy(&source, &target)
            .await
            .map_err(storage_error)?;
        if stat.sha256.is_none() {
            self.move_sum(from, to, &stat.etag, &target).await?;
        }
        objects::delete(self.bucket(), &source).await
    }
}

/// Where `inner`, beneath `from`, goes when `from` moves to `to`.
pub(super) fn moved_to(from: &RemotePath, to: &RemotePath, inner: &RemotePath) -> RemotePath {
    inner.components()[from.components().len()..]
        .iter()
        .fold(to.clone(), |path, name| path.child(name))
}

impl S3Home {
    /// After the file `from`, whose ETag was `etag`, was copied to `target` (the file `to`):
    /// the SHA-256 recorded for it, if any, recorded for the copy (a copy's ETag is its own).
    pub(super) async fn move_sum(
        &self,
        from: &RemotePath,
        to: &RemotePath,
        etag: &str,
        target: &Path,
    ) -> Result<(), StorageError> {
        let sum = self.keys.sum(from);
        if let Some(sha) = hashing::recorded_for(self.bucket(), &sum, etag).await
            && let Some(copy) = objects::stat(self.bucket(), target).await?
        {
            hashing::record(self.bucket(), &self.keys.sum(to), &copy.etag, &sha).await;
        }
        objects::delete(self.bucket(), &sum).await
    }

    /// Walks the folder `at` in `ls -R` order (see [`Home::walk_tree`]).
    pub(super) async fn walk(
        &self,
        at: &RemotePath,
        hash: bool,
        out: &mpsc::Sender<TreeBatch>,
    ) -> Result<(), StorageError> {
        let mut batch = Batcher::default();
        let mut pending: Vec<std::vec::IntoIter<RemotePath>> = Vec::new();
        let mut folder = Some(at.clone());
        while let Some(current) = folder.take() {
            let mut subfolders = Vec::new();
            for (entry, stat) in self.children(&current).await? {
                let child = current.child(&entry.name);
                let sha256 = match (&stat, hash) {
                    (Some(stat), true) => Some(self.sha256_of(&child, stat).await?),
                    _ => None,
                };
                let relative = child.components()[at.components().len()..].join("/");
                if entry.kind == EntryKind::Dir {
                    subfolders.push(child);
                }
                let tree_entry = TreeEntry {
                    path: relative,
                    kind: entry.kind,
                    size: entry.size,
                    modified_secs: stat.as_ref().map_or(entry.modified, |s| s.modified.0),
                    modified_nanos: stat.as_ref().map_or(0, |s| s.modified.1),
                    sha256,
                };
                if !batch.add(tree_entry, out).await {
                    return Ok(());
                }
            }
            pending.push(subfolders.into_iter());
            while let Some(next) = pending.last_mut() {
                if let Some(sub) = next.next() {
                    folder = Some(sub);
                    break;
                }
                pending.pop();
            }
        }
        batch.flush(out).await;
        Ok(())
    }
}

/// Entries gathered for one batch of a tree walk.
#[derive(Default)]
struct Batcher {
    /// The entries.
    entries: Vec<TreeEntry>,
    /// Their path bytes.
    bytes: usize,
}

impl Batcher {
    /// Adds an entry, sending the batch when full; `false` once nobody listens.
    async fn add(&mut self, entry: TreeEntry, out: &mpsc::Sender<TreeBatch>) -> bool {
        let full =
            self.entries.len() >= BATCH_ENTRIES || self.bytes + entry.path.len() > BATCH_PATH_BYTES;
        if full && !self.flush(out).await {
            return false;
        }
        self.bytes += entry.path.len();
        self.entries.push(entry);
        true
    }

    /// Sends what is gathered; `false` once nobody listens.
    async fn flush(&mut self, out: &mpsc::Sender<TreeBatch>) -> bool {
        self.bytes = 0;
        let entries = std::mem::take(&mut self.entries);
        entries.is_empty() || out.send(Ok(entries)).await.is_ok()
    }
}

/// Sends the object at `key` from `offset` in chunks of `chunk_len`; with no `known` digest,
/// reads it from the start to hash it whole (only what is past `offset` is sent). The digest
/// when it was hashed, once everything was sent.
pub(super) async fn send_object(
    home: &S3Home,
    key: &Path,
    stat: &Stat,
    offset: u64,
    chunk_len: usize,
    known: Option<[u8; 32]>,
    chunks: mpsc::Sender<Bytes>,
) -> Result<Option<[u8; 32]>, StorageError> {
    let from = if known.is_some() { offset } else { 0 };
    let mut position = from;
    let mut hash = known.is_none().then(hashing::Streaming::default);
    let mut pending = BytesMut::new();
    let mut gone = false;
    if stat.size > from {
        let mut body = hashing::stream(home.bucket(), key, &stat.etag, from).await?;
        while let Some(piece) = body.next().await {
            let mut piece = piece?;
            let start = position;
            position += piece.len() as u64;
            if let Some(hash) = hash.as_mut() {
                hash.feed(&piece).await?;
            }
            if position <= offset {
                continue;
            }
            if start < offset {
                let skip = usize::try_from(offset - start).unwrap_or(piece.len());
                piece = piece.slice(skip..);
            }
            pending.extend_from_slice(&piece);
            while pending.len() >= chunk_len {
                let chunk = pending.split_to(chunk_len).freeze();
                if chunks.send(chunk).await.is_err() {
                    gone = true;
                    break;
                }
            }
            if gone {
                break;
            }
        }
    }
    if gone {
        return Ok(None);
    }
    if !pending.is_empty() && chunks.send(pending.freeze()).await.is_err() {
        return Ok(None);
    }
    if position != stat.size.max(from) {
        return Err(StorageError::new(
            Failure::Changed,
            format!("{key}: read to {position} of {}", stat.size),
        ));
    }
    match hash {
        Some(hash) => Ok(Some(hash.finish().await?)),
        None => Ok(None),
    }
}
