//! `--limit-rate` against the server's minimum transfer rate (`min_transfer_rate`): a rate below
//! the floor is refused before anything is sent, naming both figures; a rate at the floor is
//! never cut by it, in either direction: a paced download is paced by the server too, so its
//! pace reaches the floor rather than piling up in socket buffers.

// Test code: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Child, Stdio};

use e2e::{Server, Site, code, output_of, random_file, same_content, stderr, wait_until};
use ftp_proto::{ClientMessage, ServerMessage};
use futures::{SinkExt, StreamExt};

const PASSWORD: &str = "rate-floor-password";
const MIB: usize = 1 << 20;

/// The floor, 3 MiB/s, checked over 1.4 s windows: small, so a transfer of several windows is
/// quick, and a window that is not a whole number of the client's frames (1 MiB for a download
/// before `Get` named a frame size; 384 KiB, an eighth of a second's worth, for an upload), so
/// counting each window on its own, as the floor did, cuts a client paced at the floor.
const CONFIG: &str = "min_transfer_rate = \"3M\"\ntransfer_rate_window = \"1400ms\"\n";

/// Starts `ftp ARGS…` as alice in `folder`, without retries, its output captured.
fn spawn(server: &Server, folder: &Path, args: &[&str]) -> Child {
    let mut command = server.ftp("alice", PASSWORD);
    command
        .args(args)
        .args(["--retries", "0"])
        .current_dir(folder)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command.spawn().expect("spawn ftp")
}

/// A site with the small floor, alice's home holding `remote.bin` of `size` bytes, and a local
/// `local.bin` of `size` bytes; the server started.
fn started(size: usize) -> (Site, Server) {
    let site = Site::new(CONFIG);
    site.add_user("alice", PASSWORD, &[]);
    let home = site.root().join("alice");
    std::fs::create_dir_all(&home).unwrap();
    random_file(&home.join("remote.bin"), size, 71);
    random_file(&site.dir.path().join("local.bin"), size, 72);
    let server = site.start();
    (site, server)
}

#[test]
fn a_limit_below_the_floor_is_refused_before_anything_is_sent() {
    let (site, server) = started(4 * MIB);
    let folder = site.dir.path();
    let put = spawn(
        &server,
        folder,
        &["put", "--limit-rate", "2M", "local.bin", "up.bin"],
    );
    let get = spawn(
        &server,
        folder,
        &["get", "--limit-rate", "2M", "remote.bin", "down.bin"],
    );
    for (what, child) in [("put", put), ("get", get)] {
        let output = output_of(child, what);
        assert_eq!(code(&output), 4, "{what}: {}", stderr(&output));
        let message = stderr(&output);
        assert!(
            message.contains(
                "--limit-rate 2 MiB/s is below this server's minimum transfer rate of 3 MiB/s \
                 (its min_transfer_rate); use at least 3 MiB/s"
            ),
            "{what}: {message}"
        );
    }
    assert!(e2e::partials(&site.root()).is_empty(), "no partial upload");
    assert!(!site.root().join("alice/up.bin").exists());
    assert!(!folder.join("down.bin").exists());
    assert!(
        !e2e::part_of(&folder.join("down.bin")).exists(),
        "no local part"
    );
    let log = server.log();
    assert!(
        !log.contains("too slow"),
        "nothing ran into the floor:\n{log}"
    );
}

#[test]
fn a_limit_at_the_floor_is_never_cut_either_way() {
    // Seven seconds at 3 MiB/s: five of the server's windows, three or more of them once the
    // socket buffers a download fills at once (some MiB) are full.
    let size = 21 * MIB;
    let (site, server) = started(size);
    let folder = site.dir.path();
    let put = spawn(
        &server,
        folder,
        &["put", "--limit-rate", "3M", "local.bin", "up.bin"],
    );
    let get = spawn(
        &server,
        folder,
        &["get", "--limit-rate", "3M", "remote.bin", "down.bin"],
    );
    for (what, child) in [("put", put), ("get", get)] {
        let output = output_of(child, what);
        assert_eq!(code(&output), 0, "{what}: {}", stderr(&output));
        assert!(
            !stderr(&output).contains("reconnecting"),
            "{what} needed no retry: {}",
            stderr(&output)
        );
    }
    assert!(same_content(
        &folder.join("local.bin"),
        &site.root().join("alice/up.bin")
    ));
    assert!(same_content(
        &site.root().join("alice/remote.bin"),
        &folder.join("down.bin")
    ));
    let log = server.log();
    assert!(!log.contains("too slow"), "never cut by the floor:\n{log}");
}

#[test]
fn a_download_at_the_floor_larger_than_the_socket_buffers_is_never_cut() {
    // 256 KiB/s over 1 s windows, and a file far larger than the socket buffers. Sent as fast
    // as the buffers took it, the data piled up in them (some MiB) and the server then saw the
    // client's pace only in bursts seconds apart (a megabyte each time the client took a
    // frame), so it cut a client keeping to the floor.
    let rate = 256 * 1024;
    let site = Site::new("min_transfer_rate = \"256K\"\ntransfer_rate_window = \"1s\"\n");
    site.add_user("alice", PASSWORD, &[]);
    let home = site.root().join("alice");
    std::fs::create_dir_all(&home).unwrap();
    random_file(&home.join("remote.bin"), 16 * MIB, 73);
    let server = site.start();
    let folder = site.dir.path();
    let mut get = spawn(
        &server,
        folder,
        &["get", "--limit-rate", "256K", "remote.bin", "down.bin"],
    );
    let part = e2e::part_of(&folder.join("down.bin"));
    // The client takes at most a frame (1 MiB) ahead of its pace: past this, three windows
    // have gone by.
    let taken = MIB as u64 + 3 * rate;
    wait_until("three windows' worth received", || {
        std::fs::metadata(&part).is_ok_and(|m| m.len() >= taken)
    });
    assert!(get.try_wait().unwrap().is_none(), "still downloading");
    get.kill().unwrap();
    get.wait().unwrap();
    let log = server.log();
    assert!(!log.contains("too slow"), "never cut by the floor:\n{log}");
}

#[test]
fn a_paced_download_comes_in_frames_of_an_eighth_of_a_second_at_no_less_than_the_floor() {
    let (_site, server) = started(MIB);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let frames = |limit_rate| {
        runtime.block_on(async {
            let mut conn = e2e::raw_session(&server, None, "alice", PASSWORD)
                .await
                .expect("login");
            conn.send(ClientMessage::Get {
                path: "remote.bin".into(),
                offset: 0,
                limit_rate,
            })
            .await
            .unwrap();
            let mut lens = Vec::new();
            loop {
                match conn.next().await {
                    Some(Ok(ServerMessage::GetReady { size, .. })) => {
                        assert_eq!(size, MIB as u64);
                    }
                    Some(Ok(ServerMessage::Data { data, .. })) => lens.push(data.len()),
                    Some(Ok(ServerMessage::GetDone { .. })) => return lens,
                    other => panic!("unexpected {other:?}"),
                }
            }
        })
    };
    // At 3 MiB/s (the floor, for a pace asked below it): 384 KiB frames.
    assert_eq!(frames(Some(8 * MIB as u64)), [MIB]);
    assert_eq!(frames(Some(1024)), [384 << 10, 384 << 10, 256 << 10]);
    assert_eq!(frames(None), [MIB], "unpaced: up to 1 MiB a frame");
}
