//! Load and faults through the real binaries: more connections than the server admits,
//! hundreds of uploads at once, a server killed at pseudo-random moments in the middle of
//! uploads, and a folder swapped for a symlink leading out of the home while uploads land in it.
//!
//! Every pseudo-random choice comes from a fixed-seed xorshift, so a failure replays.

// Test code: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{ErrorKind as IoErrorKind, Read};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use e2e::{Server, Site, code, random_file, run, same_content, stderr, stdout, wait_until};
use ftp_proto::{ErrorKind, ServerMessage};

const PASSWORD: &str = "load-test-password";
const MIB: usize = 1 << 20;

/// A fixed-seed xorshift: the same sequence on every run.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> XorShift {
        XorShift(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `0..bound` (`bound` > 0).
    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

/// A site with one user `name` (home: a folder of that name under the root).
fn site_with(name: &str, extra: &str) -> Site {
    let site = Site::new(extra);
    site.add_user(name, PASSWORD, &[]);
    site
}

/// Reads one whole frame and decodes it as a server message.
fn read_frame(stream: &mut TcpStream) -> std::io::Result<ServerMessage> {
    let mut prefix = [0u8; 4];
    stream.read_exact(&mut prefix)?;
    let len = u32::from_be_bytes(prefix) as usize;
    assert!(
        len <= ftp_proto::MAX_FRAME_LEN,
        "frame of {len} bytes from the server"
    );
    let mut payload = vec![0u8; len];
    stream.read_exact(&mut payload)?;
    ftp_proto::codec::decode_payload(&payload).map_err(std::io::Error::other)
}

/// Lines of the server log saying a session ended, whatever the reason.
fn sessions_ended(server: &Server) -> usize {
    server
        .log()
        .lines()
        .filter(|line| {
            line.contains("peer closed the connection")
                || line.contains("closing connection")
                || line.contains("session ended")
        })
        .count()
}

/// A number from a process's `/proc/<pid>/status` line `field` (`VmHWM` is in KiB).
fn proc_status(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.split_whitespace().next())
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/{pid}/status"))
}

/// The soft limit on open files of this process (the servers it starts inherit it).
fn open_files_limit() -> u64 {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    limits
        .lines()
        .find_map(|line| line.strip_prefix("Max open files"))
        .and_then(|values| values.split_whitespace().next())
        .map_or(u64::MAX, |soft| soft.parse().unwrap_or(u64::MAX))
}

/// Files (not folders or links) under `folder`, recursively, with their sizes.
fn files_under(folder: &Path) -> Vec<(PathBuf, u64)> {
    e2e::tree(folder)
        .into_iter()
        .filter(|(path, _)| {
            std::fs::symlink_metadata(path).is_ok_and(|meta| meta.file_type().is_file())
        })
        .collect()
}

/// Waits (bounded) for every child to exit; returns their exit codes (-1: killed by a signal).
fn wait_all(children: &mut [Child]) -> Vec<i32> {
    let mut codes = vec![None; children.len()];
    wait_until("every client to exit", || {
        for (child, slot) in children.iter_mut().zip(codes.iter_mut()) {
            if slot.is_none()
                && let Some(status) = child.try_wait().unwrap()
            {
                *slot = Some(status.code().unwrap_or(-1));
            }
        }
        codes.iter().all(Option::is_some)
    });
    codes.into_iter().map(Option::unwrap).collect()
}

/// How many times each value occurs, for messages.
fn histogram(values: &[i32]) -> BTreeMap<i32, usize> {
    let mut counts = BTreeMap::new();
    for value in values {
        *counts.entry(*value).or_default() += 1;
    }
    counts
}

#[test]
fn three_hundred_idle_connections() {
    const CONNECTIONS: usize = 300;
    const LIMIT: usize = 256;
    // Plain TCP: this is about the connection limit, read frame by frame from raw sockets (the
    // busy answer over TLS is tested in tls.rs).
    // Startups as many as connections: this is about max_connections, not the pre-key bounds
    // (startups.rs).
    let site = Site::plaintext(
        "max_connections = 256\nhandshake_timeout = \"3s\"\nmax_startups = 300\nmax_startups_per_address = 300\n",
    );
    site.add_user("alice", PASSWORD, &[]);
    // 300 sockets here and 300 in the server, plus pipes and files: raise `ulimit -n` if not.
    let limit = open_files_limit();
    assert!(
        limit >= 1024,
        "this test needs `ulimit -n` of at least 1024 (it is {limit})"
    );
    let mut server = site.start();

    // All open at once before any is read: the server sees 300 connections together.
    let mut streams: Vec<TcpStream> = (0..CONNECTIONS)
        .map(|_| TcpStream::connect(server.address).unwrap())
        .collect();
    let (mut hello, mut busy) = (0, 0);
    let mut other = Vec::new();
    for stream in &mut streams {
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        match read_frame(stream) {
            Ok(ServerMessage::Hello { .. }) => hello += 1,
            Ok(ServerMessage::Error {
                kind: ErrorKind::Busy,
                ..
            }) => busy += 1,
            Ok(message) => other.push(format!("{message:?}")),
            Err(error) => other.push(format!("no frame: {error}")),
        }
    }
    eprintln!("{CONNECTIONS} connections: {hello} hello, {busy} busy");
    assert!(other.is_empty(), "unexpected first frames: {other:?}");
    assert!(
        hello <= LIMIT,
        "{hello} connections admitted over a limit of {LIMIT}"
    );
    assert!(
        busy >= CONNECTIONS - LIMIT,
        "only {busy} of {CONNECTIONS} were told busy"
    );
    assert!(server.is_running(), "server died:\n{}", server.log());

    // Close them all; once the server has seen every admitted session end, a real client gets
    // in at the first try.
    drop(streams);
    wait_until("every admitted session to end", || {
        sessions_ended(&server) >= hello
    });
    let output = server.run_ftp("alice", PASSWORD, &["ls"]);
    assert_eq!(code(&output), 0, "ls after the flood: {}", stderr(&output));

    // A connection that never says anything is closed by the handshake timeout.
    let mut silent = TcpStream::connect(server.address).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    assert!(
        matches!(read_frame(&mut silent), Ok(ServerMessage::Hello { .. })),
        "a fresh connection is greeted"
    );
    let mut rest = Vec::new();
    match silent.read_to_end(&mut rest) {
        Ok(_) => {}
        Err(error) if error.kind() == IoErrorKind::ConnectionReset => {}
        Err(error) => panic!("a silent connection is still open after 30 s ({error})"),
    }
    server.wait_for_log("handshake timed out");
    assert!(server.is_running(), "server died:\n{}", server.log());
}

#[test]
fn two_hundred_concurrent_uploads() {
    const UPLOADS: usize = 200;
    const SIZE: usize = 4 * MIB;
    let site = site_with("alice", "fsync = true\n");
    let server = site.start();
    let sources = site.dir.path().join("sources");
    std::fs::create_dir(&sources).unwrap();
    let local = |i: usize| sources.join(format!("f{i:03}.bin"));
    // Generated on disk, two writers at a time; nothing stays in the test's memory.
    std::thread::scope(|scope| {
        for half in 0..2 {
            let local = &local;
            scope.spawn(move || {
                for i in (half..UPLOADS).step_by(2) {
                    random_file(&local(i), SIZE, 1000 + i as u64);
                }
            });
        }
    });

    let clients: Vec<_> = (0..UPLOADS)
        .map(|i| {
            let mut command = server.ftp("alice", PASSWORD);
            command
                .args(["--quiet", "put"])
                .arg(local(i))
                .arg(format!("many/f{i:03}.bin"));
            std::thread::spawn(move || run(command, None))
        })
        .collect();
    let outputs: Vec<_> = clients.into_iter().map(|c| c.join().unwrap()).collect();

    let peak = proc_status(server.pid(), "VmHWM");
    let threads = proc_status(server.pid(), "Threads");
    eprintln!(
        "server peak RSS (VmHWM) after {UPLOADS} concurrent uploads of {} MiB: {} MiB \
         ({peak} KiB); {threads} threads at the end",
        SIZE / MIB,
        peak / 1024
    );
    let failed: Vec<String> = outputs
        .iter()
        .enumerate()
        .filter(|(_, output)| code(output) != 0)
        .map(|(i, output)| format!("f{i:03}: exit {}: {}", code(output), stderr(output)))
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {UPLOADS} uploads failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
    let home = site.root().join("alice/many");
    for i in 0..UPLOADS {
        assert!(
            same_content(&local(i), &home.join(format!("f{i:03}.bin"))),
            "f{i:03}.bin differs or is missing"
        );
    }
    assert!(e2e::partials(&site.root()).is_empty(), "partials left");
}

#[test]
fn server_killed_at_random_points_during_uploads() {
    const FILES: usize = 20;
    const ROUNDS: usize = 5;
    let site = site_with("alice", "");
    let home = site.root().join("alice");
    let mut rng = XorShift::new(0x10ad_f00d);
    let sources = site.dir.path().join("sources");
    std::fs::create_dir(&sources).unwrap();
    // Between 1 and 5 MiB, never a round number of chunks.
    let files: Vec<(PathBuf, String, u64)> = (0..FILES)
        .map(|i| {
            let size = MIB as u64 + rng.below(4 * MIB as u64);
            let local = sources.join(format!("r{i:02}.bin"));
            random_file(&local, size as usize, 500 + i as u64);
            (local, format!("up/r{i:02}.bin"), size)
        })
        .collect();
    let total: u64 = files.iter().map(|(_, _, size)| size).sum();
    let source_of = |name: &Path| {
        files
            .iter()
            .find(|(_, remote, _)| home.join(remote) == name)
            .map(|(local, _, _)| local.clone())
    };
    // Bytes stored so far: finished files plus partials. The home is read first: a partial
    // renamed in between is then missed for a moment, never counted twice.
    let progress = || {
        let finished: u64 = files_under(&home).iter().map(|(_, size)| size).sum();
        finished + e2e::partial_bytes(&site.root())
    };
    // Only files that are ours and whole: never a file under its final name that is wrong.
    let check_invariant = |round: usize| {
        let present = files_under(&home);
        for (path, _) in &present {
            let source = source_of(path)
                .unwrap_or_else(|| panic!("round {round}: unexpected file {}", path.display()));
            assert!(
                same_content(&source, path),
                "round {round}: {} is visible but not byte-identical to its source",
                path.display()
            );
        }
        present.len()
    };

    for round in 0..ROUNDS {
        let mut server = site.start();
        let before = progress();
        // A kill point anywhere in the first 70 % of what is left to send (the fraction depends
        // on the seed alone, so every run kills at about the same places; some work is always
        // left for the final round to resume).
        let permille = rng.below(700);
        let kill_at = before + (total - before) * permille / 1000;
        let mut clients: Vec<Child> = files
            .iter()
            .map(|(local, remote, _)| {
                let mut command = server.ftp("alice", PASSWORD);
                command
                    .args(["--quiet", "put", "--retries", "0", "--limit-rate", "2M"])
                    .arg(local)
                    .arg(remote)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null());
                command.spawn().unwrap()
            })
            .collect();
        wait_until("the kill point", || {
            progress() >= kill_at
                || clients
                    .iter_mut()
                    .all(|client| client.try_wait().unwrap().is_some())
        });
        let at = progress();
        server.kill();
        let codes = wait_all(&mut clients);
        for ((_, remote, _), status) in files.iter().zip(&codes) {
            if *status == 0 {
                assert!(
                    home.join(remote).exists(),
                    "round {round}: {remote} reported done but is not there"
                );
            }
        }
        let finished = check_invariant(round);
        eprintln!(
            "round {round}: killed at {at} of {total} bytes stored (aimed at {kill_at}, \
             {permille} ‰ of what was left); \
             exit codes {:?}; {finished} files finished",
            histogram(&codes)
        );
    }

    // No kill, normal retries: everything finishes, and the stored parts are reused.
    let server = site.start();
    let clients: Vec<_> = files
        .iter()
        .map(|(local, remote, _)| {
            let mut command = server.ftp("alice", PASSWORD);
            command.args(["--json", "put"]).arg(local).arg(remote);
            std::thread::spawn(move || run(command, None))
        })
        .collect();
    let (mut resumed, mut identical) = (0, 0);
    for ((local, remote, size), client) in files.iter().zip(clients) {
        let output = client.join().unwrap();
        assert_eq!(code(&output), 0, "{remote}: {}", stderr(&output));
        let json: serde_json::Value = serde_json::from_str(stdout(&output).trim()).unwrap();
        assert_eq!(json["size"], *size, "{json}");
        if json["result"] == "identical" {
            // Finished in an earlier round: nothing sent again.
            identical += 1;
            assert_eq!(json["sent"], 0, "{json}");
        } else {
            assert_eq!(json["result"], "uploaded", "{json}");
            let from = json["resumed_from"].as_u64().unwrap();
            assert_eq!(from + json["sent"].as_u64().unwrap(), *size, "{json}");
            if from > 0 {
                resumed += 1;
            }
        }
        assert!(same_content(local, &home.join(remote)), "{remote} differs");
    }
    eprintln!(
        "final round: {identical} already there, {resumed} of {} uploads resumed",
        FILES - identical
    );
    assert_eq!(check_invariant(ROUNDS), FILES);
    assert!(
        resumed > 0,
        "no upload resumed from the parts left by the kills"
    );
    assert!(e2e::partials(&site.root()).is_empty(), "partials left");
}

#[test]
fn symlink_swapped_for_a_folder_while_uploading() {
    const WORKERS: usize = 4;
    const UPLOADS_EACH: usize = 25;
    /// Bounds on the swapping, whatever happens to the uploads.
    const MAX_SWAPS: u64 = 2_000_000;
    const SWAP_DEADLINE: Duration = Duration::from_secs(120);

    let site = site_with("bob", "");
    let server = site.start();
    let outside = tempfile::tempdir().unwrap();
    let home = site.root().join("bob");
    let target = home.join("target");
    // The two things that take turns at `target`, each waiting beside it (inside the home).
    let spare_dir = home.join("spare-dir");
    let spare_link = home.join("spare-link");
    std::fs::create_dir_all(&target).unwrap();
    std::os::unix::fs::symlink(outside.path(), &spare_link).unwrap();
    let small = site.dir.path().join("small.txt");
    std::fs::write(&small, "a small file\n").unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let stop = Arc::clone(&stop);
        let (home, target) = (home.clone(), target.clone());
        std::thread::spawn(move || {
            // Moves whatever the server created at `target` in the gap between two renames
            // out of the way (still inside the home), so the next rename can take its place.
            let mut strays = 0u64;
            let mut put_in_place = |from: &Path| {
                while let Err(error) = std::fs::rename(from, &target) {
                    assert!(
                        std::fs::symlink_metadata(&target).is_ok(),
                        "rename {} failed: {error}",
                        from.display()
                    );
                    strays += 1;
                    std::fs::rename(&target, home.join(format!("stray-{strays}"))).unwrap();
                }
            };
            let started = Instant::now();
            let mut swaps = 0u64;
            while !stop.load(Ordering::SeqCst)
                && swaps < MAX_SWAPS
                && started.elapsed() < SWAP_DEADLINE
            {
                // target is the folder: park it, put the link there; then the reverse.
                std::fs::rename(&target, &spare_dir).unwrap();
                put_in_place(&spare_link);
                std::fs::rename(&target, &spare_link).unwrap();
                put_in_place(&spare_dir);
                swaps += 2;
            }
            swaps
        })
    };

    let workers: Vec<_> = (0..WORKERS)
        .map(|worker| {
            let commands: Vec<_> = (0..UPLOADS_EACH)
                .map(|k| {
                    let n = worker * UPLOADS_EACH + k;
                    let mut command = server.ftp("bob", PASSWORD);
                    command
                        .args(["--quiet", "put", "--retries", "0"])
                        .arg(&small)
                        .arg(format!("target/f{n:03}.txt"));
                    (n, command)
                })
                .collect();
            std::thread::spawn(move || {
                commands
                    .into_iter()
                    .map(|(n, command)| (n, code(&run(command, None))))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let results: Vec<(usize, i32)> = workers
        .into_iter()
        .flat_map(|worker| worker.join().unwrap())
        .collect();
    stop.store(true, Ordering::SeqCst);
    let swaps = swapper.join().unwrap();

    let escaped: Vec<_> = e2e::tree(outside.path());
    assert!(
        escaped.is_empty(),
        "uploads landed outside bob's home: {escaped:?}"
    );
    // The swapper always ends with the real folder back at `target`.
    assert!(std::fs::symlink_metadata(&target).unwrap().is_dir());
    let landed = files_under(&home);
    let mut in_target = 0;
    for (n, status) in &results {
        if *status != 0 {
            continue;
        }
        let name = format!("f{n:03}.txt");
        let found: Vec<_> = landed
            .iter()
            .filter(|(path, _)| path.file_name().is_some_and(|f| f == name.as_str()))
            .collect();
        assert_eq!(found.len(), 1, "upload {name} succeeded: {found:?}");
        let path = &found[0].0;
        assert!(path.starts_with(&home), "{}", path.display());
        assert!(same_content(&small, path), "{} differs", path.display());
        if path.parent() == Some(target.as_path()) {
            in_target += 1;
        }
    }
    let codes: Vec<i32> = results.iter().map(|(_, status)| *status).collect();
    eprintln!(
        "{swaps} swaps; exit codes {:?}; {in_target} successful uploads in target/, {} files in bob's home",
        histogram(&codes),
        landed.len()
    );
    assert!(swaps > 0, "the folder was never swapped");
}
