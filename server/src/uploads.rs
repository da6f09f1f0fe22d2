//! Uploads, whatever the store: what a partial is named ([`partial_name`]: by user, remote
//! path, size and local modification time, so the same command resumes and a changed local
//! file starts afresh), the client's time a file gets ([`client_time`]), and how partials
//! resume and become visible on the local disk is [`crate::storage::local::partial`]).
//!
//! [`PathLocks`] gives one upload per destination at a time; a second gets "busy", except a
//! reconnecting retry of the same command (same upload id), which takes the lock over once the
//! dead connection's writer has stopped. The locks also know which partials are being written,
//! so only idle ones count against a user's limit.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use ftp_proto::{ErrorKind, FileIdentity};
use sha2::{Digest, Sha256};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::error::Refusal;

/// How long a takeover waits for the previous holder to let go.
const TAKEOVER_TIMEOUT: Duration = Duration::from_secs(30);

/// How long another upload waits for the holder to find its connection gone (a killed client
/// is noticed at the next read) before it is told "busy".
const GONE_GRACE: Duration = Duration::from_secs(1);

/// Name of the partial for this user, destination and local file: `USER~HASH.part` (user
/// names cannot contain `~`), so a user's partials can be counted.
pub fn partial_name(user: &str, destination: &Path, file: &FileIdentity) -> String {
    let mut hash = Sha256::new();
    hash.update(user.as_bytes());
    hash.update([0]);
    hash.update(destination.as_os_str().as_encoded_bytes());
    hash.update([0]);
    hash.update(file.size.to_be_bytes());
    hash.update(file.modified_secs.to_be_bytes());
    hash.update(file.modified_nanos.to_be_bytes());
    format!("{user}~{}.part", hex::encode(hash.finalize()))
}

/// The client's modification time of `file`, when it is a time this system can hold (its
/// nanoseconds below a second, its seconds in range); `None` otherwise.
pub fn client_time(file: &FileIdentity) -> Option<SystemTime> {
    if file.modified_nanos >= 1_000_000_000 {
        return None;
    }
    let nanos = Duration::from_nanos(u64::from(file.modified_nanos));
    let secs = Duration::from_secs(file.modified_secs.unsigned_abs());
    if file.modified_secs >= 0 {
        SystemTime::UNIX_EPOCH.checked_add(secs)?.checked_add(nanos)
    } else {
        SystemTime::UNIX_EPOCH.checked_sub(secs)?.checked_add(nanos)
    }
}

/// Who holds a destination.
struct Holder {
    /// The holder's upload id.
    upload_id: [u8; 16],
    /// Distinguishes successive holders of the same path.
    generation: u64,
    /// Cancelled when a retry of the same command takes over.
    cancel: CancellationToken,
    /// Closes when the holder lets go.
    released: watch::Receiver<()>,
    /// Name of the partial the holder writes.
    partial: String,
    /// Turns true once the holder's connection is gone and it only stores what it received.
    ending: watch::Receiver<bool>,
}

/// The destinations being uploaded to right now.
#[derive(Default)]
pub struct PathLocks {
    /// Holders by destination (relative to the root).
    held: Mutex<HashMap<PathBuf, Holder>>,
    /// Source of generations.
    next: AtomicU64,
}

impl std::fmt::Debug for PathLocks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PathLocks").finish_non_exhaustive()
    }
}

/// Held while uploading to a destination; dropping it lets go.
pub struct PathLock {
    /// The registry.
    locks: Arc<PathLocks>,
    /// The destination.
    key: PathBuf,
    /// This holder's generation.
    generation: u64,
    /// Cancelled when a retry of the same command takes over.
    pub cancel: CancellationToken,
    /// Dropped with the lock, which wakes a waiting takeover.
    _release: watch::Sender<()>,
    /// Tells the registry: see [`PathLock::ending`].
    ending: watch::Sender<bool>,
}

impl PathLock {
    /// The upload's connection is gone (or its upload failed): what is left is storing what
    /// was received. Anyone asking for the destination meanwhile waits for that instead of
    /// being told "busy", so a command run again at once resumes.
    pub fn ending(&self) {
        self.ending.send_replace(true);
    }
}

impl PathLocks {
    /// Takes the lock on `key` for `upload_id`, writing `partial`, taking it over from a
    /// dead connection of the same command; anyone else holding it means "busy", told with
    /// `shown`, the path as the asking user names it (the key may lie in another's home).
    pub async fn lock(
        self: &Arc<Self>,
        key: PathBuf,
        upload_id: [u8; 16],
        partial: &str,
        shown: &str,
    ) -> Result<PathLock, Refusal> {
        let busy = || {
            Refusal::new(
                ErrorKind::Busy,
                format!("{shown} is busy: another upload to it is in progress"),
            )
        };
        loop {
            let (mut released, ending) = {
                let mut held = self
                    .held
                    .lock()
                    .map_err(|_| Refusal::internal("path locks", "poisoned"))?;
                match held.get(&key) {
                    None => {
                        let generation = self.next.fetch_add(1, Ordering::Relaxed);
                        let (release, released) = watch::channel(());
                        let cancel = CancellationToken::new();
                        let (ending, ending_seen) = watch::channel(false);
                        held.insert(
                            key.clone(),
                            Holder {
                                upload_id,
                                generation,
                                cancel: cancel.clone(),
                                released,
                                partial: partial.to_owned(),
                                ending: ending_seen,
                            },
                        );
                        return Ok(PathLock {
                            locks: Arc::clone(self),
                            key,
                            generation,
                            cancel,
                            _release: release,
                            ending,
                        });
                    }
                    Some(holder) if holder.upload_id == upload_id => {
                        holder.cancel.cancel();
                        (holder.released.clone(), None)
                    }
                    Some(holder) => (holder.released.clone(), Some(holder.ending.clone())),
                }
            };
            if let Some(mut ending) = ending {
                let gone = async {
                    tokio::select! {
                        _ = released.changed() => {}
                        _ = ending.wait_for(|gone| *gone) => {}
                    }
                };
                if tokio::time::timeout(GONE_GRACE, gone).await.is_err() {
                    return Err(busy());
                }
            }
            // `changed` fails once the holder's sender is dropped: it has let go.
            match tokio::time::timeout(TAKEOVER_TIMEOUT, released.changed()).await {
                Ok(Err(_)) | Ok(Ok(())) => continue,
                Err(_) => return Err(busy()),
            }
        }
    }

    /// The partials being written right now, by a live upload holding its lock.
    pub fn partials_in_use(&self) -> HashSet<String> {
        self.held
            .lock()
            .map(|held| held.values().map(|h| h.partial.clone()).collect())
            .unwrap_or_default()
    }
}

impl Drop for PathLock {
    fn drop(&mut self) {
        if let Ok(mut held) = self.locks.held.lock()
            && held
                .get(&self.key)
                .is_some_and(|h| h.generation == self.generation)
        {
            held.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(size: u64, secs: i64) -> FileIdentity {
        FileIdentity {
            size,
            modified_secs: secs,
            modified_nanos: 0,
        }
    }

    #[test]
    fn partial_names_change_with_every_part_of_the_key() {
        let base = partial_name("alice", Path::new("a/b"), &identity(10, 1));
        for other in [
            partial_name("bob", Path::new("a/b"), &identity(10, 1)),
            partial_name("alice", Path::new("a/c"), &identity(10, 1)),
            partial_name("alice", Path::new("a/b"), &identity(11, 1)),
            partial_name("alice", Path::new("a/b"), &identity(10, 2)),
        ] {
            assert_ne!(base, other);
        }
        assert_eq!(
            base,
            partial_name("alice", Path::new("a/b"), &identity(10, 1))
        );
    }

    #[tokio::test]
    async fn an_upload_whose_connection_is_gone_is_waited_for_not_busy() {
        let locks = Arc::new(PathLocks::default());
        let first = locks.lock("a".into(), [1; 16], "p1", "/a").await.unwrap();
        first.ending();
        let next = tokio::spawn({
            let locks = Arc::clone(&locks);
            async move {
                locks
                    .lock("a".into(), [2; 16], "p1", "/a")
                    .await
                    .map(|_| ())
            }
        });
        tokio::task::yield_now().await;
        assert!(
            !next.is_finished(),
            "it waits while the first one stores what it got"
        );
        drop(first);
        assert!(next.await.unwrap().is_ok());
    }

    #[tokio::test]
    async fn second_uploader_is_busy_but_a_retry_takes_over() {
        let locks = Arc::new(PathLocks::default());
        let first = locks.lock("a".into(), [1; 16], "p1", "/a").await.unwrap();
        let other = locks
            .lock("a".into(), [2; 16], "p2", "/a")
            .await
            .err()
            .unwrap();
        assert_eq!(other.kind, ErrorKind::Busy);
        let cancel = first.cancel.clone();
        let retry = tokio::spawn({
            let locks = Arc::clone(&locks);
            async move {
                locks
                    .lock("a".into(), [1; 16], "p1", "/a")
                    .await
                    .map(|_| ())
            }
        });
        cancel.cancelled().await;
        drop(first);
        retry.await.unwrap().unwrap();
        // Released again after the retry's lock dropped.
        locks.lock("a".into(), [2; 16], "p2", "/a").await.unwrap();
    }

    #[test]
    fn client_times_before_the_epoch_count_and_bad_nanoseconds_do_not() {
        let at = |secs, nanos| {
            client_time(&FileIdentity {
                size: 0,
                modified_secs: secs,
                modified_nanos: nanos,
            })
        };
        assert_eq!(at(5, 7), Some(SystemTime::UNIX_EPOCH + Duration::new(5, 7)));
        assert!(at(-5, 0).is_some_and(|t| t < SystemTime::UNIX_EPOCH));
        assert_eq!(at(1, 1_000_000_000), None);
    }
}
