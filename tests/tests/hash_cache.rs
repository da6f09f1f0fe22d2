//! The client's cache of whole-file SHA-256s through the real binaries: a file put, compared
//! or downloaded whole is not read again while it is unchanged (`"hashed_from_cache"` in the
//! JSON results says so), any change to it leaves the cached hash unused, and a wrong or
//! damaged entry costs at most one failed upload, never a wrong file or a wrong refusal.

// Test code: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use e2e::{Server, Site, code, random_file, run, same_content, stderr, stdout};
use ftp::checkpoints::Store;
use ftp_proto::files::checkpoint::Checkpoint;
use sha2::Digest;

const PASSWORD: &str = "hasher-password";
const MIB: usize = 1 << 20;
/// Past the first checkpoint interval (16 MiB): smaller files are not worth a cache entry.
const SIZE: usize = 17 * MIB;

fn site() -> Site {
    let site = Site::new("");
    site.add_user("alice", PASSWORD, &[]);
    site
}

fn home(site: &Site) -> PathBuf {
    site.root().join("alice")
}

/// Runs `ftp --json ARGS…` as alice; returns the exit code, the one JSON result (or `Null`)
/// and stderr.
fn json(server: &Server, args: &[&str]) -> (i32, serde_json::Value, String) {
    let mut command = server.ftp("alice", PASSWORD);
    command.arg("--json").args(args);
    let output = run(command, None);
    let result = stdout(&output)
        .lines()
        .next()
        .map_or(serde_json::Value::Null, |line| {
            serde_json::from_str(line).expect("a JSON line")
        });
    (code(&output), result, stderr(&output))
}

/// `ftp --json put LOCAL REMOTE`.
fn put(server: &Server, local: &Path, remote: &str) -> (i32, serde_json::Value, String) {
    json(server, &["put", local.to_str().unwrap(), remote])
}

/// Where the test client keeps its lists.
fn lists(server: &Server) -> PathBuf {
    server.client_cache().join("ftp/checkpoints")
}

/// Replaces the cached hash of `local` with one of other contents, bound to the file as it is
/// now: a valid entry that lies.
fn plant_a_wrong_hash(server: &Server, local: &Path) {
    let file = std::fs::File::open(local).unwrap();
    let store = Store::for_file_in(lists(server), local, &file).unwrap();
    let len = file.metadata().unwrap().len();
    let lie = Checkpoint {
        offset: len,
        state: sha2::Sha256::new_with_prefix(b"other contents"),
    };
    store.keep_whole(&file, &lie);
    assert!(store.whole().is_some(), "the lie is in place");
}

#[test]
fn an_unchanged_file_is_hashed_once_for_every_later_put() {
    let site = site();
    let server = site.start();
    let local = site.dir.path().join("big.bin");
    random_file(&local, SIZE, 1);

    let (status, first, err) = put(&server, &local, "big.bin");
    assert_eq!(status, 0, "{err}");
    assert_eq!(first["result"], "uploaded");
    assert_eq!(first["hashed_from_cache"], false, "read to be sent");

    // The server has the same size: the comparison takes the hash from the cache.
    let (status, again, err) = put(&server, &local, "big.bin");
    assert_eq!(status, 0, "{err}");
    assert_eq!(again["result"], "identical");
    assert_eq!(again["hashed_from_cache"], true, "{again}");
    assert_eq!(again["sha256"], first["sha256"]);

    // A new remote name: the file is sent, and the digest declared at the end is the cached
    // one, which the server checks against what it received.
    let (status, copy, err) = put(&server, &local, "copy.bin");
    assert_eq!(status, 0, "{err}");
    assert_eq!(copy["result"], "uploaded");
    assert_eq!(copy["sent"], SIZE);
    assert_eq!(copy["hashed_from_cache"], true, "{copy}");
    assert!(same_content(&local, &home(&site).join("copy.bin")));

    // Rewritten with the very same bytes: its change time moved, so the file is read again.
    let bytes = std::fs::read(&local).unwrap();
    std::fs::write(&local, &bytes).unwrap();
    let (status, rewritten, err) = put(&server, &local, "big.bin");
    assert_eq!(status, 0, "{err}");
    assert_eq!(rewritten["result"], "identical");
    assert_eq!(rewritten["hashed_from_cache"], false, "{rewritten}");
    // ...and that reading is kept in its turn.
    let (_, once_more, _) = put(&server, &local, "big.bin");
    assert_eq!(once_more["hashed_from_cache"], true, "{once_more}");
}

#[test]
fn a_download_is_not_read_again_to_be_compared_or_put() {
    let site = site();
    let server = site.start();
    std::fs::create_dir_all(home(&site)).unwrap();
    let source = home(&site).join("data.bin");
    random_file(&source, SIZE, 2);
    let folder = site.dir.path().join("downloads");
    std::fs::create_dir_all(&folder).unwrap();
    let target = folder.join("data.bin");
    let target_arg = target.to_str().unwrap();

    let (status, got, err) = json(&server, &["get", "data.bin", target_arg]);
    assert_eq!(status, 0, "{err}");
    assert_eq!(got["result"], "downloaded");
    assert_eq!(got["hashed_from_cache"], false);
    assert!(same_content(&source, &target));

    let (status, again, err) = json(&server, &["get", "data.bin", target_arg]);
    assert_eq!(status, 0, "{err}");
    assert_eq!(again["result"], "identical");
    assert_eq!(again["hashed_from_cache"], true, "{again}");

    let (status, back, err) = put(&server, &target, "data.bin");
    assert_eq!(status, 0, "{err}");
    assert_eq!(back["result"], "identical");
    assert_eq!(back["hashed_from_cache"], true, "{back}");
}

#[test]
fn a_wrong_cached_hash_fails_one_upload_and_is_dropped() {
    let site = site();
    let server = site.start();
    let local = site.dir.path().join("big.bin");
    random_file(&local, SIZE, 3);
    let (status, _, err) = put(&server, &local, "big.bin");
    assert_eq!(status, 0, "{err}");

    plant_a_wrong_hash(&server, &local);
    let (status, result, err) = put(&server, &local, "other.bin");
    assert_eq!(
        status, 6,
        "the server refuses the wrong digest: {result} {err}"
    );
    assert!(err.contains("integrity"), "{err}");
    assert!(!home(&site).join("other.bin").exists(), "no wrong file");

    // The entry was dropped: the same command reads the file and succeeds.
    let (status, result, err) = put(&server, &local, "other.bin");
    assert_eq!(status, 0, "{err}");
    assert_eq!(result["hashed_from_cache"], false);
    assert!(same_content(&local, &home(&site).join("other.bin")));
}

#[test]
fn a_cached_hash_that_says_different_is_checked_by_reading() {
    let site = site();
    let server = site.start();
    let local = site.dir.path().join("big.bin");
    random_file(&local, SIZE, 4);
    let (status, _, err) = put(&server, &local, "big.bin");
    assert_eq!(status, 0, "{err}");

    // A lie would make the same file look different: it is read before any refusal.
    plant_a_wrong_hash(&server, &local);
    let (status, result, err) = put(&server, &local, "big.bin");
    assert_eq!(status, 0, "{err}");
    assert_eq!(result["result"], "identical");
    assert_eq!(result["hashed_from_cache"], false);

    // A damaged entry is ignored the same way.
    for entry in e2e::checkpoint_lists(&lists(&server)) {
        let mut bytes = std::fs::read(&entry).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&entry, bytes).unwrap();
    }
    let (status, result, err) = put(&server, &local, "big.bin");
    assert_eq!(status, 0, "{err}");
    assert_eq!(result["result"], "identical");
    assert_eq!(result["hashed_from_cache"], false);
}

#[test]
fn on_a_terminal_a_comparison_shows_that_it_is_checking() {
    let site = site();
    let server = site.start();
    let local = site.dir.path().join("big.bin");
    random_file(&local, 64 * MIB, 5);
    let (status, _, err) = put(&server, &local, "big.bin");
    assert_eq!(status, 0, "{err}");
    // Without the cache the comparison reads the whole file.
    std::fs::remove_dir_all(lists(&server)).unwrap();

    let mut command = server.ftp("alice", PASSWORD);
    command.arg("put").arg(&local).arg("big.bin");
    let output = run(e2e::on_a_terminal(&command), None);
    let screen = stdout(&output);
    assert_eq!(code(&output), 0, "{screen}{}", stderr(&output));
    assert!(screen.contains("identical content"), "{screen}");
    // The bar names what it does and the file (shortened to fit).
    assert!(screen.contains("checking "), "{screen}");
    assert!(screen.contains("big.bin ["), "{screen}");
}
