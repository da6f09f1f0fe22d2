//! Where a tree goes: the destination rule of `put -r`, `get -r` and `sync`.
//!
//! The destination names the copy of the folder itself; when it is not given, it is the
//! folder's own name (in the home, or here); a destination ending in `/` means "inside that
//! folder, under the same name". The rule never looks at whether the destination exists, so
//! running the same command again is the same transfer: that is how a tree resumes.

use std::path::{Path, PathBuf};

use crate::error::ClientError;

/// The name of a local folder as named on the command line: its last component, or for `.`,
/// `..` and the like, the canonical folder's name. Blocking (canonicalizes).
pub fn local_folder_name(dir: &Path) -> Result<String, ClientError> {
    let last = dir.components().next_back();
    let name = match last {
        Some(std::path::Component::Normal(name)) => name.to_owned(),
        _ => {
            let canonical = std::fs::canonicalize(dir).map_err(|source| ClientError::Local {
                context: format!("cannot read {}", dir.display()),
                source,
            })?;
            canonical
                .file_name()
                .map(ToOwned::to_owned)
                .ok_or_else(|| {
                    ClientError::Usage(format!(
                        "{} has no name to copy it under; give REMOTE",
                        dir.display()
                    ))
                })?
        }
    };
    name.into_string().map_err(|name| {
        ClientError::Usage(format!(
            "{} is not valid UTF-8; remote names must be",
            Path::new(&name).display()
        ))
    })
}

/// The remote copy of a local folder called `name`: `remote` itself, `remote/name` when it
/// ends in `/`, or `name` in the home when not given.
pub fn remote_copy(name: &str, remote: Option<&str>) -> String {
    match remote {
        None => name.to_owned(),
        Some(remote) if remote.ends_with('/') => format!("{remote}{name}"),
        Some(remote) => remote.to_owned(),
    }
}

/// The local copy of the remote folder `remote`: `local` itself, `local/NAME` when it ends in
/// `/`, or `./NAME`, NAME being the remote folder's last name (which must be a usable local
/// name: the home has none, so LOCAL is needed then).
pub fn local_copy(remote: &str, local: Option<&Path>) -> Result<PathBuf, ClientError> {
    let ends_in_slash = |path: &Path| path.as_os_str().as_encoded_bytes().ends_with(b"/");
    let name = || {
        let last = remote
            .rsplit('/')
            .find(|part| !part.is_empty() && *part != ".");
        match last {
            Some(name) if name != ".." && super::plan::is_local_safe(name) => Ok(name),
            None => Err(ClientError::Usage(format!(
                "{remote:?} is your home, which has no name to copy it under; give LOCAL"
            ))),
            Some(_) => Err(ClientError::Usage(format!(
                "{remote:?} does not end in a usable folder name; give LOCAL"
            ))),
        }
    };
    Ok(match local {
        Some(local) if ends_in_slash(local) => local.join(name()?),
        Some(local) => local.to_path_buf(),
        None => PathBuf::from(name()?),
    })
}

/// `folder/relative` for a remote folder (`relative` a listed tree path).
pub fn remote_join(folder: &str, relative: &str) -> String {
    let folder = folder.trim_end_matches('/');
    if folder.is_empty() || folder == "." {
        relative.to_owned()
    } else {
        format!("{folder}/{relative}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_copies_follow_the_rule() {
        assert_eq!(remote_copy("photos", None), "photos");
        assert_eq!(remote_copy("photos", Some("backup/pics")), "backup/pics");
        assert_eq!(remote_copy("photos", Some("backup/")), "backup/photos");
        assert_eq!(remote_copy("photos", Some("/")), "/photos");
        assert_eq!(remote_join("backup/", "a/b"), "backup/a/b");
        assert_eq!(remote_join("/", "a"), "a");
        assert_eq!(remote_join(".", "a"), "a");
    }

    #[test]
    fn local_folder_names_and_dots() {
        assert_eq!(local_folder_name(Path::new("a/photos")).unwrap(), "photos");
        assert_eq!(local_folder_name(Path::new("a/photos/")).unwrap(), "photos");
        let here = std::env::current_dir().unwrap();
        let name = here.file_name().unwrap().to_str().unwrap();
        assert_eq!(local_folder_name(Path::new(".")).unwrap(), name);
        assert!(local_folder_name(Path::new("/")).is_err());
    }

    #[test]
    fn local_copies_follow_the_rule() {
        assert_eq!(local_copy("site/www", None).unwrap(), Path::new("www"));
        assert_eq!(local_copy("site/www/", None).unwrap(), Path::new("www"));
        assert_eq!(
            local_copy("site/www", Some(Path::new("out"))).unwrap(),
            Path::new("out")
        );
        assert_eq!(
            local_copy("site/www", Some(Path::new("out/"))).unwrap(),
            Path::new("out/www")
        );
        for home in ["/", ".", ""] {
            assert!(local_copy(home, None).is_err(), "{home:?}");
            assert_eq!(
                local_copy(home, Some(Path::new("x"))).unwrap(),
                Path::new("x")
            );
        }
        assert!(local_copy("a/..", None).is_err());
        assert!(local_copy("a\\b", None).is_err());
    }
}
