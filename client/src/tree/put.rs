//! `ftp put -r DIR [REMOTE]`: a local folder copied to the server, resumable and verified
//! file by file.
//!
//! The local tree is walked and the remote one listed (one request) before the first byte is
//! sent, and planned ([`super::plan`]); then the folders that no file will create are made,
//! and the files to move go in tree order: small ones whole and pipelined, large ones in
//! chunks, each through the single-file machinery (resume at the exact byte, SHA-256 checked,
//! atomic, the local modification time kept). [`prepare`] and [`send`] are what `sync` uses.

use std::collections::HashSet;
use std::path::PathBuf;

use crate::cli::{GlobalArgs, PutArgs};
use crate::connection::Client;
use crate::connector::Connector;
use crate::error::ClientError;
use crate::output;
use crate::progress::Progress;
use crate::transfer::{self, Outcome, PutJob, TransferOptions};
use crate::whole;

use super::names;
use super::plan::{self, Action, Plan, PlanOptions};
use super::report::{self, Report};
use super::{Flow, checksum, remote, walk};

/// An upload planned: both trees seen, every entry's action decided.
#[derive(Debug)]
pub struct Upload {
    /// The local folder copied.
    pub local_root: PathBuf,
    /// The remote copy of it.
    pub remote_root: String,
    /// What to do with each entry (and what the remote copy has that the local folder lacks).
    pub plan: Plan,
    /// Local entries the walk left out, and why.
    pub walk_skipped: Vec<(String, &'static str)>,
    /// Local entries the walk could not read.
    pub walk_failed: Vec<(String, ClientError)>,
}

/// Runs `ftp put -r`.
pub async fn run(global: &GlobalArgs, args: PutArgs) -> Result<(), ClientError> {
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
    let remote_root = names::remote_copy(&name, remote.as_deref());
    let options = TransferOptions {
        force: args.force,
        retries: args.retries,
        limit_rate: args.limit_rate,
        upload_id: transfer::new_upload_id()?,
    };
    let plan_options = PlanOptions {
        checksum: args.tree.checksum,
        force: args.force,
        replace: false,
        local_destination: false,
    };
    let mut connector = Connector::new(global)?;
    connector.stop_on_signals();
    let mut client = None;
    let listing = Progress::new(global.quiet, 0, 0);
    let upload = prepare(
        &mut connector,
        &mut client,
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
    send(
        &mut connector,
        &mut client,
        &upload,
        &options,
        &progress,
        &mut report,
    )
    .await?;
    if let Some(client) = client {
        let _ = client.quit().await;
    }
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
    progress.show();
    let totals = upload.plan.totals();
    report.total += super::counted(upload.plan.items.iter()) + upload.walk_failed.len();
    super::note_already_there(progress, &totals);
    for (shown, reason) in &upload.walk_skipped {
        report.skipped_local(progress, shown, reason);
    }
    for (shown, error) in &upload.walk_failed {
        report.failed(progress, Some(std::path::Path::new(shown)), None, error);
    }
    let local = |path: &str| upload.local_root.join(path);
    let remote = |path: &str| names::remote_join(&upload.remote_root, path);
    for item in &upload.plan.items {
        let path = item.entry.path.as_str();
        match item.action {
            Action::Skip(reason) => {
                report.skipped(
                    progress,
                    &local(path),
                    &remote(path),
                    item.entry.size,
                    reason,
                );
            }
            Action::Refuse(reason) => report.failed(
                progress,
                Some(&local(path)),
                Some(&remote(path)),
                &report::refusal(reason),
            ),
            Action::Identical => {
                let job = PutJob {
                    local: local(path),
                    remote: remote(path),
                    size: item.entry.size,
                };
                let outcome = super::identical_outcome(&item.entry);
                report.identical(
                    progress,
                    output::put_json(&job, &outcome),
                    output::put_summary(&job, &outcome),
                );
            }
            _ => {}
        }
    }
    // Folders: those a file sent into creates need no request of their own.
    let covered = super::covered_folders(&upload.plan);
    for item in &upload.plan.items {
        if item.action != Action::MakeDir || covered.contains(item.entry.path.as_str()) {
            continue;
        }
        let path = remote(&item.entry.path);
        let made = remote::make_dir(connector, client, options.retries, progress, &path).await;
        match super::flow(
            made,
            report,
            progress,
            Some(&local(&item.entry.path)),
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
            local: local(&item.entry.path),
            remote: remote(&item.entry.path),
            size: item.entry.size,
        };
        if item.action == (Action::Send { replacing: true }) {
            replacing.insert(job.remote.clone());
        }
        jobs.push(job);
    }
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
            .take_while(|job| options.limit_rate.is_none() && job.size <= whole::SMALL_FILE)
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
    let mut value = output::put_json(job, &outcome);
    let mut text = output::put_summary(job, &outcome);
    if outcome.identical {
        report.identical(progress, value, text);
    } else {
        if replacing.contains(&job.remote) {
            value["result"] = "replaced".into();
            text.push_str(" (replaced)");
        }
        report.moved(progress, value, text, outcome.size);
    }
    Flow::Go(())
}
