//! `ftp get REMOTE [LOCAL]` (and the dispatch of `get REMOTE... --to DIR`, see
//! [`super::get_many`]).
//!
//! The local name comes from the user (LOCAL) or from the last component of REMOTE, checked
//! like any name from outside: never empty, `.`, `..`, with a separator or a control
//! character, so a download lands only in the folder the user named. An existing LOCAL is not
//! replaced without `--force`: a regular file is compared with the remote one (`identical`,
//! exit 0, or "already exists", exit 4: see [`crate::identical`]); anything else there is
//! refused before connecting (exit 4). Ctrl-C or SIGTERM after the login stops the download
//! and keeps the `.part` (exit 130).

use std::path::{Path, PathBuf};

use crate::cli::GetArgs;
use crate::error::ClientError;
use crate::jobs::GetJob;
use crate::output;
use crate::progress::Progress;
use crate::remote_glob::remote_file_name;
use crate::session::Session;
use crate::transfer::{self, TransferOptions};

/// Runs `ftp get`.
pub async fn run(session: &mut Session, args: GetArgs) -> Result<(), ClientError> {
    let global = &session.global.clone();
    if args.recursive {
        return crate::tree::get::run(session, args).await;
    }
    if let Some(dir) = args.to.clone() {
        return super::get_many::run(session, args, dir).await;
    }
    let (remote, local) = match args.paths.as_slice() {
        // A lone pattern means the files it matches, here.
        [remote] if crate::remote_glob::has_glob(remote) => {
            return super::get_many::run(session, args, PathBuf::from(".")).await;
        }
        [remote] => (remote.clone(), None),
        [remote, local] => (remote.clone(), Some(PathBuf::from(local))),
        _ => {
            return Err(ClientError::Usage(
                "several remote files need --to DIR (ftp get REMOTE... --to DIR)".into(),
            ));
        }
    };
    let job = GetJob {
        local: local_target(&remote, local.as_deref(), args.force)?,
        remote: remote.clone(),
        durable: !args.no_fsync,
    };
    let options = TransferOptions::new(args.force, args.retries, args.limit_rate)?;
    let (connector, client) = session.transfer()?;
    let progress = Progress::new(global.quiet, 1, 0);
    let outcome = transfer::get_with_retries(connector, client, &job, &options, &progress).await?;
    if global.json {
        super::print(&format!("{}\n", output::get_json(&job, &outcome)))?;
    } else if !global.quiet {
        super::print(&format!("{}\n", output::get_summary(&job, &outcome)))?;
    }
    session.finish_quietly().await;
    Ok(())
}

/// Where the download goes: LOCAL, LOCAL/NAME when LOCAL is a folder, or ./NAME. A few
/// metadata calls on the async runtime, once per command before anything connects (nothing
/// else runs then); every file-system call of the transfer itself runs off it.
fn local_target(remote: &str, local: Option<&Path>, force: bool) -> Result<PathBuf, ClientError> {
    let target = match local {
        Some(path) if path.is_dir() || path.as_os_str().to_string_lossy().ends_with('/') => {
            path.join(remote_file_name(remote)?)
        }
        Some(path) => path.to_path_buf(),
        None => PathBuf::from(remote_file_name(remote)?),
    };
    if target.is_dir() {
        return Err(ClientError::Usage(format!(
            "{} is a folder",
            target.display()
        )));
    }
    let folder = match target.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    if !folder.is_dir() {
        return Err(ClientError::Usage(format!(
            "local folder {} does not exist",
            folder.display()
        )));
    }
    if !force {
        // A regular file is compared once connected; anything else is refused now.
        crate::identical::existing_len(&target)?;
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ftp_proto::ErrorKind;

    #[test]
    fn names_from_remote_paths_stay_in_the_folder() {
        assert_eq!(remote_file_name("a/b/c.txt").unwrap(), "c.txt");
        assert_eq!(remote_file_name("/c.txt/").unwrap(), "c.txt");
        for bad in ["", "/", "a/..", "..", ".", "a/b\\..", "x/\u{1b}[2J"] {
            assert!(remote_file_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn targets_and_existing_files() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("in");
        std::fs::create_dir(&folder).unwrap();
        assert_eq!(
            local_target("x/y.bin", Some(&folder), false).unwrap(),
            folder.join("y.bin")
        );
        let file = dir.path().join("f");
        std::fs::write(&file, "").unwrap();
        // Compared with the remote file once connected.
        assert_eq!(local_target("y", Some(&file), false).unwrap(), file);
        let link = dir.path().join("l");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert!(matches!(
            local_target("y", Some(&link), false),
            Err(ClientError::Remote {
                kind: ErrorKind::Exists,
                ..
            })
        ));
        assert_eq!(local_target("y", Some(&file), true).unwrap(), file);
        assert_eq!(local_target("y", Some(&link), true).unwrap(), link);
        assert!(local_target("y", Some(&dir.path().join("no/such/f")), false).is_err());
    }
}
