//! `ftp get`, `stat`, `rm` and `mkdir` through the real binaries, and what a read-only user
//! may do.

// Test code: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use e2e::{
    CutProxy, Server, Site, code, random_file, run, same_content, stderr, stdout, wait_until,
};

const PASSWORD: &str = "downloader-password";
const MIB: usize = 1 << 20;

fn site() -> Site {
    let site = Site::new("");
    site.add_user("alice", PASSWORD, &[]);
    site.add_user(
        "reader",
        "reader-password",
        &["--read-only", "--home", "alice"],
    );
    site
}

fn home(site: &Site) -> PathBuf {
    site.root().join("alice")
}

/// Runs `ftp --json ARGS…` as alice in `folder`; returns exit code, JSON lines and stderr.
fn json_in(server: &Server, folder: &Path, args: &[&str]) -> (i32, Vec<serde_json::Value>, String) {
    let mut command = server.ftp("alice", PASSWORD);
    command.arg("--json").args(args).current_dir(folder);
    let output = run(command, None);
    let objects = stdout(&output)
        .lines()
        .map(|line| serde_json::from_str(line).expect("JSON line"))
        .collect();
    (code(&output), objects, stderr(&output))
}

fn download_folder(site: &Site) -> PathBuf {
    let folder = site.dir.path().join("downloads");
    std::fs::create_dir_all(&folder).unwrap();
    folder
}

#[test]
fn put_then_get_round_trips_byte_identical() {
    let site = site();
    let server = site.start();
    let folder = download_folder(&site);
    for (seed, size) in [0, MIB + 1, 100 * MIB].into_iter().enumerate() {
        let local = site.dir.path().join(format!("up{size}.bin"));
        random_file(&local, size, seed as u64 + 20);
        let (status, _, err) = json_in(
            &server,
            site.dir.path(),
            &["put", local.to_str().unwrap(), "files/"],
        );
        assert_eq!(status, 0, "{err}");
        let remote = format!("files/up{size}.bin");
        let (status, json, err) = json_in(&server, &folder, &["get", &remote]);
        assert_eq!(status, 0, "{size}: {err}");
        assert_eq!(json[0]["op"], "get");
        assert_eq!(json[0]["size"], size);
        assert_eq!(json[0]["sent"], size);
        assert_eq!(json[0]["resumed_from"], 0);
        assert_eq!(json[0]["sha256"], e2e::sha256sum(&local));
        assert_eq!(json[0]["result"], "downloaded");
        let got = folder.join(format!("up{size}.bin"));
        assert!(same_content(&local, &got), "{size} bytes differ");
        assert!(!e2e::part_of(&got).exists(), "the .part is gone");
    }
}

#[test]
fn a_killed_download_resumes_and_never_shows_a_partial_file() {
    let site = site();
    let server = site.start();
    let source = home(&site).join("big.bin");
    std::fs::create_dir_all(home(&site)).unwrap();
    random_file(&source, 8 * MIB, 21);
    let folder = download_folder(&site);
    let target = folder.join("big.bin");

    let mut command = server.ftp("alice", PASSWORD);
    command
        .args(["get", "big.bin", "--limit-rate", "2M", "--retries", "0"])
        .current_dir(&folder)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut client = command.spawn().unwrap();
    let part = e2e::part_of(&target);
    wait_until("part of the download on disk", || {
        std::fs::metadata(&part).is_ok_and(|m| m.len() >= MIB as u64)
    });
    client.kill().unwrap();
    client.wait().unwrap();
    assert!(
        !target.exists(),
        "no file under the final name after a kill"
    );

    let (status, json, err) = json_in(&server, &folder, &["get", "big.bin"]);
    assert_eq!(status, 0, "{err}");
    let resumed = json[0]["resumed_from"].as_u64().unwrap();
    assert!(resumed > 0, "{json:?}");
    assert_eq!(resumed + json[0]["sent"].as_u64().unwrap(), 8 * MIB as u64);
    assert!(same_content(&source, &target));
}

#[test]
fn ctrl_c_keeps_the_part_with_its_sealed_list_and_the_next_get_resumes() {
    let site = site();
    let server = site.start();
    std::fs::create_dir_all(home(&site)).unwrap();
    let source = home(&site).join("big.bin");
    random_file(&source, 40 * MIB, 24);
    let folder = download_folder(&site);
    let target = folder.join("big.bin");
    let part = e2e::part_of(&target);

    let mut command = server.ftp("alice", PASSWORD);
    command
        .args([
            "--json",
            "get",
            "big.bin",
            "--limit-rate",
            "8M",
            "--retries",
            "0",
        ])
        .current_dir(&folder)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let client = command.spawn().unwrap();
    // Past the first checkpoint (16 MiB): a sealed list has something to keep.
    wait_until("20 MiB of the download on disk", || {
        std::fs::metadata(&part).is_ok_and(|m| m.len() >= 20 * MIB as u64)
    });
    e2e::signal(client.id(), "INT");
    let output = e2e::output_of(client, "ftp get");
    let err = stderr(&output);
    assert_eq!(code(&output), 130, "{err}");
    assert!(
        err.contains("interrupted: ")
            && err.contains("kept in big.bin.part; run the same command to resume"),
        "{err}"
    );
    assert!(stdout(&output).is_empty(), "no JSON for an unfinished get");
    assert!(!target.exists(), "no file under the final name");
    let kept = std::fs::metadata(&part).unwrap().len();
    assert!(kept >= 20 * MIB as u64 && kept < 40 * MIB as u64, "{kept}");
    let lists = server.client_cache().join("ftp/checkpoints");
    let part_lists = e2e::checkpoint_lists(&lists);
    assert_eq!(
        part_lists.len(),
        1,
        "the writer sealed its list of the .part"
    );

    let (status, json, err) = json_in(&server, &folder, &["get", "big.bin"]);
    assert_eq!(status, 0, "{err}");
    assert_eq!(json[0]["resumed_from"].as_u64().unwrap(), kept, "{json:?}");
    assert!(same_content(&source, &target));
    assert!(!part.exists());
    // The .part's list went; the downloaded file's SHA-256 is kept under its own name.
    let after = e2e::checkpoint_lists(&lists);
    assert_eq!(after.len(), 1, "{after:?}");
    assert_ne!(after, part_lists);
}

#[test]
fn retries_survive_cut_connections_while_downloading() {
    let site = site();
    let server = site.start();
    std::fs::create_dir_all(home(&site)).unwrap();
    let source = home(&site).join("big.bin");
    random_file(&source, 6 * MIB, 22);
    let folder = download_folder(&site);
    let proxy = CutProxy::start(server.address, 5 * MIB as u64 / 2, 2);
    let mut command = server.ftp_via(proxy.address, "alice", PASSWORD);
    command
        .args(["--json", "get", "big.bin", "--retries", "3"])
        .current_dir(&folder);
    let output = run(command, None);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(proxy.cuts(), 2);
    assert!(same_content(&source, &folder.join("big.bin")));
}

#[test]
fn a_resumed_download_restores_saved_hash_states() {
    let site = site();
    let server = site.start();
    std::fs::create_dir_all(home(&site)).unwrap();
    let source = home(&site).join("big.bin");
    random_file(&source, 64 * MIB, 23);
    let folder = download_folder(&site);
    // The first connection is cut after 36 MiB: past the checkpoints at 16 and 32 MiB, and
    // before the server has read the whole file.
    let proxy = CutProxy::start(server.address, 36 * MIB as u64, 1);
    let mut command = server.ftp_via(proxy.address, "alice", PASSWORD);
    command
        .args(["--json", "get", "big.bin", "--retries", "2"])
        .current_dir(&folder);
    let output = run(command, None);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(proxy.cuts(), 1);
    assert!(same_content(&source, &folder.join("big.bin")));
    // The server sealed its states when the reader stopped, and the retry started from them.
    server.wait_for_log(&format!("restored={}", 32 * MIB));
    let lists = server.client_cache().join("ftp/checkpoints");
    assert_eq!(
        e2e::checkpoint_lists(&lists).len(),
        1,
        "the .part's list went with the finished download; the file's SHA-256 is kept"
    );
}

#[test]
fn an_uploaded_file_is_served_without_hashing_it_again() {
    let site = site();
    let server = site.start();
    let local = site.dir.path().join("big.bin");
    random_file(&local, 20 * MIB, 24);
    let (status, _, err) = json_in(&server, site.dir.path(), &["put", local.to_str().unwrap()]);
    assert_eq!(status, 0, "{err}");
    let folder = download_folder(&site);
    let (status, json, err) = json_in(&server, &folder, &["get", "big.bin"]);
    assert_eq!(status, 0, "{err}");
    assert_eq!(json[0]["sha256"], e2e::sha256sum(&local));
    assert!(same_content(&local, &folder.join("big.bin")));
    server.wait_for_log("sending with its SHA-256 known");
}

#[test]
fn a_file_changed_behind_the_servers_back_is_hashed_again_not_trusted() {
    let site = site();
    let server = site.start();
    let local = site.dir.path().join("big.bin");
    random_file(&local, 20 * MIB, 25);
    let (status, _, err) = json_in(&server, site.dir.path(), &["put", local.to_str().unwrap()]);
    assert_eq!(status, 0, "{err}");

    // Change one byte in place, same size, and put the modification time back.
    let stored = home(&site).join("big.bin");
    let modified = std::fs::metadata(&stored).unwrap().modified().unwrap();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&stored)
        .unwrap();
    let mut byte = [0u8];
    file.read_exact_at(&mut byte, 5 * MIB as u64).unwrap();
    byte[0] ^= 0xff;
    file.write_all_at(&byte, 5 * MIB as u64).unwrap();
    file.set_modified(modified).unwrap();
    drop(file);

    let folder = download_folder(&site);
    let (status, json, err) = json_in(&server, &folder, &["get", "big.bin"]);
    assert_eq!(status, 0, "{err}");
    assert_eq!(json[0]["sha256"], e2e::sha256sum(&stored));
    assert!(same_content(&stored, &folder.join("big.bin")));
    assert!(
        !server.log().contains("sending with its SHA-256 known"),
        "the upload's hash was not used for changed contents"
    );

    // That download hashed the file as it is now: the next one need not.
    let (status, _, err) = json_in(&server, &folder, &["get", "--force", "big.bin"]);
    assert_eq!(status, 0, "{err}");
    server.wait_for_log("sending with its SHA-256 known");
}

#[test]
fn a_missing_remote_file_creates_nothing_locally() {
    let site = site();
    let server = site.start();
    let folder = download_folder(&site);
    let (status, _, err) = json_in(&server, &folder, &["get", "nope.bin"]);
    assert_eq!(status, 4, "{err}");
    assert!(err.contains("no such file"), "{err}");
    assert_eq!(
        std::fs::read_dir(&folder).unwrap().count(),
        0,
        "nothing created"
    );
}

#[test]
fn an_existing_local_file_needs_force() {
    let site = site();
    let server = site.start();
    std::fs::create_dir_all(home(&site)).unwrap();
    random_file(&home(&site).join("f.bin"), 1000, 23);
    let folder = download_folder(&site);
    std::fs::write(folder.join("f.bin"), b"keep me").unwrap();
    let (status, _, err) = json_in(&server, &folder, &["get", "f.bin"]);
    assert_eq!(status, 4, "{err}");
    assert_eq!(std::fs::read(folder.join("f.bin")).unwrap(), b"keep me");
    let (status, _, err) = json_in(&server, &folder, &["get", "f.bin", "--force"]);
    assert_eq!(status, 0, "{err}");
    assert!(same_content(
        &home(&site).join("f.bin"),
        &folder.join("f.bin")
    ));
}

#[test]
fn a_corrupted_local_part_fails_the_check_and_is_discarded() {
    let site = site();
    let server = site.start();
    std::fs::create_dir_all(home(&site)).unwrap();
    random_file(&home(&site).join("f.bin"), 3 * MIB, 24);
    let folder = download_folder(&site);
    // A .part whose bytes are not the file's.
    std::fs::write(folder.join("f.bin.part"), vec![0u8; MIB]).unwrap();
    let (status, _, err) = json_in(&server, &folder, &["get", "f.bin"]);
    assert_eq!(status, 6, "{err}");
    assert!(!folder.join("f.bin").exists());
    assert!(
        !folder.join("f.bin.part").exists(),
        "the bad part is discarded"
    );
    let (status, json, err) = json_in(&server, &folder, &["get", "f.bin"]);
    assert_eq!(status, 0, "{err}");
    assert_eq!(json[0]["resumed_from"], 0);
}

#[test]
fn mkdir_stat_and_rm_do_what_they_say() {
    let site = site();
    let server = site.start();
    let here = site.dir.path();
    let (status, json, err) = json_in(&server, here, &["mkdir", "a/b/c"]);
    assert_eq!(status, 0, "{err}");
    assert_eq!(json[0]["created"], true);
    assert!(home(&site).join("a/b/c").is_dir());
    let (status, json, _) = json_in(&server, here, &["mkdir", "a/b/c"]);
    assert_eq!((status, json[0]["created"].clone()), (0, false.into()));

    let local = here.join("s.bin");
    random_file(&local, MIB + 7, 25);
    assert_eq!(
        json_in(&server, here, &["put", local.to_str().unwrap(), "a/s.bin"]).0,
        0
    );
    let (status, json, err) = json_in(&server, here, &["stat", "a/s.bin"]);
    assert_eq!(status, 0, "{err}");
    assert_eq!(json[0]["type"], "file");
    assert_eq!(json[0]["size"], MIB + 7);
    assert_eq!(
        json[0]["sha256"],
        e2e::sha256sum(&home(&site).join("a/s.bin"))
    );
    let (_, json, _) = json_in(&server, here, &["stat", "a"]);
    assert_eq!(json[0]["type"], "dir");
    assert!(json[0]["sha256"].is_null());
    let text = stdout(&server.run_ftp("alice", PASSWORD, &["stat", "a/s.bin"]));
    assert!(text.contains(&e2e::sha256sum(&local)), "{text}");

    let (status, _, err) = json_in(&server, here, &["mkdir", "a/s.bin"]);
    assert_eq!(status, 4, "a file is in the way: {err}");
    let (status, _, err) = json_in(&server, here, &["rm", "a"]);
    assert_eq!(status, 4, "not empty: {err}");
    let (status, _, err) = json_in(&server, here, &["rm", "a/s.bin"]);
    assert_eq!(status, 0, "{err}");
    assert!(!home(&site).join("a/s.bin").exists(), "gone on disk");
    let (status, _, _) = json_in(&server, here, &["rm", "a/s.bin"]);
    assert_eq!(status, 4, "already gone");
    assert_eq!(json_in(&server, here, &["rm", "a/b/c"]).0, 0);
    assert!(!home(&site).join("a/b/c").exists());
    assert_eq!(json_in(&server, here, &["rm", "/"]).0, 4, "the home itself");
}

#[test]
fn a_read_only_user_may_look_and_download_only() {
    let site = site();
    let server = site.start();
    std::fs::create_dir_all(home(&site).join("docs")).unwrap();
    random_file(&home(&site).join("docs/r.bin"), 5000, 26);
    let before = e2e::tree(&home(&site));
    let folder = download_folder(&site);
    let reader = |args: &[&str]| {
        let mut command = server.ftp("reader", "reader-password");
        command.args(args).current_dir(&folder);
        run(command, None)
    };
    assert_eq!(code(&reader(&["ls", "docs"])), 0);
    assert_eq!(code(&reader(&["stat", "docs/r.bin"])), 0);
    assert_eq!(code(&reader(&["get", "docs/r.bin"])), 0);
    assert!(same_content(
        &home(&site).join("docs/r.bin"),
        &folder.join("r.bin")
    ));

    let local = site.dir.path().join("new.bin");
    random_file(&local, 100, 27);
    for args in [
        vec!["put", local.to_str().unwrap()],
        vec!["rm", "docs/r.bin"],
        vec!["rm", "docs"],
        vec!["mkdir", "x"],
    ] {
        let output = reader(&args);
        assert_eq!(code(&output), 4, "{args:?}: {}", stderr(&output));
        assert!(
            stderr(&output).contains("read-only"),
            "{args:?}: {}",
            stderr(&output)
        );
    }
    assert_eq!(e2e::tree(&home(&site)), before, "nothing changed");
}

#[test]
fn on_a_terminal_the_password_prompt_comes_before_any_progress_bar() {
    let site = site();
    let server = site.start();
    let local = site.dir.path().join("bar.bin");
    random_file(&local, 4 * MIB, 77);
    let put = server.run_ftp(
        "alice",
        PASSWORD,
        &["put", local.to_str().unwrap(), "bar.bin"],
    );
    assert_eq!(code(&put), 0, "{}", stderr(&put));

    // `ftp get` on a terminal (script(1) gives it one), asking for the password there.
    let fetched = download_folder(&site).join("bar.bin");
    let mut get = server.ftp("alice", PASSWORD);
    get.env_remove("FTP_PASSWORD")
        .args(["get", "bar.bin"])
        .arg(&fetched);
    let output = run(e2e::on_a_terminal(&get), Some(&format!("{PASSWORD}\n")));
    assert_eq!(code(&output), 0, "{}{}", stdout(&output), stderr(&output));
    assert!(same_content(&local, &fetched));

    let screen = stdout(&output);
    let prompt = screen
        .find("Password for alice@")
        .unwrap_or_else(|| panic!("no password prompt on the terminal:\n{screen}"));
    assert!(
        !screen[..prompt].contains("ETA"),
        "a progress bar was drawn before the prompt:\n{screen}"
    );
    assert!(
        screen[prompt..].contains("ETA"),
        "no progress bar once logged in:\n{screen}"
    );
}

/// The inode and modification time of `path`: what shows a file was left untouched.
fn untouched_mark(path: &Path) -> (u64, std::time::SystemTime) {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).unwrap();
    (meta.ino(), meta.modified().unwrap())
}

#[test]
fn force_onto_an_identical_local_file_writes_nothing() {
    let site = site();
    let server = site.start();
    std::fs::create_dir_all(home(&site)).unwrap();
    let remote = home(&site).join("f.bin");
    random_file(&remote, 3 * MIB, 41);
    let folder = download_folder(&site);
    let local = folder.join("f.bin");
    std::fs::copy(&remote, &local).unwrap();
    let before = untouched_mark(&local);

    let (status, json, err) = json_in(&server, &folder, &["get", "--force", "f.bin"]);
    assert_eq!(status, 0, "{err}");
    assert_eq!(json[0]["result"], "identical", "{json:?}");
    assert_eq!(json[0]["sent"], 0, "{json:?}");
    assert_eq!(
        untouched_mark(&local),
        before,
        "the local file was not rewritten"
    );
    assert!(!e2e::part_of(&local).exists());
}

#[test]
fn force_onto_a_different_local_file_of_the_same_size_replaces_it() {
    let site = site();
    let server = site.start();
    std::fs::create_dir_all(home(&site)).unwrap();
    let remote = home(&site).join("f.bin");
    random_file(&remote, 3 * MIB, 42);
    let folder = download_folder(&site);
    let local = folder.join("f.bin");
    random_file(&local, 3 * MIB, 43);

    let (status, _, err) = json_in(&server, &folder, &["get", "f.bin"]);
    assert_eq!(status, 4, "without --force: {err}");
    let (status, json, err) = json_in(&server, &folder, &["get", "--force", "f.bin"]);
    assert_eq!(status, 0, "{err}");
    assert_eq!(json[0]["result"], "downloaded", "{json:?}");
    assert_eq!(json[0]["sent"], 3 * MIB, "{json:?}");
    assert!(same_content(&remote, &local));
    assert!(!e2e::part_of(&local).exists());

    // Another size with --force: replaced as before, nothing compared.
    random_file(&local, 1000, 44);
    let (status, json, err) = json_in(&server, &folder, &["get", "--force", "f.bin"]);
    assert_eq!(status, 0, "{err}");
    assert_eq!(json[0]["result"], "downloaded", "{json:?}");
    assert!(same_content(&remote, &local));
}
