//! What can go wrong in a store, in the store's own terms: every store (the local disk, memory,
//! an object store) reports a [`Failure`], never an `io::Error` or an HTTP status, and
//! [`crate::error::Refusal::from_storage`] is the one place that turns it into the wire's
//! `ErrorKind` and the words the client sees. What an OS error means is told by [`errno`].
//! A leaf: it names no other module of the server.

pub mod errno;

use std::fmt;

/// Why a store could not do what was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Nothing is at the path.
    NotFound,
    /// A parent of the path is not a folder.
    ParentNotFolder,
    /// The path leads outside the home (a link out of it, another file system).
    OutsideHome,
    /// The store does not let the server do it (permissions on the server's side).
    PermissionDenied,
    /// The store is read-only.
    ReadOnly,
    /// Too many levels of links: a loop.
    LinkLoop,
    /// A name is too long for the store.
    NameTooLong,
    /// A name the store cannot hold.
    InvalidName,
    /// Something other than a folder is in the way, at the path or at a parent.
    InTheWay,
    /// A folder is in the way.
    FolderInTheWay,
    /// The folder is not empty.
    NotEmpty,
    /// What is there cannot be opened at all (a socket or a device).
    Unopenable,
    /// What is there is not a regular file: it is this (in words: "a FIFO", "a folder").
    NotRegular(&'static str),
    /// Too many links to one file.
    TooManyLinks,
    /// In use on the server.
    Busy,
    /// The store is full.
    NoSpace,
    /// The store's quota is exhausted.
    QuotaExhausted,
    /// The server is short of resources for now (file handles, memory).
    ShortOfResources,
    /// Something is at the destination, and replacing it was not asked for.
    AlreadyThere,
    /// A folder would replace a file (never done).
    FolderOverFile,
    /// The folder a destination would go in does not exist.
    NoSuchFolder,
    /// A path that must be a folder is not one.
    NotAFolder,
    /// What is there changed while it was being worked on.
    Changed,
    /// An upload's destination is a folder.
    FolderAtDestination,
    /// A file of this size is at an upload's destination, and replacing it was not asked for.
    FileAtDestination(u64),
    /// An upload does not fit: bytes `available`, of which `reserve` is kept free; `needed`
    /// more are wanted.
    NoRoom {
        /// Bytes free.
        available: u64,
        /// Bytes kept free.
        reserve: u64,
        /// Bytes the upload needs.
        needed: u64,
    },
    /// The user already keeps this many unfinished uploads nobody is writing, the limit.
    TooManyUnfinished(usize),
    /// Anything else: a fault of the store, told to the log, not to the client.
    Internal,
}

/// A store's failure, with what the log should know of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageError {
    /// What went wrong, in the store's terms.
    pub failure: Failure,
    /// The underlying error as text, for the log (an errno, an HTTP status); never sent.
    pub detail: String,
    /// Where it went wrong (as the client writes the path), when not at the path the call
    /// named (the destination of a rename).
    pub at: Option<String>,
}

impl StorageError {
    /// A failure with the detail the log gets.
    pub fn new(failure: Failure, detail: impl Into<String>) -> Self {
        StorageError {
            failure,
            detail: detail.into(),
            at: None,
        }
    }

    /// The same failure, which happened at `path`.
    pub fn at(self, path: &impl fmt::Display) -> Self {
        StorageError {
            at: Some(path.to_string()),
            ..self
        }
    }

    /// A failure with nothing more to say than itself.
    pub fn of(failure: Failure) -> Self {
        StorageError::new(failure, format!("{failure:?}"))
    }

    /// Nothing is at the path.
    pub fn is_not_found(&self) -> bool {
        self.failure == Failure::NotFound
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.failure, self.detail)
    }
}

impl std::error::Error for StorageError {}
