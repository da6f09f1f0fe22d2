//! A batch of whole files on the local disk: one blocking thread takes the batch's files in
//! order, in groups through a bounded queue, so the connection keeps reading while the disk
//! works and no file costs a trip to a blocking thread and back. For each file it makes the
//! folder, checks the destination, refuses a file the disk's free space (less its reserve,
//! see [`super::space`]) cannot hold, verifies the SHA-256 and writes the partial; a folder's
//! creation and handle are done once per batch, for all its files. Closed, it makes the batch
//! durable and visible ([`settle`]) and yields the outcomes, while the next batch can already
//! be stored. Dropped without settling (the connection is gone), it stops and removes the
//! partials it wrote. A partial that cannot be written whole (a full disk) is removed at once.

mod settle;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::LocalHome;
use super::partial::inspect;
use crate::failure::errno::classify;
use crate::storage::{
    Conflict, Failure, SettlingBatch, StorageError, WholeBatch, WholeFile, WholeOutcome, WholeStage,
};
use settle::{Pending, Stored, settle};

/// Files are handed to the store thread in groups, so it is woken once per group rather than
/// once per file: a group goes when it holds this many bytes of file data...
const GROUP_BYTES: usize = 256 << 10;

/// ...or this many files, or when the connection has nothing more waiting
/// ([`WholeBatch::hand_over`]).
const GROUP_FILES: usize = 16;

/// Groups queued between the connection and the store thread: with the group being filled,
/// a few MiB of file data per connection at most.
const QUEUE: usize = 2;

/// What the store thread is handed, in order.
enum Item {
    /// A file to store.
    File(Box<WholeFile>),
    /// Everything is queued: make the batch durable and visible.
    Settle,
}

/// Where a batch's files go: the home, the folder of their partials, and how to make them.
struct Site {
    /// The home.
    home: LocalHome,
    /// The batch's folder of partials.
    partials: Arc<cap_std::fs::Dir>,
}

/// The store thread of a batch being received.
pub struct LocalBatch {
    /// The queue to the thread.
    groups: mpsc::Sender<Vec<Item>>,
    /// The group being filled.
    group: Vec<Item>,
    /// Bytes of file data in it.
    group_bytes: usize,
    /// The thread: the outcomes once settled, `None` when dropped without settling.
    thread: JoinHandle<Option<Vec<WholeOutcome>>>,
}

impl LocalBatch {
    /// Starts a thread storing files beneath `home`, partials in its whole-file folder
    /// `slot`, syncing when `durable`.
    pub fn start(home: &LocalHome, slot: usize, durable: bool) -> LocalBatch {
        let partials = Arc::clone(&home.shared.whole_partials[slot % 2]);
        let site = Site {
            home: home.clone(),
            partials,
        };
        let (groups, mut incoming) = mpsc::channel::<Vec<Item>>(QUEUE);
        let thread = tokio::task::spawn_blocking(move || {
            let mut folders = Folders::default();
            let mut pending = Vec::new();
            while let Some(group) = incoming.blocking_recv() {
                for item in group {
                    match item {
                        Item::File(file) => pending.push(store(&site, &mut folders, *file)),
                        Item::Settle => {
                            return Some(settle(&site.home.dir, &site.partials, pending, durable));
                        }
                    }
                }
            }
            abandon(&site.partials, pending);
            None
        });
        LocalBatch {
            groups,
            group: Vec::with_capacity(GROUP_FILES),
            group_bytes: 0,
            thread,
        }
    }
}

#[async_trait::async_trait]
impl WholeBatch for LocalBatch {
    async fn store(&mut self, file: WholeFile) {
        self.group_bytes += file.data.len();
        self.group.push(Item::File(Box::new(file)));
        if self.group.len() >= GROUP_FILES || self.group_bytes >= GROUP_BYTES {
            self.hand_over().await;
        }
    }

    async fn hand_over(&mut self) {
        if self.group.is_empty() {
            return;
        }
        let group = std::mem::replace(&mut self.group, Vec::with_capacity(GROUP_FILES));
        self.group_bytes = 0;
        // A thread that is gone panicked: `outcomes` reports it.
        let _ = self.groups.send(group).await;
    }

    async fn close(mut self: Box<Self>) -> Box<dyn SettlingBatch> {
        self.group.push(Item::Settle);
        self.hand_over().await;
        Box::new(LocalSettling {
            thread: self.thread,
        })
    }
}

/// A batch its store thread is settling.
struct LocalSettling {
    /// The thread: the outcomes once settled.
    thread: JoinHandle<Option<Vec<WholeOutcome>>>,
}

#[async_trait::async_trait]
impl SettlingBatch for LocalSettling {
    async fn outcomes(&mut self) -> Result<Vec<WholeOutcome>, StorageError> {
        match (&mut self.thread).await {
            Ok(Some(outcomes)) => Ok(outcomes),
            Ok(None) => Err(StorageError::new(Failure::Internal, "store thread stopped")),
            Err(error) => Err(StorageError::new(Failure::Internal, error.to_string())),
        }
    }
}

/// Folders kept open per batch at most: beyond them, a file is found and renamed by its path
/// from the home, so a batch spread over many folders cannot hold many descriptors.
const MOST_FOLDERS: usize = 16;

/// The folders files of this batch went to, each created once and (up to [`MOST_FOLDERS`])
/// opened once.
#[derive(Default)]
struct Folders {
    /// By path relative to the home (empty for the home itself).
    opened: HashMap<PathBuf, Arc<cap_std::fs::Dir>>,
}

impl Folders {
    /// Where `destination` (relative to `home`) is to be looked up and renamed to: its folder,
    /// created (with its parents) when missing, and its name there; or, once
    /// [`MOST_FOLDERS`] are open, the home and the whole path. Blocking.
    fn place(
        &mut self,
        home: &Arc<cap_std::fs::Dir>,
        destination: &Path,
        dir_mode: u32,
    ) -> std::io::Result<(Arc<cap_std::fs::Dir>, PathBuf)> {
        let (Some(parent), Some(name)) = (destination.parent(), destination.file_name()) else {
            return Ok((Arc::clone(home), destination.to_path_buf()));
        };
        if parent.as_os_str().is_empty() {
            return Ok((Arc::clone(home), PathBuf::from(name)));
        }
        if let Some(folder) = self.opened.get(parent) {
            return Ok((Arc::clone(folder), PathBuf::from(name)));
        }
        crate::modes::create_dir_all(home, parent, dir_mode)?;
        if self.opened.len() >= MOST_FOLDERS {
            return Ok((Arc::clone(home), destination.to_path_buf()));
        }
        let folder = Arc::new(home.open_dir(parent)?);
        self.opened
            .insert(parent.to_path_buf(), Arc::clone(&folder));
        Ok((folder, PathBuf::from(name)))
    }
}

/// Makes the folder, checks the destination, verifies the content and writes the partial;
/// what the file's outcome waits on. Blocking.
fn store(site: &Site, folders: &mut Folders, file: WholeFile) -> Pending {
    let failed = |stage| move |error| Pending::Ready(WholeOutcome::Failed(stage, error));
    let modes = site.home.shared.modes;
    let (folder, name) = match folders.place(&site.home.dir, &file.path.relative(), modes.dir) {
        Ok(placed) => placed,
        Err(error) => return failed(WholeStage::Folder)(classify(&error)),
    };
    let size = file.data.len() as u64;
    match inspect(&folder, &name, size, Conflict::of(file.force)) {
        // With `force`, different content is replaced; identical content is left untouched.
        Ok(Some(existing)) if !file.force || existing == file.sha256 => {
            return Pending::Ready(WholeOutcome::Existing(existing));
        }
        Ok(_) => {}
        Err(error) => return failed(WholeStage::Destination)(error),
    }
    let reserve = site.home.shared.reserve;
    if let Err(error) = super::space::guard(&site.partials, reserve, size, 0) {
        return failed(WholeStage::Destination)(error);
    }
    if <[u8; 32]>::from(Sha256::digest(&file.data)) != file.sha256 {
        return Pending::Ready(WholeOutcome::Mismatch);
    }
    if let Err(error) = write_partial(&site.partials, &file, modes.file) {
        // Nothing would reuse what was written of it: a rerun sends the file again.
        let _ = site.partials.remove_file(&file.partial);
        return failed(WholeStage::Write)(classify(&error));
    }
    Pending::Stored(Stored {
        partial: file.partial,
        folder,
        name,
        force: file.force,
    })
}

/// The batch will not be settled (its connection is gone): removes the partials it wrote, which
/// nothing would reuse (a rerun sends the files again). Blocking.
fn abandon(partials: &cap_std::fs::Dir, pending: Vec<Pending>) {
    for item in pending {
        if let Pending::Stored(stored) = item {
            let _ = partials.remove_file(&stored.partial);
        }
    }
}

/// Writes `file`'s data as its partial, with `mode` and the client's modification time when
/// known (the batch's `syncfs` makes it durable). Blocking.
fn write_partial(partials: &cap_std::fs::Dir, file: &WholeFile, mode: u32) -> std::io::Result<()> {
    let mut options = cap_std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    let mut written = partials.open_with(&file.partial, &options)?.into_std();
    crate::modes::set_file_mode(&written, mode)?;
    written.write_all(&file.data)?;
    if let Some(modified) = file.modified {
        written.set_modified(modified)?;
    }
    Ok(())
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
