//! The store thread of one batch of whole files: one blocking thread takes the batch's files
//! in request order, in groups through a bounded queue, so the connection keeps reading while
//! the disk works and no file costs a trip to a blocking thread and back. For each file it
//! checks the destination, refuses a file the disk's free space (less its reserve, see
//! [`crate::space`]) cannot hold, verifies the SHA-256 and writes the partial; a folder's creation and
//! handle are done once per batch, for all its files. Closed, it makes the batch durable and
//! visible ([`super::settle`]) and yields the answers, while the next batch can already be
//! stored. Dropped without settling (the connection is gone), it stops and removes the
//! partials it wrote. A partial that cannot be written whole (a full disk: "the server's disk
//! is full") is removed at once.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use ftp_proto::{ErrorKind, ServerMessage};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::super::put::{Conflict, Upload, inspect_destination};
use super::settle::{Answer, Pending, Stored, settle};
use crate::error::Refusal;
use crate::jail::{self, RemotePath};
use crate::place;
use crate::uploads::PathLock;

/// Files are handed to the store thread in groups, so it is woken once per group rather than
/// once per file: a group goes when it holds this many bytes of file data...
const GROUP_BYTES: usize = 256 << 10;

/// ...or this many files, or when the connection has nothing more waiting ([`StoreThread::hand_over`]).
const GROUP_FILES: usize = 16;

/// Groups queued between the connection and the store thread: with the group being filled,
/// a few MiB of file data per connection at most.
const QUEUE: usize = 2;

/// A file that passed the checks needing no disk, with its destination locked.
pub(super) struct Admitted {
    /// The path as the client named it.
    pub(super) path: RemotePath,
    /// The upload.
    pub(super) upload: Upload,
    /// Replace an existing file.
    pub(super) force: bool,
    /// The content.
    pub(super) data: Bytes,
    /// The client's SHA-256 of the content.
    pub(super) sha256: [u8; 32],
    /// The destination's lock, held until the file is in place.
    pub(super) lock: PathLock,
}

/// What the store thread is handed, in request order.
enum Item {
    /// A file to store.
    File(Box<Admitted>),
    /// An answer already decided (a refusal), kept in its place.
    Answer(ServerMessage),
    /// Everything is queued: make the batch durable and visible.
    Settle,
}

/// The store thread of the batch being received.
pub(super) struct StoreThread {
    /// The queue to the thread.
    groups: mpsc::Sender<Vec<Item>>,
    /// The group being filled.
    group: Vec<Item>,
    /// Bytes of file data in it.
    group_bytes: usize,
    /// The thread: the answers once settled, `None` when dropped without settling.
    thread: JoinHandle<Option<Vec<Answer>>>,
}

impl StoreThread {
    /// Starts a thread storing files beneath `home`, partials in `partials`, syncing when
    /// `durable`.
    pub(super) fn start(
        home: Arc<cap_std::fs::Dir>,
        partials: Arc<cap_std::fs::Dir>,
        durable: bool,
    ) -> StoreThread {
        let (groups, mut incoming) = mpsc::channel::<Vec<Item>>(QUEUE);
        let thread = tokio::task::spawn_blocking(move || {
            let mut folders = Folders::default();
            let mut pending = Vec::new();
            while let Some(group) = incoming.blocking_recv() {
                for item in group {
                    pending.push(match item {
                        Item::File(file) => store(&home, &partials, &mut folders, *file),
                        Item::Answer(answer) => Pending::Ready(answer),
                        Item::Settle => return Some(settle(&home, &partials, pending, durable)),
                    });
                }
            }
            abandon(&partials, pending);
            None
        });
        StoreThread {
            groups,
            group: Vec::with_capacity(GROUP_FILES),
            group_bytes: 0,
            thread,
        }
    }

    /// Queues a file (waiting while the queue is full).
    pub(super) async fn store(&mut self, file: Admitted) {
        self.group_bytes += file.data.len();
        self.group.push(Item::File(Box::new(file)));
        if self.group.len() >= GROUP_FILES || self.group_bytes >= GROUP_BYTES {
            self.hand_over().await;
        }
    }

    /// Queues an answer decided without the disk, to go in its place.
    pub(super) async fn answer(&mut self, answer: ServerMessage) {
        self.group.push(Item::Answer(answer));
        if self.group.len() >= GROUP_FILES {
            self.hand_over().await;
        }
    }

    /// Hands what is queued to the thread now (waiting while the queue is full).
    pub(super) async fn hand_over(&mut self) {
        if self.group.is_empty() {
            return;
        }
        let group = std::mem::replace(&mut self.group, Vec::with_capacity(GROUP_FILES));
        self.group_bytes = 0;
        // A thread that is gone panicked: `Settling::answers` reports it.
        let _ = self.groups.send(group).await;
    }

    /// Asks the thread to settle the batch once everything queued is stored; waits only for
    /// room in the queue.
    pub(super) async fn close(mut self) -> Settling {
        self.group.push(Item::Settle);
        self.hand_over().await;
        Settling {
            thread: self.thread,
        }
    }
}

/// A batch its store thread is settling.
pub(super) struct Settling {
    /// The thread: the answers once settled.
    thread: JoinHandle<Option<Vec<Answer>>>,
}

impl Settling {
    /// Waits until every file of the batch is stored, durable and in place; returns the
    /// answers in request order. Cancel-safe; complete it once only.
    pub(super) async fn answers(&mut self) -> Result<Vec<Answer>, Refusal> {
        match (&mut self.thread).await {
            Ok(Some(answers)) => Ok(answers),
            Ok(None) => Err(Refusal::internal(
                "finishing uploads",
                "store thread stopped",
            )),
            Err(error) => Err(Refusal::internal("finishing uploads", error)),
        }
    }
}

/// Folders kept open per batch at most: beyond them, a file is found and renamed by its path
/// from the home, so a batch spread over many folders cannot hold many descriptors.
const MOST_FOLDERS: usize = 16;

/// The folders files of this batch went to, each created once and (up to [`MOST_FOLDERS`])
/// opened once.
#[derive(Default)]
struct Folders {
    /// By path relative to the home (empty for the home itself).
    opened: HashMap<PathBuf, Arc<cap_std::fs::Dir>>,
}

impl Folders {
    /// Where `destination` (relative to `home`) is to be looked up and renamed to: its folder,
    /// created (with its parents) when missing, and its name there; or, once
    /// [`MOST_FOLDERS`] are open, the home and the whole path. Blocking.
    fn place(
        &mut self,
        home: &Arc<cap_std::fs::Dir>,
        destination: &Path,
        dir_mode: u32,
    ) -> std::io::Result<(Arc<cap_std::fs::Dir>, PathBuf)> {
        let (Some(parent), Some(name)) = (destination.parent(), destination.file_name()) else {
            return Ok((Arc::clone(home), destination.to_path_buf()));
        };
        if parent.as_os_str().is_empty() {
            return Ok((Arc::clone(home), PathBuf::from(name)));
        }
        if let Some(folder) = self.opened.get(parent) {
            return Ok((Arc::clone(folder), PathBuf::from(name)));
        }
        crate::modes::create_dir_all(home, parent, dir_mode)?;
        if self.opened.len() >= MOST_FOLDERS {
            return Ok((Arc::clone(home), destination.to_path_buf()));
        }
        let folder = Arc::new(home.open_dir(parent)?);
        self.opened
            .insert(parent.to_path_buf(), Arc::clone(&folder));
        Ok((folder, PathBuf::from(name)))
    }
}

/// Checks the destination, verifies the content and writes the partial; what the file's
/// answer waits on. Blocking.
fn store(
    home: &Arc<cap_std::fs::Dir>,
    partials: &cap_std::fs::Dir,
    folders: &mut Folders,
    file: Admitted,
) -> Pending {
    match try_store(home, partials, folders, file) {
        Ok(pending) => pending,
        Err(refusal) => Pending::Ready(ServerMessage::from(refusal)),
    }
}

/// [`store`], with refusals as errors. Blocking.
fn try_store(
    home: &Arc<cap_std::fs::Dir>,
    partials: &cap_std::fs::Dir,
    folders: &mut Folders,
    file: Admitted,
) -> Result<Pending, Refusal> {
    let (folder, name) = folders
        .place(home, &file.upload.destination, file.upload.modes.dir)
        .map_err(|e| {
            if place::is_disk_full(&e) {
                place::disk_full(&format!("no folder could be made for {}", file.path))
            } else {
                jail::refusal_for(&e, &file.path)
            }
        })?;
    let conflict = Conflict::of(file.force);
    if let Some(existing) =
        inspect_destination(&folder, &name, &file.path, file.upload.size, conflict)?
        // With `force`, different content is replaced; identical content is left untouched.
        && (!file.force || existing == file.sha256)
    {
        // The client compares: identical content is done, anything else a conflict.
        return Ok(Pending::Ready(ServerMessage::PutExisting {
            sha256: existing,
        }));
    }
    crate::space::guard(
        partials,
        file.upload.disk_reserve,
        file.upload.size,
        0,
        &file.upload.shown,
    )?;
    if <[u8; 32]>::from(Sha256::digest(&file.data)) != file.sha256 {
        return Err(Refusal::new(
            ErrorKind::Integrity,
            format!(
                "integrity check failed for {}: the data received does not match the client's SHA-256; nothing was stored, run the command again",
                file.path
            ),
        ));
    }
    write_partial(
        partials,
        &file.upload.partial,
        &file.data,
        file.upload.modes.file,
        file.upload.modified,
    )
    .map_err(|e| write_refusal(partials, &e, &file.upload))?;
    Ok(Pending::Stored(Stored {
        upload: file.upload,
        folder,
        name,
        sha256: file.sha256,
        _lock: file.lock,
    }))
}

/// The batch will not be settled (its connection is gone): removes the partials it wrote, which
/// nothing would reuse (a rerun sends the files again). Blocking.
fn abandon(partials: &cap_std::fs::Dir, pending: Vec<Pending>) {
    for item in pending {
        if let Pending::Stored(stored) = item {
            let _ = partials.remove_file(&stored.upload.partial);
        }
    }
}

/// What a file whose partial could not be written is answered; what was written of the partial
/// is removed (nothing would reuse it: a rerun sends the file again). Blocking.
fn write_refusal(partials: &cap_std::fs::Dir, error: &std::io::Error, upload: &Upload) -> Refusal {
    let _ = partials.remove_file(&upload.partial);
    if place::is_disk_full(error) {
        tracing::warn!(path = %upload.shown, %error, "disk full");
        place::disk_full(&format!("nothing of {} was stored", upload.shown))
    } else {
        Refusal::internal("storing an upload", error)
    }
}

/// Writes `data` as the partial `name`, with `mode` and the client's modification time
/// `modified` when known (the batch's `syncfs` makes it durable). Blocking.
fn write_partial(
    partials: &cap_std::fs::Dir,
    name: &str,
    data: &[u8],
    mode: u32,
    modified: Option<std::time::SystemTime>,
) -> std::io::Result<()> {
    let mut options = cap_std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    let mut file = partials.open_with(name, &options)?.into_std();
    crate::modes::set_file_mode(&file, mode)?;
    file.write_all(data)?;
    if let Some(modified) = modified {
        file.set_modified(modified)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{file, site};
    use super::*;

    fn landed(answer: &Answer) -> bool {
        matches!(answer.0, ServerMessage::PutDone { .. })
    }

    fn refused(answer: &Answer, kind: ErrorKind) -> bool {
        matches!(&answer.0, ServerMessage::Error { kind: k, .. } if *k == kind)
    }

    #[tokio::test]
    async fn files_of_several_folders_land_and_each_refusal_keeps_its_place() {
        let site = site();
        std::fs::write(site.dir.path().join("home/taken"), b"old").unwrap();
        std::fs::write(site.dir.path().join("home/plain"), b"x").unwrap();
        let mut store =
            StoreThread::start(Arc::clone(&site.home), Arc::clone(&site.partials), true);
        store.store(file(&site, "/top", b"top").await).await;
        store.store(file(&site, "/a/b/one", b"one").await).await;
        store
            .answer(ServerMessage::Error {
                kind: ErrorKind::Busy,
                message: "busy".into(),
            })
            .await;
        store.store(file(&site, "/a/b/two", b"two").await).await;
        store
            .store(file(&site, "/taken", b"new content").await)
            .await;
        store.store(file(&site, "/plain/under", b"u").await).await;
        let mut corrupt = file(&site, "/c/bad", b"bad").await;
        corrupt.sha256 = [0; 32];
        store.store(corrupt).await;
        store.store(file(&site, "/c/good", b"good").await).await;
        let answers = store.close().await.answers().await.unwrap();

        assert_eq!(answers.len(), 8);
        assert!(landed(&answers[0]) && landed(&answers[1]));
        assert!(refused(&answers[2], ErrorKind::Busy));
        assert!(landed(&answers[3]));
        assert!(refused(&answers[4], ErrorKind::Exists), "no --force");
        assert!(
            matches!(answers[5].0, ServerMessage::Error { .. }),
            "a parent is a file: {:?}",
            answers[5].0
        );
        assert!(refused(&answers[6], ErrorKind::Integrity));
        assert!(landed(&answers[7]));
        let home = site.dir.path().join("home");
        for (path, content) in [
            ("top", &b"top"[..]),
            ("a/b/one", b"one"),
            ("a/b/two", b"two"),
            ("taken", b"old"),
            ("c/good", b"good"),
        ] {
            assert_eq!(std::fs::read(home.join(path)).unwrap(), content, "{path}");
        }
        assert!(!home.join("c/bad").exists());
        let left = std::fs::read_dir(site.dir.path().join("partials"))
            .unwrap()
            .count();
        assert_eq!(left, 0, "every partial landed or was removed");
        // Every lock was let go.
        site.locks
            .lock("a/b/one".into(), [8; 16], "p", "/a/b/one")
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn files_handed_over_in_groups_are_answered_in_request_order() {
        let site = site();
        let mut store =
            StoreThread::start(Arc::clone(&site.home), Arc::clone(&site.partials), true);
        // Small and large files, and refusals, across many groups.
        let mut expected = Vec::new();
        for i in 0..70 {
            if i % 9 == 4 {
                let refusal = format!("refused {i}");
                store
                    .answer(ServerMessage::Error {
                        kind: ErrorKind::Busy,
                        message: refusal.clone(),
                    })
                    .await;
                expected.push(Err(refusal));
                continue;
            }
            let content = vec![i as u8; if i % 7 == 0 { 100 << 10 } else { 10 + i }];
            store
                .store(file(&site, &format!("/g/{i}"), &content).await)
                .await;
            if i % 25 == 0 {
                store.hand_over().await;
            }
            expected.push(Ok(content));
        }
        let answers = store.close().await.answers().await.unwrap();
        assert_eq!(answers.len(), expected.len());
        for (answer, expected) in answers.iter().zip(&expected) {
            match (&answer.0, expected) {
                (ServerMessage::PutDone { size, .. }, Ok(content)) => {
                    assert_eq!(*size, content.len() as u64);
                    let shown = answer.1.as_deref().unwrap().trim_start_matches('/');
                    let landed = std::fs::read(site.dir.path().join("home").join(shown)).unwrap();
                    assert_eq!(&landed, content);
                }
                (ServerMessage::Error { message, .. }, Err(refusal)) => {
                    assert_eq!(message, refusal)
                }
                (got, _) => panic!("out of order: {got:?}"),
            }
        }
    }

    #[tokio::test]
    async fn files_in_more_folders_than_are_kept_open_land_and_conflict_alike() {
        let site = site();
        let folders = MOST_FOLDERS + 4;
        let home = site.dir.path().join("home");
        std::fs::create_dir_all(home.join(format!("f{}/x", folders - 1))).unwrap();
        std::fs::write(home.join(format!("f{}/x/taken", folders - 1)), b"old").unwrap();
        let mut store =
            StoreThread::start(Arc::clone(&site.home), Arc::clone(&site.partials), true);
        for i in 0..folders {
            let remote = format!("/f{i}/x/new");
            store
                .store(file(&site, &remote, remote.as_bytes()).await)
                .await;
        }
        let taken = format!("/f{}/x/taken", folders - 1);
        store.store(file(&site, &taken, b"new content").await).await;
        let answers = store.close().await.answers().await.unwrap();

        assert_eq!(answers.len(), folders + 1);
        for (i, answer) in answers[..folders].iter().enumerate() {
            assert!(landed(answer), "{i}: {:?}", answer.0);
            let landed = std::fs::read(home.join(format!("f{i}/x/new"))).unwrap();
            assert_eq!(landed, format!("/f{i}/x/new").as_bytes());
        }
        assert!(refused(&answers[folders], ErrorKind::Exists), "no --force");
        assert_eq!(std::fs::read(home.join(&taken[1..])).unwrap(), b"old");
    }

    #[test]
    fn no_more_folders_than_the_most_stay_open() {
        let site = site();
        let mut folders = Folders::default();
        for i in 0..MOST_FOLDERS + 4 {
            let destination = PathBuf::from(format!("f{i}/x/new"));
            let (folder, name) = folders.place(&site.home, &destination, 0o700).unwrap();
            if i < MOST_FOLDERS {
                assert_eq!(name, Path::new("new"));
            } else {
                assert_eq!(name, destination, "found from the home");
                assert!(Arc::ptr_eq(&folder, &site.home));
            }
            assert!(
                site.dir
                    .path()
                    .join("home")
                    .join(&destination)
                    .parent()
                    .unwrap()
                    .is_dir()
            );
        }
        assert_eq!(folders.opened.len(), MOST_FOLDERS);
    }

    #[tokio::test]
    async fn a_batch_dropped_unsettled_lands_nothing_removes_its_partials_and_lets_go() {
        let site = site();
        let mut store =
            StoreThread::start(Arc::clone(&site.home), Arc::clone(&site.partials), true);
        store.store(file(&site, "/d/one", b"one").await).await;
        store.hand_over().await;
        drop(store);
        // The lock is let go once the thread has stopped: a second command gets it.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while site
            .locks
            .lock("d/one".into(), [8; 16], "p", "/d/one")
            .await
            .is_err()
        {
            assert!(std::time::Instant::now() < deadline, "lock still held");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(!site.dir.path().join("home/d/one").exists());
        let left = std::fs::read_dir(site.dir.path().join("partials"))
            .unwrap()
            .count();
        assert_eq!(left, 0, "its partial was removed");
    }

    #[tokio::test]
    async fn a_file_that_appears_before_the_batch_settles_is_kept_and_answered_exists() {
        let site = site();
        let mut store =
            StoreThread::start(Arc::clone(&site.home), Arc::clone(&site.partials), true);
        store.store(file(&site, "/d/one", b"one").await).await;
        store.store(file(&site, "/d/two", b"two").await).await;
        store.hand_over().await;
        // Both are checked and stored once the thread has made their folder; then one appears.
        let planted = site.dir.path().join("home/d/one");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::fs::read_dir(site.dir.path().join("partials"))
            .unwrap()
            .count()
            < 2
        {
            assert!(std::time::Instant::now() < deadline, "never stored");
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        std::fs::write(&planted, b"planted").unwrap();
        let answers = store.close().await.answers().await.unwrap();
        assert!(
            refused(&answers[0], ErrorKind::Exists),
            "{:?}",
            answers[0].0
        );
        assert!(landed(&answers[1]));
        assert_eq!(std::fs::read(&planted).unwrap(), b"planted");
        let left = std::fs::read_dir(site.dir.path().join("partials"))
            .unwrap()
            .count();
        assert_eq!(left, 0, "the refused file's partial was removed");
    }

    #[tokio::test]
    async fn a_full_disk_is_told_as_such_and_the_partial_written_so_far_goes() {
        let site = site();
        let admitted = file(&site, "/d/one", b"one").await;
        let partial = site
            .dir
            .path()
            .join("partials")
            .join(&admitted.upload.partial);
        for errno in [28, 122] {
            std::fs::write(&partial, b"o").unwrap();
            let error = std::io::Error::from_raw_os_error(errno);
            let refusal = write_refusal(&site.partials, &error, &admitted.upload);
            assert_eq!(refusal.kind, ErrorKind::NoSpace);
            assert!(
                refusal.message.starts_with("the server's disk is full"),
                "{}",
                refusal.message
            );
            assert!(!partial.exists(), "what was written of it is removed");
        }
        let refusal = write_refusal(
            &site.partials,
            &std::io::Error::from_raw_os_error(5),
            &admitted.upload,
        );
        assert_eq!(refusal.kind, ErrorKind::Internal);
    }
}
