//! Client errors and the one place they become exit codes:
//! 0 success, 2 usage, 3 authentication, 4 remote path rejected/missing/busy/exists or over a
//! server limit,
//! 5 connection failed or lost, 6 integrity, 7 server identity changed or not verified,
//! 130 stopped by Ctrl-C or SIGTERM (see [`crate::interrupt`]), 1 anything else.

use ftp_proto::units::exact_bytes;
use ftp_proto::{CodecError, ErrorKind, KeyError};

/// Exit code of a command stopped by a signal: 128 + SIGINT, as shells report.
pub const INTERRUPTED_EXIT_CODE: u8 = 130;

/// Everything that can go wrong in the client.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The command line or environment is incomplete or inconsistent.
    #[error("{0}")]
    Usage(String),
    /// The shared key file is unusable.
    #[error("shared key: {0}")]
    Key(#[from] KeyError),
    /// A local file could not be read.
    #[error("{context}: {}", os_words(source))]
    Local {
        /// What was being done.
        context: String,
        /// What the OS said.
        source: std::io::Error,
    },
    /// No connection could be made.
    #[error("cannot connect to {server}: {reason}")]
    Connect {
        /// The server address.
        server: String,
        /// Why.
        reason: String,
    },
    /// The server does not speak TLS (it may run with `--insecure-plaintext`); retrying cannot
    /// help.
    #[error("cannot connect to {server}: {reason}")]
    NotTls {
        /// The server address.
        server: String,
        /// What happened.
        reason: String,
    },
    /// The server's certificate is not the one pinned, recorded or issued by the CA: nothing
    /// was sent to it.
    #[error("{0}")]
    ServerIdentity(String),
    /// The connection broke or the server went silent.
    #[error("connection to the server lost: {0}")]
    Connection(String),
    /// The server speaks another protocol version.
    #[error(
        "protocol version mismatch: server speaks version {server}, this client speaks version {client}"
    )]
    Version {
        /// Server's version.
        server: u32,
        /// Ours.
        client: u32,
    },
    /// The server failed to prove it holds the shared key.
    #[error(
        "authentication failed: the server did not prove it holds the shared key (wrong server, or wrong --secret-file)"
    )]
    ServerNotVerified,
    /// The server answered with something that does not fit the protocol.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// Some files of a multi-file command failed (each was reported as it happened).
    #[error("{failed} of {total} transfers failed")]
    Several {
        /// How many failed.
        failed: usize,
        /// How many there were.
        total: usize,
        /// Exit code of the first failure.
        code: u8,
    },
    /// Ctrl-C or SIGTERM stopped the command; says what was kept and how to resume.
    #[error("interrupted: {0}")]
    Interrupted(String),
    /// A `--limit-rate` below the server's minimum transfer rate: the server would cut the
    /// transfer, so it is refused before anything is sent or asked for.
    #[error(
        "--limit-rate {}/s is below this server's minimum transfer rate of {}/s (its \
         min_transfer_rate); use at least {}/s",
        exact_bytes(*rate),
        exact_bytes(*floor),
        exact_bytes(*floor)
    )]
    BelowServerFloor {
        /// The rate asked for, bytes per second.
        rate: u64,
        /// The server's floor, bytes per second.
        floor: u64,
    },
    /// The server refused the request.
    #[error("{message}")]
    Remote {
        /// Class of the refusal.
        kind: ErrorKind,
        /// The server's explanation.
        message: String,
    },
}

impl ClientError {
    /// A transfer stopped by a signal, before anyone said what it kept.
    pub fn interrupted() -> ClientError {
        ClientError::Interrupted(
            "the transfer stopped before it finished; run the same command to resume".into(),
        )
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            ClientError::Usage(_) => 2,
            ClientError::Several { code, .. } => *code,
            ClientError::ServerNotVerified => 3,
            ClientError::Remote { kind, .. } if kind.is_authentication() => 3,
            ClientError::Remote { kind, .. } if kind.is_remote_path() => 4,
            ClientError::BelowServerFloor { .. } => 4,
            ClientError::Remote {
                kind: ErrorKind::Integrity,
                ..
            } => 6,
            ClientError::Connect { .. }
            | ClientError::Connection(_)
            | ClientError::NotTls { .. } => 5,
            ClientError::ServerIdentity(_) => 7,
            ClientError::Interrupted(_) => INTERRUPTED_EXIT_CODE,
            ClientError::Remote { .. }
            | ClientError::Key(_)
            | ClientError::Local { .. }
            | ClientError::Version { .. }
            | ClientError::Protocol(_) => 1,
        }
    }
}

/// What the OS said, in words for a person: the common failures named plainly, anything else
/// as the OS words it, without its "(os error N)" code; an error of the client's own making
/// keeps its words.
pub fn os_words(error: &std::io::Error) -> String {
    use std::io::ErrorKind;
    if error.raw_os_error().is_none() {
        return error.to_string();
    }
    let plain = match error.kind() {
        ErrorKind::NotFound => "no such file or folder",
        ErrorKind::PermissionDenied => "permission denied",
        ErrorKind::AlreadyExists => "something is already there",
        ErrorKind::NotADirectory => "a part of the path is not a folder",
        ErrorKind::IsADirectory => "it is a folder",
        ErrorKind::StorageFull => "the disk is full",
        ErrorKind::QuotaExceeded => "the disk quota is exhausted",
        ErrorKind::ReadOnlyFilesystem => "the file system is read-only",
        _ => "",
    };
    if !plain.is_empty() {
        return plain.to_owned();
    }
    let text = error.to_string();
    match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => text[..at].to_owned(),
        _ => text,
    }
}

impl From<CodecError> for ClientError {
    /// A lost connection is told in our words: a server that went away is not worth rustls's
    /// note on close_notify and its link.
    fn from(error: CodecError) -> Self {
        use std::io::ErrorKind as Io;
        match error {
            CodecError::Io(e) => ClientError::Connection(match e.kind() {
                Io::UnexpectedEof | Io::BrokenPipe => "the server closed the connection".into(),
                Io::ConnectionReset | Io::ConnectionAborted => {
                    "the server reset the connection".into()
                }
                _ => e.to_string(),
            }),
            other => ClientError::Protocol(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn os_errors_are_told_in_words_without_their_codes() {
        let missing = std::io::Error::from_raw_os_error(2);
        assert_eq!(os_words(&missing), "no such file or folder");
        let local = ClientError::Local {
            context: "cannot read a.bin".into(),
            source: std::io::Error::from_raw_os_error(13),
        };
        assert_eq!(local.to_string(), "cannot read a.bin: permission denied");
        // Rarer ones keep the OS's words, less the code.
        let busy = os_words(&std::io::Error::from_raw_os_error(26));
        assert!(!busy.contains("os error") && !busy.is_empty(), "{busy}");
        assert_eq!(os_words(&std::io::Error::other("odd")), "odd");
        let own = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "mode 0644");
        assert_eq!(os_words(&own), "mode 0644");
    }

    use super::*;

    #[test]
    fn a_server_that_went_away_is_told_in_our_words() {
        let eof = std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "peer closed connection without sending TLS close_notify: https://docs.rs/rustls",
        );
        let error = ClientError::from(CodecError::Io(eof));
        assert_eq!(
            error.to_string(),
            "connection to the server lost: the server closed the connection"
        );
        assert_eq!(error.exit_code(), 5);
    }

    #[test]
    fn exit_codes_follow_the_contract() {
        let remote = |kind| ClientError::Remote {
            kind,
            message: String::new(),
        };
        assert_eq!(ClientError::Usage(String::new()).exit_code(), 2);
        assert_eq!(remote(ErrorKind::LoginFailed).exit_code(), 3);
        assert_eq!(remote(ErrorKind::BadKey).exit_code(), 3);
        assert_eq!(remote(ErrorKind::TooManyAttempts).exit_code(), 3);
        assert_eq!(ClientError::ServerNotVerified.exit_code(), 3);
        for kind in [
            ErrorKind::InvalidPath,
            ErrorKind::NotFound,
            ErrorKind::Denied,
            ErrorKind::Busy,
            ErrorKind::Exists,
        ] {
            assert_eq!(remote(kind).exit_code(), 4, "{kind:?}");
        }
        let below = ClientError::BelowServerFloor {
            rate: 512,
            floor: 1024,
        };
        assert_eq!(below.exit_code(), 4, "over a limit of the server's");
        assert_eq!(
            below.to_string(),
            "--limit-rate 512 B/s is below this server's minimum transfer rate of 1 KiB/s \
             (its min_transfer_rate); use at least 1 KiB/s"
        );
        assert_eq!(ClientError::Connection(String::new()).exit_code(), 5);
        assert_eq!(remote(ErrorKind::Integrity).exit_code(), 6);
        assert_eq!(ClientError::ServerIdentity(String::new()).exit_code(), 7);
        let not_tls = ClientError::NotTls {
            server: String::new(),
            reason: String::new(),
        };
        assert_eq!(not_tls.exit_code(), 5);
        assert_eq!(ClientError::interrupted().exit_code(), 130);
        assert_eq!(remote(ErrorKind::Internal).exit_code(), 1);
        assert_eq!(remote(ErrorKind::Protocol).exit_code(), 1);
        assert_eq!(remote(ErrorKind::NoSpace).exit_code(), 1);
        assert_eq!(remote(ErrorKind::Unavailable).exit_code(), 1);
    }
}
