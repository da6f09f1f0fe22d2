//! Turning an accepted TCP connection into the stream a session runs over: a TLS handshake, or
//! plain TCP when the server runs with `insecure_plaintext`.
//!
//! A TLS server peeks at the first byte: a TLS client sends its ClientHello at once, starting
//! with a handshake record (0x16). Anything else is a plaintext client (or garbage), and so is
//! silence for [`PLAINTEXT_WAIT`]: a plaintext client says nothing until it gets the server's
//! hello. Either gets one plaintext error frame saying the server requires TLS, then the
//! connection closes, so neither side hangs. Every wait is bounded by `startup_timeout`.
//! Nothing here reads a frame or a secret.

use std::net::SocketAddr;
use std::time::Duration;

use ftp_proto::transport::Stream;
use ftp_proto::{ErrorKind, ServerCodec, ServerMessage};
use futures::SinkExt;
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

use crate::tls::TlsIdentity;

/// What a plaintext client of a TLS server is told.
pub const TLS_REQUIRED: &str = "this server requires TLS: connect without --insecure-plaintext (the ftp client uses TLS by default)";

/// How long a TLS server waits for the client's first byte before it takes the client for a
/// plaintext one waiting for the server's hello (a TLS client sends its ClientHello as soon as
/// it is connected, so only a round trip longer than this is mistaken).
pub const PLAINTEXT_WAIT: Duration = Duration::from_secs(2);

/// Longest wait to deliver the "TLS required" frame to a plaintext client.
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(2);

/// Why no session could start on a connection.
#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    /// The client closed or went silent before the TLS handshake finished.
    #[error("no TLS handshake within {0:?}")]
    Timeout(Duration),
    /// The client spoke plaintext to this TLS server; it was told so.
    #[error("a plaintext client connected; told it the server requires TLS")]
    Plaintext,
    /// The client sent nothing; it may be a plaintext client waiting for a hello, and was told
    /// the server requires TLS.
    #[error(
        "no TLS ClientHello within {PLAINTEXT_WAIT:?} (a plaintext client, or a silent one); told it the server requires TLS"
    )]
    Silent,
    /// The client closed the connection before sending anything.
    #[error("the client closed the connection before any TLS handshake")]
    Closed,
    /// The client went away during the TLS handshake (closed or reset the connection).
    #[error("the client went away during the TLS handshake")]
    Vanished,
    /// The TLS handshake failed.
    #[error("TLS handshake failed: {0}")]
    Handshake(std::io::Error),
}

/// Sets up the session's stream: TLS with `identity`, or plain TCP when it is `None`.
pub async fn accept(
    tcp: TcpStream,
    identity: Option<&TlsIdentity>,
    timeout: Duration,
) -> Result<Stream, AcceptError> {
    let Some(identity) = identity else {
        return Ok(Stream::Plain(tcp));
    };
    let handshake = async {
        let mut first = [0u8; 1];
        let peeked = match tokio::time::timeout(PLAINTEXT_WAIT, tcp.peek(&mut first)).await {
            Err(_) => {
                refuse_plaintext(tcp).await;
                return Err(AcceptError::Silent);
            }
            Ok(peeked) => peeked.map_err(handshake_error)?,
        };
        if peeked == 0 {
            return Err(AcceptError::Closed);
        }
        if first[0] != ftp_proto::tls::TLS_HANDSHAKE_BYTE {
            refuse_plaintext(tcp).await;
            return Err(AcceptError::Plaintext);
        }
        let tls = identity
            .acceptor
            .accept(ftp_proto::transport::socket(tcp))
            .await
            .map_err(handshake_error)?;
        Ok(Stream::from(tls))
    };
    tokio::time::timeout(timeout, handshake)
        .await
        .map_err(|_| AcceptError::Timeout(timeout))?
}

/// A failed handshake: [`AcceptError::Vanished`] when the client only went away (rustls's
/// "tls handshake eof", a reset), else the error as it is.
fn handshake_error(error: std::io::Error) -> AcceptError {
    if crate::error::vanished(&error) {
        AcceptError::Vanished
    } else {
        AcceptError::Handshake(error)
    }
}

/// Tells a plaintext client, in its own framing, that this server requires TLS.
async fn refuse_plaintext(tcp: TcpStream) {
    let mut conn = Framed::new(tcp, ServerCodec::default());
    let frame = ServerMessage::Error {
        kind: ErrorKind::Protocol,
        message: TLS_REQUIRED.into(),
    };
    let _ = tokio::time::timeout(REFUSAL_TIMEOUT, conn.send(frame)).await;
}

/// Logs why a connection got no session, at a level that fits (a probe is not an error).
pub fn log_refused(peer: SocketAddr, error: &AcceptError) {
    match error {
        AcceptError::Closed | AcceptError::Vanished => {
            tracing::debug!(%peer, "closing connection: {error}");
        }
        AcceptError::Plaintext | AcceptError::Silent => {
            tracing::info!(%peer, "closing connection: {error} (the client may run with --insecure-plaintext)");
        }
        _ => tracing::info!(%peer, "closing connection: {error}"),
    }
}

/// Whether a frame length the server refused is really the start of a TLS record (a TLS client
/// talking to this plaintext server): handshake type, then version 3.x.
pub fn looks_like_tls(len: usize) -> bool {
    len >> 16 == (usize::from(ftp_proto::tls::TLS_HANDSHAKE_BYTE) << 8 | 0x03)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_hello_read_as_a_length_is_recognised() {
        let hello = u32::from_be_bytes([0x16, 0x03, 0x01, 0x02]) as usize;
        assert!(looks_like_tls(hello));
        assert!(!looks_like_tls(0xffff_ffff));
        assert!(!looks_like_tls(100));
    }
}
