//! Partial uploads on the local disk. Partials live in `<root>/.ftpd-internal/partials/`, on
//! the root's file system but outside every home and unreachable by any remote path (the jail
//! refuses the folder's name); a sidecar records where each is going ([`super::partials`]), a
//! sealed checkpoint list the hash state of what it holds ([`super::ledger`]). A partial is
//! opened or resumed ([`LocalPartial`]: appended by write-behind, hashed on the way), and
//! becomes visible only through [`finish`]: fsync, atomic rename into the home, fsync of the
//! folder ([`LocalHeld::commit`]). Partials nobody touched for the configured time expire
//! ([`expire`]).

use std::collections::HashSet;
use std::io::{Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use ftp_proto::files::filestream::{HashPlan, HashingWriter, Written};
use sha2::{Digest, Sha256};

use super::{LocalHome, space};
use crate::failure::errno::classify;
use crate::jail::{INTERNAL_DIR, RemotePath};
use crate::storage::upload::{Found, judge};
use crate::storage::{
    Conflict, Failure, HeldUpload, PartialUpload, StorageError, UploadLimits, UploadTarget,
};

/// Folder of partial uploads, inside the internal folder.
const PARTIALS: &str = "partials";

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

impl LocalHome {
    /// [`crate::storage::Home::check_destination`]. Blocking.
    pub(super) fn check_destination_now(
        &self,
        path: &RemotePath,
        size: u64,
        conflict: Conflict,
    ) -> Result<Option<[u8; 32]>, StorageError> {
        let destination = path.relative();
        if let Some(parent) = destination.parent().filter(|p| !p.as_os_str().is_empty()) {
            crate::modes::create_dir_all(&self.dir, parent, self.shared.modes.dir)
                .map_err(|e| classify(&e))?;
        }
        inspect(&self.dir, &destination, size, conflict)
    }

    /// [`crate::storage::Home::open_upload`], up to the writer. Blocking.
    pub(super) fn open_upload_now(
        &self,
        target: &UploadTarget,
        limits: &UploadLimits,
    ) -> Result<(std::fs::File, u64, HashPlan, [u8; 32]), StorageError> {
        let partials = &self.shared.partials;
        let held = partials
            .symlink_metadata(&target.partial)
            .ok()
            .map(|m| m.len());
        space::guard(
            partials,
            self.shared.reserve,
            target.size,
            held.unwrap_or(0),
        )?;
        if held.is_none() {
            let held = count_idle_partials(partials, &self.user, &limits.in_use)
                .map_err(|e| classify(&e))?;
            if held >= limits.max_partials {
                return Err(StorageError::of(Failure::TooManyUnfinished(held)));
            }
        }
        let (file, offset) = open_partial(
            partials,
            &target.partial,
            target.size,
            self.shared.modes.file,
        )
        .map_err(|e| classify(&e))?;
        let (plan, identity) =
            hash_plan(partials, &target.partial, &file, offset).map_err(|e| classify(&e))?;
        super::partials::record(
            partials,
            &target.partial,
            target.size,
            &target.path.to_string(),
        );
        Ok((file, offset, plan, identity))
    }
}

/// What is at `name` beneath `dir`, judged for an upload of `size` bytes ([`judge`]), hashed
/// when it is to be compared. Blocking.
pub(super) fn inspect(
    dir: &cap_std::fs::Dir,
    name: &Path,
    size: u64,
    conflict: Conflict,
) -> Result<Option<[u8; 32]>, StorageError> {
    let found = match dir.symlink_metadata(name) {
        Ok(meta) if meta.is_dir() => Found::Folder,
        Ok(meta) if meta.is_file() => Found::Regular(meta.len()),
        Ok(meta) => Found::Other(meta.len()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Found::Nothing,
        Err(e) => return Err(classify(&e)),
    };
    if !judge(found, size, conflict).map_err(StorageError::of)? {
        return Ok(None);
    }
    hash_file(dir, name).map(Some).map_err(|e| classify(&e))
}

/// A partial on the local disk being appended to.
pub struct LocalPartial {
    /// Its home.
    pub(super) home: LocalHome,
    /// What it is.
    pub(super) target: UploadTarget,
    /// Appends and hashes.
    pub(super) writer: HashingWriter,
    /// What it held when opened.
    pub(super) offset: u64,
    /// How far its saved hash state reached.
    pub(super) restored: u64,
    /// What binds its saved hash states.
    pub(super) identity: [u8; 32],
}

#[async_trait::async_trait]
impl PartialUpload for LocalPartial {
    fn offset(&self) -> u64 {
        self.offset
    }

    fn restored(&self) -> u64 {
        self.restored
    }

    fn identity(&self) -> [u8; 32] {
        self.identity
    }

    async fn append(&mut self, data: Bytes) -> bool {
        self.writer.write(data).await
    }

    async fn finish(self: Box<Self>) -> Result<Box<dyn HeldUpload>, StorageError> {
        let LocalPartial {
            home,
            target,
            writer,
            ..
        } = *self;
        let written = writer.finish().await.map_err(|e| classify(&e))?;
        Ok(Box::new(LocalHeld {
            home,
            target,
            written,
        }))
    }
}

/// A partial on the local disk received whole.
pub struct LocalHeld {
    /// Its home.
    home: LocalHome,
    /// What it is.
    target: UploadTarget,
    /// The file, its hash and its final hash state.
    written: Written,
}

#[async_trait::async_trait]
impl HeldUpload for LocalHeld {
    fn sha256(&self) -> [u8; 32] {
        self.written.sha256
    }

    async fn commit(self: Box<Self>, durable: bool, replace: bool) -> Result<(), StorageError> {
        let LocalHeld {
            home,
            target,
            written,
        } = *self;
        tokio::task::spawn_blocking(move || {
            let shared = &home.shared;
            let Written { file, end, .. } = written;
            let placed = finish(
                &shared.partials,
                &target.partial,
                file,
                &home.dir,
                &target.path.relative(),
                target.modified,
                durable,
                replace,
            )
            .map_err(|e| {
                if !replace && e.kind() == std::io::ErrorKind::AlreadyExists {
                    StorageError::new(Failure::AlreadyThere, e.to_string())
                } else {
                    classify(&e)
                }
            })?;
            if let Some(meta) = placed {
                super::served::record(&shared.served, &meta, end);
            }
            Ok(())
        })
        .await
        .unwrap_or_else(|e| Err(StorageError::new(Failure::Internal, e.to_string())))
    }

    async fn abandon(self: Box<Self>) {
        let LocalHeld {
            home,
            target,
            written,
        } = *self;
        // The last handle is closed on the blocking thread too: closing an unlinked file frees
        // its blocks, which takes a while for a large one.
        let _ = tokio::task::spawn_blocking(move || {
            let partials = &home.shared.partials;
            super::partials::forget_checkpoints(partials, &target.partial);
            let _ = partials.remove_file(&target.partial);
            drop(written);
        })
        .await;
    }
}

/// How many partials `user` has that nobody is writing: those named in `in_use` (see
/// [`crate::uploads::PathLocks::partials_in_use`]) are being received and do not count. Blocking.
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
) -> std::io::Result<(HashPlan, [u8; 32])> {
    let list_name = super::partials::checkpoint_name(partial);
    let meta = file.metadata()?;
    let binding = identity(partial, &meta);
    if offset == 0 {
        let _ = partials.remove_file(&list_name);
    }
    let plan = super::ledger::sealed_plan(partials, list_name, binding, &meta, offset, "upload");
    file.set_modified(SystemTime::now())?;
    Ok((plan, binding))
}

/// What binds a partial's checkpoints to it: a digest of its name, device and inode, so a
/// list is never applied to a file put in its place.
fn identity(partial: &str, meta: &std::fs::Metadata) -> [u8; 32] {
    let mut binding = Sha256::new();
    binding.update(b"ftpd partial\0");
    binding.update(partial.as_bytes());
    binding.update(meta.dev().to_be_bytes());
    binding.update(meta.ino().to_be_bytes());
    binding.finalize().into()
}

/// SHA-256 of a whole regular file in a home (opened without blocking: anything else there,
/// such as a FIFO, is `ENXIO`). Blocking.
pub fn hash_file(home: &cap_std::fs::Dir, path: &Path) -> std::io::Result<[u8; 32]> {
    let file = super::opening::open_nonblocking(home, path)?;
    if !file.metadata()?.is_file() {
        return Err(rustix::io::Errno::NXIO.into());
    }
    ftp_proto::files::filestream::hash_file(&file)
}

/// Makes a verified partial visible under its final name: give it the client's modification
/// time `modified` (so it never appears under its name with another), fsync the data (when
/// `durable`), rename into the home (atomically replacing any file there only when `replace`;
/// otherwise a file that appeared there meanwhile is an `AlreadyExists` error and the partial,
/// with its checkpoints and its own time back, is kept: see [`super::place`]), fsync the
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
    if let Err(error) = super::place::place(partials, name, home, destination, replace) {
        // The partial stays: with its own time, expiry does not take it early and its
        // checkpoints (bound to that time) still hold.
        let _ = file.set_modified(own);
        return Err(error);
    }
    super::partials::forget_checkpoints(partials, name);
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
            .is_some_and(super::partials::is_sidecar)
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
    super::partials::sweep(partials)?;
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uploads::PathLocks;
    use std::io::Write;

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
