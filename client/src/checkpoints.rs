//! Where the client keeps its hash checkpoints, so a resumed `put` or `get` re-reads at most
//! one checkpoint interval of the local file instead of all it had already hashed.
//!
//! Lists live in `$XDG_CACHE_HOME/ftp/checkpoints/` (or `~/.cache/ftp/checkpoints/`), one per
//! local file, named by a hash of what binds them to it: for an upload the file's path,
//! device, inode, size, modification and change times (any edit changes the change time, so
//! a list never describes other contents); for a download the `.part` file's path, device and
//! inode, and, as the list is sealed when writing stops, its length and modification time then
//! (see `ftp_proto::files::checkpoint::Ledger`).
//!
//! A list that holds the hash state at a local file's end knows the file's SHA-256: it is kept
//! after the file was read whole (a finished `put`, a comparison with a remote file of the same
//! size) or written whole (a finished `get`, under the downloaded file's own binding), so the
//! same unchanged file is not read again to be compared or declared. The binding makes any
//! change to the file (its size, modification or change time, inode) leave the list unused, and
//! a list is written only when the file's identity is the same after hashing as before; a list
//! from another boot, torn or altered is ignored (see `ftp_proto::files::checkpoint`), and so is one
//! that cannot be read. Such a digest is trusted only to say "the same": the server checks
//! every byte it receives, and a local file said to differ is read again first (see
//! [`crate::local_hash`]). The list of an unfinished transfer is removed when its transfer
//! finishes; lists older than a week are swept away when a new transfer starts. Saving is best
//! effort: without
//! a cache folder, or when a save fails, a resume only hashes the prefix again. The folders
//! are created 0700 and every list 0600 through a fresh temporary file and a rename; a list
//! is read without following a link, so nothing planted at a list's name is read or written
//! through. The same folder holds the remote identities of partial downloads (see
//! [`crate::remote_identity`]).

use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use ftp_proto::files::checkpoint::{self, Checkpoint, Ledger};
use ftp_proto::files::filestream::HashPlan;
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
    /// For a file being read, its size and identity when the store was made (see
    /// [`identity_of`]): a list is kept only while the file still has them.
    read: Option<(u64, [u8; 32])>,
}

impl Store {
    /// The list of the local file `local`, opened as `file`, being read (an upload's source,
    /// a file compared or just downloaded); `None` without a cache folder.
    pub fn for_file(local: &Path, file: &std::fs::File) -> Option<Store> {
        Store::for_file_in(cache_dir()?, local, file)
    }

    /// [`Self::for_file`], with the lists in `folder` instead of the cache folder (for tests
    /// and tools that keep their own).
    pub fn for_file_in(folder: PathBuf, local: &Path, file: &std::fs::File) -> Option<Store> {
        let meta = file.metadata().ok()?;
        let binding = upload_binding(local, &meta)?;
        let mut store = Store::at(folder, binding, binding, false);
        store.read = Some((meta.len(), identity_of(&meta)));
        Some(store)
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
        Some(Store::at(cache_dir()?, binding, current, true))
    }

    /// The store for `binding` in `folder`.
    fn at(folder: PathBuf, binding: [u8; 32], current: [u8; 32], sealed: bool) -> Store {
        let name = format!("{}.ckpt", hex::encode(&binding[..16]));
        Store {
            path: folder.join(name),
            binding,
            current,
            sealed,
            read: None,
        }
    }

    /// The saved checkpoints that are valid now; none when the list is missing, unreadable,
    /// damaged or for another state of the file.
    fn list(&self) -> Vec<Checkpoint> {
        read(&self.path)
            .map(|bytes| checkpoint::decode(&bytes, &self.current))
            .unwrap_or_default()
    }

    /// The saved hash state at the end of a file being read, which knows its SHA-256.
    pub fn whole(&self) -> Option<Checkpoint> {
        let (size, _) = self.read?;
        self.list().into_iter().find(|c| c.offset == size)
    }

    /// How to hash a file whose first `offset` bytes are already transferred: from the state
    /// at the end of a file being read when that is known (nothing is hashed then), else from
    /// the best saved checkpoint, saving new ones here. At offset 0 an old list without the
    /// end state is dropped.
    pub fn plan(&self, offset: u64) -> HashPlan {
        let resume_from = match self.whole() {
            Some(whole) => Some(whole),
            None if offset == 0 => {
                self.forget();
                None
            }
            None => checkpoint::best(&self.list(), offset),
        };
        if offset == 0 {
            sweep_stale(self.path.parent());
        }
        let path = self.path.clone();
        HashPlan {
            resume_from,
            ledger: Some(Ledger {
                binding: self.binding,
                save: Box::new(move |bytes| save(&path, bytes)),
                sealed: self.sealed,
            }),
            progress: None,
        }
    }

    /// Keeps `end`, the hash state at the end of the file being read, `file`, as its list:
    /// only for a file of at least one checkpoint interval (a smaller one is read again in
    /// less time than a list takes), and only while the file has the size and identity it had
    /// when the store was made (else it may have changed while it was hashed). Best effort.
    pub fn keep_whole(&self, file: &std::fs::File, end: &Checkpoint) {
        if end.offset >= checkpoint::INTERVAL && self.unchanged(file, end.offset) {
            save(
                &self.path,
                &checkpoint::encode(&self.binding, std::slice::from_ref(end)),
            );
        }
    }

    /// A transfer that read `file` is finished: its list stays while the file is unchanged
    /// (its reader sealed it with the state at the end), else it goes.
    pub fn settle(&self, file: &std::fs::File) {
        if !self
            .read
            .is_some_and(|(size, _)| self.unchanged(file, size))
        {
            self.forget();
        }
    }

    /// Whether `file`, being read, still has the identity it had when the store was made and
    /// is `size` bytes long.
    fn unchanged(&self, file: &std::fs::File, size: u64) -> bool {
        let Some((was_size, was)) = self.read else {
            return false;
        };
        file.metadata()
            .is_ok_and(|meta| was_size == size && identity_of(&meta) == was)
    }

    /// Removes the list (its transfer is finished, or what it holds proved wrong).
    pub fn forget(&self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// What binds the list of a local file being read to `local`, described by `meta`.
fn upload_binding(local: &Path, meta: &std::fs::Metadata) -> Option<[u8; 32]> {
    let mut binding = Sha256::new();
    binding.update(b"ftp upload\0");
    binding.update(
        std::fs::canonicalize(local)
            .ok()?
            .as_os_str()
            .as_encoded_bytes(),
    );
    checkpoint::hash_identity(&mut binding, meta);
    Some(binding.finalize().into())
}

/// A digest of a file's device, inode, size, modification and change times.
fn identity_of(meta: &std::fs::Metadata) -> [u8; 32] {
    let mut identity = Sha256::new();
    checkpoint::hash_identity(&mut identity, meta);
    identity.finalize().into()
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
        let before = upload_binding(&path, &std::fs::metadata(&path).unwrap()).unwrap();
        let again = upload_binding(&path, &std::fs::metadata(&path).unwrap()).unwrap();
        assert_eq!(before, again);
        // Past the file system's timestamp granularity, so the change time moves.
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(&path, b"two").unwrap();
        let after = upload_binding(&path, &std::fs::metadata(&path).unwrap()).unwrap();
        assert_ne!(before, after);
    }

    /// A state at offset `len` for `len` bytes of `byte`.
    fn state_of(byte: u8, len: usize) -> Checkpoint {
        Checkpoint {
            offset: len as u64,
            state: Sha256::new_with_prefix(vec![byte; len]),
        }
    }

    #[test]
    fn a_whole_hash_is_kept_only_for_the_unchanged_file_it_describes() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("lists");
        let path = dir.path().join("big");
        let len = checkpoint::INTERVAL as usize + 3;
        std::fs::write(&path, vec![1u8; len]).unwrap();
        let open = || std::fs::File::open(&path).unwrap();
        let store = Store::for_file_in(folder.clone(), &path, &open()).unwrap();
        assert!(store.whole().is_none(), "nothing kept yet");
        store.keep_whole(&open(), &state_of(1, len));
        let kept = Store::for_file_in(folder.clone(), &path, &open()).unwrap();
        let whole = kept.whole().unwrap();
        assert_eq!(whole.offset, len as u64);
        assert_eq!(
            ftp_proto::files::filestream::sha256_of(&whole),
            <[u8; 32]>::from(Sha256::digest(vec![1u8; len]))
        );
        assert_eq!(
            kept.plan(0).resume_from.map(|c| c.offset),
            Some(len as u64),
            "a put from 0 hashes nothing"
        );

        // A damaged list is ignored, never trusted.
        let mut bytes = std::fs::read(&kept.path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 1;
        std::fs::write(&kept.path, &bytes).unwrap();
        assert!(kept.whole().is_none());
        std::fs::write(&kept.path, b"garbage").unwrap();
        assert!(kept.whole().is_none());
        kept.keep_whole(&open(), &state_of(1, len));
        assert!(kept.whole().is_some());

        // Any change to the file (here its contents, same size) leaves it unused.
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(&path, vec![2u8; len]).unwrap();
        let after = Store::for_file_in(folder.clone(), &path, &open()).unwrap();
        assert!(after.whole().is_none());
        // A file that changed since its store was made is not kept: it may have changed
        // while it was hashed.
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(&path, vec![3u8; len]).unwrap();
        after.keep_whole(&open(), &state_of(2, len));
        assert!(!after.path.exists());
        // A state that is not at the file's end, or a small file, is not kept.
        let now = Store::for_file_in(folder.clone(), &path, &open()).unwrap();
        now.keep_whole(&open(), &state_of(3, len - 1));
        assert!(!now.path.exists());
        let small = dir.path().join("small");
        std::fs::write(&small, b"tiny").unwrap();
        let small_file = std::fs::File::open(&small).unwrap();
        let store = Store::for_file_in(folder, &small, &small_file).unwrap();
        store.keep_whole(&small_file, &state_of(b't', 4));
        assert!(!store.path.exists());
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
