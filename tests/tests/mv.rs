//! `ftp mv SRC DST [--force]` through the real binaries: files and folders renamed within the
//! home, into folders, over files only with `--force`, and every refusal (exit 4) checked
//! against the disk afterwards: nothing moved, nothing replaced, nothing outside the home touched.

// Test code: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::symlink;
use std::path::PathBuf;

use e2e::{Server, Site, code, stderr, stdout};

/// A server with alice (may write) and reader (read-only, same home), and alice's home holding
/// `a.txt` ("A"), `b.txt` ("B") and the folder `docs/` with `docs/one.txt` ("1").
struct Fixture {
    /// Keeps the temp folders.
    _site: Site,
    /// The running server.
    server: Server,
    /// Alice's home.
    home: PathBuf,
    /// A file beside the homes, outside every home.
    outside: PathBuf,
}

/// Starts the server over a fresh [`Fixture`].
fn fixture() -> Fixture {
    let site = Site::new("");
    site.add_user("alice", "alice-pw", &[]);
    site.add_user("reader", "reader-pw", &["--read-only", "--home", "alice"]);
    let home = site.root().join("alice");
    std::fs::create_dir_all(home.join("docs")).unwrap();
    std::fs::write(home.join("a.txt"), "A").unwrap();
    std::fs::write(home.join("b.txt"), "B").unwrap();
    std::fs::write(home.join("docs/one.txt"), "1").unwrap();
    let outside = site.root().join("outside.txt");
    std::fs::write(&outside, "OUT").unwrap();
    let server = site.start();
    Fixture {
        _site: site,
        server,
        home,
        outside,
    }
}

impl Fixture {
    /// Runs `ftp mv ARGS…` as alice; returns the exit code and stderr.
    fn mv(&self, args: &[&str]) -> (i32, String) {
        self.mv_as("alice", "alice-pw", args)
    }

    /// Runs `ftp mv ARGS…` as `user`; returns the exit code and stderr.
    fn mv_as(&self, user: &str, password: &str, args: &[&str]) -> (i32, String) {
        let mut all = vec!["mv"];
        all.extend_from_slice(args);
        let output = self.server.run_ftp(user, password, &all);
        (code(&output), stderr(&output))
    }

    /// The content of `path` in alice's home.
    fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.home.join(path)).unwrap()
    }
}

#[test]
fn a_file_is_renamed_and_json_says_where_it_went() {
    let f = fixture();
    let output = f
        .server
        .run_ftp("alice", "alice-pw", &["--json", "mv", "a.txt", "c.txt"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_str(stdout(&output).trim()).unwrap();
    assert_eq!(json["op"], "mv");
    assert_eq!(json["from"], "/a.txt");
    assert_eq!(json["to"], "/c.txt");
    assert_eq!(json["result"], "moved");
    assert!(!f.home.join("a.txt").exists());
    assert_eq!(f.read("c.txt"), "A");
}

#[test]
fn a_folder_moves_with_its_contents_and_into_an_existing_folder() {
    let f = fixture();
    assert_eq!(f.mv(&["docs", "papers"]).0, 0);
    assert_eq!(f.read("papers/one.txt"), "1");
    assert!(!f.home.join("docs").exists());
    assert_eq!(f.mv(&["a.txt", "papers"]).0, 0);
    assert_eq!(f.read("papers/a.txt"), "A");
    assert_eq!(f.mv(&["b.txt", "papers/"]).0, 0);
    assert_eq!(f.read("papers/b.txt"), "B");
}

#[test]
fn an_existing_destination_needs_force_and_then_only_a_file_replaces_a_file() {
    let f = fixture();
    let (status, err) = f.mv(&["a.txt", "b.txt"]);
    assert_eq!(status, 4, "{err}");
    assert!(
        err.contains("already exists; use --force to replace it"),
        "{err}"
    );
    assert_eq!((f.read("a.txt"), f.read("b.txt")), ("A".into(), "B".into()));

    let (status, err) = f.mv(&["docs", "b.txt", "--force"]);
    assert_eq!(status, 4, "{err}");
    assert!(err.contains("a folder never replaces a file"), "{err}");
    assert_eq!(f.read("b.txt"), "B");
    assert_eq!(f.read("docs/one.txt"), "1");

    std::fs::create_dir_all(f.home.join("box/docs")).unwrap();
    let (status, err) = f.mv(&["docs", "box", "--force"]);
    assert_eq!(status, 4, "{err}");
    assert!(err.contains("never replaces a folder"), "{err}");
    assert_eq!(f.read("docs/one.txt"), "1");

    assert_eq!(f.mv(&["a.txt", "b.txt", "--force"]).0, 0);
    assert_eq!(f.read("b.txt"), "A");
    assert!(!f.home.join("a.txt").exists());
}

#[test]
fn missing_sources_parents_the_home_and_a_folder_into_itself_are_refused() {
    let f = fixture();
    let (status, err) = f.mv(&["nope.txt", "x.txt"]);
    assert_eq!(status, 4, "{err}");
    assert!(err.contains("no such file"), "{err}");
    let (status, err) = f.mv(&["a.txt", "no/such/folder/a.txt"]);
    assert_eq!(status, 4, "{err}");
    assert!(err.contains("does not exist"), "{err}");
    assert!(!f.home.join("no").exists());
    for (from, to) in [
        ("docs", "docs/inner"),
        ("docs", "docs/"),
        ("/", "x"),
        (".", "docs"),
    ] {
        let (status, err) = f.mv(&[from, to]);
        assert_eq!(status, 4, "mv {from} {to}: {err}");
    }
    assert_eq!(f.read("docs/one.txt"), "1");
    assert_eq!(f.read("a.txt"), "A");
}

#[test]
fn escapes_are_refused_and_nothing_outside_the_home_is_touched() {
    let f = fixture();
    symlink("..", f.home.join("up")).unwrap();
    symlink(&f.outside, f.home.join("out-link")).unwrap();
    for (from, to) in [
        ("../outside.txt", "stolen.txt"),
        ("/../outside.txt", "stolen.txt"),
        ("up/outside.txt", "stolen.txt"),
        ("a.txt", "../a.txt"),
        ("a.txt", "/../a.txt"),
        ("a.txt", "up/a.txt"),
        ("a.txt", "up/"),
    ] {
        let (status, err) = f.mv(&[from, to, "--force"]);
        assert_eq!(status, 4, "mv {from} {to}: {err}");
    }
    assert_eq!(std::fs::read_to_string(&f.outside).unwrap(), "OUT");
    assert!(!f.home.join("stolen.txt").exists());
    assert!(!f.home.parent().unwrap().join("a.txt").exists());
    assert_eq!(f.read("a.txt"), "A");
    // The link to the outside file is moved as the link; its target stays where it is.
    assert_eq!(f.mv(&["out-link", "docs/link"]).0, 0);
    let moved = f.home.join("docs/link");
    assert!(moved.symlink_metadata().unwrap().file_type().is_symlink());
    assert_eq!(std::fs::read_link(&moved).unwrap(), f.outside);
    assert_eq!(std::fs::read_to_string(&f.outside).unwrap(), "OUT");
}

#[test]
fn a_read_only_user_is_refused() {
    let f = fixture();
    let (status, err) = f.mv_as("reader", "reader-pw", &["a.txt", "c.txt"]);
    assert_eq!(status, 4, "{err}");
    assert!(err.contains("read-only"), "{err}");
    assert_eq!(f.read("a.txt"), "A");
    assert!(!f.home.join("c.txt").exists());
}
