//! The disk guard: an upload whose declared size cannot fit in the free space of the root's
//! file system, minus a reserve, is refused before any data is sent.
//!
//! The free space is what `fstatvfs` reports as available to unprivileged users on the file
//! system of the partials folder (the root's). The reserve is `disk_reserve` when set, else
//! 1% of the file system's size, at most 1 GiB. A resumed upload needs space only for the
//! bytes its partial does not hold yet. Only uploads are guarded: a full disk never stops
//! downloads or listings, and an upload that fits is let through.

use crate::failure::{Failure, StorageError};

/// Largest default reserve (1 GiB).
const MOST_DEFAULT_RESERVE: u64 = 1 << 30;

/// What `fstatvfs` says of a file system, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Space {
    /// Size of the file system.
    pub total: u64,
    /// Free to unprivileged users.
    pub available: u64,
}

/// Reads the space of the file system holding `dir`. A cheap system call that does not touch
/// the disk's data, but it may wait on a slow (network) file system: call it on a blocking
/// thread.
pub fn of(dir: &cap_std::fs::Dir) -> std::io::Result<Space> {
    let stat = rustix::fs::fstatvfs(dir)?;
    let unit = stat.f_frsize;
    Ok(Space {
        total: stat.f_blocks.saturating_mul(unit),
        available: stat.f_bavail.saturating_mul(unit),
    })
}

/// The reserve kept free: `configured`, or 1% of `total` capped at 1 GiB.
pub fn reserve(configured: Option<u64>, total: u64) -> u64 {
    configured.unwrap_or((total / 100).min(MOST_DEFAULT_RESERVE))
}

/// Refuses an upload of `size` bytes whose partial already holds `held` bytes when the rest
/// does not fit in `space` minus the reserve (`configured_reserve`, see [`reserve`]).
pub fn check(
    space: Space,
    configured_reserve: Option<u64>,
    size: u64,
    held: u64,
) -> Result<(), Failure> {
    // A partial longer than the file is started afresh ([`super::partial::open`]).
    let needed = if held > size { size } else { size - held };
    let kept = reserve(configured_reserve, space.total);
    let usable = space.available.saturating_sub(kept);
    if needed <= usable {
        return Ok(());
    }
    Err(Failure::NoRoom {
        available: space.available,
        reserve: kept,
        needed,
    })
}

/// Checks the space for an upload (see [`check`]) on the file system of `dir`; a file system
/// that cannot say lets the upload through (a real shortage is still caught as it is written).
/// Blocking.
pub fn guard(
    dir: &cap_std::fs::Dir,
    configured_reserve: Option<u64>,
    size: u64,
    held: u64,
) -> Result<(), StorageError> {
    match of(dir) {
        Ok(space) => check(space, configured_reserve, size, held).map_err(StorageError::of),
        Err(error) => {
            tracing::debug!(%error, "free space unknown; upload not checked against it");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    fn space(total: u64, available: u64) -> Space {
        Space { total, available }
    }

    #[test]
    fn the_default_reserve_is_one_percent_capped_at_one_gib() {
        assert_eq!(reserve(None, 100 * MIB), MIB);
        assert_eq!(reserve(None, 1 << 40), 1 << 30);
        assert_eq!(reserve(Some(0), 1 << 40), 0);
        assert_eq!(reserve(Some(5), 100), 5);
    }

    #[test]
    fn an_upload_fits_in_the_free_space_less_the_reserve() {
        let disk = space(100 * MIB, 10 * MIB);
        assert!(check(disk, None, 9 * MIB, 0).is_ok());
        assert!(check(disk, Some(0), 10 * MIB, 0).is_ok());
        let failure = check(disk, None, 9 * MIB + 1, 0).unwrap_err();
        let refused = crate::error::Refusal::from_storage(&StorageError::of(failure), &"big.bin");
        assert_eq!(refused.kind, ftp_proto::ErrorKind::NoSpace);
        assert_eq!(
            refused.message,
            "upload refused: the server's disk has 10.0 MiB free (1.0 MiB kept in reserve); big.bin needs 9.0 MiB more"
        );
    }

    #[test]
    fn a_resumed_upload_needs_room_only_for_what_its_partial_lacks() {
        let disk = space(100 * MIB, 2 * MIB);
        assert!(check(disk, None, 50 * MIB, 49 * MIB).is_ok());
        assert!(check(disk, None, 50 * MIB, 48 * MIB).is_err());
        // A partial longer than the file is started afresh: the whole size is needed.
        assert!(check(disk, Some(0), 2 * MIB, 5 * MIB).is_ok());
        assert!(check(disk, Some(0), 3 * MIB, 5 * MIB).is_err());
    }

    #[test]
    fn a_disk_fuller_than_its_reserve_still_takes_an_empty_file() {
        let disk = space(100 * MIB, 0);
        assert!(check(disk, None, 0, 0).is_ok());
        assert!(check(disk, None, 1, 0).is_err());
    }
}
