//! Errors of the protocol layer: framing and decoding failures, and shared-key problems.

use std::path::PathBuf;

/// A frame could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The underlying stream failed.
    #[error("connection error: {0}")]
    Io(#[from] std::io::Error),
    /// The peer announced a frame longer than the limit.
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    FrameTooLarge {
        /// Length the peer announced.
        len: usize,
        /// Largest length this side accepts.
        max: usize,
    },
    /// The frame's payload is not a valid message.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// A message could not be encoded (a bug, or a message over the frame limit).
    #[error("cannot encode message: {0}")]
    Encode(String),
}

/// The shared key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The key file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// Group or others may read the file.
    #[error(
        "{path} can be read by group or others (mode {mode:04o}); run `chmod 600 {path}`",
        path = path.display()
    )]
    Exposed {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file does not hold a key in the expected format.
    #[error("{path}: not a key file (expected {expected} hex digits on one line)", path = path.display())]
    Format {
        /// The key file.
        path: PathBuf,
        /// How many hex digits a key has.
        expected: usize,
    },
    /// The operating system's random generator failed.
    #[error("cannot get random bytes from the OS: {0}")]
    Random(String),
    /// A key file is already there and overwriting was not asked for.
    #[error("{path} already exists (use --force to replace it)", path = path.display())]
    Exists {
        /// The key file.
        path: PathBuf,
    },
}
