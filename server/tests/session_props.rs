//! Property test of one session's state machine, in-process over an in-memory stream: after a
//! valid handshake and login, any sequence of client messages (in any order, with any paths,
//! offsets, sizes and data) ends with the session closing cleanly: no panic, no hang, and
//! nothing created on the disk. The homes are in a memory store: the disk holds only the key
//! and the users file.

// Test code: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use ftp_proto::handshake::ChannelBinding;
use ftp_proto::{ClientCodec, ClientMessage, FileIdentity, Password, ServerMessage, handshake};
use ftpd::config::Config;
use ftpd::state::ServerState;
use futures::{SinkExt, StreamExt};
use proptest::prelude::*;
use tokio_util::codec::Framed;

/// One server state for every case: a runtime, a temp folder with the key and users file and
/// a folder that must stay empty, and the homes in memory.
struct Fixture {
    runtime: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
    state: Arc<ServerState>,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("outside")).unwrap();
    let config = Config {
        root: dir.path().join("root"),
        users: dir.path().join("users.toml"),
        secret_file: dir.path().join("key"),
        // In-memory pipes, no TLS: the proofs carry the plaintext binding.
        insecure_plaintext: true,
        handshake_timeout: Duration::from_secs(5),
        idle_timeout: Duration::from_secs(5),
        max_file_size: 1 << 16,
        ..Config::default()
    };
    let mut users = ftpd::users::Users::default();
    users
        .add("prop", &Password::new("pw".into()), None, false)
        .unwrap();
    users.store(&config.users).unwrap();
    let store = ftpd::storage::memory::MemoryStore::new();
    let seeded = ftpd::jail::RemotePath::parse("a/seed").unwrap();
    store.home("prop").put_file(&seeded, b"seed").unwrap();
    let (state, _) = runtime
        .block_on(ftpd::startup::prepare_with_store(config, Arc::new(store)))
        .unwrap();
    Fixture {
        runtime,
        dir,
        state,
    }
});

fn path() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("/".to_owned()),
        Just("..".to_owned()),
        Just("../outside/x".to_owned()),
        Just(".ftpd-internal/partials".to_owned()),
        Just("a\\b".to_owned()),
        "[ab]{1,3}(/[ab.]{1,3}){0,2}",
        "\\PC{0,12}",
    ]
}

fn message() -> impl Strategy<Value = ClientMessage> {
    let identity =
        (0u64..200, any::<i64>(), 0u32..2_000_000_000).prop_map(|(size, secs, nanos)| {
            FileIdentity {
                size,
                modified_secs: secs,
                modified_nanos: nanos,
            }
        });
    prop_oneof![
        path().prop_map(|path| ClientMessage::List { path }),
        path().prop_map(|path| ClientMessage::Stat { path }),
        path().prop_map(|path| ClientMessage::Remove { path }),
        path().prop_map(|path| ClientMessage::MakeDir { path }),
        (path(), path(), any::<bool>()).prop_map(|(from, to, force)| ClientMessage::Rename {
            from,
            to,
            force
        }),
        path().prop_map(|path| ClientMessage::RemovePartial { path }),
        Just(ClientMessage::Partials {}),
        (
            path(),
            prop_oneof![Just(0u64), any::<u64>()],
            prop_oneof![Just(None), any::<u64>().prop_map(Some)]
        )
            .prop_map(|(path, offset, limit_rate)| ClientMessage::Get {
                path,
                offset,
                limit_rate
            }),
        (path(), identity, any::<bool>(), any::<[u8; 16]>()).prop_map(
            |(path, file, force, upload_id)| ClientMessage::Put(ftp_proto::PutRequest {
                path,
                file,
                force,
                upload_id
            })
        ),
        (
            prop_oneof![0u64..256, any::<u64>()],
            proptest::collection::vec(any::<u8>(), 0..96)
        )
            .prop_map(|(offset, data)| ClientMessage::Chunk {
                offset,
                data: bytes::Bytes::from(data),
            }),
        any::<[u8; 32]>().prop_map(|sha256| ClientMessage::PutFinish { sha256 }),
        Just(ClientMessage::PutCancel {}),
        Just(ClientMessage::PutReplace {}),
        Just(ClientMessage::Quit {}),
        Just(ClientMessage::Login {
            user: "prop".into(),
            password: Password::new("pw".into()),
        }),
    ]
}

/// Runs one session: valid handshake and login, then `messages`, then end of input.
async fn run_case(state: Arc<ServerState>, messages: Vec<ClientMessage>) {
    let (client, server) = tokio::io::duplex(1 << 20);
    let peer = "127.0.0.1:9".parse().unwrap();
    let session = tokio::spawn(ftpd::session::serve(
        server,
        peer,
        ChannelBinding::plaintext(),
        Arc::clone(&state),
    ));
    let mut conn = Framed::new(client, ClientCodec::default());
    let server_nonce = match conn.next().await {
        Some(Ok(ServerMessage::Hello { nonce, .. })) => nonce,
        other => panic!("no hello: {other:?}"),
    };
    let nonce = handshake::new_nonce().unwrap();
    let proof = handshake::client_proof(
        &state.key,
        &ChannelBinding::plaintext(),
        &server_nonce,
        &nonce,
    );
    conn.send(ClientMessage::Hello {
        version: ftp_proto::PROTOCOL_VERSION,
        nonce,
        proof,
    })
    .await
    .unwrap();
    assert!(matches!(
        conn.next().await,
        Some(Ok(ServerMessage::Proof { .. }))
    ));
    conn.send(ClientMessage::Login {
        user: "prop".into(),
        password: Password::new("pw".into()),
    })
    .await
    .unwrap();
    assert!(matches!(
        conn.next().await,
        Some(Ok(ServerMessage::Welcome { .. }))
    ));
    // Send everything (the server may stop reading at any point) and then close our side,
    // while draining whatever it answers.
    let (mut sink, mut stream) = conn.split();
    let writer = tokio::spawn(async move {
        for message in messages {
            if sink.send(message).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let drained = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(Ok(_)) = stream.next().await {}
    })
    .await;
    assert!(drained.is_ok(), "the session never closed");
    writer.abort();
    let ended = tokio::time::timeout(Duration::from_secs(30), session).await;
    match ended {
        Ok(Ok(())) => {}
        Ok(Err(error)) => panic!("the session task failed: {error}"),
        Err(_) => panic!("the session task never ended"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn any_message_sequence_after_login_ends_cleanly(messages in proptest::collection::vec(message(), 0..10)) {
        let fixture = &*FIXTURE;
        fixture.runtime.block_on(run_case(Arc::clone(&fixture.state), messages));
        let outside = std::fs::read_dir(fixture.dir.path().join("outside")).unwrap().count();
        prop_assert_eq!(outside, 0, "something was created outside the store");
        let top: Vec<_> = std::fs::read_dir(fixture.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        for name in &top {
            prop_assert!(["outside", "users.toml", "key"].contains(&name.as_str()), "stray {} (the root is never made)", name);
        }
    }
}
