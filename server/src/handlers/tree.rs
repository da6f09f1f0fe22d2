//! `ListTree`: a whole folder tree in one request, as a stream of `TreeBatch` frames.
//!
//! The walk runs on a blocking thread and hands batches to the connection over a channel of
//! two, so memory stays bounded whatever the tree's size: at most the names of the folders on
//! the current path plus two batches. Depth first, a folder's entry before what it holds, the
//! names of each folder in byte order. Links are listed, never followed; the internal folder
//! is never shown. A name that is not UTF-8 is shown lossily, as `List` shows it. A client
//! that goes away stops the walk at the next batch.

use std::sync::Arc;

use ftp_proto::{EntryKind, ErrorKind, ServerMessage, TreeEntry, filestream};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;

use super::{Session, entry, modified_nanos, modified_secs};
use crate::error::{Refusal, SessionError};
use crate::jail::{self, INTERNAL_DIR, RemotePath};
use crate::session::{Connection, send, send_error};

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
    let walker = tokio::task::spawn_blocking(move || {
        if let Err(refusal) = walk(&home, &path, sha256, &batches) {
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
    /// Its names not yet visited, last first (popped from the end).
    rest: Vec<(String, cap_std::fs::Metadata)>,
}

/// Walks the tree beneath `path`, sending full batches as it goes. Blocking. `Ok` also when
/// the receiver went away (the walk just stops).
fn walk(
    home: &cap_std::fs::Dir,
    path: &RemotePath,
    sha256: bool,
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
        let Some((name, meta)) = current.rest.pop() else {
            stack.pop();
            continue;
        };
        let relative = if current.prefix.is_empty() {
            name.clone()
        } else {
            format!("{}/{name}", current.prefix)
        };
        let described = entry(name.clone(), &meta);
        let digest = if sha256 && described.kind == EntryKind::File {
            // A file that vanished or changed kind since the look is simply shown unhashed.
            crate::opening::open_regular(&current.dir, std::path::Path::new(&name), &relative)
                .ok()
                .and_then(|(file, _)| filestream::hash_file(&file).ok())
        } else {
            None
        };
        let below = if described.kind == EntryKind::Dir {
            // A folder that vanished since the look is shown, empty.
            current.dir.open_dir(&name).ok()
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

/// Reads one folder's names and metadata (links not followed), sorted for popping in byte
/// order. Blocking.
fn level(prefix: String, dir: cap_std::fs::Dir, shown: &RemotePath) -> Result<Level, Refusal> {
    let mut rest = Vec::new();
    for item in dir.entries().map_err(|e| jail::refusal_for(&e, shown))? {
        let item = item.map_err(|e| jail::refusal_for(&e, shown))?;
        let name = item.file_name().to_string_lossy().into_owned();
        if name == INTERNAL_DIR {
            continue;
        }
        // An entry removed while listing is simply skipped.
        if let Ok(meta) = item.metadata() {
            rest.push((name, meta));
        }
    }
    rest.sort_by(|a, b| b.0.cmp(&a.0));
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
        let (batches, mut received) = mpsc::channel(1 << 16);
        walk(home, &RemotePath::parse(path)?, sha256, &batches)?;
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
        walk(&home, &RemotePath::parse("").unwrap(), false, &batches).unwrap();
        drop(batches);
        let mut sizes = Vec::new();
        while let Ok(batch) = received.try_recv() {
            sizes.push(batch.unwrap().len());
        }
        assert!(sizes.iter().all(|&n| n <= BATCH_ENTRIES), "{sizes:?}");
        assert_eq!(sizes.iter().sum::<usize>(), 3003);
    }
}
