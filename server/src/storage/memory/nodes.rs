//! What a memory home holds, and the rules for finding things in it: the tree of paths (each a
//! folder, a file or a link) and the unfinished uploads, each behind its own short-held lock.
//! A leaf: every other part of the memory store works on these.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use ftp_proto::{DirEntry, EntryKind};
use sha2::Sha256;

use crate::jail::RemotePath;
use crate::storage::upload::Found;
use crate::storage::{Failure, StorageError};

/// What is at one path of a memory home.
#[derive(Debug, Clone)]
pub(super) enum Node {
    /// A folder (its entries are the paths beneath it).
    Folder { modified: i64 },
    /// A regular file.
    File { content: Bytes, modified: i64 },
    /// A symbolic link to `target`.
    Link { target: String, modified: i64 },
}

/// Every path of a home but the home's own (its components), each with what is there.
pub(super) type Nodes = BTreeMap<Vec<String>, Node>;

/// An unfinished upload held in memory.
#[derive(Debug, Clone)]
pub(super) struct Partial {
    /// Which opening of the name this is: an upload holding an older one finds it gone.
    pub(super) id: u64,
    /// The destination, as the user named it.
    pub(super) shown: String,
    /// The declared size.
    pub(super) size: u64,
    /// What it holds.
    pub(super) content: Vec<u8>,
    /// The hash state of `content`.
    pub(super) hash: Sha256,
    /// When it was last opened or written to.
    pub(super) touched: Instant,
}

/// The unfinished uploads of a home, by partial name, and the id the next one gets.
#[derive(Debug, Default)]
pub(super) struct Partials {
    /// By partial name.
    pub(super) by_name: BTreeMap<String, Partial>,
    /// The id of the next partial opened.
    pub(super) next_id: u64,
}

/// Everything one memory home holds. Where both locks are taken, `nodes` is taken first.
#[derive(Debug, Default)]
pub(super) struct Files {
    /// The tree.
    nodes: Mutex<Nodes>,
    /// The unfinished uploads.
    partials: Mutex<Partials>,
}

impl Files {
    /// The tree, even if a panicking test poisoned it.
    pub(super) fn nodes(&self) -> MutexGuard<'_, Nodes> {
        self.nodes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The unfinished uploads, even if a panicking test poisoned them.
    pub(super) fn partials(&self) -> MutexGuard<'_, Partials> {
        self.partials.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Seconds since the epoch now.
pub(super) fn now() -> i64 {
    seconds(SystemTime::now())
}

/// Seconds since the epoch at `time` (0 before it).
pub(super) fn seconds(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A path's components.
pub(super) fn key(path: &RemotePath) -> Vec<String> {
    path.components().to_vec()
}

/// What is at `key`: the home is a folder; a parent that is missing is not found, one that is
/// not a folder is [`Failure::ParentNotFolder`].
pub(super) fn look(nodes: &Nodes, key: &[String]) -> Result<Node, StorageError> {
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
pub(super) fn make_parents(nodes: &mut Nodes, key: &[String]) -> Result<(), StorageError> {
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

/// The folder at `key` (the home for the empty key): missing is not found, anything else is a
/// parent that is not a folder.
pub(super) fn folder(nodes: &Nodes, key: &[String]) -> Result<(), StorageError> {
    match look(nodes, key)? {
        Node::Folder { .. } => Ok(()),
        _ => Err(StorageError::of(Failure::ParentNotFolder)),
    }
}

/// What stands at `key`, whose parents are folders, as an upload sees it; a regular file's
/// content with it.
pub(super) fn found(nodes: &Nodes, key: &[String]) -> (Found, Option<Bytes>) {
    match nodes.get(key) {
        None => (Found::Nothing, None),
        Some(Node::Folder { .. }) => (Found::Folder, None),
        Some(Node::File { content, .. }) => {
            (Found::Regular(content.len() as u64), Some(content.clone()))
        }
        Some(Node::Link { target, .. }) => (Found::Other(target.len() as u64), None),
    }
}

/// Puts an upload's `content` at `key` as a file modified at `modified` (seconds), the way a
/// rename onto the disk would: the folder above must exist; a folder there is never replaced,
/// anything else only when `replace` ([`Failure::AlreadyThere`] otherwise).
pub(super) fn place(
    nodes: &mut Nodes,
    key: &[String],
    content: Bytes,
    modified: i64,
    replace: bool,
) -> Result<(), StorageError> {
    check_place(nodes, key, replace)?;
    nodes.insert(key.to_vec(), Node::File { content, modified });
    Ok(())
}

/// Whether [`place`] at `key` would succeed, without placing anything.
pub(super) fn check_place(
    nodes: &Nodes,
    key: &[String],
    replace: bool,
) -> Result<(), StorageError> {
    let Some((_, parent)) = key.split_last() else {
        return Err(StorageError::of(Failure::InvalidName));
    };
    folder(nodes, parent)?;
    match nodes.get(key) {
        None => Ok(()),
        Some(_) if !replace => Err(StorageError::of(Failure::AlreadyThere)),
        Some(Node::Folder { .. }) => Err(StorageError::of(Failure::FolderInTheWay)),
        Some(_) => Ok(()),
    }
}

/// The wire's description of `node` named `name`.
pub(super) fn entry(name: String, node: &Node) -> DirEntry {
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

/// The children of the folder at `key`, in name order (keys sort component by component).
pub(super) fn children<'a>(
    nodes: &'a Nodes,
    key: &'a [String],
) -> impl Iterator<Item = (&'a Vec<String>, &'a Node)> + 'a {
    nodes
        .range(key.to_vec()..)
        .take_while(move |(k, _)| k.starts_with(key))
        .filter(move |(k, _)| k.len() == key.len() + 1)
}
