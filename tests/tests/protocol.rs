//! The protocol spoken directly against the real server: attempt limits, long passwords,
//! version mismatch, and messages out of order.

// Test code: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ftp::{Client, ClientError};
use ftp_proto::handshake::{self, ChannelBinding};
use ftp_proto::{ClientCodec, ClientMessage, ErrorKind, Password, ServerMessage, SharedKey};
use futures::{SinkExt, StreamExt};
use tokio_util::codec::Framed;

fn site() -> e2e::Site {
    let site = e2e::Site::new("max_login_attempts = 3\n");
    site.add_user("alice", "right-password", &[]);
    site
}

fn remote_kind(error: ClientError) -> ErrorKind {
    match error {
        ClientError::Remote { kind, .. } => kind,
        other => panic!("expected a refusal from the server, got {other:?}"),
    }
}

#[tokio::test]
async fn three_failed_logins_close_the_connection() {
    let site = site();
    let server = site.start();
    let key = SharedKey::load(&server.key).unwrap();
    let mut client = Client::connect(&server.address.to_string(), &key, &server.transport())
        .await
        .unwrap();
    for _ in 0..2 {
        let error = client
            .login("alice", Password::new("nope".into()))
            .await
            .unwrap_err();
        assert_eq!(remote_kind(error), ErrorKind::LoginFailed);
    }
    let error = client
        .login("alice", Password::new("nope".into()))
        .await
        .unwrap_err();
    assert_eq!(remote_kind(error), ErrorKind::TooManyAttempts);
    // Closed now: even the right password gets no answer.
    assert!(
        client
            .login("alice", Password::new("right-password".into()))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_password_over_1_kib_is_refused_without_hashing() {
    let site = site();
    let server = site.start();
    let key = SharedKey::load(&server.key).unwrap();
    let mut client = Client::connect(&server.address.to_string(), &key, &server.transport())
        .await
        .unwrap();
    let error = client
        .login("alice", Password::new("x".repeat(1025)))
        .await
        .unwrap_err();
    assert_eq!(remote_kind(error), ErrorKind::LoginFailed);
    server.wait_for_log("password longer than 1024 bytes");
    assert!(!server.log().contains("checking a password"));
    // The connection still allows the remaining attempts.
    let welcome = client
        .login("alice", Password::new("right-password".into()))
        .await
        .unwrap();
    assert_eq!(welcome.user, "alice");
}

async fn raw(server: &e2e::Server) -> (e2e::RawConn, [u8; 32], ChannelBinding) {
    let (stream, binding) = e2e::open(server, None).await;
    let mut conn = Framed::new(stream, ClientCodec::default());
    match conn.next().await.unwrap().unwrap() {
        ServerMessage::Hello { version, nonce } => {
            assert_eq!(version, ftp_proto::PROTOCOL_VERSION);
            (conn, nonce, binding)
        }
        other => panic!("expected hello, got {other:?}"),
    }
}

#[tokio::test]
async fn a_version_mismatch_names_both_versions() {
    let site = site();
    let server = site.start();
    let key = SharedKey::load(&server.key).unwrap();
    let (mut conn, server_nonce, binding) = raw(&server).await;
    let nonce = handshake::new_nonce().unwrap();
    let proof = handshake::client_proof(&key, &binding, &server_nonce, &nonce);
    conn.send(ClientMessage::Hello {
        version: 99,
        nonce,
        proof,
    })
    .await
    .unwrap();
    match conn.next().await.unwrap().unwrap() {
        ServerMessage::Error { kind, message } => {
            assert_eq!(kind, ErrorKind::Version);
            let ours = ftp_proto::PROTOCOL_VERSION.to_string();
            assert!(
                message.contains("99") && message.contains(&ours),
                "{message}"
            );
        }
        other => panic!("expected a version error, got {other:?}"),
    }
    assert!(
        conn.next().await.is_none(),
        "connection closed after the error"
    );
}

#[tokio::test]
async fn a_login_before_the_key_proof_is_refused() {
    let site = site();
    let server = site.start();
    let (mut conn, _, _) = raw(&server).await;
    conn.send(ClientMessage::Login {
        user: "alice".into(),
        password: Password::new("right-password".into()),
    })
    .await
    .unwrap();
    match conn.next().await.unwrap().unwrap() {
        ServerMessage::Error { kind, .. } => assert_eq!(kind, ErrorKind::Protocol),
        other => panic!("expected a protocol error, got {other:?}"),
    }
    assert!(conn.next().await.is_none());
    assert!(!server.log().contains("checking a password"));
}

#[tokio::test]
async fn a_second_login_after_success_is_a_protocol_error() {
    let site = site();
    let server = site.start();
    let key = SharedKey::load(&server.key).unwrap();
    let mut client = Client::connect(&server.address.to_string(), &key, &server.transport())
        .await
        .unwrap();
    client
        .login("alice", Password::new("right-password".into()))
        .await
        .unwrap();
    let error = client
        .login("alice", Password::new("right-password".into()))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ClientError::Remote {
                kind: ErrorKind::Protocol,
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_server_with_another_key_is_not_trusted() {
    let site = site();
    let server = site.start();
    // The client holds a different key: the server refuses it, and the client never sends a
    // password (it waits for the server's proof first).
    let wrong = SharedKey::generate().unwrap();
    let error = Client::connect(&server.address.to_string(), &wrong, &server.transport())
        .await
        .unwrap_err();
    assert_eq!(remote_kind(error), ErrorKind::BadKey);
}

#[tokio::test]
async fn paths_with_nul_or_control_characters_are_refused() {
    let site = site();
    let server = site.start();
    let key = SharedKey::load(&server.key).unwrap();
    let mut client = Client::connect(&server.address.to_string(), &key, &server.transport())
        .await
        .unwrap();
    client
        .login("alice", Password::new("right-password".into()))
        .await
        .unwrap();
    for path in ["../x\0", "a\0b", "a\nb", "\u{1b}[2J"] {
        let error = client.list(path).await.unwrap_err();
        assert_eq!(remote_kind(error), ErrorKind::InvalidPath, "{path:?}");
        let error = client.stat(path).await.unwrap_err();
        assert_eq!(remote_kind(error), ErrorKind::InvalidPath, "{path:?}");
    }
    // The session is still usable after refusals.
    assert!(client.list("/").await.is_ok());
}
