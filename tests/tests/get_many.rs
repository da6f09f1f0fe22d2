//! `ftp get REMOTE... --to DIR` through the real binaries: several files and patterns into one
//! folder, folders and links matched by a pattern skipped, a pattern matching nothing failed
//! (exit 4) while the others go, existing local files compared, and the pipelined small
//! files resumed after a cut connection, after the client is killed and after SIGTERM (exit
//! 130): every file under its final name is always whole. The interruptions come far from the
//! end without any timing: a client whose stdout pipe is not read stalls once it is full, with
//! 600 result lines holding far more than a pipe buffer.

// Test code: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;

use e2e::trees::json_lines;
use e2e::{CutProxy, Site, code, random_file, run, same_content, stderr, stdout};

/// A site whose alice holds `logs/` (`a.gz`, `b.gz`, `c.txt`, `.hidden.gz`, the folder
/// `sub.gz/`, the link `link.gz -> a.gz`, the 3 MiB `big.gz`), `top.txt` and `odd[1].txt`.
fn site() -> Site {
    let site = Site::new("");
    site.add_user("alice", "alice-pw", &[]);
    let home = site.root().join("alice");
    let logs = home.join("logs");
    std::fs::create_dir_all(logs.join("sub.gz")).unwrap();
    random_file(&logs.join("a.gz"), 1000, 1);
    random_file(&logs.join("b.gz"), 0, 2);
    random_file(&logs.join("c.txt"), 10, 3);
    random_file(&logs.join(".hidden.gz"), 10, 4);
    random_file(&logs.join("big.gz"), 3 << 20, 5);
    random_file(&home.join("top.txt"), 77, 6);
    random_file(&home.join("odd[1].txt"), 5, 7);
    std::os::unix::fs::symlink("a.gz", logs.join("link.gz")).unwrap();
    site
}

#[test]
fn patterns_and_names_land_in_the_folder_with_one_line_each() {
    let site = site();
    let server = site.start();
    let home = site.root().join("alice");
    let out = site.dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let to = out.to_str().unwrap();
    let output = server.run_ftp(
        "alice",
        "alice-pw",
        &["--json", "get", "logs/*.gz", "top.txt", "--to", to],
    );
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let lines = json_lines(&output);
    let results: Vec<(String, String)> = lines
        .iter()
        .filter(|l| l["op"] == "get")
        .map(|l| {
            (
                l["remote"].as_str().unwrap().to_owned(),
                l["result"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("/logs/a.gz", "downloaded"),
        ("/logs/b.gz", "downloaded"),
        ("/logs/big.gz", "downloaded"),
        ("/logs/link.gz", "skipped"),
        ("/logs/sub.gz", "skipped"),
        ("/top.txt", "downloaded"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
    assert_eq!(results, expected);
    let summary = lines.last().unwrap();
    assert_eq!(summary["op"], "summary");
    assert_eq!(summary["files"], 4);
    assert_eq!(summary["skipped"], 2);
    assert_eq!(summary["failed"], 0);
    assert_eq!(summary["bytes"], 1000 + (3 << 20) + 77);
    for name in ["a.gz", "b.gz", "big.gz"] {
        assert!(
            same_content(&home.join("logs").join(name), &out.join(name)),
            "{name}"
        );
    }
    assert!(same_content(&home.join("top.txt"), &out.join("top.txt")));
    assert!(
        !out.join(".hidden.gz").exists(),
        "* does not match dot files"
    );
    assert!(!out.join("c.txt").exists());
    assert!(!out.join("link.gz").exists() && !out.join("sub.gz").exists());
    // Modification times are kept, for the pipelined small files too.
    let mtime = |p: &Path| std::fs::metadata(p).unwrap().modified().unwrap();
    assert_eq!(mtime(&out.join("a.gz")), mtime(&home.join("logs/a.gz")));
    assert_eq!(mtime(&out.join("big.gz")), mtime(&home.join("logs/big.gz")));
}

#[test]
fn a_pattern_matching_nothing_fails_alone_and_existing_files_follow_the_single_rule() {
    let site = site();
    let server = site.start();
    let out = site.dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("c.txt"), "different").unwrap();
    std::fs::copy(site.root().join("alice/top.txt"), out.join("top.txt")).unwrap();
    let to = out.to_str().unwrap();
    let output = server.run_ftp(
        "alice",
        "alice-pw",
        &[
            "--json",
            "get",
            "logs/*.zip",
            "logs/c.txt",
            "top.txt",
            "logs/a.gz",
            "--to",
            to,
        ],
    );
    assert_eq!(code(&output), 4, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("no remote names match"),
        "{}",
        stderr(&output)
    );
    let lines = json_lines(&output);
    let result = |remote: &str| {
        lines
            .iter()
            .find(|l| l["remote"] == remote)
            .map(|l| l["result"].as_str().unwrap().to_owned())
    };
    assert_eq!(result("/logs/*.zip").as_deref(), Some("failed"));
    assert_eq!(result("/logs/c.txt").as_deref(), Some("failed"));
    assert_eq!(
        result("/top.txt").as_deref(),
        Some("identical"),
        "{}",
        stderr(&output)
    );
    assert_eq!(result("/logs/a.gz").as_deref(), Some("downloaded"));
    let failed = lines.iter().find(|l| l["remote"] == "/logs/c.txt").unwrap();
    assert_eq!(failed["exit_code"], 4);
    assert_eq!(std::fs::read(out.join("c.txt")).unwrap(), b"different");
    assert_eq!(lines.last().unwrap()["failed"], 2);
}

#[test]
fn a_name_that_only_looks_like_a_pattern_is_that_name() {
    let site = site();
    let server = site.start();
    let out = site.dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let to = out.to_str().unwrap();
    let output = server.run_ftp("alice", "alice-pw", &["get", "odd[1].txt", "--to", to]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(same_content(
        &site.root().join("alice/odd[1].txt"),
        &out.join("odd[1].txt")
    ));
    assert!(
        stdout(&output).contains("1 file, 5 B"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn usage_errors_come_before_anything_moves() {
    let site = site();
    let server = site.start();
    let missing = site.dir.path().join("no-such-dir");
    let to = missing.to_str().unwrap();
    for args in [
        vec!["get", "logs/a.gz", "--to", to],
        vec!["get", "*/a.gz", "--to", "."],
        vec!["get", "logs/a.gz", "top.txt", "third"],
        vec!["get", "logs/..", "--to", "."],
    ] {
        let output = server.run_ftp("alice", "alice-pw", &args);
        assert_eq!(code(&output), 2, "{args:?}: {}", stderr(&output));
    }
    assert!(!missing.exists());
}

/// A site whose alice holds `many/` with `count` small files.
fn many(count: usize) -> Site {
    let site = Site::new("");
    site.add_user("alice", "alice-pw", &[]);
    let many = site.root().join("alice/many");
    std::fs::create_dir_all(&many).unwrap();
    for i in 0..count {
        random_file(&many.join(format!("f{i:04}.bin")), 100 + i * 7, i as u64);
    }
    site
}

/// Every file of `out` is whole: the same bytes as its source, and no `.part` is left when
/// `finished`.
fn all_whole(source: &Path, out: &Path, finished: bool) -> usize {
    let mut whole = 0;
    for entry in std::fs::read_dir(out).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if let Some(stem) = name.strip_suffix(".part") {
            assert!(!finished, "{name} left after a finished run");
            assert!(source.join(stem).exists());
            continue;
        }
        assert!(
            same_content(&source.join(&name), &path),
            "{name} is not whole"
        );
        whole += 1;
    }
    whole
}

#[test]
fn small_files_resume_after_cut_connections() {
    let site = many(300);
    let server = site.start();
    let out = site.dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    // Cut the first two connections part way through the data.
    let proxy = CutProxy::start(server.address, 60_000, 2);
    let mut command = server.ftp_via(proxy.address, "alice", "alice-pw");
    command.args([
        "--json",
        "get",
        "many/*",
        "--to",
        out.to_str().unwrap(),
        "--retries",
        "5",
    ]);
    let output = run(command, None);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(proxy.cuts(), 2);
    assert!(
        stderr(&output).contains("reconnecting"),
        "{}",
        stderr(&output)
    );
    let lines = json_lines(&output);
    assert_eq!(lines.last().unwrap()["files"], 300);
    let downloaded = lines.iter().filter(|l| l["result"] == "downloaded").count();
    assert_eq!(downloaded, 300, "each file reported once");
    assert_eq!(all_whole(&site.root().join("alice/many"), &out, true), 300);
}

#[test]
fn a_killed_client_leaves_only_whole_files_and_a_rerun_finishes() {
    let site = many(600);
    let server = site.start();
    let source = site.root().join("alice/many");
    let out = site.dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let args = ["--json", "get", "many/*", "--to", out.to_str().unwrap()];
    let mut command = server.ftp("alice", "alice-pw");
    command
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = command.spawn().unwrap();
    // Read a few results, then stop reading: once the pipe is full the client stalls on its
    // output, far from the end (600 lines hold far more than a pipe buffer).
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut seen = 0;
    let mut line = String::new();
    while seen < 20 && reader.read_line(&mut line).unwrap() > 0 {
        seen += 1;
        line.clear();
    }
    assert_eq!(seen, 20);
    e2e::wait_until("some files in place", || {
        std::fs::read_dir(&out).unwrap().count() >= 20
    });
    child.kill().unwrap();
    child.wait().unwrap();
    drop(reader);
    let whole = all_whole(&source, &out, false);
    assert!((20..600).contains(&whole), "{whole} files in place");
    let output = server.run_ftp("alice", "alice-pw", &args);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(all_whole(&source, &out, true), 600);
    let lines = json_lines(&output);
    let identical = lines.iter().filter(|l| l["result"] == "identical").count();
    assert_eq!(identical, whole, "what was in place is not fetched again");
}

#[test]
fn sigterm_stops_with_130_keeping_only_whole_files() {
    let site = many(600);
    let server = site.start();
    let source = site.root().join("alice/many");
    let out = site.dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let args = ["--json", "get", "many/*", "--to", out.to_str().unwrap()];
    let mut command = server.ftp("alice", "alice-pw");
    command
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    for _ in 0..20 {
        assert!(reader.read_line(&mut line).unwrap() > 0);
    }
    // Far from the end (the client stalls on its full stdout pipe): stop it there.
    e2e::signal(child.id(), "TERM");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut reader, &mut rest).unwrap();
    let output = e2e::output_of(child, "ftp get stopped by SIGTERM");
    assert_eq!(code(&output), 130, "{}", stderr(&output));
    let whole = all_whole(&source, &out, false);
    assert!(whole < 600, "{whole} files in place");
    let output = server.run_ftp("alice", "alice-pw", &args);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(all_whole(&source, &out, true), 600);
}

#[test]
fn a_connection_lost_for_good_is_exit_5_with_what_came_kept_whole() {
    let site = many(300);
    let server = site.start();
    let out = site.dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let proxy = CutProxy::start(server.address, 60_000, 1);
    let mut command = server.ftp_via(proxy.address, "alice", "alice-pw");
    command.args([
        "--json",
        "get",
        "many/*",
        "--to",
        out.to_str().unwrap(),
        "--retries",
        "0",
    ]);
    let output = run(command, None);
    assert_eq!(code(&output), 5, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("run the same command again"),
        "{}",
        stderr(&output)
    );
    let lines = json_lines(&output);
    let failed: Vec<_> = lines.iter().filter(|l| l["result"] == "failed").collect();
    assert_eq!(
        failed.len(),
        1,
        "one line for the file the connection was lost in"
    );
    assert_eq!(failed[0]["exit_code"], 5);
    let downloaded = lines.iter().filter(|l| l["result"] == "downloaded").count();
    assert!(downloaded < 300);
    assert_eq!(lines.last().unwrap()["op"], "summary");
    assert_eq!(lines.last().unwrap()["files"], downloaded);
    assert_eq!(
        all_whole(&site.root().join("alice/many"), &out, false),
        downloaded
    );
}
