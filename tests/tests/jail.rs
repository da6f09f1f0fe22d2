//! Each user is jailed to their home: bob can neither list, get, stat nor remove alice's files,
//! whether through `..`, absolute paths, backslashes, or a symbolic link an administrator put
//! in his home. Every attempt is checked against the disk afterwards.

// Test code: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::symlink;
use std::path::PathBuf;

use e2e::{Server, Site, code, run, stderr, stdout};

const SECRET: &str = "alice's secret content";

struct Homes {
    site: Site,
    server: Server,
    alice: PathBuf,
    bob: PathBuf,
}

fn homes() -> Homes {
    let site = Site::new("");
    site.add_user("alice", "alice-pw", &[]);
    site.add_user("bob", "bob-password", &[]);
    let alice = site.root().join("alice");
    let bob = site.root().join("bob");
    std::fs::create_dir_all(alice.join("private")).unwrap();
    std::fs::create_dir_all(&bob).unwrap();
    std::fs::write(alice.join("secret.txt"), SECRET).unwrap();
    std::fs::write(alice.join("private/deep.txt"), SECRET).unwrap();
    // What an administrator might leave in bob's home.
    symlink("../alice", bob.join("to-alice")).unwrap();
    symlink(alice.join("secret.txt"), bob.join("absolute-secret")).unwrap();
    symlink("/", bob.join("to-root")).unwrap();
    symlink("..", bob.join("up")).unwrap();
    let server = site.start();
    Homes {
        site,
        server,
        alice,
        bob,
    }
}

/// Paths that try to reach alice's files from bob's home.
const ESCAPES: &[&str] = &[
    "../alice/secret.txt",
    "/../alice/secret.txt",
    "../../alice/secret.txt",
    "a/../../alice/secret.txt",
    "..\\alice\\secret.txt",
    "\\..\\alice\\secret.txt",
    "to-alice/secret.txt",
    "to-alice/private/deep.txt",
    "up/alice/secret.txt",
    "absolute-secret",
    "to-root/etc/passwd",
    "//../alice/secret.txt",
    "./../alice/secret.txt",
];

#[test]
fn bob_cannot_get_or_stat_alices_files() {
    let h = homes();
    let folder = h.site.dir.path().join("loot");
    std::fs::create_dir_all(&folder).unwrap();
    for path in ESCAPES {
        for verb in ["get", "stat"] {
            let mut command = h.server.ftp("bob", "bob-password");
            command.args([verb, path]).current_dir(&folder);
            let output = run(command, None);
            let out = stdout(&output);
            assert!(!out.contains(SECRET), "{verb} {path:?} leaked: {out}");
            if verb == "get" {
                assert_ne!(
                    code(&output),
                    0,
                    "get {path:?} succeeded: {}",
                    stderr(&output)
                );
            }
            if verb == "stat" && code(&output) == 0 {
                // Only a link itself may be described, never what it points to.
                assert!(out.contains("symlink"), "stat {path:?}: {out}");
            }
        }
    }
    assert_eq!(
        std::fs::read_dir(&folder).unwrap().count(),
        0,
        "nothing was downloaded"
    );
}

#[test]
fn bob_cannot_list_alices_folders() {
    let h = homes();
    for path in [
        "..",
        "../alice",
        "/..",
        "to-alice",
        "to-alice/",
        "to-alice/private",
        "up",
        "up/alice",
        "to-root/",
        "..\\alice",
    ] {
        let output = h.server.run_ftp("bob", "bob-password", &["ls", path]);
        let out = stdout(&output);
        assert!(
            !out.contains("secret.txt") && !out.contains("private"),
            "ls {path:?}: {out}"
        );
        assert!(
            !out.contains("etc") && !out.contains("bin/"),
            "ls {path:?}: {out}"
        );
    }
    let own = stdout(&h.server.run_ftp("bob", "bob-password", &["ls", "/"]));
    assert!(
        own.contains("to-alice@"),
        "his own links are listed as links: {own}"
    );
}

#[test]
fn bob_cannot_remove_or_write_through_escapes() {
    let h = homes();
    let local = h.site.dir.path().join("payload.txt");
    std::fs::write(&local, "overwritten").unwrap();
    // Writes first, while every link is still in place.
    for path in ESCAPES {
        let output = h.server.run_ftp(
            "bob",
            "bob-password",
            &["put", "--force", local.to_str().unwrap(), path],
        );
        // Replacing `absolute-secret` replaces bob's own link with a file; it never writes
        // through the link (checked below).
        if code(&output) == 0 {
            assert_eq!(*path, "absolute-secret", "put {path:?} succeeded");
        }
        let output = h
            .server
            .run_ftp("bob", "bob-password", &["mkdir", &format!("{path}/sub")]);
        assert_ne!(code(&output), 0, "mkdir {path:?}: {}", stderr(&output));
    }
    let replaced = h.bob.join("absolute-secret");
    assert!(
        replaced.symlink_metadata().unwrap().is_file(),
        "bob's link became his own file"
    );
    assert_eq!(std::fs::read_to_string(&replaced).unwrap(), "overwritten");
    for path in ESCAPES {
        let output = h.server.run_ftp("bob", "bob-password", &["rm", path]);
        if code(&output) == 0 {
            assert_eq!(*path, "absolute-secret", "rm {path:?} succeeded");
        }
    }
    assert_eq!(
        std::fs::read_to_string(h.alice.join("secret.txt")).unwrap(),
        SECRET
    );
    assert_eq!(
        std::fs::read_to_string(h.alice.join("private/deep.txt")).unwrap(),
        SECRET
    );
    let alice_entries = e2e::tree(&h.alice);
    assert_eq!(
        alice_entries.len(),
        3,
        "alice's home is untouched: {alice_entries:?}"
    );
    assert!(!h.site.root().join("payload.txt").exists());
    assert!(h.bob.join("to-alice").symlink_metadata().is_ok());
}

#[test]
fn a_user_without_a_home_folder_gets_one_on_first_login() {
    let h = homes();
    h.site.add_user("carol", "carol-pw", &[]);
    assert!(!h.site.root().join("carol").exists());
    let output = h.server.run_ftp("carol", "carol-pw", &["ls"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(h.site.root().join("carol").is_dir());
    assert!(stdout(&output).is_empty(), "a new home is empty");
}

/// The corpus: `..` in every position, absolute and `//` paths, backslashes and drive letters,
/// NUL and control characters, over-long names and paths, `.` and empty names, the internal
/// folder's name, and Unicode lookalikes of `/` and `..` (which must stay plain names).
fn corpus() -> Vec<String> {
    let mut paths: Vec<String> = [
        "..",
        "../",
        "/..",
        "../x",
        "a/../x",
        "a/..",
        "a/../../x",
        "./..",
        "x/./../..",
        "/",
        "//",
        "///x",
        "/x/../../y",
        "//etc/passwd",
        "/etc/passwd",
        "~",
        "~root",
        "\\",
        "..\\x",
        "a\\..\\..\\x",
        "C:",
        "C:\\x",
        "C:/x",
        "c:..\\x",
        "\\\\server\\share",
        "a\0b",
        "\0",
        "a\nb",
        "\r",
        "\t",
        "\u{7f}",
        "\u{1b}[2J",
        "\u{85}",
        ".",
        "./",
        "",
        " ",
        "a/./b",
        ".ftpd-internal",
        ".ftpd-internal/partials",
        "x/.ftpd-internal",
        "\u{2215}..\u{2215}x",
        "\u{ff0e}\u{ff0e}/x",
        "\u{2024}\u{2024}",
        "..\u{2215}alice",
        "\u{ff0f}etc",
        "%2e%2e/x",
        "..%2fx",
        "....//x",
        ".../x",
        "to-alice",
        "to-alice/",
        "to-alice/x",
        "up/alice",
        "absolute-secret",
        "to-root/tmp",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    paths.push("a".repeat(256));
    paths.push(format!("{}/x", "b".repeat(255)));
    paths.push("c/".repeat(2100));
    paths.push(format!("ok/{}", "é".repeat(200)));
    paths
}

#[tokio::test(flavor = "multi_thread")]
async fn every_corpus_path_is_refused_or_kept_inside_the_home() {
    use ftp_proto::{ClientMessage, FileIdentity, ServerMessage};
    use futures::{SinkExt, StreamExt};

    let h = homes();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("bait"), SECRET).unwrap();
    std::os::unix::fs::symlink(outside.path(), h.bob.join("to-outside")).unwrap();
    let before_alice = e2e::tree(&h.alice);
    let before_root: Vec<_> = std::fs::read_dir(h.site.root())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let mut conn = e2e::raw_session(&h.server, None, "bob", "bob-password")
        .await
        .expect("login");
    let payload_sha = {
        let payload = h.site.dir.path().join("payload");
        std::fs::write(&payload, b"bob").unwrap();
        ftp_proto::files::filestream::hash_file(&std::fs::File::open(&payload).unwrap()).unwrap()
    };
    let mut paths = corpus();
    paths.extend(["to-outside", "to-outside/bait", "to-outside/new"].map(String::from));
    for (i, path) in paths.iter().enumerate() {
        let requests = [
            ClientMessage::MakeDir {
                path: format!("{path}/d{i}"),
            },
            ClientMessage::Stat { path: path.clone() },
            ClientMessage::List { path: path.clone() },
            ClientMessage::Get {
                path: path.clone(),
                offset: 0,
                limit_rate: None,
            },
        ];
        for request in requests {
            conn.send(request).await.unwrap();
            // Read to the end of the answer: one frame, or a listing/download ending in its
            // last frame. A download may only ever be bob's own content.
            let mut downloaded = Vec::new();
            loop {
                match conn.next().await.expect("answer").expect("frame") {
                    ServerMessage::Listing { entries, last } => {
                        for entry in entries {
                            assert!(
                                entry.name != "bait" && entry.name != "secret.txt",
                                "{path:?} listed {}",
                                entry.name
                            );
                        }
                        if last {
                            break;
                        }
                    }
                    ServerMessage::GetReady { .. } => {}
                    ServerMessage::Data { data, .. } => downloaded.extend_from_slice(&data),
                    ServerMessage::GetDone { .. } => {
                        assert_eq!(downloaded, b"bob", "{path:?}: downloaded what is not bob's");
                        break;
                    }
                    ServerMessage::StatInfo { sha256, .. } => {
                        assert!(
                            sha256.is_none() || !path.contains("bait"),
                            "{path:?}: read the bait"
                        );
                        break;
                    }
                    _ => break,
                }
            }
        }
        // An upload: either refused, or it lands inside bob's home.
        conn.send(ClientMessage::Put(ftp_proto::PutRequest {
            path: path.clone(),
            file: FileIdentity {
                size: 3,
                modified_secs: i as i64,
                modified_nanos: 0,
            },
            force: true,
            upload_id: [i as u8; 16],
        }))
        .await
        .unwrap();
        match conn.next().await.expect("answer").expect("frame") {
            ServerMessage::PutReady { .. } => {
                conn.send(ClientMessage::Chunk {
                    offset: 0,
                    data: bytes::Bytes::from_static(b"bob"),
                })
                .await
                .unwrap();
                conn.send(ClientMessage::PutFinish {
                    sha256: payload_sha,
                })
                .await
                .unwrap();
                let answer = conn.next().await.expect("answer").expect("frame");
                assert!(
                    matches!(
                        answer,
                        ServerMessage::PutDone { .. } | ServerMessage::Error { .. }
                    ),
                    "{path:?}: {answer:?}"
                );
            }
            // A file of the same size already there (even with force): compared, not replaced.
            ServerMessage::PutExisting { .. } => {
                conn.send(ClientMessage::PutCancel {}).await.unwrap();
            }
            ServerMessage::Error { .. } => {}
            other => panic!("{path:?}: {other:?}"),
        }
    }
    // Nothing outside bob's home changed, and nothing was read from outside.
    assert_eq!(
        std::fs::read_dir(outside.path()).unwrap().count(),
        1,
        "nothing landed outside the root"
    );
    assert_eq!(
        std::fs::read_to_string(outside.path().join("bait")).unwrap(),
        SECRET
    );
    assert_eq!(
        e2e::tree(&h.alice),
        before_alice,
        "alice's home is untouched"
    );
    let after_root: Vec<_> = std::fs::read_dir(h.site.root())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        after_root.len(),
        before_root.len(),
        "nothing new at the root: {after_root:?}"
    );
}
