//! Tests of `Put` on an in-process connection: the destination's lock is let go before the
//! client is told how the upload ended.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ftp_proto::{ClientCodec, ClientMessage, FileIdentity, ServerMessage};
use futures::{SinkExt, StreamExt};
use sha2::{Digest, Sha256};
use tokio_util::codec::Framed;

use super::{PutRequest, handle};
use crate::handlers::Session;
use crate::users::Account;

/// Uploads `abc` to `/f.bin` over a connection too narrow for the answer, which the client
/// never reads; `before_finish` runs before `PutFinish` is sent. Returns once another command
/// gets the destination's lock, and fails if it stays busy.
async fn lock_is_free_while_the_answer_is_unread(
    sha256: [u8; 32],
    before_finish: fn(&std::path::Path),
) {
    let dir = tempfile::tempdir().unwrap();
    let config = crate::Config {
        root: dir.path().join("root"),
        users: dir.path().join("users.toml"),
        secret_file: dir.path().join("key"),
        insecure_plaintext: true,
        ..crate::Config::default()
    };
    let (state, _) = crate::prepare(config).await.unwrap();
    std::fs::create_dir(dir.path().join("root/alice")).unwrap();
    let session = Session {
        account: Account {
            name: "alice".into(),
            home: "alice".into(),
            read_only: false,
        },
        home: Arc::new(state.root.open_dir("alice").unwrap()),
    };
    // Room for the small frames, not for an error's message.
    let (client, server) = tokio::io::duplex(64);
    let server_state = Arc::clone(&state);
    let serving = tokio::spawn(async move {
        let mut conn = Framed::new(server, ftp_proto::ServerCodec::default());
        let request = PutRequest {
            path: "/f.bin".into(),
            file: FileIdentity {
                size: 3,
                modified_secs: 1,
                modified_nanos: 0,
            },
            force: false,
            upload_id: [1; 16],
        };
        let _ = handle(&mut conn, &session, &server_state, request).await;
        conn
    });
    let mut client = Framed::new(client, ClientCodec::default());
    let ready = client.next().await.unwrap().unwrap();
    assert!(
        matches!(ready, ServerMessage::PutReady { offset: 0 }),
        "{ready:?}"
    );
    client
        .send(ClientMessage::Chunk {
            offset: 0,
            data: Bytes::from_static(b"abc"),
        })
        .await
        .unwrap();
    before_finish(&dir.path().join("root/alice/f.bin"));
    client
        .send(ClientMessage::PutFinish { sha256 })
        .await
        .unwrap();

    let deadline = Instant::now() + Duration::from_secs(10);
    while let Err(refusal) = state
        .locks
        .lock("alice/f.bin".into(), [2; 16], "other", "/f.bin")
        .await
    {
        assert!(
            Instant::now() < deadline,
            "still held while the client is not told: {refusal:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The answer is still there to read.
    let answer = client.next().await.unwrap().unwrap();
    assert!(matches!(answer, ServerMessage::Error { .. }), "{answer:?}");
    drop(serving.await.unwrap());
}

#[tokio::test]
async fn a_failed_integrity_check_lets_go_before_the_client_is_told() {
    lock_is_free_while_the_answer_is_unread([0; 32], |_| {}).await;
}

#[tokio::test]
async fn a_file_that_appeared_lets_go_before_the_client_is_told() {
    let sha256 = Sha256::digest(b"abc").into();
    lock_is_free_while_the_answer_is_unread(sha256, |destination| {
        std::fs::write(destination, b"planted").unwrap();
    })
    .await;
}
