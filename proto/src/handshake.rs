//! The mutual handshake's cryptography: nonces and HMAC-SHA256 proofs.
//!
//! The server sends a nonce; the client answers with its own nonce and
//! `HMAC(key, "client" | binding | server_nonce | client_nonce)`; the server checks it in constant
//! time and answers with `HMAC(key, "server" | binding | client_nonce | server_nonce)`, which the
//! client checks. The direction labels make a proof useless in the other direction, so reflecting
//! the peer's own answer back at it fails. The [`ChannelBinding`] ties both proofs to the TLS
//! session they travel in (a TLS exporter value, different on each leg of a man in the middle),
//! so a relayed proof fails too. This module does no I/O: each side drives the exchange itself.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroize;

use crate::error::KeyError;
use crate::secret::SharedKey;

/// A fresh random value from one side.
pub type Nonce = [u8; 32];

/// An HMAC-SHA256 proof of the shared key.
pub type Proof = [u8; 32];

/// Label mixed into the client's proof.
const CLIENT_LABEL: &[u8] = b"client";

/// Label mixed into the server's proof.
const SERVER_LABEL: &[u8] = b"server";

/// What ties the key proofs to one connection: 32 bytes exported from the TLS session
/// (RFC 8446 §7.5, label [`crate::tls::EXPORTER_LABEL`]) or, on a plaintext connection that
/// both sides asked for explicitly, a fixed marker.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ChannelBinding([u8; 32]);

/// The binding of a plaintext connection (no TLS session to bind to).
const PLAINTEXT_MARKER: [u8; 32] = *b"ftpd plaintext: no TLS session!!";

impl ChannelBinding {
    /// The binding of a TLS session: its exported keying material.
    pub fn from_exporter(value: [u8; 32]) -> Self {
        ChannelBinding(value)
    }

    /// The fixed binding of a plaintext connection.
    pub fn plaintext() -> Self {
        ChannelBinding(PLAINTEXT_MARKER)
    }

    /// Whether this is the plaintext marker.
    pub fn is_plaintext(&self) -> bool {
        self.0 == PLAINTEXT_MARKER
    }
}

impl std::fmt::Debug for ChannelBinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_plaintext() {
            f.write_str("ChannelBinding(plaintext)")
        } else {
            f.write_str("ChannelBinding(tls)")
        }
    }
}

/// A new nonce from the operating system's random generator.
pub fn new_nonce() -> Result<Nonce, KeyError> {
    let mut nonce = [0u8; 32];
    getrandom::fill(&mut nonce).map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(nonce)
}

/// The HMAC over `label | binding | first | second`, ready to finalize or verify.
fn mac(
    key: &SharedKey,
    label: &[u8],
    binding: &ChannelBinding,
    first: &Nonce,
    second: &Nonce,
) -> Hmac<Sha256> {
    // HMAC pads a key shorter than the hash's 64-byte block with zeros; doing it here uses the
    // infallible constructor and gives the same MAC as `new_from_slice` would.
    let mut block = [0u8; 64];
    block[..key.expose().len()].copy_from_slice(key.expose());
    let mut mac = <Hmac<Sha256> as KeyInit>::new(&block.into());
    block.zeroize();
    mac.update(label);
    mac.update(&binding.0);
    mac.update(first);
    mac.update(second);
    mac
}

/// The client's proof: `HMAC(key, "client" | binding | server_nonce | client_nonce)`.
pub fn client_proof(
    key: &SharedKey,
    binding: &ChannelBinding,
    server_nonce: &Nonce,
    client_nonce: &Nonce,
) -> Proof {
    mac(key, CLIENT_LABEL, binding, server_nonce, client_nonce)
        .finalize()
        .into_bytes()
        .into()
}

/// The server's proof: `HMAC(key, "server" | binding | client_nonce | server_nonce)`.
pub fn server_proof(
    key: &SharedKey,
    binding: &ChannelBinding,
    client_nonce: &Nonce,
    server_nonce: &Nonce,
) -> Proof {
    mac(key, SERVER_LABEL, binding, client_nonce, server_nonce)
        .finalize()
        .into_bytes()
        .into()
}

/// Checks a client's proof in constant time.
pub fn verify_client_proof(
    key: &SharedKey,
    binding: &ChannelBinding,
    server_nonce: &Nonce,
    client_nonce: &Nonce,
    proof: &Proof,
) -> bool {
    mac(key, CLIENT_LABEL, binding, server_nonce, client_nonce)
        .verify_slice(proof)
        .is_ok()
}

/// Checks a server's proof in constant time.
pub fn verify_server_proof(
    key: &SharedKey,
    binding: &ChannelBinding,
    client_nonce: &Nonce,
    server_nonce: &Nonce,
    proof: &Proof,
) -> bool {
    mac(key, SERVER_LABEL, binding, client_nonce, server_nonce)
        .verify_slice(proof)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SharedKey {
        SharedKey::from_bytes([byte; 32])
    }

    fn tls(byte: u8) -> ChannelBinding {
        ChannelBinding::from_exporter([byte; 32])
    }

    #[test]
    fn proofs_verify_with_the_same_key_only() {
        let (s, c) = (new_nonce().unwrap(), new_nonce().unwrap());
        assert_ne!(s, c, "nonces must differ");
        let proof = client_proof(&key(1), &tls(9), &s, &c);
        assert!(verify_client_proof(&key(1), &tls(9), &s, &c, &proof));
        assert!(!verify_client_proof(&key(2), &tls(9), &s, &c, &proof));
        let answer = server_proof(&key(1), &tls(9), &c, &s);
        assert!(verify_server_proof(&key(1), &tls(9), &c, &s, &answer));
        assert!(!verify_server_proof(&key(2), &tls(9), &c, &s, &answer));
    }

    #[test]
    fn a_reflected_proof_fails() {
        let (s, c) = (new_nonce().unwrap(), new_nonce().unwrap());
        // A fake server that replays the client's proof (or one computed with swapped roles).
        let client = client_proof(&key(1), &tls(9), &s, &c);
        assert!(!verify_server_proof(&key(1), &tls(9), &c, &s, &client));
        let swapped = client_proof(&key(1), &tls(9), &c, &s);
        assert!(!verify_server_proof(&key(1), &tls(9), &c, &s, &swapped));
    }

    #[test]
    fn matches_hmac_over_the_raw_key() {
        let (s, c) = ([5u8; 32], [6u8; 32]);
        let mut reference = <Hmac<Sha256> as KeyInit>::new_from_slice(&[1u8; 32]).unwrap();
        reference.update(b"client");
        reference.update(&[9u8; 32]);
        reference.update(&s);
        reference.update(&c);
        let expected: Proof = reference.finalize().into_bytes().into();
        assert_eq!(client_proof(&key(1), &tls(9), &s, &c), expected);
    }

    #[test]
    fn nonces_change_the_proof() {
        let (s, c, other) = (
            new_nonce().unwrap(),
            new_nonce().unwrap(),
            new_nonce().unwrap(),
        );
        let proof = client_proof(&key(1), &tls(9), &s, &c);
        assert!(!verify_client_proof(&key(1), &tls(9), &other, &c, &proof));
        assert!(!verify_client_proof(&key(1), &tls(9), &s, &other, &proof));
    }

    #[test]
    fn a_proof_from_another_tls_session_fails() {
        // A man in the middle holds two TLS sessions with different exporter values: the
        // client's proof, made for its session, does not verify in the server's.
        let (s, c) = (new_nonce().unwrap(), new_nonce().unwrap());
        let proof = client_proof(&key(1), &tls(1), &s, &c);
        assert!(verify_client_proof(&key(1), &tls(1), &s, &c, &proof));
        assert!(!verify_client_proof(&key(1), &tls(2), &s, &c, &proof));
        let plain = ChannelBinding::plaintext();
        assert!(!verify_client_proof(&key(1), &plain, &s, &c, &proof));
        let answer = server_proof(&key(1), &tls(1), &c, &s);
        assert!(!verify_server_proof(&key(1), &tls(2), &c, &s, &answer));
        assert!(plain.is_plaintext() && !tls(1).is_plaintext());
    }
}
