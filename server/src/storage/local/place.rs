//! Putting a verified partial under its final name.
//!
//! [`place`] renames a partial into a home. Without `replace` it never overwrites: the rename
//! is `renameat2(RENAME_NOREPLACE)`, or, on a file system that refuses the flag, a hard link
//! and an unlink of the partial; a file that appeared at the destination meanwhile (after the
//! upload's first check) makes it fail with `AlreadyExists` and the partial is left as it
//! was. The destination's folder is opened through the capability handle, so no path can lead
//! out of the home; only the last component is named to the system call, which never follows
//! it.

use std::path::Path;

use rustix::fs::{AtFlags, RenameFlags};
use rustix::io::Errno;

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
}
