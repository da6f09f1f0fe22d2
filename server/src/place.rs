//! Putting a verified partial under its final name, and telling a full disk apart.
//!
//! [`place`] renames a partial into a home. Without `replace` it never overwrites: the rename
//! is `renameat2(RENAME_NOREPLACE)`, or, on a file system that refuses the flag, a hard link
//! and an unlink of the partial; a file that appeared at the destination meanwhile (after the
//! upload's first check) makes it fail with `AlreadyExists` and the partial is left as it
//! was. The destination's folder is opened through the capability handle, so no path can lead
//! out of the home; only the last component is named to the system call, which never follows
//! it.
//!
//! [`is_disk_full`] recognises a full disk or quota (data or inodes), which every upload
//! path reports as [`ErrorKind::NoSpace`] ([`disk_full`]).

use std::path::Path;

use ftp_proto::ErrorKind;
use rustix::fs::{AtFlags, RenameFlags};
use rustix::io::Errno;

use crate::error::Refusal;

/// Renames `name` in `partials` to `destination` beneath `folder` (a path of one or more
/// components), replacing a file there only when `replace`. Without it, a file already at the
/// destination is an `AlreadyExists` error and `name` stays where it is. Blocking.
pub fn place(
    partials: &cap_std::fs::Dir,
    name: &str,
    folder: &cap_std::fs::Dir,
    destination: &Path,
    replace: bool,
) -> std::io::Result<()> {
    if replace {
        return partials.rename(name, folder, destination);
    }
    let (parent, file_name) = match (destination.parent(), destination.file_name()) {
        (Some(parent), Some(file_name)) if !parent.as_os_str().is_empty() => {
            (Some(folder.open_dir(parent)?), file_name)
        }
        (_, Some(file_name)) => (None, file_name),
        _ => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "a destination must name a file",
            ));
        }
    };
    let target = parent.as_ref().unwrap_or(folder);
    match rustix::fs::renameat_with(partials, name, target, file_name, RenameFlags::NOREPLACE) {
        Ok(()) => Ok(()),
        // The file system does not know the flag: a link cannot replace either.
        Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) => {
            rustix::fs::linkat(partials, name, target, file_name, AtFlags::empty())?;
            rustix::fs::unlinkat(partials, name, AtFlags::empty())?;
            Ok(())
        }
        Err(errno) => Err(errno.into()),
    }
}

/// The disk (or the user's quota) is full, of data or of inodes.
pub fn is_disk_full(error: &std::io::Error) -> bool {
    const ENOSPC: i32 = 28;
    const EDQUOT: i32 = 122;
    matches!(error.raw_os_error(), Some(ENOSPC | EDQUOT))
        || error.kind() == std::io::ErrorKind::StorageFull
        || error.kind() == std::io::ErrorKind::QuotaExceeded
}

/// What the client is told when the disk is full; `detail` says what became of the upload.
pub fn disk_full(detail: &str) -> Refusal {
    Refusal::new(
        ErrorKind::NoSpace,
        format!("the server's disk is full: {detail}; run the command again once space is free"),
    )
}

/// What the client is told when a partial could not be written: a full disk keeps what was
/// received of `shown` for a later resume; anything else is a server error.
pub fn storage_refusal(error: &std::io::Error, shown: &str) -> Refusal {
    if is_disk_full(error) {
        tracing::warn!(path = %shown, %error, "disk full; partial kept");
        disk_full(&format!("what was received of {shown} is kept, to resume"))
    } else {
        Refusal::internal("storing an upload", error)
    }
}

/// What the client is told when the verified upload of `shown` could not be put in place (its
/// partial is kept): without `force`, a file that appeared at the destination meanwhile; a full
/// disk; or what the jail says.
pub fn finish_refusal(error: &std::io::Error, shown: &str, force: bool) -> Refusal {
    if !force && error.kind() == std::io::ErrorKind::AlreadyExists {
        tracing::info!(path = %shown, "a file appeared at the destination during the upload; partial kept");
        Refusal::new(
            ErrorKind::Exists,
            format!(
                "upload refused: {shown} already exists (it appeared during the upload); what was received is kept: use --force to replace it without sending it again"
            ),
        )
    } else if is_disk_full(error) {
        disk_full(&format!(
            "{shown} was received whole and is kept, to finish"
        ))
    } else {
        crate::jail::refusal_for(error, &shown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dirs() -> (tempfile::TempDir, cap_std::fs::Dir, cap_std::fs::Dir) {
        let dir = tempfile::tempdir().unwrap();
        for name in ["home/sub", "partials"] {
            std::fs::create_dir_all(dir.path().join(name)).unwrap();
        }
        let open = |name: &str| {
            cap_std::fs::Dir::open_ambient_dir(dir.path().join(name), cap_std::ambient_authority())
                .unwrap()
        };
        let (home, partials) = (open("home"), open("partials"));
        (dir, home, partials)
    }

    #[test]
    fn a_file_in_the_way_is_kept_unless_replacing() {
        let (dir, home, partials) = dirs();
        std::fs::write(dir.path().join("partials/p"), b"new").unwrap();
        std::fs::write(dir.path().join("home/sub/f"), b"planted").unwrap();
        let error = place(&partials, "p", &home, Path::new("sub/f"), false).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(
            std::fs::read(dir.path().join("home/sub/f")).unwrap(),
            b"planted"
        );
        assert_eq!(
            std::fs::read(dir.path().join("partials/p")).unwrap(),
            b"new",
            "kept"
        );

        place(&partials, "p", &home, Path::new("sub/f"), true).unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("home/sub/f")).unwrap(),
            b"new"
        );
        assert!(!dir.path().join("partials/p").exists());
    }

    #[test]
    fn a_free_name_is_taken_at_the_top_and_below() {
        let (dir, home, partials) = dirs();
        for (partial, destination) in [("a", "top"), ("b", "sub/below")] {
            std::fs::write(dir.path().join("partials").join(partial), partial).unwrap();
            place(&partials, partial, &home, Path::new(destination), false).unwrap();
            let landed = std::fs::read(dir.path().join("home").join(destination)).unwrap();
            assert_eq!(landed, partial.as_bytes());
        }
    }

    #[test]
    fn a_symlink_in_the_way_is_not_followed_or_replaced() {
        let (dir, home, partials) = dirs();
        std::fs::write(dir.path().join("partials/p"), b"new").unwrap();
        let outside = dir.path().join("outside");
        std::os::unix::fs::symlink(&outside, dir.path().join("home/link")).unwrap();
        let error = place(&partials, "p", &home, Path::new("link"), false).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::AlreadyExists);
        assert!(!outside.exists());
    }

    #[test]
    fn full_disks_and_quotas_are_recognised() {
        for errno in [28, 122] {
            assert!(is_disk_full(&std::io::Error::from_raw_os_error(errno)));
        }
        assert!(!is_disk_full(&std::io::Error::from_raw_os_error(13)));
        let refusal = disk_full("nothing of /a.bin was stored");
        assert_eq!(refusal.kind, ErrorKind::NoSpace);
        assert!(refusal.message.starts_with("the server's disk is full"));
    }
}
