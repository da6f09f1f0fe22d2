//! Per-user limits through the real binaries: the quota checked before any data (single put,
//! resumed put, tree put), `ftp df` and its JSON, the user's rate across two sessions,
//! max-sessions and expiry, and `ftpd user set|list`.

// Test code: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant, UNIX_EPOCH};

use e2e::{Site, code, partials, random_file, raw_session, run, stderr, stdout};
use ftp_proto::{ClientMessage, ErrorKind, FileIdentity, ServerMessage};
use futures::{SinkExt, StreamExt};

const PASSWORD: &str = "quota-password";
const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;

fn json(output: &std::process::Output) -> serde_json::Value {
    serde_json::from_str(stdout(output).trim()).expect("one JSON object")
}

/// `ftpd user set NAME ARGS…`, which must succeed.
fn set(site: &Site, name: &str, args: &[&str]) {
    let mut line = vec!["user", "set", name];
    line.extend_from_slice(args);
    let output = run(site.ftpd(&line), None);
    assert_eq!(code(&output), 0, "user set: {}", stderr(&output));
}

#[test]
fn an_upload_over_quota_is_refused_before_any_data_and_df_shows_the_usage() {
    let site = Site::plaintext("");
    site.add_user("alice", PASSWORD, &["--quota", "1MiB", "--max-files", "2"]);
    let server = site.start();
    let big = site.dir.path().join("big.bin");
    random_file(&big, 2 * MIB, 1);
    let output = server.run_ftp("alice", PASSWORD, &["put", big.to_str().unwrap()]);
    assert_eq!(code(&output), 4, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("quota: 0 B of 1 MiB used, this file needs 2 MiB"),
        "{}",
        stderr(&output)
    );
    assert!(partials(&site.root()).is_empty(), "no partial was made");
    assert!(
        !server.log().contains("receiving upload"),
        "{}",
        server.log()
    );
    assert!(!site.root().join("alice/big.bin").exists());

    let small = site.dir.path().join("small.bin");
    random_file(&small, 600 * KIB, 2);
    let output = server.run_ftp("alice", PASSWORD, &["put", small.to_str().unwrap()]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    // 600 KiB more does not fit beside the first 600 KiB.
    let output = server.run_ftp(
        "alice",
        PASSWORD,
        &["put", small.to_str().unwrap(), "again.bin"],
    );
    assert_eq!(code(&output), 4, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("quota: 600 KiB of 1 MiB used"),
        "{}",
        stderr(&output)
    );

    let output = server.run_ftp("alice", PASSWORD, &["--json", "df"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let df = json(&output);
    assert_eq!(df["op"], "df");
    assert_eq!(df["used_bytes"], 600 * KIB);
    assert_eq!(df["used_files"], 1);
    assert_eq!(df["partial_bytes"], 0);
    assert_eq!(df["quota_bytes"], MIB);
    assert_eq!(df["free_bytes"], MIB - 600 * KIB);
    assert_eq!(df["max_files"], 2);
    assert_eq!(df["free_files"], 1);
    let output = server.run_ftp("alice", PASSWORD, &["df"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(
        stdout(&output).contains("quota  1 MiB, 424 KiB free"),
        "{}",
        stdout(&output)
    );

    // Raised without a restart: the next login has the new quota. A small file then fits, and
    // the file limit (2) refuses the third.
    set(&site, "alice", &["--quota", "none"]);
    let tiny = site.dir.path().join("tiny.txt");
    std::fs::write(&tiny, "tiny").unwrap();
    let output = server.run_ftp("alice", PASSWORD, &["put", tiny.to_str().unwrap()]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let output = server.run_ftp("alice", PASSWORD, &["put", tiny.to_str().unwrap(), "t2"]);
    assert_eq!(code(&output), 4, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("2 of 2 files"),
        "{}",
        stderr(&output)
    );

    let list = run(site.ftpd(&["user", "list"]), None);
    assert_eq!(code(&list), 0, "{}", stderr(&list));
    let text = stdout(&list);
    assert!(text.contains("600 KiB, 2 files"), "{text}");
    assert!(text.contains("max-files 2"), "{text}");
}

/// The client's identity of a local file.
fn identity(path: &Path) -> FileIdentity {
    let meta = std::fs::metadata(path).unwrap();
    let modified = meta.modified().unwrap().duration_since(UNIX_EPOCH).unwrap();
    FileIdentity {
        size: meta.len(),
        modified_secs: modified.as_secs() as i64,
        modified_nanos: modified.subsec_nanos(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_upload_needs_only_what_it_still_lacks() {
    let site = Site::plaintext("");
    site.add_user("alice", PASSWORD, &[]);
    let server = site.start();
    let file = site.dir.path().join("resume.bin");
    random_file(&file, 3 * MIB, 3);
    // Half of it reaches the server, then the connection goes.
    let mut conn = raw_session(&server, None, "alice", PASSWORD).await.unwrap();
    conn.send(ClientMessage::Put(ftp_proto::PutRequest {
        path: "resume.bin".into(),
        file: identity(&file),
        force: false,
        upload_id: [3; 16],
    }))
    .await
    .unwrap();
    assert!(matches!(
        conn.next().await,
        Some(Ok(ServerMessage::PutReady { offset: 0 }))
    ));
    let content = std::fs::read(&file).unwrap();
    for (i, part) in content[..2 * MIB].chunks(MIB).enumerate() {
        conn.send(ClientMessage::Chunk {
            offset: (i * MIB) as u64,
            data: bytes::Bytes::copy_from_slice(part),
        })
        .await
        .unwrap();
    }
    drop(conn);
    e2e::wait_until("the partial holds 2 MiB", || {
        e2e::partial_bytes(&site.root()) == 2 * MIB as u64
    });
    // 3 MiB stored in all once it is done: the whole file would not fit beside the 2 MiB
    // held (5 MiB), what it still needs does.
    set(&site, "alice", &["--quota", "3MiB"]);
    let output = server.run_ftp("alice", PASSWORD, &["--json", "df"]);
    assert_eq!(
        json(&output)["partial_bytes"],
        2 * MIB,
        "{}",
        stdout(&output)
    );
    let output = server.run_ftp("alice", PASSWORD, &["put", file.to_str().unwrap()]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(server.log().contains("resuming upload"), "{}", server.log());
    // Another 3 MiB file, new, does not fit.
    let other = site.dir.path().join("other.bin");
    random_file(&other, 3 * MIB, 4);
    let output = server.run_ftp("alice", PASSWORD, &["put", other.to_str().unwrap()]);
    assert_eq!(code(&output), 4, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("quota: 3 MiB of 3 MiB used"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_tree_put_over_quota_is_refused_up_front() {
    let site = Site::plaintext("");
    site.add_user("alice", PASSWORD, &["--quota", "1M"]);
    let server = site.start();
    let dir = site.dir.path().join("photos");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    random_file(&dir.join("a.bin"), 400 * KIB, 5);
    random_file(&dir.join("b.bin"), 400 * KIB, 6);
    random_file(&dir.join("sub/c.bin"), 400 * KIB, 7);
    let output = server.run_ftp("alice", PASSWORD, &["put", "-r", dir.to_str().unwrap()]);
    assert_eq!(code(&output), 4, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("this transfer needs 1.2 MiB more (3 new files)"),
        "{}",
        stderr(&output)
    );
    // Nothing was sent: not a folder, not a file.
    assert!(!site.root().join("alice/photos").exists());
    assert!(partials(&site.root()).is_empty());
    // sync is checked the same way.
    let output = server.run_ftp(
        "alice",
        PASSWORD,
        &["sync", dir.to_str().unwrap(), ":photos"],
    );
    assert_eq!(code(&output), 4, "{}", stderr(&output));
    assert!(!site.root().join("alice/photos").exists());
    // With room, it goes.
    set(&site, "alice", &["--quota", "2M"]);
    let output = server.run_ftp("alice", PASSWORD, &["put", "-r", dir.to_str().unwrap()]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_at_max_sessions_is_refused_and_the_others_keep_working() {
    let site = Site::plaintext("");
    site.add_user("alice", PASSWORD, &["--max-sessions", "2"]);
    site.add_user("bob", PASSWORD, &[]);
    let server = site.start();
    let one = raw_session(&server, None, "alice", PASSWORD).await.unwrap();
    let mut two = raw_session(&server, None, "alice", PASSWORD).await.unwrap();
    let refused = tokio::task::spawn_blocking({
        let command = server.ftp("alice", PASSWORD);
        move || {
            let mut command = command;
            command.arg("ls");
            run(command, None)
        }
    })
    .await
    .unwrap();
    assert_eq!(code(&refused), 4, "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("too many sessions"),
        "{}",
        stderr(&refused)
    );
    assert!(server.log().contains("login refused: too many sessions"));
    // The open sessions work, and so does another user.
    two.send(ClientMessage::List { path: "".into() })
        .await
        .unwrap();
    assert!(matches!(
        two.next().await,
        Some(Ok(ServerMessage::Listing { .. }))
    ));
    let bob = raw_session(&server, None, "bob", PASSWORD).await;
    assert!(bob.is_ok());
    // One ends: a new one is let in.
    drop(one);
    let mut again = None;
    for _ in 0..200 {
        match raw_session(&server, None, "alice", PASSWORD).await {
            Ok(conn) => {
                again = Some(conn);
                break;
            }
            Err(ServerMessage::Error {
                kind: ErrorKind::TooManySessions,
                ..
            }) => tokio::task::yield_now().await,
            Err(other) => panic!("{other:?}"),
        }
    }
    assert!(again.is_some(), "a session was let in once one ended");
}

#[test]
fn an_expired_account_is_refused_like_a_wrong_password() {
    let site = Site::plaintext("");
    site.add_user("alice", PASSWORD, &["--expires", "2020-01-01"]);
    let server = site.start();
    let output = server.run_ftp("alice", PASSWORD, &["ls"]);
    assert_eq!(code(&output), 3, "{}", stderr(&output));
    let wrong = server.run_ftp("alice", "wrong-password", &["ls"]);
    assert_eq!(code(&wrong), 3);
    let words = |o: &std::process::Output| stderr(o).lines().next().unwrap_or("").to_owned();
    assert_eq!(words(&output), words(&wrong));
    assert!(
        server.log().contains("the account has expired"),
        "{}",
        server.log()
    );
    // Extended without a restart.
    set(&site, "alice", &["--expires", "2999-12-31"]);
    let output = server.run_ftp("alice", PASSWORD, &["ls"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
}

#[test]
fn the_rate_holds_across_two_sessions_of_one_user() {
    let site = Site::plaintext("");
    site.add_user("alice", PASSWORD, &["--rate", "512K"]);
    let server = site.start();
    let home = site.root().join("alice");
    std::fs::create_dir_all(&home).unwrap();
    random_file(&home.join("one.bin"), 768 * KIB, 8);
    random_file(&home.join("two.bin"), 768 * KIB, 9);
    let start = Instant::now();
    let gets: Vec<_> = ["one.bin", "two.bin"]
        .into_iter()
        .map(|name| {
            let mut command = server.ftp("alice", PASSWORD);
            let local = site.dir.path().join(name);
            command.args(["get", name, local.to_str().unwrap()]);
            command
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            command.spawn().unwrap()
        })
        .collect();
    for child in gets {
        let output = e2e::output_of(child, "ftp get");
        assert_eq!(code(&output), 0, "{}", stderr(&output));
    }
    let elapsed = start.elapsed();
    // 1.5 MiB in all at 512 KiB/s: under 1.5 times the rate means at least 2 s.
    let rate = (1536 * KIB) as f64 / elapsed.as_secs_f64();
    assert!(
        rate < 1.5 * (512 * KIB) as f64,
        "{rate:.0} B/s in {elapsed:?}"
    );
    assert!(elapsed > Duration::ZERO);
}
