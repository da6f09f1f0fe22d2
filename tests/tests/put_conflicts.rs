//! `ftp put` against what happens around an upload: a file created at the destination while
//! it is in flight, another user's upload to a shared folder, many uploads in flight against
//! the partials limit, a full disk (a small tmpfs, when this test may mount one).

// Test code: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use e2e::{Server, Site, code, random_file, run, same_content, stderr, stdout, wait_until};

const PASSWORD: &str = "uploader-password";
const MIB: usize = 1 << 20;

/// Starts `ftp put --limit-rate RATE LOCAL REMOTE` as `user`, its output captured.
fn slow_put(server: &Server, user: &str, local: &Path, remote: &str, rate: &str) -> Child {
    let mut command = server.ftp(user, PASSWORD);
    command
        .args(["put", "--retries", "0", "--limit-rate", rate])
        .arg(local)
        .arg(remote)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command.spawn().expect("spawn ftp put")
}

#[test]
fn a_file_created_at_the_destination_during_an_upload_is_not_replaced() {
    let site = Site::new("");
    site.add_user("alice", PASSWORD, &[]);
    let server = site.start();
    let local = site.dir.path().join("big.bin");
    random_file(&local, 8 * MIB, 1);
    let destination = site.root().join("alice/big.bin");

    let client = slow_put(&server, "alice", &local, "big.bin", "4M");
    wait_until("part of the upload on the server", || {
        e2e::partial_bytes(&site.root()) >= MIB as u64
    });
    std::fs::write(&destination, b"planted while the upload ran").unwrap();
    let output = e2e::output_of(client, "ftp put");
    let err = stderr(&output);
    assert_eq!(code(&output), 4, "{err}");
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(
        std::fs::read(&destination).unwrap(),
        b"planted while the upload ran",
        "the planted file is untouched"
    );

    // What was received is kept: --force finishes it without sending it again.
    let output = server.run_ftp(
        "alice",
        PASSWORD,
        &["--json", "put", "--force", local.to_str().unwrap()],
    );
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_str(stdout(&output).trim()).unwrap();
    assert_eq!(json["sent"], 0, "{json}");
    assert!(same_content(&local, &destination));
    assert!(e2e::partials(&site.root()).is_empty());
}

#[test]
fn a_busy_refusal_names_the_path_as_the_asking_user_sees_it() {
    let site = Site::new("");
    site.add_user("alice", PASSWORD, &[]);
    site.add_user("carol", PASSWORD, &["--home", "alice/shared"]);
    let server = site.start();
    let first = site.dir.path().join("first.bin");
    let second = site.dir.path().join("second.bin");
    random_file(&first, 8 * MIB, 2);
    random_file(&second, 8 * MIB, 3);

    // Slow enough to outlast carol's wait (a second) for a holder that might be gone.
    let alice = slow_put(&server, "alice", &first, "shared/both.bin", "3M");
    server.wait_for_log("receiving upload");
    let output = server.run_ftp(
        "carol",
        PASSWORD,
        &["put", second.to_str().unwrap(), "both.bin"],
    );
    let err = stderr(&output);
    assert_eq!(code(&output), 4, "{err}");
    assert!(err.contains("/both.bin is busy"), "{err}");
    assert!(
        !err.contains("alice"),
        "another user's home is not named: {err}"
    );

    let output = e2e::output_of(alice, "ftp put");
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(same_content(
        &first,
        &site.root().join("alice/shared/both.bin")
    ));
}

#[test]
fn uploads_in_flight_do_not_count_against_the_partials_limit() {
    let site = Site::new("max_partials_per_user = 2\n");
    site.add_user("alice", PASSWORD, &[]);
    let server = site.start();
    let mut clients = Vec::new();
    for i in 0..4 {
        let local = site.dir.path().join(format!("c{i}.bin"));
        random_file(&local, 4 * MIB, 10 + i);
        let mut client = slow_put(&server, "alice", &local, &format!("c{i}.bin"), "256K");
        // Each is being received (past the limit's check) before the next starts.
        let receiving = format!("path=/c{i}.bin");
        let mut ended = None;
        wait_until("the upload to be received or refused", || {
            ended = client.try_wait().unwrap();
            ended.is_some()
                || server
                    .log()
                    .lines()
                    .any(|line| line.contains("receiving upload") && line.contains(&receiving))
        });
        if ended.is_some() {
            let output = e2e::output_of(client, "ftp put");
            panic!("upload {i} ended: {}", stderr(&output));
        }
        clients.push(client);
    }
    assert_eq!(e2e::partials(&site.root()).len(), 4);
    for mut client in clients {
        client.kill().unwrap();
        client.wait().unwrap();
    }
}

/// A tmpfs mounted on a folder, unmounted when dropped.
struct Mount(PathBuf);

impl Mount {
    /// Mounts a tmpfs of `options` on `folder`; `None` (with the reason printed) when this
    /// process may not mount.
    fn tmpfs(folder: &Path, options: &str) -> Option<Mount> {
        std::fs::create_dir_all(folder).unwrap();
        let output = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(folder)
            .output();
        match output {
            Ok(output) if output.status.success() => Some(Mount(folder.to_path_buf())),
            Ok(output) => {
                eprintln!("skipped: cannot mount a tmpfs: {}", stderr(&output).trim());
                None
            }
            Err(error) => {
                eprintln!("skipped: cannot run mount: {error}");
                None
            }
        }
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn a_full_disk_is_reported_as_such_and_a_failed_batch_leaves_no_partials() {
    let site = Site::new("");
    site.add_user("alice", PASSWORD, &[]);
    let Some(_mount) = Mount::tmpfs(&site.root(), "size=2m,nr_inodes=64") else {
        return;
    };
    let server = site.start();
    let small_files = |name: &str, count: u64, size: usize| -> Vec<PathBuf> {
        let folder = site.dir.path().join(name);
        std::fs::create_dir(&folder).unwrap();
        (0..count)
            .map(|i| {
                let path = folder.join(format!("s{i:03}"));
                random_file(&path, size, i);
                path
            })
            .collect()
    };
    let full = |output: &std::process::Output, what: &str| {
        let err = stderr(output);
        assert_eq!(code(output), 1, "{what}: {err}");
        // Refused up front by the disk guard when the size tells, else full while writing.
        assert!(
            err.contains("the server's disk is full") || err.contains("the server's disk has"),
            "{what}: {err}"
        );
        assert!(!err.contains("server error"), "{what}: {err}");
        assert!(
            e2e::partials(&site.root()).is_empty(),
            "{what}: no partials left behind"
        );
    };

    // Out of space in a batch of small files.
    let mut command = server.ftp("alice", PASSWORD);
    command
        .args(["put", "--to", "d"])
        .args(small_files("data", 20, 200 << 10));
    full(&run(command, None), "small files, out of space");
    std::fs::remove_dir_all(site.root().join("alice/d")).unwrap();

    // Out of inodes in a batch of small files.
    let mut command = server.ftp("alice", PASSWORD);
    command
        .args(["put", "--to", "e"])
        .args(small_files("empty", 100, 0));
    full(&run(command, None), "small files, out of inodes");

    // Out of inodes for the partial of a file sent in chunks.
    let local = site.dir.path().join("big.bin");
    random_file(&local, MIB, 1);
    let output = server.run_ftp("alice", PASSWORD, &["put", local.to_str().unwrap()]);
    full(&output, "chunks, out of inodes");
    std::fs::remove_dir_all(site.root().join("alice/e")).unwrap();

    // Too big for the space left, for a file sent in chunks: refused up front by the disk
    // guard (running out while writing, with the partial kept, is disk_full.rs's test).
    random_file(&local, 3 * MIB, 2);
    let output = server.run_ftp("alice", PASSWORD, &["put", local.to_str().unwrap()]);
    let err = stderr(&output);
    assert_eq!(code(&output), 1, "{err}");
    assert!(err.contains("the server's disk has"), "{err}");
}

/// The inode and modification time of `path`: what shows a file was left untouched.
fn untouched_mark(path: &Path) -> (u64, std::time::SystemTime) {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).unwrap();
    (meta.ino(), meta.modified().unwrap())
}

/// Runs `ftp --json put ARGS…` as alice; returns exit code, JSON lines and stderr.
fn put_json(server: &Server, args: &[&str]) -> (i32, Vec<serde_json::Value>, String) {
    let mut all = vec!["--json", "put"];
    all.extend_from_slice(args);
    let output = server.run_ftp("alice", PASSWORD, &all);
    let objects = stdout(&output)
        .lines()
        .map(|line| serde_json::from_str(line).expect("JSON line"))
        .collect();
    (code(&output), objects, stderr(&output))
}

#[test]
fn force_onto_identical_content_sends_nothing_and_leaves_the_file_alone() {
    let site = Site::new("");
    site.add_user("alice", PASSWORD, &[]);
    let server = site.start();
    let local = site.dir.path().join("big.bin");
    random_file(&local, 3 * MIB, 31);
    let path = local.to_str().unwrap();
    let (status, _, err) = put_json(&server, &[path, "backups/big.bin"]);
    assert_eq!(status, 0, "{err}");
    let destination = site.root().join("alice/backups/big.bin");
    let before = untouched_mark(&destination);

    let (status, json, err) = put_json(&server, &["--force", path, "backups/big.bin"]);
    assert_eq!(status, 0, "{err}");
    assert_eq!(json[0]["result"], "identical", "{json:?}");
    assert_eq!(json[0]["sent"], 0, "{json:?}");
    assert_eq!(
        untouched_mark(&destination),
        before,
        "the file was not rewritten"
    );
    assert!(same_content(&local, &destination));

    // Small files, which go whole: identical ones are left alone with --force too.
    let (a, b) = (site.dir.path().join("a.txt"), site.dir.path().join("b.txt"));
    random_file(&a, 100, 32);
    random_file(&b, 200, 33);
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let (status, _, err) = put_json(&server, &[a, b, "--to", "small"]);
    assert_eq!(status, 0, "{err}");
    let small = site.root().join("alice/small");
    let before = [
        untouched_mark(&small.join("a.txt")),
        untouched_mark(&small.join("b.txt")),
    ];
    let (status, json, err) = put_json(&server, &["--force", a, b, "--to", "small"]);
    assert_eq!(status, 0, "{err}");
    assert_eq!(json[0]["result"], "identical", "{json:?}");
    assert_eq!(json[1]["result"], "identical", "{json:?}");
    assert_eq!(json[0]["sent"], 0, "{json:?}");
    let after = [
        untouched_mark(&small.join("a.txt")),
        untouched_mark(&small.join("b.txt")),
    ];
    assert_eq!(after, before, "the small files were not rewritten");
}

#[test]
fn force_onto_different_content_of_the_same_size_replaces_it() {
    let site = Site::new("");
    site.add_user("alice", PASSWORD, &[]);
    let server = site.start();
    let local = site.dir.path().join("big.bin");
    random_file(&local, 3 * MIB, 34);
    let destination = site.root().join("alice/backups/big.bin");
    std::fs::create_dir_all(destination.parent().unwrap()).unwrap();
    random_file(&destination, 3 * MIB, 35);
    let path = local.to_str().unwrap();

    let (status, _, err) = put_json(&server, &[path, "backups/big.bin"]);
    assert_eq!(status, 4, "without --force: {err}");
    assert!(err.contains("already exists"), "{err}");

    let (status, json, err) = put_json(&server, &["--force", path, "backups/big.bin"]);
    assert_eq!(status, 0, "{err}");
    assert_eq!(json[0]["result"], "uploaded", "{json:?}");
    assert_eq!(json[0]["sent"], 3 * MIB, "{json:?}");
    assert_eq!(json[0]["sha256"], e2e::sha256sum(&local));
    assert!(same_content(&local, &destination));
    assert!(e2e::partials(&site.root()).is_empty());

    // Small files too: the one that differs is replaced, the identical one left alone.
    let (a, b) = (site.dir.path().join("a.txt"), site.dir.path().join("b.txt"));
    random_file(&a, 100, 36);
    random_file(&b, 200, 37);
    let small = site.root().join("alice/small");
    std::fs::create_dir_all(&small).unwrap();
    random_file(&small.join("a.txt"), 100, 38);
    std::fs::copy(&b, small.join("b.txt")).unwrap();
    let before_b = untouched_mark(&small.join("b.txt"));
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let (status, json, err) = put_json(&server, &["--force", a, b, "--to", "small"]);
    assert_eq!(status, 0, "{err}");
    assert_eq!(json[0]["result"], "uploaded", "{json:?}");
    assert_eq!(json[1]["result"], "identical", "{json:?}");
    assert!(same_content(Path::new(a), &small.join("a.txt")));
    assert_eq!(untouched_mark(&small.join("b.txt")), before_b);
}
