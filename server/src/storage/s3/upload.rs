//! Large uploads into the bucket: a multipart upload straight to the final key, so nothing is
//! visible before it completes, with its state in the bucket ([`super::state`]). Data is cut
//! into parts as it comes (one part filling, at most [`IN_FLIGHT`] being stored), each hashed
//! on a blocking thread; after a part is stored the state records its ETag and the hash state
//! after it, under the lease. A resume, on any server, starts at the last recorded part with
//! the saved hash state, so no prefix is read again; the bytes short of a part when a
//! connection ends are kept as a tail object and read back. The file is completed only once
//! its SHA-256 was checked by the caller, and its digest is recorded beside it.

use std::collections::VecDeque;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use object_store::multipart::{MultipartStore, PartId};
use object_store::{PutMultipartOptions, PutPayload};
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::held::S3Held;
use super::home::{Found, S3Home};
use super::keys;
use super::objects::{self, storage_error};
use super::state::{Claim, Entry, Lease, Tail, encode_hash, fenced, now_ms};
use super::unfinished::{claims, discard, forget};
use super::{Shared, hashing};
use crate::jail::RemotePath;
use crate::storage::upload::{self as rules, judge};
use crate::storage::{
    Conflict, Failure, HeldUpload, PartialUpload, StorageError, UploadLimits, UploadTarget,
};

/// Parts being stored at once by one upload, besides the one filling.
pub const IN_FLIGHT: usize = 2;

/// Most parts of a multipart upload S3 allows is 10 000; parts are made large enough to stay
/// under this many.
const MOST_PARTS: u64 = 9_000;

/// [`crate::storage::Home::check_destination`].
pub async fn check_destination(
    home: &S3Home,
    path: &RemotePath,
    size: u64,
    conflict: Conflict,
) -> Result<Option<[u8; 32]>, StorageError> {
    if home.file_above(path).await? {
        return Err(StorageError::of(Failure::InTheWay));
    }
    home.keep_folders(&path.parent()).await?;
    let (found, stat) = match home.found(path).await? {
        Found::Nothing => (rules::Found::Nothing, None),
        Found::Folder(_) => (rules::Found::Folder, None),
        Found::File(stat) => (rules::Found::Regular(stat.size), Some(stat)),
    };
    if !judge(found, size, conflict).map_err(StorageError::of)? {
        return Ok(None);
    }
    match stat {
        Some(stat) => Ok(Some(home.sha256_of(path, &stat).await?)),
        None => Ok(None),
    }
}

/// The part size of an upload of `size` bytes.
fn part_size(shared: &Shared, size: u64) -> u64 {
    let needed = size.div_ceil(MOST_PARTS).next_multiple_of(1 << 20);
    shared.part_size.max(needed)
}

/// The user's unfinished uploads nobody is writing, not counting `in_use`.
async fn idle_partials(
    home: &S3Home,
    in_use: &std::collections::HashSet<String>,
) -> Result<usize, StorageError> {
    let mut idle = 0;
    for claim in claims(home).await? {
        idle += claim
            .state
            .uploads
            .keys()
            .filter(|name| !in_use.contains(*name))
            .count();
    }
    Ok(idle)
}

/// A fresh name: 16 random bytes in hex.
fn random_name() -> Result<String, StorageError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| StorageError::new(Failure::Internal, format!("no randomness: {e}")))?;
    Ok(hex::encode(bytes))
}

/// [`crate::storage::Home::open_upload`].
pub async fn open(
    home: &S3Home,
    target: UploadTarget,
    limits: &UploadLimits,
) -> Result<S3Partial, StorageError> {
    let shared = &home.shared;
    let file = home.keys.file(&target.path);
    let owner = format!("{}/{}", shared.instance, random_name()?);
    for _ in 0..4 {
        let mut claim = Claim::read(&shared.bucket, home.keys.state(&target.path)).await?;
        let now = now_ms();
        if let Some(lease) = &claim.state.lease {
            let ours_and_gone = lease
                .owner
                .strip_prefix(&shared.instance)
                .is_some_and(|rest| rest.starts_with('/'))
                && !shared.is_live(&lease.owner);
            if lease.partial != target.partial && !ours_and_gone && lease.until_ms > now {
                return Err(StorageError::new(
                    Failure::Busy,
                    format!("{} is being written by {}", target.path, lease.owner),
                ));
            }
        }
        let existing = claim.state.uploads.get(&target.partial).cloned();
        let resumable = existing.as_ref().filter(|e| {
            e.size == target.size && e.held() <= target.size && e.hash_state().is_some()
        });
        if existing.is_none() {
            let idle = idle_partials(home, &limits.in_use).await?;
            if idle >= limits.max_partials {
                return Err(StorageError::of(Failure::TooManyUnfinished(idle)));
            }
        }
        let mut made = None;
        let entry = match resumable {
            Some(entry) => entry.clone(),
            None => {
                if let Some(old) = &existing {
                    discard(shared, &file, old).await;
                }
                let options = PutMultipartOptions {
                    attributes: objects::attributes(target.modified, None),
                    ..PutMultipartOptions::default()
                };
                let upload_id = shared
                    .bucket
                    .create_multipart_opts(&file, options)
                    .await
                    .map_err(storage_error)?;
                let entry = Entry {
                    shown: target.path.to_string(),
                    size: target.size,
                    upload_id,
                    part_size: part_size(shared, target.size),
                    parts: Vec::new(),
                    hash: encode_hash(&Sha256::new()),
                    tail: None,
                    touched_ms: now,
                };
                made = Some(entry.clone());
                entry
            }
        };
        claim.state.lease = Some(Lease {
            owner: owner.clone(),
            partial: target.partial.clone(),
            until_ms: now + millis(shared.lease),
        });
        let mut touched = entry.clone();
        touched.touched_ms = now;
        claim.state.uploads.insert(target.partial.clone(), touched);
        match claim.write(&shared.bucket).await {
            Ok(()) => {}
            Err(error) if error.failure == Failure::Busy => {
                if let Some(made) = &made {
                    discard(shared, &file, made).await;
                }
                continue;
            }
            Err(error) => return Err(error),
        }
        shared
            .live
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(owner.clone());
        let mut pending = BytesMut::new();
        if let Some(tail) = &entry.tail {
            let key = keys::tail(&shared.prefix, &tail.key);
            match objects::fetch(&shared.bucket, &key).await? {
                Some((bytes, _)) if bytes.len() as u64 == tail.len => {
                    pending.extend_from_slice(&bytes)
                }
                _ => {}
            }
        }
        let hash = entry.hash_state().unwrap_or_default();
        let boundary = entry.boundary();
        let state_key = claim.key.clone();
        let recorder = Recorder {
            claim,
            partial: target.partial.clone(),
            shared: Arc::clone(shared),
            failed: None,
        };
        return Ok(S3Partial {
            home: home.clone(),
            target,
            file,
            recorder: Arc::new(tokio::sync::Mutex::new(recorder)),
            state_key,
            owner,
            offset: boundary + pending.len() as u64,
            restored: boundary,
            next_part: entry.parts.len(),
            part_size: entry.part_size,
            upload_id: entry.upload_id.clone(),
            hash,
            pending,
            in_flight: VecDeque::new(),
            last_recorded: None,
            failure: None,
        });
    }
    Err(fenced())
}

/// What records the parts of one upload in its state, in order, as they are stored.
struct Recorder {
    /// The destination's upload state, as last written.
    claim: Claim,
    /// The upload's partial name.
    partial: String,
    /// The bucket and the lease's length.
    shared: Arc<Shared>,
    /// Why recording stopped, once it did: no later part is recorded.
    failed: Option<StorageError>,
}

impl Recorder {
    /// Records a stored part, the hash state after it and a renewed lease; the tail the parts
    /// now cover is deleted.
    async fn record(&mut self, part: PartId, hash_after: &Sha256) -> Result<(), StorageError> {
        let now = now_ms();
        let state = &mut self.claim.state;
        let Some(entry) = state.uploads.get_mut(&self.partial) else {
            return Err(fenced());
        };
        entry.parts.push(part.content_id);
        entry.hash = encode_hash(hash_after);
        let covered = entry.tail.take();
        entry.touched_ms = now;
        if let Some(lease) = state.lease.as_mut() {
            lease.until_ms = now + millis(self.shared.lease);
        }
        self.claim.write(&self.shared.bucket).await?;
        if let Some(tail) = covered {
            let key = keys::tail(&self.shared.prefix, &tail.key);
            let _ = objects::delete(&self.shared.bucket, &key).await;
        }
        Ok(())
    }
}

/// A duration in milliseconds.
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// An upload into a multipart upload, appended in order.
pub struct S3Partial {
    /// The home.
    home: S3Home,
    /// What it is.
    target: UploadTarget,
    /// The destination's key.
    file: object_store::path::Path,
    /// Records the parts in the destination's state.
    recorder: Arc<tokio::sync::Mutex<Recorder>>,
    /// The state object's key.
    state_key: object_store::path::Path,
    /// This upload's name in the lease.
    owner: String,
    /// What it held when opened.
    offset: u64,
    /// How far the saved hash state reached.
    restored: u64,
    /// Index of the next part to cut.
    next_part: usize,
    /// Bytes per part.
    part_size: u64,
    /// The multipart upload.
    upload_id: String,
    /// The hash state after the parts cut.
    hash: Sha256,
    /// Bytes received past the parts cut.
    pending: BytesMut,
    /// Parts being stored and recorded, in order.
    in_flight: VecDeque<JoinHandle<Result<(), StorageError>>>,
    /// Fires once the last part cut is recorded (or failed).
    last_recorded: Option<oneshot::Receiver<()>>,
    /// Why appending stopped, once it did.
    failure: Option<StorageError>,
}

impl S3Partial {
    /// Cuts a part of `len` bytes of what is pending and starts storing it; once stored, and
    /// once the part before it is recorded, it is recorded too.
    async fn cut(&mut self, len: usize) -> Result<(), StorageError> {
        while self.in_flight.len() >= IN_FLIGHT {
            self.settle_first().await?;
        }
        let part = self.pending.split_to(len).freeze();
        let hash = std::mem::take(&mut self.hash);
        self.hash = hashing::update(hash, part.clone()).await?;
        let hash_after = self.hash.clone();
        let bucket = Arc::clone(&self.home.shared.bucket);
        let recorder = Arc::clone(&self.recorder);
        let (file, id, index) = (self.file.clone(), self.upload_id.clone(), self.next_part);
        self.next_part += 1;
        let before = self.last_recorded.take();
        let (recorded, last_recorded) = oneshot::channel();
        self.last_recorded = Some(last_recorded);
        self.in_flight.push_back(tokio::spawn(async move {
            let stored = bucket
                .put_part(&file, &id, index, PutPayload::from(part))
                .await
                .map_err(storage_error);
            if let Some(before) = before {
                let _ = before.await;
            }
            let mut recorder = recorder.lock().await;
            let outcome = match (&recorder.failed, stored) {
                (Some(failed), _) => Err(failed.clone()),
                (None, Err(error)) => Err(error),
                (None, Ok(part)) => recorder.record(part, &hash_after).await,
            };
            if let Err(error) = &outcome {
                recorder.failed.get_or_insert_with(|| error.clone());
            }
            drop(recorder);
            let _ = recorded.send(());
            outcome
        }));
        Ok(())
    }

    /// Waits for the first part in flight to be stored and recorded.
    async fn settle_first(&mut self) -> Result<(), StorageError> {
        let Some(storing) = self.in_flight.pop_front() else {
            return Ok(());
        };
        storing
            .await
            .map_err(|e| StorageError::new(Failure::Internal, format!("part upload: {e}")))?
    }

    /// Surfaces the failure of parts already done, without waiting for the others.
    async fn settle_done(&mut self) -> Result<(), StorageError> {
        while self.in_flight.front().is_some_and(JoinHandle::is_finished) {
            self.settle_first().await?;
        }
        Ok(())
    }

    /// Everything appended so far.
    fn position(&self) -> u64 {
        (self.next_part as u64)
            .saturating_mul(self.part_size)
            .min(self.target.size)
            + self.pending.len() as u64
    }

    /// Stores what is left: the last part when the file is whole, else the tail, and lets
    /// go of the lease.
    async fn store_the_rest(&mut self) -> Result<(), StorageError> {
        let whole = self.position() == self.target.size;
        if whole && (!self.pending.is_empty() || self.next_part == 0) {
            let len = self.pending.len();
            self.cut(len).await?;
        }
        while !self.in_flight.is_empty() {
            self.settle_first().await?;
        }
        if whole {
            return Ok(());
        }
        let shared = &self.home.shared;
        let tail = if self.pending.is_empty() {
            None
        } else {
            let name = random_name()?;
            let key = keys::tail(&shared.prefix, &name);
            let bytes = self.pending.clone().freeze();
            objects::overwrite(&shared.bucket, &key, bytes, object_store::Attributes::new())
                .await?;
            Some(Tail {
                key: name,
                len: self.pending.len() as u64,
            })
        };
        let mut recorder = self.recorder.lock().await;
        let state = &mut recorder.claim.state;
        if let Some(entry) = state.uploads.get_mut(&self.target.partial) {
            entry.tail = tail;
            entry.touched_ms = now_ms();
        }
        if state.lease.as_ref().is_some_and(|l| l.owner == self.owner) {
            state.lease = None;
        }
        recorder.claim.write(&shared.bucket).await
    }
}

impl Drop for S3Partial {
    fn drop(&mut self) {
        forget(&self.home.shared, &self.owner);
    }
}

#[async_trait::async_trait]
impl PartialUpload for S3Partial {
    fn offset(&self) -> u64 {
        self.offset
    }

    fn restored(&self) -> u64 {
        self.restored
    }

    /// The destination's state object and the multipart upload: the saved hash state lives in
    /// that object, bound to that upload.
    fn identity(&self) -> [u8; 32] {
        let mut identity = Sha256::new();
        identity.update(b"ftpd s3 partial\0");
        identity.update(self.state_key.as_ref().as_bytes());
        identity.update(b"\0");
        identity.update(self.upload_id.as_bytes());
        identity.finalize().into()
    }

    async fn append(&mut self, data: Bytes) -> bool {
        if self.failure.is_some() {
            return false;
        }
        self.pending.extend_from_slice(&data);
        let part = usize::try_from(self.part_size).unwrap_or(usize::MAX);
        while self.pending.len() >= part {
            if self.position() == self.target.size && self.pending.len() == part {
                // The last part is cut by finish, when the file is whole.
                break;
            }
            if let Err(error) = self.cut(part).await {
                self.failure = Some(error);
                return false;
            }
        }
        if let Err(error) = self.settle_done().await {
            self.failure = Some(error);
            return false;
        }
        true
    }

    async fn finish(mut self: Box<Self>) -> Result<Box<dyn HeldUpload>, StorageError> {
        if let Some(error) = self.failure.take() {
            return Err(error);
        }
        let mut whole = self.hash.clone();
        whole.update(&self.pending);
        self.store_the_rest().await?;
        let sha256: [u8; 32] = whole.finalize().into();
        let whole = self.position() == self.target.size;
        let claim = self.recorder.lock().await.claim.clone();
        Ok(Box::new(S3Held {
            home: self.home.clone(),
            target: self.target.clone(),
            file: self.file.clone(),
            claim,
            owner: self.owner.clone(),
            upload_id: self.upload_id.clone(),
            sha256,
            whole,
        }))
    }
}
