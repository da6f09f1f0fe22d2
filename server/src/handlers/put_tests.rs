//! Tests of `Put` on an in-process connection: the destination's lock is let go before the
//! client is told how the upload ended.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ftp_proto::{ClientCodec, ClientMessage, FileIdentity, ServerMessage};
use futures::{SinkExt, StreamExt};
use sha2::{Digest, Sha256};
use tokio_util::codec::Framed;

use super::handle;
use ftp_proto::PutRequest;

/// Uploads `abc` to `/f.bin` over a connection too narrow for the answer, which the client
/// never reads; `before_finish` runs before `PutFinish` is sent. Returns once another command
/// gets the destination's lock, and fails if it stays busy.
async fn lock_is_free_while_the_answer_is_unread(
    sha256: [u8; 32],
    before_finish: fn(&crate::handlers::test_session::Alice),
) {
    let (alice, state, session) = crate::handlers::test_session::alice().await;
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
    before_finish(&alice);
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
    lock_is_free_while_the_answer_is_unread(sha256, |alice| alice.seed("f.bin", b"planted")).await;
}

/// Serves one `Put` of 3 bytes to `/f.bin` (with `force` as given) in a home that already
/// holds `xyz` there; returns the client's end, the session's task and the home.
async fn put_onto_xyz(
    force: bool,
) -> (
    Framed<tokio::io::DuplexStream, ClientCodec>,
    tokio::task::JoinHandle<Result<(), crate::error::SessionError>>,
    crate::handlers::test_session::Alice,
) {
    let (alice, state, session) = crate::handlers::test_session::alice().await;
    alice.seed("f.bin", b"xyz");
    let (client, server) = tokio::io::duplex(1 << 16);
    let serving = tokio::spawn(async move {
        let mut conn = Framed::new(server, ftp_proto::ServerCodec::default());
        let request = PutRequest {
            path: "/f.bin".into(),
            file: FileIdentity {
                size: 3,
                modified_secs: 1,
                modified_nanos: 0,
            },
            force,
            upload_id: [1; 16],
        };
        handle(&mut conn, &session, &state, request).await
    });
    let mut client = Framed::new(client, ClientCodec::default());
    let existing = client.next().await.unwrap().unwrap();
    let xyz: [u8; 32] = Sha256::digest(b"xyz").into();
    assert_eq!(existing, ServerMessage::PutExisting { sha256: xyz });
    (client, serving, alice)
}

#[tokio::test]
async fn a_forced_put_onto_the_same_size_is_compared_then_replaced_on_put_replace() {
    let (mut client, serving, alice) = put_onto_xyz(true).await;
    client.send(ClientMessage::PutReplace {}).await.unwrap();
    let ready = client.next().await.unwrap().unwrap();
    assert_eq!(ready, ServerMessage::PutReady { offset: 0 });
    client
        .send(ClientMessage::Chunk {
            offset: 0,
            data: Bytes::from_static(b"abc"),
        })
        .await
        .unwrap();
    let sha256: [u8; 32] = Sha256::digest(b"abc").into();
    client
        .send(ClientMessage::PutFinish { sha256 })
        .await
        .unwrap();
    let done = client.next().await.unwrap().unwrap();
    assert_eq!(done, ServerMessage::PutDone { size: 3, sha256 });
    assert!(serving.await.unwrap().is_ok());
    assert_eq!(alice.content("f.bin").unwrap(), b"abc");
}

#[tokio::test]
async fn put_replace_without_force_is_a_protocol_error_and_replaces_nothing() {
    let (mut client, serving, alice) = put_onto_xyz(false).await;
    client.send(ClientMessage::PutReplace {}).await.unwrap();
    assert!(serving.await.unwrap().is_err());
    assert_eq!(alice.content("f.bin").unwrap(), b"xyz");
}
