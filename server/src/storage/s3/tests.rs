//! Tests of the S3 store against a real radosgw ([`radosgw_fixture`]): the conformance suite,
//! and what only a shared bucket can show: an upload resumed through another server from its
//! last recorded part, a destination busy while another server writes it, a writer fenced off
//! by one that took its upload over, and the sweeper.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::{S3Settings, S3Store, objects};
use crate::jail::RemotePath;
use crate::storage::conformance;
use crate::storage::fixtures::{Fixture, HOME, USER};
use crate::storage::{Failure, Home, Store, UploadLimits, UploadTarget};

/// The bucket of this test process, on the shared radosgw.
fn settings(prefix: &str) -> S3Settings {
    static BUCKET: OnceLock<(String, String, String, String)> = OnceLock::new();
    let (endpoint, bucket, access, secret) = BUCKET.get_or_init(|| {
        let rgw = radosgw_fixture::shared().expect("radosgw for the S3 store's tests");
        let bucket = rgw.bucket("ftpd-store").expect("a bucket");
        (
            rgw.endpoint.clone(),
            bucket,
            rgw.access_key.clone(),
            rgw.secret_key.clone(),
        )
    });
    S3Settings {
        endpoint: Some(endpoint.clone()),
        bucket: bucket.clone(),
        prefix: prefix.to_owned(),
        region: "default".to_owned(),
        access_key_id: access.clone(),
        secret_access_key: secret.clone(),
    }
}

/// A fresh prefix: every fixture its own empty store.
fn fresh_prefix() -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).unwrap();
    format!("t/{}", hex::encode(bytes))
}

/// Runs `future` to its end from synchronous code inside a multi-threaded runtime.
fn wait<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(future))
}

/// A store (one "server") on `prefix`.
async fn server(prefix: &str) -> S3Store {
    S3Store::connect(&settings(prefix)).await.unwrap()
}

/// A store on `prefix` whose parts are [`PART`] bytes, so a few MiB cross parts.
async fn server_with_small_parts(prefix: &str) -> S3Store {
    S3Store::open(&settings(prefix), PART).await.unwrap()
}

/// An S3 home in its own prefix, seeded by plain PUTs as another S3 tool would leave files.
struct S3 {
    store: S3Store,
    home: super::S3Home,
}

impl S3 {
    fn new() -> Self {
        let store = wait(server(&fresh_prefix()));
        let home = store.home_at(HOME.as_ref());
        S3 { store, home }
    }
}

impl Fixture for S3 {
    fn home(&self) -> &dyn Home {
        &self.home
    }

    fn store(&self) -> &dyn Store {
        &self.store
    }

    fn try_seed_file(&self, path: &str, content: &[u8]) -> Result<(), String> {
        let at = RemotePath::parse(path).unwrap();
        wait(async {
            if self.home.file_above(&at).await.map_err(|e| e.detail)? {
                return Err("a file is in the way".to_owned());
            }
            let key = self.home.keys.file(&at);
            let attributes = object_store::Attributes::new();
            objects::overwrite(
                self.home.bucket(),
                &key,
                Bytes::copy_from_slice(content),
                attributes,
            )
            .await
            .map(|_| ())
            .map_err(|e| e.detail)
        })
    }

    fn seed_link(&self, _path: &str, _target: &str) {
        unreachable!("an object store has no links");
    }

    fn has_links(&self) -> bool {
        false
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_passes_the_conformance_suite() {
    conformance::run_all(S3::new).await;
}

fn at(text: &str) -> RemotePath {
    RemotePath::parse(text).unwrap()
}

fn no_limits() -> UploadLimits {
    UploadLimits {
        max_partials: usize::MAX,
        in_use: Default::default(),
    }
}

/// Five MiB and a little: the smallest part S3 takes, and the start of the next.
const PART: u64 = 5 << 20;

fn content(size: u64) -> Vec<u8> {
    (0..size).map(|i| (i * 7 % 251) as u8).collect()
}

fn big_target(name: &str, size: u64) -> UploadTarget {
    UploadTarget {
        path: at("/big/file"),
        partial: format!("{USER}~{name}.part"),
        size,
        modified: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_cut_off_on_one_server_resumes_on_another_from_its_last_part() {
    let prefix = fresh_prefix();
    let one = server_with_small_parts(&prefix).await;
    let two = server_with_small_parts(&prefix).await;
    let size = 2 * PART + 1234;
    let data = content(size);
    let target = big_target("moving", size);
    let mut first = one
        .home_at(HOME.as_ref())
        .open_upload(target.clone(), no_limits())
        .await
        .unwrap();
    // A part and a half, then the server dies: what it had not stored as a part is lost.
    for chunk in data[..(PART + PART / 2) as usize].chunks(1 << 20) {
        assert!(first.append(Bytes::copy_from_slice(chunk)).await);
    }
    let home = two.home_at(HOME.as_ref());
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    // The first part is recorded in the background once stored.
    while home.partials().await.unwrap()[0].held < PART {
        assert!(
            std::time::Instant::now() < deadline,
            "the part was never recorded"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(first);
    let partials = home.partials().await.unwrap();
    assert_eq!(
        (partials.len(), partials[0].held),
        (1, PART),
        "the recorded part, not what was still arriving"
    );
    let mut second = home.open_upload(target, no_limits()).await.unwrap();
    assert_eq!((second.offset(), second.restored()), (PART, PART));
    for chunk in data[PART as usize..].chunks(1 << 20) {
        assert!(second.append(Bytes::copy_from_slice(chunk)).await);
    }
    let held = second.finish().await.unwrap();
    assert_eq!(held.sha256(), <[u8; 32]>::from(Sha256::digest(&data)));
    held.commit(true, false).await.unwrap();
    let described = home.describe(&at("big/file"), true).await.unwrap();
    assert_eq!(described.entry.size, size);
    assert_eq!(described.sha256, Some(Sha256::digest(&data).into()));
    let mut reading = home.read(&at("big/file"), PART + 3, 1 << 20).await.unwrap();
    let mut back = Vec::new();
    while let Some(chunk) = reading.chunks.recv().await {
        back.extend_from_slice(&chunk);
    }
    assert_eq!(back, data[(PART + 3) as usize..]);
    assert_eq!(
        reading.sha256.await.unwrap(),
        <[u8; 32]>::from(Sha256::digest(&data))
    );
    assert!(home.partials().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destination_another_server_writes_is_busy_and_a_takeover_fences_the_first() {
    let prefix = fresh_prefix();
    let one = server_with_small_parts(&prefix).await;
    let two = server_with_small_parts(&prefix).await;
    let size = 3 * PART;
    let data = content(size);
    let target = big_target("first", size);
    let home_one = one.home_at(HOME.as_ref());
    let home_two = two.home_at(HOME.as_ref());
    let mut first = home_one
        .open_upload(target.clone(), no_limits())
        .await
        .unwrap();
    assert!(first.append(Bytes::copy_from_slice(&data[..1000])).await);
    let other = home_two
        .open_upload(big_target("other", size), no_limits())
        .await;
    assert_eq!(other.err().map(|e| e.failure), Some(Failure::Busy));
    // The same upload, reconnected through the other server: it takes over.
    let mut second = home_two.open_upload(target, no_limits()).await.unwrap();
    assert_eq!(second.offset(), 0);
    let mut fenced = false;
    for chunk in data[1000..].chunks(1 << 20) {
        if !first.append(Bytes::copy_from_slice(chunk)).await {
            fenced = true;
            break;
        }
    }
    let finished = first.finish().await;
    assert!(
        fenced || finished.is_err(),
        "the first writer's next record fails once the upload was taken over"
    );
    if let Err(error) = finished {
        assert_eq!(error.failure, Failure::Busy);
    }
    for chunk in data.chunks(1 << 20) {
        assert!(second.append(Bytes::copy_from_slice(chunk)).await);
    }
    let held = second.finish().await.unwrap();
    held.commit(false, false).await.unwrap();
    let described = home_one.describe(&at("big/file"), true).await.unwrap();
    assert_eq!(described.sha256, Some(Sha256::digest(&data).into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweeper_aborts_uploads_left_alone() {
    let prefix = fresh_prefix();
    let one = server(&prefix).await;
    let home = one.home_at(HOME.as_ref());
    let mut partial = home
        .open_upload(big_target("left", 10), no_limits())
        .await
        .unwrap();
    assert!(partial.append(Bytes::from_static(b"abc")).await);
    drop(partial.finish().await.unwrap());
    assert_eq!(home.partials().await.unwrap()[0].held, 3, "a tail kept");
    let two = server(&prefix).await;
    assert_eq!(two.expire(Duration::from_secs(3600)).await, Ok(0));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    // Expired once older than no time at all: the first sweep a clock tick later.
    let swept = loop {
        let swept = two.expire(Duration::ZERO).await.unwrap();
        if swept > 0 {
            break swept;
        }
        assert!(std::time::Instant::now() < deadline, "never expired");
        tokio::task::yield_now().await;
    };
    assert_eq!(swept, 1);
    assert!(home.partials().await.unwrap().is_empty());
    let left: Vec<_> = {
        use futures::TryStreamExt;
        use object_store::ObjectStore;
        let everything = object_store::path::Path::from(prefix.as_str());
        one.shared
            .bucket
            .list(Some(&everything))
            .try_collect::<Vec<_>>()
            .await
            .unwrap()
    };
    assert!(
        left.iter()
            .all(|o| !o.location.as_ref().contains("/tails/")),
        "the tail went with it: {left:?}"
    );
    let _ = Arc::clone(&one.shared);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_itself_refuses_a_second_create_and_a_stale_swap() {
    let store = server(&fresh_prefix()).await;
    let bucket = &store.shared.bucket;
    let key = object_store::path::Path::from(format!("{}/probe", store.shared.prefix));
    let none = object_store::Attributes::new;
    let first = objects::create(bucket, &key, Bytes::from_static(b"1"), none()).await;
    let etag = first.unwrap().expect("created");
    let again = objects::create(bucket, &key, Bytes::from_static(b"2"), none()).await;
    assert_eq!(again, Ok(None), "If-None-Match: * refuses a second create");
    let stale = objects::swap(bucket, &key, "0123456789abcdef", Bytes::from_static(b"3")).await;
    assert_eq!(stale, Ok(None), "If-Match refuses another ETag");
    let swapped = objects::swap(bucket, &key, &etag, Bytes::from_static(b"4")).await;
    let newer = swapped.unwrap().expect("swapped with the right ETag");
    assert_ne!(newer, etag);
    let replay = objects::swap(bucket, &key, &etag, Bytes::from_static(b"5")).await;
    assert_eq!(replay, Ok(None), "the old ETag no longer fences in");
    let (content, _) = objects::fetch(bucket, &key).await.unwrap().unwrap();
    assert_eq!(&content[..], b"4");
}
