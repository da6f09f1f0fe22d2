//! Renames on the local disk: one `renameat` between the two parent folders, so a link is
//! moved as the link; `RENAME_NOREPLACE` unless replacing, so a destination that appears
//! meanwhile is never overwritten; both folders synced after.

use cap_std::fs::Dir;
use rustix::fs::RenameFlags;
use rustix::io::Errno;

use crate::failure::errno::classify;
use crate::jail::RemotePath;
use crate::storage::{Failure, StorageError};

/// [`crate::storage::Home::rename`] beneath `home`. Blocking.
pub fn rename(
    home: &Dir,
    from: &RemotePath,
    to: &RemotePath,
    replace: bool,
) -> Result<(), StorageError> {
    let (Some(from_name), Some(to_name)) = (from.name(), to.name()) else {
        return Err(StorageError::of(Failure::InvalidName));
    };
    let from_dir = open_folder(home, &from.parent()).map_err(|e| classify(&e).at(from))?;
    let to_dir = open_folder(home, &to.parent()).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            StorageError::new(Failure::NoSuchFolder, e.to_string()).at(to)
        }
        _ => classify(&e).at(to),
    })?;
    let source = from_dir
        .symlink_metadata(from_name)
        .map_err(|e| classify(&e).at(from))?;
    let refuse = |failure| Err(StorageError::of(failure).at(to));
    let flags = match to_dir.symlink_metadata(to_name) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => RenameFlags::NOREPLACE,
        Err(e) => return Err(classify(&e).at(to)),
        Ok(_) if !replace => return refuse(Failure::AlreadyThere),
        Ok(meta) if meta.is_dir() => return refuse(Failure::FolderInTheWay),
        Ok(_) if source.is_dir() => return refuse(Failure::FolderOverFile),
        Ok(_) => RenameFlags::empty(),
    };
    rustix::fs::renameat_with(&from_dir, from_name, &to_dir, to_name, flags).map_err(|errno| {
        let failure = match errno {
            Errno::EXIST if flags.contains(RenameFlags::NOREPLACE) => Failure::AlreadyThere,
            Errno::EXIST | Errno::NOTEMPTY | Errno::ISDIR => Failure::FolderInTheWay,
            Errno::NOTDIR if source.is_dir() => Failure::FolderOverFile,
            _ => return classify(&std::io::Error::from(errno)).at(to),
        };
        StorageError::new(failure, errno.to_string()).at(to)
    })?;
    for dir in [&from_dir, &to_dir] {
        if let Err(e) = rustix::fs::fsync(dir) {
            tracing::warn!(%from, %to, error = %e, "could not make a rename durable");
        }
    }
    Ok(())
}

/// Opens `path`, a folder beneath the home (the home itself when empty). Blocking.
fn open_folder(home: &Dir, path: &RemotePath) -> std::io::Result<Dir> {
    if path.is_home() {
        home.try_clone()
    } else {
        home.open_dir(path.relative())
    }
}
