//! Sealed checkpoint lists kept as files in one of the server's internal folders: where a
//! resume finds its saved hash state, and how a stopping reader or writer saves its own.
//! Used for partial uploads ([`crate::uploads`]) and for files being served
//! ([`crate::served`]).

use std::sync::Arc;

use ftp_proto::checkpoint::{self, Ledger};
use ftp_proto::filestream::HashPlan;

/// The plan for a file bound by `binding`, now described by `meta`, transferred from `offset`:
/// the best checkpoint at or below `offset` in the list `name` of `dir` (none at offset 0), and
/// a sealed ledger replacing that list (temp file and rename) when the transfer stops.
/// Blocking. `what` names the transfer in the log when a list cannot be saved.
pub fn sealed_plan(
    dir: &Arc<cap_std::fs::Dir>,
    name: String,
    binding: [u8; 32],
    meta: &std::fs::Metadata,
    offset: u64,
    what: &'static str,
) -> HashPlan {
    let resume_from = if offset == 0 {
        None
    } else {
        let current = checkpoint::sealed_binding(&binding, meta);
        dir.read(&name)
            .ok()
            .and_then(|bytes| checkpoint::best(&checkpoint::decode(&bytes, &current), offset))
    };
    let dir = Arc::clone(dir);
    let save = move |bytes: &[u8]| {
        let temporary = format!("{name}.tmp");
        let saved = dir
            .write(&temporary, bytes)
            .and_then(|()| dir.rename(&temporary, &dir, &name));
        if let Err(error) = saved {
            tracing::debug!(%error, "cannot save {what} checkpoints");
        }
    };
    HashPlan {
        resume_from,
        ledger: Some(Ledger {
            binding,
            save: Box::new(save),
            sealed: true,
        }),
    }
}
