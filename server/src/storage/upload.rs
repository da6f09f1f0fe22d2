//! What a store does with uploads, whatever holds them. A large file goes into a partial that
//! outlives the connection ([`Home::open_upload`]): data is appended in order
//! ([`PartialUpload`]), and the whole, once its SHA-256 is known ([`HeldUpload`]), is put in
//! place under its name or abandoned. Small files go in batches ([`Home::start_batch`]): each
//! file whole with its hash, made durable and visible together, one outcome per file in order.
//! How a file already at the destination is treated is [`Conflict`]; [`judge`] is that rule,
//! the same for every store.
//!
//! [`Home::open_upload`]: super::Home::open_upload
//! [`Home::start_batch`]: super::Home::start_batch

use std::collections::HashSet;
use std::time::SystemTime;

use bytes::Bytes;

use super::{Failure, StorageError};
use crate::jail::RemotePath;

/// What to do with a file already at the destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    /// No `force`: a regular file of the same size is compared (its hash is answered), any
    /// other existing file refused.
    Refuse,
    /// `force`: a regular file of the same size is compared, any other replaced.
    Compare,
    /// `force`, after the client compared and asked to replace: replaced, unhashed.
    Replace,
}

impl Conflict {
    /// How a request with or without `force` starts.
    pub fn of(force: bool) -> Self {
        if force { Self::Compare } else { Self::Refuse }
    }
}

/// What stands at a destination, as a store found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// Nothing.
    Nothing,
    /// A folder.
    Folder,
    /// A regular file of this size.
    Regular(u64),
    /// Something else (a link, a FIFO) of this size.
    Other(u64),
}

/// What becomes of an upload of `size` bytes given what was `found` at its destination, as
/// `conflict` says: `Ok(true)` when the file there is to be hashed and compared, `Ok(false)`
/// when the upload may go ahead (nothing there, or a file to be replaced). A folder there is
/// [`Failure::FolderAtDestination`]; another file without `force`,
/// [`Failure::FileAtDestination`].
pub fn judge(found: Found, size: u64, conflict: Conflict) -> Result<bool, Failure> {
    match found {
        Found::Nothing => Ok(false),
        Found::Folder => Err(Failure::FolderAtDestination),
        Found::Regular(len) if len == size && conflict != Conflict::Replace => Ok(true),
        Found::Regular(len) | Found::Other(len) if conflict == Conflict::Refuse => {
            Err(Failure::FileAtDestination(len))
        }
        Found::Regular(_) | Found::Other(_) => Ok(false),
    }
}

/// One upload into a partial, as the server names it.
#[derive(Debug, Clone)]
pub struct UploadTarget {
    /// The destination.
    pub path: RemotePath,
    /// The partial's name: the same for the same user, path, size and local file, so a rerun
    /// of the same command resumes.
    pub partial: String,
    /// The declared size.
    pub size: u64,
    /// The client's modification time, which the stored file gets (`None`: the time it was
    /// written).
    pub modified: Option<SystemTime>,
}

/// The limits an upload is held to before any data moves.
#[derive(Debug, Clone, Default)]
pub struct UploadLimits {
    /// Most unfinished uploads a user may keep that nobody is writing.
    pub max_partials: usize,
    /// Partials being written by live uploads (this one's included): they are not idle.
    pub in_use: HashSet<String>,
}

/// A partial upload open for appending.
#[async_trait::async_trait]
pub trait PartialUpload: Send {
    /// Where the data continues: what the partial held already (0 for a fresh one).
    fn offset(&self) -> u64;

    /// How far the saved hash state reached: bytes below it are not read again.
    fn restored(&self) -> u64;

    /// What binds the saved hash states to this partial, so none is ever applied to other
    /// contents: on the local disk a digest of its name, device and inode (an object store
    /// would use its ETag).
    fn identity(&self) -> [u8; 32];

    /// Appends `data` at the end; `false` once the store failed (what [`finish`] says).
    ///
    /// [`finish`]: PartialUpload::finish
    async fn append(&mut self, data: Bytes) -> bool;

    /// Waits until everything appended is stored, so the partial is whole to its length, and
    /// hands it over with its SHA-256. A failure keeps what was stored, to resume.
    async fn finish(self: Box<Self>) -> Result<Box<dyn HeldUpload>, StorageError>;
}

/// A partial received whole, with the SHA-256 of its content.
#[async_trait::async_trait]
pub trait HeldUpload: Send {
    /// The content's SHA-256.
    fn sha256(&self) -> [u8; 32];

    /// Puts it in place under its destination, with the client's time; `durable` syncs it
    /// first. Without `replace`, a file that appeared there meanwhile is
    /// [`Failure::AlreadyThere`]; on any failure the partial is kept, to finish later.
    async fn commit(self: Box<Self>, durable: bool, replace: bool) -> Result<(), StorageError>;

    /// Drops the partial and what was saved of it.
    async fn abandon(self: Box<Self>);
}

/// A small file sent whole, for a batch.
#[derive(Debug, Clone)]
pub struct WholeFile {
    /// The destination.
    pub path: RemotePath,
    /// The partial's name.
    pub partial: String,
    /// Replace a file at the destination.
    pub force: bool,
    /// The client's modification time.
    pub modified: Option<SystemTime>,
    /// The content.
    pub data: Bytes,
    /// The client's SHA-256 of the content.
    pub sha256: [u8; 32],
}

/// Where in its handling a file of a batch failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WholeStage {
    /// Making its folder.
    Folder,
    /// Looking at its destination, or the room for it.
    Destination,
    /// Writing it.
    Write,
    /// Putting it in place.
    Place,
    /// Making its name durable.
    Sync,
}

/// What became of one file of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WholeOutcome {
    /// Stored, in place and (if asked) durable.
    Landed,
    /// A regular file of the same size is there and was left alone: its SHA-256 (identical
    /// content, or a conflict without `force`).
    Existing([u8; 32]),
    /// The data does not match the client's SHA-256: nothing was stored.
    Mismatch,
    /// It failed, at this stage; nothing of it was stored.
    Failed(WholeStage, StorageError),
}

/// A batch of whole files being stored, in the order handed over.
#[async_trait::async_trait]
pub trait WholeBatch: Send {
    /// Queues a file (waiting while the store is behind).
    async fn store(&mut self, file: WholeFile);

    /// Starts storing what is queued now.
    async fn hand_over(&mut self);

    /// Asks the store to make the batch durable and visible once everything is stored.
    async fn close(self: Box<Self>) -> Box<dyn SettlingBatch>;
}

/// A closed batch being made durable and visible.
#[async_trait::async_trait]
pub trait SettlingBatch: Send {
    /// Waits until every file is settled: one outcome per file, in order. Cancel-safe;
    /// complete it once only.
    async fn outcomes(&mut self) -> Result<Vec<WholeOutcome>, StorageError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_conflict_rule() {
        use Conflict::*;
        assert_eq!(judge(Found::Nothing, 3, Refuse), Ok(false));
        for conflict in [Refuse, Compare, Replace] {
            assert_eq!(
                judge(Found::Folder, 3, conflict),
                Err(Failure::FolderAtDestination)
            );
        }
        assert_eq!(judge(Found::Regular(3), 3, Refuse), Ok(true));
        assert_eq!(judge(Found::Regular(3), 3, Compare), Ok(true));
        assert_eq!(judge(Found::Regular(3), 3, Replace), Ok(false));
        assert_eq!(
            judge(Found::Regular(4), 3, Refuse),
            Err(Failure::FileAtDestination(4))
        );
        assert_eq!(
            judge(Found::Other(3), 3, Refuse),
            Err(Failure::FileAtDestination(3))
        );
        assert_eq!(judge(Found::Regular(4), 3, Compare), Ok(false));
        assert_eq!(judge(Found::Other(3), 3, Compare), Ok(false));
    }
}
