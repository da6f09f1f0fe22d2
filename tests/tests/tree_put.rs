//! `ftp put -r DIR [REMOTE]` through the real binaries: a nested tree with empty folders
//! copied whole with every modification time kept to the nanosecond, a re-run that moves
//! nothing, a changed file refused (the others still go) or replaced with `--force`,
//! `--checksum` finding what the quick check cannot, the destination rule (trailing `/`,
//! `.`), local links skipped or followed with `-L`, and a read-only user refused.

// Test code: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Output;

use e2e::trees::{assert_same_tree, json_lines, line_about, set_time, summary_line};
use e2e::{Server, Site, code, random_file, same_content, stderr, stdout};

const PASSWORD: &str = "alice-password";

/// A server with alice (may write) and reader (read-only, same home), and a local tree.
struct Fixture {
    /// Keeps the temp folders.
    site: Site,
    /// The running server.
    server: Server,
}

fn fixture() -> Fixture {
    let site = Site::new("");
    site.add_user("alice", PASSWORD, &[]);
    site.add_user("reader", "reader-pw", &["--read-only", "--home", "alice"]);
    std::fs::create_dir_all(site.root().join("alice")).unwrap();
    let server = site.start();
    Fixture { site, server }
}

impl Fixture {
    fn home(&self) -> PathBuf {
        self.site.root().join("alice")
    }

    /// A local folder `photos` holding small and large files, a nested and an empty folder;
    /// every file with its own old time (with nanoseconds).
    fn local_tree(&self) -> PathBuf {
        let root = self.site.dir.path().join("photos");
        std::fs::create_dir_all(root.join("2026/june")).unwrap();
        std::fs::create_dir_all(root.join("empty/deeper")).unwrap();
        random_file(&root.join("a.jpg"), 1000, 1);
        random_file(&root.join("2026/b.jpg"), 3 << 20, 2);
        random_file(&root.join("2026/june/c.jpg"), 10, 3);
        random_file(&root.join("2026/june/d.jpg"), 0, 4);
        for (n, file) in ["a.jpg", "2026/b.jpg", "2026/june/c.jpg", "2026/june/d.jpg"]
            .iter()
            .enumerate()
        {
            set_time(&root.join(file), 1_000_000_000 + n as u64, 123_456_789);
        }
        root
    }

    /// Runs `ftp ARGS…` as alice, in the site's folder.
    fn ftp(&self, args: &[&str]) -> Output {
        self.ftp_as("alice", PASSWORD, args)
    }

    fn ftp_as(&self, user: &str, password: &str, args: &[&str]) -> Output {
        let mut command = self.server.ftp(user, password);
        command.args(args).current_dir(self.site.dir.path());
        e2e::run(command, None)
    }
}

/// The result of the line about `remote` (shown from the home).
fn result_of<'a>(lines: &'a [serde_json::Value], remote: &str) -> &'a str {
    let line = line_about(lines, remote);
    line["result"]
        .as_str()
        .unwrap_or_else(|| panic!("no result for {remote}: {line}"))
}

#[test]
fn a_tree_goes_whole_with_times_and_a_rerun_moves_nothing() {
    let fixture = fixture();
    let local = fixture.local_tree();
    let output = fixture.ftp(&["--json", "put", "-r", local.to_str().unwrap()]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let first = json_lines(&output);
    assert_eq!(result_of(&first, "/photos/2026/b.jpg"), "uploaded");
    assert_eq!(result_of(&first, "/photos/a.jpg"), "uploaded");
    let total = summary_line(&first);
    assert_eq!(total["files"], 4, "{first:?}");
    assert_eq!(total["bytes"], 1000 + (3 << 20) + 10, "{first:?}");
    assert_eq!(total["failed"], 0);
    assert_same_tree(&local, &fixture.home().join("photos"));
    assert!(fixture.home().join("photos/empty/deeper").is_dir());

    // The same command again: every file skipped by the quick check, nothing read or sent.
    let output = fixture.ftp(&["--json", "put", "-r", local.to_str().unwrap()]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let again = json_lines(&output);
    assert_eq!(result_of(&again, "/photos/2026/b.jpg"), "skipped");
    let line = again
        .iter()
        .find(|line| line["remote"] == "/photos/a.jpg")
        .unwrap();
    assert_eq!(line["reason"], "same size and time");
    let total = summary_line(&again);
    assert_eq!(
        (total["files"].as_u64(), total["bytes"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(total["skipped"], 4);

    // For a person: the summary line, and nothing at all with --quiet.
    let output = fixture.ftp(&["put", "-r", local.to_str().unwrap()]);
    assert_eq!(code(&output), 0);
    assert!(
        stdout(&output).contains("0 files, 0 B, 4 skipped"),
        "{}",
        stdout(&output)
    );
    assert!(
        stderr(&output).contains("4 of 4 files"),
        "{}",
        stderr(&output)
    );
    let output = fixture.ftp(&["--quiet", "put", "-r", local.to_str().unwrap()]);
    assert_eq!(code(&output), 0);
    assert_eq!(stdout(&output), "");
}

#[test]
fn a_changed_file_is_refused_and_the_rest_still_go_until_force_replaces_it() {
    let fixture = fixture();
    let local = fixture.local_tree();
    let path = local.to_str().unwrap();
    assert_eq!(code(&fixture.ftp(&["put", "-r", path])), 0);
    // One file changed (other size), one new.
    random_file(&local.join("a.jpg"), 1001, 9);
    random_file(&local.join("2026/new.jpg"), 5, 9);
    let output = fixture.ftp(&["--json", "put", "-r", path]);
    assert_eq!(code(&output), 4, "{}", stderr(&output));
    let refused = json_lines(&output);
    assert_eq!(result_of(&refused, "/photos/a.jpg"), "failed");
    let line = refused
        .iter()
        .find(|line| line["remote"] == "/photos/a.jpg")
        .unwrap();
    assert_eq!(line["exit_code"], 4);
    assert!(
        line["error"].as_str().unwrap().contains("--force"),
        "{line}"
    );
    assert_eq!(result_of(&refused, "/photos/2026/new.jpg"), "uploaded");
    assert_eq!(summary_line(&refused)["failed"], 1);
    assert_eq!(
        std::fs::metadata(fixture.home().join("photos/a.jpg"))
            .unwrap()
            .len(),
        1000,
        "the refused file is untouched"
    );

    let output = fixture.ftp(&["--json", "put", "-r", "--force", path]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(result_of(&json_lines(&output), "/photos/a.jpg"), "replaced");
    assert_same_tree(&local, &fixture.home().join("photos"));
}

#[test]
fn checksum_finds_other_content_of_the_same_size_and_time() {
    let fixture = fixture();
    let local = fixture.local_tree();
    let path = local.to_str().unwrap();
    assert_eq!(code(&fixture.ftp(&["put", "-r", path])), 0);
    // Other bytes, same size, same time: the quick check cannot see it.
    let stored = fixture.home().join("photos/2026/june/c.jpg");
    random_file(&stored, 10, 77);
    set_time(&stored, 1_000_000_002, 123_456_789);
    let quick = json_lines(&fixture.ftp(&["--json", "put", "-r", path]));
    assert_eq!(result_of(&quick, "/photos/2026/june/c.jpg"), "skipped");

    let output = fixture.ftp(&["--json", "put", "-r", "--checksum", path]);
    assert_eq!(code(&output), 4, "{}", stderr(&output));
    let summed = json_lines(&output);
    assert_eq!(result_of(&summed, "/photos/2026/june/c.jpg"), "failed");
    assert_eq!(result_of(&summed, "/photos/a.jpg"), "identical");

    let output = fixture.ftp(&["--json", "put", "-r", "--checksum", "--force", path]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(
        result_of(&json_lines(&output), "/photos/2026/june/c.jpg"),
        "replaced"
    );
    assert!(same_content(&local.join("2026/june/c.jpg"), &stored));
}

#[test]
fn the_destination_names_the_copy_and_a_trailing_slash_means_inside() {
    let fixture = fixture();
    let local = fixture.local_tree();
    let path = local.to_str().unwrap();
    for (remote, copy) in [
        ("backup/", "backup/photos"),
        ("pics", "pics"),
        ("deep/er/pics", "deep/er/pics"),
    ] {
        let output = fixture.ftp(&["--quiet", "put", "-r", path, remote]);
        assert_eq!(code(&output), 0, "{remote}: {}", stderr(&output));
        assert_same_tree(&local, &fixture.home().join(copy));
    }
    // `.` is the folder's own name.
    let mut command = fixture.server.ftp("alice", PASSWORD);
    command
        .args(["--quiet", "put", "-r", ".", "dot/"])
        .current_dir(&local);
    let output = e2e::run(command, None);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_same_tree(&local, &fixture.home().join("dot/photos"));
    // A file is not a folder; a remote file is not a folder either.
    let output = fixture.ftp(&["put", "-r", local.join("a.jpg").to_str().unwrap()]);
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    let output = fixture.ftp(&["put", "-r", path, "pics/a.jpg"]);
    assert_eq!(code(&output), 4, "{}", stderr(&output));
}

#[test]
fn local_links_are_skipped_unless_followed() {
    let fixture = fixture();
    let local = fixture.local_tree();
    let elsewhere = fixture.site.dir.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::write(elsewhere.join("secret.txt"), "pointed to").unwrap();
    std::os::unix::fs::symlink(&elsewhere, local.join("folder-link")).unwrap();
    std::os::unix::fs::symlink(local.join("a.jpg"), local.join("file-link")).unwrap();
    std::os::unix::fs::symlink(&local, local.join("2026/loop")).unwrap();
    // A FIFO is never opened (it would block), a name that is not UTF-8 cannot be a remote one.
    let fifo = std::process::Command::new("mkfifo")
        .arg(local.join("pipe"))
        .status()
        .unwrap();
    assert!(fifo.success());
    use std::os::unix::ffi::OsStrExt;
    std::fs::write(local.join(std::ffi::OsStr::from_bytes(b"bad\xff")), "x").unwrap();
    let path = local.to_str().unwrap();

    let output = fixture.ftp(&["--json", "put", "-r", path]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let plain = json_lines(&output);
    assert_eq!(result_of(&plain, "/photos/file-link"), "skipped");
    assert_eq!(result_of(&plain, "/photos/folder-link"), "skipped");
    assert!(!fixture.home().join("photos/folder-link").exists());
    assert!(!fixture.home().join("photos/file-link").exists());
    assert_eq!(result_of(&plain, "/photos/pipe"), "skipped");
    assert!(
        plain
            .iter()
            .any(|line| line["reason"] == "name is not valid UTF-8"),
        "{plain:?}"
    );
    assert_eq!(summary_line(&plain)["skipped"], 5, "{plain:?}");
    let text = fixture.ftp(&["put", "-r", path, "again"]);
    assert!(
        stderr(&text).contains("file-link: skipped (symbolic link)"),
        "{}",
        stderr(&text)
    );

    let output = fixture.ftp(&["--json", "put", "-r", "-L", path, "followed"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let followed = fixture.home().join("followed");
    assert_eq!(
        std::fs::read(followed.join("folder-link/secret.txt")).unwrap(),
        b"pointed to"
    );
    assert!(same_content(
        &local.join("a.jpg"),
        &followed.join("file-link")
    ));
    assert!(
        json_lines(&output)
            .iter()
            .any(|line| line["reason"] == "symbolic link loop"),
        "the loop is reported, not walked forever"
    );
}

#[test]
fn a_read_only_user_is_refused_per_file() {
    let fixture = fixture();
    let local = fixture.local_tree();
    let output = fixture.ftp_as(
        "reader",
        "reader-pw",
        &["--json", "put", "-r", local.to_str().unwrap()],
    );
    assert_eq!(code(&output), 4, "{}", stderr(&output));
    assert!(!fixture.home().join("photos").exists());
}
