//! The storage seam: what a user's home can do, whatever holds it. Handlers and the session
//! speak only to a [`Home`]; [`local`] keeps homes on the local disk (cap-std beneath the root,
//! the served-digest lists), [`memory`] in memory (tests, fuzzing); every store passes the same
//! [`conformance`] suite. Paths are [`RemotePath`]s, already checked by the path rules; what a
//! store reports going wrong is a [`StorageError`], which only [`crate::error`] turns into
//! words for the client.
//!
//! A [`Store`] opens homes and expires what uploads left behind; a [`Home`] does everything
//! a session asks of one user's files: describe, list, make folders, remove, rename, walk and
//! remove trees, read, and upload ([`upload`]: partials that resume, batches of whole files).

pub mod local;
pub mod memory;
pub mod s3;
pub mod upload;
pub mod usage_walk;

#[cfg(test)]
mod conformance;
#[cfg(test)]
pub(crate) mod fixtures;

use ftp_proto::{DirEntry, PartialInfo, TreeEntry};

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

pub use crate::failure::{Failure, StorageError};
use crate::jail::RemotePath;
pub use upload::{
    Conflict, HeldUpload, PartialUpload, SettlingBatch, UploadLimits, UploadTarget, WholeBatch,
    WholeFile, WholeOutcome, WholeStage,
};

/// Where every user's home is kept.
#[async_trait::async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Opens `user`'s home at `home` (a path relative to the store's root), making it on first
    /// login.
    async fn open_home(&self, user: &str, home: &Path) -> Result<Arc<dyn Home>, StorageError>;

    /// Removes unfinished uploads, and what was saved of them and of files read, left alone for
    /// longer than `ttl`; how many.
    async fn expire(&self, ttl: Duration) -> Result<usize, StorageError>;
}

/// Most entries per batch of a tree walk.
pub const BATCH_ENTRIES: usize = 1000;

/// Most path bytes per batch of a tree walk: far below the frame limit even at the longest
/// paths.
pub const BATCH_PATH_BYTES: usize = 256 * 1024;

/// What a tree walk hands over: a batch of entries, or the failure that ended the walk.
pub type TreeBatch = Result<Vec<TreeEntry>, StorageError>;

/// What a tree removal took away.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Removed {
    /// Files and links.
    pub files: u64,
    /// Folders, the removed one included.
    pub folders: u64,
}

/// A file being read for a download: what it is, and its data as it comes.
pub struct Reading {
    /// The file's size.
    pub size: u64,
    /// Its modification time: seconds since the epoch.
    pub modified_secs: i64,
    /// Nanoseconds within that second.
    pub modified_nanos: u32,
    /// Where the data starts: the offset asked for, or 0 when that was past the end.
    pub offset: u64,
    /// How far the content's hash was known without reading it (`None`: from byte 0).
    pub known: Option<u64>,
    /// The data from `offset` to the end, in chunks of the length asked for.
    pub chunks: mpsc::Receiver<bytes::Bytes>,
    /// The whole file's SHA-256 once everything was read; a failure if the file changed.
    pub sha256: futures::future::BoxFuture<'static, Result<[u8; 32], StorageError>>,
}

/// A path described: what is there, and a regular file's SHA-256 when asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Described {
    /// Type, size and modification time (a link described, not followed).
    pub entry: DirEntry,
    /// The content's SHA-256, for a regular file.
    pub sha256: Option<[u8; 32]>,
}

/// One user's home in a store. Every method may take its time (a disk, a network): none
/// blocks the async runtime.
#[async_trait::async_trait]
pub trait Home: Send + Sync + std::fmt::Debug {
    /// What is at `path`, a link described and never followed; with `hash`, a regular file's
    /// SHA-256 too (a file that is not regular is described, never opened).
    async fn describe(&self, path: &RemotePath, hash: bool) -> Result<Described, StorageError>;

    /// The entries of the folder at `path` sorted by name (the server's own entries never
    /// shown); a path that is not a folder lists as its one entry.
    async fn list(&self, path: &RemotePath) -> Result<Vec<DirEntry>, StorageError>;

    /// Makes the folder at `path` and every missing parent; `false` if a folder was there.
    /// Something other than a folder there is [`Failure::InTheWay`].
    async fn make_dir(&self, path: &RemotePath) -> Result<bool, StorageError>;

    /// Removes the file, link (never what it points to) or empty folder at `path`; a folder
    /// that is not empty is [`Failure::NotEmpty`]. The home itself is never passed.
    async fn remove(&self, path: &RemotePath) -> Result<(), StorageError>;

    /// Moves what is at `from` (a link as the link) to `to`, atomically and durably; neither
    /// is the home. `to`'s folder must exist ([`Failure::NoSuchFolder`]); something at `to` is
    /// [`Failure::AlreadyThere`] unless `replace`, and even then only a file gives way: a folder
    /// there is [`Failure::FolderInTheWay`], a folder over a file [`Failure::FolderOverFile`].
    /// A failure at the destination says so ([`StorageError::at`]).
    async fn rename(
        &self,
        from: &RemotePath,
        to: &RemotePath,
        replace: bool,
    ) -> Result<(), StorageError>;

    /// Walks the tree beneath the folder at `path` in `ls -R` order: the folder's entries
    /// together in byte order, then each subfolder's the same way, depth first. Entries go to
    /// `out` in batches of at most [`BATCH_ENTRIES`] entries and [`BATCH_PATH_BYTES`] path
    /// bytes, paths relative to `path`; with `hash`, each regular file's SHA-256 too. Links are
    /// listed, never followed; a folder that cannot be read ends the walk with its failure as
    /// the last message (a file at `path` is [`Failure::NotAFolder`]). Memory stays bounded
    /// whatever the tree's size. Returns when the walk ended, or soon after `out` is closed.
    async fn walk_tree(&self, path: &RemotePath, hash: bool, out: mpsc::Sender<TreeBatch>);

    /// Removes `path` and, for a folder, everything beneath it, deepest first, links as links;
    /// never the home. A folder swapped for something else meanwhile is
    /// [`Failure::Changed`], with nothing removed.
    async fn remove_tree(&self, path: &RemotePath) -> Result<Removed, StorageError>;

    /// Starts reading the regular file at `path` from `offset` (from 0 when past its end) in
    /// chunks of `chunk_len`, hashing the whole content on the way; anything but a regular
    /// file is [`Failure::NotRegular`] and never opened in a way that could wait. The home
    /// itself is never passed.
    async fn read(
        &self,
        path: &RemotePath,
        offset: u64,
        chunk_len: usize,
    ) -> Result<Reading, StorageError>;

    /// This user's unfinished uploads, by remote path.
    async fn partials(&self) -> Result<Vec<PartialInfo>, StorageError>;

    /// Drops every unfinished upload of this user going to `path`; how many there were. The
    /// caller holds the destination's lock, so no live upload is among them.
    async fn drop_partials(&self, path: &RemotePath) -> Result<usize, StorageError>;

    /// Makes the missing folders above an upload's destination and judges what is there
    /// ([`upload::judge`]): a regular file to be compared is hashed (`Some`). No room for a
    /// folder is [`Failure::NoSpace`].
    async fn check_destination(
        &self,
        path: &RemotePath,
        size: u64,
        conflict: Conflict,
    ) -> Result<Option<[u8; 32]>, StorageError>;

    /// Opens the partial `target.partial`, or resumes it from what it holds (one longer than
    /// the size starts afresh, with its saved hash states), once the rest is known to fit
    /// ([`Failure::NoRoom`]) and, for a new one, the user's idle partials are under
    /// `limits.max_partials` ([`Failure::TooManyUnfinished`]). No room to start it is
    /// [`Failure::NoSpace`].
    async fn open_upload(
        &self,
        target: UploadTarget,
        limits: UploadLimits,
    ) -> Result<Box<dyn PartialUpload>, StorageError>;

    /// Starts a batch of whole files, syncing them when `durable`; `slot` (0 or 1) keeps its
    /// partials apart from the batch before it, which may still be settling.
    fn start_batch(&self, slot: usize, durable: bool) -> Box<dyn WholeBatch>;

    /// What this user stores, for the quota: every non-folder's size in the home (a walk, in
    /// bounded memory) plus what the user's unfinished uploads hold. Any store has it through
    /// [`Home::walk_tree`] and [`Home::partials`]; one that keeps a count may answer faster.
    async fn usage(&self) -> Result<usage_walk::Usage, StorageError> {
        usage_walk::count(self).await
    }
}
