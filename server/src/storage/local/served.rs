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

use ftp_proto::files::checkpoint::{self, Checkpoint};
use ftp_proto::files::filestream::HashPlan;
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
    // No list is kept for a file under one interval: none to look for, none to seal.
    if meta.len() < checkpoint::INTERVAL {
        return HashPlan::default();
    }
    let (binding, name) = list_for(&meta);
    super::ledger::sealed_plan(folder, name, binding, &meta, offset, "download")
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
    super::ledger::save_list(folder, &name, &bytes, "upload");
}

/// The SHA-256 of the file described by `meta` (as it is now), when a sealed list holds the
/// state at its end: known without reading the file. `None` when no list knows it, or the
/// file changed since (any change alters its identity). Blocking (one small read).
pub fn known_sha256(folder: &cap_std::fs::Dir, meta: &std::fs::Metadata) -> Option<[u8; 32]> {
    // No list is kept for a file under one interval: nothing to look for.
    if meta.len() < checkpoint::INTERVAL {
        return None;
    }
    let (binding, name) = list_for(meta);
    let bytes = folder.read(&name).ok()?;
    checkpoint::decode(&bytes, &checkpoint::sealed_binding(&binding, meta))
        .into_iter()
        .find(|c| c.offset == meta.len())
        .map(|end| end.state.finalize().into())
}

/// The SHA-256 of the open regular file `file`: the one a sealed list knows, else hashed
/// (read whole) and sealed into a list, so the next listing, stat or download of the same
/// unchanged file reads nothing (files under one checkpoint interval are not recorded).
/// Blocking.
pub fn sha256_of(
    folder: &Arc<cap_std::fs::Dir>,
    file: &std::fs::File,
) -> std::io::Result<[u8; 32]> {
    let meta = file.metadata()?;
    if let Some(known) = known_sha256(folder, &meta) {
        return Ok(known);
    }
    let end = ftp_proto::files::filestream::hash_whole(file, hash_plan(folder, file, 0))?;
    Ok(ftp_proto::files::filestream::sha256_of(&end))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A sparse file one checkpoint interval long and a list claiming `claimed` hashed to its
    /// end: the recorded state is a test double that differs from the file's real hash, so
    /// getting it back shows the file was not read.
    fn recorded(
        claimed: &[u8],
    ) -> (
        tempfile::TempDir,
        Arc<cap_std::fs::Dir>,
        std::fs::File,
        [u8; 32],
    ) {
        let temp = tempfile::tempdir().unwrap();
        std::fs::create_dir(temp.path().join("lists")).unwrap();
        let folder = Arc::new(
            cap_std::fs::Dir::open_ambient_dir(
                temp.path().join("lists"),
                cap_std::ambient_authority(),
            )
            .unwrap(),
        );
        let path = temp.path().join("big");
        let file = std::fs::File::create(&path).unwrap();
        file.set_len(checkpoint::INTERVAL).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let state = Sha256::new_with_prefix(claimed);
        let end = Checkpoint {
            offset: checkpoint::INTERVAL,
            state: state.clone(),
        };
        record(&folder, &file.metadata().unwrap(), end);
        (temp, folder, file, state.finalize().into())
    }

    #[test]
    fn a_recorded_file_is_known_without_reading_it() {
        let (_temp, folder, file, claimed) = recorded(b"not the zeros on disk");
        let real = ftp_proto::files::filestream::hash_file(&file).unwrap();
        assert_ne!(claimed, real);
        assert_eq!(
            known_sha256(&folder, &file.metadata().unwrap()),
            Some(claimed)
        );
        assert_eq!(sha256_of(&folder, &file).unwrap(), claimed);
    }

    #[test]
    fn a_changed_or_unrecorded_file_is_hashed() {
        let (temp, folder, _file, claimed) = recorded(b"double");
        let path = temp.path().join("big");
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, b"x"))
            .unwrap();
        let file = std::fs::File::open(&path).unwrap();
        assert_eq!(known_sha256(&folder, &file.metadata().unwrap()), None);
        let hashed = sha256_of(&folder, &file).unwrap();
        assert_ne!(hashed, claimed);
        assert_eq!(
            hashed,
            ftp_proto::files::filestream::hash_file(&file).unwrap()
        );
        // Hashed once, sealed: known from then on.
        assert_eq!(
            known_sha256(&folder, &file.metadata().unwrap()),
            Some(hashed)
        );
        let small = temp.path().join("small");
        std::fs::write(&small, "s").unwrap();
        let small = std::fs::File::open(&small).unwrap();
        assert_eq!(known_sha256(&folder, &small.metadata().unwrap()), None);
    }
}
