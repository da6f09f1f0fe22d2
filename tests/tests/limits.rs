//! Limits and faults through the real server: login throttling per address, the minimum
//! transfer rate, the per-user partial quota and graceful shutdown (a full disk: `disk_full.rs`).

// Test code: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Stdio;

use e2e::{Site, code, random_file, same_content, stderr, stdout, wait_until};
use ftp_proto::{ClientMessage, ErrorKind, FileIdentity, ServerMessage};
use futures::{SinkExt, StreamExt};

const PASSWORD: &str = "limits-password";
const MIB: usize = 1 << 20;

fn json(output: &std::process::Output) -> serde_json::Value {
    serde_json::from_str(stdout(output).trim()).expect("one JSON object")
}

#[test]
fn twelve_wrong_passwords_are_slowed_then_refused_while_another_address_logs_in() {
    let site = Site::new(
        "login_failure_delay = \"20ms\"\nlogin_failures_before_lockout = 10\nlogin_lockout = \"1h\"\n",
    );
    site.add_user("alice", PASSWORD, &[]);
    let server = site.start();
    let mut messages = Vec::new();
    for _ in 0..12 {
        let output = server.run_ftp("alice", "wrong-password", &["ls"]);
        assert_eq!(code(&output), 3, "{}", stderr(&output));
        messages.push(stderr(&output));
    }
    assert!(
        messages[..10].iter().all(|m| m.contains("login failed")),
        "{messages:?}"
    );
    assert!(
        messages[10..]
            .iter()
            .all(|m| m.contains("too many failed logins")),
        "{messages:?}"
    );
    let log = server.log();
    assert_eq!(
        log.matches("checking a password").count(),
        10,
        "locked-out tries are not hashed"
    );
    for delay in ["delay_ms=20", "delay_ms=100", "delay_ms=200"] {
        assert!(
            log.contains(delay),
            "failures are slowed down more and more ({delay}):\n{log}"
        );
    }
    // Even the right password is refused from the locked address...
    let output = server.run_ftp("alice", PASSWORD, &["ls"]);
    assert_eq!(code(&output), 3);
    // ...but another address logs in at once.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let from = Some("127.0.0.2".parse().unwrap());
    let session = runtime.block_on(e2e::raw_session(&server, from, "alice", PASSWORD));
    assert!(session.is_ok(), "login from 127.0.0.2: {:?}", session.err());
}

/// Starts an upload of `size` bytes on a raw session and then sends nothing more.
async fn stalled_upload(server: &e2e::Server, size: u64) -> ServerMessage {
    let mut conn = e2e::raw_session(server, None, "alice", PASSWORD)
        .await
        .expect("login");
    conn.send(ClientMessage::Put(ftp_proto::PutRequest {
        path: "stalled.bin".into(),
        file: FileIdentity {
            size,
            modified_secs: 1,
            modified_nanos: 0,
        },
        force: false,
        upload_id: [7; 16],
    }))
    .await
    .unwrap();
    assert!(matches!(
        conn.next().await,
        Some(Ok(ServerMessage::PutReady { offset: 0 }))
    ));
    conn.send(ClientMessage::Chunk {
        offset: 0,
        data: bytes::Bytes::from(vec![1u8; 1000]),
    })
    .await
    .unwrap();
    // Now silence: the floor must end it with an error frame, then close.
    match conn.next().await {
        Some(Ok(message)) => message,
        other => panic!("expected an error frame, got {other:?}"),
    }
}

#[test]
fn a_stalled_upload_and_a_reader_that_stops_reading_are_cut() {
    let site = Site::new("min_transfer_rate = \"64K\"\ntransfer_rate_window = \"1s\"\n");
    site.add_user("alice", PASSWORD, &[]);
    let mut server = site.start();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    match runtime.block_on(stalled_upload(&server, 1 << 20)) {
        ServerMessage::Error { kind, message } => {
            assert_eq!(kind, ErrorKind::Unavailable, "a reconnect may resume it");
            assert!(message.contains("too slow"), "{message}");
        }
        other => panic!("expected an error, got {other:?}"),
    }
    assert_eq!(
        e2e::partial_bytes(&site.root()),
        1000,
        "what arrived is kept"
    );

    // A download whose reader never reads: the server's sends block, the floor still cuts.
    std::fs::create_dir_all(site.root().join("alice")).unwrap();
    random_file(&site.root().join("alice/big.bin"), 32 * MIB, 30);
    runtime.block_on(async {
        let mut conn = e2e::raw_session(&server, None, "alice", PASSWORD)
            .await
            .expect("login");
        conn.send(ClientMessage::Get {
            path: "big.bin".into(),
            offset: 0,
            limit_rate: None,
        })
        .await
        .unwrap();
        // Read nothing; wait for the server to give up on us.
        tokio::task::block_in_place(|| server.wait_for_log("transfer too slow"));
        drop(conn);
    });
    assert!(server.is_running());
    let output = server.run_ftp("alice", PASSWORD, &["ls"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
}

/// Starts `ftp put` slowly in the background.
fn slow_put(server: &e2e::Server, local: &Path, remote: &str) -> std::process::Child {
    let mut command = server.ftp("alice", PASSWORD);
    command
        .args(["put", "--limit-rate", "1M", "--retries", "0"])
        .arg(local)
        .arg(remote)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command.spawn().expect("spawn ftp")
}

#[test]
fn the_partial_quota_refuses_new_uploads_but_not_resumes() {
    let site = Site::new("max_partials_per_user = 2\n");
    site.add_user("alice", PASSWORD, &[]);
    let server = site.start();
    let locals: Vec<PathBuf> = (0..3)
        .map(|i| {
            let path = site.dir.path().join(format!("q{i}.bin"));
            random_file(&path, 8 * MIB, 40 + i);
            path
        })
        .collect();
    for (i, local) in locals[..2].iter().enumerate() {
        let mut client = slow_put(&server, local, &format!("q{i}.bin"));
        wait_until("a partial with data", || {
            e2e::partials(&site.root())
                .iter()
                .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.len() > 0))
                .count()
                > i
        });
        client.kill().unwrap();
        client.wait().unwrap();
    }
    let output = server.run_ftp("alice", PASSWORD, &["put", locals[2].to_str().unwrap()]);
    assert_eq!(code(&output), 4, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("unfinished uploads"),
        "{}",
        stderr(&output)
    );
    let output = server.run_ftp(
        "alice",
        PASSWORD,
        &["--json", "put", locals[0].to_str().unwrap(), "q0.bin"],
    );
    assert_eq!(
        code(&output),
        0,
        "resuming is always allowed: {}",
        stderr(&output)
    );
    assert!(json(&output)["resumed_from"].as_u64().unwrap() > 0);
    let output = server.run_ftp("alice", PASSWORD, &["put", locals[2].to_str().unwrap()]);
    assert_eq!(
        code(&output),
        0,
        "a slot is free again: {}",
        stderr(&output)
    );
}

#[test]
fn sigterm_lets_uploads_keep_their_data_and_exits_zero_then_the_rerun_resumes() {
    let site = Site::new("shutdown_grace = \"20s\"\n");
    site.add_user("alice", PASSWORD, &[]);
    let mut server = site.start();
    let local = site.dir.path().join("long.bin");
    random_file(&local, 16 * MIB, 50);
    let client = slow_put(&server, &local, "long.bin");
    wait_until("part of the upload", || {
        e2e::partial_bytes(&site.root()) >= MIB as u64
    });
    server.signal("TERM");
    assert_eq!(server.wait_exit(), 0, "graceful exit:\n{}", server.log());
    let output = client.wait_with_output().unwrap();
    assert_ne!(output.status.code(), Some(0));
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(
        message.contains("shutting down"),
        "the client is told why: {message}"
    );
    let kept = e2e::partial_bytes(&site.root());
    assert!(kept >= MIB as u64, "the partial is kept");
    assert!(!site.root().join("alice/long.bin").exists());

    let server = site.start();
    let output = server.run_ftp(
        "alice",
        PASSWORD,
        &["--json", "put", local.to_str().unwrap()],
    );
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(json(&output)["resumed_from"].as_u64().unwrap() >= kept - MIB as u64);
    assert!(same_content(&local, &site.root().join("alice/long.bin")));
}

#[test]
fn a_second_signal_stops_at_once() {
    let site = Site::new("shutdown_grace = \"1h\"\nmin_transfer_rate = \"0\"\n");
    site.add_user("alice", PASSWORD, &[]);
    std::fs::create_dir_all(site.root().join("alice")).unwrap();
    random_file(&site.root().join("alice/big.bin"), 32 * MIB, 31);
    let mut server = site.start();
    // A download whose reader never reads: the session's sends block, so the graceful wait
    // cannot finish on its own.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _held = runtime.block_on(async {
        let mut conn = e2e::raw_session(&server, None, "alice", PASSWORD)
            .await
            .expect("login");
        conn.send(ClientMessage::Get {
            path: "big.bin".into(),
            offset: 0,
            limit_rate: None,
        })
        .await
        .unwrap();
        conn
    });
    server.wait_for_log("waiting for a slow reader");
    server.signal("INT");
    server.wait_for_log("signal received");
    server.signal("INT");
    assert_eq!(server.wait_exit(), 130, "{}", server.log());
}
