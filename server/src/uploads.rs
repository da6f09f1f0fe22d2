//! Partial uploads: where they live, how they resume, and how they become visible.
//!
//! Partials live in `<root>/.ftpd-internal/partials/`, on the root's file system but outside
//! every home and unreachable by any remote path (the jail refuses the folder's name). A
//! partial is named by a hash of user, remote path, size and local modification time, so the
//! same command resumes and a changed local file starts afresh; a sidecar records where it is
//! going ([`crate::partials`]). A file becomes visible only
//! through [`finish`]: fsync, atomic rename into the home, fsync of the folder.
//!
//! [`PathLocks`] gives one upload per destination at a time; a second gets "busy", except a
//! reconnecting retry of the same command (same upload id), which takes the lock over once the
//! dead connection's writer has stopped. The locks also know which partials are being written,
//! so only idle ones count against a user's limit ([`count_idle_partials`]).

use std::collections::{HashMap, HashSet};
use std::io::{Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use ftp_proto::files::filestream::HashPlan;
use ftp_proto::{ErrorKind, FileIdentity};
use sha2::{Digest, Sha256};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::error::Refusal;
use crate::jail::INTERNAL_DIR;

/// Folder of partial uploads, inside the internal folder.
const PARTIALS: &str = "partials";

/// How long a takeover waits for the previous holder to let go.
const TAKEOVER_TIMEOUT: Duration = Duration::from_secs(30);

/// Opens (creating when missing) the partials folder beneath the root.
pub fn open_partials(root: &cap_std::fs::Dir) -> std::io::Result<cap_std::fs::Dir> {
    let path = Path::new(INTERNAL_DIR).join(PARTIALS);
    crate::modes::create_dir_all(root, &path, crate::modes::INTERNAL_DIR_MODE)?;
    root.open_dir(&path)
}

/// Folders, inside the partials folder, of the partials of small files sent whole
/// (`PutWhole`): consecutive batches of a session take turns, so the files of one batch are
/// created in one while those of the batch before are renamed out of the other, instead of both
/// queueing on one folder's lock.
pub const WHOLE_FILE_FOLDERS: [&str; 2] = ["whole-a", "whole-b"];

/// Opens (creating when missing) the [`WHOLE_FILE_FOLDERS`] inside the partials folder.
pub fn open_whole_file_folders(
    partials: &cap_std::fs::Dir,
) -> std::io::Result<[cap_std::fs::Dir; 2]> {
    let open = |name: &str| {
        crate::modes::create_dir_all(partials, Path::new(name), crate::modes::INTERNAL_DIR_MODE)?;
        partials.open_dir(name)
    };
    Ok([open(WHOLE_FILE_FOLDERS[0])?, open(WHOLE_FILE_FOLDERS[1])?])
}

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

/// How many partials `user` has that nobody is writing: those named in `in_use` (see
/// [`PathLocks::partials_in_use`]) are being received and do not count. Blocking.
pub fn count_idle_partials(
    partials: &cap_std::fs::Dir,
    user: &str,
    in_use: &HashSet<String>,
) -> std::io::Result<usize> {
    let prefix = format!("{user}~");
    let mut count = 0;
    for entry in partials.entries()? {
        let name = entry?.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(&prefix) && name.ends_with(".part") && !in_use.contains(&*name) {
            count += 1;
        }
    }
    Ok(count)
}

/// Opens a partial for appending, with `mode` (the mode the published file will have);
/// returns it with the offset to resume from. A partial longer than the declared size cannot be
/// right and is emptied. Blocking.
pub fn open_partial(
    partials: &cap_std::fs::Dir,
    name: &str,
    size: u64,
    mode: u32,
) -> std::io::Result<(std::fs::File, u64)> {
    let mut options = cap_std::fs::OpenOptions::new();
    options.read(true).write(true).create(true);
    let mut file = partials.open_with(name, &options)?.into_std();
    crate::modes::set_file_mode(&file, mode)?;
    let mut offset = file.metadata()?.len();
    if offset > size {
        file.set_len(0)?;
        offset = 0;
    }
    file.seek(SeekFrom::Start(offset))?;
    Ok((file, offset))
}

/// How the writer of a partial opened at `offset` hashes: from the checkpoints sealed when it
/// was last written (bound to its name, inode, length and modification time), sealing new ones
/// beside it when it stops. A partial started afresh loses any old list. Then marks the partial
/// as in use again, so expiry does not take it. Blocking.
pub fn hash_plan(
    partials: &Arc<cap_std::fs::Dir>,
    partial: &str,
    file: &std::fs::File,
    offset: u64,
) -> std::io::Result<HashPlan> {
    let list_name = crate::partials::checkpoint_name(partial);
    let meta = file.metadata()?;
    let mut binding = Sha256::new();
    binding.update(b"ftpd partial\0");
    binding.update(partial.as_bytes());
    binding.update(meta.dev().to_be_bytes());
    binding.update(meta.ino().to_be_bytes());
    let binding: [u8; 32] = binding.finalize().into();
    if offset == 0 {
        let _ = partials.remove_file(&list_name);
    }
    let plan = crate::ledger::sealed_plan(partials, list_name, binding, &meta, offset, "upload");
    file.set_modified(SystemTime::now())?;
    Ok(plan)
}

/// SHA-256 of a whole regular file in a home (opened without blocking: anything else there,
/// such as a FIFO, is `ENXIO`). Blocking.
pub fn hash_file(home: &cap_std::fs::Dir, path: &Path) -> std::io::Result<[u8; 32]> {
    let file = crate::storage::local::opening::open_nonblocking(home, path)?;
    if !file.metadata()?.is_file() {
        return Err(rustix::io::Errno::NXIO.into());
    }
    ftp_proto::files::filestream::hash_file(&file)
}

/// Makes a verified partial visible under its final name: give it the client's modification
/// time `modified` (so it never appears under its name with another), fsync the data (when
/// `durable`), rename into the home (atomically replacing any file there only when `replace`;
/// otherwise a file that appeared there meanwhile is an `AlreadyExists` error and the partial,
/// with its checkpoints and its own time back, is kept: see [`crate::place`]), fsync the
/// folder. Returns the file's metadata once in place, unless something wrote to it meanwhile
/// (its size or modification time moved). Blocking.
#[allow(clippy::too_many_arguments)]
pub fn finish(
    partials: &cap_std::fs::Dir,
    name: &str,
    file: std::fs::File,
    home: &cap_std::fs::Dir,
    destination: &Path,
    modified: Option<SystemTime>,
    durable: bool,
    replace: bool,
) -> std::io::Result<Option<std::fs::Metadata>> {
    let own = file.metadata()?.modified()?;
    if let Some(modified) = modified {
        file.set_modified(modified)?;
    }
    if durable {
        file.sync_data()?;
    }
    let before = file.metadata()?;
    if let Err(error) = crate::place::place(partials, name, home, destination, replace) {
        // The partial stays: with its own time, expiry does not take it early and its
        // checkpoints (bound to that time) still hold.
        let _ = file.set_modified(own);
        return Err(error);
    }
    crate::partials::forget_checkpoints(partials, name);
    if durable {
        let parent = match destination.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        // A plain read-only open: a directory handle from `open_dir` may be O_PATH, which
        // cannot be synced.
        home.open(parent)?.into_std().sync_all()?;
    }
    // The rename moved the change time; a write would have moved more.
    let after = file.metadata()?;
    let unchanged = after.len() == before.len()
        && after.modified().ok() == before.modified().ok()
        && after.ino() == before.ino();
    Ok(unchanged.then_some(after))
}

/// Removes partials not written to (nor their time set) for `ttl` (and then the records of where they were going);
/// returns how many. Blocking.
pub fn expire(partials: &cap_std::fs::Dir, ttl: Duration) -> std::io::Result<usize> {
    let now = SystemTime::now();
    let mut removed = 0;
    for entry in partials.entries()? {
        let entry = entry?;
        if entry
            .file_name()
            .to_str()
            .is_some_and(crate::partials::is_sidecar)
        {
            continue;
        }
        let meta = entry.metadata()?;
        use cap_std::fs::MetadataExt as _;
        // Setting an upload's time (to the client's, before it is placed) moves the change
        // time: such a partial is in use, however old its modification time.
        let changed = u64::try_from(meta.ctime()).ok().map(|secs| {
            let nanos = u32::try_from(meta.ctime_nsec()).unwrap_or(0);
            SystemTime::UNIX_EPOCH + Duration::new(secs, nanos.min(999_999_999))
        });
        let touched = meta
            .modified()?
            .into_std()
            .max(changed.unwrap_or(SystemTime::UNIX_EPOCH));
        let age = now.duration_since(touched).unwrap_or_default();
        if age > ttl && partials.remove_file(entry.file_name()).is_ok() {
            removed += 1;
        }
    }
    crate::partials::sweep(partials)?;
    Ok(removed)
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
            let mut released = {
                let mut held = self
                    .held
                    .lock()
                    .map_err(|_| Refusal::internal("path locks", "poisoned"))?;
                match held.get(&key) {
                    None => {
                        let generation = self.next.fetch_add(1, Ordering::Relaxed);
                        let (release, released) = watch::channel(());
                        let cancel = CancellationToken::new();
                        held.insert(
                            key.clone(),
                            Holder {
                                upload_id,
                                generation,
                                cancel: cancel.clone(),
                                released,
                                partial: partial.to_owned(),
                            },
                        );
                        return Ok(PathLock {
                            locks: Arc::clone(self),
                            key,
                            generation,
                            cancel,
                            _release: release,
                        });
                    }
                    Some(holder) if holder.upload_id == upload_id => {
                        holder.cancel.cancel();
                        holder.released.clone()
                    }
                    Some(_) => return Err(busy()),
                }
            };
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
    use std::io::Write;

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
        assert_eq!(at(5, 7), Some(epoch_plus(5, 7)));
        assert!(at(-5, 0).is_some_and(|t| t < SystemTime::UNIX_EPOCH));
        assert_eq!(at(1, 1_000_000_000), None);
    }

    fn epoch_plus(secs: u64, nanos: u32) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::new(secs, nanos)
    }

    #[test]
    fn a_placed_partial_has_the_client_time_and_a_kept_one_its_own() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["home", "partials"] {
            std::fs::create_dir(dir.path().join(name)).unwrap();
        }
        let open = |name: &str| {
            cap_std::fs::Dir::open_ambient_dir(dir.path().join(name), cap_std::ambient_authority())
                .unwrap()
        };
        let (home, partials) = (open("home"), open("partials"));
        let old = epoch_plus(1_000_000_000, 123_456_789);
        let write = |name: &str| {
            let path = dir.path().join("partials").join(name);
            std::fs::write(&path, b"data").unwrap();
            std::fs::File::options().write(true).open(&path).unwrap()
        };

        std::fs::write(dir.path().join("home/taken"), b"planted").unwrap();
        let kept = write("kept");
        let own = kept.metadata().unwrap().modified().unwrap();
        let error = finish(
            &partials,
            "kept",
            kept,
            &home,
            Path::new("taken"),
            Some(old),
            true,
            false,
        )
        .unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::AlreadyExists);
        let meta = std::fs::metadata(dir.path().join("partials/kept")).unwrap();
        assert_eq!(
            meta.modified().unwrap(),
            own,
            "the kept partial has its own time back"
        );

        let placed = write("placed");
        let meta = finish(
            &partials,
            "placed",
            placed,
            &home,
            Path::new("free"),
            Some(old),
            true,
            false,
        )
        .unwrap()
        .expect("nothing wrote to it");
        assert_eq!(meta.modified().unwrap(), old);
        let landed = std::fs::metadata(dir.path().join("home/free")).unwrap();
        assert_eq!(landed.modified().unwrap(), old);
    }

    #[test]
    fn a_partial_given_an_old_time_just_now_does_not_expire() {
        let dir = tempfile::tempdir().unwrap();
        let partials =
            cap_std::fs::Dir::open_ambient_dir(dir.path(), cap_std::ambient_authority()).unwrap();
        let path = dir.path().join("p.part");
        std::fs::write(&path, b"data").unwrap();
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(epoch_plus(1_000_000_000, 0)).unwrap();
        assert_eq!(expire(&partials, Duration::from_secs(3600)).unwrap(), 0);
        assert!(path.exists());
    }

    #[test]
    fn partials_resume_from_their_length_and_too_long_ones_restart() {
        let dir = tempfile::tempdir().unwrap();
        let partials =
            cap_std::fs::Dir::open_ambient_dir(dir.path(), cap_std::ambient_authority()).unwrap();
        let (mut file, offset) = open_partial(&partials, "p", 6, 0o600).unwrap();
        assert_eq!(offset, 0);
        file.write_all(b"abc").unwrap();
        let (_, offset) = open_partial(&partials, "p", 6, 0o600).unwrap();
        assert_eq!(offset, 3);
        let (_, offset) = open_partial(&partials, "p", 2, 0o600).unwrap();
        assert_eq!(offset, 0, "longer than declared: emptied");
    }

    #[tokio::test]
    async fn only_partials_nobody_is_writing_count_against_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let partials =
            cap_std::fs::Dir::open_ambient_dir(dir.path(), cap_std::ambient_authority()).unwrap();
        for name in [
            "alice~a.part",
            "alice~b.part",
            "alice~c.part",
            "bob~d.part",
            "alice~a.ckpt",
        ] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        let locks = Arc::new(PathLocks::default());
        let none = locks.partials_in_use();
        assert_eq!(count_idle_partials(&partials, "alice", &none).unwrap(), 3);
        let writing = locks
            .lock("a".into(), [1; 16], "alice~a.part", "/a")
            .await
            .unwrap();
        let in_use = locks.partials_in_use();
        assert_eq!(count_idle_partials(&partials, "alice", &in_use).unwrap(), 2);
        drop(writing);
        let in_use = locks.partials_in_use();
        assert_eq!(
            count_idle_partials(&partials, "alice", &in_use).unwrap(),
            3,
            "idle again"
        );
    }
}
