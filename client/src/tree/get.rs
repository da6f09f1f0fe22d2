//! `ftp get -r REMOTE_DIR [LOCAL]`: a remote folder copied here, resumable and verified file
//! by file.
//!
//! The remote tree is listed (one request) and the local copy walked before the first byte
//! moves, and planned ([`super::plan`]): remote links and special files are skipped with a
//! note, as are names unusable as local file names. Writing never goes through a local link:
//! a link where the tree has a file or folder is refused (exit 4), and so is a LOCAL that is a
//! link. Folders are created (empty ones too), then the files come through the single-file
//! machinery (`NAME.part`, resumed at the exact byte, SHA-256 checked, renamed into place,
//! the server's modification time kept). [`prepare`] and [`fetch`] are what `sync` uses.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use ftp_proto::EntryKind;

use crate::cli::GetArgs;
use crate::connection::Client;
use crate::connector::Connector;
use crate::error::ClientError;
use crate::jobs::GetJob;
use crate::output;
use crate::progress::Progress;
use crate::session::Session;
use crate::transfer::TransferOptions;

use super::plan::{self, Action, Plan, PlanOptions};
use super::planned::Planned;
use super::report::{self, Report};
use super::{Flow, checksum, remote, walk};
use super::{downloads, names};

/// A download planned: both trees seen, every entry's action decided (the plan's extras do not
/// count the `.part` files of downloads under way).
pub type Download = Planned;

/// Runs `ftp get -r`.
pub async fn run(session: &mut Session, args: GetArgs) -> Result<(), ClientError> {
    let global = &session.global.clone();
    if args.to.is_some() {
        return Err(ClientError::Usage(
            "get -r copies one folder: ftp get -r REMOTE_DIR [LOCAL] (no --to)".into(),
        ));
    }
    let (remote_root, local) = match args.paths.as_slice() {
        [remote] => (remote.clone(), None),
        [remote, local] => (remote.clone(), Some(PathBuf::from(local))),
        _ => {
            return Err(ClientError::Usage(
                "get -r copies one folder: ftp get -r REMOTE_DIR [LOCAL]".into(),
            ));
        }
    };
    if local
        .as_ref()
        .is_some_and(|local| local.as_os_str().is_empty())
    {
        return Err(ClientError::Usage(
            "LOCAL is empty: name the copy (\".\" is this folder itself)".into(),
        ));
    }
    let local_root = names::local_copy(&remote_root, local.as_deref())?;
    let options = TransferOptions::new(args.force, args.retries, args.limit_rate)?;
    let plan_options = PlanOptions {
        checksum: args.checksum,
        force: args.force,
        replace: false,
        local_destination: true,
    };
    let (connector, client) = session.transfer()?;
    let listing = Progress::new(global.quiet, 0, 0);
    let download = prepare(
        connector,
        client,
        &listing,
        remote_root,
        local_root,
        plan_options,
        args.retries,
    )
    .await?;
    let progress = super::progress_for(&download.plan, global.quiet);
    let mut report = Report::new("get", global);
    fetch(
        connector,
        client,
        &download,
        &options,
        !args.no_fsync,
        &progress,
        &mut report,
    )
    .await?;
    session.finish_quietly().await;
    report.finish(&progress)
}

/// Lists `remote_root` (a missing one is an error), walks `local_root` (never following a
/// link) and plans the download. Connects as needed.
pub async fn prepare(
    connector: &mut Connector,
    client: &mut Option<Client>,
    progress: &Progress,
    remote_root: String,
    local_root: PathBuf,
    options: PlanOptions,
    retries: u32,
) -> Result<Download, ClientError> {
    let source = remote::list(
        connector,
        client,
        retries,
        progress,
        &remote_root,
        options.checksum,
        false,
    )
    .await?;
    let root = local_root.clone();
    let walked = crate::blocking::run(move || walk_local_copy(&root)).await?;
    let mut destination = walked.entries;
    plan::sort(&mut destination);
    if options.checksum {
        let pairs: Vec<_> = plan::same_size_pairs(&source, &destination)
            .into_iter()
            .map(|(remote, local)| (local, remote))
            .collect();
        checksum::fill_local(&local_root, &mut destination, &source, &pairs).await;
    }
    let mut plan = plan::plan(source, destination, options);
    drop_parts(&mut plan);
    Ok(Download {
        plan,
        remote_root,
        local_root,
        walk_skipped: walked.skipped,
        walk_failed: walked.failed,
    })
}

/// The local copy's tree: empty when it is not there yet; refused when it is a link or not a
/// folder. Blocking.
fn walk_local_copy(root: &Path) -> Result<walk::Walked, ClientError> {
    let shown = output::printable(&root.display().to_string());
    match std::fs::symlink_metadata(root) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(walk::Walked::default()),
        Err(source) => Err(ClientError::Local {
            context: format!("cannot read {shown}"),
            source,
        }),
        Ok(meta) if meta.is_dir() => Ok(walk::walk(root, false)),
        Ok(meta) if meta.file_type().is_symlink() => Err(report::refusal(&format!(
            "{shown} is a symbolic link: a tree is never written through one (name the folder it points to)"
        ))),
        Ok(_) => Err(report::refusal(&format!(
            "{shown} is already there and is not a folder"
        ))),
    }
}

/// Leaves out of the plan's extras the `.part` files of the files it downloads.
fn drop_parts(plan: &mut Plan) {
    let parts: HashSet<PathBuf> = plan
        .items
        .iter()
        .filter(|item| item.entry.kind == EntryKind::File)
        .map(|item| crate::part::part_path(Path::new(&item.entry.path)))
        .collect();
    plan.extra
        .retain(|extra| extra.kind != EntryKind::File || !parts.contains(Path::new(&extra.path)));
}

/// Carries out `download`: reports what is not moved, creates the local folders, downloads
/// the files (`durable`: fsync before each rename). `options.force` must be set when the
/// plan replaces files. `Err` only for what ends the command at once (a signal, stdout gone,
/// a rate below the server's floor, a local copy that cannot be created); the failures of
/// files are in `report`.
pub async fn fetch(
    connector: &mut Connector,
    client: &mut Option<Client>,
    download: &Download,
    options: &TransferOptions,
    durable: bool,
    progress: &Progress,
    report: &mut Report,
) -> Result<(), ClientError> {
    download.report_unmoved(report, progress, |local, remote, entry| {
        let job = GetJob {
            remote,
            local,
            durable,
        };
        let outcome = super::identical_outcome(entry);
        (
            output::get_json(&job, &outcome),
            output::get_summary(&job, &outcome),
        )
    });
    make_folders(download, report, progress).await?;
    let mut jobs = Vec::new();
    let mut replacing = HashSet::new();
    let mut sizes = Vec::new();
    let mut moving: Vec<_> = download
        .plan
        .items
        .iter()
        .filter(|item| item.action.moves())
        .collect();
    // Small files first, in one run (tree order within each kind), as put -r sends them.
    moving.sort_by_key(|item| !super::is_small(item.entry.size, options));
    for item in moving {
        let job = GetJob {
            remote: download.remote(&item.entry.path),
            local: download.local(&item.entry.path),
            durable,
        };
        if item.action == (Action::Send { replacing: true }) {
            replacing.insert(job.remote.clone());
        }
        jobs.push(job);
        sizes.push(item.entry.size);
    }
    let mut ended = None;
    let finished = downloads::download_files(
        connector,
        client,
        &jobs,
        &sizes,
        options,
        progress,
        |job, result| {
            let outcome = match super::flow(result, report, progress, Some(&job.local), &job.remote)
            {
                Flow::Go(outcome) => outcome,
                Flow::Next => return true,
                Flow::Stop => return false,
                Flow::End(error) => {
                    ended = Some(error);
                    return false;
                }
            };
            report.transferred(
                progress,
                output::get_json(job, &outcome),
                output::get_summary(job, &outcome),
                &outcome,
                replacing.contains(&job.remote),
            );
            true
        },
    )
    .await;
    if let Flow::End(error) = super::flow(finished, report, progress, None, "small files") {
        return Err(error);
    }
    ended.map_or(Ok(()), Err)
}

/// Creates the local copy and its folders, in tree order (parents first), never through a
/// link: a folder whose creation fails is reported, and the files in it fail on their own.
async fn make_folders(
    download: &Download,
    report: &mut Report,
    progress: &Progress,
) -> Result<(), ClientError> {
    let root = download.local_root.clone();
    let folders: Vec<String> = download
        .plan
        .items
        .iter()
        .filter(|item| item.action == Action::MakeDir)
        .map(|item| item.entry.path.clone())
        .collect();
    let failures = crate::blocking::run(move || {
        std::fs::create_dir_all(&root).map_err(|source| ClientError::Local {
            context: format!("cannot create {}", root.display()),
            source,
        })?;
        let mut failures = Vec::new();
        for folder in folders {
            let path = root.join(&folder);
            if let Err(error) = make_folder(&path) {
                failures.push((path, folder, error));
            }
        }
        Ok(failures)
    })
    .await?;
    for (path, folder, error) in failures {
        let remote = names::remote_join(&download.remote_root, &folder);
        report.failed(progress, Some(&path), Some(&remote), &error);
    }
    Ok(())
}

/// Creates one folder; one already there is fine only if it is a folder (not a link to one).
/// Blocking.
fn make_folder(path: &Path) -> Result<(), ClientError> {
    match std::fs::create_dir(path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            match std::fs::symlink_metadata(path) {
                Ok(meta) if meta.is_dir() => Ok(()),
                _ => Err(report::refusal(
                    "something other than a folder is in the way",
                )),
            }
        }
        Err(source) => Err(ClientError::Local {
            context: format!("cannot create {}", path.display()),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ftp_proto::TreeEntry;

    fn file(path: &str) -> TreeEntry {
        TreeEntry {
            path: path.into(),
            kind: EntryKind::File,
            size: 1,
            modified_secs: 0,
            modified_nanos: 0,
            sha256: None,
        }
    }

    #[test]
    fn parts_of_downloads_are_not_extras() {
        let plan = plan::plan(
            vec![file("a"), file("b")],
            vec![file("a.part"), file("c"), file("c.part")],
            PlanOptions::default(),
        );
        let mut plan = plan;
        drop_parts(&mut plan);
        let extra: Vec<_> = plan.extra.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(extra, ["c", "c.part"]);
    }

    #[test]
    fn a_local_copy_that_is_a_link_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("l");
        std::os::unix::fs::symlink(dir.path(), &link).unwrap();
        let refused = walk_local_copy(&link).unwrap_err();
        assert_eq!(refused.exit_code(), 4);
        assert!(
            walk_local_copy(&dir.path().join("new"))
                .unwrap()
                .entries
                .is_empty()
        );
    }
}
