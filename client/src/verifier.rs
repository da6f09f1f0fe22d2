//! Deciding whether the server's certificate is the right one, inside the TLS handshake and so
//! before any byte of ours (key proof, password) is sent: a pinned fingerprint, a CA, or the
//! known-servers file (trust on first use). The handshake signature is always verified with the
//! provider's algorithms, so a server must hold the private key of the certificate it shows.
//!
//! A refusal is kept in the verifier, worded for the person at the terminal, so the caller can
//! report it (exit code 7) instead of rustls's terse error.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use ftp_proto::tls::Fingerprint;
use rustls::DigitallySignedStruct;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

use crate::known_servers::Known;

/// Which certificate the server must show.
#[derive(Debug)]
pub enum Expect {
    /// Exactly this one (`--fingerprint`).
    Pinned(Fingerprint),
    /// One that chains to the CA in `file` and names the server (`--ca-file`).
    Ca {
        /// The standard verifier with that CA as its only root.
        verifier: Arc<WebPkiServerVerifier>,
        /// The CA file, for messages.
        file: PathBuf,
    },
    /// What the known-servers file says.
    Known {
        /// The file's entry for this server.
        known: Known,
        /// The file, for messages.
        file: PathBuf,
    },
}

/// A rustls certificate verifier that checks the server against an [`Expect`].
#[derive(Debug)]
pub struct IdentityVerifier {
    /// What to accept.
    expect: Expect,
    /// The server as the user named it (`HOST:PORT`), for messages.
    server: String,
    /// Signature algorithms for the handshake signature.
    provider: Arc<CryptoProvider>,
    /// Why the certificate was refused, for the error shown to the user.
    refusal: Mutex<Option<String>>,
}

impl IdentityVerifier {
    /// A verifier for one connection to `server`.
    pub fn new(expect: Expect, server: &str, provider: Arc<CryptoProvider>) -> Self {
        IdentityVerifier {
            expect,
            server: server.to_owned(),
            provider,
            refusal: Mutex::new(None),
        }
    }

    /// Why the certificate was refused, if it was.
    pub fn refusal(&self) -> Option<String> {
        self.refusal.lock().ok().and_then(|slot| slot.clone())
    }

    /// Keeps the reason and returns the error that aborts the handshake.
    fn refuse(&self, reason: String) -> rustls::Error {
        if let Ok(mut slot) = self.refusal.lock() {
            *slot = Some(reason.clone());
        }
        rustls::Error::InvalidCertificate(rustls::CertificateError::ApplicationVerificationFailure)
    }
}

impl ServerCertVerifier for IdentityVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let seen = Fingerprint::of(end_entity);
        let server = &self.server;
        match &self.expect {
            Expect::Pinned(pinned) if *pinned == seen => Ok(ServerCertVerified::assertion()),
            Expect::Pinned(pinned) => Err(self.refuse(format!(
                "SERVER IDENTITY NOT VERIFIED: {server} presented a certificate with fingerprint {seen}, \
but --fingerprint (or FTP_FINGERPRINT) pins {pinned}. Someone may be intercepting the connection, \
or the pin is wrong (`ftpd fingerprint` on the server prints the right one). Nothing was sent."
            ))),
            Expect::Ca { verifier, file } => verifier
                .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
                .map_err(|error| {
                    self.refuse(format!(
                        "SERVER IDENTITY NOT VERIFIED: the certificate of {server} (fingerprint {seen}) \
does not verify against the CA in {}: {error}. Nothing was sent.",
                        file.display()
                    ))
                }),
            Expect::Known {
                known: Known::Unknown,
                ..
            } => Ok(ServerCertVerified::assertion()),
            Expect::Known {
                known: Known::Recorded { fingerprint, .. },
                ..
            } if *fingerprint == seen => Ok(ServerCertVerified::assertion()),
            Expect::Known {
                known: Known::Recorded { fingerprint, line },
                file,
            } => Err(self.refuse(format!(
                "THE SERVER'S IDENTITY HAS CHANGED: {server} presented a certificate with fingerprint \
{seen}, but {file} line {line} records {fingerprint}.\n\
Someone may be intercepting the connection (a man in the middle), or the server's certificate was \
replaced. Nothing was sent to it.\n\
If the change is expected, remove line {line} from {file} (or pin the new certificate with \
--fingerprint) and connect again.",
                file = file.display()
            ))),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // Never reached (TLS 1.3 only), but verified properly all the same.
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(expect: Expect, der: &[u8]) -> (bool, Option<String>) {
        let verifier = IdentityVerifier::new(expect, "h:1", ftp_proto::tls::provider());
        let cert = CertificateDer::from(der.to_vec());
        let name = ServerName::try_from("localhost").unwrap();
        let ok = verifier
            .verify_server_cert(&cert, &[], &name, &[], UnixTime::now())
            .is_ok();
        (ok, verifier.refusal())
    }

    #[test]
    fn a_pin_accepts_its_certificate_only() {
        let pin = Fingerprint::of(b"right");
        assert_eq!(check(Expect::Pinned(pin), b"right"), (true, None));
        let (ok, why) = check(Expect::Pinned(pin), b"wrong");
        assert!(!ok);
        assert!(why.unwrap().contains(&pin.to_string()));
    }

    #[test]
    fn a_known_server_must_show_the_recorded_certificate() {
        let file = PathBuf::from("/home/u/.config/ftp/known_servers");
        let recorded = |der: &[u8]| Expect::Known {
            known: Known::Recorded {
                fingerprint: Fingerprint::of(der),
                line: 7,
            },
            file: file.clone(),
        };
        assert_eq!(check(recorded(b"same"), b"same"), (true, None));
        let (ok, why) = check(recorded(b"old"), b"new");
        assert!(!ok);
        let why = why.unwrap();
        assert!(
            why.contains("HAS CHANGED") && why.contains("line 7"),
            "{why}"
        );
        assert!(why.contains(&file.display().to_string()), "{why}");
        let unknown = Expect::Known {
            known: Known::Unknown,
            file,
        };
        assert_eq!(check(unknown, b"anything"), (true, None));
    }
}
