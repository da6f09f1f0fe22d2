//! `ftp ls -R` through the real binaries: one section per folder (or one JSON object per
//! folder with `--json`) in coreutils `ls -R` order (the listed folder first, then its
//! subfolders depth first in byte order), every entry of the tree in exactly one of them,
//! empty folders with their heading in place, hostile names escaped, a file shown as `ls`
//! shows it, a missing path exit 4.

// Test code: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use e2e::{Site, code, stderr, stdout};

/// A site whose alice holds `photos/` with `a.jpg`, `2026/b.jpg`, `2026/deep/c.jpg`, the
/// empty `2026/blank/` and `2026/empty/`, a link `photos/link -> 2026`, and a name with a newline.
fn site() -> Site {
    let site = Site::new("");
    site.add_user("alice", "alice-pw", &[]);
    let photos = site.root().join("alice/photos");
    std::fs::create_dir_all(photos.join("2026/deep")).unwrap();
    std::fs::create_dir_all(photos.join("2026/empty")).unwrap();
    std::fs::create_dir_all(photos.join("2026/blank")).unwrap();
    std::fs::write(photos.join("a.jpg"), "aa").unwrap();
    std::fs::write(photos.join("2026/b.jpg"), "bbb").unwrap();
    std::fs::write(photos.join("2026/deep/c.jpg"), "c").unwrap();
    std::fs::write(photos.join("new\nline"), "").unwrap();
    std::os::unix::fs::symlink("2026", photos.join("link")).unwrap();
    site
}

#[test]
fn json_gives_one_object_per_folder_with_every_entry_once() {
    let site = site();
    let server = site.start();
    let output = server.run_ftp("alice", "alice-pw", &["--json", "ls", "-R", "photos"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let objects: Vec<serde_json::Value> = stdout(&output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let folders: Vec<_> = objects
        .iter()
        .map(|o| o["path"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        folders,
        [
            "/photos",
            "/photos/2026",
            "/photos/2026/blank",
            "/photos/2026/deep",
            "/photos/2026/empty"
        ],
        "the listed one first, then pre-order, empty folders in place"
    );
    let names = |path: &str| -> Vec<String> {
        let object = objects.iter().find(|o| o["path"] == path).unwrap();
        assert_eq!(object["op"], "ls");
        object["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names("/photos"), ["2026", "a.jpg", "link", "new\nline"]);
    assert_eq!(names("/photos/2026"), ["b.jpg", "blank", "deep", "empty"]);
    assert!(names("/photos/2026/blank").is_empty());
    assert_eq!(names("/photos/2026/deep"), ["c.jpg"]);
    assert!(names("/photos/2026/empty").is_empty());
    let top = &objects[0];
    assert_eq!(
        top["entries"][2]["type"], "symlink",
        "links listed, not followed"
    );
    assert_eq!(top["entries"][1]["size"], 2);
}

#[test]
fn text_has_a_heading_per_folder_and_escapes_names() {
    let site = site();
    let server = site.start();
    let output = server.run_ftp("alice", "alice-pw", &["ls", "-R", "/"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let text = stdout(&output);
    let headings: Vec<_> = text.lines().filter(|l| l.ends_with(':')).collect();
    assert_eq!(
        headings,
        [
            "/:",
            "/photos:",
            "/photos/2026:",
            "/photos/2026/blank:",
            "/photos/2026/deep:",
            "/photos/2026/empty:"
        ]
    );
    assert!(
        text.contains("/photos/2026/blank:\n\n/photos/2026/deep:\n"),
        "an empty folder's heading in its place: {text}"
    );
    assert!(text.ends_with("\n\n/photos/2026/empty:\n"), "{text}");
    assert!(text.contains("  new\\nline\n"), "{text}");
    assert!(text.contains("  c.jpg\n"), "{text}");
    assert!(
        !text.contains("new\nline"),
        "a raw newline reached the terminal"
    );
}

#[test]
fn a_file_is_shown_as_ls_shows_it_and_a_missing_path_is_exit_4() {
    let site = site();
    let server = site.start();
    let recursive = server.run_ftp("alice", "alice-pw", &["ls", "-R", "photos/a.jpg"]);
    let plain = server.run_ftp("alice", "alice-pw", &["ls", "photos/a.jpg"]);
    assert_eq!(code(&recursive), 0, "{}", stderr(&recursive));
    assert_eq!(stdout(&recursive), stdout(&plain));
    assert!(stdout(&plain).contains("a.jpg"));
    let missing = server.run_ftp("alice", "alice-pw", &["ls", "-R", "nothing"]);
    assert_eq!(code(&missing), 4, "{}", stderr(&missing));
    assert!(stdout(&missing).is_empty());
}

#[test]
fn an_empty_folder_lists_nothing_but_its_heading_with_r() {
    let site = site();
    let server = site.start();
    let plain = server.run_ftp("alice", "alice-pw", &["ls", "photos/2026/empty"]);
    assert_eq!(code(&plain), 0, "{}", stderr(&plain));
    assert_eq!(stdout(&plain), "");
    let recursive = server.run_ftp("alice", "alice-pw", &["ls", "-R", "photos/2026/empty"]);
    assert_eq!(code(&recursive), 0, "{}", stderr(&recursive));
    assert_eq!(stdout(&recursive), "/photos/2026/empty:\n");
}
