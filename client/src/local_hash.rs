//! The whole-file SHA-256 of a local file compared with a remote one (a `put` onto a remote file
//! of the same size, a `get` onto an existing local file): taken from the client's cache when
//! the cache knows the file unchanged (see [`crate::checkpoints`]), else read on a blocking
//! thread with a progress bar and then kept in the cache.
//!
//! A cached digest is trusted only to say "the same": when it differs from the remote one, the
//! file is read again before the user is told it differs, so a wrong entry cannot turn into a
//! refusal. This module never writes the file it hashes and never hashes on the async runtime.

use std::path::Path;
use std::sync::Arc;

use ftp_proto::files::filestream::{self, HashPlan, HashProgress};

use crate::checkpoints::Store;

/// The SHA-256 of a local file, and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalHash {
    /// The file's SHA-256.
    pub sha256: [u8; 32],
    /// Taken from the cache: the file was not read.
    pub from_cache: bool,
}

/// Starts hashing `file` (opened from `local`) whole on a blocking thread, or taking its hash
/// from the cache when `cache` allows and it is there; `progress` hears of the reading. The
/// work starts at once; the future yields its result.
pub fn hash(
    local: &Path,
    file: Arc<std::fs::File>,
    cache: bool,
    progress: HashProgress,
) -> impl Future<Output = std::io::Result<LocalHash>> + Send + 'static {
    let local = local.to_path_buf();
    let thread = tokio::task::spawn_blocking(move || hash_blocking(&local, &file, cache, progress));
    async move {
        thread
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(format!("hash thread failed: {e}"))))
    }
}

/// `first`, unless it came from the cache and differs from `remote`: then what `again` (a
/// [`hash`] that reads the file, started only then) finds.
pub async fn confirmed<F>(
    first: LocalHash,
    remote: &[u8; 32],
    again: impl FnOnce() -> F,
) -> std::io::Result<LocalHash>
where
    F: Future<Output = std::io::Result<LocalHash>>,
{
    if first.from_cache && first.sha256 != *remote {
        again().await
    } else {
        Ok(first)
    }
}

/// [`hash`], on the calling thread. Blocking.
fn hash_blocking(
    local: &Path,
    file: &std::fs::File,
    cache: bool,
    progress: HashProgress,
) -> std::io::Result<LocalHash> {
    let store = Store::for_file(local, file);
    if cache && let Some(whole) = store.as_ref().and_then(Store::whole) {
        return Ok(LocalHash {
            sha256: filestream::sha256_of(&whole),
            from_cache: true,
        });
    }
    let end = filestream::hash_whole(file, HashPlan::default().with_progress(progress))?;
    if let Some(store) = &store {
        store.keep_whole(file, &end);
    }
    Ok(LocalHash {
        sha256: filestream::sha256_of(&end),
        from_cache: false,
    })
}

/// Keeps `end`, the hash state at the end of a file just downloaded to `local`, as that file's
/// whole hash, if `local` is still the file (device and inode `id`) that was written. Best
/// effort. Blocking. A write by another process between the rename and this look is not seen
/// (the entry then binds the new change time to the old digest); for the user's own files that
/// window is the rename's, and the server still checks whatever such a digest declares.
pub fn remember_download(
    local: &Path,
    id: (u64, u64),
    end: &ftp_proto::files::checkpoint::Checkpoint,
) {
    use std::os::unix::fs::MetadataExt;
    let Ok(file) = crate::part::options().read(true).open(local) else {
        return;
    };
    let same = file
        .metadata()
        .is_ok_and(|meta| meta.is_file() && (meta.dev(), meta.ino()) == id);
    if let (true, Some(store)) = (same, Store::for_file(local, &file)) {
        store.keep_whole(&file, end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[tokio::test]
    async fn only_a_cached_mismatch_is_read_again() {
        let read = LocalHash {
            sha256: [1; 32],
            from_cache: false,
        };
        let cached = LocalHash {
            from_cache: true,
            ..read
        };
        let again = || async {
            Ok(LocalHash {
                sha256: [2; 32],
                from_cache: false,
            })
        };
        assert_eq!(confirmed(read, &[2; 32], again).await.unwrap(), read);
        assert_eq!(confirmed(cached, &[1; 32], again).await.unwrap(), cached);
        assert_eq!(
            confirmed(cached, &[2; 32], again).await.unwrap().sha256,
            [2; 32]
        );
    }

    #[tokio::test]
    async fn a_file_is_read_when_the_cache_may_not_be_used() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"content").unwrap();
        let file = Arc::new(std::fs::File::open(&path).unwrap());
        let heard = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = Arc::clone(&heard);
        let progress: HashProgress = Box::new(move |done, total| {
            sink.lock().unwrap().push((done, total));
        });
        let hashed = hash(&path, file, false, progress).await.unwrap();
        assert_eq!(hashed.sha256, <[u8; 32]>::from(Sha256::digest(b"content")));
        assert!(!hashed.from_cache);
        assert_eq!(*heard.lock().unwrap(), [(0, 7), (7, 7)]);
    }
}
