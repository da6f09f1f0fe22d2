//! `ftp partials` and `ftp rm --partial` through the real server: a user's unfinished uploads
//! are listed by remote path with the bytes held, one being written is "busy" to drop, and a
//! dropped one is gone with its checkpoints.

// Test code: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Stdio;

use e2e::{Site, code, random_file, stderr, stdout, wait_until};

const PASSWORD: &str = "partials-password";
const MIB: usize = 1 << 20;

#[test]
fn unfinished_uploads_are_listed_and_dropped_but_not_while_one_is_writing() {
    let site = Site::new("");
    site.add_user("alice", PASSWORD, &[]);
    site.add_user("bob", PASSWORD, &[]);
    let server = site.start();
    let local = site.dir.path().join("big.bin");
    random_file(&local, 8 * MIB, 70);
    let mut put = server.ftp("alice", PASSWORD);
    put.args([
        "put",
        local.to_str().unwrap(),
        "dir/big.bin",
        "--limit-rate",
        "256K",
    ]);
    put.stdout(Stdio::null()).stderr(Stdio::null());
    let mut put = put.spawn().unwrap();
    wait_until("a partial with data", || {
        e2e::partial_bytes(&site.root()) > 0
    });

    let output = server.run_ftp("alice", PASSWORD, &["--json", "partials"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let lines: Vec<serde_json::Value> = stdout(&output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{}", stdout(&output));
    assert_eq!(lines[0]["op"], "partial");
    assert_eq!(lines[0]["path"], "/dir/big.bin");
    assert_eq!(lines[0]["size"], 8 * MIB);
    assert!(lines[0]["held"].as_u64().unwrap() > 0);
    assert!(lines[0]["age_seconds"].as_u64().is_some());
    let output = server.run_ftp("alice", PASSWORD, &["partials"]);
    assert!(
        stdout(&output).starts_with("/dir/big.bin  ")
            && stdout(&output).contains(" of 8388608 bytes held"),
        "{}",
        stdout(&output)
    );
    // Another user sees none of them, nor can drop them.
    let output = server.run_ftp("bob", PASSWORD, &["partials"]);
    assert_eq!((code(&output), stdout(&output)), (0, String::new()));
    let output = server.run_ftp("bob", PASSWORD, &["rm", "--partial", "dir/big.bin"]);
    assert_eq!(code(&output), 4, "{}", stderr(&output));

    let output = server.run_ftp("alice", PASSWORD, &["rm", "--partial", "dir/big.bin"]);
    assert_eq!(code(&output), 4, "{}", stderr(&output));
    assert!(stderr(&output).contains("busy"), "{}", stderr(&output));
    assert!(e2e::partial_bytes(&site.root()) > 0);

    put.kill().unwrap();
    put.wait().unwrap();
    // The server lets go of the upload once it sees the connection gone.
    wait_until("the partial dropped", || {
        let output = server.run_ftp(
            "alice",
            PASSWORD,
            &["--json", "rm", "--partial", "/dir/big.bin"],
        );
        assert!(matches!(code(&output), 0 | 4), "{}", stderr(&output));
        code(&output) == 0
    });
    assert_eq!(e2e::partial_bytes(&site.root()), 0);
    assert!(e2e::checkpoint_lists(&site.root().join(".ftpd-internal/partials")).is_empty());
    let output = server.run_ftp("alice", PASSWORD, &["partials"]);
    assert_eq!((code(&output), stdout(&output)), (0, String::new()));
    let output = server.run_ftp("alice", PASSWORD, &["rm", "--partial", "dir/big.bin"]);
    assert_eq!(code(&output), 4, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("no unfinished upload to /dir/big.bin"),
        "{}",
        stderr(&output)
    );
    assert!(!site.root().join("alice/dir/big.bin").exists());
}
