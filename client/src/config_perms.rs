//! The permission checks on the client config file and the password file it names: whoever
//! can write the config can point `ftp` at their own server and key, and a password file
//! others can read gives the password away. Each refusal (exit 2) ends with the `chmod` that
//! fixes it.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::error::ClientError;

/// Refuses a config file that group or others can write. A file that is not there is an
/// error: it was named (`--config`) or was just seen.
pub fn refuse_writable_config(path: &Path) -> Result<(), ClientError> {
    let metadata = std::fs::metadata(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => ClientError::Usage(format!(
            "the config file {} (named by --config or FTP_CONFIG) does not exist",
            path.display()
        )),
        _ => ClientError::Local {
            context: format!("cannot read the config file {}", path.display()),
            source,
        },
    })?;
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(ClientError::Usage(format!(
            "the config file {} is writable by group or others (mode {mode:04o}), so anyone of them could point ftp at another server; refused. Fix it with: chmod go-w {}",
            path.display(),
            quoted(path)
        )));
    }
    Ok(())
}

/// Refuses a password file (named by the config file `config`) that group or others can
/// read or write. One that cannot be looked at is left for the read to report.
pub fn refuse_exposed_password_file(config: &Path, path: &Path) -> Result<(), ClientError> {
    let Ok(metadata) = std::fs::metadata(path) else {
        return Ok(());
    };
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(ClientError::Usage(format!(
            "the password file {} (named in {}) is open to group or others (mode {mode:04o}); refused. Fix it with: chmod 600 {}",
            path.display(),
            config.display(),
            quoted(path)
        )));
    }
    Ok(())
}

/// The path as one POSIX shell word, so the printed command can be pasted as it is.
fn quoted(path: &Path) -> String {
    let text = path.display().to_string();
    let plain = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+,:@%=".contains(c));
    if plain && !text.is_empty() {
        text
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_with_mode(dir: &Path, name: &str, mode: u32) -> std::io::Result<std::path::PathBuf> {
        let path = dir.join(name);
        std::fs::write(&path, "x\n")?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
        Ok(path)
    }

    #[test]
    fn a_config_others_can_write_is_refused_with_its_chmod() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        for mode in [0o620, 0o602, 0o666] {
            let path = file_with_mode(dir.path(), "config.toml", mode)?;
            let error = refuse_writable_config(&path).map(|()| String::new());
            let message = error.err().map(|e| e.to_string()).unwrap_or_default();
            assert!(
                message.ends_with(&format!("chmod go-w {}", path.display())),
                "{message}"
            );
        }
        for mode in [0o600, 0o644, 0o400] {
            let path = file_with_mode(dir.path(), "config.toml", mode)?;
            assert!(refuse_writable_config(&path).is_ok(), "{mode:o}");
        }
        Ok(())
    }

    #[test]
    fn a_password_file_others_can_read_is_refused_with_its_chmod() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let config = dir.path().join("config.toml");
        let path = file_with_mode(dir.path(), "pw", 0o640)?;
        let message = refuse_exposed_password_file(&config, &path)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            message.ends_with(&format!("chmod 600 {}", path.display())),
            "{message}"
        );
        let path = file_with_mode(dir.path(), "pw", 0o600)?;
        assert!(refuse_exposed_password_file(&config, &path).is_ok());
        assert!(refuse_exposed_password_file(&config, &dir.path().join("none")).is_ok());
        Ok(())
    }

    #[test]
    fn odd_paths_are_quoted_for_the_shell() {
        assert_eq!(quoted(Path::new("/a/b.toml")), "/a/b.toml");
        assert_eq!(quoted(Path::new("/a b/it's")), r"'/a b/it'\''s'");
    }
}
