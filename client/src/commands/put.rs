//! `ftp put LOCAL [REMOTE]` and `ftp put LOCAL... --to DIR`.
//!
//! Every local file is checked before anything is sent: a single file that cannot be read
//! ends the command at once; among several, it is reported and the others still go, as scp
//! and rsync do. Files go one after another over one connection; a failure of one file is
//! reported and the others still go, unless the connection is lost for good. The exit code is
//! the first failure's. Ctrl-C or SIGTERM after the login stops every file at once and the
//! command with it (exit 130).

use std::path::{Path, PathBuf};

use crate::cli::PutArgs;
use crate::error::ClientError;
use crate::jobs::PutJob;
use crate::output;
use crate::progress::Progress;
use crate::session::Session;
use crate::summary::{self, Summary};
use crate::transfer::{self, TransferOptions};
use crate::upload;
use crate::whole;

/// Runs `ftp put`.
pub async fn run(session: &mut Session, args: PutArgs) -> Result<(), ClientError> {
    let global = &session.global.clone();
    if args.recursive {
        return crate::tree::put::run(session, args).await;
    }
    // One open per file: off the runtime, as every file-system call of a transfer.
    let (paths, to) = (args.paths.clone(), args.to.clone());
    let (jobs, unreadable) = crate::blocking::run(move || plan(&paths, to.as_deref())).await?;
    let several = jobs.len() + unreadable.len() > 1;
    let mut failures: Vec<ClientError> = Vec::new();
    // With several files: the counts of the last line.
    let mut summary = Summary::new();
    for (local, error) in unreadable {
        if !several {
            return Err(error);
        }
        eprintln!(
            "ftp: error: {}",
            output::printable_lines(&error.to_string())
        );
        if global.json {
            super::print(&format!(
                "{}\n",
                summary::failed_json("put", Some(&local), None, &error)
            ))?;
        }
        summary.failed += 1;
        failures.push(error);
    }
    let options = TransferOptions::new(args.force, args.retries, args.limit_rate)?;
    let (connector, client) = session.transfer()?;
    let total: u64 = jobs.iter().map(|job| job.size).sum();
    let progress = Progress::new(global.quiet, jobs.len(), total);
    // Set when stdout is gone or a signal came: the command ends with that error.
    let mut ended: Option<ClientError> = None;
    // Reports one file's result; `false` once the connection is lost for good, or stdout, or a
    // signal came.
    let mut report = |job: &PutJob, result: Result<crate::jobs::Outcome, ClientError>| -> bool {
        match result {
            Ok(outcome) => {
                if !outcome.identical {
                    summary.moved(outcome.size);
                }
                if !global.json && global.quiet {
                    return true;
                }
                let line = if global.json {
                    output::put_json(job, &outcome).to_string()
                } else {
                    output::put_summary(job, &outcome)
                };
                if let Err(error) = progress.suspend(|| super::print(&format!("{line}\n"))) {
                    ended = Some(error);
                    return false;
                }
                true
            }
            // A --limit-rate below the server's floor is refused for every file alike, before
            // anything is sent: said once, and the command ends with it.
            Err(error @ (ClientError::Interrupted(_) | ClientError::BelowServerFloor { .. })) => {
                ended = Some(error);
                false
            }
            Err(error) => {
                let fatal = transfer::is_retryable(&error);
                if several {
                    progress.suspend(|| {
                        let text = format!("{}: {error}", job.local.display());
                        eprintln!("ftp: error: {}", output::printable_lines(&text));
                    });
                    summary.failed += 1;
                    if global.json {
                        let line = summary::failed_json(
                            "put",
                            Some(&job.local),
                            Some(&job.remote),
                            &error,
                        );
                        if let Err(error) = progress.suspend(|| super::print(&format!("{line}\n")))
                        {
                            ended = Some(error);
                            return false;
                        }
                    }
                }
                failures.push(error);
                !fatal
            }
        }
    };
    let mut rest = jobs.as_slice();
    while let Some(first) = rest.first() {
        let small = rest
            .iter()
            .take_while(|job| options.limit_rate.is_none() && job.size <= whole::SMALL_FILE)
            .count();
        if small > 1 {
            let (batch, after) = rest.split_at(small);
            rest = after;
            let mut going = true;
            let finished = transfer::put_whole_with_retries(
                connector,
                client,
                batch,
                &options,
                &progress,
                |job, result| going &= report(job, result),
            )
            .await;
            if let Err(error @ ClientError::Interrupted(_)) = finished {
                ended = Some(error);
                break;
            }
            if let Err(error) = finished {
                if several {
                    progress.suspend(|| {
                        eprintln!(
                            "ftp: error: {}",
                            output::printable_lines(&error.to_string())
                        );
                    });
                    if global.json {
                        let line = summary::failed_json("put", None, None, &error);
                        progress.suspend(|| super::print(&format!("{line}\n")))?;
                    }
                }
                failures.push(error);
                break;
            }
            if !going {
                break;
            }
            continue;
        }
        rest = &rest[1..];
        let result =
            transfer::put_with_retries(connector, client, first, &options, &progress).await;
        if !several && let Err(error) = result {
            return Err(error);
        }
        if !report(first, result) {
            break;
        }
    }
    if let Some(error) = ended {
        return Err(error);
    }
    progress.finish();
    session.finish_quietly().await;
    if several {
        if global.json {
            super::print(&format!("{}\n", summary.json()))?;
        } else if !global.quiet {
            super::print(&format!("{}\n", summary.text()))?;
        }
    }
    match failures.len() {
        0 => Ok(()),
        failed => Err(ClientError::Several {
            failed,
            total: args.paths.len(),
            code: failures[0].exit_code(),
        }),
    }
}

/// A local file that cannot be sent, and why.
type Unreadable = (PathBuf, ClientError);

/// Works out each file's remote path and size: the jobs, and why each file that cannot be
/// sent (unreadable, not a file, a name that is not UTF-8) cannot. An error for a command line
/// that names no valid set of files at all. Blocking.
fn plan(
    paths: &[PathBuf],
    to: Option<&str>,
) -> Result<(Vec<PutJob>, Vec<Unreadable>), ClientError> {
    let (locals, remote): (&[PathBuf], Option<String>) = match (to, paths) {
        (Some(_), _) => (paths, None),
        (None, [local]) => (std::slice::from_ref(local), None),
        (None, [local, remote]) => (std::slice::from_ref(local), Some(utf8(remote)?)),
        (None, _) => {
            return Err(ClientError::Usage(
                "several files need --to DIR (ftp put LOCAL... --to DIR)".into(),
            ));
        }
    };
    let planned = locals
        .iter()
        .map(|local| job(local, to, remote.as_ref()).map_err(|error| (local.clone(), error)));
    let (jobs, unreadable): (Vec<_>, Vec<_>) = planned.partition(Result::is_ok);
    Ok((
        jobs.into_iter().filter_map(Result::ok).collect(),
        unreadable.into_iter().filter_map(Result::err).collect(),
    ))
}

/// One local file's job: its remote path (under `to`, or `remote`, or its own name) and size.
/// Blocking.
fn job(local: &Path, to: Option<&str>, remote: Option<&String>) -> Result<PutJob, ClientError> {
    let (_, identity) = upload::open_local(local)?;
    let name = local
        .file_name()
        .map(Path::new)
        .ok_or_else(|| ClientError::Usage(format!("{} has no file name", local.display())))?;
    let name = utf8(name)?;
    let remote = match (to, remote) {
        (Some(dir), _) => join(dir, &name),
        (None, Some(remote)) if names_folder(remote) => join(remote, &name),
        (None, Some(remote)) => remote.clone(),
        (None, None) => name,
    };
    Ok(PutJob {
        local: local.to_path_buf(),
        remote,
        size: identity.size,
    })
}

/// Whether a REMOTE names a folder to put into: it ends with `/`, or is `.` or ends with `/.`.
fn names_folder(remote: &str) -> bool {
    remote.ends_with('/') || remote == "." || remote.ends_with("/.")
}

/// `dir/name` with exactly one slash between.
fn join(dir: &str, name: &str) -> String {
    format!("{}/{name}", dir.trim_end_matches('/'))
}

/// A path as UTF-8 text (remote names are UTF-8).
fn utf8(path: &Path) -> Result<String, ClientError> {
    path.to_str().map(str::to_owned).ok_or_else(|| {
        ClientError::Usage(format!(
            "{} is not valid UTF-8; remote names must be",
            path.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_names_follow_scp() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.txt");
        let b = dir.path().join("b.bin");
        std::fs::write(&a, "aa").unwrap();
        std::fs::write(&b, "b").unwrap();
        let remotes = |paths: &[PathBuf], to| {
            plan(paths, to)
                .unwrap()
                .0
                .into_iter()
                .map(|j| j.remote)
                .collect::<Vec<_>>()
        };
        assert_eq!(remotes(std::slice::from_ref(&a), None), ["a.txt"]);
        assert_eq!(remotes(&[a.clone(), "x/y.txt".into()], None), ["x/y.txt"]);
        assert_eq!(remotes(&[a.clone(), "x/".into()], None), ["x/a.txt"]);
        assert_eq!(remotes(&[a.clone(), ".".into()], None), ["./a.txt"]);
        assert_eq!(remotes(&[a.clone(), "/".into()], None), ["/a.txt"]);
        assert_eq!(
            remotes(&[a.clone(), b.clone()], Some("d/")),
            ["d/a.txt", "d/b.bin"]
        );
        assert!(matches!(
            plan(&[a.clone(), b.clone(), a.clone()], None),
            Err(ClientError::Usage(_))
        ));
        let (jobs, unreadable) = plan(&[dir.path().join("missing")], None).unwrap();
        assert!(jobs.is_empty() && unreadable.len() == 1);
        let (_, unreadable) = plan(&[dir.path().to_path_buf()], None).unwrap();
        assert!(matches!(unreadable[..], [(_, ClientError::Usage(_))]));
        let (jobs, unreadable) =
            plan(&[a.clone(), dir.path().join("missing"), b], Some("d")).unwrap();
        assert_eq!(jobs.len(), 2, "the readable files still go");
        assert_eq!(unreadable.len(), 1);
        assert_eq!(plan(&[a], None).unwrap().0[0].size, 2);
    }
}
