//! Files that hold secrets (the shared key, the users file): the mode check that refuses a file
//! group or others can read, and the atomic 0600 write (temporary file, fsync, rename, folder
//! fsync) that never leaves a half-written or briefly readable secret on disk.

use std::io::Write;
use std::path::Path;

/// Why a file failed the privacy check.
#[derive(Debug)]
pub enum PrivacyError {
    /// The file's metadata could not be read.
    Io(std::io::Error),
    /// Group or others have some access; the mode bits are given.
    Exposed(u32),
}

/// Reads a secret file whole after checking that group and others have no access to it;
/// `Ok(None)` when there is no such file.
pub fn read_private(path: &Path) -> Result<Option<String>, PrivacyError> {
    match check_private(path) {
        Err(PrivacyError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
        Ok(()) => std::fs::read_to_string(path)
            .map(Some)
            .map_err(PrivacyError::Io),
    }
}

/// Checks that a secret file gives group and others no access at all.
pub fn check_private(path: &Path) -> Result<(), PrivacyError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(PrivacyError::Io)?
        .permissions()
        .mode()
        & 0o7777;
    if mode & 0o077 != 0 {
        return Err(PrivacyError::Exposed(mode));
    }
    Ok(())
}

/// Writes `contents` to `path` atomically with mode 0600: a temporary file in the same folder
/// (created 0600), written and synced, renamed over `path`, then the folder synced.
pub fn write_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    write_private(path, contents, true)
}

/// Like [`write_private_file`], but never replaces an existing file: the new file appears
/// under `path` only if nothing was there (an error of kind `AlreadyExists` otherwise), so
/// two processes creating the same secret at once cannot overwrite each other.
pub fn write_private_file_new(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    write_private(path, contents, false)
}

/// The write behind both: temporary file, fsync, rename (replacing or not), folder fsync.
fn write_private(path: &Path, contents: &[u8], replace: bool) -> std::io::Result<()> {
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mut file = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(folder)?;
    file.write_all(contents)?;
    file.as_file().sync_all()?;
    let persisted = if replace {
        file.persist(path)
    } else {
        file.persist_noclobber(path)
    };
    persisted.map_err(|e| e.error)?;
    std::fs::File::open(folder)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn written_files_are_0600_and_replace_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.toml");
        write_private_file(&path, b"one").unwrap();
        write_private_file(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(check_private(&path).is_ok());
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary file is left behind");
    }

    #[test]
    fn a_new_file_never_replaces_an_existing_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        write_private_file_new(&path, b"first").unwrap();
        let error = write_private_file_new(&path, b"second").unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary file left"
        );
    }

    #[test]
    fn group_or_world_access_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.toml");
        write_private_file(&path, b"x").unwrap();
        for mode in [0o640, 0o604, 0o660, 0o644] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            assert!(matches!(check_private(&path), Err(PrivacyError::Exposed(m)) if m == mode));
        }
    }
}
