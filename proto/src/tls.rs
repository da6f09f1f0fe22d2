//! What both sides agree on about TLS: the crypto provider (ring, TLS 1.3 only, AES-128-GCM
//! first), the certificate fingerprint (SHA-256 of the end-entity certificate's DER, written
//! `SHA256:<hex>`), the exporter label that binds the key proofs to the session, and the first
//! byte that tells a TLS client from a plaintext one.
//!
//! This module builds no connection and reads no file: the server and client set up their own
//! configurations from these pieces.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use sha2::{Digest, Sha256};

use crate::handshake::ChannelBinding;

/// Label of the TLS exporter value mixed into both key proofs (RFC 8446 §7.5).
pub const EXPORTER_LABEL: &[u8] = b"EXPORTER-ftpd-key-proof";

/// First byte of every TLS record carrying a handshake message (a ClientHello starts with it).
pub const TLS_HANDSHAKE_BYTE: u8 = 0x16;

/// The crypto provider both sides use: ring, with TLS 1.3 suites only, AES-128-GCM first (AES-NI
/// makes it the fastest here), then AES-256-GCM and ChaCha20-Poly1305.
pub fn provider() -> Arc<CryptoProvider> {
    use rustls::crypto::ring::{cipher_suite, default_provider};
    Arc::new(CryptoProvider {
        cipher_suites: vec![
            cipher_suite::TLS13_AES_128_GCM_SHA256,
            cipher_suite::TLS13_AES_256_GCM_SHA384,
            cipher_suite::TLS13_CHACHA20_POLY1305_SHA256,
        ],
        ..default_provider()
    })
}

/// The only protocol version offered or accepted.
pub static VERSIONS: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];

/// The channel binding of an established TLS connection (either side).
pub fn channel_binding<Data>(
    connection: &rustls::ConnectionCommon<Data>,
) -> Result<ChannelBinding, rustls::Error> {
    let value = connection.export_keying_material([0u8; 32], EXPORTER_LABEL, None)?;
    Ok(ChannelBinding::from_exporter(value))
}

/// The SHA-256 of a certificate's DER encoding: what `ftpd fingerprint` prints and the client
/// pins or records.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The fingerprint of a DER-encoded certificate.
    pub fn of(der: &[u8]) -> Self {
        Fingerprint(Sha256::digest(der).into())
    }
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SHA256:{}", hex::encode(self.0))
    }
}

impl std::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl std::str::FromStr for Fingerprint {
    type Err = String;

    /// Accepts `SHA256:<64 hex digits>`, the bare hex digits, or the hex written in pairs
    /// separated by colons (as `openssl x509 -fingerprint -sha256` prints it); any case.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        let digits = match trimmed.split_once(':') {
            Some((prefix, rest)) if prefix.eq_ignore_ascii_case("sha256") => rest,
            _ => trimmed,
        };
        let digits: String = digits.chars().filter(|c| *c != ':').collect();
        let mut bytes = [0u8; 32];
        match hex::decode_to_slice(&digits, &mut bytes) {
            Ok(()) => Ok(Fingerprint(bytes)),
            Err(_) => Err(format!(
                "{text:?} is not a SHA-256 fingerprint (expected SHA256: and 64 hex digits, as `ftpd fingerprint` prints)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_print_and_parse_in_every_accepted_form() {
        let fingerprint = Fingerprint::of(b"certificate");
        let text = fingerprint.to_string();
        assert!(
            text.starts_with("SHA256:") && text.len() == 7 + 64,
            "{text}"
        );
        let bare = text.trim_start_matches("SHA256:");
        let colons: Vec<String> = bare
            .as_bytes()
            .chunks(2)
            .map(|pair| String::from_utf8_lossy(pair).to_uppercase())
            .collect();
        for form in [
            text.clone(),
            bare.to_owned(),
            colons.join(":"),
            format!("sha256:{}", colons.join(":")),
            format!("  {text}\n"),
        ] {
            assert_eq!(form.parse::<Fingerprint>(), Ok(fingerprint), "{form}");
        }
        for bad in [
            "",
            "SHA256:",
            "SHA256:abc",
            &format!("MD5:{bare}"),
            &bare[1..],
        ] {
            assert!(bad.parse::<Fingerprint>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_provider_offers_tls13_aes128_gcm_first() {
        let provider = provider();
        assert_eq!(
            provider.cipher_suites[0].suite(),
            rustls::CipherSuite::TLS13_AES_128_GCM_SHA256
        );
        assert!(
            provider
                .cipher_suites
                .iter()
                .all(|suite| suite.version() == &rustls::version::TLS13)
        );
    }
}
