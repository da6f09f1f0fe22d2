//! What is neither a regular file, a folder nor a link, and links that lead nowhere: a FIFO, a
//! socket or a symbolic-link loop in a home never hangs a request or the server. `ls` and
//! `stat` show each as what it is; `get` refuses it by name (exit 4); a loop is a clear refusal,
//! never "server error"; and the server still shuts down cleanly afterwards.

// Test code: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::symlink;
use std::process::Command;

use e2e::{Site, code, run, stderr, stdout};

#[test]
fn fifos_and_sockets_are_shown_and_refused_without_hanging() {
    let site = Site::new("");
    site.add_user("alice", "password", &[]);
    let home = site.root().join("alice");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join("plain.txt"), "x").unwrap();
    let made = Command::new("mkfifo")
        .arg(home.join("pipe"))
        .status()
        .unwrap();
    assert!(made.success());
    let _socket = std::os::unix::net::UnixListener::bind(home.join("sock")).unwrap();
    let mut server = site.start();
    let local = site.dir.path().join("downloads");
    std::fs::create_dir_all(&local).unwrap();

    let listing = server.run_ftp("alice", "password", &["ls"]);
    assert_eq!(code(&listing), 0, "{}", stderr(&listing));
    let lines = stdout(&listing);
    let line_of = |name: &str| {
        lines
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("{name} not listed: {lines}"))
            .to_owned()
    };
    assert!(line_of("pipe").starts_with('p') && line_of("pipe").ends_with("pipe|"));
    assert!(line_of("sock").starts_with('s') && line_of("sock").ends_with("sock="));
    assert!(line_of("plain.txt").starts_with('-'));
    let json = server.run_ftp("alice", "password", &["--json", "ls"]);
    let value: serde_json::Value = serde_json::from_str(stdout(&json).trim()).unwrap();
    let types: Vec<_> = value["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap(), e["type"].as_str().unwrap()))
        .collect();
    assert_eq!(
        types,
        [("pipe", "fifo"), ("plain.txt", "file"), ("sock", "socket")]
    );

    for (name, word) in [("pipe", "fifo"), ("sock", "socket")] {
        let stat = server.run_ftp("alice", "password", &["stat", name]);
        assert_eq!(code(&stat), 0, "stat {name}: {}", stderr(&stat));
        let text = stdout(&stat);
        assert!(text.contains(&format!("type      {word}")), "{text}");
        assert!(!text.contains("sha256"), "{text}");
    }

    for (name, what) in [("pipe", "a FIFO"), ("sock", "a socket")] {
        let mut get = server.ftp("alice", "password");
        get.args(["get", name]).current_dir(&local);
        let output = run(get, None);
        assert_eq!(code(&output), 4, "get {name}: {}", stderr(&output));
        let message = stderr(&output);
        assert!(
            message.contains(&format!("/{name} is {what}, not a regular file")),
            "{message}"
        );
    }
    assert_eq!(std::fs::read_dir(&local).unwrap().count(), 0);

    // No request left a thread stuck on the FIFO: the server stops at once and cleanly.
    server.signal("TERM");
    assert_eq!(server.wait_exit(), 0, "{}", server.log());
}

#[test]
fn a_symlink_loop_is_a_clear_refusal() {
    let site = Site::new("");
    site.add_user("alice", "password", &[]);
    let home = site.root().join("alice");
    std::fs::create_dir_all(&home).unwrap();
    symlink("b", home.join("a")).unwrap();
    symlink("a", home.join("b")).unwrap();
    let server = site.start();
    let local = site.dir.path().join("downloads");
    std::fs::create_dir_all(&local).unwrap();
    for args in [
        &["get", "a"][..],
        &["get", "a/x"],
        &["stat", "a/x"],
        &["ls", "a/x"],
    ] {
        let mut command = server.ftp("alice", "password");
        command.args(args).current_dir(&local);
        let output = run(command, None);
        let message = stderr(&output);
        assert_eq!(code(&output), 4, "{args:?}: {message}");
        assert!(
            message.contains("too many levels of symbolic links")
                && !message.contains("server error"),
            "{args:?}: {message}"
        );
    }
    // The links themselves are still described.
    let stat = server.run_ftp("alice", "password", &["stat", "a"]);
    assert_eq!(code(&stat), 0, "{}", stderr(&stat));
    assert!(stdout(&stat).contains("symlink"));
}

#[test]
fn putting_a_local_fifo_is_refused_without_waiting_and_the_other_files_still_go() {
    let site = Site::new("");
    site.add_user("alice", "password", &[]);
    let server = site.start();
    let local = site.dir.path().join("outgoing");
    std::fs::create_dir_all(&local).unwrap();
    let pipe = local.join("pipe");
    assert!(
        Command::new("mkfifo")
            .arg(&pipe)
            .status()
            .unwrap()
            .success()
    );
    std::fs::write(local.join("plain.txt"), "kept").unwrap();

    // Nobody ever writes to the FIFO: opening it for reading in the normal way waits forever.
    let alone = server.run_ftp("alice", "password", &["put", pipe.to_str().unwrap()]);
    assert_eq!(code(&alone), 2, "{}", stderr(&alone));
    assert!(
        stderr(&alone).contains("not a regular file"),
        "{}",
        stderr(&alone)
    );

    let plain = local.join("plain.txt");
    let both = server.run_ftp(
        "alice",
        "password",
        &[
            "put",
            pipe.to_str().unwrap(),
            plain.to_str().unwrap(),
            "--to",
            "in",
        ],
    );
    assert_eq!(code(&both), 2, "{}", stderr(&both));
    let stored = site.root().join("alice/in/plain.txt");
    assert_eq!(std::fs::read_to_string(stored).unwrap(), "kept");
}
