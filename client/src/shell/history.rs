//! The session's history file: `$XDG_STATE_HOME/ftp/history`, else
//! `~/.local/state/ftp/history`; its folder made 0700, the file kept 0600. A line holding the
//! word "password" (any case: `--password-file`, `FTP_PASSWORD=`) is never stored.

use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Where the history is kept (`None` with neither `$XDG_STATE_HOME` nor `$HOME`).
pub fn path() -> Option<PathBuf> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local").join("state"))
        })?;
    Some(state.join("ftp").join("history"))
}

/// Creates the folder (0700) and the file (0600) if missing, and makes the file 0600.
pub fn prepare(file: &Path) -> std::io::Result<()> {
    if let Some(folder) = file.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(folder)?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(file)?;
    keep_private(file)
}

/// Makes the file readable and writable by its owner only.
pub fn keep_private(file: &Path) -> std::io::Result<()> {
    std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))
}

/// Whether `line` may be stored.
pub fn keeps(line: &str) -> bool {
    !line.trim().is_empty() && !line.to_lowercase().contains("password")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_with_a_password_are_never_kept() {
        assert!(keeps("get a.txt"));
        assert!(!keeps("put --password-file p a"));
        assert!(!keeps("FTP_PASSWORD=x"));
        assert!(!keeps("   "));
    }

    #[test]
    fn the_file_and_its_folder_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("state").join("ftp").join("history");
        prepare(&file).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&file), 0o600);
        assert_eq!(mode(file.parent().unwrap()), 0o700);
    }
}
