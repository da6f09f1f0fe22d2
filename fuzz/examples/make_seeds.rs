//! Writes the seed corpus: real encoded frames, so the fuzzers start from valid messages.
//!
//! Run from `fuzz/`: `cargo run --example make_seeds` (writes `corpus/decode/seed-*` and
//! `corpus/session/seed-*`, replacing earlier seeds of the same name). Needs no nightly flags.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::Path;

use bytes::{Bytes, BytesMut};
use ftp_fuzz::{
    DIR_D, FILE_A, FILE_A_DATA, FILE_B, LINK_ABSOLUTE, LINK_INSIDE, LINK_INTERNAL, LINK_RELATIVE,
    OUTSIDE_FILE, PASSWORD, RESUME_DATA, RESUME_HELD, RESUME_PATH, USER, resume_identity, stage,
};
use ftp_proto::{
    ClientMessage, DirEntry, EntryKind, ErrorKind, FileIdentity, FrameMessage, MessageCodec,
    PROTOCOL_VERSION, Password, ServerMessage, UsageInfo,
};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio_util::codec::Encoder;

/// The frames of `messages`, back to back.
fn frames<M: FrameMessage + Serialize>(messages: impl IntoIterator<Item = M>) -> Vec<u8> {
    let mut codec = MessageCodec::<M, M>::default();
    let mut wire = BytesMut::new();
    for message in messages {
        codec.encode(message, &mut wire).expect("encode a seed");
    }
    wire.to_vec()
}

fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

fn identity(size: u64) -> FileIdentity {
    FileIdentity {
        size,
        modified_secs: 1_700_000_000,
        modified_nanos: 0,
    }
}

fn list(path: &str) -> ClientMessage {
    ClientMessage::List { path: path.into() }
}

fn stat(path: &str) -> ClientMessage {
    ClientMessage::Stat { path: path.into() }
}

fn get(path: &str, offset: u64) -> ClientMessage {
    ClientMessage::Get {
        path: path.into(),
        offset,
        limit_rate: None,
    }
}

fn put(path: &str, file: FileIdentity, force: bool) -> ClientMessage {
    ClientMessage::Put(ftp_proto::PutRequest {
        path: path.into(),
        file,
        force,
        upload_id: [9; 16],
    })
}

/// A whole upload of `data` to `path`.
fn upload(path: &str, data: &[u8], force: bool) -> Vec<ClientMessage> {
    vec![
        put(path, identity(data.len() as u64), force),
        ClientMessage::Chunk {
            offset: 0,
            data: Bytes::copy_from_slice(data),
        },
        ClientMessage::PutFinish {
            sha256: sha256(data),
        },
    ]
}

fn login(user: &str, password: &str) -> ClientMessage {
    ClientMessage::Login {
        user: user.into(),
        password: Password::new(password.into()),
    }
}

/// Session seeds: (name, selector byte, client messages).
fn session_seeds() -> Vec<(&'static str, u8, Vec<ClientMessage>)> {
    let commands = stage::AFTER_LOGIN;
    let read_only = stage::AFTER_LOGIN | stage::READ_ONLY;
    let resume = vec![
        put(RESUME_PATH, resume_identity(), false),
        ClientMessage::Chunk {
            offset: RESUME_HELD as u64,
            data: Bytes::copy_from_slice(&RESUME_DATA[RESUME_HELD..]),
        },
        ClientMessage::PutFinish {
            sha256: sha256(RESUME_DATA),
        },
        stat(RESUME_PATH),
    ];
    vec![
        (
            "raw-hello",
            stage::RAW,
            vec![ClientMessage::Hello {
                version: PROTOCOL_VERSION,
                nonce: [1; 32],
                proof: [2; 32],
            }],
        ),
        (
            "raw-hello-old-version",
            stage::RAW,
            vec![ClientMessage::Hello {
                version: 0,
                nonce: [1; 32],
                proof: [2; 32],
            }],
        ),
        (
            "raw-key-hello",
            stage::RAW,
            vec![ClientMessage::KeyHello {
                version: PROTOCOL_VERSION,
                key: "laptop".into(),
                nonce: [1; 32],
                proof: [2; 32],
            }],
        ),
        ("raw-list", stage::RAW, vec![list("/")]),
        (
            "login-then-list",
            stage::AFTER_HELLO,
            vec![login(USER, PASSWORD), list("/")],
        ),
        (
            "login-wrong-then-right",
            stage::AFTER_HELLO,
            vec![login(USER, "wrong"), login(USER, PASSWORD), stat(FILE_A)],
        ),
        ("login-early-command", stage::AFTER_HELLO, vec![list("")]),
        (
            "list-all",
            commands,
            vec![list(""), list(DIR_D), list(FILE_A), list(LINK_INSIDE)],
        ),
        (
            "stat-all",
            commands,
            vec![
                stat("/"),
                stat(FILE_A),
                stat(FILE_B),
                stat(DIR_D),
                stat(LINK_INSIDE),
                stat("missing"),
            ],
        ),
        (
            "get-files",
            commands,
            vec![get(FILE_A, 0), get(FILE_B, 100), get(FILE_A, 1 << 40)],
        ),
        (
            "get-folder",
            commands,
            vec![get(DIR_D, 0), get(LINK_INSIDE, 0)],
        ),
        (
            "put-new",
            commands,
            upload("new/deep/file.txt", b"fresh data", false),
        ),
        (
            "put-existing-cancel",
            commands,
            vec![
                put(FILE_A, identity(FILE_A_DATA.len() as u64), false),
                ClientMessage::PutCancel {},
                list(""),
            ],
        ),
        ("put-force", commands, upload(FILE_A, b"replaced", true)),
        (
            // The same size with force: compared (PutExisting), then replaced.
            "put-force-replace",
            commands,
            {
                let data: &[u8] = b"same length!";
                let mut messages = upload(FILE_A, data, true);
                messages.insert(1, ClientMessage::PutReplace {});
                messages
            },
        ),
        ("put-onto-folder", commands, upload(DIR_D, b"x", true)),
        ("put-resume", commands, resume),
        (
            "put-bad-chunk",
            commands,
            vec![
                put("short.bin", identity(4), false),
                ClientMessage::Chunk {
                    offset: 2,
                    data: Bytes::from_static(b"zz"),
                },
            ],
        ),
        (
            "mkdir-remove",
            commands,
            vec![
                ClientMessage::MakeDir { path: "x/y".into() },
                ClientMessage::MakeDir { path: "x".into() },
                ClientMessage::Rename {
                    from: "x/y".into(),
                    to: "x/z".into(),
                    force: false,
                },
                ClientMessage::Remove { path: "x/z".into() },
                ClientMessage::Remove { path: DIR_D.into() },
                ClientMessage::Remove {
                    path: LINK_INSIDE.into(),
                },
                ClientMessage::Remove {
                    path: FILE_A.into(),
                },
            ],
        ),
        (
            "escape-read",
            commands,
            vec![
                list(LINK_ABSOLUTE),
                get(&format!("{LINK_ABSOLUTE}/{OUTSIDE_FILE}"), 0),
                stat(&format!("{LINK_RELATIVE}/{OUTSIDE_FILE}")),
                list(&format!("{LINK_INTERNAL}/partials")),
                list("../"),
                list(".ftpd-internal"),
            ],
        ),
        (
            "escape-write",
            commands,
            vec![
                ClientMessage::MakeDir {
                    path: format!("{LINK_ABSOLUTE}/new"),
                },
                ClientMessage::Remove {
                    path: format!("{LINK_RELATIVE}/{OUTSIDE_FILE}"),
                },
                ClientMessage::Remove {
                    path: LINK_ABSOLUTE.into(),
                },
                ClientMessage::Rename {
                    from: format!("{LINK_RELATIVE}/{OUTSIDE_FILE}"),
                    to: "stolen".into(),
                    force: true,
                },
                ClientMessage::Rename {
                    from: FILE_A.into(),
                    to: "../escaped".into(),
                    force: false,
                },
            ],
        ),
        (
            "escape-put",
            commands,
            upload(
                &format!("{LINK_RELATIVE}/{OUTSIDE_FILE}"),
                b"overwritten",
                true,
            ),
        ),
        (
            "read-only-writes",
            read_only,
            vec![
                put("ro.txt", identity(1), false),
                ClientMessage::MakeDir { path: "ro".into() },
                ClientMessage::Rename {
                    from: FILE_A.into(),
                    to: "ro-moved".into(),
                    force: false,
                },
                ClientMessage::Remove {
                    path: FILE_A.into(),
                },
                get(FILE_A, 0),
            ],
        ),
        (
            "out-of-order",
            commands,
            vec![
                ClientMessage::PutFinish { sha256: [0; 32] },
                ClientMessage::Quit {},
            ],
        ),
        ("second-login", commands, vec![login(USER, PASSWORD)]),
        (
            "disk-usage",
            commands,
            vec![ClientMessage::DiskUsage {}, list(""), ClientMessage::DiskUsage {}],
        ),
        (
            "quit",
            commands,
            vec![list(""), ClientMessage::Quit {}, list("")],
        ),
    ]
}

/// Decode seeds: client frames, server frames, and a stream of several.
fn decode_seeds() -> Vec<(String, Vec<u8>)> {
    let mut seeds = Vec::new();
    for (name, _, messages) in session_seeds() {
        seeds.push((format!("client-{name}"), frames(messages)));
    }
    let entry = DirEntry {
        name: "photo.png".into(),
        kind: EntryKind::File,
        size: 1234,
        modified: 1_700_000_000,
    };
    let server: Vec<(&str, ServerMessage)> = vec![
        (
            "hello",
            ServerMessage::Hello {
                version: PROTOCOL_VERSION,
                nonce: [3; 32],
            },
        ),
        ("proof", ServerMessage::Proof { proof: [4; 32] }),
        (
            "welcome",
            ServerMessage::Welcome {
                user: "fuzz".into(),
                read_only: false,
                min_transfer_rate: 1024,
            },
        ),
        (
            "listing",
            ServerMessage::Listing {
                entries: vec![
                    entry.clone(),
                    DirEntry {
                        name: "d".into(),
                        kind: EntryKind::Dir,
                        size: 0,
                        modified: 0,
                    },
                    DirEntry {
                        name: "l".into(),
                        kind: EntryKind::Symlink,
                        size: 5,
                        modified: -1,
                    },
                ],
                last: true,
            },
        ),
        (
            "error",
            ServerMessage::Error {
                kind: ErrorKind::NotFound,
                message: "/x: no such file or folder".into(),
            },
        ),
        ("put-ready", ServerMessage::PutReady { offset: 6 }),
        (
            "disk-usage",
            ServerMessage::DiskUsage(UsageInfo {
                used_bytes: 9 << 30,
                used_files: 12,
                partial_bytes: 1 << 20,
                quota_bytes: Some(10 << 30),
                max_files: None,
            }),
        ),
        (
            "quota",
            ServerMessage::Error {
                kind: ErrorKind::Quota,
                message: "quota: 9.5 GiB of 10 GiB used, this file needs 1.2 GiB".into(),
            },
        ),
        (
            "put-existing",
            ServerMessage::PutExisting { sha256: [5; 32] },
        ),
        (
            "put-done",
            ServerMessage::PutDone {
                size: 10,
                sha256: [6; 32],
            },
        ),
        (
            "get-ready",
            ServerMessage::GetReady {
                size: 12,
                modified: 1_700_000_000,
                modified_nanos: 123_456_789,
                offset: 0,
            },
        ),
        (
            "data",
            ServerMessage::Data {
                offset: 0,
                data: Bytes::from_static(FILE_A_DATA),
            },
        ),
        ("get-done", ServerMessage::GetDone { sha256: [7; 32] }),
        (
            "stat-info",
            ServerMessage::StatInfo {
                entry,
                sha256: Some([8; 32]),
            },
        ),
        ("done", ServerMessage::Done { changed: true }),
    ];
    let mut all = Vec::new();
    for (name, message) in server {
        let frame = frames([message]);
        all.extend_from_slice(&frame);
        seeds.push((format!("server-{name}"), frame));
    }
    seeds.push(("server-stream".into(), all));
    seeds
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).expect("create the corpus folder");
    std::fs::write(dir.join(format!("seed-{name}")), bytes).expect("write a seed");
}

fn main() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut count = 0;
    for (name, selector, messages) in session_seeds() {
        let mut input = vec![selector];
        input.extend(frames(messages));
        write(&corpus.join("session"), name, &input);
        count += 1;
    }
    for (name, bytes) in decode_seeds() {
        write(&corpus.join("decode"), &name, &bytes);
        count += 1;
    }
    println!("wrote {count} seeds under {}", corpus.display());
}
