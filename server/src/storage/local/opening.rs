//! Opening user content without ever blocking on it: a FIFO, socket or device in a home is
//! named by its type and refused where a regular file is needed, never opened in a way that
//! could wait for a writer (which would hang the request, leak a blocking thread and stop a
//! clean shutdown). Every read of a file's content in a home opens it through here.

use std::path::Path;

use crate::failure::errno::classify;
use crate::storage::{Failure, StorageError};

/// What a file type is, in words for a message ("a FIFO", "a folder", ...).
pub fn kind_words(kind: cap_std::fs::FileType) -> &'static str {
    use cap_std::fs::FileTypeExt;
    if kind.is_file() {
        "a regular file"
    } else if kind.is_dir() {
        "a folder"
    } else if kind.is_symlink() {
        "a symbolic link"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_char_device() {
        "a character device"
    } else {
        "of an unknown type"
    }
}

/// Opens the regular file `relative` beneath `dir` for reading, never blocking on what is
/// there: the open is non-blocking (a FIFO or device opens at once instead of waiting for a
/// writer), then the handle itself is checked, so a FIFO, socket, device or folder, even one
/// put there after an earlier look, is refused by name ([`Failure::NotRegular`]). The file
/// returned reads normally (blocking). Blocking.
pub fn open_regular(
    dir: &cap_std::fs::Dir,
    relative: &Path,
) -> Result<(std::fs::File, cap_std::fs::Metadata), StorageError> {
    let file = open_nonblocking(dir, relative).map_err(|e| {
        // A socket cannot be opened at all (ENXIO): name what is there instead.
        match dir.metadata(relative) {
            Ok(meta) if !meta.is_file() && !meta.is_dir() => not_regular(meta.file_type()),
            _ => classify(&e),
        }
    })?;
    let meta = cap_std::fs::Metadata::from_file(&file).map_err(|e| classify(&e))?;
    if !meta.is_file() {
        return Err(not_regular(meta.file_type()));
    }
    Ok((file, meta))
}

/// The failure of a path that is `kind`, where a regular file was needed.
fn not_regular(kind: cap_std::fs::FileType) -> StorageError {
    StorageError::of(Failure::NotRegular(kind_words(kind)))
}

/// Opens `relative` beneath `dir` for reading with `O_NONBLOCK` (so a FIFO or device cannot
/// block the open), then turns `O_NONBLOCK` off again; the caller checks what it opened.
/// Blocking.
pub fn open_nonblocking(dir: &cap_std::fs::Dir, relative: &Path) -> std::io::Result<std::fs::File> {
    use cap_std::fs::OpenOptionsExt;
    use rustix::fs::OFlags;
    let mut options = cap_std::fs::OpenOptions::new();
    options
        .read(true)
        .custom_flags((OFlags::NONBLOCK | OFlags::NOCTTY).bits() as i32);
    let file = dir.open_with(relative, &options)?.into_std();
    let flags = rustix::fs::fcntl_getfl(&file)?;
    rustix::fs::fcntl_setfl(&file, flags - OFlags::NONBLOCK)?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_is_refused_by_name_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let made = std::process::Command::new("mkfifo")
            .arg(dir.path().join("pipe"))
            .status()
            .unwrap();
        assert!(made.success());
        let home =
            cap_std::fs::Dir::open_ambient_dir(dir.path(), cap_std::ambient_authority()).unwrap();
        let failure = open_regular(&home, Path::new("pipe")).unwrap_err();
        assert_eq!(failure.failure, Failure::NotRegular("a FIFO"));
        let refusal = crate::error::Refusal::from_storage(&failure, &"/pipe");
        assert_eq!(refusal.kind, ftp_proto::ErrorKind::Denied);
        assert_eq!(refusal.message, "/pipe is a FIFO, not a regular file");
        let hashed = super::super::partial::hash_file(&home, Path::new("pipe")).unwrap_err();
        let nxio = rustix::io::Errno::NXIO.raw_os_error();
        assert_eq!(hashed.raw_os_error(), Some(nxio));
    }
}
