//! Proxies that stand between a client and a test server on 127.0.0.1:0: one that records
//! every byte both ways (to prove what an eavesdropper sees), and one that terminates TLS with a
//! certificate of its own and relays to the real server (a man in the middle).
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
