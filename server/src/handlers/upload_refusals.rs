//! What an upload's client is told when its store fails, by where the upload was: the same
//! failure means different things before any data moved (nothing was stored), while data was
//! written (what was received is kept, to resume) and once the file was whole (it is kept, to
//! finish). Everything else a store can say is [`Refusal::from_storage`]'s.

use ftp_proto::ErrorKind;

use crate::error::Refusal;
use crate::storage::{Failure, StorageError, WholeStage};

/// The store (or the user's quota on it) is full, of data or of inodes.
pub fn is_full(error: &StorageError) -> bool {
    matches!(error.failure, Failure::NoSpace | Failure::QuotaExhausted)
}

/// What the client is told when the disk is full; `detail` says what became of the upload.
pub fn disk_full(detail: &str) -> Refusal {
    Refusal::new(
        ErrorKind::NoSpace,
        format!("the server's disk is full: {detail}; run the command again once space is free"),
    )
}

/// The destination of `shown` could not be checked (or its folder made).
pub fn destination(error: &StorageError, shown: &str) -> Refusal {
    if is_full(error) {
        disk_full(&format!("no folder could be made for {shown}"))
    } else {
        Refusal::from_storage(error, &shown)
    }
}

/// The partial of `shown` could not be opened.
pub fn open(error: &StorageError, shown: &str) -> Refusal {
    if is_full(error) {
        tracing::warn!(path = %shown, %error, "disk full");
        disk_full(&format!("nothing of {shown} could be stored"))
    } else if error.failure == Failure::Busy {
        // A store shared by several servers: another one is writing it.
        tracing::info!(path = %shown, %error, "destination busy");
        Refusal::new(
            ErrorKind::Busy,
            format!("{shown} is busy: another upload to it is in progress"),
        )
    } else {
        Refusal::from_storage(error, &shown)
    }
}

/// The partial of `shown` could not be written: a full disk keeps what was received for a
/// later resume; anything else is a server error.
pub fn write(error: &StorageError, shown: &str) -> Refusal {
    if is_full(error) {
        tracing::warn!(path = %shown, %error, "disk full; partial kept");
        disk_full(&format!("what was received of {shown} is kept, to resume"))
    } else {
        Refusal::internal("storing an upload", error)
    }
}

/// The verified upload of `shown` could not be put in place (its partial is kept): without
/// `force`, a file that appeared at the destination meanwhile; a full disk; or what the store
/// says.
pub fn commit(error: &StorageError, shown: &str, force: bool) -> Refusal {
    if !force && error.failure == Failure::AlreadyThere {
        tracing::info!(path = %shown, "a file appeared at the destination during the upload; partial kept");
        Refusal::new(
            ErrorKind::Exists,
            format!(
                "upload refused: {shown} already exists (it appeared during the upload); what was received is kept: use --force to replace it without sending it again"
            ),
        )
    } else if is_full(error) {
        disk_full(&format!(
            "{shown} was received whole and is kept, to finish"
        ))
    } else {
        Refusal::from_storage(error, &shown)
    }
}

/// A small file `shown` of a batch failed at `stage` (nothing of it is kept: the client sends
/// small files again anyway).
pub fn whole(stage: WholeStage, error: &StorageError, shown: &str, force: bool) -> Refusal {
    match stage {
        WholeStage::Folder | WholeStage::Destination => destination(error, shown),
        WholeStage::Write if is_full(error) => {
            tracing::warn!(path = %shown, %error, "disk full");
            disk_full(&format!("nothing of {shown} was stored"))
        }
        WholeStage::Write => Refusal::internal("storing an upload", error),
        WholeStage::Place if !force && error.failure == Failure::AlreadyThere => Refusal::new(
            ErrorKind::Exists,
            format!(
                "upload refused: {shown} already exists (it appeared during the upload); use --force to replace it"
            ),
        ),
        WholeStage::Place if is_full(error) => disk_full(&format!("nothing of {shown} was stored")),
        WholeStage::Place => Refusal::from_storage(error, &shown),
        // The new names may not survive a crash: said rather than claim durability.
        WholeStage::Sync if is_full(error) => {
            disk_full(&format!("{shown} may not survive a crash of the server"))
        }
        WholeStage::Sync => Refusal::new(
            ErrorKind::Internal,
            "the server could not sync its disk after the upload",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_disks_and_quotas_are_told_as_such_by_stage() {
        for failure in [Failure::NoSpace, Failure::QuotaExhausted] {
            let error = StorageError::of(failure);
            assert!(is_full(&error));
            for refusal in [
                destination(&error, "/a"),
                open(&error, "/a"),
                write(&error, "/a"),
                commit(&error, "/a", false),
                whole(WholeStage::Sync, &error, "/a", false),
            ] {
                assert_eq!(refusal.kind, ErrorKind::NoSpace);
                assert!(refusal.message.starts_with("the server's disk is full"));
            }
        }
        assert!(!is_full(&StorageError::of(Failure::PermissionDenied)));
    }

    #[test]
    fn a_file_that_appeared_is_a_conflict_only_without_force() {
        let error = StorageError::of(Failure::AlreadyThere);
        assert_eq!(commit(&error, "/a", false).kind, ErrorKind::Exists);
        assert!(commit(&error, "/a", false).message.contains("--force"));
        let placed = whole(WholeStage::Place, &error, "/a", false);
        assert!(placed.message.contains("appeared during the upload"));
        let forced = whole(WholeStage::Place, &error, "/a", true);
        assert!(!forced.message.contains("appeared"));
    }
}
