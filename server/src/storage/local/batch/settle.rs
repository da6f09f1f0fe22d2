//! The end of a batch of whole files, on its store thread: with fsync on, one `syncfs` makes
//! every partial of the batch durable, the renames into place follow, and a second `syncfs`
//! makes the new names durable (two flushes for the whole batch instead of a data and a folder
//! sync per file). A file whose rename fails, or every file when a sync fails, has a failure
//! for its outcome instead of landing, and its partial removed: a file that landed is durable
//! under its name. Without `force` the rename never replaces: a file that appeared at the
//! destination since it was checked is [`Failure::AlreadyThere`] and left in place.

use std::path::PathBuf;
use std::sync::Arc;

use crate::failure::errno::classify;
use crate::storage::{Failure, StorageError, WholeOutcome, WholeStage};

/// A file written to its partial, waiting to be made durable and visible.
pub(super) struct Stored {
    /// Its partial's name.
    pub(super) partial: String,
    /// The folder it lands in, opened once for the files of the batch that go there (or the
    /// home).
    pub(super) folder: Arc<cap_std::fs::Dir>,
    /// Its path from that folder.
    pub(super) name: PathBuf,
    /// Replace a file at the destination.
    pub(super) force: bool,
}

/// One outcome of the batch, in order.
pub(super) enum Pending {
    /// Known once the file is in place.
    Stored(Stored),
    /// Known already.
    Ready(WholeOutcome),
}

/// Makes every stored file durable and visible; returns the outcomes in order. Blocking.
pub(super) fn settle(
    home: &cap_std::fs::Dir,
    partials: &cap_std::fs::Dir,
    pending: Vec<Pending>,
    durable: bool,
) -> Vec<WholeOutcome> {
    let stored_any = pending.iter().any(|p| matches!(p, Pending::Stored(_)));
    let data_synced = if durable && stored_any {
        sync_file_system(partials).map_err(|e| classify(&e))
    } else {
        Ok(())
    };
    let mut outcomes = Vec::with_capacity(pending.len());
    for item in pending {
        let stored = match item {
            Pending::Ready(outcome) => {
                outcomes.push(outcome);
                continue;
            }
            Pending::Stored(stored) => stored,
        };
        let landed = match &data_synced {
            Ok(()) => super::super::place::place(
                partials,
                &stored.partial,
                &stored.folder,
                &stored.name,
                stored.force,
            )
            .map_err(|e| {
                if !stored.force && e.kind() == std::io::ErrorKind::AlreadyExists {
                    StorageError::new(Failure::AlreadyThere, e.to_string())
                } else {
                    classify(&e)
                }
            }),
            Err(error) => Err(error.clone()),
        };
        outcomes.push(match landed {
            Ok(()) => WholeOutcome::Landed,
            Err(error) => {
                let _ = partials.remove_file(&stored.partial);
                WholeOutcome::Failed(WholeStage::Place, error)
            }
        });
    }
    let landed_any = outcomes.contains(&WholeOutcome::Landed);
    if durable
        && landed_any
        && let Err(error) = sync_file_system(home)
    {
        // The new names may not survive a crash: say so rather than claim durability.
        tracing::warn!(%error, "cannot sync the file system after an upload batch");
        let error = classify(&error);
        for outcome in &mut outcomes {
            if *outcome == WholeOutcome::Landed {
                *outcome = WholeOutcome::Failed(WholeStage::Sync, error.clone());
            }
        }
    }
    outcomes
}

/// Syncs the file system holding `dir` (through a plain read-only handle: one from `open_dir`
/// may be `O_PATH`, which cannot be synced). Blocking.
fn sync_file_system(dir: &cap_std::fs::Dir) -> std::io::Result<()> {
    let handle = dir.open(".")?.into_std();
    rustix::fs::syncfs(&handle)?;
    Ok(())
}
