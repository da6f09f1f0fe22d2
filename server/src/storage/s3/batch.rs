//! Small files sent whole, into the bucket: each is one create-only PUT (an overwrite only
//! with `force`) carrying its time and SHA-256 as metadata, checked against the client's digest
//! first. The files of a batch are stored [`CONCURRENT`] at a time as they are handed over,
//! and their outcomes come back in order. S3 makes every stored object durable: `durable` asks
//! nothing more.

use std::sync::Arc;

use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use super::hashing;
use super::home::{Found, S3Home};
use super::objects;
use crate::storage::upload::{self as rules, Conflict, judge};
use crate::storage::{
    Failure, SettlingBatch, StorageError, WholeBatch, WholeFile, WholeOutcome, WholeStage,
};

/// Files of one batch being stored at once.
pub const CONCURRENT: usize = 16;

/// A batch of whole files going into the bucket.
pub struct S3Batch {
    /// The home.
    home: S3Home,
    /// Files queued, not yet handed over.
    queued: Vec<WholeFile>,
    /// Files being stored, in order.
    storing: Vec<JoinHandle<WholeOutcome>>,
    /// Bounds the files being stored at once.
    permits: Arc<Semaphore>,
}

impl S3Batch {
    /// An empty batch for `home`.
    pub fn new(home: S3Home) -> Self {
        S3Batch {
            home,
            queued: Vec::new(),
            storing: Vec::new(),
            permits: Arc::new(Semaphore::new(CONCURRENT)),
        }
    }
}

/// Stores one file: its folders, the judgement of what is there, its digest, the PUT.
async fn store_one(home: &S3Home, file: WholeFile) -> WholeOutcome {
    let failed = |stage, error: StorageError| WholeOutcome::Failed(stage, error);
    match home.file_above(&file.path).await {
        Ok(true) => return failed(WholeStage::Folder, StorageError::of(Failure::InTheWay)),
        Ok(false) => {}
        Err(error) => return failed(WholeStage::Folder, error),
    }
    if let Err(error) = home.keep_folders(&file.path.parent()).await {
        return failed(WholeStage::Folder, error);
    }
    let digest = match hashing::update(Sha256::new(), file.data.clone()).await {
        Ok(hash) => <[u8; 32]>::from(hash.finalize()),
        Err(error) => return failed(WholeStage::Write, error),
    };
    if digest != file.sha256 {
        return WholeOutcome::Mismatch;
    }
    let size = file.data.len() as u64;
    let conflict = Conflict::of(file.force);
    let replace = match home.found(&file.path).await {
        Err(error) => return failed(WholeStage::Destination, error),
        Ok(Found::Nothing) => false,
        Ok(Found::Folder(_)) => {
            let refused = judge(rules::Found::Folder, size, conflict).err();
            let failure = refused.unwrap_or(Failure::FolderAtDestination);
            return failed(WholeStage::Destination, StorageError::of(failure));
        }
        Ok(Found::File(stat)) => match judge(rules::Found::Regular(stat.size), size, conflict) {
            Err(failure) => return failed(WholeStage::Destination, StorageError::of(failure)),
            Ok(false) => true,
            Ok(true) => match home.sha256_of(&file.path, &stat).await {
                Err(error) => return failed(WholeStage::Destination, error),
                Ok(there) if there == digest || !file.force => {
                    return WholeOutcome::Existing(there);
                }
                Ok(_) => true,
            },
        },
    };
    let key = home.keys.file(&file.path);
    let attributes = objects::attributes(file.modified, Some(&digest));
    let stored = if replace {
        objects::overwrite(home.bucket(), &key, file.data, attributes)
            .await
            .map(|_| true)
    } else {
        objects::create(home.bucket(), &key, file.data, attributes)
            .await
            .map(|etag| etag.is_some())
    };
    match stored {
        Ok(true) => {
            if replace {
                let _ = objects::delete(home.bucket(), &home.keys.sum(&file.path)).await;
            }
            WholeOutcome::Landed
        }
        Ok(false) => failed(WholeStage::Place, StorageError::of(Failure::AlreadyThere)),
        Err(error) => failed(WholeStage::Write, error),
    }
}

#[async_trait::async_trait]
impl WholeBatch for S3Batch {
    async fn store(&mut self, file: WholeFile) {
        self.queued.push(file);
    }

    async fn hand_over(&mut self) {
        for file in self.queued.drain(..) {
            let home = self.home.clone();
            let permits = Arc::clone(&self.permits);
            self.storing.push(tokio::spawn(async move {
                let _permit = permits.acquire_owned().await;
                store_one(&home, file).await
            }));
        }
    }

    async fn close(mut self: Box<Self>) -> Box<dyn SettlingBatch> {
        self.hand_over().await;
        Box::new(Settling {
            storing: std::mem::take(&mut self.storing),
            settled: Vec::new(),
        })
    }
}

/// A closed batch whose files are being stored.
struct Settling {
    /// Files still being stored, in order.
    storing: Vec<JoinHandle<WholeOutcome>>,
    /// Outcomes so far, in order.
    settled: Vec<WholeOutcome>,
}

#[async_trait::async_trait]
impl SettlingBatch for Settling {
    async fn outcomes(&mut self) -> Result<Vec<WholeOutcome>, StorageError> {
        while self.settled.len() < self.storing.len() {
            let next = self.settled.len();
            let outcome = match (&mut self.storing[next]).await {
                Ok(outcome) => outcome,
                Err(error) => WholeOutcome::Failed(
                    WholeStage::Write,
                    StorageError::new(Failure::Internal, format!("storing a file: {error}")),
                ),
            };
            self.settled.push(outcome);
        }
        Ok(std::mem::take(&mut self.settled))
    }
}
