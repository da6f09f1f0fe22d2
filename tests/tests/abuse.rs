//! Protocol abuse against the real server, after a valid login: messages out of order, a chunk
//! past the declared size, offsets that overflow, data after an error, a second upload inside
//! one. Each gets a clear error frame and a closed connection, and no partial is damaged: a
//! real upload of the same file afterwards resumes and lands byte-identical.

// Test code: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use e2e::{Server, Site, code, random_file, same_content, stderr, stdout};
use ftp_proto::{ClientMessage, ErrorKind, FileIdentity, ServerMessage};
use futures::{SinkExt, StreamExt};

const PASSWORD: &str = "abuse-password";
type Conn = e2e::RawConn;

fn identity(size: u64) -> FileIdentity {
    FileIdentity {
        size,
        modified_secs: 1_700_000_000,
        modified_nanos: 5,
    }
}

async fn login(server: &Server) -> Conn {
    e2e::raw_session(server, None, "alice", PASSWORD)
        .await
        .expect("login")
}

async fn send(conn: &mut Conn, message: ClientMessage) {
    // The server may already have closed; what it answered is what the test checks.
    let _ = conn.send(message).await;
}

/// The next frame must be an error of `kind`, and then the connection must close.
async fn expect_error_then_close(conn: &mut Conn, kind: ErrorKind) -> String {
    let message = loop {
        match conn.next().await {
            Some(Ok(ServerMessage::Error { kind: got, message })) => {
                assert_eq!(got, kind, "{message}");
                break message;
            }
            Some(Ok(ServerMessage::PutReady { .. })) => continue,
            other => panic!("expected an error frame, got {other:?}"),
        }
    };
    match conn.next().await {
        None | Some(Err(_)) => message,
        Some(Ok(other)) => panic!("frame after a fatal error: {other:?}"),
    }
}

async fn start_put(conn: &mut Conn, path: &str, size: u64) -> u64 {
    send(
        conn,
        ClientMessage::Put(ftp_proto::PutRequest {
            path: path.into(),
            file: identity(size),
            force: false,
            upload_id: [1; 16],
        }),
    )
    .await;
    match conn.next().await {
        Some(Ok(ServerMessage::PutReady { offset })) => offset,
        other => panic!("expected PutReady, got {other:?}"),
    }
}

async fn chunk(conn: &mut Conn, offset: u64, data: &[u8]) {
    send(
        conn,
        ClientMessage::Chunk {
            offset,
            data: bytes::Bytes::copy_from_slice(data),
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn each_violation_gets_an_error_and_a_closed_connection() {
    let site = Site::new("");
    site.add_user("alice", PASSWORD, &[]);
    let server = site.start();

    // Upload data with no upload in progress.
    let mut conn = login(&server).await;
    chunk(&mut conn, 0, b"x").await;
    let why = expect_error_then_close(&mut conn, ErrorKind::Protocol).await;
    assert!(why.contains("no upload in progress"), "{why}");

    // PutFinish, PutCancel and PutReplace out of order.
    for message in [
        ClientMessage::PutFinish { sha256: [0; 32] },
        ClientMessage::PutCancel {},
        ClientMessage::PutReplace {},
    ] {
        let mut conn = login(&server).await;
        send(&mut conn, message).await;
        expect_error_then_close(&mut conn, ErrorKind::Protocol).await;
    }

    // A chunk at an offset that overflows, and one that skips ahead.
    for offset in [u64::MAX, 5] {
        let mut conn = login(&server).await;
        start_put(&mut conn, &format!("o{offset}.bin"), 10).await;
        chunk(&mut conn, offset, b"abc").await;
        let why = expect_error_then_close(&mut conn, ErrorKind::Protocol).await;
        assert!(why.contains("offset"), "{why}");
    }

    // A chunk past the declared size (and one whose end would overflow u64).
    let mut conn = login(&server).await;
    start_put(&mut conn, "past.bin", 4).await;
    chunk(&mut conn, 0, b"12345").await;
    let why = expect_error_then_close(&mut conn, ErrorKind::Protocol).await;
    assert!(why.contains("past the declared size"), "{why}");

    // Finishing before all the data arrived.
    let mut conn = login(&server).await;
    start_put(&mut conn, "early.bin", 4).await;
    chunk(&mut conn, 0, b"12").await;
    send(&mut conn, ClientMessage::PutFinish { sha256: [0; 32] }).await;
    let why = expect_error_then_close(&mut conn, ErrorKind::Protocol).await;
    assert!(why.contains("finished at 2 of 4"), "{why}");

    // A second upload, a login or a listing in the middle of an upload.
    for intruder in [
        ClientMessage::Put(ftp_proto::PutRequest {
            path: "other.bin".into(),
            file: identity(1),
            force: false,
            upload_id: [2; 16],
        }),
        ClientMessage::Login {
            user: "alice".into(),
            password: ftp_proto::Password::new(PASSWORD.into()),
        },
        ClientMessage::List { path: "/".into() },
    ] {
        let mut conn = login(&server).await;
        start_put(&mut conn, "mid.bin", 100).await;
        send(&mut conn, intruder).await;
        expect_error_then_close(&mut conn, ErrorKind::Protocol).await;
    }

    // Data after a refusal: the refusal keeps the session, the stray chunk ends it.
    let mut conn = login(&server).await;
    send(
        &mut conn,
        ClientMessage::Put(ftp_proto::PutRequest {
            path: "../escape.bin".into(),
            file: identity(3),
            force: false,
            upload_id: [3; 16],
        }),
    )
    .await;
    match conn.next().await {
        Some(Ok(ServerMessage::Error { kind, .. })) => assert_eq!(kind, ErrorKind::InvalidPath),
        other => panic!("expected a refusal, got {other:?}"),
    }
    chunk(&mut conn, 0, b"abc").await;
    expect_error_then_close(&mut conn, ErrorKind::Protocol).await;

    // An absurd size is refused before anything is stored.
    let mut conn = login(&server).await;
    send(
        &mut conn,
        ClientMessage::Put(ftp_proto::PutRequest {
            path: "huge.bin".into(),
            file: identity(u64::MAX),
            force: false,
            upload_id: [4; 16],
        }),
    )
    .await;
    match conn.next().await {
        Some(Ok(ServerMessage::Error { kind, .. })) => assert_eq!(kind, ErrorKind::Denied),
        other => panic!("expected a refusal, got {other:?}"),
    }

    let output = server.run_ftp("alice", PASSWORD, &["ls"]);
    assert_eq!(
        code(&output),
        0,
        "the server still serves: {}",
        stderr(&output)
    );
    assert!(
        stdout(&output).is_empty(),
        "nothing became visible: {}",
        stdout(&output)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_violation_mid_upload_leaves_the_partial_resumable() {
    let site = Site::new("");
    site.add_user("alice", PASSWORD, &[]);
    let server = site.start();
    let local = site.dir.path().join("real.bin");
    random_file(&local, 3 << 20, 70);
    let bytes = std::fs::read(&local).unwrap();
    let meta = std::fs::metadata(&local).unwrap();
    let modified = meta
        .modified()
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let file = FileIdentity {
        size: bytes.len() as u64,
        modified_secs: modified.as_secs() as i64,
        modified_nanos: modified.subsec_nanos(),
    };

    // Send the first MiB properly, then a chunk that skips ahead: the connection closes.
    let mut conn = login(&server).await;
    send(
        &mut conn,
        ClientMessage::Put(ftp_proto::PutRequest {
            path: "real.bin".into(),
            file,
            force: false,
            upload_id: [9; 16],
        }),
    )
    .await;
    assert!(matches!(
        conn.next().await,
        Some(Ok(ServerMessage::PutReady { offset: 0 }))
    ));
    chunk(&mut conn, 0, &bytes[..1 << 20]).await;
    chunk(&mut conn, (1 << 20) + 5, &bytes[(1 << 20) + 5..(2 << 20)]).await;
    let why = expect_error_then_close(&mut conn, ErrorKind::Protocol).await;
    assert!(why.contains("offset"), "{why}");
    assert_eq!(
        e2e::partial_bytes(&site.root()),
        1 << 20,
        "only the valid chunk is kept"
    );

    // The real client resumes from that chunk and the result is exact.
    let output = tokio::task::block_in_place(|| {
        server.run_ftp(
            "alice",
            PASSWORD,
            &["--json", "put", local.to_str().unwrap()],
        )
    });
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_str(stdout(&output).trim()).unwrap();
    assert_eq!(json["resumed_from"], 1 << 20);
    assert!(same_content(&local, &site.root().join("alice/real.bin")));
}
