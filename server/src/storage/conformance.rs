//! What every store must do, checked the same way on each: a store's tests give a
//! [`Fixture`] (the store, and a way to seed files and links as uploads and users would leave
//! them) and call [`run_all`]; and, as a property, any sequence of operations gives the same
//! answers on the local disk as in memory.

use ftp_proto::EntryKind;
use sha2::{Digest, Sha256};

pub use super::fixtures::Fixture;
use super::{Conflict, Failure, Home, UploadLimits, UploadTarget, WholeFile, WholeOutcome};
use crate::jail::RemotePath;

/// A path as the path rules give it.
fn at(text: &str) -> RemotePath {
    RemotePath::parse(text).unwrap()
}

/// The failure a call ended in.
fn failure<T: std::fmt::Debug>(result: Result<T, super::StorageError>) -> Failure {
    result.unwrap_err().failure
}

/// Runs every check, each on a fresh store from `make`.
pub async fn run_all<F: Fixture>(make: impl Fn() -> F) {
    describes_files_with_their_digest(&make()).await;
    describes_links_without_following_them(&make()).await;
    names_what_is_missing(&make()).await;
    lists_in_name_order(&make()).await;
    makes_folders_with_their_parents(&make()).await;
    removes_one_thing_at_a_time(&make()).await;
    renames_replacing_only_files(&make()).await;
    walks_trees_in_ls_r_order(&make()).await;
    removes_whole_trees_counting(&make()).await;
    reads_from_an_offset_hashing_the_whole(&make()).await;
    judges_upload_destinations(&make()).await;
    uploads_are_appended_finished_committed_and_read_back(&make()).await;
    uploads_resume_from_what_was_held(&make()).await;
    a_file_that_appears_before_a_commit_is_kept(&make()).await;
    an_abandoned_upload_leaves_nothing(&make()).await;
    idle_partials_are_limited(&make()).await;
    batches_give_one_outcome_per_file_in_order(&make()).await;
    partials_are_dropped_by_destination(&make()).await;
    partials_outlive_the_home_until_they_expire(&make()).await;
}

/// Everything a read from `offset` hands over: where it started, the data, the digest.
async fn read_all(home: &dyn Home, path: &str, offset: u64) -> (u64, Vec<u8>, [u8; 32]) {
    let mut reading = home.read(&at(path), offset, 3).await.unwrap();
    let mut data = Vec::new();
    while let Some(chunk) = reading.chunks.recv().await {
        assert!(chunk.len() <= 3);
        data.extend_from_slice(&chunk);
    }
    (reading.offset, data, reading.sha256.await.unwrap())
}

async fn reads_from_an_offset_hashing_the_whole(fx: &impl Fixture) {
    fx.seed_file("f", b"0123456789");
    let whole: [u8; 32] = Sha256::digest(b"0123456789").into();
    assert_eq!(
        read_all(fx.home(), "f", 0).await,
        (0, b"0123456789".to_vec(), whole)
    );
    assert_eq!(
        read_all(fx.home(), "f", 4).await,
        (4, b"456789".to_vec(), whole)
    );
    assert_eq!(read_all(fx.home(), "f", 10).await, (10, Vec::new(), whole));
    assert_eq!(
        read_all(fx.home(), "f", 11).await.0,
        0,
        "past the end starts over"
    );
    let reading = fx.home().read(&at("f"), 0, 3).await.unwrap();
    assert_eq!((reading.size, reading.modified_secs > 0), (10, true));
    fx.home().make_dir(&at("d")).await.unwrap();
    let folder = fx.home().read(&at("d"), 0, 3).await.err().unwrap();
    assert_eq!(folder.failure, Failure::NotRegular("a folder"));
    let missing = fx.home().read(&at("nothing"), 0, 3).await.err().unwrap();
    assert_eq!(missing.failure, Failure::NotFound);
}

/// Every entry a walk of `path` hands over, or its failure.
pub async fn walked(
    home: &dyn Home,
    path: &str,
    hash: bool,
) -> Result<Vec<ftp_proto::TreeEntry>, super::StorageError> {
    let (out, mut received) = tokio::sync::mpsc::channel(2);
    let path = at(path);
    let walk = home.walk_tree(&path, hash, out);
    let collect = async {
        let mut all = Vec::new();
        while let Some(batch) = received.recv().await {
            all.extend(batch?);
        }
        Ok(all)
    };
    tokio::join!(walk, collect).1
}

async fn walks_trees_in_ls_r_order(fx: &impl Fixture) {
    for file in ["a/deep/x", "a/y", "b/z", "top"] {
        fx.seed_file(file, file.as_bytes());
    }
    fx.home().make_dir(&at("a/empty")).await.unwrap();
    fx.home().make_dir(&at("c")).await.unwrap();
    let mut expected = vec![
        "a", "b", "c", "link", "top", "a/deep", "a/empty", "a/y", "a/deep/x", "b/z",
    ];
    if fx.has_links() {
        fx.seed_link("link", "a");
    } else {
        expected.retain(|p| *p != "link");
    }
    let all = walked(fx.home(), "/", true).await.unwrap();
    let paths: Vec<&str> = all.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, expected);
    if fx.has_links() {
        assert_eq!(all[3].kind, EntryKind::Symlink);
    }
    let deep = all.iter().find(|e| e.path == "a/deep/x").unwrap();
    assert_eq!(deep.sha256, Some(Sha256::digest(b"a/deep/x").into()));
    assert_eq!(deep.size, 8);
    let top = all.iter().find(|e| e.path == "top").unwrap();
    assert_eq!((top.kind, top.size), (EntryKind::File, 3));
    assert!(top.modified_secs > 0);
    let inner = walked(fx.home(), "a", false).await.unwrap();
    let paths: Vec<&str> = inner.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["deep", "empty", "y", "deep/x"]);
    assert!(inner.iter().all(|e| e.sha256.is_none()));
    let file = walked(fx.home(), "top", false).await.unwrap_err();
    assert_eq!(file.failure, Failure::NotAFolder);
    let missing = walked(fx.home(), "nothing", false).await.unwrap_err();
    assert_eq!(missing.failure, Failure::NotFound);
}

async fn removes_whole_trees_counting(fx: &impl Fixture) {
    for file in ["t/a/b/f", "t/g", "other/h"] {
        fx.seed_file(file, b"x");
    }
    fx.home().make_dir(&at("t/empty")).await.unwrap();
    let files = if fx.has_links() {
        fx.seed_link("t/a/link", "../../other");
        3
    } else {
        2
    };
    let removed = fx.home().remove_tree(&at("t")).await.unwrap();
    assert_eq!((removed.files, removed.folders), (files, 4));
    assert_eq!(
        failure(fx.home().describe(&at("t"), false).await),
        Failure::NotFound
    );
    assert!(
        fx.home().describe(&at("other/h"), false).await.is_ok(),
        "a link's target stays"
    );
    let file = fx.home().remove_tree(&at("other/h")).await.unwrap();
    assert_eq!((file.files, file.folders), (1, 0));
    assert_eq!(
        failure(fx.home().remove_tree(&at("nothing")).await),
        Failure::NotFound
    );
    assert_eq!(
        failure(fx.home().remove_tree(&at("/")).await),
        Failure::InvalidName
    );
}

async fn describes_files_with_their_digest(fx: &impl Fixture) {
    fx.seed_file("a/b.txt", b"hello");
    let plain = fx.home().describe(&at("a/b.txt"), false).await.unwrap();
    assert_eq!(plain.entry.name, "b.txt");
    assert_eq!(plain.entry.kind, EntryKind::File);
    assert_eq!(plain.entry.size, 5);
    assert!(plain.entry.modified > 0);
    assert_eq!(plain.sha256, None);
    let hashed = fx.home().describe(&at("a/b.txt"), true).await.unwrap();
    assert_eq!(hashed.sha256, Some(Sha256::digest(b"hello").into()));
    let folder = fx.home().describe(&at("a"), true).await.unwrap();
    assert_eq!((folder.entry.kind, folder.sha256), (EntryKind::Dir, None));
    let home = fx.home().describe(&at("/"), true).await.unwrap();
    assert_eq!(home.entry.kind, EntryKind::Dir);
}

async fn describes_links_without_following_them(fx: &impl Fixture) {
    if !fx.has_links() {
        return;
    }
    fx.seed_file("target", b"content");
    fx.seed_link("link", "target");
    let link = fx.home().describe(&at("link"), true).await.unwrap();
    assert_eq!(link.entry.kind, EntryKind::Symlink);
    assert_eq!(link.sha256, None);
}

async fn names_what_is_missing(fx: &impl Fixture) {
    fx.seed_file("file", b"x");
    let home = fx.home();
    assert_eq!(
        failure(home.describe(&at("nothing"), false).await),
        Failure::NotFound
    );
    assert_eq!(failure(home.list(&at("no/such")).await), Failure::NotFound);
    assert_eq!(
        failure(home.describe(&at("file/below"), false).await),
        Failure::ParentNotFolder
    );
    assert_eq!(
        failure(home.remove(&at("nothing")).await),
        Failure::NotFound
    );
}

async fn lists_in_name_order(fx: &impl Fixture) {
    for name in ["b", "a", "c/inner", "B"] {
        fx.seed_file(name, name.as_bytes());
    }
    let entries = fx.home().list(&at("/")).await.unwrap();
    let names: Vec<(&str, EntryKind)> = entries.iter().map(|e| (e.name.as_str(), e.kind)).collect();
    assert_eq!(
        names,
        [
            ("B", EntryKind::File),
            ("a", EntryKind::File),
            ("b", EntryKind::File),
            ("c", EntryKind::Dir)
        ]
    );
    let one = fx.home().list(&at("c/inner")).await.unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!((one[0].name.as_str(), one[0].size), ("inner", 7));
}

async fn makes_folders_with_their_parents(fx: &impl Fixture) {
    let home = fx.home();
    assert!(home.make_dir(&at("x/y/z")).await.unwrap());
    assert!(!home.make_dir(&at("x/y")).await.unwrap());
    assert!(!home.make_dir(&at("x/y/z")).await.unwrap());
    let listed = home.list(&at("x/y")).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].name.as_str(), listed[0].kind),
        ("z", EntryKind::Dir)
    );
    fx.seed_file("f", b"x");
    assert_eq!(failure(home.make_dir(&at("f")).await), Failure::InTheWay);
    assert_eq!(
        failure(home.make_dir(&at("f/below")).await),
        Failure::ParentNotFolder
    );
}

async fn removes_one_thing_at_a_time(fx: &impl Fixture) {
    fx.seed_file("full/file", b"x");
    fx.seed_file("target", b"kept");
    fx.seed_file("d/only", b"x");
    if fx.has_links() {
        fx.seed_link("link", "target");
    }
    let home = fx.home();
    assert_eq!(failure(home.remove(&at("full")).await), Failure::NotEmpty);
    home.remove(&at("full/file")).await.unwrap();
    home.remove(&at("full")).await.unwrap();
    if fx.has_links() {
        home.remove(&at("link")).await.unwrap();
    }
    home.remove(&at("d/only")).await.unwrap();
    let emptied = home.describe(&at("d"), false).await.unwrap();
    assert_eq!(emptied.entry.kind, EntryKind::Dir, "a folder emptied stays");
    home.remove(&at("d")).await.unwrap();
    let left: Vec<String> = home
        .list(&at("/"))
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(left, ["target"]);
    let kept = home.describe(&at("target"), true).await.unwrap();
    assert_eq!(kept.sha256, Some(Sha256::digest(b"kept").into()));
}

async fn renames_replacing_only_files(fx: &impl Fixture) {
    fx.seed_file("d/f", b"f");
    fx.seed_file("a", b"A");
    fx.seed_file("b", b"B");
    let home = fx.home();
    let refused = home.rename(&at("a"), &at("b"), false).await.unwrap_err();
    assert_eq!(
        (refused.failure, refused.at),
        (Failure::AlreadyThere, Some("/b".to_owned()))
    );
    assert_eq!(
        failure(home.rename(&at("d"), &at("b"), true).await),
        Failure::FolderOverFile
    );
    assert_eq!(
        failure(home.rename(&at("a"), &at("d"), true).await),
        Failure::FolderInTheWay
    );
    assert_eq!(
        failure(home.rename(&at("a"), &at("no/a"), false).await),
        Failure::NoSuchFolder
    );
    let missing = home
        .rename(&at("nothing"), &at("x"), false)
        .await
        .unwrap_err();
    assert_eq!(
        (missing.failure, missing.at),
        (Failure::NotFound, Some("/nothing".to_owned()))
    );
    home.rename(&at("a"), &at("b"), true).await.unwrap();
    let b = home.describe(&at("b"), true).await.unwrap();
    assert_eq!(b.sha256, Some(Sha256::digest(b"A").into()));
    home.rename(&at("d"), &at("e"), false).await.unwrap();
    let moved = home.describe(&at("e/f"), true).await.unwrap();
    assert_eq!(moved.sha256, Some(Sha256::digest(b"f").into()));
    assert_eq!(
        failure(home.describe(&at("d"), false).await),
        Failure::NotFound
    );
}

/// An upload of `size` bytes to `path` into the partial `name` (of the fixtures' user).
fn target(path: &str, name: &str, size: u64) -> UploadTarget {
    UploadTarget {
        path: at(path),
        partial: format!("{}~{name}.part", super::fixtures::USER),
        size,
        modified: None,
    }
}

/// Limits that let any upload open.
fn no_limits() -> UploadLimits {
    UploadLimits {
        max_partials: usize::MAX,
        in_use: Default::default(),
    }
}

/// Uploads `data` in chunks of three into `target`'s partial and finishes it (not committed).
async fn upload(home: &dyn Home, target: UploadTarget) -> Box<dyn super::HeldUpload> {
    let size = usize::try_from(target.size).unwrap();
    let data: Vec<u8> = (0..size).map(|i| b'a' + (i % 26) as u8).collect();
    let mut partial = home.open_upload(target, no_limits()).await.unwrap();
    let offset = usize::try_from(partial.offset()).unwrap();
    for chunk in data[offset..].chunks(3) {
        assert!(partial.append(bytes::Bytes::copy_from_slice(chunk)).await);
    }
    partial.finish().await.unwrap()
}

/// The content [`upload`] sends for `size` bytes.
fn upload_data(size: usize) -> Vec<u8> {
    (0..size).map(|i| b'a' + (i % 26) as u8).collect()
}

/// This user's partials as (path, size, held).
async fn partials_of(home: &dyn Home) -> Vec<(String, u64, u64)> {
    let listed = home.partials().await.unwrap();
    listed
        .into_iter()
        .map(|p| (p.path, p.size, p.held))
        .collect()
}

async fn judges_upload_destinations(fx: &impl Fixture) {
    use Conflict::*;
    let home = fx.home();
    fx.seed_file("same", b"abc");
    fx.seed_file("plain", b"x");
    if fx.has_links() {
        fx.seed_link("link", "same");
    }
    home.make_dir(&at("dir")).await.unwrap();
    assert_eq!(
        home.check_destination(&at("new/deep/f"), 3, Refuse).await,
        Ok(None)
    );
    let made = home.describe(&at("new/deep"), false).await.unwrap();
    assert_eq!(made.entry.kind, EntryKind::Dir, "its folders are made");
    assert_eq!(
        failure(home.check_destination(&at("dir"), 3, Compare).await),
        Failure::FolderAtDestination
    );
    let abc: [u8; 32] = Sha256::digest(b"abc").into();
    for conflict in [Refuse, Compare] {
        assert_eq!(
            home.check_destination(&at("same"), 3, conflict).await,
            Ok(Some(abc))
        );
    }
    assert_eq!(
        home.check_destination(&at("same"), 3, Replace).await,
        Ok(None)
    );
    assert_eq!(
        failure(home.check_destination(&at("same"), 4, Refuse).await),
        Failure::FileAtDestination(3)
    );
    assert_eq!(
        home.check_destination(&at("same"), 4, Compare).await,
        Ok(None)
    );
    if fx.has_links() {
        assert_eq!(
            failure(home.check_destination(&at("link"), 4, Refuse).await),
            Failure::FileAtDestination(4),
            "a link is refused by its size, never followed"
        );
    }
    assert_eq!(
        failure(home.check_destination(&at("plain/f"), 1, Refuse).await),
        Failure::InTheWay
    );
}

async fn uploads_are_appended_finished_committed_and_read_back(fx: &impl Fixture) {
    let home = fx.home();
    let mut going = target("/up/file", "one", 10);
    going.modified = Some(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000));
    home.check_destination(&going.path, 10, Conflict::Refuse)
        .await
        .unwrap();
    let held = upload(home, going).await;
    let data = upload_data(10);
    assert_eq!(held.sha256(), <[u8; 32]>::from(Sha256::digest(&data)));
    assert_eq!(partials_of(home).await, [("/up/file".to_owned(), 10, 10)]);
    held.commit(true, false).await.unwrap();
    assert_eq!(read_all(home, "up/file", 0).await.1, data);
    let placed = home.describe(&at("up/file"), false).await.unwrap();
    assert_eq!(placed.entry.modified, 1_000_000_000, "the client's time");
    assert!(partials_of(home).await.is_empty());
}

async fn uploads_resume_from_what_was_held(fx: &impl Fixture) {
    let home = fx.home();
    let going = target("/r", "resumed", 11);
    let mut partial = home.open_upload(going.clone(), no_limits()).await.unwrap();
    assert_eq!(partial.offset(), 0);
    assert!(partial.append(bytes::Bytes::from_static(b"hello ")).await);
    // The connection is gone: finished to what was stored, never committed.
    drop(partial.finish().await.unwrap());
    assert_eq!(partials_of(home).await, [("/r".to_owned(), 11, 6)]);
    let mut partial = home.open_upload(going.clone(), no_limits()).await.unwrap();
    assert_eq!(partial.offset(), 6);
    assert!(partial.restored() <= 6);
    assert!(partial.append(bytes::Bytes::from_static(b"world")).await);
    let held = partial.finish().await.unwrap();
    assert_eq!(
        held.sha256(),
        <[u8; 32]>::from(Sha256::digest(b"hello world"))
    );
    drop(held);
    let shorter = UploadTarget { size: 5, ..going };
    let partial = home.open_upload(shorter, no_limits()).await.unwrap();
    assert_eq!(
        partial.offset(),
        0,
        "one longer than the size starts afresh"
    );
    let held = partial.finish().await.unwrap();
    assert_eq!(held.sha256(), <[u8; 32]>::from(Sha256::digest(b"")));
    held.abandon().await;
}

async fn a_file_that_appears_before_a_commit_is_kept(fx: &impl Fixture) {
    let home = fx.home();
    let going = target("/late", "late", 4);
    let held = upload(home, going.clone()).await;
    fx.seed_file("late", b"planted");
    assert_eq!(
        failure(held.commit(false, false).await),
        Failure::AlreadyThere
    );
    assert_eq!(read_all(home, "late", 0).await.1, b"planted");
    assert_eq!(
        partials_of(home).await,
        [("/late".to_owned(), 4, 4)],
        "kept"
    );
    let held = upload(home, going.clone()).await;
    held.commit(false, true).await.unwrap();
    assert_eq!(read_all(home, "late", 0).await.1, upload_data(4));

    let folder = target("/folder", "folder", 4);
    let held = upload(home, folder.clone()).await;
    home.make_dir(&at("folder/inner")).await.unwrap();
    assert_eq!(
        failure(held.commit(false, false).await),
        Failure::AlreadyThere
    );
    let held = upload(home, folder).await;
    assert!(
        held.commit(false, true).await.is_err(),
        "a folder is never replaced"
    );
    let still = home.describe(&at("folder/inner"), false).await.unwrap();
    assert_eq!(still.entry.kind, EntryKind::Dir);
}

async fn an_abandoned_upload_leaves_nothing(fx: &impl Fixture) {
    let home = fx.home();
    let held = upload(home, target("/gone", "gone", 5)).await;
    held.abandon().await;
    assert!(partials_of(home).await.is_empty());
    assert_eq!(
        failure(home.describe(&at("gone"), false).await),
        Failure::NotFound
    );
}

async fn idle_partials_are_limited(fx: &impl Fixture) {
    let home = fx.home();
    drop(upload(home, target("/a", "a", 3)).await);
    drop(upload(home, target("/b", "b", 3)).await);
    let limits = |in_use: &[&str]| UploadLimits {
        max_partials: 2,
        in_use: in_use
            .iter()
            .map(|name| format!("{}~{name}.part", super::fixtures::USER))
            .collect(),
    };
    let refused = home.open_upload(target("/c", "c", 3), limits(&["c"])).await;
    assert_eq!(failure(refused.map(|_| ())), Failure::TooManyUnfinished(2));
    let resumed = home.open_upload(target("/a", "a", 3), limits(&["a"])).await;
    assert_eq!(
        resumed.unwrap().offset(),
        3,
        "a partial already there is resumed"
    );
    let beside_a_live_one = home
        .open_upload(target("/c", "c", 3), limits(&["a", "c"]))
        .await;
    assert_eq!(beside_a_live_one.unwrap().offset(), 0);
}

async fn batches_give_one_outcome_per_file_in_order(fx: &impl Fixture) {
    fx.seed_file("same", b"abc");
    fx.seed_file("other", b"abc");
    fx.seed_file("taken", b"old");
    fx.seed_file("plain", b"x");
    let home = fx.home();
    home.make_dir(&at("dir")).await.unwrap();
    let file = |path: &str, content: &[u8], force: bool| WholeFile {
        path: at(path),
        partial: format!(
            "{}~whole{}.part",
            super::fixtures::USER,
            path.replace('/', "_")
        ),
        force,
        modified: None,
        data: bytes::Bytes::copy_from_slice(content),
        sha256: Sha256::digest(content).into(),
    };
    let mut batch = home.start_batch(0, true);
    batch.store(file("/new/one", b"one", false)).await;
    batch.store(file("/same", b"abc", false)).await;
    let mut corrupt = file("/bad", b"bad", false);
    corrupt.sha256 = [0; 32];
    batch.store(corrupt).await;
    batch.store(file("/taken", b"new content", false)).await;
    batch.store(file("/plain/under", b"u", false)).await;
    batch.store(file("/dir", b"d", true)).await;
    batch.hand_over().await;
    batch.store(file("/other", b"xyz", true)).await;
    batch.store(file("/same", b"abc", true)).await;
    let outcomes = batch.close().await.outcomes().await.unwrap();
    let abc: [u8; 32] = Sha256::digest(b"abc").into();
    let stages: Vec<String> = outcomes
        .iter()
        .map(|outcome| match outcome {
            WholeOutcome::Failed(stage, error) => format!("{stage:?} {:?}", error.failure),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        stages,
        [
            "Landed".to_owned(),
            format!("{:?}", WholeOutcome::Existing(abc)),
            "Mismatch".to_owned(),
            "Destination FileAtDestination(3)".to_owned(),
            "Folder InTheWay".to_owned(),
            "Destination FolderAtDestination".to_owned(),
            "Landed".to_owned(),
            format!("{:?}", WholeOutcome::Existing(abc)),
        ]
    );
    for (path, content) in [
        ("new/one", &b"one"[..]),
        ("same", b"abc"),
        ("taken", b"old"),
        ("other", b"xyz"),
    ] {
        assert_eq!(read_all(home, path, 0).await.1, content, "{path}");
    }
    assert_eq!(
        failure(home.describe(&at("bad"), false).await),
        Failure::NotFound
    );
    assert!(
        partials_of(home).await.is_empty(),
        "whole files are no partials"
    );
}

async fn partials_are_dropped_by_destination(fx: &impl Fixture) {
    let home = fx.home();
    drop(upload(home, target("/x", "x1", 3)).await);
    drop(upload(home, target("/x", "x2", 4)).await);
    drop(upload(home, target("/y", "y", 3)).await);
    assert_eq!(home.drop_partials(&at("x")).await, Ok(2));
    assert_eq!(partials_of(home).await, [("/y".to_owned(), 3, 3)]);
    assert_eq!(home.drop_partials(&at("x")).await, Ok(0));
}

async fn partials_outlive_the_home_until_they_expire(fx: &impl Fixture) {
    let going = target("/kept", "kept", 6);
    let mut partial = fx
        .home()
        .open_upload(going.clone(), no_limits())
        .await
        .unwrap();
    assert!(partial.append(bytes::Bytes::from_static(b"abc")).await);
    drop(partial.finish().await.unwrap());
    let user = super::fixtures::USER;
    let home = fx
        .store()
        .open_home(user, super::fixtures::HOME.as_ref())
        .await
        .unwrap();
    assert_eq!(partials_of(&*home).await, [("/kept".to_owned(), 6, 3)]);
    let resumed = home.open_upload(going, no_limits()).await.unwrap();
    assert_eq!(resumed.offset(), 3);
    drop(resumed.finish().await.unwrap());
    let hour = std::time::Duration::from_secs(3600);
    assert_eq!(fx.store().expire(hour).await, Ok(0));
    assert_eq!(partials_of(&*home).await.len(), 1);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    // Expired once older than no time at all: the first expiry a clock tick later.
    while fx.store().expire(std::time::Duration::ZERO).await.unwrap() == 0 {
        assert!(std::time::Instant::now() < deadline, "never expired");
        tokio::task::yield_now().await;
    }
    assert!(partials_of(&*home).await.is_empty());
}

/// One operation of a generated sequence, on paths of a few short names.
#[derive(Debug, Clone)]
enum Op {
    Seed(String, Vec<u8>),
    MakeDir(String),
    Remove(String),
    List(String),
    Describe(String),
    Rename(String, String, bool),
    Walk(String),
    RemoveTree(String),
    /// An upload of the content through a partial, committed with or without replace.
    Upload(String, Vec<u8>, bool),
    /// A batch of one whole file, forced or not.
    Batch(String, Vec<u8>, bool),
}

/// Paths of up to three names from a small alphabet, so operations meet each other.
fn paths() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    proptest::collection::vec(prop_oneof![Just("a"), Just("b"), Just("c")], 1..4)
        .prop_map(|names| names.join("/"))
}

fn ops() -> impl proptest::strategy::Strategy<Value = Vec<Op>> {
    use proptest::prelude::*;
    let op = prop_oneof![
        (paths(), proptest::collection::vec(any::<u8>(), 0..8)).prop_map(|(p, c)| Op::Seed(p, c)),
        paths().prop_map(Op::MakeDir),
        paths().prop_map(Op::Remove),
        paths().prop_map(Op::List),
        paths().prop_map(Op::Describe),
        paths().prop_map(Op::Walk),
        paths().prop_map(Op::RemoveTree),
        (
            paths(),
            proptest::collection::vec(any::<u8>(), 0..8),
            any::<bool>()
        )
            .prop_map(|(p, c, replace)| Op::Upload(p, c, replace)),
        (
            paths(),
            proptest::collection::vec(any::<u8>(), 0..8),
            any::<bool>()
        )
            .prop_map(|(p, c, force)| Op::Batch(p, c, force)),
        (paths(), paths(), any::<bool>())
            .prop_map(|(from, to, replace)| Op::Rename(from, to, replace)),
    ];
    proptest::collection::vec(op, 1..24)
}

/// What an operation answered, without the times (the two stores do not share a clock).
async fn outcome(fx: &impl Fixture, op: &Op) -> String {
    let strip = |entries: Vec<ftp_proto::DirEntry>| -> Vec<(String, EntryKind, u64)> {
        entries
            .into_iter()
            .map(|e| (e.name, e.kind, e.size))
            .collect()
    };
    let home = fx.home();
    match op {
        Op::Seed(path, content) => format!("{:?}", fx.try_seed_file(path, content).is_ok()),
        Op::MakeDir(path) => format!(
            "{:?}",
            home.make_dir(&at(path)).await.map_err(|e| e.failure)
        ),
        Op::Remove(path) => format!("{:?}", home.remove(&at(path)).await.map_err(|e| e.failure)),
        Op::List(path) => format!(
            "{:?}",
            home.list(&at(path)).await.map(strip).map_err(|e| e.failure)
        ),
        Op::Rename(from, to, replace) => format!(
            "{:?}",
            home.rename(&at(from), &at(to), *replace)
                .await
                .map_err(|e| (e.failure, e.at))
        ),
        Op::Walk(path) => format!(
            "{:?}",
            walked(home, path, true)
                .await
                .map(|all| all
                    .into_iter()
                    .map(|e| (e.path, e.kind, e.size, e.sha256))
                    .collect::<Vec<_>>())
                .map_err(|e| (
                    e.failure,
                    e.at.filter(|place| *place != at(path).to_string())
                ))
        ),
        Op::RemoveTree(path) => format!(
            "{:?}",
            home.remove_tree(&at(path)).await.map_err(|e| e.failure)
        ),
        Op::Upload(path, content, replace) => {
            format!("{:?}", upload_outcome(home, path, content, *replace).await)
        }
        Op::Batch(path, content, force) => {
            let mut batch = home.start_batch(0, false);
            batch
                .store(WholeFile {
                    path: at(path),
                    partial: format!("{}~whole.part", super::fixtures::USER),
                    force: *force,
                    modified: None,
                    data: bytes::Bytes::copy_from_slice(content),
                    sha256: Sha256::digest(content).into(),
                })
                .await;
            let outcomes = batch.close().await.outcomes().await.unwrap();
            let outcomes: Vec<String> = outcomes
                .into_iter()
                .map(|outcome| match outcome {
                    WholeOutcome::Failed(stage, error) => {
                        format!("{stage:?} {:?}", error.failure)
                    }
                    other => format!("{other:?}"),
                })
                .collect();
            format!("{outcomes:?} {:?}", partials_of(home).await)
        }
        Op::Describe(path) => format!(
            "{:?}",
            home.describe(&at(path), true)
                .await
                .map(|d| (d.entry.name, d.entry.kind, d.entry.size, d.sha256))
                .map_err(|e| e.failure)
        ),
    }
}

/// An upload of `content` to `path` as a session makes it: the destination judged (no
/// force), the partial opened, written, finished and committed; what failed, and the partials
/// left.
async fn upload_outcome(
    home: &dyn Home,
    path: &str,
    content: &[u8],
    replace: bool,
) -> (Result<Option<[u8; 32]>, Failure>, Vec<(String, u64, u64)>) {
    let size = content.len() as u64;
    let tried = async {
        let conflict = if replace {
            Conflict::Replace
        } else {
            Conflict::Refuse
        };
        if let Some(existing) = home.check_destination(&at(path), size, conflict).await? {
            return Ok(Some(existing));
        }
        let going = target(path, &path.replace('/', "_"), size);
        let mut partial = home.open_upload(going, no_limits()).await?;
        let rest = &content[usize::try_from(partial.offset()).unwrap()..];
        assert!(partial.append(bytes::Bytes::copy_from_slice(rest)).await);
        let held = partial.finish().await?;
        held.commit(false, replace).await?;
        Ok(None)
    };
    let tried: Result<_, super::StorageError> = tried.await;
    (tried.map_err(|e| e.failure), partials_of(home).await)
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]
    #[test]
    fn memory_answers_as_the_local_disk_does(ops in ops()) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let local = super::fixtures::Local::new();
            let memory = super::fixtures::Memory::new();
            for op in &ops {
                let (on_disk, in_memory) = (outcome(&local, op).await, outcome(&memory, op).await);
                assert_eq!(on_disk, in_memory, "after {op:?}");
            }
            let everything = Op::Walk("/".into());
            assert_eq!(outcome(&local, &everything).await, outcome(&memory, &everything).await);
        });
    }
}
