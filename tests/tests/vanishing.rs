//! Clients that go away without a word (killed, closed mid-handshake, gone after a refused
//! login): the server logs each once, at debug, in its own words, never with rustls's or the
//! OS's ("peer closed connection without sending TLS close_notify" and its docs link, "tls
//! handshake eof", "Connection reset by peer", "Broken pipe").

// Test code: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::net::TcpStream;
use std::process::{Child, Stdio};

use e2e::{Server, Site, code, random_file, wait_until};

const PASSWORD: &str = "pw-for-vanishing-tests";

/// Words of rustls and the OS that must not reach the log for a client that only left.
const RAW: [&str; 5] = [
    "close_notify",
    "tls handshake eof",
    "TLS handshake failed",
    "Connection reset",
    "Broken pipe",
];

/// A TLS server with alice.
fn start() -> (Site, Server) {
    let site = Site::new("");
    site.add_user("alice", PASSWORD, &[]);
    let server = site.start();
    (site, server)
}

/// Asserts the log has none of [`RAW`], and that `ours` is there, at debug.
fn logged_in_our_words(server: &Server, ours: &str) {
    server.wait_for_log(ours);
    let log = server.log();
    for raw in RAW {
        assert!(!log.contains(raw), "{raw:?} in the log:\n{log}");
    }
    let lines: Vec<&str> = log.lines().filter(|line| line.contains(ours)).collect();
    assert_eq!(lines.len(), 1, "{log}");
    assert!(lines[0].contains("DEBUG"), "{log}");
}

#[test]
fn a_failed_login_leaves_no_tls_words_in_the_log() {
    let (_site, server) = start();
    let output = server.run_ftp("alice", "not-the-password", &["ls"]);
    assert_eq!(code(&output), 3);
    logged_in_our_words(&server, "peer closed the connection");
}

#[test]
fn a_client_gone_during_the_tls_handshake_is_logged_in_our_words() {
    let (_site, server) = start();
    let mut stream = TcpStream::connect(server.address).unwrap();
    // The start of a ClientHello record that announces more than ever comes.
    stream
        .write_all(&[0x16, 0x03, 0x01, 0x00, 0x50, 0x01])
        .unwrap();
    drop(stream);
    logged_in_our_words(&server, "the client went away during the TLS handshake");
}

#[test]
fn a_client_killed_mid_download_is_logged_in_our_words() {
    let (site, server) = start();
    let mut client = download_under_way(&site, &server, 3, Stdio::null());
    client.kill().unwrap();
    client.wait().unwrap();
    logged_in_our_words(&server, "peer closed the connection");
}

#[test]
fn a_server_killed_mid_download_is_told_in_our_words() {
    let (site, mut server) = start();
    let client = download_under_way(&site, &server, 4, Stdio::piped());
    server.kill();
    let output = e2e::output_of(client, "the download");
    let stderr = e2e::stderr(&output);
    assert_eq!(code(&output), 5, "{stderr}");
    assert!(
        stderr.contains("connection to the server lost: the server"),
        "{stderr}"
    );
    for raw in ["close_notify", "os error", "docs.rs"] {
        assert!(!stderr.contains(raw), "{stderr}");
    }
}

/// A paced `get` of an 8 MiB file (made from `seed`), with no retries, started and returned
/// once part of it is on disk; its stderr goes to `stderr`.
fn download_under_way(site: &Site, server: &Server, seed: u64, stderr: Stdio) -> Child {
    let home = site.root().join("alice");
    std::fs::create_dir_all(&home).unwrap();
    random_file(&home.join("big.bin"), 8 << 20, seed);
    let folder = site.dir.path().join("downloads");
    std::fs::create_dir_all(&folder).unwrap();
    let mut command = server.ftp("alice", PASSWORD);
    command
        .args(["get", "big.bin", "--limit-rate", "1M", "--retries", "0"])
        .current_dir(&folder)
        .stdout(Stdio::null())
        .stderr(stderr);
    let client = command.spawn().unwrap();
    let part = e2e::part_of(&folder.join("big.bin"));
    wait_until("part of the download on disk", || {
        std::fs::metadata(&part).is_ok_and(|meta| meta.len() > 0)
    });
    client
}
