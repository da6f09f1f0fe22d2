//! An upload received whole, not yet in place: completed into its final key once the caller
//! checked its SHA-256 (after a last look at the destination, since radosgw ignores
//! `If-None-Match` on completion), its digest recorded beside it, its state taken out; or
//! abandoned with everything it held.

use std::sync::Arc;

use object_store::multipart::{MultipartStore, PartId};

use super::hashing;
use super::home::{Found, S3Home};
use super::objects::{self, storage_error};
use super::state::{Claim, Entry, fenced};
use super::unfinished::{discard, forget};
use crate::storage::{Failure, HeldUpload, StorageError, UploadTarget};

/// An upload received whole (or as far as its connection went), not yet in place.
pub struct S3Held {
    /// The home.
    pub(super) home: S3Home,
    /// What it is.
    pub(super) target: UploadTarget,
    /// The destination's key.
    pub(super) file: object_store::path::Path,
    /// The destination's upload state.
    pub(super) claim: Claim,
    /// This upload's name in the lease.
    pub(super) owner: String,
    /// The multipart upload.
    pub(super) upload_id: String,
    /// What was received's SHA-256.
    pub(super) sha256: [u8; 32],
    /// Every byte of the file was stored.
    pub(super) whole: bool,
}

impl Drop for S3Held {
    fn drop(&mut self) {
        forget(&self.home.shared, &self.owner);
    }
}

impl S3Held {
    /// Takes this upload out of the destination's state (read again if another server
    /// changed it meanwhile).
    async fn leave_state(&mut self) -> Result<Option<Entry>, StorageError> {
        let bucket = &self.home.shared.bucket;
        for _ in 0..4 {
            let entry = self.claim.state.uploads.remove(&self.target.partial);
            if self
                .claim
                .state
                .lease
                .as_ref()
                .is_some_and(|l| l.owner == self.owner)
            {
                self.claim.state.lease = None;
            }
            match self.claim.write(bucket).await {
                Ok(()) => return Ok(entry),
                Err(error) if error.failure == Failure::Busy => {
                    self.claim = Claim::read(bucket, self.claim.key.clone()).await?;
                }
                Err(error) => return Err(error),
            }
        }
        Err(fenced())
    }
}

#[async_trait::async_trait]
impl HeldUpload for S3Held {
    fn sha256(&self) -> [u8; 32] {
        self.sha256
    }

    /// S3 keeps every object durable once stored: `durable` asks nothing more.
    async fn commit(
        mut self: Box<Self>,
        _durable: bool,
        replace: bool,
    ) -> Result<(), StorageError> {
        if !self.whole {
            return Err(StorageError::new(
                Failure::Internal,
                "an upload short of its size cannot be put in place",
            ));
        }
        // radosgw ignores If-None-Match on completion: what is there is looked at first.
        match self.home.found(&self.target.path).await? {
            Found::Nothing => {}
            Found::Folder(_) => return Err(StorageError::of(Failure::AlreadyThere)),
            Found::File(_) if !replace => return Err(StorageError::of(Failure::AlreadyThere)),
            Found::File(_) => {}
        }
        let Some(entry) = self.claim.state.uploads.get(&self.target.partial).cloned() else {
            return Err(fenced());
        };
        let parts = entry
            .parts
            .iter()
            .map(|etag| PartId {
                content_id: etag.clone(),
            })
            .collect();
        let bucket = Arc::clone(&self.home.shared.bucket);
        bucket
            .complete_multipart(&self.file, &self.upload_id, parts)
            .await
            .map_err(storage_error)?;
        // Complete's own ETag is empty on radosgw: the HEAD has it.
        if let Some(stat) = objects::stat(&bucket, &self.file).await? {
            let sum = self.home.keys.sum(&self.target.path);
            hashing::record(&bucket, &sum, &stat.etag, &self.sha256).await;
        }
        if let Err(error) = self.leave_state().await {
            tracing::warn!(%error, path = %self.target.path, "an upload's state stays behind");
        }
        Ok(())
    }

    async fn abandon(mut self: Box<Self>) {
        match self.leave_state().await {
            Ok(Some(entry)) => discard(&self.home.shared, &self.file, &entry).await,
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, "an abandoned upload's state stays behind"),
        }
    }
}
