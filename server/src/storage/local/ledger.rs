//! Sealed checkpoint lists kept as files in one of the server's internal folders: where a
//! resume finds its saved hash state, and how a stopping reader or writer saves its own.
//! Used for partial uploads ([`crate::uploads`]) and for files being served
//! ([`crate::storage::local::served`]).

use std::sync::Arc;

use ftp_proto::files::checkpoint::{self, Ledger};
use ftp_proto::files::filestream::HashPlan;

/// The plan for a file bound by `binding`, now described by `meta`, transferred from `offset`:
/// from the list `name` of `dir`, the checkpoint at the file's end or else the best at or below
/// `offset`, and a sealed ledger replacing that list (temp file and rename) when the transfer
/// stops.
/// Blocking. `what` names the transfer in the log when a list cannot be saved.
pub fn sealed_plan(
    dir: &Arc<cap_std::fs::Dir>,
    name: String,
    binding: [u8; 32],
    meta: &std::fs::Metadata,
    offset: u64,
    what: &'static str,
) -> HashPlan {
    let current = checkpoint::sealed_binding(&binding, meta);
    let list = dir
        .read(&name)
        .map(|bytes| checkpoint::decode(&bytes, &current))
        .unwrap_or_default();
    // The state at the file's end, when known, means nothing is hashed at all.
    let resume_from = list
        .iter()
        .find(|c| c.offset == meta.len())
        .cloned()
        .or_else(|| checkpoint::best(&list, offset));
    let dir = Arc::clone(dir);
    let save = move |bytes: &[u8]| save_list(&dir, &name, bytes, what);
    HashPlan {
        resume_from,
        ledger: Some(Ledger {
            binding,
            save: Box::new(save),
            sealed: true,
        }),
        progress: None,
    }
}

/// Replaces the list `name` in `dir` with `bytes` (temp file, mode 0600 whatever the umask, and
/// rename). Best effort: a list not saved only means more hashing later; `what` names the
/// transfer in the log. Blocking.
pub fn save_list(dir: &cap_std::fs::Dir, name: &str, bytes: &[u8], what: &str) {
    use cap_std::fs::OpenOptionsExt;
    use std::io::Write;
    let temporary = format!("{name}.tmp");
    let mut options = cap_std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true).mode(0o600);
    let saved = dir
        .open_with(&temporary, &options)
        .and_then(|mut file| file.write_all(bytes))
        .and_then(|()| dir.rename(&temporary, dir, name));
    if let Err(error) = saved {
        tracing::debug!(%error, "cannot save {what} checkpoints");
    }
}
