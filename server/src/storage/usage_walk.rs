//! What a home stores, counted through the seam itself: a walk of the whole home (sizes of
//! everything that is not a folder, in bounded memory) and what the user's unfinished uploads
//! hold. [`super::Home::usage`] answers with it unless a store keeps its own count; the quota
//! and its cache are in [`crate::usage`].

use ftp_proto::TreeEntry;
use tokio::sync::mpsc;

use super::{Failure, Home, StorageError, TreeBatch};
use crate::jail::RemotePath;

/// What a user stores.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Bytes of the files in the home plus what unfinished uploads hold.
    pub bytes: u64,
    /// Files, links and other non-folders in the home.
    pub files: u64,
    /// Of `bytes`, what unfinished uploads hold.
    pub partial_bytes: u64,
}

/// Counts what `home` stores: a walk of the whole home (sizes of everything that is not a
/// folder) and the held bytes of the user's unfinished uploads.
pub async fn count<H: Home + ?Sized>(home: &H) -> Result<Usage, StorageError> {
    let root = RemotePath::parse("")
        .map_err(|refusal| StorageError::new(Failure::Internal, refusal.message))?;
    let (batches, mut received) = mpsc::channel::<TreeBatch>(2);
    let walk = home.walk_tree(&root, false, batches);
    let sum = async {
        let mut usage = Usage::default();
        while let Some(batch) = received.recv().await {
            for entry in batch? {
                add(&mut usage, &entry);
            }
        }
        Ok::<Usage, StorageError>(usage)
    };
    let ((), summed) = tokio::join!(walk, sum);
    let mut usage = summed?;
    for partial in home.partials().await? {
        usage.bytes = usage.bytes.saturating_add(partial.held);
        usage.partial_bytes = usage.partial_bytes.saturating_add(partial.held);
    }
    Ok(usage)
}

/// Adds one walked entry to `usage`.
fn add(usage: &mut Usage, entry: &TreeEntry) {
    if entry.kind != ftp_proto::EntryKind::Dir {
        usage.bytes = usage.bytes.saturating_add(entry.size);
        usage.files += 1;
    }
}
