//! The state of the unfinished uploads going to one destination, kept in the bucket as one
//! JSON object beside the files ([`super::keys::HomeKeys::state`]), so any server can resume
//! them. For each upload (by its partial's name): its multipart upload id, part size, the ETag
//! of every part stored, the SHA-256 state after them, the bytes short of a part saved when its
//! connection ended (a tail object) and the client's file time. A lease names the one upload
//! being written and who writes it.
//!
//! The object is claimed with a create-only write and changed only by compare-and-swap on its
//! ETag ([`Claim`]): the ETag is a fencing token, so of two servers writing one destination
//! the second's swap fails and it stops, and a server killed between storing a part and
//! recording it loses nothing but that part, stored again on resume.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use object_store::Attributes;
use object_store::path::Path;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use sha2::digest::common::hazmat::{SerializableState, SerializedState};

use super::objects::{self, Bucket};
use crate::storage::{Failure, StorageError};

/// Milliseconds since the epoch, now.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Who is writing the destination, until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The writer: `<server>/<upload>`.
    pub owner: String,
    /// The partial it writes.
    pub partial: String,
    /// When the lease lapses unless renewed (milliseconds since the epoch).
    pub until_ms: u64,
}

/// Bytes of an interrupted upload short of a part, kept as their own object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tail {
    /// The tail object's key.
    pub key: String,
    /// Its length.
    pub len: u64,
}

/// One unfinished upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The destination as the client wrote it.
    pub shown: String,
    /// The declared size.
    pub size: u64,
    /// The multipart upload.
    pub upload_id: String,
    /// Bytes of every part but the last.
    pub part_size: u64,
    /// The ETags of the parts stored, in order.
    pub parts: Vec<String>,
    /// The SHA-256 state after the parts (hex).
    pub hash: String,
    /// What was received beyond the parts, when its connection ended.
    pub tail: Option<Tail>,
    /// Last written (milliseconds since the epoch).
    pub touched_ms: u64,
}

impl Entry {
    /// Bytes in the parts stored.
    pub fn boundary(&self) -> u64 {
        (self.parts.len() as u64)
            .saturating_mul(self.part_size)
            .min(self.size)
    }

    /// Bytes held: the parts and the tail.
    pub fn held(&self) -> u64 {
        self.boundary() + self.tail.as_ref().map_or(0, |t| t.len)
    }

    /// The hash state after the parts.
    pub fn hash_state(&self) -> Option<Sha256> {
        let bytes = hex::decode(&self.hash).ok()?;
        let state = SerializedState::<Sha256>::try_from(bytes.as_slice()).ok()?;
        Sha256::deserialize(&state).ok()
    }
}

/// A hash state as an [`Entry`] keeps it.
pub fn encode_hash(hash: &Sha256) -> String {
    hex::encode(hash.serialize().as_slice())
}

/// Every unfinished upload going to one destination, and its lease.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// Who writes the destination now.
    pub lease: Option<Lease>,
    /// By partial name.
    pub uploads: BTreeMap<String, Entry>,
}

/// A state as read, with the ETag a change must match (`None`: there was none).
#[derive(Debug, Clone)]
pub struct Claim {
    /// The state object's key.
    pub key: Path,
    /// What it holds.
    pub state: State,
    /// Its ETag when read or last written.
    pub etag: Option<String>,
}

/// The error of a state another server changed first.
pub fn fenced() -> StorageError {
    StorageError::new(
        Failure::Busy,
        "another upload took over this destination's state",
    )
}

impl Claim {
    /// Reads the state at `key` (empty when there is none).
    pub async fn read(bucket: &Bucket, key: Path) -> Result<Claim, StorageError> {
        match objects::fetch(bucket, &key).await? {
            None => Ok(Claim {
                key,
                state: State::default(),
                etag: None,
            }),
            Some((bytes, etag)) => {
                let state = serde_json::from_slice(&bytes).map_err(|e| {
                    StorageError::new(Failure::Internal, format!("upload state {key}: {e}"))
                })?;
                Ok(Claim {
                    key,
                    state,
                    etag: Some(etag),
                })
            }
        }
    }

    /// Writes the state back if nobody changed it since it was read (created if there was
    /// none); [`fenced`] if someone did. An empty state is deleted instead.
    pub async fn write(&mut self, bucket: &Bucket) -> Result<(), StorageError> {
        if self.state.uploads.is_empty() && self.state.lease.is_none() {
            objects::delete(bucket, &self.key).await?;
            self.etag = None;
            return Ok(());
        }
        let body = Bytes::from(serde_json::to_vec(&self.state).map_err(|e| {
            StorageError::new(Failure::Internal, format!("upload state {}: {e}", self.key))
        })?);
        let written = match &self.etag {
            None => objects::create(bucket, &self.key, body, Attributes::new()).await?,
            Some(etag) => objects::swap(bucket, &self.key, etag, body).await?,
        };
        match written {
            Some(etag) if !etag.is_empty() => {
                self.etag = Some(etag);
                Ok(())
            }
            Some(_) => Err(StorageError::new(
                Failure::Internal,
                format!("upload state {}: the store gave no ETag", self.key),
            )),
            None => Err(fenced()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest;

    #[test]
    fn an_entry_keeps_its_hash_state_and_counts_what_it_holds() {
        let hash = Sha256::new_with_prefix(b"hello ");
        let mut entry = Entry {
            shown: "/f".into(),
            size: 20,
            upload_id: "u".into(),
            part_size: 8,
            parts: vec!["a".into()],
            hash: encode_hash(&hash),
            tail: Some(Tail {
                key: "t".into(),
                len: 3,
            }),
            touched_ms: 1,
        };
        assert_eq!((entry.boundary(), entry.held()), (8, 11));
        let mut back = entry.hash_state().unwrap();
        back.update(b"world");
        assert_eq!(back.finalize(), Sha256::digest(b"hello world"));
        entry.parts = vec!["a".into(), "b".into(), "c".into()];
        entry.tail = None;
        assert_eq!(entry.held(), 20, "the last part is shorter");
        entry.hash = "zz".into();
        assert!(entry.hash_state().is_none());
        let text = serde_json::to_string(&State::default()).unwrap();
        assert_eq!(
            serde_json::from_str::<State>(&text).unwrap(),
            State::default()
        );
    }
}
