//! Which side of `ftp sync SRC DST` is remote, and where the copy goes.
//!
//! Exactly one of SRC and DST starts with `:` (the remote side; `:` alone or `:/` is the home).
//! DST names the copy of SRC itself; a DST ending in `/` (the home among them) means inside it,
//! under SRC's name. The rule never looks at the disk or the server, so re-running the same
//! command is always the same transfer. Pure: no file-system or network call here.

use std::path::{Path, PathBuf};

use ftp_proto::ErrorKind;

use crate::error::ClientError;

/// The two forms, shown whenever the arguments fit neither.
const FORMS: &str = "write the remote side with a leading ':': \
`ftp sync LOCAL_DIR :REMOTE_DIR` uploads, `ftp sync :REMOTE_DIR LOCAL_DIR` downloads";

/// One sync, with both ends resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sides {
    /// Local SRC to remote DST.
    Upload {
        /// The local folder to copy.
        local: PathBuf,
        /// The remote folder to make identical to it (relative to the home, never empty).
        remote: String,
    },
    /// Remote SRC to local DST.
    Download {
        /// The remote folder to copy (relative to the home; empty for the home itself).
        remote: String,
        /// The local folder to make identical to it.
        local: PathBuf,
    },
}

impl Sides {
    /// Resolves `ftp sync SRC DST`. `local_name` gives a local folder's name when its path has
    /// none of its own (`.`, `..`): the caller canonicalises; tests pass a fixed answer.
    pub fn parse(
        src: &str,
        dst: &str,
        local_name: impl Fn(&Path) -> Option<String>,
    ) -> Result<Sides, ClientError> {
        match (src.strip_prefix(':'), dst.strip_prefix(':')) {
            (Some(_), Some(_)) => Err(ClientError::Usage(format!(
                "sync: both {src:?} and {dst:?} are remote; {FORMS}"
            ))),
            (None, None) => Err(ClientError::Usage(format!(
                "sync: neither {src:?} nor {dst:?} is remote; {FORMS}"
            ))),
            (None, Some(remote_dst)) => {
                check_remote(remote_dst)?;
                if src.is_empty() {
                    return Err(ClientError::Usage(format!("sync: SRC is empty; {FORMS}")));
                }
                let local = PathBuf::from(src);
                let remote = if ends_in_folder(remote_dst) {
                    let name = plain_local_name(&local)
                        .or_else(|| local_name(&local))
                        .ok_or_else(|| {
                            ClientError::Usage(format!(
                                "sync: {src:?} has no name of its own; name the remote copy (e.g. :backup/NAME)"
                            ))
                        })?;
                    join_remote(remote_dst, &name)
                } else {
                    normalized(remote_dst)
                };
                Ok(Sides::Upload { local, remote })
            }
            (Some(remote_src), None) => {
                check_remote(remote_src)?;
                if dst.is_empty() {
                    return Err(ClientError::Usage(format!("sync: DST is empty; {FORMS}")));
                }
                let remote = normalized(remote_src);
                let local = if dst.ends_with('/') {
                    let name = crate::remote_glob::remote_file_name(&remote).map_err(|_| {
                        ClientError::Usage(format!(
                            "sync: {src:?} has no usable name; name the local copy (without a trailing '/')"
                        ))
                    })?;
                    Path::new(dst).join(name)
                } else {
                    PathBuf::from(dst)
                };
                Ok(Sides::Download { remote, local })
            }
        }
    }
}

/// A remote path with `..` in it leads outside the folder named: refused before connecting
/// (exit 4, as the server would refuse it).
fn check_remote(remote: &str) -> Result<(), ClientError> {
    if remote.split(['/', '\\']).any(|part| part == "..") {
        return Err(ClientError::Remote {
            kind: ErrorKind::InvalidPath,
            message: format!(":{remote} leads outside the folder it names ('..' is refused)"),
        });
    }
    Ok(())
}

/// Whether a remote destination means "inside this folder": it ends in `/`, or is the home
/// (`:` alone, `:/`).
fn ends_in_folder(remote: &str) -> bool {
    remote.ends_with('/') || normalized(remote).is_empty()
}

/// The plain parts of a remote path: no empty or `.` part.
fn parts(remote: &str) -> impl Iterator<Item = &str> {
    remote
        .split('/')
        .filter(|part| !part.is_empty() && *part != ".")
}

/// A remote path without leading, trailing or doubled `/` and without `.` parts (empty for
/// the home).
fn normalized(remote: &str) -> String {
    parts(remote).collect::<Vec<_>>().join("/")
}

/// `folder/name` in remote form (just `name` for the home).
fn join_remote(folder: &str, name: &str) -> String {
    parts(folder)
        .chain(std::iter::once(name))
        .collect::<Vec<_>>()
        .join("/")
}

/// A local path's last name when it has one that is plain UTF-8 (not `.`, `..` or a root).
fn plain_local_name(path: &Path) -> Option<String> {
    match path.components().next_back()? {
        std::path::Component::Normal(name) => name.to_str().map(str::to_owned),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(src: &str, dst: &str) -> Result<Sides, ClientError> {
        Sides::parse(src, dst, |_| Some("here".into()))
    }

    fn upload(local: &str, remote: &str) -> Sides {
        Sides::Upload {
            local: local.into(),
            remote: remote.into(),
        }
    }

    fn download(remote: &str, local: &str) -> Sides {
        Sides::Download {
            remote: remote.into(),
            local: local.into(),
        }
    }

    #[test]
    fn the_remote_side_decides_the_direction() {
        assert_eq!(
            parse("photos", ":backup/photos").unwrap(),
            upload("photos", "backup/photos")
        );
        assert_eq!(
            parse(":backup/photos", "photos").unwrap(),
            download("backup/photos", "photos")
        );
    }

    #[test]
    fn both_or_neither_remote_is_a_usage_error_that_shows_the_forms() {
        for (src, dst) in [(":a", ":b"), ("a", "b")] {
            let error = parse(src, dst).unwrap_err();
            assert_eq!(error.exit_code(), 2);
            assert!(error.to_string().contains("ftp sync LOCAL_DIR :REMOTE_DIR"));
            assert!(error.to_string().contains("ftp sync :REMOTE_DIR LOCAL_DIR"));
        }
    }

    #[test]
    fn a_trailing_slash_means_inside_under_the_sources_name() {
        assert_eq!(
            parse("photos/", ":backup/").unwrap(),
            upload("photos/", "backup/photos")
        );
        assert_eq!(
            parse("a/photos", ":").unwrap(),
            upload("a/photos", "photos")
        );
        assert_eq!(parse("photos", ":/").unwrap(), upload("photos", "photos"));
        assert_eq!(parse(".", ":b/").unwrap(), upload(".", "b/here"));
        assert_eq!(
            parse(":backup/photos/", "copies/").unwrap(),
            download("backup/photos", "copies/photos")
        );
        assert_eq!(
            parse(":/backup//photos", "p").unwrap(),
            download("backup/photos", "p")
        );
    }

    #[test]
    fn the_home_as_source_needs_a_named_local_copy() {
        assert_eq!(parse(":", "mine").unwrap(), download("", "mine"));
        assert_eq!(parse(":/", "mine").unwrap(), download("", "mine"));
        assert_eq!(parse(":", "into/").unwrap_err().exit_code(), 2);
    }

    #[test]
    fn dot_dot_in_a_remote_path_is_refused_as_a_remote_path() {
        for (src, dst) in [
            ("a", ":../x"),
            ("a", ":x/../../y"),
            (":..", "b"),
            (":x/..", "b"),
        ] {
            assert_eq!(parse(src, dst).unwrap_err().exit_code(), 4, "{src} {dst}");
        }
    }

    #[test]
    fn a_local_folder_without_a_name_gets_the_callers_answer() {
        let none = Sides::parse("..", ":b/", |_| None).unwrap_err();
        assert_eq!(none.exit_code(), 2);
        assert_eq!(parse("..", ":b/").unwrap(), upload("..", "b/here"));
    }
}
