//! Opening the stream to the server: TCP, then TLS 1.3 with the server's identity checked (see
//! [`crate::verifier`]), or plain TCP when `--insecure-plaintext` asks for it.
//!
//! Which identity to expect comes from the options: `--fingerprint` pins one certificate, else
//! `--ca-file` verifies against a CA, else the known-servers file (trust on first use). A server
//! that answers in plaintext is reported as such, not as a hang or a retryable loss.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ftp_proto::tls::Fingerprint;
use ftp_proto::transport::Stream;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;

use crate::cli::GlobalArgs;
use crate::error::ClientError;
use crate::known_servers::{Known, KnownServers};
use crate::verifier::{Expect, IdentityVerifier};

/// Longest wait for a TCP connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest wait for the TLS handshake.
const TLS_TIMEOUT: Duration = Duration::from_secs(30);

/// How the server's certificate is judged.
#[derive(Debug, Clone)]
pub enum Trust {
    /// Only the certificate with this fingerprint.
    Pinned(Fingerprint),
    /// Certificates that chain to this CA and name the server.
    Ca {
        /// The CA as a root store.
        roots: Arc<rustls::RootCertStore>,
        /// The file it came from.
        file: PathBuf,
    },
    /// The known-servers file: recorded on first use, checked afterwards.
    KnownServers(KnownServers),
}

/// How to reach the server.
#[derive(Debug, Clone)]
pub enum Transport {
    /// TLS, judging the server's certificate this way.
    Tls(Trust),
    /// Plain TCP (`--insecure-plaintext`).
    Plaintext,
}

/// A new server this connection met for the first time: to be recorded once it proved the key.
#[derive(Debug)]
pub struct FirstUse {
    /// The file to record it in.
    pub file: KnownServers,
    /// Its certificate.
    pub fingerprint: Fingerprint,
}

impl Transport {
    /// The transport the options ask for.
    pub fn from_args(global: &GlobalArgs) -> Result<Self, ClientError> {
        if global.insecure_plaintext {
            return Ok(Transport::Plaintext);
        }
        if let Some(text) = &global.fingerprint {
            let pin = text.parse().map_err(ClientError::Usage)?;
            return Ok(Transport::Tls(Trust::Pinned(pin)));
        }
        if let Some(file) = &global.ca_file {
            return Ok(Transport::Tls(Trust::Ca {
                roots: Arc::new(load_ca(file)?),
                file: file.clone(),
            }));
        }
        let file = KnownServers::locate(global.known_servers.as_deref())?;
        Ok(Transport::Tls(Trust::KnownServers(file)))
    }

    /// Connects to `address` (`HOST:PORT`) and sets up the transport; a server met for the
    /// first time is returned too, for the caller to record once it has proved the key.
    pub async fn connect(&self, address: &str) -> Result<(Stream, Option<FirstUse>), ClientError> {
        let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address))
            .await
            .map_err(|_| ClientError::Connect {
                server: address.to_owned(),
                reason: format!("no answer within {}s", CONNECT_TIMEOUT.as_secs()),
            })?
            .map_err(|e| ClientError::Connect {
                server: address.to_owned(),
                reason: e.to_string(),
            })?;
        let _ = tcp.set_nodelay(true);
        match self {
            Transport::Plaintext => Ok((Stream::Plain(tcp), None)),
            Transport::Tls(trust) => tls(tcp, address, trust).await,
        }
    }
}

/// The TLS handshake on an open TCP connection to `address`, with the server's certificate
/// judged by `trust` (public so tests can connect from a chosen local address).
pub async fn tls(
    tcp: TcpStream,
    address: &str,
    trust: &Trust,
) -> Result<(Stream, Option<FirstUse>), ClientError> {
    let provider = ftp_proto::tls::provider();
    let (expect, first_use_file) = match trust {
        Trust::Pinned(pin) => (Expect::Pinned(*pin), None),
        Trust::Ca { roots, file } => {
            let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
                Arc::clone(roots),
                Arc::clone(&provider),
            )
            .build()
            .map_err(|e| ClientError::Usage(format!("--ca-file {}: {e}", file.display())))?;
            let file = file.clone();
            (Expect::Ca { verifier, file }, None)
        }
        Trust::KnownServers(known_servers) => {
            let (file, server) = (known_servers.clone(), address.to_owned());
            let known = crate::blocking::run(move || file.lookup(&server)).await?;
            let first = matches!(known, Known::Unknown).then(|| known_servers.clone());
            let file = known_servers.path.clone();
            (Expect::Known { known, file }, first)
        }
    };
    let verifier = Arc::new(IdentityVerifier::new(
        expect,
        address,
        Arc::clone(&provider),
    ));
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(ftp_proto::tls::VERSIONS)
        .map_err(|e| ClientError::Protocol(format!("TLS set-up: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::clone(&verifier) as _)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = server_name(address);
    let handshake = tokio::time::timeout(
        TLS_TIMEOUT,
        connector.connect(name, ftp_proto::transport::socket(tcp)),
    )
    .await
    .map_err(|_| ClientError::Connect {
        server: address.to_owned(),
        reason: format!("no TLS handshake within {}s", TLS_TIMEOUT.as_secs()),
    })?;
    let stream = match handshake {
        Ok(stream) => stream,
        Err(error) => return Err(explain(address, error, verifier.refusal())),
    };
    let first_use = match (first_use_file, stream.get_ref().1.peer_certificates()) {
        (Some(file), Some([leaf, ..])) => Some(FirstUse {
            file,
            fingerprint: Fingerprint::of(leaf),
        }),
        _ => None,
    };
    Ok((Stream::from(stream), first_use))
}

/// Turns a failed TLS handshake into the error the user should see.
fn explain(address: &str, error: std::io::Error, refusal: Option<String>) -> ClientError {
    if let Some(refusal) = refusal {
        return ClientError::ServerIdentity(refusal);
    }
    let tls_error = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match tls_error {
        Some(rustls::Error::InvalidMessage(_)) => ClientError::NotTls {
            server: address.to_owned(),
            reason: "the server does not speak TLS (it may run with --insecure-plaintext; \
this client would need --insecure-plaintext too)"
                .into(),
        },
        Some(tls_error) => ClientError::Connect {
            server: address.to_owned(),
            reason: format!("TLS handshake failed: {tls_error}"),
        },
        None if error.kind() == std::io::ErrorKind::UnexpectedEof => ClientError::Connect {
            server: address.to_owned(),
            reason: "the server closed the connection during the TLS handshake".into(),
        },
        None => ClientError::Connect {
            server: address.to_owned(),
            reason: format!("TLS handshake failed: {error}"),
        },
    }
}

/// The name sent in the TLS handshake and checked against a CA-issued certificate: the host
/// part of `HOST:PORT` (an IP address or a DNS name; a host that is neither, which only a
/// pinned or recorded certificate can accept, is sent as 127.0.0.1).
fn server_name(address: &str) -> ServerName<'static> {
    let host = address
        .rsplit_once(':')
        .map_or(address, |(host, _)| host)
        .trim_start_matches('[')
        .trim_end_matches(']');
    ServerName::try_from(host.to_owned())
        .unwrap_or_else(|_| ServerName::from(std::net::IpAddr::from([127, 0, 0, 1])))
}

/// Reads a CA file (PEM, one or more certificates) into a root store.
fn load_ca(file: &Path) -> Result<rustls::RootCertStore, ClientError> {
    let usage = |why: String| ClientError::Usage(format!("--ca-file {}: {why}", file.display()));
    let pem = std::fs::read(file).map_err(|source| ClientError::Local {
        context: format!("cannot read the CA file {}", file.display()),
        source,
    })?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| usage(format!("not a PEM certificate: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| usage(format!("not a usable CA certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(usage("holds no certificate".into()));
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_name_is_the_host_part() {
        use std::net::IpAddr;
        let dns = ServerName::try_from("example.org").unwrap();
        assert_eq!(server_name("example.org:2121"), dns);
        let v4 = ServerName::from(IpAddr::from([127, 0, 0, 1]));
        assert_eq!(server_name("127.0.0.1:2121"), v4);
        let v6 = ServerName::from(IpAddr::from(std::net::Ipv6Addr::LOCALHOST));
        assert_eq!(server_name("[::1]:2121"), v6);
        assert_eq!(server_name("not a host!:1"), v4);
    }

    #[test]
    fn options_pick_the_trust() {
        let global = |f: &dyn Fn(&mut GlobalArgs)| {
            let mut global = GlobalArgs {
                known_servers: Some(PathBuf::from("/tmp/known")),
                ..GlobalArgs::default()
            };
            f(&mut global);
            Transport::from_args(&global)
        };
        assert!(matches!(
            global(&|_| {}),
            Ok(Transport::Tls(Trust::KnownServers(_)))
        ));
        let pin = Fingerprint::of(b"x").to_string();
        assert!(matches!(
            global(&|g| g.fingerprint = Some(pin.clone())),
            Ok(Transport::Tls(Trust::Pinned(_)))
        ));
        assert!(matches!(
            global(&|g| g.fingerprint = Some("nope".into())),
            Err(ClientError::Usage(_))
        ));
        assert!(matches!(
            global(&|g| g.insecure_plaintext = true),
            Ok(Transport::Plaintext)
        ));
        assert!(matches!(
            global(&|g| g.ca_file = Some(PathBuf::from("/nonexistent/ca.pem"))),
            Err(ClientError::Local { .. })
        ));
    }
}
