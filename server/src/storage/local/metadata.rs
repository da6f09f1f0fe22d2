//! Local file metadata as the wire describes it: type (never following a link), size,
//! modification time.

use std::time::UNIX_EPOCH;

use ftp_proto::{DirEntry, EntryKind};

/// Modification time in seconds since the epoch (0 when unknown).
pub fn modified_secs(meta: &cap_std::fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .map(|t| t.into_std())
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Nanoseconds within the second of [`modified_secs`] (0 when unknown).
pub fn modified_nanos(meta: &cap_std::fs::Metadata) -> u32 {
    meta.modified()
        .ok()
        .map(|t| t.into_std())
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.subsec_nanos())
}

/// A listing entry from file metadata (not following links): each type as what it is, so a
/// FIFO, socket or device is never shown (or opened) as a file.
pub fn entry(name: String, meta: &cap_std::fs::Metadata) -> DirEntry {
    use cap_std::fs::FileTypeExt;
    let kind = meta.file_type();
    let kind = if kind.is_symlink() {
        EntryKind::Symlink
    } else if kind.is_dir() {
        EntryKind::Dir
    } else if kind.is_fifo() {
        EntryKind::Fifo
    } else if kind.is_socket() {
        EntryKind::Socket
    } else if kind.is_block_device() {
        EntryKind::BlockDevice
    } else if kind.is_char_device() {
        EntryKind::CharDevice
    } else {
        EntryKind::File
    };
    DirEntry {
        name,
        kind,
        size: if matches!(kind, EntryKind::File | EntryKind::Symlink) {
            meta.len()
        } else {
            0
        },
        modified: modified_secs(meta),
    }
}
