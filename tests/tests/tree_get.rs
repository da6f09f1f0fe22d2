//! `ftp get -r REMOTE_DIR [LOCAL]` through the real binaries: a nested remote tree with an
//! empty folder copied whole, the server's modification times kept to the nanosecond, a
//! re-run that moves nothing, a changed local file refused or replaced with `--force`,
//! `--checksum`, the destination rule, remote links and names unusable here skipped with a
//! note, and a local link in the way refused, never written through.

// Test code: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Output;

use e2e::trees::{assert_same_tree, json_lines, line_about, set_time, summary_line};
use e2e::{Server, Site, code, random_file, stderr};

const PASSWORD: &str = "alice-password";

/// A server whose alice has the folder `site` in her home: small and large files, a nested
/// folder and an empty one, each file with its own old time.
struct Fixture {
    /// Keeps the temp folders.
    site: Site,
    /// The running server.
    server: Server,
}

fn fixture() -> Fixture {
    let site = Site::new("");
    site.add_user("alice", PASSWORD, &[]);
    let remote = site.root().join("alice/site");
    std::fs::create_dir_all(remote.join("css/fonts")).unwrap();
    std::fs::create_dir_all(remote.join("empty")).unwrap();
    random_file(&remote.join("index.html"), 700, 1);
    random_file(&remote.join("css/big.bin"), 3 << 20, 2);
    random_file(&remote.join("css/fonts/f.woff"), 20, 3);
    for (n, file) in ["index.html", "css/big.bin", "css/fonts/f.woff"]
        .iter()
        .enumerate()
    {
        set_time(&remote.join(file), 1_100_000_000 + n as u64, 987_654_321);
    }
    let server = site.start();
    Fixture { site, server }
}

impl Fixture {
    /// The remote folder, on the server's disk.
    fn remote(&self) -> PathBuf {
        self.site.root().join("alice/site")
    }

    /// A fresh local folder to run in.
    fn here(&self) -> PathBuf {
        let here = self.site.dir.path().join("here");
        std::fs::create_dir_all(&here).unwrap();
        here
    }

    /// Runs `ftp ARGS…` as alice in [`Fixture::here`].
    fn ftp(&self, args: &[&str]) -> Output {
        let mut command = self.server.ftp("alice", PASSWORD);
        command.args(args).current_dir(self.here());
        e2e::run(command, None)
    }
}

#[test]
fn a_remote_tree_comes_whole_with_times_and_a_rerun_moves_nothing() {
    let fixture = fixture();
    let output = fixture.ftp(&["--json", "get", "-r", "site"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let first = json_lines(&output);
    assert_eq!(
        line_about(&first, "/site/css/big.bin")["result"],
        "downloaded"
    );
    let total = summary_line(&first);
    assert_eq!(total["files"], 3, "{first:?}");
    assert_eq!(total["bytes"], 700 + (3 << 20) + 20);
    let copy = fixture.here().join("site");
    assert_same_tree(&fixture.remote(), &copy);
    assert!(copy.join("empty").is_dir());

    let output = fixture.ftp(&["--json", "get", "-r", "site"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let again = json_lines(&output);
    let line = line_about(&again, "/site/index.html");
    assert_eq!(line["result"], "skipped");
    assert_eq!(line["reason"], "same size and time");
    let total = summary_line(&again);
    assert_eq!(
        (total["files"].as_u64(), total["bytes"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(total["skipped"], 3);
}

#[test]
fn a_changed_local_file_is_refused_until_force_and_checksum_sees_content() {
    let fixture = fixture();
    assert_eq!(code(&fixture.ftp(&["--quiet", "get", "-r", "site"])), 0);
    let copy = fixture.here().join("site");
    // Other size: refused, the rest still goes (a file new on the server comes).
    random_file(&copy.join("index.html"), 701, 8);
    random_file(&fixture.remote().join("css/new.css"), 30, 8);
    let output = fixture.ftp(&["--json", "get", "-r", "site"]);
    assert_eq!(code(&output), 4, "{}", stderr(&output));
    let refused = json_lines(&output);
    assert_eq!(line_about(&refused, "/site/index.html")["result"], "failed");
    assert_eq!(line_about(&refused, "/site/index.html")["exit_code"], 4);
    assert_eq!(
        line_about(&refused, "/site/css/new.css")["result"],
        "downloaded"
    );
    assert_eq!(
        std::fs::metadata(copy.join("index.html")).unwrap().len(),
        701
    );
    let output = fixture.ftp(&["--json", "get", "-r", "--force", "site"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(
        line_about(&json_lines(&output), "/site/index.html")["result"],
        "replaced"
    );
    assert_same_tree(&fixture.remote(), &copy);

    // Same size and time, other content: only --checksum sees it.
    let local = copy.join("css/fonts/f.woff");
    random_file(&local, 20, 55);
    set_time(&local, 1_100_000_002, 987_654_321);
    let quick = json_lines(&fixture.ftp(&["--json", "get", "-r", "site"]));
    assert_eq!(
        line_about(&quick, "/site/css/fonts/f.woff")["result"],
        "skipped"
    );
    let output = fixture.ftp(&["--json", "get", "-r", "--checksum", "site"]);
    assert_eq!(code(&output), 4, "{}", stderr(&output));
    let summed = json_lines(&output);
    assert_eq!(
        line_about(&summed, "/site/css/fonts/f.woff")["result"],
        "failed"
    );
    assert_eq!(
        line_about(&summed, "/site/index.html")["result"],
        "identical"
    );
    let output = fixture.ftp(&["--json", "get", "-r", "--checksum", "--force", "site"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_same_tree(&fixture.remote(), &copy);
}

#[test]
fn the_destination_names_the_copy() {
    let fixture = fixture();
    for (local, copy) in [("out/", "out/site"), ("named", "named"), ("a/b/c", "a/b/c")] {
        let output = fixture.ftp(&["--quiet", "get", "-r", "site", local]);
        assert_eq!(code(&output), 0, "{local}: {}", stderr(&output));
        assert_same_tree(&fixture.remote(), &fixture.here().join(copy));
    }
    // The home has no name: LOCAL is needed.
    let output = fixture.ftp(&["get", "-r", "/"]);
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("give LOCAL"),
        "{}",
        stderr(&output)
    );
    let output = fixture.ftp(&["--quiet", "get", "-r", "/", "home"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_same_tree(&fixture.remote(), &fixture.here().join("home/site"));
    // Missing, or a file: exit 4.
    assert_eq!(code(&fixture.ftp(&["get", "-r", "nothing"])), 4);
    assert_eq!(
        code(&fixture.ftp(&["get", "-r", "site/index.html", "x"])),
        4
    );
}

#[test]
fn remote_links_and_unusable_names_are_skipped_with_a_note() {
    let fixture = fixture();
    let remote = fixture.remote();
    std::os::unix::fs::symlink("index.html", remote.join("link.html")).unwrap();
    std::fs::write(remote.join("back\\slash"), "b").unwrap();
    std::fs::write(remote.join("bell\u{7}"), "c").unwrap();
    let output = fixture.ftp(&["--json", "get", "-r", "site"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let json = json_lines(&output);
    assert_eq!(line_about(&json, "/site/link.html")["result"], "skipped");
    assert_eq!(line_about(&json, "/site/back\\slash")["result"], "skipped");
    let copy = fixture.here().join("site");
    assert!(std::fs::symlink_metadata(copy.join("link.html")).is_err());
    assert!(std::fs::symlink_metadata(copy.join("back\\slash")).is_err());
    assert!(std::fs::symlink_metadata(copy.join("bell\u{7}")).is_err());
    assert!(copy.join("index.html").is_file());
    assert_eq!(summary_line(&json)["skipped"], 3);

    let text = fixture.ftp(&["get", "-r", "site", "again"]);
    assert_eq!(code(&text), 0, "{}", stderr(&text));
    assert!(
        stderr(&text).contains("link.html: skipped (symbolic link)"),
        "{}",
        stderr(&text)
    );
    assert!(
        stderr(&text).contains("bell\\u{7}: skipped"),
        "{}",
        stderr(&text)
    );
}

#[test]
fn a_local_link_in_the_way_is_refused_never_written_through() {
    let fixture = fixture();
    let elsewhere = fixture.site.dir.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let copy = fixture.here().join("site");
    std::fs::create_dir_all(&copy).unwrap();
    std::os::unix::fs::symlink(&elsewhere, copy.join("css")).unwrap();
    let output = fixture.ftp(&["--json", "get", "-r", "site"]);
    assert_eq!(code(&output), 4, "{}", stderr(&output));
    let json = json_lines(&output);
    assert_eq!(line_about(&json, "/site/css")["result"], "failed");
    assert_eq!(
        line_about(&json, "/site/index.html")["result"],
        "downloaded"
    );
    assert_eq!(
        std::fs::read_dir(&elsewhere).unwrap().count(),
        0,
        "nothing written through"
    );

    // The copy itself a link: refused before anything is written.
    let linked = fixture.here().join("linked");
    std::os::unix::fs::symlink(&elsewhere, &linked).unwrap();
    let output = fixture.ftp(&["get", "-r", "site", "linked"]);
    assert_eq!(code(&output), 4, "{}", stderr(&output));
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
}
