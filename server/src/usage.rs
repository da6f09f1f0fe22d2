//! What a user stores, for the quota (`quota`, `max_files`) and `ftp df`: counted through the
//! storage seam ([`crate::storage::Home::usage`], a walk of the home plus the user's
//! unfinished uploads), so it is the same on every store, and kept per user while a session of
//! theirs is open ([`UsageCache`]).
//!
//! An upload is checked when it starts, from its declared size less what its partial already
//! holds (and, when it replaces a file, less that file's size): it reserves what it still needs
//! until it ends, so two sessions of one user cannot both take the last free bytes. A finished
//! upload adds what it reserved to the count; anything else that changes what is stored (a
//! failed upload, a removal, a replacing rename) marks the count stale, so the next check walks
//! the home again. A count older than [`FRESH_FOR`] is walked again too (another server
//! instance, or the operator, may have changed the home). The walk runs in the store (its
//! blocking threads or network calls), one batch at a time: memory stays bounded whatever the
//! home's size.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ftp_proto::{ErrorKind, UsageInfo};
use tokio::time::Instant;

use crate::error::Refusal;
use crate::limits::{Limits, shown_size};
pub use crate::storage::usage_walk::Usage;
use crate::storage::{Home, StorageError};

/// How long a count of a home stands before the next check walks it again.
pub const FRESH_FOR: Duration = Duration::from_secs(30);

impl Usage {
    /// As `ftp df` is told, with the account's limits.
    pub fn info(&self, limits: &Limits) -> UsageInfo {
        UsageInfo {
            used_bytes: self.bytes,
            used_files: self.files,
            partial_bytes: self.partial_bytes,
            quota_bytes: limits.quota,
            max_files: limits.max_files,
        }
    }
}

/// The last count of a user's home and what uploads under way have reserved.
#[derive(Debug, Default)]
pub struct UsageCache {
    /// Guarded state.
    inner: Mutex<Counted>,
}

/// See [`UsageCache`].
#[derive(Debug, Default)]
struct Counted {
    /// The last count and when it was made; `None`: none yet, or stale.
    usage: Option<(Usage, Instant)>,
    /// Bytes reserved by uploads under way.
    reserved_bytes: u64,
    /// New files reserved by uploads under way.
    reserved_files: u64,
}

/// What one upload needs beyond what is stored now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Need {
    /// Bytes still to come (its size less what its partial holds and what it replaces).
    pub bytes: u64,
    /// 1 for a new file, 0 for one that replaces a file.
    pub files: u64,
}

/// An upload's reservation in its user's count; released when dropped. [`Self::landed`] turns
/// it into stored bytes; dropped without that, the count is walked again next time (what the
/// upload left, a partial, is counted then).
#[derive(Debug)]
pub struct Reservation {
    /// The user's count.
    usage: Arc<UsageCache>,
    /// What it reserved.
    need: Need,
    /// The upload landed: its bytes are now stored.
    landed: bool,
}

impl Reservation {
    /// The upload is in place: what it reserved is stored now.
    pub fn landed(mut self) {
        self.landed = true;
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let Ok(mut counted) = self.usage.inner.lock() else {
            return;
        };
        counted.reserved_bytes = counted.reserved_bytes.saturating_sub(self.need.bytes);
        counted.reserved_files = counted.reserved_files.saturating_sub(self.need.files);
        if self.landed {
            if let Some((usage, _)) = counted.usage.as_mut() {
                usage.bytes = usage.bytes.saturating_add(self.need.bytes);
                usage.files = usage.files.saturating_add(self.need.files);
            }
        } else {
            counted.usage = None;
        }
    }
}

impl UsageCache {
    /// What the user stores: the last count when it is fresh (and `fresh` is not asked for),
    /// else a new walk of `home`, kept for the next checks.
    pub async fn current(&self, home: &dyn Home, fresh: bool) -> Result<Usage, StorageError> {
        if !fresh
            && let Ok(counted) = self.inner.lock()
            && let Some((usage, at)) = counted.usage
            && at.elapsed() < FRESH_FOR
        {
            return Ok(usage);
        }
        let usage = home.usage().await?;
        if let Ok(mut counted) = self.inner.lock() {
            counted.usage = Some((usage, Instant::now()));
        }
        Ok(usage)
    }

    /// Something changed what is stored in a way not counted here: walk again next time.
    pub fn stale(&self) {
        if let Ok(mut counted) = self.inner.lock() {
            counted.usage = None;
        }
    }

    /// Adds bytes now stored (a file whose upload reserved nothing).
    pub fn stored(&self, need: Need) {
        if let Ok(mut counted) = self.inner.lock()
            && let Some((usage, _)) = counted.usage.as_mut()
        {
            usage.bytes = usage.bytes.saturating_add(need.bytes);
            usage.files = usage.files.saturating_add(need.files);
        }
    }
}

/// Checks that an upload needing `need` fits the user's `limits`, and reserves it; the refusal
/// says what is used and what the file needs. No limit: nothing is counted (`None`).
pub async fn reserve(
    cache: &Arc<UsageCache>,
    home: &dyn Home,
    limits: &Limits,
    need: Need,
    shown: &str,
) -> Result<Option<Reservation>, Refusal> {
    if !limits.counts_usage() {
        return Ok(None);
    }
    let usage = cache.current(home, false).await.map_err(|e| {
        tracing::warn!(error = %e.detail, "cannot count the user's storage");
        Refusal::new(
            ErrorKind::Internal,
            "upload refused: the server cannot count your storage for the quota",
        )
    })?;
    let Ok(mut counted) = cache.inner.lock() else {
        return Err(Refusal::new(ErrorKind::Internal, "server error: usage"));
    };
    let used = usage.bytes.saturating_add(counted.reserved_bytes);
    let files = usage.files.saturating_add(counted.reserved_files);
    judge(limits, used, files, need, shown)?;
    counted.reserved_bytes = counted.reserved_bytes.saturating_add(need.bytes);
    counted.reserved_files = counted.reserved_files.saturating_add(need.files);
    Ok(Some(Reservation {
        usage: Arc::clone(cache),
        need,
        landed: false,
    }))
}

/// Whether `need` fits beside `used` bytes and `files` under `limits`.
pub fn judge(
    limits: &Limits,
    used: u64,
    files: u64,
    need: Need,
    shown: &str,
) -> Result<(), Refusal> {
    if let Some(quota) = limits.quota
        && need.bytes > 0
        && used.saturating_add(need.bytes) > quota
    {
        return Err(Refusal::new(
            ErrorKind::Quota,
            format!(
                "quota: {} of {} used, this file needs {} ({shown}; nothing was sent)",
                shown_size(used),
                shown_size(quota),
                shown_size(need.bytes)
            ),
        ));
    }
    if let Some(max) = limits.max_files
        && need.files > 0
        && files.saturating_add(need.files) > max
    {
        return Err(Refusal::new(
            ErrorKind::Quota,
            format!(
                "quota: {files} of {max} files stored, no room for another ({shown}; nothing was sent)"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_names_what_is_used_and_needed() {
        let limits = Limits {
            quota: Some(10 << 30),
            max_files: Some(3),
            ..Limits::default()
        };
        let need = Need {
            bytes: 1_288_490_189,
            files: 1,
        };
        let refusal = judge(&limits, (19 << 30) / 2, 0, need, "big.iso").unwrap_err();
        assert_eq!(refusal.kind, ErrorKind::Quota);
        assert!(
            refusal
                .message
                .starts_with("quota: 9.5 GiB of 10 GiB used, this file needs 1.2 GiB"),
            "{}",
            refusal.message
        );
        assert!(judge(&limits, 1 << 30, 2, need, "x").is_ok());
        let files = judge(&limits, 0, 3, need, "x").unwrap_err();
        assert!(files.message.contains("3 of 3 files"), "{}", files.message);
        // Replacing a file needs no new one; nothing more to store always fits.
        let replace = Need { bytes: 0, files: 0 };
        assert!(judge(&limits, 11 << 30, 3, replace, "x").is_ok());
    }
}
