//! SHA-256 of what the S3 store streams, off the async runtime: each piece is hashed on a
//! blocking thread, and a large file's digest is recorded beside it ([`record`]) so the next
//! `stat` or download knows it without reading.

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::objects::{self, Bucket, Stat, storage_error};
use crate::storage::{Failure, StorageError};

/// `hash` after `data`, hashed on a blocking thread.
pub async fn update(mut hash: Sha256, data: Bytes) -> Result<Sha256, StorageError> {
    if data.len() < 64 * 1024 {
        hash.update(&data);
        return Ok(hash);
    }
    tokio::task::spawn_blocking(move || {
        hash.update(&data);
        hash
    })
    .await
    .map_err(|e| StorageError::new(Failure::Internal, format!("hashing: {e}")))
}

/// Bytes gathered before they are hashed on a blocking thread: a stream's pieces are small.
const HASH_BLOCK: usize = 1 << 20;

/// The SHA-256 of a stream of small pieces, hashed a block at a time off the runtime.
#[derive(Default)]
pub struct Streaming {
    /// The state after the blocks hashed.
    hash: Sha256,
    /// Bytes not hashed yet.
    gathered: BytesMut,
}

impl Streaming {
    /// Adds the next piece.
    pub async fn feed(&mut self, piece: &[u8]) -> Result<(), StorageError> {
        self.gathered.extend_from_slice(piece);
        if self.gathered.len() >= HASH_BLOCK {
            let block = self.gathered.split().freeze();
            self.hash = update(std::mem::take(&mut self.hash), block).await?;
        }
        Ok(())
    }

    /// The SHA-256 of everything fed.
    pub async fn finish(self) -> Result<[u8; 32], StorageError> {
        let hash = update(self.hash, self.gathered.freeze()).await?;
        Ok(hash.finalize().into())
    }
}

/// A file's SHA-256 kept beside it, valid while its ETag is the one recorded.
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    /// The object's ETag when hashed.
    etag: String,
    /// Its SHA-256 (hex).
    sha256: String,
}

/// The SHA-256 recorded at `sum` for the object `stat` describes, if still its own.
pub async fn recorded(bucket: &Bucket, sum: &Path, stat: &Stat) -> Option<[u8; 32]> {
    match stat.sha256 {
        Some(sha) => Some(sha),
        None => recorded_for(bucket, sum, &stat.etag).await,
    }
}

/// The SHA-256 recorded at `sum` for the object whose ETag is `etag`, if any.
pub async fn recorded_for(bucket: &Bucket, sum: &Path, etag: &str) -> Option<[u8; 32]> {
    let (bytes, _) = objects::fetch(bucket, sum).await.ok()??;
    let record: Record = serde_json::from_slice(&bytes).ok()?;
    if record.etag != etag || etag.is_empty() {
        return None;
    }
    hex::decode(record.sha256).ok()?.try_into().ok()
}

/// Records `sha256` at `sum` for the object whose ETag is `etag` (best effort: one not
/// recorded is hashed again when asked for).
pub async fn record(bucket: &Bucket, sum: &Path, etag: &str, sha256: &[u8; 32]) {
    let record = Record {
        etag: etag.to_owned(),
        sha256: hex::encode(sha256),
    };
    let Ok(body) = serde_json::to_vec(&record) else {
        return;
    };
    let written = objects::overwrite(
        bucket,
        sum,
        Bytes::from(body),
        object_store::Attributes::new(),
    )
    .await;
    if let Err(error) = written {
        tracing::debug!(%error, %sum, "cannot record a file's SHA-256");
    }
}

/// The object at `key` from `from`, as long as its ETag is `etag`; a change meanwhile is
/// [`Failure::Changed`].
pub async fn stream(
    bucket: &Bucket,
    key: &Path,
    etag: &str,
    from: u64,
) -> Result<BoxStream<'static, Result<Bytes, StorageError>>, StorageError> {
    let options = GetOptions {
        if_match: (!etag.is_empty()).then(|| etag.to_owned()),
        range: (from > 0).then_some(GetRange::Offset(from)),
        ..GetOptions::default()
    };
    let got = bucket.get_opts(key, options).await.map_err(storage_error)?;
    Ok(got
        .into_stream()
        .map(|piece| piece.map_err(storage_error))
        .boxed())
}

/// The SHA-256 of the object `stat` describes, read whole, and recorded at `sum`.
pub async fn hash_object(
    bucket: &Bucket,
    key: &Path,
    sum: &Path,
    stat: &Stat,
) -> Result<[u8; 32], StorageError> {
    if stat.size == 0 {
        return Ok(Sha256::digest(b"").into());
    }
    let mut hash = Streaming::default();
    let mut seen = 0u64;
    let mut body = stream(bucket, key, &stat.etag, 0).await?;
    while let Some(piece) = body.next().await {
        let piece = piece?;
        seen += piece.len() as u64;
        hash.feed(&piece).await?;
    }
    if seen != stat.size {
        return Err(StorageError::new(
            Failure::Changed,
            format!("{key}: read {seen} bytes of {}", stat.size),
        ));
    }
    let sha = hash.finish().await?;
    record(bucket, sum, &stat.etag, &sha).await;
    Ok(sha)
}
