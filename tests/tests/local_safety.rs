//! What `ftp get` does to local files it did not make: a planted `.part` link is never
//! followed, a second download of the same target is "busy", a stale `.part` of a changed
//! remote file is started over, an identical existing file is `identical`, long names fit, a
//! full local disk is told as such, and invisible characters in names are shown escaped.

// Test code: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use e2e::{Server, Site, code, random_file, run, same_content, stderr, stdout, wait_until};

const PASSWORD: &str = "local-safety-password";
const MIB: usize = 1 << 20;

fn site() -> Site {
    let site = Site::new("");
    site.add_user("alice", PASSWORD, &[]);
    site
}

fn home(site: &Site) -> PathBuf {
    let home = site.root().join("alice");
    std::fs::create_dir_all(&home).unwrap();
    home
}

fn folder(site: &Site, name: &str) -> PathBuf {
    let folder = site.dir.path().join(name);
    std::fs::create_dir_all(&folder).unwrap();
    folder
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

/// Starts `ftp get big.bin` into `downloads` at `rate`, without retries, in the background.
fn spawn_slow_get(server: &Server, downloads: &Path, rate: &str) -> std::process::Child {
    let mut command = server.ftp("alice", PASSWORD);
    command
        .args(["get", "big.bin", "--limit-rate", rate, "--retries", "0"])
        .current_dir(downloads)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command.spawn().unwrap()
}

/// Stops a download with SIGTERM once its `part` holds a MiB; it must exit 130, keeping it.
fn stop_after_a_mebibyte(client: std::process::Child, part: &Path) {
    wait_until("part of the download on disk", || {
        std::fs::metadata(part).is_ok_and(|m| m.len() >= MIB as u64)
    });
    e2e::signal(client.id(), "TERM");
    let output = e2e::output_of(client, "ftp get");
    assert_eq!(code(&output), 130, "{}", stderr(&output));
}

#[test]
fn a_planted_part_link_is_refused_and_nothing_is_written_through_it() {
    let site = site();
    let server = site.start();
    std::fs::write(home(&site).join("remote.txt"), b"the server's content").unwrap();
    let shared = folder(&site, "shared");
    let victim = site.dir.path().join("authorized_keys");
    std::fs::write(&victim, b"precious").unwrap();
    let part = shared.join("remote.txt.part");
    std::os::unix::fs::symlink(&victim, &part).unwrap();
    let (status, _, err) = json_in(&server, &shared, &["get", "remote.txt"]);
    assert_eq!(status, 1, "{err}");
    assert!(
        err.contains("remote.txt.part") && err.contains("symbolic link"),
        "{err}"
    );
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert!(!shared.join("remote.txt").exists());
    assert!(std::fs::symlink_metadata(shared.join("remote.txt")).is_err());

    // A dangling link does not create its target.
    std::fs::remove_file(&part).unwrap();
    let target = site.dir.path().join("created-through-the-link");
    std::os::unix::fs::symlink(&target, &part).unwrap();
    let (status, _, err) = json_in(&server, &shared, &["get", "remote.txt"]);
    assert_eq!(status, 1, "{err}");
    assert!(!target.exists(), "{err}");

    // A hard link to another file is refused too.
    std::fs::remove_file(&part).unwrap();
    std::fs::hard_link(&victim, &part).unwrap();
    let (status, _, err) = json_in(&server, &shared, &["get", "remote.txt"]);
    assert_eq!(status, 1, "{err}");
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
}

#[test]
fn a_second_download_to_the_same_target_is_busy() {
    let site = site();
    let server = site.start();
    let source = home(&site).join("big.bin");
    random_file(&source, 8 * MIB, 31);
    let downloads = folder(&site, "downloads");
    let target = downloads.join("big.bin");
    let part = e2e::part_of(&target);

    let first = spawn_slow_get(&server, &downloads, "256K");
    wait_until("the first download writing", || {
        std::fs::metadata(&part).is_ok_and(|m| m.len() > 0)
    });
    let (status, _, err) = json_in(&server, &downloads, &["get", "big.bin"]);
    assert_eq!(status, 4, "{err}");
    assert!(
        err.contains("busy") && err.contains("big.bin.part"),
        "{err}"
    );
    e2e::signal(first.id(), "TERM");
    let output = e2e::output_of(first, "the first ftp get");
    assert_eq!(code(&output), 130, "{}", stderr(&output));
    let kept = std::fs::metadata(&part).unwrap().len();
    assert!(kept < 8 * MIB as u64, "{kept}");

    // The run after resumes the first one's part and ends whole.
    let (status, json, err) = json_in(&server, &downloads, &["get", "big.bin"]);
    assert_eq!(status, 0, "{err}");
    assert_eq!(json[0]["resumed_from"], kept, "{json:?}");
    assert!(same_content(&source, &target));
}

#[test]
fn a_part_of_a_changed_remote_file_is_started_over() {
    let site = site();
    let server = site.start();
    let source = home(&site).join("big.bin");
    random_file(&source, 8 * MIB, 32);
    let downloads = folder(&site, "downloads");
    let target = downloads.join("big.bin");
    let part = e2e::part_of(&target);

    let client = spawn_slow_get(&server, &downloads, "1M");
    stop_after_a_mebibyte(client, &part);

    // The remote file is replaced by another one, larger.
    random_file(&source, 9 * MIB, 33);
    let (status, json, err) = json_in(&server, &downloads, &["get", "big.bin"]);
    assert_eq!(status, 0, "{err}");
    assert!(
        err.contains("the remote file changed since the partial download; starting over"),
        "{err}"
    );
    assert_eq!(json[0]["resumed_from"], 0, "{json:?}");
    assert!(same_content(&source, &target));
    assert!(!part.exists());
}

#[test]
fn a_part_resumes_when_the_same_remote_file_is_named_another_way() {
    let site = site();
    let server = site.start();
    let source = home(&site).join("big.bin");
    random_file(&source, 8 * MIB, 34);
    let downloads = folder(&site, "downloads");
    let part = e2e::part_of(&downloads.join("big.bin"));
    let client = spawn_slow_get(&server, &downloads, "1M");
    stop_after_a_mebibyte(client, &part);

    // `/big.bin` is the file `big.bin` named: the part is resumed, not thrown away.
    let (status, json, err) = json_in(&server, &downloads, &["get", "/big.bin"]);
    assert_eq!(status, 0, "{err}");
    assert!(!err.contains("changed"), "{err}");
    assert!(
        json[0]["resumed_from"].as_u64().unwrap() >= MIB as u64,
        "{json:?}"
    );
    assert!(same_content(&source, &downloads.join("big.bin")));
}

#[test]
fn an_identical_local_file_is_identical_and_a_different_one_is_refused() {
    let site = site();
    let server = site.start();
    let source = home(&site).join("f.bin");
    random_file(&source, 3 * MIB, 34);
    let downloads = folder(&site, "downloads");
    let target = downloads.join("f.bin");
    std::fs::copy(&source, &target).unwrap();
    let before = std::fs::metadata(&target).unwrap();

    let (status, json, err) = json_in(&server, &downloads, &["get", "f.bin"]);
    assert_eq!(status, 0, "{err}");
    assert_eq!(json[0]["result"], "identical", "{json:?}");
    assert_eq!(json[0]["sent"], 0, "{json:?}");
    assert_eq!(json[0]["sha256"], e2e::sha256sum(&source));
    let after = std::fs::metadata(&target).unwrap();
    assert_eq!(before.ino(), after.ino(), "nothing rewritten");
    assert_eq!(before.mtime_nsec(), after.mtime_nsec(), "nothing rewritten");

    // The same size, another content: refused.
    let mut other = std::fs::read(&source).unwrap();
    other[MIB] ^= 0xff;
    std::fs::write(&target, &other).unwrap();
    let (status, _, err) = json_in(&server, &downloads, &["get", "f.bin"]);
    assert_eq!(status, 4, "{err}");
    assert!(
        err.contains("already exists") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(std::fs::read(&target).unwrap(), other);

    // Another size: refused.
    std::fs::write(&target, b"short").unwrap();
    let (status, _, err) = json_in(&server, &downloads, &["get", "f.bin"]);
    assert_eq!(status, 4, "{err}");
    assert_eq!(std::fs::read(&target).unwrap(), b"short");
    assert!(!e2e::part_of(&target).exists());
}

#[test]
fn names_of_up_to_255_bytes_download_under_their_own_name() {
    let site = site();
    let server = site.start();
    let downloads = folder(&site, "downloads");
    for len in [251, 255] {
        let name = "n".repeat(len);
        random_file(&home(&site).join(&name), 1000, len as u64);
        let (status, _, err) = json_in(&server, &downloads, &["get", &name]);
        assert_eq!(status, 0, "{len}: {err}");
        assert!(same_content(
            &home(&site).join(&name),
            &downloads.join(&name)
        ));
    }
    assert_eq!(
        std::fs::read_dir(&downloads).unwrap().count(),
        2,
        "no part left"
    );
}

/// A small tmpfs mounted for one test, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: PathBuf, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(&at).unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&at)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        mounted.then_some(Tmpfs(at))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_local_disk_is_told_and_the_part_is_kept() {
    let site = site();
    let server = site.start();
    random_file(&home(&site).join("big.bin"), 3 * MIB, 35);
    let Some(disk) = Tmpfs::mount(site.dir.path().join("small-disk"), "1m") else {
        eprintln!("skipped: cannot mount a tmpfs here (needs root)");
        return;
    };
    let (status, _, err) = json_in(&server, &disk.0, &["get", "big.bin", "--retries", "0"]);
    assert_eq!(status, 1, "{err}");
    assert!(
        err.contains("local disk full") && err.contains("big.bin.part"),
        "{err}"
    );
    assert!(disk.0.join("big.bin.part").exists(), "the part is kept");
    assert!(!disk.0.join("big.bin").exists());
}

#[test]
fn invisible_characters_in_listed_names_are_escaped() {
    let site = site();
    let server = site.start();
    std::fs::write(home(&site).join("abc\u{202e}txt.exe"), b"x").unwrap();
    std::fs::write(home(&site).join("zero\u{200b}width"), b"x").unwrap();
    let output = site_ls(&server);
    assert!(output.contains("abc\\u{202e}txt.exe"), "{output}");
    assert!(output.contains("zero\\u{200b}width"), "{output}");
    assert!(!output.contains('\u{202e}') && !output.contains('\u{200b}'));
}

fn site_ls(server: &Server) -> String {
    let output = server.run_ftp("alice", PASSWORD, &["ls"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    stdout(&output)
}
