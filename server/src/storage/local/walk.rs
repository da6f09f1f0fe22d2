//! A whole folder tree on the local disk, walked for `ListTree` and handed over in batches.
//!
//! The order is that of coreutils `ls -R`: the listed folder's entries first, all together and
//! in byte order, then each subfolder's entries the same way, depth first (pre-order), the
//! subfolders taken in that same byte order. So a folder's entry (in its parent's entries)
//! comes before what it holds, and every folder's entries are contiguous: a client can print
//! one section per folder as the stream goes. An empty folder has no entries, so nothing of
//! it comes after its own entry.
//!
//! The walk runs on a blocking thread and hands batches to the connection over a channel of
//! two (see [`crate::handlers::tree`]), so memory stays bounded whatever the tree's size: one folder's names at a time, the
//! subfolders still to walk of the folders on the current path (names only), plus two
//! batches. Links are listed, never followed (a folder replaced by a link after it was listed
//! is not walked); a folder that cannot be read fails the listing; the internal folder is
//! never shown. A name that is not UTF-8 is shown lossily, as `List` shows it. A client that
//! goes away stops the walk at the next batch.

use std::sync::Arc;

use ftp_proto::{EntryKind, TreeEntry};
use tokio::sync::mpsc;

use super::metadata::{entry, modified_nanos, modified_secs};
use crate::failure::errno::classify;
use crate::jail::{INTERNAL_DIR, RemotePath};
use crate::storage::{Failure, StorageError};

use crate::storage::{BATCH_ENTRIES, BATCH_PATH_BYTES, TreeBatch as Batch};

/// One folder whose own entries were all sent: where it is and the subfolders still to walk.
struct Level {
    /// The folder, opened beneath the home.
    dir: cap_std::fs::Dir,
    /// Its subfolders not yet walked, last first (popped from the end): names and the
    /// identity each had when it was listed, so a wide folder costs its names and no more.
    below: Vec<Subfolder>,
}

/// A subfolder listed in its parent's entries, to be walked when its turn comes.
struct Subfolder {
    /// Its name as the file system has it.
    raw: std::ffi::OsString,
    /// Its path relative to the listed folder, as listed (lossy).
    relative: String,
    /// The folder listed, so one replaced since (by a link, say) is never walked.
    seen: Identity,
}

/// Collects entries into batches and hands each full one to the connection.
struct Batcher<'a> {
    /// Where full batches go.
    batches: &'a mpsc::Sender<Batch>,
    /// The batch being filled.
    batch: Vec<TreeEntry>,
    /// Path bytes in `batch`.
    bytes: usize,
}

impl Batcher<'_> {
    /// Adds one entry; `false` once the receiver went away (the walk should stop).
    fn push(&mut self, entry: TreeEntry) -> bool {
        self.bytes += entry.path.len();
        self.batch.push(entry);
        if self.batch.len() >= BATCH_ENTRIES || self.bytes >= BATCH_PATH_BYTES {
            self.bytes = 0;
            return self
                .batches
                .blocking_send(Ok(std::mem::take(&mut self.batch)))
                .is_ok();
        }
        true
    }

    /// Sends what is left.
    fn finish(self) {
        if !self.batch.is_empty() {
            let _ = self.batches.blocking_send(Ok(self.batch));
        }
    }
}

/// Walks the tree beneath `path`, sending full batches as it goes; with `hashes` (the served
/// files' lists), each regular file's SHA-256 too, taken from a list that knows it before the
/// file is read. Each folder's entries come together (its section), then its subfolders'
/// sections, in the same byte order. Blocking. `Ok` also when the receiver went away (the walk
/// just stops).
pub(super) fn walk(
    home: &cap_std::fs::Dir,
    path: &RemotePath,
    hashes: Option<&Arc<cap_std::fs::Dir>>,
    batches: &mpsc::Sender<Batch>,
) -> Result<(), StorageError> {
    let relative = path.relative();
    let meta = home
        .symlink_metadata(&relative)
        .map_err(|e| classify(&e).at(path))?;
    if !meta.is_dir() {
        return Err(StorageError::of(Failure::NotAFolder).at(path));
    }
    let top = home
        .open_dir(&relative)
        .map_err(|e| classify(&e).at(path))?;
    let mut out = Batcher {
        batches,
        batch: Vec::new(),
        bytes: 0,
    };
    let Some(first) = list(String::new(), top, path, hashes, &mut out)? else {
        return Ok(());
    };
    let mut stack = vec![first];
    while let Some(current) = stack.last_mut() {
        let Some(next) = current.below.pop() else {
            stack.pop();
            continue;
        };
        let shown = path.child(&next.relative);
        // Vanished or replaced since it was listed: its section is simply not sent.
        let Some(dir) = open_below_as(&current.dir, &next.raw, next.seen, &shown)? else {
            continue;
        };
        match list(next.relative, dir, &shown, hashes, &mut out)? {
            Some(level) => stack.push(level),
            None => return Ok(()),
        }
    }
    out.finish();
    Ok(())
}

/// Sends the entries of one folder (`prefix` beneath the listed one, shown as `shown`), in
/// byte order, and keeps its subfolders for the walk. `None` when the receiver went away.
/// Blocking.
fn list(
    prefix: String,
    dir: cap_std::fs::Dir,
    shown: &RemotePath,
    hashes: Option<&Arc<cap_std::fs::Dir>>,
    out: &mut Batcher<'_>,
) -> Result<Option<Level>, StorageError> {
    let names = names(&dir, shown)?;
    let mut below = Vec::new();
    for raw in names {
        let name = raw.to_string_lossy().into_owned();
        let relative = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        // Not following links. One removed since the folder was read is simply skipped; any
        // other failure ends the listing (a tree shown with a part missing would look whole).
        let meta = match dir.symlink_metadata(&raw) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(classify(&e).at(&shown.child(&name))),
        };
        let described = entry(name, &meta);
        let digest = match hashes {
            // A file that vanished or changed kind since the look is simply shown unhashed.
            Some(folder) if described.kind == EntryKind::File => {
                super::opening::open_regular(&dir, std::path::Path::new(&raw))
                    .ok()
                    .and_then(|(file, _)| super::served::sha256_of(folder, &file).ok())
            }
            _ => None,
        };
        let sent = out.push(TreeEntry {
            path: relative.clone(),
            kind: described.kind,
            size: described.size,
            modified_secs: modified_secs(&meta),
            modified_nanos: modified_nanos(&meta),
            sha256: digest,
        });
        if !sent {
            return Ok(None);
        }
        if described.kind == EntryKind::Dir {
            below.push(Subfolder {
                raw,
                relative,
                seen: Identity::of(&meta),
            });
        }
    }
    below.reverse();
    Ok(Some(Level { dir, below }))
}

/// Which file a look saw: device and inode, all a later open needs to tell it is the same.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Identity {
    /// Device.
    dev: u64,
    /// Inode.
    ino: u64,
}

impl Identity {
    /// The identity `meta` describes.
    fn of(meta: &cap_std::fs::Metadata) -> Self {
        use cap_std::fs::MetadataExt;
        Identity {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }
}

/// Opens the folder `name` of `dir` that was just described by `seen` (not following links),
/// to go into it: `None` when it vanished, or was replaced since the look (by a link, say:
/// links are never followed, so what a link leads to is never walked or emptied). Any other
/// failure (no permission, no file descriptor left) is refused: a tree listed with a folder's
/// contents missing would look complete. Blocking.
pub(super) fn open_below(
    dir: &cap_std::fs::Dir,
    name: impl AsRef<std::path::Path>,
    seen: &cap_std::fs::Metadata,
    shown: &RemotePath,
) -> Result<Option<cap_std::fs::Dir>, StorageError> {
    open_below_as(dir, name, Identity::of(seen), shown)
}

/// `open_below` with the identity of what was seen. Blocking.
fn open_below_as(
    dir: &cap_std::fs::Dir,
    name: impl AsRef<std::path::Path>,
    seen: Identity,
    shown: &RemotePath,
) -> Result<Option<cap_std::fs::Dir>, StorageError> {
    let opened = match dir.open_dir(name) {
        Ok(opened) => opened,
        Err(e) => {
            let failure = classify(&e).at(shown);
            return match failure.failure {
                Failure::NotFound => Ok(None),
                _ => Err(failure),
            };
        }
    };
    let now = opened.dir_metadata().map_err(|e| classify(&e).at(shown))?;
    Ok((Identity::of(&now) == seen).then_some(opened))
}

/// Reads one folder's names in byte order (the internal folder left out). Blocking.
fn names(
    dir: &cap_std::fs::Dir,
    shown: &RemotePath,
) -> Result<Vec<std::ffi::OsString>, StorageError> {
    use std::os::unix::ffi::OsStrExt;
    let mut names = Vec::new();
    for item in dir.entries().map_err(|e| classify(&e).at(shown))? {
        let name = item.map_err(|e| classify(&e).at(shown))?.file_name();
        if name != INTERNAL_DIR {
            names.push(name);
        }
    }
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walked(
        home: &cap_std::fs::Dir,
        path: &str,
        sha256: bool,
    ) -> Result<Vec<TreeEntry>, StorageError> {
        let lists = tempfile::tempdir().unwrap();
        let lists = Arc::new(
            cap_std::fs::Dir::open_ambient_dir(lists.path(), cap_std::ambient_authority()).unwrap(),
        );
        let (batches, mut received) = mpsc::channel(1 << 16);
        let hashes = sha256.then_some(&lists);
        walk(home, &RemotePath::parse(path).unwrap(), hashes, &batches)?;
        drop(batches);
        let mut all = Vec::new();
        while let Ok(batch) = received.try_recv() {
            all.extend(batch?);
        }
        Ok(all)
    }

    #[test]
    fn each_folder_whole_then_its_subfolders_links_not_followed_internal_hidden() {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path();
        std::fs::create_dir_all(root.join("b/inner")).unwrap();
        std::fs::create_dir_all(root.join(INTERNAL_DIR)).unwrap();
        std::fs::write(root.join("b/inner/x"), "xx").unwrap();
        std::fs::write(root.join("a"), "a").unwrap();
        std::fs::write(root.join("c"), "").unwrap();
        std::os::unix::fs::symlink("b", root.join("link")).unwrap();
        let home = cap_std::fs::Dir::open_ambient_dir(root, cap_std::ambient_authority()).unwrap();
        let all = walked(&home, "/", true).unwrap();
        let paths: Vec<_> = all.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["a", "b", "c", "link", "b/inner", "b/inner/x"]);
        assert_eq!(all[3].kind, EntryKind::Symlink);
        assert_eq!(all[5].size, 2);
        use sha2::Digest;
        assert_eq!(all[5].sha256, Some(sha2::Sha256::digest(b"xx").into()));
        assert_eq!(all[1].sha256, None);
        let inner = walked(&home, "b", false).unwrap();
        let paths: Vec<_> = inner.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["inner", "inner/x"]);
        assert_eq!(inner[1].sha256, None, "not asked for");
        let file = walked(&home, "a", false).unwrap_err();
        assert_eq!(file.failure, Failure::NotAFolder);
        let missing = walked(&home, "nothing", false).unwrap_err();
        assert_eq!(missing.failure, Failure::NotFound);
    }

    #[test]
    fn sections_come_in_ls_r_order_empty_folders_in_place() {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path();
        for folder in ["a/deep", "a/empty", "b", "c"] {
            std::fs::create_dir_all(root.join(folder)).unwrap();
        }
        for file in ["a/deep/x", "a/y", "b/z", "top"] {
            std::fs::write(root.join(file), "").unwrap();
        }
        let all = walked(&open(root), "/", false).unwrap();
        let paths: Vec<_> = all.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "a", "b", "c", "top", "a/deep", "a/empty", "a/y", "a/deep/x", "b/z"
            ],
            "the listed folder's entries, then a's, a/deep's (a/empty has none), b's"
        );
    }

    #[test]
    fn large_trees_come_in_bounded_batches() {
        let temp = tempfile::tempdir().unwrap();
        for folder in 0..3 {
            let dir = temp.path().join(format!("d{folder}"));
            std::fs::create_dir(&dir).unwrap();
            for file in 0..1000 {
                std::fs::write(dir.join(format!("f{file:04}")), "").unwrap();
            }
        }
        let home =
            cap_std::fs::Dir::open_ambient_dir(temp.path(), cap_std::ambient_authority()).unwrap();
        let (batches, mut received) = mpsc::channel(1 << 16);
        walk(&home, &RemotePath::parse("").unwrap(), None, &batches).unwrap();
        drop(batches);
        let mut sizes = Vec::new();
        while let Ok(batch) = received.try_recv() {
            sizes.push(batch.unwrap().len());
        }
        assert!(sizes.iter().all(|&n| n <= BATCH_ENTRIES), "{sizes:?}");
        assert_eq!(sizes.iter().sum::<usize>(), 3003);
    }

    fn open(root: &std::path::Path) -> cap_std::fs::Dir {
        cap_std::fs::Dir::open_ambient_dir(root, cap_std::ambient_authority()).unwrap()
    }

    #[test]
    fn hostile_names_are_listed_as_they_are() {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path();
        std::fs::create_dir(root.join("new\nline\n")).unwrap();
        std::fs::write(root.join("new\nline\n/a\\b"), "").unwrap();
        std::fs::write(root.join(" lead\t"), "").unwrap();
        use std::os::unix::ffi::OsStrExt;
        std::fs::write(root.join(std::ffi::OsStr::from_bytes(b"z\xff")), "").unwrap();
        let all = walked(&open(root), "/", false).unwrap();
        let paths: Vec<_> = all.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [" lead\t", "new\nline\n", "z\u{fffd}", "new\nline\n/a\\b"],
            "a name that is not UTF-8 is shown lossily, not dropped"
        );
    }

    #[test]
    fn a_deep_tree_is_listed_whole() {
        let temp = tempfile::tempdir().unwrap();
        let mut deep = temp.path().to_path_buf();
        for _ in 0..300 {
            deep.push("d");
        }
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::write(deep.join("leaf"), "l").unwrap();
        let all = walked(&open(temp.path()), "/", false).unwrap();
        assert_eq!(all.len(), 301);
        assert!(all[300].path.ends_with("d/d/leaf"), "{}", all[300].path);
        assert_eq!(all[300].path.len(), 300 * 2 + 4);
    }

    #[test]
    fn a_folder_swapped_for_a_link_is_not_walked() {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path();
        std::fs::create_dir_all(root.join("a")).unwrap();
        std::fs::create_dir_all(root.join("elsewhere")).unwrap();
        std::fs::write(root.join("elsewhere/secret"), "s").unwrap();
        let home = open(root);
        let seen = home.symlink_metadata("a").unwrap();
        std::fs::remove_dir(root.join("a")).unwrap();
        std::os::unix::fs::symlink("elsewhere", root.join("a")).unwrap();
        let shown = RemotePath::parse("a").unwrap();
        let a = std::ffi::OsStr::new("a");
        assert!(open_below(&home, a, &seen, &shown).unwrap().is_none());
        std::fs::remove_file(root.join("a")).unwrap();
        assert!(
            open_below(&home, a, &seen, &shown).unwrap().is_none(),
            "vanished"
        );
    }

    #[test]
    fn a_recorded_file_is_listed_with_its_hash_unread() {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path();
        std::fs::create_dir(root.join("lists")).unwrap();
        let lists = Arc::new(open(&root.join("lists")));
        std::fs::create_dir(root.join("home")).unwrap();
        let big = root.join("home/big");
        std::fs::File::create(&big)
            .unwrap()
            .set_len(ftp_proto::files::checkpoint::INTERVAL)
            .unwrap();
        use sha2::Digest;
        // A test double: the recorded state is not that of the zeros on disk, so seeing it
        // listed shows the file was not read.
        let state = sha2::Sha256::new_with_prefix(b"recorded");
        let end = ftp_proto::files::checkpoint::Checkpoint {
            offset: ftp_proto::files::checkpoint::INTERVAL,
            state: state.clone(),
        };
        super::super::served::record(&lists, &std::fs::metadata(&big).unwrap(), end);
        let (batches, mut received) = mpsc::channel(4);
        let home = open(&root.join("home"));
        walk(
            &home,
            &RemotePath::parse("/").unwrap(),
            Some(&lists),
            &batches,
        )
        .unwrap();
        drop(batches);
        let listed = received.try_recv().unwrap().unwrap();
        let recorded: [u8; 32] = state.finalize().into();
        assert_eq!(listed[0].sha256, Some(recorded));
    }
}
