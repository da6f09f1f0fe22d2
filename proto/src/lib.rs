//! The wire protocol shared by `ftpd` and `ftp`, and (in [`files`], apart from it) the local
//! file machinery both sides stream through.
//!
//! Layers, from the bytes up:
//! - [`codec`]: one frame = a 4-byte big-endian length and a bincode payload; frame length and
//!   bincode allocations are bounded so no input can make the receiver allocate without limit.
//! - [`message`]: the two message enums, [`ClientMessage`] and [`ServerMessage`].
//! - [`handshake`]: nonces and the mutual HMAC-SHA256 proofs that run before any login.
//! - [`secret`]: the shared key and passwords, in types that never print their contents.
//! - [`file_frames`]: file data written to the connection without copying it into the frame
//!   buffer.
//! - [`pace`]: `--limit-rate`'s pacing and chunk size, the same on both sides.
//!
//! Apart from the wire, [`files`] holds the local file machinery both sides stream through:
//! the hashing reader and writer threads, the appender (direct I/O, else write-behind), the
//! buffer pool, checkpoints, and private files.
//! - `cli_docs` (feature `cli-docs`, for the two binaries only): `completions` and `man`
//!   generated from a binary's clap command.
//! - [`tls`]: what both sides agree on about TLS (provider, fingerprints, exporter label), and
//!   [`transport`]: the stream a session runs over, TLS or (asked for explicitly) plain TCP.
//!
//! This crate opens no socket of its own: the codec plugs into `tokio_util::codec::Framed` over
//! any `AsyncRead + AsyncWrite`, and [`transport::Stream`] is what both sides frame.

#[cfg(feature = "cli-docs")]
pub mod cli_docs;
pub mod codec;
pub mod error;
pub mod file_frames;
pub mod files;
pub mod handshake;
pub mod message;
pub mod pace;
pub mod secret;
pub mod tls;
pub mod transport;
pub mod units;

pub use codec::{ClientCodec, FILE_DATA_MARK, FrameMessage, MessageCodec, ServerCodec};
pub use error::{CodecError, KeyError};
pub use message::{
    ClientMessage, DirEntry, EntryKind, ErrorKind, FileIdentity, PartialInfo, PutRequest,
    ServerMessage, TreeEntry, UsageInfo, WholeRequest,
};
pub use secret::{DEFAULT_KEY_NAME, Password, SharedKey};

/// Protocol version carried in the first message of each side; bumped on any wire change
/// (3: the key proofs include the TLS channel binding; 4: listings name FIFOs, sockets and
/// devices, which a version-3 peer could not decode; 5: `Welcome` names the server's minimum
/// transfer rate and `Get` the pace the client wants; 6: a `Put` with `force` onto a file of the
/// same size is answered `PutExisting` too, and the client's `PutReplace` asks for the
/// replacement once it found the content different; 7: modification times to the nanosecond;
/// 8: `Rename`, answered `Renamed`; 9: `ListTree` answered in `TreeBatch`es, and `RemoveTree`
/// answered `Removed`; 10: file data in frames of their own kind, marked by their first byte,
/// instead of told by their variant index; 11: `KeyHello` names the client's key, `DiskUsage` asks
/// for the user's storage and limits, and refusals may be `Quota` or `TooManySessions`).
pub const PROTOCOL_VERSION: u32 = 11;

/// Largest payload of file data one frame may carry (used by transfers).
pub const MAX_CHUNK_LEN: usize = 1 << 20;

/// Smallest file-data frame a paced transfer (`--limit-rate`) uses: small enough that a slow
/// pace is smooth, large enough that the frame and TLS overhead stays small.
pub const MIN_CHUNK_LEN: usize = 4 << 10;

/// Largest frame either side accepts: one chunk of data plus room for the message header.
pub const MAX_FRAME_LEN: usize = MAX_CHUNK_LEN + 64 * 1024;

/// Longest password either side accepts; longer ones are refused before any hashing.
pub const MAX_PASSWORD_LEN: usize = 1024;

/// Default TCP port of `ftpd`.
pub const DEFAULT_PORT: u16 = 2121;
