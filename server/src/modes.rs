//! Permission modes of what the server creates: every file it publishes gets `file_mode` and
//! every folder it creates for users (the root, homes, `mkdir`, an upload's parent folders)
//! gets `dir_mode`, both private by default (0600, 0700); its internal folders are always 0700.
//!
//! Each mode is set explicitly on what was just created, so the umask the server was started
//! with changes nothing: it can only take bits away, and an explicit `chmod` puts them back.
//! Folders that were already there keep their mode. This module never opens user content in
//! a way that could block (see [`crate::storage::local::opening::open_regular`]).

use std::path::{Component, Path, PathBuf};

use cap_std::fs::{DirBuilderExt, OpenOptionsExt};
use rustix::fs::{Mode, OFlags};

/// Mode of the server's internal folders (partials, checkpoints), whatever is configured.
pub const INTERNAL_DIR_MODE: u32 = 0o700;

/// The modes files and folders are created with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Modes {
    /// Mode of every file the server publishes (`file_mode`).
    pub file: u32,
    /// Mode of every folder the server creates for users (`dir_mode`).
    pub dir: u32,
}

impl Default for Modes {
    fn default() -> Self {
        Modes {
            file: 0o600,
            dir: 0o700,
        }
    }
}

/// Parses a mode written in octal (`"0640"`, `"640"` or `"0o640"`): only permission bits
/// (nothing beyond 0o777, no setuid, setgid or sticky bit), and at least `owner` (the bits the
/// server itself needs: rw- for files, rwx for folders). The error says what is wrong.
pub fn parse(text: &str, owner: u32) -> Result<u32, String> {
    let digits = text.trim();
    let digits = digits.strip_prefix("0o").unwrap_or(digits);
    let mode = u32::from_str_radix(digits, 8)
        .ok()
        .filter(|_| !digits.is_empty() && !digits.starts_with(['+', '-']))
        .ok_or_else(|| format!("{text:?} is not an octal mode such as \"0600\""))?;
    if mode & !0o777 != 0 {
        return Err(format!(
            "{text:?} has bits beyond 0777 (setuid, setgid or sticky bits are not allowed)"
        ));
    }
    if mode & owner != owner {
        return Err(format!(
            "{text:?} must give the owner at least {owner:03o} (the server reads and writes what it creates)"
        ));
    }
    Ok(mode)
}

/// Creates `path` beneath `dir` with its missing parents (like `mkdir -p`), each folder it
/// creates with exactly `mode`; an existing folder is left as it is, something else in the way
/// is an `AlreadyExists` error. Blocking.
pub fn create_dir_all(dir: &cap_std::fs::Dir, path: &Path, mode: u32) -> std::io::Result<()> {
    let mut builder = cap_std::fs::DirBuilder::new();
    builder.mode(mode);
    let mut so_far = PathBuf::new();
    for component in path.components() {
        if !matches!(component, Component::Normal(_)) {
            continue;
        }
        so_far.push(component);
        match dir.create_dir_with(&so_far, &builder) {
            Ok(()) => set_dir_mode(dir, &so_far, mode)?,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                if !dir.metadata(&so_far)?.is_dir() {
                    return Err(e);
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Sets the mode of the folder `path` beneath `dir` through a handle on it, opened as a folder
/// and without blocking (so nothing but a folder is changed). Blocking.
pub fn set_dir_mode(dir: &cap_std::fs::Dir, path: &Path, mode: u32) -> std::io::Result<()> {
    let mut options = cap_std::fs::OpenOptions::new();
    options
        .read(true)
        .custom_flags((OFlags::DIRECTORY | OFlags::NONBLOCK).bits() as i32);
    let folder = dir.open_with(path, &options)?;
    rustix::fs::fchmod(&folder, Mode::from_raw_mode(mode))?;
    Ok(())
}

/// Sets the mode of an open file (whatever the umask was when it was created). Blocking.
pub fn set_file_mode(file: &std::fs::File, mode: u32) -> std::io::Result<()> {
    rustix::fs::fchmod(file, Mode::from_raw_mode(mode))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn modes_are_octal_permission_bits_that_leave_the_owner_able_to_work() {
        assert_eq!(parse("0600", 0o600), Ok(0o600));
        assert_eq!(parse("640", 0o600), Ok(0o640));
        assert_eq!(parse("0o750", 0o700), Ok(0o750));
        assert_eq!(parse("0777", 0o700), Ok(0o777));
        for bad in ["", "rw", "0800", "-600", "+600", "0o", "9", "0x1ff"] {
            assert!(parse(bad, 0o600).unwrap_err().contains("octal"), "{bad:?}");
        }
        for bad in ["4755", "1777", "01000", "77777"] {
            assert!(parse(bad, 0o700).unwrap_err().contains("0777"), "{bad:?}");
        }
        for (bad, owner) in [
            ("0400", 0o600),
            ("0200", 0o600),
            ("0600", 0o700),
            ("0077", 0o700),
        ] {
            assert!(parse(bad, owner).unwrap_err().contains("owner"), "{bad:?}");
        }
    }

    #[test]
    fn created_folders_get_the_mode_and_existing_ones_keep_theirs() {
        let temp = tempfile::tempdir().unwrap();
        std::fs::create_dir(temp.path().join("old")).unwrap();
        std::fs::set_permissions(
            temp.path().join("old"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        std::fs::write(temp.path().join("file"), "x").unwrap();
        let dir =
            cap_std::fs::Dir::open_ambient_dir(temp.path(), cap_std::ambient_authority()).unwrap();
        create_dir_all(&dir, Path::new("old/new/deeper"), 0o750).unwrap();
        create_dir_all(&dir, Path::new("./old/new"), 0o700).unwrap();
        let mode = |p: &str| {
            std::fs::metadata(temp.path().join(p))
                .unwrap()
                .permissions()
                .mode()
                & 0o7777
        };
        assert_eq!(mode("old"), 0o755);
        assert_eq!(mode("old/new"), 0o750);
        assert_eq!(mode("old/new/deeper"), 0o750);
        let in_the_way = create_dir_all(&dir, Path::new("file/x"), 0o700).unwrap_err();
        assert_eq!(in_the_way.kind(), std::io::ErrorKind::AlreadyExists);
    }
}
