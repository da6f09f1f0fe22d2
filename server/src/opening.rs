//! Opening user content without ever blocking on it: a FIFO, socket or device in a home is
//! named by its type and refused where a regular file is needed, never opened in a way that
//! could wait for a writer (which would hang the request, leak a blocking thread and stop a
//! clean shutdown). Every read of a file's content in a home opens it through here.

use std::fmt;
use std::path::Path;

use ftp_proto::ErrorKind;

use crate::error::Refusal;

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
/// put there after an earlier look, is refused by name (`path` as the client wrote it). The
/// file returned reads normally (blocking). Blocking.
pub fn open_regular(
    dir: &cap_std::fs::Dir,
    relative: &Path,
    path: &impl fmt::Display,
) -> Result<(std::fs::File, cap_std::fs::Metadata), Refusal> {
    let file = open_nonblocking(dir, relative).map_err(|e| {
        // A socket cannot be opened at all (ENXIO): name what is there instead.
        match dir.metadata(relative) {
            Ok(meta) if !meta.is_file() && !meta.is_dir() => not_a_file(path, meta.file_type()),
            _ => crate::jail::refusal_for(&e, path),
        }
    })?;
    let meta =
        cap_std::fs::Metadata::from_file(&file).map_err(|e| crate::jail::refusal_for(&e, path))?;
    if !meta.is_file() {
        return Err(not_a_file(path, meta.file_type()));
    }
    Ok((file, meta))
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

/// The refusal of a path that is `kind`, where a regular file was needed.
pub fn not_a_file(path: &impl fmt::Display, kind: cap_std::fs::FileType) -> Refusal {
    let words = kind_words(kind);
    Refusal::new(
        ErrorKind::Denied,
        format!("{path} is {words}, not a regular file"),
    )
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
        let refusal = open_regular(&home, Path::new("pipe"), &"/pipe").unwrap_err();
        assert_eq!(refusal.kind, ErrorKind::Denied);
        assert_eq!(refusal.message, "/pipe is a FIFO, not a regular file");
        let hashed = crate::uploads::hash_file(&home, Path::new("pipe")).unwrap_err();
        let nxio = rustix::io::Errno::NXIO.raw_os_error();
        assert_eq!(hashed.raw_os_error(), Some(nxio));
    }
}
