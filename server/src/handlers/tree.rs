//! `ListTree`: a whole folder tree in one request, as a stream of `TreeBatch` frames.
//!
//! The walk runs on a blocking thread and hands batches to the connection over a channel of
//! two, so memory stays bounded whatever the tree's size: at most the names of the folders on
//! the current path (names only) plus two batches. Depth first, a folder's entry before what it holds, the
//! names of each folder in byte order. Links are listed, never followed; the internal folder
//! is never shown. A name that is not UTF-8 is shown lossily, as `List` shows it. A client
//! that goes away stops the walk at the next batch.

use std::sync::Arc;

use ftp_proto::{EntryKind, ErrorKind, ServerMessage, TreeEntry};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;

use super::{Session, entry, modified_nanos, modified_secs};
use crate::error::{Refusal, SessionError};
use crate::jail::{self, INTERNAL_DIR, RemotePath};
use crate::session::{Connection, send, send_error};
use crate::state::ServerState;

/// Most entries per `TreeBatch`.
const BATCH_ENTRIES: usize = 1000;

/// Most path bytes per `TreeBatch`: far below the frame limit even at the longest paths.
const BATCH_PATH_BYTES: usize = 256 * 1024;

/// What the walker hands the connection: a batch, or the refusal that ended the walk.
type Batch = Result<Vec<TreeEntry>, Refusal>;

/// Answers one `ListTree` request.
pub async fn handle<S>(
    conn: &mut Connection<S>,
    session: &Session,
    state: &ServerState,
    path: &str,
    sha256: bool,
) -> Result<(), SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let path = match RemotePath::parse(path) {
        Ok(path) => path,
        Err(refusal) => return send_error(conn, refusal).await,
    };
    let (batches, mut received) = mpsc::channel::<Batch>(2);
    let home = Arc::clone(&session.home);
    let hashes = sha256.then(|| Arc::clone(&state.served));
    let walker = tokio::task::spawn_blocking(move || {
        if let Err(refusal) = walk(&home, &path, hashes.as_ref(), &batches) {
            // The receiver may be gone (the client left): nothing more to say then.
            let _ = batches.blocking_send(Err(refusal));
        }
    });
    // One batch is held back so the final one can be marked `last`.
    let mut held: Option<Vec<TreeEntry>> = None;
    let ended = loop {
        match received.recv().await {
            Some(Ok(batch)) => {
                if let Some(before) = held.replace(batch) {
                    let sent = send(
                        conn,
                        ServerMessage::TreeBatch {
                            entries: before,
                            last: false,
                        },
                    )
                    .await;
                    if let Err(error) = sent {
                        break Err(error);
                    }
                }
            }
            Some(Err(refusal)) => break Ok(Some(refusal)),
            None => break Ok(None),
        }
    };
    // Dropping the receiver stops a walker still going (its next send fails).
    drop(received);
    let _ = walker.await;
    match ended? {
        Some(refusal) => send_error(conn, refusal).await,
        None => {
            send(
                conn,
                ServerMessage::TreeBatch {
                    entries: held.unwrap_or_default(),
                    last: true,
                },
            )
            .await
        }
    }
}

/// One folder being walked: its path relative to the listed folder and its names still to
/// visit, in order.
struct Level {
    /// `a/b` for the folder `a/b` beneath the listed one ("" for the listed one itself).
    prefix: String,
    /// The folder, opened beneath the home.
    dir: cap_std::fs::Dir,
    /// Its names not yet visited, last first (popped from the end): names only, each
    /// described when its turn comes, so a wide folder costs its names and no more.
    rest: Vec<std::ffi::OsString>,
}

/// Walks the tree beneath `path`, sending full batches as it goes; with `hashes` (the served
/// files' lists), each regular file's SHA-256 too, taken from a list that knows it before the
/// file is read. Blocking. `Ok` also when the receiver went away (the walk just stops).
fn walk(
    home: &cap_std::fs::Dir,
    path: &RemotePath,
    hashes: Option<&Arc<cap_std::fs::Dir>>,
    batches: &mpsc::Sender<Batch>,
) -> Result<(), Refusal> {
    let relative = path.relative();
    let meta = home
        .symlink_metadata(&relative)
        .map_err(|e| jail::refusal_for(&e, path))?;
    if !meta.is_dir() {
        return Err(Refusal::new(
            ErrorKind::Denied,
            format!("{path} is not a folder"),
        ));
    }
    let top = home
        .open_dir(&relative)
        .map_err(|e| jail::refusal_for(&e, path))?;
    let mut stack = vec![level(String::new(), top, path)?];
    let mut batch = Vec::new();
    let mut batch_bytes = 0;
    while let Some(current) = stack.last_mut() {
        let Some(raw) = current.rest.pop() else {
            stack.pop();
            continue;
        };
        let name = raw.to_string_lossy().into_owned();
        let relative = if current.prefix.is_empty() {
            name.clone()
        } else {
            format!("{}/{name}", current.prefix)
        };
        // Not following links. One removed since the folder was read is simply skipped; any
        // other failure ends the listing (a tree shown with a part missing would look whole).
        let meta = match current.dir.symlink_metadata(&raw) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(jail::refusal_for(&e, &path.child(&relative))),
        };
        let described = entry(name.clone(), &meta);
        let digest = match hashes {
            // A file that vanished or changed kind since the look is simply shown unhashed.
            Some(folder) if described.kind == EntryKind::File => {
                crate::opening::open_regular(&current.dir, std::path::Path::new(&raw), &relative)
                    .ok()
                    .and_then(|(file, _)| crate::served::sha256_of(folder, &file).ok())
            }
            _ => None,
        };
        let below = if described.kind == EntryKind::Dir {
            open_below(&current.dir, &raw, &meta, &path.child(&relative))?
        } else {
            None
        };
        batch_bytes += relative.len();
        batch.push(TreeEntry {
            path: relative.clone(),
            kind: described.kind,
            size: described.size,
            modified_secs: modified_secs(&meta),
            modified_nanos: modified_nanos(&meta),
            sha256: digest,
        });
        if let Some(dir) = below {
            let shown = path.child(&relative);
            stack.push(level(relative, dir, &shown)?);
        }
        if batch.len() >= BATCH_ENTRIES || batch_bytes >= BATCH_PATH_BYTES {
            batch_bytes = 0;
            if batches
                .blocking_send(Ok(std::mem::take(&mut batch)))
                .is_err()
            {
                return Ok(());
            }
        }
    }
    if !batch.is_empty() {
        let _ = batches.blocking_send(Ok(batch));
    }
    Ok(())
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
) -> Result<Option<cap_std::fs::Dir>, Refusal> {
    use cap_std::fs::MetadataExt;
    let opened = match dir.open_dir(name) {
        Ok(opened) => opened,
        Err(e) => {
            let refusal = jail::refusal_for(&e, shown);
            return match refusal.kind {
                ErrorKind::NotFound => Ok(None),
                _ => Err(refusal),
            };
        }
    };
    let now = opened
        .dir_metadata()
        .map_err(|e| jail::refusal_for(&e, shown))?;
    Ok((now.dev() == seen.dev() && now.ino() == seen.ino()).then_some(opened))
}

/// Reads one folder's names, sorted for popping in byte order. Blocking.
fn level(prefix: String, dir: cap_std::fs::Dir, shown: &RemotePath) -> Result<Level, Refusal> {
    use std::os::unix::ffi::OsStrExt;
    let mut rest = Vec::new();
    for item in dir.entries().map_err(|e| jail::refusal_for(&e, shown))? {
        let name = item.map_err(|e| jail::refusal_for(&e, shown))?.file_name();
        if name != INTERNAL_DIR {
            rest.push(name);
        }
    }
    rest.sort_by(|a, b| b.as_bytes().cmp(a.as_bytes()));
    Ok(Level { prefix, dir, rest })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walked(
        home: &cap_std::fs::Dir,
        path: &str,
        sha256: bool,
    ) -> Result<Vec<TreeEntry>, Refusal> {
        let lists = tempfile::tempdir().unwrap();
        let lists = Arc::new(
            cap_std::fs::Dir::open_ambient_dir(lists.path(), cap_std::ambient_authority()).unwrap(),
        );
        let (batches, mut received) = mpsc::channel(1 << 16);
        let hashes = sha256.then_some(&lists);
        walk(home, &RemotePath::parse(path)?, hashes, &batches)?;
        drop(batches);
        let mut all = Vec::new();
        while let Ok(batch) = received.try_recv() {
            all.extend(batch?);
        }
        Ok(all)
    }

    #[test]
    fn depth_first_sorted_links_not_followed_internal_hidden() {
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
        assert_eq!(paths, ["a", "b", "b/inner", "b/inner/x", "c", "link"]);
        assert_eq!(all[5].kind, EntryKind::Symlink);
        assert_eq!(all[3].size, 2);
        use sha2::Digest;
        assert_eq!(all[3].sha256, Some(sha2::Sha256::digest(b"xx").into()));
        assert_eq!(all[1].sha256, None);
        let inner = walked(&home, "b", false).unwrap();
        let paths: Vec<_> = inner.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["inner", "inner/x"]);
        assert_eq!(inner[1].sha256, None, "not asked for");
        let file = walked(&home, "a", false).unwrap_err();
        assert_eq!(file.kind, ErrorKind::Denied);
        let missing = walked(&home, "nothing", false).unwrap_err();
        assert_eq!(missing.kind, ErrorKind::NotFound);
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
            [" lead\t", "new\nline\n", "new\nline\n/a\\b", "z\u{fffd}"],
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
            .set_len(ftp_proto::checkpoint::INTERVAL)
            .unwrap();
        use sha2::Digest;
        // A test double: the recorded state is not that of the zeros on disk, so seeing it
        // listed shows the file was not read.
        let state = sha2::Sha256::new_with_prefix(b"recorded");
        let end = ftp_proto::checkpoint::Checkpoint {
            offset: ftp_proto::checkpoint::INTERVAL,
            state: state.clone(),
        };
        crate::served::record(&lists, &std::fs::metadata(&big).unwrap(), end);
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
