//! Interrupted tree transfers through the real binaries: `put -r`, `get -r` and `sync` both
//! ways, stopped by killing the client (after some files were done, or in the middle of a
//! large file), by killing the server (started again on the same root, on a new port), and by
//! cutting the connection. After each interruption every file under its final name in the
//! destination is whole and identical to its source (nothing half-done is ever visible); the
//! same command run again ends with a destination byte-identical to the source (names,
//! contents, folders, modification times), resuming rather than starting over. And
//! `--retries` resumes a cut transfer inside the file it was in, in the same run.

// Test code: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use e2e::trees::{Node, snapshot, summary_line};
use e2e::{CutProxy, Server, Site, code, random_file, run, stderr, stdout, wait_until};

const PASSWORD: &str = "alice-pw";
const MIB: usize = 1 << 20;
/// Small files in the tree: 10 folders of 20 files of 4 KiB.
const SMALL_FILES: usize = 200;
/// How long a test waits for a line or a state before calling the command hung.
const PATIENCE: Duration = Duration::from_secs(60);

/// Which tree transfer a test interrupts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Way {
    /// `ftp put -r SRC photos`.
    PutTree,
    /// `ftp get -r photos DST`.
    GetTree,
    /// `ftp sync SRC :photos --delete`.
    SyncUp,
    /// `ftp sync :photos DST --delete`.
    SyncDown,
}

impl Way {
    /// Whether the source is local (the destination on the server).
    fn uploads(self) -> bool {
        matches!(self, Way::PutTree | Way::SyncUp)
    }

    /// Whether this is a sync with `--delete` (its destination starts with an extra file and
    /// folder that must be gone at the end).
    fn deletes(self) -> bool {
        matches!(self, Way::SyncUp | Way::SyncDown)
    }
}

/// One server, a source tree and the destination a command copies it to.
struct Case {
    /// Which transfer.
    way: Way,
    /// Keeps the temp folders.
    site: Site,
    /// The running server (replaced when a test kills it and starts another).
    server: Server,
    /// The tree copied.
    source: PathBuf,
    /// Where the copy goes (on the server's disk for an upload).
    destination: PathBuf,
}

impl Case {
    /// A server with alice, and a source tree of [`SMALL_FILES`] small files, an empty folder
    /// and a large file of each size in `large` (MiB); for a sync, a destination holding an
    /// extra file and an extra folder.
    fn new(way: Way, large: &[usize]) -> Case {
        let site = Site::new("");
        site.add_user("alice", PASSWORD, &[]);
        let home = site.root().join("alice");
        std::fs::create_dir_all(&home).unwrap();
        let local = site.dir.path().join("local");
        std::fs::create_dir_all(&local).unwrap();
        let (source, destination) = if way.uploads() {
            (local.join("photos"), home.join("photos"))
        } else {
            (home.join("photos"), local.join("photos"))
        };
        make_tree(&source, large);
        if way.deletes() {
            std::fs::create_dir_all(destination.join("gone/deeper")).unwrap();
            std::fs::write(destination.join("gone/deeper/old.txt"), "old").unwrap();
            std::fs::write(destination.join("extra.txt"), "extra").unwrap();
        }
        let server = site.start();
        Case {
            way,
            site,
            server,
            source,
            destination,
        }
    }

    /// The command's arguments after the global options (the same every run).
    fn args(&self) -> Vec<String> {
        let local = |path: &Path| path.to_str().unwrap().to_owned();
        let words: Vec<String> = match self.way {
            Way::PutTree => vec![
                "put".into(),
                "-r".into(),
                local(&self.source),
                "photos".into(),
            ],
            Way::GetTree => vec![
                "get".into(),
                "-r".into(),
                "photos".into(),
                local(&self.destination),
            ],
            Way::SyncUp => vec![
                "sync".into(),
                local(&self.source),
                ":photos".into(),
                "--delete".into(),
            ],
            Way::SyncDown => vec![
                "sync".into(),
                ":photos".into(),
                local(&self.destination),
                "--delete".into(),
            ],
        };
        words
    }

    /// `ftp --json ARGS EXTRA` against the server, or through `via`.
    fn command(&self, via: Option<std::net::SocketAddr>, extra: &[&str]) -> std::process::Command {
        let mut command =
            self.server
                .ftp_via(via.unwrap_or(self.server.address), "alice", PASSWORD);
        command.arg("--json").args(self.args()).args(extra);
        command.current_dir(self.site.dir.path());
        command
    }

    /// Starts the command paced at 4 MiB/s with no retries; its stdout lines come through
    /// the returned receiver.
    fn spawn_paced(&self) -> Running {
        let mut command = self.command(None, &["--limit-rate", "4M", "--retries", "0"]);
        command.stdout(Stdio::piped()).stderr(Stdio::null());
        let mut child = command.spawn().unwrap();
        let out = child.stdout.take().unwrap();
        let (send, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Running { child, lines }
    }

    /// Runs the command to its end (default retries); returns its exit code, JSON lines and
    /// stderr.
    fn run_to_end(&self) -> (i32, Vec<serde_json::Value>, String) {
        let output = run(self.command(None, &[]), None);
        let lines = stdout(&output)
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        (code(&output), lines, stderr(&output))
    }

    /// Waits until a large file's unfinished data holds at least 2 MiB: the server's partial
    /// for an upload, the `.part` beside it for a download.
    fn wait_for_large_file_midway(&self) {
        let least = 2 * MIB as u64;
        if self.way.uploads() {
            wait_until("a large file part-way on the server", || {
                e2e::partial_bytes(&self.site.root()) >= least
            });
        } else {
            wait_until("a large file part-way on the local disk", || {
                snapshot(&self.destination).iter().any(|(name, node)| {
                    name.ends_with(".part")
                        && matches!(node, Node::File { len, .. } if *len >= least)
                })
            });
        }
    }

    /// Every file under its final name in the destination is whole and identical to its
    /// source; the only other files are a download's `.part` files, and the sync's extras.
    fn assert_nothing_half_done_is_visible(&self) {
        let source = snapshot(&self.source);
        for (name, node) in snapshot(&self.destination) {
            if self.way.deletes() && (name == "extra.txt" || name.starts_with("gone")) {
                continue;
            }
            if !self.way.uploads() && name.ends_with(".part") && !source.contains_key(&name) {
                continue;
            }
            let expected = source
                .get(&name)
                .unwrap_or_else(|| panic!("{name} is in the destination but not in the source"));
            match (node, expected) {
                (Node::Dir, Node::Dir) => {}
                (
                    Node::File { sha256, len, .. },
                    Node::File {
                        sha256: want,
                        len: want_len,
                        ..
                    },
                ) => assert!(
                    sha256 == *want && len == *want_len,
                    "{name} is visible under its final name but not whole ({len} of {want_len} bytes)"
                ),
                (node, expected) => panic!("{name}: {node:?} where the source has {expected:?}"),
            }
        }
    }

    /// The destination is the source: names, folders, contents, modification times.
    fn assert_identical(&self) {
        let source = snapshot(&self.source);
        let destination = snapshot(&self.destination);
        let names = |tree: &BTreeMap<String, Node>| tree.keys().cloned().collect::<Vec<_>>();
        assert_eq!(names(&destination), names(&source), "the same names");
        assert_eq!(destination, source, "the same contents and times");
    }
}

/// A command under way.
struct Running {
    /// The process.
    child: Child,
    /// Its stdout, line by line.
    lines: Receiver<String>,
}

impl Running {
    /// Waits for `count` lines of files moved; returns them.
    fn wait_for_results(&self, count: usize) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + PATIENCE;
        let mut moved = Vec::new();
        while moved.len() < count {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let json: serde_json::Value = serde_json::from_str(&line).unwrap();
                    if is_moved(&json) {
                        moved.push(json);
                    }
                }
                Err(RecvTimeoutError::Timeout) => panic!("only {} files moved", moved.len()),
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("the command ended after {} files moved", moved.len())
                }
            }
        }
        moved
    }

    /// SIGKILL, and wait for it.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Waits (bounded) for the command to end on its own; returns its exit code.
    fn wait_exit(mut self) -> i32 {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            assert!(Instant::now() < deadline, "the client did not stop");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Whether a result line is a file moved (sent, received or replaced).
fn is_moved(line: &serde_json::Value) -> bool {
    matches!(
        line["result"].as_str(),
        Some("uploaded" | "downloaded" | "replaced")
    )
}

/// Writes the source tree: `small/dNN/fNN.txt` (4 KiB each), `empty/inner/`, and
/// `z-large/bN.bin` (after the small ones in tree order) of each size in `large` (MiB).
fn make_tree(root: &Path, large: &[usize]) {
    for index in 0..SMALL_FILES {
        let folder = root.join(format!("small/d{:02}", index / 20));
        std::fs::create_dir_all(&folder).unwrap();
        random_file(
            &folder.join(format!("f{:02}.txt", index % 20)),
            4096,
            index as u64,
        );
    }
    std::fs::create_dir_all(root.join("empty/inner")).unwrap();
    std::fs::create_dir_all(root.join("z-large")).unwrap();
    for (index, size) in large.iter().enumerate() {
        random_file(
            &root.join(format!("z-large/b{index}.bin")),
            size * MIB,
            1000 + index as u64,
        );
    }
}

/// The three large files of most tests (MiB).
const LARGE: &[usize] = &[16, 16, 16];

/// Re-runs the interrupted command and checks it ends with the source's tree; returns the
/// re-run's lines.
fn rerun_ends_identical(case: &Case) -> Vec<serde_json::Value> {
    case.assert_nothing_half_done_is_visible();
    let (status, lines, err) = case.run_to_end();
    assert_eq!(status, 0, "{err}");
    case.assert_identical();
    lines
}

/// Whether the re-run took up a large file where it was: its line shows it resumed, and sent
/// only the rest.
fn resumed_a_large_file(lines: &[serde_json::Value]) -> bool {
    lines.iter().any(|line| {
        let size = line["size"].as_u64().unwrap_or(0);
        let resumed = line["resumed_from"].as_u64().unwrap_or(0);
        let sent = line["sent"].as_u64().unwrap_or(u64::MAX);
        size >= MIB as u64 && resumed > 0 && resumed + sent == size
    })
}

/// Kills the client once 20 files are done; the re-run skips at least those.
fn client_killed_after_some_files(way: Way) {
    let case = Case::new(way, LARGE);
    let running = case.spawn_paced();
    let done = running.wait_for_results(20);
    running.kill();
    let lines = rerun_ends_identical(&case);
    let summary = summary_line(&lines);
    assert!(
        summary["skipped"].as_u64().unwrap() >= done.len() as u64,
        "the files done before the kill are skipped: {summary}"
    );
    assert!(
        summary["files"].as_u64().unwrap() <= (SMALL_FILES + LARGE.len() - done.len()) as u64,
        "{summary}"
    );
    if way.deletes() {
        assert_eq!(
            summary["deleted"], 4,
            "extra.txt, gone/, gone/deeper/, old.txt"
        );
    }
}

/// Kills the client in the middle of a large file; the re-run resumes inside it.
fn client_killed_inside_a_large_file(way: Way) {
    let case = Case::new(way, LARGE);
    let running = case.spawn_paced();
    case.wait_for_large_file_midway();
    running.kill();
    let lines = rerun_ends_identical(&case);
    assert!(resumed_a_large_file(&lines), "{lines:#?}");
}

/// Kills the server in the middle of a large file and starts it again on the same root; the
/// re-run (to its new address) resumes inside the file.
fn server_killed_and_started_again(way: Way) {
    let mut case = Case::new(way, LARGE);
    let running = case.spawn_paced();
    case.wait_for_large_file_midway();
    case.server.kill();
    assert_eq!(running.wait_exit(), 5, "the connection was lost");
    case.assert_nothing_half_done_is_visible();
    case.server = case.site.start();
    let lines = rerun_ends_identical(&case);
    assert!(resumed_a_large_file(&lines), "{lines:#?}");
}

/// Cuts the connection 20 MiB in, with no retries (exit 5); the re-run resumes.
fn connection_cut(way: Way) {
    let case = Case::new(way, LARGE);
    let proxy = CutProxy::start(case.server.address, 20 * MIB as u64, 1);
    let output = run(case.command(Some(proxy.address), &["--retries", "0"]), None);
    assert_eq!(code(&output), 5, "{}", stderr(&output));
    assert_eq!(proxy.cuts(), 1);
    let lines = rerun_ends_identical(&case);
    assert!(resumed_a_large_file(&lines), "{lines:#?}");
}

/// Cuts the connection in the middle of the one large file; `--retries` reconnects in the
/// same run and the server is asked to resume that file from where it was, not from 0.
fn retries_resume_inside_the_file(way: Way) {
    let case = Case::new(way, &[40]);
    let proxy = CutProxy::start(case.server.address, 20 * MIB as u64, 1);
    let output = run(case.command(Some(proxy.address), &["--retries", "3"]), None);
    let err = stderr(&output);
    assert_eq!(code(&output), 0, "{err}");
    assert_eq!(proxy.cuts(), 1);
    assert!(err.contains("reconnecting"), "{err}");
    case.assert_identical();
    let resumed_at = resume_offsets(&case.server.log(), "z-large/b0.bin");
    assert!(
        resumed_at.iter().any(|&offset| offset > 0),
        "the server resumed z-large/b0.bin inside it: {resumed_at:?}\n{}",
        case.server.log()
    );
    let lines: Vec<serde_json::Value> = stdout(&output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(summary_line(&lines)["failed"], 0);
}

/// The offsets the server logged resuming `path` at (an upload's or a download's).
fn resume_offsets(log: &str, path: &str) -> Vec<u64> {
    log.lines()
        .filter(|line| line.contains(path) && line.contains("resuming"))
        .filter_map(|line| {
            let at = line.find("offset=")? + "offset=".len();
            let digits: String = line[at..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().ok()
        })
        .collect()
}

#[test]
fn put_tree_client_killed_after_some_files() {
    client_killed_after_some_files(Way::PutTree);
}

#[test]
fn put_tree_client_killed_inside_a_large_file() {
    client_killed_inside_a_large_file(Way::PutTree);
}

#[test]
fn put_tree_server_killed_and_started_again() {
    server_killed_and_started_again(Way::PutTree);
}

#[test]
fn put_tree_connection_cut() {
    connection_cut(Way::PutTree);
}

#[test]
fn put_tree_retries_resume_inside_the_file() {
    retries_resume_inside_the_file(Way::PutTree);
}

#[test]
fn get_tree_client_killed_after_some_files() {
    client_killed_after_some_files(Way::GetTree);
}

#[test]
fn get_tree_client_killed_inside_a_large_file() {
    client_killed_inside_a_large_file(Way::GetTree);
}

#[test]
fn get_tree_server_killed_and_started_again() {
    server_killed_and_started_again(Way::GetTree);
}

#[test]
fn get_tree_connection_cut() {
    connection_cut(Way::GetTree);
}

#[test]
fn get_tree_retries_resume_inside_the_file() {
    retries_resume_inside_the_file(Way::GetTree);
}

#[test]
fn sync_up_client_killed_after_some_files() {
    client_killed_after_some_files(Way::SyncUp);
}

#[test]
fn sync_up_client_killed_inside_a_large_file() {
    client_killed_inside_a_large_file(Way::SyncUp);
}

#[test]
fn sync_up_server_killed_and_started_again() {
    server_killed_and_started_again(Way::SyncUp);
}

#[test]
fn sync_up_connection_cut() {
    connection_cut(Way::SyncUp);
}

#[test]
fn sync_down_client_killed_after_some_files() {
    client_killed_after_some_files(Way::SyncDown);
}

#[test]
fn sync_down_client_killed_inside_a_large_file() {
    client_killed_inside_a_large_file(Way::SyncDown);
}

#[test]
fn sync_down_server_killed_and_started_again() {
    server_killed_and_started_again(Way::SyncDown);
}

#[test]
fn sync_down_connection_cut() {
    connection_cut(Way::SyncDown);
}
