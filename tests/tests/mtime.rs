//! Modification times through the real binaries: `put` gives the stored file the local file's
//! time (to the nanosecond), whole, chunked and resumed; `get` gives the local copy the
//! server's (to the nanosecond too); `ls` shows the time put; identical files are left alone.

// Test code: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use e2e::{Site, code, random_file, stderr, stdout, wait_until};

const PASSWORD: &str = "uploader-password";
const MIB: usize = 1 << 20;

/// An old time with nanoseconds: 2001-09-09T01:46:40.123456789Z.
const OLD_SECS: i64 = 1_000_000_000;
const OLD_NANOS: u32 = 123_456_789;

fn site() -> Site {
    let site = Site::new("");
    site.add_user("alice", PASSWORD, &[]);
    site
}

fn home(site: &Site) -> PathBuf {
    site.root().join("alice")
}

/// Sets the modification time of `path` to [`OLD_SECS`].[`OLD_NANOS`].
fn make_old(path: &Path) {
    let old = UNIX_EPOCH + Duration::new(OLD_SECS as u64, OLD_NANOS);
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(old)
        .unwrap();
}

/// The modification time of `path`: seconds and nanoseconds.
fn mtime(path: &Path) -> (i64, i64) {
    let meta = std::fs::metadata(path).unwrap();
    (meta.mtime(), meta.mtime_nsec())
}

/// Runs `ftp --json ARGS…`, asserting success; returns the parsed JSON lines.
fn ftp_json(server: &e2e::Server, args: &[&str]) -> Vec<serde_json::Value> {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let output = server.run_ftp("alice", PASSWORD, &all);
    assert_eq!(code(&output), 0, "{args:?}: {}", stderr(&output));
    stdout(&output)
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect()
}

#[test]
fn put_keeps_the_local_time_for_small_and_large_files_and_ls_shows_it() {
    let site = site();
    let server = site.start();
    // A small file goes whole (at most 256 KiB), a large one in chunks.
    for (name, size) in [("small.bin", 1000), ("large.bin", 3 * MIB)] {
        let local = site.dir.path().join(name);
        random_file(&local, size, 3);
        make_old(&local);
        let json = ftp_json(&server, &["put", local.to_str().unwrap()]);
        assert_eq!(json[0]["result"], "uploaded", "{json:?}");
        assert_eq!(
            mtime(&home(&site).join(name)),
            (OLD_SECS, i64::from(OLD_NANOS)),
            "{name}"
        );
        let listing = ftp_json(&server, &["ls", name]);
        let entry = &listing[0]["entries"][0];
        assert_eq!(entry["mtime"], OLD_SECS, "{listing:?}");
        assert_eq!(entry["modified"], "2001-09-09T01:46:40Z", "{listing:?}");
    }
}

#[test]
fn a_resumed_upload_keeps_the_local_time() {
    let site = site();
    let server = site.start();
    let local = site.dir.path().join("big.bin");
    random_file(&local, 8 * MIB, 1);
    make_old(&local);
    let mut client = server.ftp("alice", PASSWORD);
    client
        .args(["put", "--limit-rate", "2M", "--retries", "0"])
        .arg(&local)
        .arg("big.bin")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut client = client.spawn().unwrap();
    wait_until("part of the upload on the server", || {
        e2e::partial_bytes(&site.root()) >= MIB as u64
    });
    client.kill().unwrap();
    client.wait().unwrap();

    let json = ftp_json(&server, &["put", local.to_str().unwrap()]);
    assert!(json[0]["resumed_from"].as_u64().unwrap() > 0, "{json:?}");
    assert_eq!(
        mtime(&home(&site).join("big.bin")),
        (OLD_SECS, i64::from(OLD_NANOS))
    );
}

#[test]
fn get_gives_the_local_copy_the_servers_time_and_identical_leaves_it_alone() {
    let site = site();
    let server = site.start();
    std::fs::create_dir_all(home(&site)).unwrap();
    for (name, size) in [("small.bin", 1000), ("large.bin", 3 * MIB)] {
        let stored = home(&site).join(name);
        random_file(&stored, size, 5);
        make_old(&stored);
        let local = site.dir.path().join(format!("got-{name}"));
        let json = ftp_json(&server, &["get", name, local.to_str().unwrap()]);
        assert_eq!(json[0]["result"], "downloaded", "{json:?}");
        assert_eq!(mtime(&local), (OLD_SECS, i64::from(OLD_NANOS)), "{name}");

        // Identical content: the local file, and its time, stay as they are.
        let later = SystemTime::now() - Duration::from_secs(60);
        std::fs::File::options()
            .write(true)
            .open(&local)
            .unwrap()
            .set_modified(later)
            .unwrap();
        let before = mtime(&local);
        let json = ftp_json(&server, &["get", name, local.to_str().unwrap()]);
        assert_eq!(json[0]["result"], "identical", "{json:?}");
        assert_eq!(mtime(&local), before, "{name}");
    }
}

#[test]
fn an_identical_put_leaves_the_stored_file_alone() {
    let site = site();
    let server = site.start();
    let local = site.dir.path().join("same.bin");
    random_file(&local, 1000, 9);
    let json = ftp_json(&server, &["put", local.to_str().unwrap()]);
    assert_eq!(json[0]["result"], "uploaded", "{json:?}");
    let stored = home(&site).join("same.bin");
    let before = mtime(&stored);
    make_old(&local);
    let json = ftp_json(&server, &["put", local.to_str().unwrap()]);
    assert_eq!(json[0]["result"], "identical", "{json:?}");
    assert_eq!(mtime(&stored), before);
}
