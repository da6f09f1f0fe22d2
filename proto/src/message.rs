//! The two message enums: what a client may send and what a server may answer.
//!
//! Every variant is struct-like with named fields. `Hello` is the first variant of each enum and
//! its fields never change, so peers of different protocol versions can always read each other's
//! version and report a mismatch by name. Anything that would change the bytes of another variant
//! bumps [`crate::PROTOCOL_VERSION`].

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::handshake::{Nonce, Proof};
use crate::secret::Password;

/// Messages sent by the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientMessage {
    /// Answer to the server's hello: the client's version, its nonce, and its proof of the key.
    Hello {
        /// Protocol version the client speaks.
        version: u32,
        /// Fresh random nonce from the client.
        nonce: Nonce,
        /// HMAC-SHA256(key, "client" | TLS channel binding | server nonce | client nonce): see
        /// [`crate::handshake::client_proof`].
        proof: Proof,
    },
    /// Log in as a stored user.
    Login {
        /// User name.
        user: String,
        /// Password, checked against the stored argon2id hash.
        password: Password,
    },
    /// List a folder (or describe a single file) under the user's home.
    List {
        /// Remote path, relative to the home; "" or "/" is the home itself.
        path: String,
    },
    /// End the session politely.
    Quit {},
    /// Start (or resume) an upload. The server answers `PutReady`, `PutExisting` or an error.
    Put(PutRequest),
    /// File data at `offset`; chunks follow `PutReady` back to back, unanswered.
    Chunk {
        /// Position of the first byte; must equal the bytes received so far.
        offset: u64,
        /// The bytes (at most [`crate::MAX_CHUNK_LEN`]).
        data: Bytes,
    },
    /// All data sent: the SHA-256 of the whole local file.
    PutFinish {
        /// SHA-256 of the whole file.
        sha256: [u8; 32],
    },
    /// Abandon the upload in progress (after `PutExisting`); the partial is kept.
    PutCancel {},
    /// After `PutExisting` to a `Put` with `force`: the client found the content different and
    /// asks for it to be replaced. The server answers as it would a forced upload that found
    /// nothing to compare: `PutReady { offset }` (resuming a matching partial) or an error.
    /// Only valid right after `PutExisting` for a `Put` with `force`; anything else closes the
    /// connection.
    PutReplace {},
    /// Download a file, resuming after the `offset` bytes the client already holds.
    Get {
        /// Remote path of the file.
        path: String,
        /// Bytes the client already has (the length of its `.part` file).
        offset: u64,
        /// The pace the client wants the data at (`--limit-rate`), bytes per second, or `None`
        /// for as fast as it goes. The server then paces its sending (see [`crate::pace`]), at
        /// least at its own minimum transfer rate, in frames of an eighth of a second's worth:
        /// the data leaves at the pace instead of piling up in socket buffers.
        limit_rate: Option<u64>,
    },
    /// Describe one path: type, size, modification time, and SHA-256 for a file.
    Stat {
        /// Remote path.
        path: String,
    },
    /// Remove a file, a symbolic link or an empty folder.
    Remove {
        /// Remote path.
        path: String,
    },
    /// Create a folder and any missing parents.
    MakeDir {
        /// Remote path.
        path: String,
    },
    /// Rename a file, link or folder within the home, atomically (answered with `Renamed`).
    /// A `to` ending in `/` or naming an existing folder means inside it, under `from`'s name.
    Rename {
        /// Remote path to move.
        from: String,
        /// Where to move it.
        to: String,
        /// Replace an existing file at `to` (never a folder).
        force: bool,
    },
    /// Upload a small file whole, in one message, with no `PutReady` to wait for: a client may
    /// send many before reading the answers, which come in order (`PutDone`, `PutExisting` when
    /// identical content is already there, or `Error`). The server makes the files of a burst
    /// durable together before it answers.
    PutWhole(WholeRequest),
    /// List the user's unfinished uploads (answered with `PartialList`).
    Partials {},
    /// Drop the user's unfinished upload to `path` (answered with `Done`; `Busy` while an
    /// upload is writing it).
    RemovePartial {
        /// Remote path the upload was going to.
        path: String,
    },
    /// List a whole folder tree beneath `path` (answered with `TreeBatch` frames, the last one
    /// marked; or an error, `Denied` when `path` is not a folder). In the order of coreutils
    /// `ls -R`: the listed folder's entries first, all together in byte order, then each
    /// subfolder's entries likewise, depth first (pre-order), subfolders in that byte order.
    /// So a folder's entry comes before what it holds, and each folder's entries are
    /// contiguous (an empty folder has none). Links are listed, never followed; the listed
    /// folder itself is not an entry.
    ListTree {
        /// Remote folder, relative to the home; "" or "/" is the home itself.
        path: String,
        /// Give each regular file's SHA-256 too (the server's stored hash, else computed).
        sha256: bool,
    },
    /// Remove a folder and everything in it (answered with `Removed`). Links inside are
    /// removed, never followed; the home itself is refused.
    RemoveTree {
        /// Remote path (a file or link is removed as `Remove` would).
        path: String,
    },
    /// The user's storage: what is used and the limits (answered with `DiskUsage`).
    DiskUsage {},
    /// Answer to the server's hello from a client holding a named key (`ftpd key add`): as
    /// `Hello`, plus the key's name, so the server knows which key to check the proof with.
    /// A plain `Hello` means the key named `default` (the shared `ftpd.key`). Appended after
    /// `DiskUsage`, so no earlier variant's bytes changed.
    KeyHello {
        /// Protocol version the client speaks.
        version: u32,
        /// The key's name (as `ftpd key add` gave it; at most 64 bytes).
        key: String,
        /// Fresh random nonce from the client.
        nonce: Nonce,
        /// HMAC-SHA256(named key, "client" | TLS channel binding | server nonce | client
        /// nonce), as in `Hello`.
        proof: Proof,
    },
}

/// What identifies a local file for resuming: its size and modification time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileIdentity {
    /// Size in bytes.
    pub size: u64,
    /// Modification time, seconds since the Unix epoch.
    pub modified_secs: i64,
    /// Nanoseconds within that second.
    pub modified_nanos: u32,
}

/// A `Put` request, carried as it is from the wire to the server's handler. A variant holding
/// a struct is encoded as a struct variant with the same fields is: the same bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PutRequest {
    /// Remote path of the file; missing parent folders are created.
    pub path: String,
    /// Identity of the local file; with the user and path it names the partial upload.
    pub file: FileIdentity,
    /// Replace an existing file.
    pub force: bool,
    /// Random per-command id: a reconnecting retry of the same command may take over a
    /// lock its own dead connection still holds; anyone else gets "busy".
    pub upload_id: [u8; 16],
}

/// A `PutWhole` request: a small file whole, with its identity and digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WholeRequest {
    /// Remote path.
    pub path: String,
    /// The local file's identity (its size is `data`'s length).
    pub file: FileIdentity,
    /// Replace an existing remote file.
    pub force: bool,
    /// The command's id.
    pub upload_id: [u8; 16],
    /// The whole content, at most [`crate::MAX_CHUNK_LEN`] bytes.
    pub data: Bytes,
    /// SHA-256 of `data`.
    pub sha256: [u8; 32],
}

/// Messages sent by the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServerMessage {
    /// First message on every connection: the server's version and nonce.
    Hello {
        /// Protocol version the server speaks.
        version: u32,
        /// Fresh random nonce from the server.
        nonce: Nonce,
    },
    /// The server's proof that it holds the key: HMAC-SHA256(key, "server" | TLS channel
    /// binding | client nonce | server nonce): see [`crate::handshake::server_proof`].
    Proof {
        /// The proof.
        proof: Proof,
    },
    /// Login accepted.
    Welcome {
        /// The user now logged in.
        user: String,
        /// Whether this user may only list, stat and download.
        read_only: bool,
        /// The server's minimum transfer rate (`min_transfer_rate`), in bytes per second: a
        /// transfer that falls below it is cut. 0: none. A client refuses a `--limit-rate`
        /// below it before it sends or asks for any data.
        min_transfer_rate: u64,
    },
    /// One batch of a listing; `last` marks the final batch.
    Listing {
        /// Entries of this batch, sorted by name across the whole listing.
        entries: Vec<DirEntry>,
        /// True on the final batch.
        last: bool,
    },
    /// The request failed; `kind` says how, `message` says why in words for a person.
    Error {
        /// Machine-readable class of the failure.
        kind: ErrorKind,
        /// Human-readable explanation.
        message: String,
    },
    /// Send chunks from `offset`: the bytes before it are already on the server.
    PutReady {
        /// Bytes already held for this user, path and file identity.
        offset: u64,
    },
    /// A regular file of the same size is already there: its SHA-256, so the client can tell
    /// identical content (done, answered with `PutCancel`) from a conflict (`PutCancel`, or
    /// with `force` asked, `PutReplace` to replace it). To a `PutWhole`, it means identical
    /// content (or, without `force`, a conflict) and nothing more is asked.
    PutExisting {
        /// SHA-256 of the file in place.
        sha256: [u8; 32],
    },
    /// The upload is verified and visible under its final name.
    PutDone {
        /// Its size.
        size: u64,
        /// Its SHA-256, as computed by the server.
        sha256: [u8; 32],
    },
    /// A download starts: `Data` frames from `offset` follow, then `GetDone`.
    GetReady {
        /// Size of the file.
        size: u64,
        /// Its modification time, seconds since the Unix epoch.
        modified: i64,
        /// Nanoseconds within that second.
        modified_nanos: u32,
        /// Where the data starts: the client's offset, or 0 if that was past the end.
        offset: u64,
    },
    /// File data at `offset`, sent back to back.
    Data {
        /// Position of the first byte.
        offset: u64,
        /// The bytes (at most [`crate::MAX_CHUNK_LEN`]).
        data: Bytes,
    },
    /// All data sent: the SHA-256 of the whole file (including the bytes before `offset`).
    GetDone {
        /// SHA-256 of the whole file.
        sha256: [u8; 32],
    },
    /// Answer to `Stat`.
    StatInfo {
        /// The path's entry (its name is the last component, or "" for the home).
        entry: DirEntry,
        /// SHA-256 of the content, for a regular file.
        sha256: Option<[u8; 32]>,
    },
    /// A `Remove` or `MakeDir` succeeded.
    Done {
        /// False when `MakeDir` found the folder already there.
        changed: bool,
    },
    /// Answer to `Partials`: the user's unfinished uploads.
    PartialList {
        /// One per partial, by remote path.
        partials: Vec<PartialInfo>,
    },
    /// A `Rename` succeeded: the paths as the server resolved them.
    Renamed {
        /// The path moved.
        from: String,
        /// Where it is now.
        to: String,
    },
    /// One batch of a `ListTree` answer; `last` marks the final batch.
    TreeBatch {
        /// Entries of this batch, in the order the request describes.
        entries: Vec<TreeEntry>,
        /// True on the final batch.
        last: bool,
    },
    /// A `RemoveTree` succeeded: how much it removed.
    Removed {
        /// Files, links and other non-folders removed.
        files: u64,
        /// Folders removed, the one named included.
        folders: u64,
    },
    /// Answer to `DiskUsage`.
    DiskUsage(UsageInfo),
}

/// A user's storage as the server counts it for the quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageInfo {
    /// Bytes stored: the files in the home plus what unfinished uploads hold.
    pub used_bytes: u64,
    /// Files (and links) in the home.
    pub used_files: u64,
    /// Of `used_bytes`, what unfinished uploads hold.
    pub partial_bytes: u64,
    /// The user's quota in bytes, if any.
    pub quota_bytes: Option<u64>,
    /// The most files the user may store, if limited.
    pub max_files: Option<u64>,
}

/// One name in a tree listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeEntry {
    /// Path relative to the listed folder, components joined with `/` (never empty, `.` or
    /// `..`).
    pub path: String,
    /// File, folder, symbolic link or other.
    pub kind: EntryKind,
    /// Size in bytes (0 for folders).
    pub size: u64,
    /// Modification time, seconds since the Unix epoch.
    pub modified_secs: i64,
    /// Nanoseconds within that second.
    pub modified_nanos: u32,
    /// SHA-256 of a regular file's content, when asked for.
    pub sha256: Option<[u8; 32]>,
}

/// One unfinished upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartialInfo {
    /// Remote path the upload is going to.
    pub path: String,
    /// The file's declared size.
    pub size: u64,
    /// Bytes the server holds of it.
    pub held: u64,
    /// Seconds since it was last written.
    pub age_secs: u64,
}

/// One name in a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirEntry {
    /// File name (one path component).
    pub name: String,
    /// File, folder or symbolic link.
    pub kind: EntryKind,
    /// Size in bytes (0 for folders).
    pub size: u64,
    /// Modification time, seconds since the Unix epoch.
    pub modified: i64,
}

/// What a listed name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A folder.
    Dir,
    /// A symbolic link (not followed).
    Symlink,
    /// A named pipe (FIFO): shown, never opened.
    Fifo,
    /// A Unix domain socket: shown, never opened.
    Socket,
    /// A block device: shown, never opened.
    BlockDevice,
    /// A character device: shown, never opened.
    CharDevice,
}

/// Class of a failure reported by the server; the client maps each to its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorKind {
    /// The peer broke the protocol (bad frame, message out of order).
    Protocol,
    /// The peers speak different protocol versions.
    Version,
    /// The client's shared-key proof was wrong.
    BadKey,
    /// Unknown user or wrong password (deliberately not told apart).
    LoginFailed,
    /// Too many failed logins on this connection or from this address.
    TooManyAttempts,
    /// The remote path is not acceptable (escapes the home, bad characters, too long).
    InvalidPath,
    /// The remote path does not exist.
    NotFound,
    /// The user may not do this (read-only user, wrong kind of file).
    Denied,
    /// The resource is in use, or the server is at capacity.
    Busy,
    /// The target already exists.
    Exists,
    /// A checksum did not match.
    Integrity,
    /// The server failed on its side.
    Internal,
    /// The server is shutting down or cannot serve now; trying again later may work.
    Unavailable,
    /// The server's disk is full; what was received is kept for a later resume.
    NoSpace,
    /// The server stopped waiting for the login before one arrived: nothing sent after this
    /// was read (a typed password may go again over a new connection).
    LoginTimedOut,
    /// The upload does not fit in the user's quota (bytes or files): refused before any data.
    Quota,
    /// The user already has as many sessions open as the account allows.
    TooManySessions,
}

impl ErrorKind {
    /// Whether this failure is about authentication (key, user or password).
    pub fn is_authentication(self) -> bool {
        matches!(
            self,
            ErrorKind::BadKey | ErrorKind::LoginFailed | ErrorKind::TooManyAttempts
        )
    }

    /// Whether reconnecting later may succeed (the server is going away or restarting).
    pub fn is_transient(self) -> bool {
        matches!(self, ErrorKind::Unavailable)
    }

    /// Whether this failure is about the remote path (rejected, missing, busy, already exists)
    /// or over one of the user's limits (quota, sessions).
    pub fn is_remote_path(self) -> bool {
        matches!(
            self,
            ErrorKind::InvalidPath
                | ErrorKind::NotFound
                | ErrorKind::Denied
                | ErrorKind::Busy
                | ErrorKind::Exists
                | ErrorKind::Quota
                | ErrorKind::TooManySessions
        )
    }
}
