//! `ftp put -r DIR [REMOTE]`: a local folder copied to the server, resumable and verified
//! file by file.
//!
//! The local tree is walked and the remote one listed (one request) before the first byte is
//! sent, and planned ([`super::plan`]); then the folders that no file will create are made,
//! and the files to move go: small ones first, whole and pipelined, then large ones in
//! chunks (tree order within each), each through the single-file machinery (resume at the exact byte, SHA-256 checked,
//! atomic, the local modification time kept). [`prepare`] and [`send`] are what `sync` uses.

use std::collections::HashSet;
use std::path::PathBuf;

use crate::cli::PutArgs;
use crate::connection::Client;
use crate::connector::Connector;
use crate::error::ClientError;
use crate::jobs::{Outcome, PutJob};
use crate::output;
use crate::progress::Progress;
use crate::session::Session;
use crate::transfer::{self, TransferOptions};

use super::names;
use super::plan::{self, Action, PlanOptions};
use super::planned::Planned;
use super::report::Report;
use super::{Flow, checksum, remote, walk};

/// An upload planned: both trees seen, every entry's action decided.
pub type Upload = Planned;

/// Runs `ftp put -r`.
pub async fn run(session: &mut Session, args: PutArgs) -> Result<(), ClientError> {
    let global = &session.global.clone();
    if args.to.is_some() {
        return Err(ClientError::Usage(
            "put -r copies one folder: ftp put -r DIR [REMOTE] (no --to)".into(),
        ));
    }
    let (dir, remote) = match args.paths.as_slice() {
        [dir] => (dir.clone(), None),
        [dir, remote] => (dir.clone(), Some(super::utf8(remote)?)),
        _ => {
            return Err(ClientError::Usage(
                "put -r copies one folder: ftp put -r DIR [REMOTE]".into(),
            ));
        }
    };
    let folder = dir.clone();
    let name = crate::blocking::run(move || {
        super::require_local_folder(&folder)?;
        names::local_folder_name(&folder)
    })
    .await?;
    if remote.as_deref() == Some("") {
        return Err(ClientError::Usage(
            "REMOTE is empty: name the copy (\"/\" or \".\" is your home itself)".into(),
        ));
    }
    let remote_root = names::remote_copy(&name, remote.as_deref());
    let options = TransferOptions::new(args.force, args.retries, args.limit_rate)?;
    let plan_options = PlanOptions {
        checksum: args.tree.checksum,
        force: args.force,
        replace: false,
        local_destination: false,
    };
    let (connector, client) = session.transfer()?;
    let listing = Progress::new(global.quiet, 0, 0);
    let upload = prepare(
        connector,
        client,
        &listing,
        dir,
        remote_root,
        args.tree.follow_links,
        plan_options,
        args.retries,
    )
    .await?;
    let progress = super::progress_for(&upload.plan, global.quiet);
    let mut report = Report::new("put", global);
    send(connector, client, &upload, &options, &progress, &mut report).await?;
    session.finish_quietly().await;
    report.finish(&progress)
}

/// Walks `local_root` (following links when `follow`), lists `remote_root` and plans the
/// upload. Connects as needed.
#[allow(clippy::too_many_arguments)]
pub async fn prepare(
    connector: &mut Connector,
    client: &mut Option<Client>,
    progress: &Progress,
    local_root: PathBuf,
    remote_root: String,
    follow: bool,
    options: PlanOptions,
    retries: u32,
) -> Result<Upload, ClientError> {
    let root = local_root.clone();
    let walked = crate::blocking::run(move || Ok(walk::walk(&root, follow))).await?;
    let destination = remote::list(
        connector,
        client,
        retries,
        progress,
        &remote_root,
        options.checksum,
        true,
    )
    .await?;
    let mut source = walked.entries;
    plan::sort(&mut source);
    if options.checksum {
        let pairs = plan::same_size_pairs(&source, &destination);
        checksum::fill_local(&local_root, &mut source, &destination, &pairs).await;
    }
    Ok(Upload {
        plan: plan::plan(source, destination, options),
        local_root,
        remote_root,
        walk_skipped: walked.skipped,
        walk_failed: walked.failed,
    })
}

/// Carries out `upload`: reports what is not moved, makes the folders no file creates, sends
/// the files. `options.force` must be set when the plan replaces files. `Err` only for what
/// ends the command at once (a signal, stdout gone, a rate below the server's floor); the
/// failures of files are in `report`.
pub async fn send(
    connector: &mut Connector,
    client: &mut Option<Client>,
    upload: &Upload,
    options: &TransferOptions,
    progress: &Progress,
    report: &mut Report,
) -> Result<(), ClientError> {
    upload.report_unmoved(report, progress, |local, remote, entry| {
        let job = PutJob {
            local,
            remote,
            size: entry.size,
        };
        let outcome = super::identical_outcome(entry);
        (
            output::put_json(&job, &outcome),
            output::put_summary(&job, &outcome),
        )
    });
    // The whole remaining size against the quota, before anything is sent.
    super::quota::check(connector, client, options.retries, progress, upload).await?;
    // Folders: those a file sent into creates need no request of their own.
    let covered = super::covered_folders(&upload.plan);
    for item in &upload.plan.items {
        if item.action != Action::MakeDir || covered.contains(item.entry.path.as_str()) {
            continue;
        }
        let path = upload.remote(&item.entry.path);
        let made = remote::make_dir(connector, client, options.retries, progress, &path).await;
        match super::flow(
            made,
            report,
            progress,
            Some(&upload.local(&item.entry.path)),
            &path,
        ) {
            Flow::Go(()) | Flow::Next => {}
            Flow::Stop => return Ok(()),
            Flow::End(error) => return Err(error),
        }
    }
    let mut jobs = Vec::new();
    let mut replacing = HashSet::new();
    for item in &upload.plan.items {
        if !item.action.moves() {
            continue;
        }
        let job = PutJob {
            local: upload.local(&item.entry.path),
            remote: upload.remote(&item.entry.path),
            size: item.entry.size,
        };
        if item.action == (Action::Send { replacing: true }) {
            replacing.insert(job.remote.clone());
        }
        jobs.push(job);
    }
    // Small files first, in one pipelined run (tree order within each kind): a large file
    // between them would break the run and cost a round trip.
    jobs.sort_by_key(|job| !super::is_small(job.size, options));
    send_files(
        connector, client, &jobs, &replacing, options, progress, report,
    )
    .await
}

/// Sends `jobs` in order: runs of small files whole and pipelined, others in chunks.
async fn send_files(
    connector: &mut Connector,
    client: &mut Option<Client>,
    jobs: &[PutJob],
    replacing: &HashSet<String>,
    options: &TransferOptions,
    progress: &Progress,
    report: &mut Report,
) -> Result<(), ClientError> {
    let mut rest = jobs;
    while let Some(first) = rest.first() {
        if report.ended() {
            return Ok(());
        }
        let small = rest
            .iter()
            .take_while(|job| super::is_small(job.size, options))
            .count();
        if small > 1 {
            let (batch, after) = rest.split_at(small);
            rest = after;
            // Set once a file's result stops the transfer.
            let mut stopped: Option<Flow<()>> = None;
            let finished = transfer::put_whole_with_retries(
                connector,
                client,
                batch,
                options,
                progress,
                |job, result| {
                    if stopped.is_none()
                        && let flow @ (Flow::Stop | Flow::End(_)) =
                            reported(report, progress, job, result, replacing)
                    {
                        stopped = Some(flow);
                    }
                },
            )
            .await;
            match stopped {
                Some(Flow::End(error)) => return Err(error),
                Some(_) => return Ok(()),
                None => {}
            }
            match super::flow(finished, report, progress, None, "small files") {
                Flow::Go(()) | Flow::Next => continue,
                Flow::Stop => return Ok(()),
                Flow::End(error) => return Err(error),
            }
        }
        rest = &rest[1..];
        let result = transfer::put_with_retries(connector, client, first, options, progress).await;
        match reported(report, progress, first, result, replacing) {
            Flow::Go(()) | Flow::Next => {}
            Flow::Stop => return Ok(()),
            Flow::End(error) => return Err(error),
        }
    }
    Ok(())
}

/// Reports one file's result; what comes next.
fn reported(
    report: &mut Report,
    progress: &Progress,
    job: &PutJob,
    result: Result<Outcome, ClientError>,
    replacing: &HashSet<String>,
) -> Flow<()> {
    let outcome = match super::flow(result, report, progress, Some(&job.local), &job.remote) {
        Flow::Go(outcome) => outcome,
        Flow::Next => return Flow::Next,
        Flow::Stop => return Flow::Stop,
        Flow::End(error) => return Flow::End(error),
    };
    report.transferred(
        progress,
        output::put_json(job, &outcome),
        output::put_summary(job, &outcome),
        &outcome,
        replacing.contains(&job.remote),
    );
    Flow::Go(())
}
