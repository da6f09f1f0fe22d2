//! The S3 store's few words with the bucket, over object_store's S3 client: what an object is
//! ([`Stat`]: size, ETag, the client's modification time and, when known, the SHA-256 kept
//! with it), create-only and compare-and-swap writes, and the one mapping from object_store's
//! errors to a [`StorageError`]. ETags are kept without their quotes: radosgw takes `If-Match`
//! only that way, and S3 takes both.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use object_store::aws::AmazonS3;
use object_store::path::Path;
use object_store::{
    Attribute, Attributes, GetOptions, ObjectStore, ObjectStoreExt, PutMode, PutOptions,
    PutPayload, UpdateVersion,
};

use crate::storage::{Failure, StorageError};

/// The metadata key of the client's modification time (`<seconds>.<nanoseconds>`).
pub const MTIME: &str = "mtime";

/// The metadata key of a file's SHA-256, for files stored in one piece (hex).
pub const SHA256: &str = "sha256";

/// The bucket, as the store uses it.
pub type Bucket = Arc<AmazonS3>;

/// What object_store's error means to a store.
pub fn storage_error(error: object_store::Error) -> StorageError {
    let failure = match &error {
        object_store::Error::NotFound { .. } => Failure::NotFound,
        object_store::Error::AlreadyExists { .. } => Failure::AlreadyThere,
        object_store::Error::Precondition { .. } | object_store::Error::NotModified { .. } => {
            Failure::Changed
        }
        object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. } => Failure::PermissionDenied,
        _ => Failure::Internal,
    };
    StorageError::new(failure, error.to_string())
}

/// An ETag without its quotes.
pub fn bare(etag: &str) -> String {
    etag.trim()
        .trim_start_matches("W/")
        .trim_matches('"')
        .to_owned()
}

/// An object, as a HEAD tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    /// Bytes.
    pub size: u64,
    /// Its ETag, without quotes.
    pub etag: String,
    /// The client's modification time, or when it was stored.
    pub modified: (i64, u32),
    /// Its SHA-256, when stored with it.
    pub sha256: Option<[u8; 32]>,
}

/// Parses `<seconds>.<nanoseconds>`.
fn parse_mtime(text: &str) -> Option<(i64, u32)> {
    let (secs, nanos) = text.split_once('.').unwrap_or((text, "0"));
    Some((
        secs.parse().ok()?,
        nanos.parse().ok().filter(|n| *n < 1_000_000_000)?,
    ))
}

/// A time as the `mtime` metadata keeps it.
pub fn format_mtime(time: SystemTime) -> String {
    let (secs, nanos) = seconds(time);
    format!("{secs}.{nanos:09}")
}

/// A time as seconds and nanoseconds since the epoch (negative before it).
pub fn seconds(time: SystemTime) -> (i64, u32) {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => (
            i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
            after.subsec_nanos(),
        ),
        Err(before) => (
            -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
            0,
        ),
    }
}

/// The metadata a new file is stored with: its time (the client's, or now) and, when known,
/// its SHA-256.
pub fn attributes(modified: Option<SystemTime>, sha256: Option<&[u8; 32]>) -> Attributes {
    let mut attributes = Attributes::new();
    let time = modified.unwrap_or_else(SystemTime::now);
    attributes.insert(Attribute::Metadata(MTIME.into()), format_mtime(time).into());
    if let Some(sha) = sha256 {
        attributes.insert(Attribute::Metadata(SHA256.into()), hex::encode(sha).into());
    }
    attributes
}

/// What is at `key`: `None` when nothing.
pub async fn stat(bucket: &Bucket, key: &Path) -> Result<Option<Stat>, StorageError> {
    let options = GetOptions {
        head: true,
        ..GetOptions::default()
    };
    let got = match bucket.get_opts(key, options).await {
        Ok(got) => got,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(error) => return Err(storage_error(error)),
    };
    let meta = &got.meta;
    let metadata = |name: &str| {
        got.attributes
            .get(&Attribute::Metadata(name.to_owned().into()))
            .map(|v| v.as_ref().to_owned())
    };
    let stored = (
        meta.last_modified.timestamp(),
        meta.last_modified.timestamp_subsec_nanos(),
    );
    let modified = metadata(MTIME)
        .and_then(|text| parse_mtime(&text))
        .unwrap_or(stored);
    let sha256 = metadata(SHA256)
        .and_then(|text| hex::decode(text).ok())
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok());
    Ok(Some(Stat {
        size: meta.size,
        etag: meta.e_tag.as_deref().map(bare).unwrap_or_default(),
        modified,
        sha256,
    }))
}

/// Writes `data` at `key` only if nothing is there: `false` if something was.
pub async fn create(
    bucket: &Bucket,
    key: &Path,
    data: Bytes,
    attributes: Attributes,
) -> Result<Option<String>, StorageError> {
    let options = PutOptions {
        mode: PutMode::Create,
        attributes,
        ..PutOptions::default()
    };
    match bucket.put_opts(key, PutPayload::from(data), options).await {
        Ok(done) => Ok(Some(done.e_tag.as_deref().map(bare).unwrap_or_default())),
        Err(object_store::Error::AlreadyExists { .. }) => Ok(None),
        Err(error) => Err(storage_error(error)),
    }
}

/// Writes `data` at `key` whatever is there; its ETag.
pub async fn overwrite(
    bucket: &Bucket,
    key: &Path,
    data: Bytes,
    attributes: Attributes,
) -> Result<String, StorageError> {
    let options = PutOptions {
        mode: PutMode::Overwrite,
        attributes,
        ..PutOptions::default()
    };
    let done = bucket
        .put_opts(key, PutPayload::from(data), options)
        .await
        .map_err(storage_error)?;
    Ok(done.e_tag.as_deref().map(bare).unwrap_or_default())
}

/// Replaces `key` only while its ETag is still `etag`: the new ETag, or `None` if another
/// writer changed it first (or removed it).
pub async fn swap(
    bucket: &Bucket,
    key: &Path,
    etag: &str,
    data: Bytes,
) -> Result<Option<String>, StorageError> {
    let options = PutOptions {
        mode: PutMode::Update(UpdateVersion {
            e_tag: Some(bare(etag)),
            version: None,
        }),
        ..PutOptions::default()
    };
    match bucket.put_opts(key, PutPayload::from(data), options).await {
        Ok(done) => Ok(Some(done.e_tag.as_deref().map(bare).unwrap_or_default())),
        Err(object_store::Error::Precondition { .. } | object_store::Error::NotFound { .. }) => {
            Ok(None)
        }
        Err(error) => Err(storage_error(error)),
    }
}

/// The whole small object at `key` with its ETag: `None` when nothing is there.
pub async fn fetch(bucket: &Bucket, key: &Path) -> Result<Option<(Bytes, String)>, StorageError> {
    match bucket.get_opts(key, GetOptions::default()).await {
        Ok(got) => {
            let etag = got.meta.e_tag.as_deref().map(bare).unwrap_or_default();
            let bytes = got.bytes().await.map_err(storage_error)?;
            Ok(Some((bytes, etag)))
        }
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(error) => Err(storage_error(error)),
    }
}

/// Deletes `key`; nothing there is no failure.
pub async fn delete(bucket: &Bucket, key: &Path) -> Result<(), StorageError> {
    match bucket.delete(key).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(error) => Err(storage_error(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_etags_are_read_back() {
        let time = UNIX_EPOCH + std::time::Duration::new(1_000_000_000, 5);
        assert_eq!(format_mtime(time), "1000000000.000000005");
        assert_eq!(
            parse_mtime("1000000000.000000005"),
            Some((1_000_000_000, 5))
        );
        assert_eq!(parse_mtime("12"), Some((12, 0)));
        assert_eq!(parse_mtime("x.1"), None);
        assert_eq!(parse_mtime("1.1000000000"), None);
        assert_eq!(bare("\"abc\""), "abc");
        assert_eq!(bare("abc"), "abc");
    }
}
