//! `ftp rm -r PATH` through the real binaries: a whole tree goes (links inside removed, their
//! targets kept), counted in text and JSON; the home, a read-only user and a missing path are
//! refused (exit 4) with nothing removed; a plain `rm` of a non-empty folder hints at `-r`.

// Test code: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use e2e::{Site, code, stderr, stdout};

/// A site with alice and the read-only reader (same home), alice holding `t/` (`a`, `b/c`,
/// `b/d/`, `link -> ../keep`) and `keep/k`.
fn site() -> Site {
    let site = Site::new("");
    site.add_user("alice", "alice-pw", &[]);
    site.add_user("reader", "reader-pw", &["--read-only", "--home", "alice"]);
    let home = site.root().join("alice");
    std::fs::create_dir_all(home.join("t/b/d")).unwrap();
    std::fs::create_dir_all(home.join("keep")).unwrap();
    std::fs::write(home.join("t/a"), "a").unwrap();
    std::fs::write(home.join("t/b/c"), "c").unwrap();
    std::fs::write(home.join("keep/k"), "k").unwrap();
    std::os::unix::fs::symlink("../keep", home.join("t/link")).unwrap();
    site
}

#[test]
fn a_tree_goes_whole_and_is_counted() {
    let site = site();
    let server = site.start();
    let home = site.root().join("alice");
    let output = server.run_ftp("alice", "alice-pw", &["rm", "-r", "t"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(stdout(&output), "removed /t: 3 files, 3 folders\n");
    assert!(!home.join("t").exists());
    assert_eq!(std::fs::read(home.join("keep/k")).unwrap(), b"k");
    std::fs::create_dir_all(home.join("u/v")).unwrap();
    let json = server.run_ftp("alice", "alice-pw", &["--json", "rm", "-r", "u"]);
    assert_eq!(code(&json), 0, "{}", stderr(&json));
    let line: serde_json::Value = serde_json::from_str(stdout(&json).trim()).unwrap();
    assert_eq!(
        line,
        serde_json::json!({"op": "rm", "path": "/u", "files": 0, "folders": 2})
    );
}

#[test]
fn home_read_only_and_missing_are_refused_with_nothing_removed() {
    let site = site();
    let server = site.start();
    let home = site.root().join("alice");
    for (user, password, path) in [
        ("alice", "alice-pw", "/"),
        ("alice", "alice-pw", "."),
        ("reader", "reader-pw", "t"),
        ("alice", "alice-pw", "nothing"),
        ("alice", "alice-pw", "../alice/t"),
    ] {
        let output = server.run_ftp(user, password, &["rm", "-r", path]);
        assert_eq!(code(&output), 4, "{user} {path}: {}", stderr(&output));
        assert!(stdout(&output).is_empty());
    }
    assert!(home.join("t/b/c").exists());
    assert!(home.join("keep/k").exists());
}

#[test]
fn a_plain_rm_of_a_full_folder_hints_at_r() {
    let site = site();
    let server = site.start();
    let output = server.run_ftp("alice", "alice-pw", &["rm", "t"]);
    assert_eq!(code(&output), 4, "{}", stderr(&output));
    assert!(stderr(&output).contains("rm -r"), "{}", stderr(&output));
    assert!(site.root().join("alice/t/a").exists());
}
