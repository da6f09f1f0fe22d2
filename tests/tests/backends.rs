//! The same user-visible behaviour on both stores, through the real binaries: put and get,
//! a resume after a killed client, a busy destination, the jail and whole trees, each run once
//! on the local disk and once on S3 (a real radosgw, [`radosgw_fixture`]); then what only a
//! shared bucket can do: two ftpd instances on one bucket, an upload whose server was killed
//! resumed through the other from the recorded part, and two clients on one path through the
//! two servers, one told "busy".

// Test code: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;
use std::sync::OnceLock;

use e2e::trees::{assert_same_tree, json_lines};
use e2e::{Server, Site, code, random_file, run, same_content, stderr, stdout, wait_until};

const PASSWORD: &str = "backends-password";
const MIB: usize = 1 << 20;

/// Where the homes are kept.
#[derive(Debug, Clone, Copy)]
enum Backend {
    Local,
    S3,
}

/// This process's bucket on the shared radosgw, and its credentials.
fn bucket() -> &'static (String, String, String, String) {
    static BUCKET: OnceLock<(String, String, String, String)> = OnceLock::new();
    BUCKET.get_or_init(|| {
        let rgw = radosgw_fixture::shared().expect("radosgw for the S3 backend's tests");
        let bucket = rgw.bucket("ftpd-e2e").expect("a bucket");
        // A fresh bucket's first requests take seconds: taken here, not inside a test's timing.
        let warm = rgw
            .curl()
            .args(["-o", "/dev/null", "-X", "PUT", "--data-binary", "warm"])
            .arg(format!("{}/{bucket}/warm", rgw.endpoint))
            .status()
            .expect("curl");
        assert!(warm.success(), "a first object in the bucket");
        (
            rgw.endpoint.clone(),
            bucket,
            rgw.access_key.clone(),
            rgw.secret_key.clone(),
        )
    })
}

/// A fresh key prefix: a store of its own in the shared bucket.
fn fresh_prefix() -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("e2e-{}-{n}", std::process::id())
}

/// A site on `backend` (on S3 under `prefix`) with user alice; the S3 credentials in a 0600
/// file beside the config, as an operator would keep them.
fn site_on(backend: Backend, prefix: &str) -> Site {
    let site = match backend {
        Backend::Local => Site::new(""),
        Backend::S3 => {
            let (endpoint, bucket, access, secret) = bucket();
            let dir = tempfile::tempdir().expect("a folder for the credentials");
            let credentials = dir.keep().join("s3-credentials.toml");
            std::fs::write(
                &credentials,
                format!("access_key_id = {access:?}\nsecret_access_key = {secret:?}\n"),
            )
            .unwrap();
            std::fs::set_permissions(&credentials, std::fs::Permissions::from_mode(0o600)).unwrap();
            Site::new(&format!(
                "storage = \"s3\"\n[s3]\nendpoint = {endpoint:?}\nbucket = {bucket:?}\n\
                 prefix = {prefix:?}\nregion = \"default\"\ncredentials_file = {credentials:?}\n"
            ))
        }
    };
    site.add_user("alice", PASSWORD, &[]);
    site
}

fn site(backend: Backend) -> Site {
    site_on(backend, &fresh_prefix())
}

/// `ftp --json ARGS…` as alice: the exit code, the JSON lines and stderr.
fn ftp_json(server: &Server, args: &[&str]) -> (i32, Vec<serde_json::Value>, String) {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let output = server.run_ftp("alice", PASSWORD, &all);
    (code(&output), json_lines(&output), stderr(&output))
}

/// Bytes the server holds of alice's unfinished uploads.
fn held(server: &Server) -> u64 {
    let (status, lines, err) = ftp_json(server, &["partials"]);
    assert_eq!(status, 0, "{err}");
    lines.iter().filter_map(|l| l["held"].as_u64()).sum()
}

/// Downloads `remote` through `server` into `local`.
fn get(server: &Server, remote: &str, local: &Path) {
    let output = server.run_ftp("alice", PASSWORD, &["get", remote, local.to_str().unwrap()]);
    assert_eq!(code(&output), 0, "get {remote}: {}", stderr(&output));
}

/// Starts `ftp put` in the background at `rate`, with no retries.
fn spawn_put(server: &Server, local: &Path, remote: &str, rate: &str) -> std::process::Child {
    let mut command = server.ftp("alice", PASSWORD);
    command
        .args(["put", "--limit-rate", rate, "--retries", "0"])
        .arg(local)
        .arg(remote)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command.spawn().expect("spawn ftp put")
}

fn put_and_get_are_byte_identical(backend: Backend) {
    let site = site(backend);
    let server = site.start();
    let sizes = [0, 1, 3 * MIB, 20 * MIB + 5];
    for (i, size) in sizes.iter().enumerate() {
        let local = site.dir.path().join(format!("f{i}.bin"));
        random_file(&local, *size, i as u64 + 10);
        let remote = format!("in/f{i}.bin");
        let output = server.run_ftp(
            "alice",
            PASSWORD,
            &["put", local.to_str().unwrap(), &remote],
        );
        assert_eq!(
            code(&output),
            0,
            "{backend:?} put {size}: {}",
            stderr(&output)
        );
        let back = site.dir.path().join(format!("back{i}.bin"));
        get(&server, &remote, &back);
        assert!(
            same_content(&local, &back),
            "{backend:?}: {size} bytes came back changed"
        );
        let (status, lines, err) = ftp_json(&server, &["stat", &remote]);
        assert_eq!(status, 0, "{err}");
        assert_eq!(lines[0]["size"].as_u64(), Some(*size as u64), "{lines:?}");
        assert_eq!(
            lines[0]["sha256"].as_str(),
            Some(e2e::sha256sum(&local).as_str()),
            "{backend:?}: stat's SHA-256"
        );
    }
    let again = server.run_ftp(
        "alice",
        PASSWORD,
        &[
            "put",
            site.dir.path().join("f1.bin").to_str().unwrap(),
            "in/f2.bin",
        ],
    );
    assert_eq!(
        code(&again),
        4,
        "no clobber without --force: {}",
        stderr(&again)
    );
    let listed = server.run_ftp("alice", PASSWORD, &["ls", "in"]);
    for i in 0..sizes.len() {
        assert!(
            stdout(&listed).contains(&format!("f{i}.bin")),
            "{}",
            stdout(&listed)
        );
    }
}

fn a_killed_client_resumes_where_it_stopped(backend: Backend) {
    let site = site(backend);
    let server = site.start();
    let local = site.dir.path().join("big.bin");
    let size = 24 * MIB;
    random_file(&local, size, 1);
    let mut client = spawn_put(&server, &local, "big.bin", "8M");
    // On S3 what is held is counted in parts (8 MiB): one is recorded once stored.
    wait_until("part of the upload held by the server", || {
        held(&server) >= 8 * MIB as u64
    });
    client.kill().unwrap();
    client.wait().unwrap();
    let (status, lines, err) = ftp_json(&server, &["put", local.to_str().unwrap()]);
    assert_eq!(status, 0, "{err}");
    let resumed = lines[0]["resumed_from"].as_u64().unwrap();
    assert!(resumed >= 8 * MIB as u64, "{backend:?}: {lines:?}");
    let back = site.dir.path().join("back.bin");
    get(&server, "big.bin", &back);
    assert!(same_content(&local, &back));
    assert_eq!(held(&server), 0, "nothing left unfinished");
}

/// A slow upload of one file through `slow_via` and another to the same path through
/// `other_via`: the second is told "busy" and the first lands whole (read back through
/// `other_via`).
fn one_busy_one_lands(dir: &Path, slow_via: &Server, other_via: &Server, what: &str) {
    let first = dir.join("first.bin");
    let second = dir.join("second.bin");
    // 8 s at 3 MB/s: a client's rate allowance builds while it waits for the server to be
    // ready (a cold bucket takes seconds), and it must not let the first finish before the
    // second has asked; nor may the second's wait of a second for a holder that might be gone.
    random_file(&first, 24 * MIB, 7);
    random_file(&second, 24 * MIB, 8);
    let mut slow = slow_via.ftp("alice", PASSWORD);
    slow.args(["put", "--limit-rate", "3M"])
        .arg(&first)
        .arg("shared.bin");
    let slow = std::thread::spawn(move || run(slow, None));
    slow_via.wait_for_log("receiving upload");
    let output = other_via.run_ftp(
        "alice",
        PASSWORD,
        &["put", second.to_str().unwrap(), "shared.bin"],
    );
    assert_eq!(code(&output), 4, "{what}: {}", stderr(&output));
    assert!(
        stderr(&output).contains("busy"),
        "{what}: {}",
        stderr(&output)
    );
    let output = slow.join().unwrap();
    assert_eq!(code(&output), 0, "{what}: {}", stderr(&output));
    let back = dir.join("back.bin");
    get(other_via, "shared.bin", &back);
    assert!(same_content(&first, &back), "{what}");
}

fn two_clients_on_one_path_one_is_busy(backend: Backend) {
    let site = site(backend);
    let server = site.start();
    one_busy_one_lands(site.dir.path(), &server, &server, &format!("{backend:?}"));
}

fn the_jail_holds(backend: Backend) {
    let site = site(backend);
    site.add_user("bob", PASSWORD, &[]);
    let server = site.start();
    let local = site.dir.path().join("secret.txt");
    std::fs::write(&local, b"alice only").unwrap();
    let output = server.run_ftp(
        "alice",
        PASSWORD,
        &["put", local.to_str().unwrap(), "secret.txt"],
    );
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    for path in [
        "../secret.txt",
        "../alice/secret.txt",
        "/../x",
        ".ftpd-internal",
        "a/.ftpd-internal/b",
    ] {
        let output = server.run_ftp("alice", PASSWORD, &["put", local.to_str().unwrap(), path]);
        assert_eq!(code(&output), 4, "{backend:?} {path}: {}", stderr(&output));
        let listed = server.run_ftp("alice", PASSWORD, &["ls", path]);
        assert_eq!(
            code(&listed),
            4,
            "{backend:?} ls {path}: {}",
            stderr(&listed)
        );
    }
    let bob = |args: &[&str]| server.run_ftp("bob", PASSWORD, args);
    let listed = bob(&["ls"]);
    assert_eq!(code(&listed), 0, "{}", stderr(&listed));
    assert!(!stdout(&listed).contains("secret"), "{}", stdout(&listed));
    let stolen = site.dir.path().join("stolen.txt");
    assert_eq!(
        code(&bob(&["get", "secret.txt", stolen.to_str().unwrap()])),
        4
    );
    assert_eq!(
        code(&bob(&[
            "get",
            "../alice/secret.txt",
            stolen.to_str().unwrap()
        ])),
        4
    );
    assert!(!stolen.exists());
    let mkdir = server.run_ftp("alice", PASSWORD, &["mkdir", "empty/inner"]);
    assert_eq!(code(&mkdir), 0, "{}", stderr(&mkdir));
    let listed = server.run_ftp("alice", PASSWORD, &["ls", "empty"]);
    assert!(
        stdout(&listed).contains("inner"),
        "an empty folder is kept: {}",
        stdout(&listed)
    );
    assert!(
        !stdout(&listed).contains(".ftpd-internal"),
        "{}",
        stdout(&listed)
    );
}

fn trees_go_up_and_down_and_are_moved_and_removed(backend: Backend) {
    let site = site(backend);
    let server = site.start();
    let tree = site.dir.path().join("tree");
    for (path, size) in [
        ("a.txt", 10),
        ("sub/b.bin", MIB + 3),
        ("sub/deep/c", 0),
        ("big.bin", 12 * MIB),
    ] {
        let at = tree.join(path);
        std::fs::create_dir_all(at.parent().unwrap()).unwrap();
        random_file(&at, size, size as u64);
    }
    std::fs::create_dir_all(tree.join("empty")).unwrap();
    let output = server.run_ftp(
        "alice",
        PASSWORD,
        &["put", "-r", tree.to_str().unwrap(), "up"],
    );
    assert_eq!(code(&output), 0, "{backend:?} put -r: {}", stderr(&output));
    let back = site.dir.path().join("back");
    let output = server.run_ftp(
        "alice",
        PASSWORD,
        &["get", "-r", "up", back.to_str().unwrap()],
    );
    assert_eq!(code(&output), 0, "{backend:?} get -r: {}", stderr(&output));
    assert_same_tree(&tree, &back);
    assert!(back.join("empty").is_dir(), "the empty folder came back");
    let output = server.run_ftp("alice", PASSWORD, &["mv", "up", "moved"]);
    assert_eq!(code(&output), 0, "{backend:?} mv: {}", stderr(&output));
    let again = site.dir.path().join("again");
    let output = server.run_ftp(
        "alice",
        PASSWORD,
        &["get", "-r", "moved", again.to_str().unwrap()],
    );
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_same_tree(&tree, &again);
    let output = server.run_ftp("alice", PASSWORD, &["rm", "-r", "moved"]);
    assert_eq!(code(&output), 0, "{backend:?} rm -r: {}", stderr(&output));
    let listed = server.run_ftp("alice", PASSWORD, &["ls"]);
    assert_eq!(code(&listed), 0, "{}", stderr(&listed));
    assert!(
        !stdout(&listed).contains("moved") && !stdout(&listed).contains("up"),
        "{}",
        stdout(&listed)
    );
}

#[test]
fn put_and_get_are_byte_identical_locally() {
    put_and_get_are_byte_identical(Backend::Local);
}

#[test]
fn put_and_get_are_byte_identical_on_s3() {
    put_and_get_are_byte_identical(Backend::S3);
}

#[test]
fn a_killed_client_resumes_locally() {
    a_killed_client_resumes_where_it_stopped(Backend::Local);
}

#[test]
fn a_killed_client_resumes_on_s3() {
    a_killed_client_resumes_where_it_stopped(Backend::S3);
}

#[test]
fn one_path_two_clients_busy_locally() {
    two_clients_on_one_path_one_is_busy(Backend::Local);
}

#[test]
fn one_path_two_clients_busy_on_s3() {
    two_clients_on_one_path_one_is_busy(Backend::S3);
}

#[test]
fn the_jail_holds_locally() {
    the_jail_holds(Backend::Local);
}

#[test]
fn the_jail_holds_on_s3() {
    the_jail_holds(Backend::S3);
}

#[test]
fn trees_locally() {
    trees_go_up_and_down_and_are_moved_and_removed(Backend::Local);
}

#[test]
fn trees_on_s3() {
    trees_go_up_and_down_and_are_moved_and_removed(Backend::S3);
}

/// Two servers on one bucket and prefix, with the same key and users.
fn two_servers() -> (Site, Server, Site, Server) {
    let prefix = fresh_prefix();
    let one = site_on(Backend::S3, &prefix);
    let first = one.start();
    let two = site_on(Backend::S3, &prefix);
    std::fs::copy(one.key_file(), two.key_file()).unwrap();
    std::fs::copy(one.users_file(), two.users_file()).unwrap();
    let second = two.start();
    (one, first, two, second)
}

#[test]
fn an_upload_whose_server_was_killed_resumes_through_the_other_byte_identical() {
    let (one, mut first, _two, second) = two_servers();
    let local = one.dir.path().join("big.bin");
    let size = 40 * MIB + 17;
    random_file(&local, size, 21);
    let mut client = spawn_put(&first, &local, "deep/big.bin", "8M");
    wait_until("a part recorded, as the other server sees it", || {
        held(&second) >= 8 * MIB as u64
    });
    first.kill();
    client.wait().unwrap();
    let (status, lines, err) = ftp_json(&second, &["put", local.to_str().unwrap(), "deep/big.bin"]);
    assert_eq!(status, 0, "{err}");
    let resumed = lines[0]["resumed_from"].as_u64().unwrap();
    assert!(resumed >= 8 * MIB as u64, "{lines:?}");
    assert_eq!(
        resumed % (8 * MIB as u64),
        0,
        "from a part boundary: {lines:?}"
    );
    let back = one.dir.path().join("back.bin");
    get(&second, "deep/big.bin", &back);
    assert!(same_content(&local, &back), "byte-identical");
    assert_eq!(held(&second), 0);
}

#[test]
fn a_server_killed_again_and_again_loses_nothing() {
    let prefix = fresh_prefix();
    let one = site_on(Backend::S3, &prefix);
    let local = one.dir.path().join("big.bin");
    let size = 48 * MIB + 3;
    random_file(&local, size, 22);
    let mut last_held = 0;
    // Killed at whatever point the upload has reached, three times; each restart resumes.
    for round in 0..3 {
        let mut server = one.start();
        let mut client = spawn_put(&server, &local, "big.bin", "16M");
        let target = last_held + 8 * MIB as u64;
        wait_until("another part recorded", || held(&server) >= target);
        server.kill();
        client.wait().unwrap();
        drop(server);
        let server = one.start();
        let now = held(&server);
        assert!(now >= target, "round {round}: held {now}, wanted {target}");
        last_held = now;
    }
    let server = one.start();
    let (status, lines, err) = ftp_json(&server, &["put", local.to_str().unwrap()]);
    assert_eq!(status, 0, "{err}");
    assert_eq!(
        lines[0]["resumed_from"].as_u64(),
        Some(last_held),
        "{lines:?}"
    );
    let back = one.dir.path().join("back.bin");
    get(&server, "big.bin", &back);
    assert!(same_content(&local, &back));
}

#[test]
fn two_clients_on_one_path_through_two_servers_one_is_busy() {
    let (one, first, _two, second) = two_servers();
    one_busy_one_lands(one.dir.path(), &first, &second, "two servers");
}
