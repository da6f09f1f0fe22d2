//! Checkpoints of files being downloaded, so a resumed `get` re-reads at most one checkpoint
//! interval of the file instead of everything before the client's offset.
//!
//! A reader seals its list when it stops (the download may still be lost in flight) into
//! `<root>/.ftpd-internal/checkpoints/`, named by a hash of the file's device, inode, size,
//! modification and change times: any change to the file changes its change time, so a list
//! never describes other contents. Files under 16 MiB have no checkpoints. Lists expire with
//! partial uploads (`partial_ttl`).

use std::path::Path;
use std::sync::Arc;

use ftp_proto::checkpoint;
use ftp_proto::filestream::HashPlan;
use sha2::{Digest, Sha256};

use crate::jail::INTERNAL_DIR;

/// Folder of served files' lists, inside the internal folder.
const CHECKPOINTS: &str = "checkpoints";

/// Opens (creating when missing) the checkpoints folder beneath the root.
pub fn open_checkpoints(root: &cap_std::fs::Dir) -> std::io::Result<cap_std::fs::Dir> {
    let path = Path::new(INTERNAL_DIR).join(CHECKPOINTS);
    root.create_dir_all(&path)?;
    root.open_dir(&path)
}

/// How the reader of `file`, sending from `offset`, hashes: from the best list an earlier
/// download of the same file sealed, sealing its own when it stops. Blocking.
pub fn hash_plan(folder: &Arc<cap_std::fs::Dir>, file: &std::fs::File, offset: u64) -> HashPlan {
    let Ok(meta) = file.metadata() else {
        return HashPlan::default();
    };
    let mut binding = Sha256::new();
    binding.update(b"ftpd served\0");
    checkpoint::hash_identity(&mut binding, &meta);
    let binding: [u8; 32] = binding.finalize().into();
    let name = format!("{}.ckpt", hex::encode(&binding[..16]));
    crate::ledger::sealed_plan(folder, name, binding, &meta, offset, "download")
}
