//! What a partial download was a part of: the remote path, size and modification time the
//! server gave when the `.part` was started, so a resume of a file that changed since starts
//! over instead of appending new data to old (and failing the check at the end).
//!
//! The record lives in the client's cache folder, beside the checkpoint lists (see
//! [`crate::checkpoints`]), named by a hash of the part's canonical path, device and inode: a
//! part deleted and created again, or moved, has no record. A record in the cache rather than
//! an extended attribute on the part works on every file system (tmpfs, NFS, FAT do not all
//! keep user xattrs) and never touches the user's folder. A part without a record (written by
//! an older client, or with no cache folder) is resumed as before: the SHA-256 check at the
//! end still guards it. A record is removed when its download finishes or is discarded.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::checkpoints;

/// The remote file a part holds the start of.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RemoteIdentity {
    /// The remote path as asked for.
    pub remote: String,
    /// Its size.
    pub size: u64,
    /// Its modification time, seconds since the epoch.
    pub modified: i64,
}

/// Where the record of one part is kept.
#[derive(Debug, Clone)]
pub struct Record {
    /// The record's file.
    path: PathBuf,
}

impl Record {
    /// The record for the part `part` with device and inode `id`; `None` without a cache
    /// folder.
    pub fn for_part(part: &Path, id: (u64, u64)) -> Option<Record> {
        let folder = checkpoints::cache_dir()?;
        let mut binding = Sha256::new();
        binding.update(b"ftp partial download\0");
        binding.update(
            std::fs::canonicalize(part)
                .ok()?
                .as_os_str()
                .as_encoded_bytes(),
        );
        binding.update(id.0.to_be_bytes());
        binding.update(id.1.to_be_bytes());
        let name = format!("{}.remote", hex::encode(&binding.finalize()[..16]));
        Some(Record {
            path: folder.join(name),
        })
    }

    /// The identity saved for the part, if any.
    pub fn load(&self) -> Option<RemoteIdentity> {
        serde_json::from_slice(&checkpoints::read(&self.path)?).ok()
    }

    /// Saves the identity (best effort).
    pub fn save(&self, identity: &RemoteIdentity) {
        if let Ok(bytes) = serde_json::to_vec(identity) {
            checkpoints::save(&self.path, &bytes);
        }
    }

    /// Removes the record.
    pub fn forget(&self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
