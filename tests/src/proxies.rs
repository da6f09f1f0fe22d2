//! Proxies that stand between a client and a test server on 127.0.0.1:0: one that records
//! every byte both ways (to prove what an eavesdropper sees), one that terminates TLS with a
//! certificate of its own and relays to the real server (a man in the middle), and one whose
//! link stalls (it stops forwarding but keeps both sockets open, as a dead route does).
//!
//! Test-support code: a panic here is how a test reports a broken set-up.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// A forwarding proxy that keeps a copy of everything that crossed it, both ways.
pub struct RecordingProxy {
    /// Where clients connect.
    pub address: SocketAddr,
    /// Every byte seen, client to server and server to client, in arrival order.
    recorded: Arc<Mutex<Vec<u8>>>,
}

impl RecordingProxy {
    /// Starts the proxy in front of `target`.
    pub fn start(target: SocketAddr) -> RecordingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let address = listener.local_addr().expect("proxy address");
        let recorded: Arc<Mutex<Vec<u8>>> = Arc::default();
        let sink = Arc::clone(&recorded);
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(target) else {
                    continue;
                };
                let (Ok(client2), Ok(server2)) = (client.try_clone(), server.try_clone()) else {
                    continue;
                };
                let up = Arc::clone(&sink);
                std::thread::spawn(move || record(client, server, &up));
                let down = Arc::clone(&sink);
                std::thread::spawn(move || record(server2, client2, &down));
            }
        });
        RecordingProxy { address, recorded }
    }

    /// Everything recorded so far.
    pub fn recorded(&self) -> Vec<u8> {
        self.recorded.lock().expect("recording lock").clone()
    }
}

/// Copies `from` to `to`, appending each piece to `sink`, until either side closes.
fn record(mut from: TcpStream, mut to: TcpStream, sink: &Mutex<Vec<u8>>) {
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        sink.lock()
            .expect("recording lock")
            .extend_from_slice(&chunk[..n]);
        if to.write_all(&chunk[..n]).is_err() {
            break;
        }
    }
    let _ = from.shutdown(std::net::Shutdown::Both);
    let _ = to.shutdown(std::net::Shutdown::Both);
}

/// Whether `needle` occurs anywhere in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty()
        && haystack
            .windows(needle.len())
            .any(|window| window == needle)
}

/// A man in the middle: accepts TLS with its own self-signed certificate, opens TLS to the
/// real server (pinned to its certificate, as a careful attacker would), and relays the
/// plaintext between the two sessions.
pub struct MitmProxy {
    /// Where clients connect.
    pub address: SocketAddr,
    /// The fingerprint of the proxy's own certificate (what a fooled client would accept).
    pub fingerprint: String,
    /// Connections whose client finished the TLS handshake with the proxy.
    accepted: Arc<std::sync::atomic::AtomicUsize>,
}

impl MitmProxy {
    /// Starts the proxy in front of the server at `target` with certificate `fingerprint`.
    pub fn start(target: SocketAddr, fingerprint: &str) -> MitmProxy {
        let pair = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
            .expect("proxy certificate");
        let cert = pair.cert.der().clone();
        let own = ftp_proto::tls::Fingerprint::of(&cert).to_string();
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(pair.signing_key.serialize_der().into());
        let config = rustls::ServerConfig::builder_with_provider(ftp_proto::tls::provider())
            .with_protocol_versions(ftp_proto::tls::VERSIONS)
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .expect("proxy TLS config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let trust = ftp::transport::Trust::Pinned(fingerprint.parse().expect("fingerprint"));
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let address = listener.local_addr().expect("proxy address");
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = Arc::clone(&accepted);
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().expect("proxy runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                while let Ok((client, _)) = listener.accept().await {
                    let (acceptor, trust, counter) =
                        (acceptor.clone(), trust.clone(), Arc::clone(&counter));
                    tokio::spawn(async move {
                        let Ok(mut client) = acceptor.accept(client).await else {
                            return;
                        };
                        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        let Ok(server) = tokio::net::TcpStream::connect(target).await else {
                            return;
                        };
                        let Ok((mut server, _)) =
                            ftp::transport::tls(server, &target.to_string(), &trust).await
                        else {
                            return;
                        };
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    });
                }
            });
        });
        MitmProxy {
            address,
            fingerprint: own,
            accepted,
        }
    }

    /// How many clients completed a TLS handshake with the proxy.
    pub fn accepted(&self) -> usize {
        self.accepted.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// A forwarding proxy whose first connection stalls once `stall_after` bytes went from client
/// to server: from then on it forwards nothing either way but keeps both sockets open, until
/// the proxy is dropped (or five minutes pass). Later connections pass untouched.
pub struct StallProxy {
    /// Where clients connect.
    pub address: SocketAddr,
    /// Set once the first connection has stalled.
    stalled: Arc<std::sync::atomic::AtomicBool>,
    /// Set when the proxy is dropped: the stalled connection's threads end.
    released: Arc<std::sync::atomic::AtomicBool>,
}

/// Longest a stalled connection is held open.
const LONGEST_STALL: std::time::Duration = std::time::Duration::from_secs(300);

impl StallProxy {
    /// Starts the proxy in front of `target`.
    pub fn start(target: SocketAddr, stall_after: u64) -> StallProxy {
        use std::sync::atomic::AtomicBool;
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let address = listener.local_addr().expect("proxy address");
        let stalled = Arc::new(AtomicBool::new(false));
        let released = Arc::new(AtomicBool::new(false));
        let (stall_flag, release_flag) = (Arc::clone(&stalled), Arc::clone(&released));
        std::thread::spawn(move || {
            for (index, client) in listener.incoming().enumerate() {
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(target) else {
                    continue;
                };
                let (Ok(client2), Ok(server2)) = (client.try_clone(), server.try_clone()) else {
                    continue;
                };
                let limit = (index == 0).then_some(stall_after);
                let (up_stall, up_release) = (Arc::clone(&stall_flag), Arc::clone(&release_flag));
                std::thread::spawn(move || {
                    forward_until_stall(client, server, limit, &up_stall, &up_release)
                });
                let (down_stall, down_release) =
                    (Arc::clone(&stall_flag), Arc::clone(&release_flag));
                let limit = limit.map(|_| u64::MAX);
                std::thread::spawn(move || {
                    forward_until_stall(server2, client2, limit, &down_stall, &down_release)
                });
            }
        });
        StallProxy {
            address,
            stalled,
            released,
        }
    }

    /// Whether the first connection has stalled yet.
    pub fn stalled(&self) -> bool {
        self.stalled.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for StallProxy {
    fn drop(&mut self) {
        self.released
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Copies `from` to `to`. With a `limit` (the stalling connection), stops forwarding once that
/// many bytes went this way or the other direction stalled, and holds both sockets open, not
/// reading, until `released`.
fn forward_until_stall(
    mut from: TcpStream,
    mut to: TcpStream,
    limit: Option<u64>,
    stalled: &std::sync::atomic::AtomicBool,
    released: &std::sync::atomic::AtomicBool,
) {
    use std::sync::atomic::Ordering;
    let mut chunk = vec![0u8; 64 * 1024];
    let mut crossed = 0u64;
    loop {
        let n = match from.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Some(limit) = limit {
            let n = if stalled.load(Ordering::SeqCst) {
                0
            } else {
                n.min(usize::try_from(limit - crossed).unwrap_or(usize::MAX))
            };
            crossed += n as u64;
            if to.write_all(&chunk[..n]).is_err() {
                break;
            }
            if crossed >= limit || stalled.load(Ordering::SeqCst) {
                stalled.store(true, Ordering::SeqCst);
                let since = std::time::Instant::now();
                while !released.load(Ordering::SeqCst) && since.elapsed() < LONGEST_STALL {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                break;
            }
        } else if to.write_all(&chunk[..n]).is_err() {
            break;
        }
    }
    let _ = from.shutdown(std::net::Shutdown::Both);
    let _ = to.shutdown(std::net::Shutdown::Both);
}
