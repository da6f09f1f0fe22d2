//! `ftp -b FILE` and `ftp -b -`: the shell's lines with no prompt and one login for all; the
//! first failure ends the batch with its exit code unless its line starts with `-`; a line that
//! cannot be parsed is a usage failure; `--json` gives one object per result.

// Test code: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Output;

use e2e::{Server, Site, code, run, stderr, stdout};

const PASSWORD: &str = "batch-password-1";

fn site() -> Site {
    let site = Site::new("");
    site.add_user("alice", PASSWORD, &[]);
    std::fs::create_dir_all(home(&site)).unwrap();
    site
}

fn home(site: &Site) -> PathBuf {
    site.root().join("alice")
}

/// Runs `ftp [--json] -b -` with `lines` on standard input.
fn batch(server: &Server, json: bool, lines: &str) -> Output {
    let mut command = server.ftp("alice", PASSWORD);
    if json {
        command.arg("--json");
    }
    command.args(["-b", "-"]);
    run(command, Some(lines))
}

/// Logins in the server's log once its (only) session has ended.
fn logins_after_the_session(server: &Server) -> usize {
    server.wait_for_log("session ended");
    server.log().matches("logged in").count()
}

#[test]
fn a_batch_runs_every_line_with_one_login() {
    let site = site();
    let server = site.start();
    let file = site.dir.path().join("script.ftp");
    std::fs::write(
        &file,
        "# set up\nmkdir a/b\n\ncd a\nmkdir 'c d'\nmv 'c d' b/\nls b\n",
    )
    .unwrap();
    let mut command = server.ftp("alice", PASSWORD);
    command.arg("-b").arg(&file);
    let output = run(command, None);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(home(&site).join("a/b/c d").is_dir());
    assert!(stdout(&output).contains("c d"), "{}", stdout(&output));
    assert_eq!(logins_after_the_session(&server), 1, "{}", server.log());
}

#[test]
fn the_first_failure_ends_the_batch_with_its_exit_code() {
    let site = site();
    let server = site.start();
    let output = batch(&server, false, "mkdir one\nrm nosuch\nmkdir two\n");
    assert_eq!(code(&output), 4, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("ftp: error: line 2: "),
        "{}",
        stderr(&output)
    );
    assert!(home(&site).join("one").is_dir());
    assert!(!home(&site).join("two").exists(), "the batch went on");
}

#[test]
fn a_line_starting_with_a_dash_may_fail_and_the_batch_goes_on() {
    let site = site();
    let server = site.start();
    let output = batch(&server, false, "-rm nosuch\nmkdir two\n-stat two\n");
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("ftp: error: line 1: "),
        "{}",
        stderr(&output)
    );
    assert!(home(&site).join("two").is_dir());
    assert_eq!(logins_after_the_session(&server), 1, "{}", server.log());
}

#[test]
fn a_batch_file_that_cannot_be_read_is_a_usage_failure() {
    let site = site();
    let server = site.start();
    let mut command = server.ftp("alice", PASSWORD);
    command.args(["-b", "/nonexistent/batch"]);
    let output = run(command, None);
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("cannot read the batch file /nonexistent/batch"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_line_that_cannot_be_parsed_is_a_usage_failure() {
    let site = site();
    let server = site.start();
    for bad in ["ls --bogus", "ls 'open", "ls --server x", "nosuch"] {
        let output = batch(&server, false, &format!("mkdir one\n{bad}\nmkdir two\n"));
        assert_eq!(code(&output), 2, "{bad}: {}", stderr(&output));
        assert!(stderr(&output).contains("line 2: "), "{}", stderr(&output));
        assert!(
            !home(&site).join("one").exists() && !home(&site).join("two").exists(),
            "{bad}: a line ran before the bad one was found"
        );
    }
}

#[test]
fn json_builtins_print_objects_too() {
    let site = site();
    let server = site.start();
    let output = batch(&server, true, "mkdir x\ncd x\npwd\n");
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    for line in stdout(&output).lines() {
        let object: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(object["op"].is_string(), "{line}");
    }
    assert!(
        stdout(&output).contains(r#"{"op":"pwd","path":"/x"}"#),
        "{}",
        stdout(&output)
    );
}

#[test]
fn json_gives_one_object_per_result() {
    let site = site();
    let server = site.start();
    std::fs::write(home(&site).join("f.txt"), "hello").unwrap();
    let output = batch(
        &server,
        true,
        "mkdir d\nstat f.txt\n-rm nosuch\nmv f.txt d/\n",
    );
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let objects: Vec<serde_json::Value> = stdout(&output)
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect();
    let ops: Vec<&str> = objects.iter().map(|o| o["op"].as_str().unwrap()).collect();
    assert_eq!(ops, ["mkdir", "stat", "mv"], "{objects:?}");
    assert_eq!(objects[2]["to"], "/d/f.txt");
}
