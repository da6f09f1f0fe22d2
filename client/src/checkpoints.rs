//! Where the client keeps its hash checkpoints, so a resumed `put` or `get` re-reads at most
//! one checkpoint interval of the local file instead of all it had already hashed.
//!
//! Lists live in `$XDG_CACHE_HOME/ftp/checkpoints/` (or `~/.cache/ftp/checkpoints/`), one per
//! local file, named by a hash of what binds them to it: for an upload the file's path,
//! device, inode, size, modification and change times (any edit changes the change time, so
//! a list never describes other contents); for a download the `.part` file's path, device and
//! inode, and, as the list is sealed when writing stops, its length and modification time then
//! (see `ftp_proto::checkpoint::Ledger`). A list is removed when its transfer finishes; lists
//! older than a week are swept away when a new transfer starts. Saving is best effort: without
//! a cache folder, or when a save fails, a resume only hashes the prefix again. The folders
//! are created 0700 and every list 0600 through a fresh temporary file and a rename; a list
//! is read without following a link, so nothing planted at a list's name is read or written
//! through. The same folder holds the remote identities of partial downloads (see
//! [`crate::remote_identity`]).

use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use ftp_proto::checkpoint::{self, Ledger};
use ftp_proto::filestream::HashPlan;
use sha2::{Digest, Sha256};

/// Lists untouched for this long are stale.
const STALE_AFTER: Duration = Duration::from_secs(7 * 24 * 3600);

/// The checkpoint list of one local file.
#[derive(Debug, Clone)]
pub struct Store {
    /// The list's file.
    path: PathBuf,
    /// What a saved list is bound to (before sealing, for a file being written).
    binding: [u8; 32],
    /// What a list must be bound to for use now.
    current: [u8; 32],
    /// The file is being written: its list is sealed when writing stops.
    sealed: bool,
}

impl Store {
    /// The list for uploading `local`, opened as `file`; `None` without a cache folder.
    pub fn for_upload(local: &Path, file: &std::fs::File) -> Option<Store> {
        let binding = upload_binding(local, file)?;
        Store::at(binding, binding, false)
    }

    /// The list for the `.part` file `part` of a download, opened as `file`.
    pub fn for_download(part: &Path, file: &std::fs::File) -> Option<Store> {
        let meta = file.metadata().ok()?;
        let mut binding = Sha256::new();
        binding.update(b"ftp download\0");
        binding.update(
            std::fs::canonicalize(part)
                .ok()?
                .as_os_str()
                .as_encoded_bytes(),
        );
        for value in [meta.dev(), meta.ino()] {
            binding.update(value.to_be_bytes());
        }
        let binding = binding.finalize().into();
        let current = checkpoint::sealed_binding(&binding, &meta);
        Store::at(binding, current, true)
    }

    /// The store for `binding` in the cache folder.
    fn at(binding: [u8; 32], current: [u8; 32], sealed: bool) -> Option<Store> {
        let folder = cache_dir()?;
        let name = format!("{}.ckpt", hex::encode(&binding[..16]));
        Some(Store {
            path: folder.join(name),
            binding,
            current,
            sealed,
        })
    }

    /// How to hash a file whose first `offset` bytes are already transferred: from the best
    /// saved checkpoint, saving new ones here. At offset 0 any old list is dropped.
    pub fn plan(&self, offset: u64) -> HashPlan {
        let resume_from = if offset == 0 {
            self.forget();
            sweep_stale(self.path.parent());
            None
        } else {
            read(&self.path).and_then(|bytes| {
                checkpoint::best(&checkpoint::decode(&bytes, &self.current), offset)
            })
        };
        let path = self.path.clone();
        HashPlan {
            resume_from,
            ledger: Some(Ledger {
                binding: self.binding,
                save: Box::new(move |bytes| save(&path, bytes)),
                sealed: self.sealed,
            }),
        }
    }

    /// Removes the list (its transfer is finished).
    pub fn forget(&self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// What binds an upload's list to the local file `local`, opened as `file`.
fn upload_binding(local: &Path, file: &std::fs::File) -> Option<[u8; 32]> {
    let meta = file.metadata().ok()?;
    let mut binding = Sha256::new();
    binding.update(b"ftp upload\0");
    binding.update(
        std::fs::canonicalize(local)
            .ok()?
            .as_os_str()
            .as_encoded_bytes(),
    );
    checkpoint::hash_identity(&mut binding, &meta);
    Some(binding.finalize().into())
}

/// Plan for an optional store: without one, hash from byte 0 and save nothing.
pub fn plan(store: Option<&Store>, offset: u64) -> HashPlan {
    store.map(|s| s.plan(offset)).unwrap_or_default()
}

/// The cache folder for checkpoint lists.
pub(crate) fn cache_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .map(|cache| cache.join("ftp").join("checkpoints"))
}

/// Reads the small file at `path` without following a link; `None` when it is missing or
/// unreadable.
pub(crate) fn read(path: &Path) -> Option<Vec<u8>> {
    use std::io::Read;
    let flags = rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK;
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(i32::try_from(flags.bits()).unwrap_or(0))
        .open(path)
        .ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).ok()?;
    Some(bytes)
}

/// Replaces the file at `path` with `bytes`: a fresh 0600 temporary file in a 0700 folder,
/// renamed over it (so a reader sees one whole file, and a link there is replaced, not
/// followed). Best effort.
pub(crate) fn save(path: &Path, bytes: &[u8]) {
    use std::io::Write;
    let Some(folder) = path.parent() else {
        return;
    };
    if std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(folder)
        .is_err()
    {
        return;
    }
    let Ok(mut temporary) = tempfile::Builder::new().prefix(".tmp-").tempfile_in(folder) else {
        return;
    };
    if temporary.write_all(bytes).is_ok() {
        let _ = temporary.persist(path);
    }
}

/// Removes lists nobody has written for a week.
fn sweep_stale(folder: Option<&Path>) {
    let Some(Ok(entries)) = folder.map(std::fs::read_dir) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| now.duration_since(t).unwrap_or_default() > STALE_AFTER);
        if stale {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edited_file_gets_another_binding() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"one").unwrap();
        let before = upload_binding(&path, &std::fs::File::open(&path).unwrap()).unwrap();
        let again = upload_binding(&path, &std::fs::File::open(&path).unwrap()).unwrap();
        assert_eq!(before, again);
        // Past the file system's timestamp granularity, so the change time moves.
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(&path, b"two").unwrap();
        let after = upload_binding(&path, &std::fs::File::open(&path).unwrap()).unwrap();
        assert_ne!(before, after);
    }

    #[test]
    fn a_planted_link_is_neither_read_nor_written_through() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        let folder = dir.path().join("cache/ftp/checkpoints");
        std::fs::create_dir_all(&folder).unwrap();
        let list = folder.join("x.ckpt");
        std::os::unix::fs::symlink(&victim, &list).unwrap();
        assert_eq!(read(&list), None);
        save(&list, b"new list");
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        assert!(!std::fs::symlink_metadata(&list).unwrap().is_symlink());
        assert_eq!(read(&list).unwrap(), b"new list");
        let mode = std::fs::metadata(&list).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let fresh = dir.path().join("other/ftp/checkpoints/y.ckpt");
        save(&fresh, b"y");
        let mode = std::fs::metadata(fresh.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}
