//! A batch of whole files in memory, with the local disk's outcomes: each file, as it is
//! stored, has its folder made, its destination judged ([`judge`], a same-size regular file
//! hashed) and its content verified; closed, the batch puts every stored file in place in
//! order, where a file that appeared meanwhile is [`Failure::AlreadyThere`] without `force`
//! and a folder is never replaced. Dropped unsettled, nothing of it lands.
//!
//! [`Failure::AlreadyThere`]: crate::storage::Failure::AlreadyThere

use std::sync::Arc;

use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::nodes::{Files, found, key, make_parents, now, place, seconds};
use crate::storage::upload::judge;
use crate::storage::{
    Conflict, Failure, SettlingBatch, StorageError, WholeBatch, WholeFile, WholeOutcome, WholeStage,
};

/// One file of the batch: its outcome, or what it waits on to land.
enum Pending {
    /// Known already.
    Ready(WholeOutcome),
    /// Verified, to be put in place when the batch closes.
    Stored {
        /// Where it goes.
        key: Vec<String>,
        /// Its content.
        data: Bytes,
        /// Its modification time, in seconds.
        modified: i64,
        /// Replace a file at the destination.
        force: bool,
    },
}

/// A batch of whole files going into a memory home.
pub struct MemoryBatch {
    /// The home's files.
    files: Arc<Files>,
    /// Every file stored so far, in order.
    pending: Vec<Pending>,
}

impl MemoryBatch {
    /// An empty batch into `files`.
    pub(super) fn start(files: Arc<Files>) -> Self {
        MemoryBatch {
            files,
            pending: Vec::new(),
        }
    }

    /// Makes the folder, judges the destination and verifies the content of `file`.
    fn check(&self, file: WholeFile) -> Pending {
        let key = key(&file.path);
        let size = file.data.len() as u64;
        let (there, content) = {
            let mut nodes = self.files.nodes();
            if let Err(error) = make_parents(&mut nodes, &key) {
                return Pending::Ready(WholeOutcome::Failed(WholeStage::Folder, error));
            }
            found(&nodes, &key)
        };
        match (judge(there, size, Conflict::of(file.force)), content) {
            (Err(failure), _) => {
                let error = StorageError::of(failure);
                return Pending::Ready(WholeOutcome::Failed(WholeStage::Destination, error));
            }
            // Only a regular file is compared, and its content came with it.
            (Ok(true), Some(content)) => {
                let existing: [u8; 32] = Sha256::digest(&content).into();
                // With `force`, different content is replaced; identical content left alone.
                if !file.force || existing == file.sha256 {
                    return Pending::Ready(WholeOutcome::Existing(existing));
                }
            }
            (Ok(_), _) => {}
        }
        if <[u8; 32]>::from(Sha256::digest(&file.data)) != file.sha256 {
            return Pending::Ready(WholeOutcome::Mismatch);
        }
        Pending::Stored {
            key,
            data: file.data,
            modified: file.modified.map_or_else(now, seconds),
            force: file.force,
        }
    }
}

#[async_trait::async_trait]
impl WholeBatch for MemoryBatch {
    async fn store(&mut self, file: WholeFile) {
        let pending = self.check(file);
        self.pending.push(pending);
    }

    /// Every file is checked as it is stored: nothing waits.
    async fn hand_over(&mut self) {}

    async fn close(self: Box<Self>) -> Box<dyn SettlingBatch> {
        let mut nodes = self.files.nodes();
        let outcomes = self
            .pending
            .into_iter()
            .map(|pending| match pending {
                Pending::Ready(outcome) => outcome,
                Pending::Stored {
                    key,
                    data,
                    modified,
                    force,
                } => match place(&mut nodes, &key, data, modified, force) {
                    Ok(()) => WholeOutcome::Landed,
                    Err(error) => WholeOutcome::Failed(WholeStage::Place, error),
                },
            })
            .collect();
        Box::new(MemorySettled {
            outcomes: Some(outcomes),
        })
    }
}

/// A memory batch, settled as it closed.
struct MemorySettled {
    /// The outcomes, until taken.
    outcomes: Option<Vec<WholeOutcome>>,
}

#[async_trait::async_trait]
impl SettlingBatch for MemorySettled {
    async fn outcomes(&mut self) -> Result<Vec<WholeOutcome>, StorageError> {
        self.outcomes
            .take()
            .ok_or_else(|| StorageError::new(Failure::Internal, "outcomes taken already"))
    }
}
