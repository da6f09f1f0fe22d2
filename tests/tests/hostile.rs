//! Garbage on the port: each bad connection is closed, the server stays up, and the next real
//! client is served. Frame-level garbage is sent to a plaintext server (so it reaches the frame
//! decoder); byte-level garbage to a TLS server (so it hits the TLS front door). Garbage inside
//! a TLS session is in tls.rs.

// Test code: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use e2e::{Server, Site, code, stderr};

const PASSWORD: &str = "pw-for-hostile-tests";

/// The handshake timeout and the startup timeout (before the key proof) both `timeout`.
fn timeouts(timeout: &str) -> String {
    format!("handshake_timeout = \"{timeout}\"\nstartup_timeout = \"{timeout}\"\n")
}

/// A TLS server whose handshake and startup timeouts are `timeout`.
fn start(timeout: &str) -> (Site, Server) {
    let site = Site::new(&timeouts(timeout));
    site.add_user("alice", PASSWORD, &[]);
    let server = site.start();
    (site, server)
}

/// A plaintext server (bytes go straight to the frame decoder) with those timeouts.
fn start_plain(timeout: &str) -> (Site, Server) {
    let site = Site::plaintext(&timeouts(timeout));
    site.add_user("alice", PASSWORD, &[]);
    let server = site.start();
    (site, server)
}

/// Sends `bytes` on a fresh connection and reads until the server closes it; returns what was
/// read after the server's hello. Panics if the server keeps it open past `limit`.
fn send_and_wait_for_close(server: &Server, bytes: &[u8], limit: Duration) -> Vec<u8> {
    let mut stream = TcpStream::connect(server.address).unwrap();
    stream.set_read_timeout(Some(limit)).unwrap();
    let _ = stream.write_all(bytes);
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return received,
            Ok(n) => received.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return received,
            Err(e) => panic!("connection still open after {limit:?} ({e}) for {bytes:?}"),
        }
    }
}

/// The server is alive and serves a real client.
fn still_serves(server: &mut Server) {
    assert!(server.is_running(), "server died:\n{}", server.log());
    let output = server.run_ftp("alice", PASSWORD, &["ls"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
}

#[test]
fn an_oversized_length_prefix_is_closed_at_once() {
    // A handshake timeout far longer than the read limit: only an immediate close passes.
    let (_site, mut server) = start_plain("120s");
    send_and_wait_for_close(
        &server,
        &[0xff, 0xff, 0xff, 0xff, 1, 2, 3],
        Duration::from_secs(30),
    );
    server.wait_for_log("exceeds the limit");
    still_serves(&mut server);
}

#[test]
fn an_http_request_is_closed_at_once() {
    let (_site, mut server) = start("120s");
    let request = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
    send_and_wait_for_close(&server, request, Duration::from_secs(30));
    still_serves(&mut server);
}

#[test]
fn random_bytes_are_closed() {
    let (_site, mut server) = start("1s");
    // A fixed pseudo-random stream (xorshift) so a failure can be replayed.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..5 {
        let bytes: Vec<u8> = (0..512)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        send_and_wait_for_close(&server, &bytes, Duration::from_secs(30));
    }
    still_serves(&mut server);
}

#[test]
fn a_truncated_frame_is_closed_by_the_handshake_timeout() {
    let (_site, mut server) = start_plain("1s");
    let mut frame = 100u32.to_be_bytes().to_vec();
    frame.extend_from_slice(&[0u8; 10]);
    send_and_wait_for_close(&server, &frame, Duration::from_secs(30));
    server.wait_for_log("handshake timed out");
    still_serves(&mut server);
}

#[test]
fn a_silent_connection_is_closed_by_the_handshake_timeout() {
    let (_site, mut server) = start("1s");
    send_and_wait_for_close(&server, &[], Duration::from_secs(30));
    server.wait_for_log("no TLS handshake within");
    still_serves(&mut server);
}

#[test]
fn a_broken_tls_hello_is_closed_at_once() {
    // A TLS record header announcing a handshake, then garbage: rustls refuses it at once.
    let (_site, mut server) = start("120s");
    let mut hello = vec![0x16, 0x03, 0x01, 0x00, 0x40];
    hello.extend_from_slice(&[0xee; 64]);
    send_and_wait_for_close(&server, &hello, Duration::from_secs(30));
    server.wait_for_log("TLS handshake failed");
    still_serves(&mut server);
}

#[test]
fn the_server_survives_many_bad_connections_at_once() {
    let (_site, mut server) = start("2s");
    let address = server.address;
    let attackers: Vec<_> = (0..50u8)
        .map(|i| {
            std::thread::spawn(move || {
                if let Ok(mut stream) = TcpStream::connect(address) {
                    let _ = stream.write_all(&[i; 64]);
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
                    let mut sink = Vec::new();
                    let _ = stream.read_to_end(&mut sink);
                }
            })
        })
        .collect();
    still_serves(&mut server);
    for attacker in attackers {
        attacker.join().unwrap();
    }
    still_serves(&mut server);
}
