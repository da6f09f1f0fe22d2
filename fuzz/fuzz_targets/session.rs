//! One server session per input, over an in-memory stream, fed arbitrary frames.
//!
//! Input: one selector byte, then raw bytes the server reads as frames. The selector's low two
//! bits say where the fuzz bytes take over (see `ftp_fuzz::stage`): from the very start (they
//! must answer the server's hello), after a valid hello and key proof (they start with the
//! login), or after a valid login as `fuzz` or, with bit 2, as the read-only `ro` (they are
//! commands). The harness then closes its sending side and reads what the server sends until
//! the server closes.
//!
//! Fails on: a panic anywhere in the server (in the session task or its blocking tasks), a
//! session that does not end within `HANG_LIMIT` after the client closed (the server's own
//! timeouts are 1 s), a server reply that is not a sequence of whole valid frames, and any change
//! outside the user's home: the neighbour's home in the same store, and the `outside` folder on
//! the disk (which the home's symbolic links name), must stay exactly as they were, and the
//! disk root is never made.
//!
//! The homes are in a memory store (`ftpd::storage::memory`), seeded through its own API: every
//! input starts from the same home (reset before each run): files, a folder, symbolic links
//! inside and out, and one partial upload ready to resume; the read-only user's home holds the
//! same. The server state (key, users) is made once per process in a temporary folder.
#![no_main]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::BytesMut;
use ftp_fuzz::{
    DIR_D, FILE_A, FILE_A_DATA, FILE_B, HOME, LINK_ABSOLUTE, LINK_INSIDE, LINK_INTERNAL,
    LINK_INTERNAL_TARGET, LINK_RELATIVE, LINK_RELATIVE_TARGET, OUTSIDE_DATA, OUTSIDE_FILE,
    PASSWORD, READ_ONLY_USER, RESUME_DATA, RESUME_HELD, RESUME_PATH, USER, file_b_data,
    resume_identity, stage,
};
use ftp_proto::handshake::{self, ChannelBinding};
use ftp_proto::{ClientCodec, ClientMessage, PROTOCOL_VERSION, Password, ServerMessage};
use ftpd::Config;
use ftpd::jail::RemotePath;
use ftpd::state::ServerState;
use ftpd::storage::Home;
use ftpd::storage::memory::{MemoryHome, MemoryStore};
use ftpd::users::Users;
use futures::{SinkExt, StreamExt};
use libfuzzer_sys::fuzz_target;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::codec::{Decoder, Framed, FramedParts};

/// Longest a session may run after the client closed its side before it counts as hung.
const HANG_LIMIT: Duration = Duration::from_secs(5);

/// The server's handshake and idle timeouts: short, so a stalled input ends quickly.
const SERVER_TIMEOUT: Duration = Duration::from_secs(1);

/// Everything made once per fuzzing process.
struct Fixture {
    /// Owns the temporary folder (never dropped: statics are not).
    _dir: tempfile::TempDir,
    /// Runs every session.
    runtime: tokio::runtime::Runtime,
    /// The server's shared state, as `ftpd::startup::prepare_with_store` made it.
    state: Arc<ServerState>,
    /// The homes.
    store: Arc<MemoryStore>,
    /// Where the server's root would be on the disk: never made.
    root: PathBuf,
    /// A folder on the disk that no session may touch.
    outside: PathBuf,
    /// Everything in the neighbour's home as seeded, which no session may change.
    neighbour_seeded: Vec<Entry>,
}

/// A path of a home with its kind, size and a regular file's SHA-256.
type Entry = (String, String, u64, Option<[u8; 32]>);

/// The user whose home in the store no session may touch.
const NEIGHBOUR: &str = "neighbour";

static FIXTURE: OnceLock<Fixture> = OnceLock::new();

/// An argon2id hash with the smallest parameters: verification takes microseconds instead of
/// the ~20 ms of the server's default parameters. The server verifies with whatever
/// parameters the stored hash names, so logins work the same, only faster. (Unknown users are
/// still checked against the server's own default-cost dummy hash.)
fn cheap_hash(password: &str) -> String {
    use argon2::{Algorithm, Argon2, Params, PasswordHasher, Version};
    let params = Params::new(Params::MIN_M_COST, 1, 1, None).expect("minimal argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(password.as_bytes())
        .expect("hash a password")
        .to_string()
}

/// Makes the key, users file and root, and prepares the server state.
fn setup() -> Fixture {
    let dir = tempfile::Builder::new()
        .prefix("ftpd-fuzz-")
        .tempdir()
        .expect("temporary folder");
    let users_file = dir.path().join("users.toml");
    let mut users = Users::default();
    let password = Password::new(PASSWORD.into());
    users
        .add(USER, &password, None, false)
        .expect("add the fuzz user");
    users
        .add(READ_ONLY_USER, &password, Some(HOME.into()), true)
        .expect("add the read-only fuzz user");
    for entry in users.users.values_mut() {
        entry.password = cheap_hash(PASSWORD);
    }
    users.store(&users_file).expect("store the users file");

    let config = Config {
        root: dir.path().join("root"),
        users: users_file,
        secret_file: dir.path().join("ftpd.key"),
        // In-memory pipes, no TLS: the proofs carry the plaintext binding.
        insecure_plaintext: true,
        handshake_timeout: SERVER_TIMEOUT,
        idle_timeout: SERVER_TIMEOUT,
        max_parallel_logins: 2,
        // Two attempts cover a retry and running out, with at most two argon2 runs per input.
        max_login_attempts: 2,
        // Every session comes from the same address: no growing delays and no lockout, or the
        // fuzzer would soon be refused (and slowed) by what earlier inputs did.
        login_failure_delay: Duration::ZERO,
        login_failures_before_lockout: u32::MAX,
        fsync: false,
        ..Config::default()
    };
    let root = config.root.clone();
    let store = Arc::new(MemoryStore::new());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let (state, _first_run) = runtime
        .block_on(ftpd::startup::prepare_with_store(config, store.clone()))
        .expect("prepare the server");

    let outside = dir.path().join("outside");
    std::fs::create_dir(&outside).expect("create the outside folder");
    std::fs::write(outside.join(OUTSIDE_FILE), OUTSIDE_DATA).expect("write the outside file");

    let neighbour = store.home(NEIGHBOUR);
    neighbour
        .put_file(&remote(OUTSIDE_FILE), OUTSIDE_DATA)
        .expect("seed the neighbour's file");
    let neighbour_seeded = runtime.block_on(everything_in(&neighbour));
    assert_eq!(neighbour_seeded.len(), 1, "the neighbour's file is seeded");
    Fixture {
        neighbour_seeded,
        store,
        root,
        outside,
        state,
        runtime,
        _dir: dir,
    }
}

/// `text` as the path rules take it.
fn remote(text: &str) -> RemotePath {
    RemotePath::parse(text).expect("a fixture path")
}

/// Lays out `home` as every input finds it: files, a folder, links inside and out, and (for
/// `user`) one partial ready to resume.
fn seed(fx: &Fixture, home: &MemoryHome, user: &str) {
    home.clear();
    home.put_file(&remote(FILE_A), FILE_A_DATA)
        .expect("write a.txt");
    fx.runtime
        .block_on(home.make_dir(&remote(DIR_D)))
        .expect("create d");
    home.put_file(&remote(FILE_B), &file_b_data())
        .expect("write d/b.bin");
    let links = [
        (LINK_INSIDE, FILE_A.to_owned()),
        (LINK_ABSOLUTE, fx.outside.to_string_lossy().into_owned()),
        (LINK_RELATIVE, LINK_RELATIVE_TARGET.to_owned()),
        (LINK_INTERNAL, LINK_INTERNAL_TARGET.to_owned()),
    ];
    for (link, target) in links {
        home.put_link(&remote(link), &target).expect("seed a link");
    }
    let name = ftpd::uploads::partial_name(user, Path::new(RESUME_PATH), &resume_identity());
    home.put_partial(
        &name,
        &remote(RESUME_PATH),
        RESUME_DATA.len() as u64,
        &RESUME_DATA[..RESUME_HELD],
    );
}

/// Lays out both fuzz users' homes as every input finds them.
fn reset(fx: &Fixture) {
    seed(fx, &fx.store.home(USER), USER);
    seed(fx, &fx.store.home(READ_ONLY_USER), READ_ONLY_USER);
}

/// Everything in `home`: each path with its kind, size and a regular file's SHA-256.
async fn everything_in(home: &dyn Home) -> Vec<Entry> {
    let (out, mut received) = tokio::sync::mpsc::channel(2);
    let root = remote("/");
    let walk = home.walk_tree(&root, true, out);
    let collect = async {
        let mut all = Vec::new();
        while let Some(batch) = received.recv().await {
            let batch = batch.expect("walk a home");
            all.extend(
                batch
                    .into_iter()
                    .map(|e| (e.path, format!("{:?}", e.kind), e.size, e.sha256)),
            );
        }
        all
    };
    tokio::join!(walk, collect).1
}

/// Names and contents of the files beneath `dir` (following nothing).
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
    let mut seen = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder).expect("list a folder") {
            let path = entry.expect("folder entry").path();
            let meta = std::fs::symlink_metadata(&path).expect("metadata");
            if meta.is_dir() {
                pending.push(path.clone());
                seen.insert(path, None);
            } else {
                let contents = std::fs::read(&path).ok();
                seen.insert(path, contents);
            }
        }
    }
    seen
}

/// Panics if anything outside the home changed.
fn check_jail(fx: &Fixture) {
    let outside = snapshot(&fx.outside);
    let expected: BTreeMap<_, _> = [(fx.outside.join(OUTSIDE_FILE), Some(OUTSIDE_DATA.to_vec()))]
        .into_iter()
        .collect();
    assert_eq!(
        outside, expected,
        "a session changed the folder outside the root"
    );
    assert!(!fx.root.exists(), "a session made the root on the disk");
    let neighbour = fx.store.home(NEIGHBOUR);
    let theirs = fx.runtime.block_on(everything_in(&neighbour));
    assert_eq!(
        theirs, fx.neighbour_seeded,
        "a session changed another user's home"
    );
    assert!(
        fx.runtime
            .block_on(neighbour.partials())
            .expect("list the neighbour's partials")
            .is_empty(),
        "a session left a partial in another user's home"
    );
}

/// The harness's side of the connection.
type Conn = Framed<tokio::io::DuplexStream, ClientCodec>;

/// The next message from the server; panics on a closed stream or a bad frame.
async fn next_message(conn: &mut Conn) -> ServerMessage {
    conn.next()
        .await
        .expect("the server closed the connection during the harness's handshake")
        .expect("the server sent a bad frame during the harness's handshake")
}

/// Sends one message and flushes it.
async fn send_message(conn: &mut Conn, message: ClientMessage) {
    conn.send(message).await.expect("send a message");
}

/// Runs one session: the harness's handshake up to `stage`, then the fuzz bytes. Returns all
/// the bytes the server sent after the harness's own part.
async fn converse(fx: &Fixture, selector: u8, fuzz: &[u8]) -> Vec<u8> {
    let (client, server) = tokio::io::duplex(1 << 20);
    let peer: SocketAddr = "127.0.0.1:1".parse().expect("peer address");
    let session = tokio::spawn(ftpd::session::serve(
        server,
        peer,
        ChannelBinding::plaintext(),
        Arc::clone(&fx.state),
    ));

    let mut conn = Framed::new(client, ClientCodec::default());
    let server_nonce = match next_message(&mut conn).await {
        ServerMessage::Hello { version, nonce } => {
            assert_eq!(version, PROTOCOL_VERSION, "server hello version");
            nonce
        }
        other => panic!("expected the server's hello, got {other:?}"),
    };
    let stage = selector & 3;
    if stage >= stage::AFTER_HELLO {
        let client_nonce = [0x5a; 32];
        let proof = handshake::client_proof(
            &fx.state.key,
            &ChannelBinding::plaintext(),
            &server_nonce,
            &client_nonce,
        );
        send_message(
            &mut conn,
            ClientMessage::Hello {
                version: PROTOCOL_VERSION,
                nonce: client_nonce,
                proof,
            },
        )
        .await;
        match next_message(&mut conn).await {
            ServerMessage::Proof { proof } => assert!(
                handshake::verify_server_proof(
                    &fx.state.key,
                    &ChannelBinding::plaintext(),
                    &client_nonce,
                    &server_nonce,
                    &proof
                ),
                "the server's proof does not verify"
            ),
            other => panic!("expected the server's proof, got {other:?}"),
        }
    }
    if stage >= stage::AFTER_LOGIN {
        let read_only = selector & stage::READ_ONLY != 0;
        let user = if read_only { READ_ONLY_USER } else { USER };
        send_message(
            &mut conn,
            ClientMessage::Login {
                user: user.into(),
                password: Password::new(PASSWORD.into()),
            },
        )
        .await;
        match next_message(&mut conn).await {
            ServerMessage::Welcome {
                user: name,
                read_only: flag,
                ..
            } => assert!(
                name == user && flag == read_only,
                "welcome for the wrong user"
            ),
            other => panic!("expected a welcome, got {other:?}"),
        }
    }

    // From here on the server reads the fuzz bytes as frames; collect its answers raw.
    let FramedParts { io, read_buf, .. } = conn.into_parts();
    let (mut reader, mut writer) = tokio::io::split(io);
    let send = async {
        // The server may close before reading everything: a failed write is expected.
        let _ = writer.write_all(fuzz).await;
        let _ = writer.shutdown().await;
    };
    let receive = async {
        let mut received = read_buf.to_vec();
        let _ = reader.read_to_end(&mut received).await;
        received
    };
    let conversation = async { tokio::join!(send, receive).1 };
    let received = match tokio::time::timeout(HANG_LIMIT, conversation).await {
        Ok(received) => received,
        Err(_) => panic!(
            "the server did not close the connection within {HANG_LIMIT:?} after the client closed its side"
        ),
    };
    match tokio::time::timeout(HANG_LIMIT, session).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        Ok(Err(error)) => panic!("the session task failed: {error}"),
        Err(_) => panic!("the session task did not end within {HANG_LIMIT:?} of closing"),
    }
    received
}

/// Whether to print the server's answers (`FUZZ_SESSION_DEBUG=1`, for looking at one input).
fn debug() -> bool {
    static DEBUG: OnceLock<bool> = OnceLock::new();
    *DEBUG.get_or_init(|| std::env::var_os("FUZZ_SESSION_DEBUG").is_some_and(|v| v == "1"))
}

/// Panics unless `bytes` is a sequence of whole, valid server frames.
fn check_replies(bytes: &[u8]) {
    let mut codec = ClientCodec::default();
    let mut buf = BytesMut::from(bytes);
    loop {
        match codec.decode(&mut buf) {
            Ok(Some(message)) if debug() => eprintln!("server: {message:?}"),
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(error) => panic!("the server sent a frame its own client cannot decode: {error}"),
        }
    }
    assert!(
        buf.is_empty(),
        "the server's output ends in the middle of a frame"
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, fuzz)) = data.split_first() else {
        return;
    };
    let fx = FIXTURE.get_or_init(setup);
    if debug() {
        eprintln!("stage {}, {} bytes of frames", selector & 3, fuzz.len());
    }
    reset(fx);
    let received = fx.runtime.block_on(converse(fx, selector, fuzz));
    check_replies(&received);
    check_jail(fx);
});
