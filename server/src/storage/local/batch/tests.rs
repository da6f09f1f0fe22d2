//! Tests of the local store's batches of whole files.

use super::*;
use crate::jail::RemotePath;
use crate::storage::fixtures::{Fixture, Local};
use bytes::Bytes;

/// The file `remote` with `content`, as the connection hands it over.
fn file(remote: &str, content: &[u8]) -> WholeFile {
    WholeFile {
        path: RemotePath::parse(remote).unwrap(),
        partial: format!(
            "alice~{}.part",
            hex::encode(Sha256::digest(remote.as_bytes()))
        ),
        force: false,
        modified: None,
        data: Bytes::copy_from_slice(content),
        sha256: Sha256::digest(content).into(),
    }
}

/// What is left in the whole-file folder of slot 0.
fn partials_left(local: &Local) -> usize {
    std::fs::read_dir(local.root().join("../partials/whole-a"))
        .unwrap()
        .count()
}

#[tokio::test]
async fn files_of_several_folders_land_and_each_failure_keeps_its_place() {
    let local = Local::new();
    local.seed_file("taken", b"old");
    local.seed_file("plain", b"x");
    let mut batch = local.home().start_batch(0, true);
    batch.store(file("/top", b"top")).await;
    batch.store(file("/a/b/one", b"one")).await;
    batch.store(file("/a/b/two", b"two")).await;
    batch.store(file("/taken", b"new content")).await;
    batch.store(file("/plain/under", b"u")).await;
    let mut corrupt = file("/c/bad", b"bad");
    corrupt.sha256 = [0; 32];
    batch.store(corrupt).await;
    batch.store(file("/c/good", b"good")).await;
    let outcomes = batch.close().await.outcomes().await.unwrap();

    assert_eq!(outcomes.len(), 7);
    for i in [0, 1, 2, 6] {
        assert_eq!(outcomes[i], WholeOutcome::Landed, "{i}");
    }
    assert!(
        matches!(
            &outcomes[3],
            WholeOutcome::Failed(WholeStage::Destination, e)
                if e.failure == Failure::FileAtDestination(3)
        ),
        "no --force: {:?}",
        outcomes[3]
    );
    assert!(
        matches!(&outcomes[4], WholeOutcome::Failed(WholeStage::Folder, _)),
        "a parent is a file: {:?}",
        outcomes[4]
    );
    assert_eq!(outcomes[5], WholeOutcome::Mismatch);
    for (path, content) in [
        ("top", &b"top"[..]),
        ("a/b/one", b"one"),
        ("a/b/two", b"two"),
        ("taken", b"old"),
        ("c/good", b"good"),
    ] {
        assert_eq!(
            std::fs::read(local.root().join(path)).unwrap(),
            content,
            "{path}"
        );
    }
    assert!(!local.root().join("c/bad").exists());
    assert_eq!(
        partials_left(&local),
        0,
        "every partial landed or was removed"
    );
}

#[tokio::test]
async fn identical_content_is_existing_and_forced_different_content_replaced() {
    let local = Local::new();
    local.seed_file("same", b"abc");
    local.seed_file("other", b"abc");
    let mut batch = local.home().start_batch(1, false);
    batch.store(file("/same", b"abc")).await;
    let mut forced = file("/other", b"xyz");
    forced.force = true;
    batch.store(forced).await;
    let outcomes = batch.close().await.outcomes().await.unwrap();
    let abc: [u8; 32] = Sha256::digest(b"abc").into();
    assert_eq!(
        outcomes,
        [WholeOutcome::Existing(abc), WholeOutcome::Landed]
    );
    assert_eq!(std::fs::read(local.root().join("other")).unwrap(), b"xyz");
}

#[tokio::test]
async fn files_handed_over_in_groups_come_out_in_order() {
    let local = Local::new();
    let mut batch = local.home().start_batch(0, true);
    let mut expected = Vec::new();
    for i in 0..70 {
        let content = vec![i as u8; if i % 7 == 0 { 100 << 10 } else { 10 + i }];
        batch.store(file(&format!("/g/{i}"), &content)).await;
        if i % 25 == 0 {
            batch.hand_over().await;
        }
        expected.push(content);
    }
    let outcomes = batch.close().await.outcomes().await.unwrap();
    assert_eq!(outcomes.len(), expected.len());
    assert!(outcomes.iter().all(|o| *o == WholeOutcome::Landed));
    for (i, content) in expected.iter().enumerate() {
        let landed = std::fs::read(local.root().join(format!("g/{i}"))).unwrap();
        assert_eq!(&landed, content);
    }
}

#[tokio::test]
async fn files_in_more_folders_than_are_kept_open_land_and_conflict_alike() {
    let local = Local::new();
    let folders = MOST_FOLDERS + 4;
    let taken = format!("f{}/x/taken", folders - 1);
    local.seed_file(&taken, b"old");
    let mut batch = local.home().start_batch(0, true);
    for i in 0..folders {
        let remote = format!("/f{i}/x/new");
        batch.store(file(&remote, remote.as_bytes())).await;
    }
    batch
        .store(file(&format!("/{taken}"), b"new content"))
        .await;
    let outcomes = batch.close().await.outcomes().await.unwrap();

    assert_eq!(outcomes.len(), folders + 1);
    for (i, outcome) in outcomes[..folders].iter().enumerate() {
        assert_eq!(*outcome, WholeOutcome::Landed, "{i}");
        let landed = std::fs::read(local.root().join(format!("f{i}/x/new"))).unwrap();
        assert_eq!(landed, format!("/f{i}/x/new").as_bytes());
    }
    assert!(matches!(
        outcomes[folders],
        WholeOutcome::Failed(WholeStage::Destination, _)
    ));
    assert_eq!(std::fs::read(local.root().join(&taken)).unwrap(), b"old");
}

#[test]
fn no_more_folders_than_the_most_stay_open() {
    let local = Local::new();
    let home = crate::storage::fixtures::open(local.root());
    let mut folders = Folders::default();
    for i in 0..MOST_FOLDERS + 4 {
        let destination = PathBuf::from(format!("f{i}/x/new"));
        let (folder, name) = folders.place(&home, &destination, 0o700).unwrap();
        if i < MOST_FOLDERS {
            assert_eq!(name, Path::new("new"));
        } else {
            assert_eq!(name, destination, "found from the home");
            assert!(Arc::ptr_eq(&folder, &home));
        }
        assert!(local.root().join(&destination).parent().unwrap().is_dir());
    }
    assert_eq!(folders.opened.len(), MOST_FOLDERS);
}

#[tokio::test]
async fn a_batch_dropped_unsettled_lands_nothing_and_removes_its_partials() {
    let local = Local::new();
    let mut batch = local.home().start_batch(0, true);
    batch.store(file("/d/one", b"one")).await;
    batch.hand_over().await;
    drop(batch);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    // The thread stores what it was handed, sees the queue closed and cleans up.
    while !(local.root().join("d").is_dir() && partials_left(&local) == 0) {
        assert!(std::time::Instant::now() < deadline, "its partial stayed");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert!(!local.root().join("d/one").exists());
}

#[tokio::test]
async fn a_file_that_appears_before_the_batch_settles_is_kept() {
    let local = Local::new();
    let mut batch = local.home().start_batch(0, true);
    batch.store(file("/d/one", b"one")).await;
    batch.store(file("/d/two", b"two")).await;
    batch.hand_over().await;
    // Both are checked and stored once the thread has made their folder; then one appears.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while partials_left(&local) < 2 {
        assert!(std::time::Instant::now() < deadline, "never stored");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    local.seed_file("d/one", b"planted");
    let outcomes = batch.close().await.outcomes().await.unwrap();
    assert!(
        matches!(&outcomes[0], WholeOutcome::Failed(WholeStage::Place, e) if e.failure == Failure::AlreadyThere),
        "{:?}",
        outcomes[0]
    );
    assert_eq!(outcomes[1], WholeOutcome::Landed);
    assert_eq!(
        std::fs::read(local.root().join("d/one")).unwrap(),
        b"planted"
    );
    assert_eq!(
        partials_left(&local),
        0,
        "the refused file's partial was removed"
    );
}
