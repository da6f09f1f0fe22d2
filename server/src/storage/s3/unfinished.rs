//! The unfinished uploads in the bucket, as a whole: a home's listed by remote path, dropped
//! by destination, and every home's swept once left alone past the time allowed; and what
//! dropping one takes away (its multipart upload, its tail).

use std::sync::PoisonError;
use std::time::Duration;

use ftp_proto::PartialInfo;
use futures::TryStreamExt;
use object_store::ObjectStore;
use object_store::multipart::MultipartStore;

use super::Shared;
use super::home::S3Home;
use super::keys;
use super::objects::{self, storage_error};
use super::state::{Claim, Entry, now_ms};
use crate::jail::RemotePath;
use crate::storage::{Failure, StorageError};

/// Every upload state of the home.
pub(super) async fn claims(home: &S3Home) -> Result<Vec<Claim>, StorageError> {
    let keys: Vec<object_store::path::Path> = home
        .bucket()
        .list(Some(&home.keys.states()))
        .map_ok(|meta| meta.location)
        .try_collect()
        .await
        .map_err(storage_error)?;
    let mut claims = Vec::with_capacity(keys.len());
    for key in keys {
        claims.push(Claim::read(home.bucket(), key).await?);
    }
    Ok(claims)
}

/// Drops what an unfinished upload holds in the bucket (best effort: the sweeper and the
/// bucket's lifecycle rule catch what is left).
pub(super) async fn discard(shared: &Shared, file: &object_store::path::Path, entry: &Entry) {
    if let Err(error) = shared.bucket.abort_multipart(file, &entry.upload_id).await {
        tracing::debug!(%error, %file, "cannot abort a multipart upload");
    }
    if let Some(tail) = &entry.tail {
        let key = keys::tail(&shared.prefix, &tail.key);
        let _ = objects::delete(&shared.bucket, &key).await;
    }
}

/// This server no longer writes the upload `owner`.
pub(super) fn forget(shared: &Shared, owner: &str) {
    shared
        .live
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(owner);
}

/// [`crate::storage::Home::partials`]: by remote path, then partial name.
pub async fn partials(home: &S3Home) -> Result<Vec<PartialInfo>, StorageError> {
    let now = now_ms();
    let mut listed: Vec<(String, PartialInfo)> = Vec::new();
    for claim in claims(home).await? {
        for (name, entry) in claim.state.uploads {
            let info = PartialInfo {
                path: entry.shown.clone(),
                size: entry.size,
                held: entry.held(),
                age_secs: now.saturating_sub(entry.touched_ms) / 1000,
            };
            listed.push((name, info));
        }
    }
    listed.sort_by(|a, b| a.1.path.cmp(&b.1.path).then(a.0.cmp(&b.0)));
    Ok(listed.into_iter().map(|(_, info)| info).collect())
}

/// [`crate::storage::Home::drop_partials`].
pub async fn drop_going_to(home: &S3Home, path: &RemotePath) -> Result<usize, StorageError> {
    let claim = Claim::read(home.bucket(), home.keys.state(path)).await?;
    let file = home.keys.file(path);
    let count = claim.state.uploads.len();
    for entry in claim.state.uploads.values() {
        discard(&home.shared, &file, entry).await;
    }
    objects::delete(home.bucket(), &claim.key).await?;
    Ok(count)
}

/// [`crate::storage::Store::expire`]: aborts the uploads left alone for longer than `ttl`
/// whose lease (if they hold it) has lapsed; how many.
pub async fn expire(shared: &Shared, ttl: Duration) -> Result<usize, StorageError> {
    let prefix = keys::all_states(&shared.prefix);
    let keys: Vec<object_store::path::Path> = shared
        .bucket
        .list(Some(&prefix))
        .map_ok(|meta| meta.location)
        .try_collect()
        .await
        .map_err(storage_error)?;
    let now = now_ms();
    let ttl = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
    let mut expired = 0;
    for key in keys {
        let mut claim = Claim::read(&shared.bucket, key.clone()).await?;
        let leased = claim
            .state
            .lease
            .as_ref()
            .filter(|l| l.until_ms > now || shared.is_live(&l.owner))
            .map(|l| l.partial.clone());
        let old: Vec<(String, Entry)> = claim
            .state
            .uploads
            .iter()
            .filter(|(name, e)| {
                Some(*name) != leased.as_ref() && now.saturating_sub(e.touched_ms) > ttl
            })
            .map(|(n, e)| (n.clone(), e.clone()))
            .collect();
        if old.is_empty() {
            continue;
        }
        for (name, _) in &old {
            claim.state.uploads.remove(name);
        }
        if claim
            .state
            .lease
            .as_ref()
            .is_some_and(|l| Some(&l.partial) != leased.as_ref())
        {
            claim.state.lease = None;
        }
        match claim.write(&shared.bucket).await {
            Ok(()) => {}
            Err(error) if error.failure == Failure::Busy => continue,
            Err(error) => return Err(error),
        }
        let Some(file) = file_of_state(shared, &key) else {
            continue;
        };
        for (_, entry) in &old {
            discard(shared, &file, entry).await;
        }
        expired += old.len();
    }
    Ok(expired)
}

/// The destination key of the state object `key`: `uploads/<home…>/<path>` to
/// `files/<home…>/<path>`.
fn file_of_state(
    shared: &Shared,
    key: &object_store::path::Path,
) -> Option<object_store::path::Path> {
    let uploads = keys::all_states(&shared.prefix);
    let rest: Vec<String> = key
        .prefix_match(&uploads)?
        .map(|p| p.as_ref().to_owned())
        .collect();
    let files = keys::all_files(&shared.prefix);
    Some(rest.iter().fold(files, |k, part| k.join(part.as_str())))
}
