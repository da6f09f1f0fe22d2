//! Server errors: a [`Refusal`] is answered to the client and the session goes on; a
//! [`SessionError`] ends the session. Each maps to its wire [`ErrorKind`] here and nowhere else.

use ftp_proto::{CodecError, ErrorKind};

/// A request the server declines; the client gets `kind` and `message`, the session continues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Class of the failure, which the client maps to an exit code.
    pub kind: ErrorKind,
    /// What was refused and why, for a person.
    pub message: String,
}

impl Refusal {
    /// A refusal of the given kind.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Refusal {
            kind,
            message: message.into(),
        }
    }

    /// A failure on the server's side; details go to the log, not to the client.
    pub fn internal(context: &str, error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "{context}");
        Refusal::new(ErrorKind::Internal, format!("server error: {context}"))
    }
}

/// Why a session ended early.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The connection failed or sent bytes that are not a frame.
    #[error("{0}")]
    Codec(#[from] CodecError),
    /// The peer closed the connection.
    #[error("peer closed the connection")]
    Closed,
    /// The peer did not finish the handshake and login in time.
    #[error("handshake timed out")]
    HandshakeTimeout,
    /// The peer stayed silent too long after login.
    #[error("idle timeout")]
    IdleTimeout,
    /// The peer broke the protocol or failed authentication; it is told why, then closed.
    #[error("{}", .0.message)]
    Fatal(Refusal),
}

impl SessionError {
    /// The error frame to send before closing, when the connection can still carry one.
    pub fn reply(&self) -> Option<Refusal> {
        match self {
            SessionError::Codec(CodecError::FrameTooLarge { len, max }) => Some(Refusal::new(
                ErrorKind::Protocol,
                format!("frame of {len} bytes exceeds the limit of {max} bytes"),
            )),
            SessionError::Codec(CodecError::Malformed(why)) => Some(Refusal::new(
                ErrorKind::Protocol,
                format!("malformed message: {why}"),
            )),
            SessionError::Codec(_) | SessionError::Closed => None,
            SessionError::HandshakeTimeout => Some(Refusal::new(
                ErrorKind::Protocol,
                "handshake and login not finished in time",
            )),
            SessionError::IdleTimeout => Some(Refusal::new(
                ErrorKind::Protocol,
                "closing an idle connection",
            )),
            SessionError::Fatal(refusal) => Some(refusal.clone()),
        }
    }
}
