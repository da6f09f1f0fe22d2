//! Server errors: a [`Refusal`] is answered to the client and the session goes on; a
//! [`SessionError`] ends the session. Each maps to its wire [`ErrorKind`] here and nowhere else:
//! a store's [`Failure`] through [`Refusal::from_storage`], a refusal into its error frame
//! through `From<Refusal> for ServerMessage`.

use ftp_proto::{CodecError, ErrorKind, ServerMessage};

use crate::failure::{Failure, StorageError};

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

    /// What the client is told of a store's failure at `path`: the one place a
    /// [`StorageError`] becomes a wire [`ErrorKind`] and words.
    pub fn from_storage(error: &StorageError, path: &impl std::fmt::Display) -> Self {
        let path = match &error.at {
            Some(at) => at.clone(),
            None => path.to_string(),
        };
        let (kind, why) = match error.failure {
            Failure::NotFound => (ErrorKind::NotFound, "no such file or folder"),
            Failure::ParentNotFolder => {
                (ErrorKind::NotFound, "a parent of this path is not a folder")
            }
            Failure::OutsideHome => (
                ErrorKind::Denied,
                "access denied: the path leads outside your home",
            ),
            Failure::PermissionDenied => (
                ErrorKind::Denied,
                "permission denied on the server (ask its administrator)",
            ),
            Failure::ReadOnly => (ErrorKind::Denied, "the server's file system is read-only"),
            Failure::LinkLoop => (
                ErrorKind::InvalidPath,
                "too many levels of symbolic links (a link loop, or a link to itself)",
            ),
            Failure::NameTooLong => (
                ErrorKind::InvalidPath,
                "a name is too long for the server's file system",
            ),
            Failure::InvalidName => (
                ErrorKind::InvalidPath,
                "the name is not valid on the server's file system",
            ),
            Failure::InTheWay => (
                ErrorKind::Exists,
                "something other than a folder is already there, at this path or at one of its parents",
            ),
            Failure::FolderInTheWay => (ErrorKind::Exists, "a folder is in the way"),
            Failure::NotEmpty => (ErrorKind::Denied, "the folder is not empty"),
            Failure::Unopenable => (
                ErrorKind::Denied,
                "not a regular file (a socket or a device)",
            ),
            Failure::NotRegular(what) => {
                return Refusal::new(
                    ErrorKind::Denied,
                    format!("{path} is {what}, not a regular file"),
                );
            }
            Failure::TooManyLinks => (ErrorKind::Denied, "too many links to one file"),
            Failure::Busy => (ErrorKind::Busy, "in use on the server"),
            Failure::NoSpace => (ErrorKind::NoSpace, "the server's disk is full"),
            Failure::QuotaExhausted => (
                ErrorKind::NoSpace,
                "the disk quota on the server is exhausted",
            ),
            Failure::ShortOfResources => (
                ErrorKind::Unavailable,
                "the server is short of resources; try again later",
            ),
            Failure::AlreadyThere => (ErrorKind::Exists, "already exists"),
            Failure::FolderOverFile => (
                ErrorKind::Exists,
                "a file is there, and a folder never replaces a file",
            ),
            Failure::NoSuchFolder => (ErrorKind::NotFound, "its folder does not exist"),
            Failure::NotAFolder => (ErrorKind::Denied, "not a folder"),
            Failure::Changed => (ErrorKind::Busy, "changed while the server worked on it"),
            Failure::FolderAtDestination => {
                return Refusal::new(
                    ErrorKind::Exists,
                    format!(
                        "upload refused: {path} is a folder (to put a file inside it, end the remote path with /)"
                    ),
                );
            }
            Failure::FileAtDestination(size) => {
                return Refusal::new(
                    ErrorKind::Exists,
                    format!(
                        "upload refused: {path} already exists ({size} bytes); use --force to replace it"
                    ),
                );
            }
            Failure::NoRoom {
                available,
                reserve,
                needed,
            } => {
                return Refusal::new(
                    ErrorKind::NoSpace,
                    format!(
                        "upload refused: the server's disk has {} free ({} kept in reserve); {path} needs {} more",
                        shown_bytes(available),
                        shown_bytes(reserve),
                        shown_bytes(needed),
                    ),
                );
            }
            Failure::TooManyUnfinished(held) => {
                return Refusal::new(
                    ErrorKind::Denied,
                    format!(
                        "upload refused: you already have {held} unfinished uploads, the server's limit; finish them or let them expire"
                    ),
                );
            }
            Failure::Internal => {
                tracing::warn!(%path, error = %error.detail, "file system error");
                (ErrorKind::Internal, "server error")
            }
        };
        Refusal::new(kind, format!("{path}: {why}"))
    }

    /// A failure on the server's side; details go to the log, not to the client.
    pub fn internal(context: &str, error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "{context}");
        Refusal::new(ErrorKind::Internal, format!("server error: {context}"))
    }
}

/// `bytes` for people: exact below 1 KiB, else with one decimal and a binary unit.
fn shown_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

impl From<Refusal> for ServerMessage {
    /// The error frame that tells the client of a refusal.
    fn from(refusal: Refusal) -> Self {
        ServerMessage::Error {
            kind: refusal.kind,
            message: refusal.message,
        }
    }
}

/// Why a session ended early.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The connection failed or sent bytes that are not a frame.
    #[error("{0}")]
    Codec(CodecError),
    /// The peer closed the connection.
    #[error("peer closed the connection")]
    Closed,
    /// The peer did not prove the key within `startup_timeout`.
    #[error("handshake timed out: no key proof within {0:?}")]
    StartupTimeout(std::time::Duration),
    /// The peer did not send its login within `handshake_timeout` after the key proof.
    #[error("handshake timed out: no login within {0:?} of the key proof")]
    HandshakeTimeout(std::time::Duration),
    /// The login waited for a password check (other logins ahead of it) past
    /// `handshake_timeout`: the server is busy, not the peer slow.
    #[error("login not checked within {0:?}: logins queued")]
    LoginQueued(std::time::Duration),
    /// A login was checked but `handshake_timeout` passed before its answer went out (a
    /// failure's delay outlasted it): the password was checked, so it must not come again.
    #[error("login not answered within {0:?}")]
    LoginUnanswered(std::time::Duration),
    /// The peer stayed silent too long after login.
    #[error("idle timeout")]
    IdleTimeout,
    /// The peer broke the protocol or failed authentication; it is told why, then closed.
    #[error("{}", .0.message)]
    Fatal(Refusal),
}

impl From<CodecError> for SessionError {
    /// A peer that went away (see [`vanished`]) is [`SessionError::Closed`], whether a read or
    /// a write noticed; any other failure stays a codec error.
    fn from(error: CodecError) -> Self {
        match error {
            CodecError::Io(io) if vanished(&io) => SessionError::Closed,
            other => SessionError::Codec(other),
        }
    }
}

/// Whether an I/O error only says that the peer has gone: the stream ended without TLS
/// close_notify (how a command-line client usually exits, and what rustls words with a link
/// to its manual), or the peer reset the connection or stopped taking data. Logged in our own
/// words, at debug, like any other client that left.
pub fn vanished(error: &std::io::Error) -> bool {
    use std::io::ErrorKind as Io;
    matches!(
        error.kind(),
        Io::UnexpectedEof | Io::ConnectionReset | Io::ConnectionAborted | Io::BrokenPipe
    )
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
            SessionError::StartupTimeout(_) => Some(Refusal::new(
                ErrorKind::Protocol,
                "key proof not finished in time",
            )),
            SessionError::HandshakeTimeout(_) => Some(Refusal::new(
                ErrorKind::LoginTimedOut,
                "handshake and login not finished in time",
            )),
            SessionError::LoginUnanswered(_) => Some(Refusal::new(
                ErrorKind::Protocol,
                "handshake and login not finished in time",
            )),
            SessionError::LoginQueued(_) => Some(Refusal::new(
                ErrorKind::Unavailable,
                "server busy: logins queued, try again",
            )),
            SessionError::IdleTimeout => Some(Refusal::new(
                ErrorKind::Protocol,
                "closing an idle connection",
            )),
            SessionError::Fatal(refusal) => Some(refusal.clone()),
        }
    }
}

/// The session ends because the server is shutting down.
pub fn shutting_down() -> SessionError {
    SessionError::Fatal(Refusal::new(
        ErrorKind::Unavailable,
        "the server is shutting down; run the command again to resume",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_shown_in_binary_units() {
        assert_eq!(shown_bytes(7), "7 bytes");
        assert_eq!(shown_bytes(1536), "1.5 KiB");
        assert_eq!(shown_bytes(3 << 30), "3.0 GiB");
    }
}
