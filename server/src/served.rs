//! Checkpoints of files being downloaded, so a resumed `get` re-reads at most one checkpoint
//! interval of the file instead of everything before the client's offset.
//!
//! A reader seals its list when it stops (the download may still be lost in flight) into
//! `<root>/.ftpd-internal/checkpoints/`, named by a hash of the file's device, inode, size,
//! modification and change times: any change to the file changes its change time, so a list
//! never describes other contents. Files under 16 MiB have no checkpoints. Lists expire with
//! partial uploads (`partial_ttl`).
//!
//! A list that holds the state at the file's end knows the file's SHA-256: a download then
//! reads and sends without hashing, and the client's check of what it received is checked
//! against the hash the file had when the list was sealed. An upload leaves such a list for
//! the file it put in place (see [`record`]), so a file uploaded through the server is not
//! hashed again to be served.

use std::path::Path;
use std::sync::Arc;

use ftp_proto::checkpoint::{self, Checkpoint};
use ftp_proto::filestream::HashPlan;
use sha2::{Digest, Sha256};

use crate::jail::INTERNAL_DIR;

/// Folder of served files' lists, inside the internal folder.
const CHECKPOINTS: &str = "checkpoints";

/// Opens (creating when missing) the checkpoints folder beneath the root.
pub fn open_checkpoints(root: &cap_std::fs::Dir) -> std::io::Result<cap_std::fs::Dir> {
    let path = Path::new(INTERNAL_DIR).join(CHECKPOINTS);
    crate::modes::create_dir_all(root, &path, crate::modes::INTERNAL_DIR_MODE)?;
    root.open_dir(&path)
}

/// How the reader of `file`, sending from `offset`, hashes: from the best list an earlier
/// download of the same file, or its upload, sealed (not at all when that list knows the
/// whole file), sealing its own when it stops. Blocking.
pub fn hash_plan(folder: &Arc<cap_std::fs::Dir>, file: &std::fs::File, offset: u64) -> HashPlan {
    let Ok(meta) = file.metadata() else {
        return HashPlan::default();
    };
    let (binding, name) = list_for(&meta);
    crate::ledger::sealed_plan(folder, name, binding, &meta, offset, "download")
}

/// Records the hash state at the end of a file just put in place, `meta` describing it as it
/// is now, so its downloads hash nothing while it stays unchanged. Files under one checkpoint
/// interval are not recorded. Blocking.
pub fn record(folder: &cap_std::fs::Dir, meta: &std::fs::Metadata, end: Checkpoint) {
    if end.offset != meta.len() || end.offset < checkpoint::INTERVAL {
        return;
    }
    let (binding, name) = list_for(meta);
    let bytes = checkpoint::encode(&checkpoint::sealed_binding(&binding, meta), &[end]);
    crate::ledger::save_list(folder, &name, &bytes, "upload");
}

/// The binding and the file name of the list of the file described by `meta`.
fn list_for(meta: &std::fs::Metadata) -> ([u8; 32], String) {
    let mut binding = Sha256::new();
    binding.update(b"ftpd served\0");
    checkpoint::hash_identity(&mut binding, meta);
    let binding: [u8; 32] = binding.finalize().into();
    let name = format!("{}.ckpt", hex::encode(&binding[..16]));
    (binding, name)
}
