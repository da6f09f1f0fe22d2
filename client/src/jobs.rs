//! The shared job and result types of transfers: what one file's upload or download is
//! ([`PutJob`], [`GetJob`]), what one attempt asks for ([`PutPlan`], [`GetPlan`]) and does
//! ([`Report`]), and what all attempts add up to ([`Tally`], [`Outcome`]). A leaf: the
//! commands, the retries, the single attempts and the output all use it, and it uses none.

use std::path::{Path, PathBuf};

/// One file to upload.
#[derive(Debug, Clone)]
pub struct PutJob {
    /// Local file.
    pub local: PathBuf,
    /// Remote path.
    pub remote: String,
    /// Its size (for the progress total).
    pub size: u64,
}

/// One file to download.
#[derive(Debug, Clone)]
pub struct GetJob {
    /// Remote path.
    pub remote: String,
    /// Final local path (data goes to its `.part` first).
    pub local: PathBuf,
    /// Sync the data to disk before it is renamed into place.
    pub durable: bool,
}

/// A finished transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// File size.
    pub size: u64,
    /// Bytes moved by this command (sent for a put, received for a get).
    pub sent: u64,
    /// Offset the command started at.
    pub resumed_from: u64,
    /// SHA-256 of the file.
    pub sha256: [u8; 32],
    /// The same content was already in place.
    pub identical: bool,
    /// The local file's SHA-256 came from the client's cache: the file was not read to know it.
    pub hashed_from_cache: bool,
}

/// What the attempts of one transfer add up to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Bytes moved by this command over all attempts (sent for a put, received for a get).
    pub sent: u64,
    /// Offset the first attempt started at.
    pub resumed_from: Option<u64>,
    /// The successful attempt took the local file's SHA-256 from the client's cache.
    pub hashed_from_cache: bool,
}

/// What one successful attempt did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// File size.
    pub size: u64,
    /// Offset this attempt resumed from.
    pub offset: u64,
    /// SHA-256 of the file, as both sides computed it.
    pub sha256: [u8; 32],
    /// The same content was already in place; nothing was sent.
    pub identical: bool,
}

/// What one download asks for.
#[derive(Debug, Clone)]
pub struct GetPlan<'a> {
    /// Remote path.
    pub remote: &'a str,
    /// Final local path.
    pub local: &'a Path,
    /// Sync the data (writeback starts as it arrives) before the rename.
    pub durable: bool,
    /// Replace an existing `local` (else it is only compared).
    pub force: bool,
}

/// What one upload asks for.
#[derive(Debug, Clone)]
pub struct PutPlan<'a> {
    /// Local file.
    pub local: &'a Path,
    /// Remote path.
    pub remote: &'a str,
    /// Replace an existing remote file.
    pub force: bool,
    /// The command's id (the same across reconnects).
    pub upload_id: [u8; 16],
}
