//! `ftp put` through the real binaries: sizes, interruptions of every kind, integrity, busy
//! destinations and concurrency.

// Test code: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Stdio;

use e2e::proxies::StallProxy;
use e2e::{
    CutProxy, Server, Site, code, random_file, run, same_content, stderr, stdout, wait_until,
};

const PASSWORD: &str = "uploader-password";
const MIB: usize = 1 << 20;

fn site() -> Site {
    let site = Site::new("");
    site.add_user("alice", PASSWORD, &[]);
    site
}

fn home(site: &Site) -> PathBuf {
    site.root().join("alice")
}

/// Runs `ftp --json put ARGS…` and returns the exit code and the parsed JSON lines.
fn put_json(server: &Server, args: &[&str]) -> (i32, Vec<serde_json::Value>, String) {
    let (status, objects, err) = put_json_all(server, args);
    let files = objects
        .into_iter()
        .filter(|line| line["op"] == "put" && line["result"] != "failed")
        .collect();
    (status, files, err)
}

/// Like [`put_json`], with every line: the `failed` lines and the summary line too.
fn put_json_all(server: &Server, args: &[&str]) -> (i32, Vec<serde_json::Value>, String) {
    let mut all = vec!["--json", "put"];
    all.extend_from_slice(args);
    let output = server.run_ftp("alice", PASSWORD, &all);
    let objects = stdout(&output)
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect();
    (code(&output), objects, stderr(&output))
}

/// Starts `ftp put` in the background (to be killed); its output is discarded.
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

#[test]
fn files_of_every_boundary_size_land_byte_identical() {
    let site = site();
    let server = site.start();
    let sizes = [0, 1, MIB - 1, MIB, MIB + 1, 100 * MIB];
    for (seed, size) in sizes.into_iter().enumerate() {
        let local = site.dir.path().join(format!("f{size}.bin"));
        random_file(&local, size, seed as u64);
        let (status, json, err) = put_json(&server, &[local.to_str().unwrap()]);
        assert_eq!(status, 0, "{size} bytes: {err}");
        let result = &json[0];
        assert_eq!(result["op"], "put");
        assert_eq!(result["size"], size);
        assert_eq!(result["sent"], size);
        assert_eq!(result["resumed_from"], 0);
        assert_eq!(result["remote"], format!("/f{size}.bin"));
        assert_eq!(result["sha256"].as_str().unwrap().len(), 64);
        assert!(
            same_content(&local, &home(&site).join(format!("f{size}.bin"))),
            "{size} bytes differ"
        );
    }
    assert!(
        e2e::partials(&site.root()).is_empty(),
        "no partial left behind"
    );
    // ls hides the internal folder and sees every file.
    let listing = stdout(&server.run_ftp("alice", PASSWORD, &["ls"]));
    assert_eq!(listing.lines().count(), sizes.len(), "{listing}");
}

#[test]
fn a_killed_client_resumes_where_it_stopped() {
    let site = site();
    let server = site.start();
    let local = site.dir.path().join("big.bin");
    let size = 8 * MIB;
    random_file(&local, size, 1);
    let final_path = home(&site).join("big.bin");

    let mut client = spawn_put(&server, &local, "big.bin", "2M");
    wait_until("part of the upload on the server", || {
        e2e::partial_bytes(&site.root()) >= MIB as u64
    });
    client.kill().unwrap();
    client.wait().unwrap();
    assert!(
        !final_path.exists(),
        "nothing under the final name after a kill"
    );

    let (status, json, err) = put_json(&server, &[local.to_str().unwrap()]);
    assert_eq!(status, 0, "{err}");
    let resumed = json[0]["resumed_from"].as_u64().unwrap();
    let sent = json[0]["sent"].as_u64().unwrap();
    assert!(resumed > 0, "{json:?}");
    assert!(sent < size as u64, "{json:?}");
    assert_eq!(resumed + sent, size as u64);
    assert!(same_content(&local, &final_path));
}

#[test]
fn ctrl_c_stops_an_upload_cleanly_and_the_next_put_resumes() {
    let site = site();
    let server = site.start();
    let local = site.dir.path().join("big.bin");
    let size = 8 * MIB;
    random_file(&local, size, 2);
    let final_path = home(&site).join("big.bin");

    let mut command = server.ftp("alice", PASSWORD);
    command
        .args(["--json", "put", "--limit-rate", "2M", "--retries", "0"])
        .arg(&local)
        .arg("big.bin")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let client = command.spawn().unwrap();
    wait_until("part of the upload on the server", || {
        e2e::partial_bytes(&site.root()) >= MIB as u64
    });
    e2e::signal(client.id(), "INT");
    let output = e2e::output_of(client, "ftp put");
    let err = stderr(&output);
    assert_eq!(code(&output), 130, "{err}");
    assert!(
        err.contains("interrupted: ")
            && err.contains(
                "sent to /big.bin, which keeps what it received; run the same command to resume"
            ),
        "{err}"
    );
    assert!(stdout(&output).is_empty(), "no JSON for an unfinished put");
    assert!(!final_path.exists(), "nothing under the final name");

    let (status, json, err) = put_json(&server, &[local.to_str().unwrap()]);
    assert_eq!(status, 0, "{err}");
    assert!(json[0]["resumed_from"].as_u64().unwrap() > 0, "{json:?}");
    assert!(same_content(&local, &final_path));
}

#[test]
fn a_killed_server_is_resumed_after_restart() {
    let site = site();
    let mut server = site.start();
    let local = site.dir.path().join("big.bin");
    let size = 8 * MIB;
    random_file(&local, size, 2);

    let mut client = spawn_put(&server, &local, "deep/big.bin", "2M");
    wait_until("part of the upload on the server", || {
        e2e::partial_bytes(&site.root()) >= MIB as u64
    });
    server.kill();
    client.wait().unwrap();
    assert!(!home(&site).join("deep/big.bin").exists());

    let server = site.start();
    let (status, json, err) = put_json(&server, &[local.to_str().unwrap(), "deep/big.bin"]);
    assert_eq!(status, 0, "{err}");
    assert!(json[0]["resumed_from"].as_u64().unwrap() > 0, "{json:?}");
    assert!(same_content(&local, &home(&site).join("deep/big.bin")));
}

#[test]
fn retries_survive_two_cut_connections() {
    let site = site();
    let server = site.start();
    let local = site.dir.path().join("big.bin");
    let size = 6 * MIB;
    random_file(&local, size, 3);
    // Each of the first two connections is cut after 2.5 MiB from the client.
    let proxy = CutProxy::start(server.address, 5 * MIB as u64 / 2, 2);
    let mut command = server.ftp_via(proxy.address, "alice", PASSWORD);
    command
        .args(["--json", "put", "--retries", "3"])
        .arg(&local);
    let output = run(command, None);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(proxy.cuts(), 2, "both cuts happened");
    let json: serde_json::Value = serde_json::from_str(stdout(&output).trim()).unwrap();
    assert_eq!(json["resumed_from"], 0);
    assert!(json["sent"].as_u64().unwrap() >= size as u64);
    assert!(
        stderr(&output).contains("reconnecting"),
        "{}",
        stderr(&output)
    );
    assert!(same_content(&local, &home(&site).join("big.bin")));
}

#[test]
fn a_stalled_link_times_out_and_the_retry_resumes() {
    let site = site();
    let server = site.start();
    let local = site.dir.path().join("big.bin");
    // Far more than the socket buffers on both sides of the proxy hold, so the sends block.
    let size = 96 * MIB;
    random_file(&local, size, 6);
    // The first connection stops forwarding after 4 MiB but keeps its sockets open.
    let proxy = StallProxy::start(server.address, 4 * MIB as u64);
    let mut command = server.ftp_via(proxy.address, "alice", PASSWORD);
    command
        .args(["--json", "--timeout", "2s", "put", "--retries", "2"])
        .arg(&local);
    let output = run(command, None);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(proxy.stalled(), "the link stalled");
    let err = stderr(&output);
    assert!(
        err.contains("did not finish within 2s") && err.contains("reconnecting"),
        "{err}"
    );
    let json: serde_json::Value = serde_json::from_str(stdout(&output).trim()).unwrap();
    assert_eq!(json["resumed_from"], 0);
    assert!(same_content(&local, &home(&site).join("big.bin")));
}

#[test]
fn a_rewritten_local_file_lands_as_the_new_content_never_a_mix() {
    let site = site();
    let server = site.start();
    let local = site.dir.path().join("doc.bin");
    let size = 8 * MIB;
    random_file(&local, size, 4);
    let mut client = spawn_put(&server, &local, "doc.bin", "2M");
    wait_until("part of the upload on the server", || {
        e2e::partial_bytes(&site.root()) >= MIB as u64
    });
    client.kill().unwrap();
    client.wait().unwrap();

    // Same size, new content, new modification time.
    random_file(&local, size, 40);
    let (status, json, err) = put_json(&server, &[local.to_str().unwrap()]);
    assert_eq!(status, 0, "{err}");
    assert_eq!(json[0]["resumed_from"], 0, "a changed file starts afresh");
    assert!(same_content(&local, &home(&site).join("doc.bin")));
}

#[test]
fn a_rewrite_that_keeps_the_timestamp_is_caught_by_the_checksum() {
    let site = site();
    let server = site.start();
    let local = site.dir.path().join("doc.bin");
    let size = 8 * MIB;
    random_file(&local, size, 5);
    let stamp = std::fs::metadata(&local).unwrap().modified().unwrap();
    let mut client = spawn_put(&server, &local, "doc.bin", "2M");
    wait_until("part of the upload on the server", || {
        e2e::partial_bytes(&site.root()) >= MIB as u64
    });
    client.kill().unwrap();
    client.wait().unwrap();

    random_file(&local, size, 50);
    std::fs::File::options()
        .write(true)
        .open(&local)
        .unwrap()
        .set_modified(stamp)
        .unwrap();
    let (status, _, err) = put_json(&server, &[local.to_str().unwrap()]);
    assert_eq!(status, 6, "a mix of old and new must fail the check: {err}");
    assert!(
        !home(&site).join("doc.bin").exists(),
        "nothing under the final name"
    );

    let (status, json, err) = put_json(&server, &[local.to_str().unwrap()]);
    assert_eq!(status, 0, "{err}");
    assert_eq!(json[0]["resumed_from"], 0, "the bad partial was discarded");
    assert!(same_content(&local, &home(&site).join("doc.bin")));
}

/// Where the server keeps partials and their checkpoint lists.
fn partials_folder(site: &Site) -> PathBuf {
    site.root().join(".ftpd-internal/partials")
}

/// Where the test client keeps its checkpoint lists.
fn client_lists(server: &Server) -> PathBuf {
    server.client_cache().join("ftp/checkpoints")
}

/// Starts a 40 MiB upload and kills the client once `at_least` bytes are on the server and
/// the server has sealed its checkpoints for them.
fn interrupted_upload(site: &Site, server: &Server, local: &Path, remote: &str, at_least: u64) {
    random_file(local, 40 * MIB, 7);
    let mut client = spawn_put(server, local, remote, "20M");
    wait_until("part of the upload on the server", || {
        e2e::partial_bytes(&site.root()) >= at_least
    });
    client.kill().unwrap();
    client.wait().unwrap();
    wait_until("the server's sealed checkpoint list", || {
        !e2e::checkpoint_lists(&partials_folder(site)).is_empty()
    });
}

#[test]
fn a_resume_restores_saved_hash_states_instead_of_rereading() {
    let site = site();
    let server = site.start();
    let local = site.dir.path().join("big.bin");
    interrupted_upload(&site, &server, &local, "big.bin", 34 * MIB as u64);
    assert_eq!(
        e2e::checkpoint_lists(&client_lists(&server)).len(),
        1,
        "the client saved its states as it read"
    );

    let (status, json, err) = put_json(&server, &[local.to_str().unwrap()]);
    assert_eq!(status, 0, "{err}");
    let offset = json[0]["resumed_from"].as_u64().unwrap();
    assert!(offset >= 34 * MIB as u64);
    assert!(same_content(&local, &home(&site).join("big.bin")));
    // The partial's list was sealed with the state at its end: the server restored that state
    // and re-read none of the partial, not even the part past the last 16 MiB checkpoint.
    server.wait_for_log(&format!("offset={offset} restored={offset}"));
    assert!(e2e::checkpoint_lists(&partials_folder(&site)).is_empty());
    // The client's list stays, now with the state at the file's end: its SHA-256.
    assert_eq!(e2e::checkpoint_lists(&client_lists(&server)).len(), 1);
    let (status, json, err) = put_json(&server, &[local.to_str().unwrap()]);
    assert_eq!(status, 0, "{err}");
    assert_eq!(json[0]["result"], "identical");
    assert_eq!(json[0]["hashed_from_cache"], true, "{json:?}");
}

#[test]
fn a_tampered_partial_fails_the_integrity_check_even_with_saved_states() {
    let site = site();
    let server = site.start();
    let local = site.dir.path().join("data.bin");
    interrupted_upload(&site, &server, &local, "data.bin", 18 * MIB as u64);

    let partial = e2e::partials(&site.root()).pop().unwrap();
    let mut bytes = std::fs::read(&partial).unwrap();
    bytes[1000] ^= 0xff;
    std::fs::write(&partial, bytes).unwrap();

    let (status, json, err) = put_json(&server, &[local.to_str().unwrap()]);
    assert_eq!(status, 6, "{err}");
    assert!(json.is_empty());
    assert!(err.contains("integrity"), "{err}");
    assert!(!home(&site).join("data.bin").exists());
    assert!(
        e2e::checkpoint_lists(&partials_folder(&site)).is_empty(),
        "the discarded partial's list went with it"
    );
}

#[test]
fn two_clients_on_one_path_one_is_busy_the_other_lands_whole() {
    let site = site();
    let server = site.start();
    let first = site.dir.path().join("first.bin");
    let second = site.dir.path().join("second.bin");
    random_file(&first, 8 * MIB, 7);
    random_file(&second, 8 * MIB, 8);

    // Slow enough to outlast the second's wait (a second) for a holder whose connection
    // might be gone.
    let mut slow = server.ftp("alice", PASSWORD);
    slow.args(["put", "--limit-rate", "3M"])
        .arg(&first)
        .arg("shared.bin");
    let slow = std::thread::spawn(move || run(slow, None));
    server.wait_for_log("receiving upload");

    let output = server.run_ftp(
        "alice",
        PASSWORD,
        &["put", second.to_str().unwrap(), "shared.bin"],
    );
    assert_eq!(code(&output), 4, "{}", stderr(&output));
    assert!(stderr(&output).contains("busy"), "{}", stderr(&output));

    let output = slow.join().unwrap();
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(same_content(&first, &home(&site).join("shared.bin")));
}

#[test]
fn twenty_concurrent_uploads_all_land() {
    let site = site();
    let server = site.start();
    let locals: Vec<PathBuf> = (0..20)
        .map(|i| {
            let path = site.dir.path().join(format!("c{i}.bin"));
            random_file(&path, MIB + i * 4099, 100 + i as u64);
            path
        })
        .collect();
    let runs: Vec<_> = locals
        .iter()
        .map(|local| {
            let mut command = server.ftp("alice", PASSWORD);
            command.args(["put"]).arg(local).arg("many/");
            std::thread::spawn(move || run(command, None))
        })
        .collect();
    for output in runs {
        let output = output.join().unwrap();
        assert_eq!(code(&output), 0, "{}", stderr(&output));
    }
    for local in &locals {
        let name = local.file_name().unwrap();
        assert!(
            same_content(local, &home(&site).join("many").join(name)),
            "{name:?}"
        );
    }
}

#[test]
fn existing_files_need_force_and_identical_content_completes_at_once() {
    let site = site();
    let server = site.start();
    let local = site.dir.path().join("a.bin");
    random_file(&local, 3 * MIB, 9);
    let path = local.to_str().unwrap();
    assert_eq!(put_json(&server, &[path]).0, 0);

    let (status, json, _) = put_json(&server, &[path]);
    assert_eq!(status, 0);
    assert_eq!(json[0]["result"], "identical");
    assert_eq!(json[0]["sent"], 0);

    random_file(&local, 3 * MIB, 90);
    let (status, _, err) = put_json(&server, &[path]);
    assert_eq!(status, 4, "{err}");
    assert!(err.contains("--force"), "{err}");
    let other = site.dir.path().join("b.bin");
    random_file(&other, 10, 91);
    let (status, _, err) = put_json(&server, &[other.to_str().unwrap(), "a.bin"]);
    assert_eq!(status, 4, "a different size is refused too: {err}");

    let (status, json, err) = put_json(&server, &["--force", path]);
    assert_eq!(status, 0, "{err}");
    assert_eq!(json[0]["result"], "uploaded");
    assert!(same_content(&local, &home(&site).join("a.bin")));
}

#[test]
fn several_files_go_to_one_folder_and_bad_requests_are_refused() {
    let site = Site::new("max_file_size = \"1M\"\n");
    site.add_user("alice", PASSWORD, &[]);
    site.add_user("reader", "reader-pw", &["--read-only"]);
    let server = site.start();
    let a = site.dir.path().join("a.txt");
    let b = site.dir.path().join("b.txt");
    random_file(&a, 100, 10);
    random_file(&b, 200, 11);
    let (status, json, err) = put_json(
        &server,
        &[a.to_str().unwrap(), b.to_str().unwrap(), "--to", "in/box"],
    );
    assert_eq!(status, 0, "{err}");
    assert_eq!(json.len(), 2);
    assert_eq!(json[1]["remote"], "/in/box/b.txt");
    assert!(same_content(&b, &home(&site).join("in/box/b.txt")));

    // A missing file among several is reported; the others still go, as with scp and rsync.
    let missing = site.dir.path().join("missing.txt");
    let (status, json, err) = put_json(
        &server,
        &[
            a.to_str().unwrap(),
            missing.to_str().unwrap(),
            b.to_str().unwrap(),
            "--to",
            "partly",
        ],
    );
    assert_ne!(status, 0, "a file failed: {err}");
    assert!(err.contains("missing.txt"), "{err}");
    assert!(err.contains("1 of 3"), "{err}");
    assert_eq!(json.len(), 2, "{err}");
    assert!(same_content(&a, &home(&site).join("partly/a.txt")));
    // Every line: the missing file's own `failed` line, and the summary last.
    let (_, all, _) = put_json_all(
        &server,
        &[
            a.to_str().unwrap(),
            missing.to_str().unwrap(),
            "--to",
            "partly",
        ],
    );
    let failed: Vec<_> = all.iter().filter(|l| l["result"] == "failed").collect();
    assert_eq!(failed.len(), 1, "{all:?}");
    assert!(
        failed[0]["local"]
            .as_str()
            .unwrap()
            .ends_with("missing.txt")
    );
    assert_eq!(failed[0]["exit_code"], 1, "{all:?}");
    let summary = all.last().unwrap();
    assert_eq!(summary["op"], "summary", "{all:?}");
    assert_eq!(
        (summary["failed"].as_u64(), summary["files"].as_u64()),
        (Some(1), Some(0))
    );
    // For a person: the summary line, after the files' lines.
    let output = server.run_ftp(
        "alice",
        PASSWORD,
        &[
            "put",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
            "--to",
            "fresh",
        ],
    );
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.lines()
            .last()
            .unwrap()
            .starts_with("2 files, 300 B in "),
        "{text}"
    );
    assert!(same_content(&b, &home(&site).join("partly/b.txt")));

    let big = site.dir.path().join("big.bin");
    random_file(&big, MIB + 1, 12);
    let (status, _, err) = put_json(&server, &[big.to_str().unwrap()]);
    assert_eq!(status, 4, "over max_file_size: {err}");

    for remote in ["../escape.txt", "in", "in\\x.txt"] {
        let (status, _, err) = put_json(&server, &[a.to_str().unwrap(), remote]);
        assert_eq!(status, 4, "{remote}: {err}");
    }
    let output = server.run_ftp("reader", "reader-pw", &["put", a.to_str().unwrap()]);
    assert_eq!(code(&output), 4, "{}", stderr(&output));
    assert!(stderr(&output).contains("read-only"), "{}", stderr(&output));
    assert!(!site.root().join("reader/a.txt").exists());
    assert!(!site.dir.path().join("escape.txt").exists());
}

#[test]
fn stale_partials_expire() {
    let site = Site::new("partial_ttl = \"1s\"\n");
    site.add_user("alice", PASSWORD, &[]);
    let server = site.start();
    // What a crash in the middle of a batch of small files leaves behind expires too.
    let left = site
        .root()
        .join(".ftpd-internal/partials/whole-a/alice~left-by-a-crash.part");
    std::fs::write(&left, b"partial").unwrap();
    let local = site.dir.path().join("big.bin");
    random_file(&local, 8 * MIB, 13);
    let mut client = spawn_put(&server, &local, "big.bin", "2M");
    wait_until("part of the upload on the server", || {
        e2e::partial_bytes(&site.root()) > 0
    });
    client.kill().unwrap();
    client.wait().unwrap();
    wait_until("the stale partial to expire", || {
        e2e::partials(&site.root()).is_empty()
    });
    server.wait_for_log("expired stale partial uploads");
}

#[test]
fn many_small_files_go_pipelined_each_answered_in_order() {
    let site = site();
    let server = site.start();
    let folder = site.dir.path().join("small");
    std::fs::create_dir(&folder).unwrap();
    let mut locals = Vec::new();
    for i in 0..300 {
        let path = folder.join(format!("f{i:03}.bin"));
        random_file(&path, (i * 37) % 5000, 100 + i as u64);
        locals.push(path);
    }
    let mut args: Vec<&str> = locals.iter().map(|p| p.to_str().unwrap()).collect();
    args.extend(["--to", "many"]);
    let (status, json, err) = put_json(&server, &args);
    assert_eq!(status, 0, "{err}");
    assert_eq!(json.len(), locals.len());
    for (i, (line, local)) in json.iter().zip(&locals).enumerate() {
        assert_eq!(line["remote"], format!("/many/f{i:03}.bin"), "in order");
        assert_eq!(line["result"], "uploaded");
        assert!(same_content(
            local,
            &home(&site).join(format!("many/f{i:03}.bin"))
        ));
    }
    assert!(e2e::partials(&site.root()).is_empty());

    // Again: identical content completes at once; one changed file is a conflict, and a name
    // taken by a folder is refused, while the files around them still land.
    random_file(&locals[10], 4000, 999);
    std::fs::create_dir(home(&site).join("many/f020.bin.d")).unwrap();
    let extra = folder.join("f020.bin.d");
    random_file(&extra, 10, 5);
    args.insert(21, extra.to_str().unwrap());
    let (status, json, err) = put_json(&server, &args);
    assert_eq!(status, 4, "{err}");
    assert_eq!(json.len(), locals.len() - 1, "{err}");
    assert!(
        err.contains("f010.bin") && err.contains("already exists"),
        "{err}"
    );
    assert!(
        err.contains("f020.bin.d") && err.contains("folder"),
        "{err}"
    );
    assert!(json.iter().all(|line| line["result"] == "identical"));
    assert_ne!(
        json[10]["remote"], "/many/f010.bin",
        "the conflict is not reported as done"
    );
}

#[test]
fn the_same_name_twice_in_one_burst_lands_once_and_then_conflicts() {
    let site = site();
    let server = site.start();
    let (one, two) = (site.dir.path().join("one"), site.dir.path().join("two"));
    std::fs::create_dir_all(&one).unwrap();
    std::fs::create_dir_all(&two).unwrap();
    random_file(&one.join("same.txt"), 100, 1);
    random_file(&two.join("same.txt"), 100, 2);
    random_file(&two.join("other.txt"), 100, 3);
    let paths = [
        one.join("same.txt"),
        two.join("same.txt"),
        two.join("other.txt"),
    ];
    let mut args: Vec<&str> = paths.iter().map(|p| p.to_str().unwrap()).collect();
    args.extend(["--to", "d"]);
    let (status, json, err) = put_json(&server, &args);
    assert_eq!(status, 4, "{err}");
    // "already exists", not "busy": the second waited for the first to land, not on its lock.
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(json.len(), 2, "{json:?}");
    assert!(same_content(&paths[0], &home(&site).join("d/same.txt")));
    assert!(same_content(&paths[2], &home(&site).join("d/other.txt")));
}

#[test]
fn pipelined_small_files_survive_cut_connections() {
    let site = site();
    let server = site.start();
    let folder = site.dir.path().join("small");
    std::fs::create_dir(&folder).unwrap();
    let locals: Vec<PathBuf> = (0..200)
        .map(|i| {
            let path = folder.join(format!("s{i:03}"));
            random_file(&path, 4096, 500 + i as u64);
            path
        })
        .collect();
    // 200 × 4 KiB is about 800 KiB: each of the first two connections is cut after 300 KiB.
    let proxy = CutProxy::start(server.address, 300 * 1024, 2);
    let mut command = server.ftp_via(proxy.address, "alice", PASSWORD);
    command.args(["--json", "put", "--retries", "3", "--to", "d"]);
    command.args(&locals);
    let output = run(command, None);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(proxy.cuts(), 2, "both cuts happened");
    let lines = stdout(&output);
    assert_eq!(
        lines.lines().count(),
        locals.len() + 1,
        "and the summary: {lines}"
    );
    for local in &locals {
        let name = local.file_name().unwrap();
        assert!(same_content(local, &home(&site).join("d").join(name)));
    }
    assert!(e2e::partials(&site.root()).is_empty());
}

#[test]
fn out_of_retries_against_a_dead_server_says_a_rerun_resumes() {
    let site = site();
    let mut server = site.start();
    let local = site.dir.path().join("big.bin");
    random_file(&local, 2 * MIB, 41);
    server.kill();
    for args in [
        vec!["put", "--retries", "1"],
        vec!["get", "--retries", "1", "big.bin"],
    ] {
        let mut command = server.ftp("alice", PASSWORD);
        command.args(&args);
        if args[0] == "put" {
            command.arg(&local);
        } else {
            command.arg(site.dir.path().join("got.bin"));
        }
        let output = run(command, None);
        assert_eq!(code(&output), 5, "{args:?}: {}", stderr(&output));
        assert!(
            stderr(&output).contains("run the same command again to resume"),
            "{args:?}: {}",
            stderr(&output)
        );
    }
    let ls = server.run_ftp("alice", PASSWORD, &["ls"]);
    assert_eq!(code(&ls), 5);
    assert!(!stderr(&ls).contains("resume"), "{}", stderr(&ls));
}
