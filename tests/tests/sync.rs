//! `ftp sync SRC DST` through the real binaries, both ways: a first sync copies the tree, a
//! second after 1 % of the files changed moves only those (replaced without `--force`);
//! `--delete` removes what SRC lacks (files and whole folders) on either side, and a local
//! link among them goes as the link, never what it points to; `--dry-run` prints one line per
//! action and changes nothing; `--max-delete` and an empty or missing SRC never delete; and
//! the arguments are checked before anything moves.

// Test code: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use e2e::trees::{snapshot, summary_line};
use e2e::{Server, Site, code, random_file, stderr, stdout};

const PASSWORD: &str = "alice-pw";
/// Files in the test tree: 10 folders of 10.
const FILES: usize = 100;

/// A server with alice, a local folder and alice's home.
struct Fixture {
    /// Keeps the temp folders.
    site: Site,
    /// The running server.
    server: Server,
    /// A local folder to sync from or into.
    local: PathBuf,
    /// Alice's home on the server's disk.
    home: PathBuf,
}

fn fixture() -> Fixture {
    let site = Site::new("");
    site.add_user("alice", PASSWORD, &[]);
    let home = site.root().join("alice");
    std::fs::create_dir_all(&home).unwrap();
    let local = site.dir.path().join("local");
    std::fs::create_dir_all(&local).unwrap();
    let server = site.start();
    Fixture {
        site,
        server,
        local,
        home,
    }
}

impl Fixture {
    /// Runs `ftp ARGS` (in the local folder); returns the exit code, stdout and stderr.
    fn ftp(&self, args: &[&str]) -> (i32, String, String) {
        let mut command = self.server.ftp("alice", PASSWORD);
        command.args(args).current_dir(&self.local);
        let output = e2e::run(command, None);
        (code(&output), stdout(&output), stderr(&output))
    }

    /// Runs `ftp --json ARGS`; returns the exit code, the lines and stderr.
    fn json(&self, args: &[&str]) -> (i32, Vec<serde_json::Value>, String) {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let (status, out, err) = self.ftp(&all);
        let lines = out
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line:?}")))
            .collect();
        (status, lines, err)
    }
}

/// Writes `small/dN/fN.txt` ([`FILES`] files of 1 KiB) and an empty folder `empty/`.
fn make_tree(root: &Path) {
    for index in 0..FILES {
        let folder = root.join(format!("small/d{}", index / 10));
        std::fs::create_dir_all(&folder).unwrap();
        random_file(
            &folder.join(format!("f{}.txt", index % 10)),
            1024,
            index as u64,
        );
    }
    std::fs::create_dir_all(root.join("empty")).unwrap();
}

/// The lines whose `result` is `result`.
fn results<'a>(lines: &'a [serde_json::Value], result: &str) -> Vec<&'a serde_json::Value> {
    lines.iter().filter(|l| l["result"] == result).collect()
}

/// Rewrites every hundredth file with new content of the same size (its time changes too).
fn change_one_percent(root: &Path) -> Vec<String> {
    let mut changed = Vec::new();
    for index in (0..FILES).step_by(100) {
        let name = format!("small/d{}/f{}.txt", index / 10, index % 10);
        random_file(&root.join(&name), 1024, 5000 + index as u64);
        changed.push(name);
    }
    changed
}

#[test]
fn sync_up_copies_then_moves_only_what_changed() {
    let f = fixture();
    let source = f.local.join("photos");
    make_tree(&source);
    let src = source.to_str().unwrap();
    let (status, lines, err) = f.json(&["sync", src, ":backup/photos"]);
    assert_eq!(status, 0, "{err}");
    assert_eq!(summary_line(&lines)["files"], FILES as u64);
    let remote = f.home.join("backup/photos");
    assert_eq!(snapshot(&remote), snapshot(&source));

    let changed = change_one_percent(&source);
    let (status, lines, err) = f.json(&["sync", src, ":backup/photos"]);
    assert_eq!(status, 0, "{err}");
    let counts = summary_line(&lines);
    assert_eq!(counts["files"], changed.len() as u64, "{lines:#?}");
    assert_eq!(counts["bytes"], 1024 * changed.len() as u64);
    assert_eq!(counts["skipped"], (FILES - changed.len()) as u64);
    let replaced = results(&lines, "replaced");
    assert_eq!(replaced.len(), changed.len(), "replaced without --force");
    assert!(replaced.iter().all(|line| line["op"] == "sync"));
    assert_eq!(snapshot(&remote), snapshot(&source));

    let (status, lines, err) = f.json(&["sync", src, ":backup/photos"]);
    assert_eq!(status, 0, "{err}");
    assert_eq!(
        summary_line(&lines)["files"],
        0,
        "nothing changed: nothing moves"
    );
}

#[test]
fn sync_down_copies_then_moves_only_what_changed() {
    let f = fixture();
    let source = f.home.join("site/www");
    make_tree(&source);
    let (status, lines, err) = f.json(&["sync", ":site/www", "copies/"]);
    assert_eq!(status, 0, "{err}");
    assert_eq!(summary_line(&lines)["files"], FILES as u64);
    let copy = f.local.join("copies/www");
    assert_eq!(
        snapshot(&copy),
        snapshot(&source),
        "a trailing / means inside"
    );

    let changed = change_one_percent(&source);
    let (status, lines, err) = f.json(&["sync", ":site/www", "copies/"]);
    assert_eq!(status, 0, "{err}");
    assert_eq!(
        summary_line(&lines)["files"],
        changed.len() as u64,
        "{lines:#?}"
    );
    assert_eq!(results(&lines, "replaced").len(), changed.len());
    assert_eq!(snapshot(&copy), snapshot(&source));
}

/// Extra entries in a destination: a file, and a folder holding a folder and a file.
fn add_extras(destination: &Path) {
    std::fs::create_dir_all(destination.join("old/deeper")).unwrap();
    std::fs::write(destination.join("old/deeper/x.txt"), "x").unwrap();
    std::fs::write(destination.join("small/stray.txt"), "stray").unwrap();
}

#[test]
fn delete_removes_what_src_lacks_on_the_server() {
    let f = fixture();
    let source = f.local.join("photos");
    make_tree(&source);
    let src = source.to_str().unwrap();
    let (status, _, err) = f.json(&["sync", src, ":photos"]);
    assert_eq!(status, 0, "{err}");
    let remote = f.home.join("photos");
    add_extras(&remote);

    let (status, lines, err) = f.json(&["sync", src, ":photos"]);
    assert_eq!(status, 0, "{err}");
    assert!(
        remote.join("old").exists(),
        "nothing deleted without --delete"
    );
    assert_eq!(summary_line(&lines)["deleted"], 0);

    let (status, lines, err) = f.json(&["sync", src, ":photos", "--delete"]);
    assert_eq!(status, 0, "{err}");
    assert_eq!(snapshot(&remote), snapshot(&source));
    assert_eq!(
        summary_line(&lines)["deleted"],
        4,
        "stray.txt, old/, old/deeper/, x.txt"
    );
    let deleted = results(&lines, "deleted");
    let mut paths: Vec<(&str, &str)> = deleted
        .iter()
        .map(|l| (l["path"].as_str().unwrap(), l["kind"].as_str().unwrap()))
        .collect();
    paths.sort_unstable();
    assert_eq!(
        paths,
        [("/photos/old", "dir"), ("/photos/small/stray.txt", "file")],
        "a folder goes whole, in one line"
    );
}

#[test]
fn delete_removes_what_src_lacks_here_and_never_follows_a_link() {
    let f = fixture();
    let source = f.home.join("www");
    make_tree(&source);
    let copy = f.local.join("www");
    let (status, _, err) = f.json(&["sync", ":www", "www"]);
    assert_eq!(status, 0, "{err}");
    add_extras(&copy);
    let outside = f.site.dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("precious.txt"), "keep me").unwrap();
    std::os::unix::fs::symlink(&outside, copy.join("small/link")).unwrap();
    std::os::unix::fs::symlink(&outside, copy.join("old/deeper/inner-link")).unwrap();

    let before = snapshot(&copy);
    let (status, lines, err) = f.json(&["sync", ":www", "www", "--delete", "--dry-run"]);
    assert_eq!(status, 0, "{err}");
    assert_eq!(
        snapshot(&copy),
        before,
        "a dry run changes nothing here either"
    );
    assert_eq!(summary_line(&lines)["deleted"], 6, "{lines:#?}");
    assert_eq!(summary_line(&lines)["dry_run"], true);

    let (status, lines, err) = f.json(&["sync", ":www", "www", "--delete"]);
    assert_eq!(status, 0, "{err}");
    assert_eq!(snapshot(&copy), snapshot(&source));
    assert_eq!(summary_line(&lines)["deleted"], 6, "{lines:#?}");
    assert!(
        std::fs::symlink_metadata(copy.join("small/link")).is_err(),
        "the link went"
    );
    assert_eq!(
        std::fs::read_to_string(outside.join("precious.txt")).unwrap(),
        "keep me",
        "what the links pointed to stays"
    );
}

#[test]
fn dry_run_prints_one_line_per_action_and_changes_nothing() {
    let f = fixture();
    let source = f.local.join("photos");
    make_tree(&source);
    let src = source.to_str().unwrap();
    let (status, _, err) = f.json(&["sync", src, ":photos"]);
    assert_eq!(status, 0, "{err}");
    let remote = f.home.join("photos");
    add_extras(&remote);
    let changed = change_one_percent(&source);
    std::fs::write(source.join("new.txt"), "new").unwrap();
    let before = snapshot(&remote);

    let (status, lines, err) = f.json(&["sync", src, ":photos", "--delete", "--dry-run"]);
    assert_eq!(status, 0, "{err}");
    assert_eq!(snapshot(&remote), before, "a dry run changes nothing");
    assert!(
        lines.iter().all(|line| line["dry_run"] == true),
        "{lines:#?}"
    );
    let uploaded = results(&lines, "uploaded");
    assert_eq!(uploaded.len(), 1);
    assert_eq!(uploaded[0]["remote"], "/photos/new.txt");
    assert_eq!(results(&lines, "replaced").len(), changed.len());
    assert_eq!(results(&lines, "deleted").len(), 2);
    let counts = summary_line(&lines);
    assert_eq!(counts["files"], 1 + changed.len() as u64);
    assert_eq!(counts["deleted"], 4);

    let (status, out, err) = f.ftp(&["sync", src, ":photos", "--delete", "--dry-run"]);
    assert_eq!(status, 0, "{err}");
    assert_eq!(snapshot(&remote), before);
    let actions: Vec<&str> = out
        .lines()
        .filter(|line| {
            line.starts_with("upload ")
                || line.starts_with("replace ")
                || line.starts_with("delete ")
        })
        .collect();
    assert_eq!(actions.len(), 1 + changed.len() + 2, "{out}");
    assert!(out.contains("upload new.txt (3 B)"), "{out}");
    assert!(out.contains(&format!("replace {}", changed[0])), "{out}");
    assert!(out.contains("delete small/stray.txt"), "{out}");
    assert!(out.contains("delete old/"), "{out}");
}

#[test]
fn max_delete_stops_before_deleting_but_still_transfers() {
    let f = fixture();
    let source = f.local.join("photos");
    make_tree(&source);
    let src = source.to_str().unwrap();
    let (status, _, err) = f.json(&["sync", src, ":photos"]);
    assert_eq!(status, 0, "{err}");
    let remote = f.home.join("photos");
    add_extras(&remote);
    std::fs::write(source.join("new.txt"), "new").unwrap();

    let (status, lines, err) = f.json(&["sync", src, ":photos", "--delete", "--max-delete", "3"]);
    assert_eq!(status, 4, "{err}");
    assert!(remote.join("old/deeper/x.txt").exists() && remote.join("small/stray.txt").exists());
    assert_eq!(
        std::fs::read_to_string(remote.join("new.txt")).unwrap(),
        "new"
    );
    assert_eq!(summary_line(&lines)["deleted"], 0);
    let failed = results(&lines, "failed");
    assert_eq!(failed.len(), 1, "{lines:#?}");
    let error = failed[0]["error"].as_str().unwrap();
    assert!(
        error.contains("4 files and folders would be deleted") && error.contains("nothing deleted"),
        "{error}"
    );

    let (status, _, err) = f.json(&["sync", src, ":photos", "--delete", "--max-delete", "4"]);
    assert_eq!(status, 0, "{err}");
    assert_eq!(snapshot(&remote), snapshot(&source));
}

#[test]
fn an_empty_source_never_deletes_either_way() {
    let f = fixture();
    let full = f.local.join("full");
    make_tree(&full);
    let (status, _, err) = f.json(&["sync", full.to_str().unwrap(), ":photos"]);
    assert_eq!(status, 0, "{err}");
    let remote = f.home.join("photos");
    let before = snapshot(&remote);

    let empty = f.local.join("photos");
    std::fs::create_dir_all(&empty).unwrap();
    let (status, _, err) = f.ftp(&["sync", empty.to_str().unwrap(), ":photos", "--delete"]);
    assert_eq!(status, 4, "{err}");
    assert!(
        err.contains("SRC is empty: refusing to delete everything in DST (nothing deleted)"),
        "{err}"
    );
    assert_eq!(snapshot(&remote), before);

    std::fs::create_dir_all(f.home.join("blank")).unwrap();
    let copy = f.local.join("full");
    let mine = snapshot(&copy);
    let (status, _, err) = f.ftp(&["sync", ":blank", "full", "--delete"]);
    assert_eq!(status, 4, "{err}");
    assert!(err.contains("SRC is empty"), "{err}");
    assert_eq!(snapshot(&copy), mine);
}

#[test]
fn a_missing_source_is_an_error_before_anything() {
    let f = fixture();
    let remote = f.home.join("photos");
    make_tree(&remote);
    let before = snapshot(&remote);
    let missing = f.local.join("nowhere");
    let (status, _, err) = f.ftp(&["sync", missing.to_str().unwrap(), ":photos", "--delete"]);
    assert_eq!(status, 2, "{err}");
    assert!(err.contains("no such folder"), "{err}");
    assert_eq!(snapshot(&remote), before);

    let copy = f.local.join("photos");
    make_tree(&copy);
    let mine = snapshot(&copy);
    let (status, _, err) = f.ftp(&["sync", ":gone", "photos", "--delete"]);
    assert_eq!(status, 4, "{err}");
    assert_eq!(snapshot(&copy), mine);
}

#[test]
fn arguments_are_checked_before_anything_moves() {
    let f = fixture();
    make_tree(&f.local.join("photos"));
    for (src, dst) in [("photos", "elsewhere"), (":a", ":b")] {
        let (status, _, err) = f.ftp(&["sync", src, dst]);
        assert_eq!(status, 2, "{src} {dst}: {err}");
        assert!(err.contains("ftp sync LOCAL_DIR :REMOTE_DIR"), "{err}");
    }
    for (src, dst) in [
        ("photos", ":../escape"),
        (":../x", "here"),
        ("photos", ":a/../../b"),
    ] {
        let (status, _, err) = f.ftp(&["sync", src, dst]);
        assert_eq!(status, 4, "{src} {dst}: {err}");
    }
    assert!(!f.site.root().join("escape").exists());
    assert!(!f.local.join("here").exists());
}

#[test]
fn with_delete_what_is_in_the_way_goes_first_and_the_tree_lands() {
    let f = fixture();
    let source = f.local.join("photos");
    make_tree(&source);
    std::fs::write(source.join("was-a-folder"), "now a file").unwrap();
    std::fs::create_dir_all(source.join("was-a-file")).unwrap();
    std::fs::write(source.join("was-a-file/inside.txt"), "inside").unwrap();
    let remote = f.home.join("photos");
    std::fs::create_dir_all(remote.join("was-a-folder/deep")).unwrap();
    std::fs::write(remote.join("was-a-folder/deep/x"), "x").unwrap();
    std::fs::write(remote.join("was-a-file"), "a file").unwrap();
    std::fs::write(source.join("was-a-link"), "now a file").unwrap();
    let outside = f.site.dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("precious.txt"), "keep me").unwrap();
    std::os::unix::fs::symlink(&outside, remote.join("was-a-link")).unwrap();
    let src = source.to_str().unwrap();

    let (status, lines, err) = f.json(&["sync", src, ":photos"]);
    assert_eq!(
        status, 4,
        "without --delete, what is in the way is refused: {err}"
    );
    assert_eq!(results(&lines, "failed").len(), 3, "{lines:#?}");
    assert_eq!(
        std::fs::read_to_string(remote.join("was-a-folder/deep/x")).unwrap(),
        "x"
    );

    let (status, lines, err) = f.json(&["sync", src, ":photos", "--delete", "--dry-run"]);
    assert_eq!(status, 0, "{err}");
    assert_eq!(results(&lines, "deleted").len(), 3, "{lines:#?}");

    let (status, lines, err) = f.json(&["sync", src, ":photos", "--delete"]);
    assert_eq!(status, 0, "{err}");
    assert_eq!(snapshot(&remote), snapshot(&source));
    assert_eq!(
        summary_line(&lines)["deleted"],
        5,
        "was-a-folder/, deep/, x, was-a-file, was-a-link"
    );
    assert_eq!(
        std::fs::read_to_string(outside.join("precious.txt")).unwrap(),
        "keep me",
        "the link went, not what it pointed to"
    );
}
