//! `ftp get REMOTE... --to DIR`: several remote files into one local folder, with `*`, `?`
//! and `[..]` in the last part of a REMOTE matched against a listing of its folder (see
//! [`crate::remote_glob`]).
//!
//! Before the first byte moves, each REMOTE's folder is listed once (one `List` per distinct
//! folder), so the total bar knows the files and bytes. Only regular files are fetched: a
//! folder, link or special file that a pattern matches is skipped with a note (and a
//! `skipped` JSON line); a plain REMOTE that is a folder is refused (use `get -r`). A pattern
//! that matches nothing fails that REMOTE (exit 4), and the others still go, unless the folder
//! holds that very name (`a[1].txt` is fetched as it is). Local names are checked as a single
//! `get` checks them. An existing local file follows the single-file rule (identical content is
//! fine, different is refused per file, exit 4, unless `--force`). Small files go pipelined
//! ([`crate::get_whole`]; one already at its local name is compared there, pipelined too), the
//! others one by one, as do all with `--limit-rate`. Each file's result is printed as a single
//! `get` prints it (a failed one with [`crate::summary::failed_json`] under `--json`), and the
//! command ends with the summary line; the exit code is the first failure's.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use ftp_proto::DirEntry;

use super::get_plan::{Step, Wanted, listing_path, parse, plan};
use crate::cli::GetArgs;
use crate::cli::GlobalArgs;
use crate::connection::Client;
use crate::error::ClientError;
use crate::jobs::{GetJob, Outcome};
use crate::output::{self, printable, remote_shown};
use crate::progress::Progress;
use crate::session::Session;
use crate::summary::{self, Summary};
use crate::transfer::{self, TransferOptions};
use crate::whole::SMALL_FILE;

/// Runs `ftp get REMOTE... --to DIR` (and a lone REMOTE holding a pattern, into `.`).
pub async fn run(session: &mut Session, args: GetArgs, dir: PathBuf) -> Result<(), ClientError> {
    let global = &session.global.clone();
    if !dir.is_dir() {
        return Err(ClientError::Usage(format!(
            "local folder {} does not exist",
            dir.display()
        )));
    }
    let wanted = args
        .paths
        .iter()
        .map(|remote| parse(remote))
        .collect::<Result<Vec<_>, _>>()?;
    let options = TransferOptions::new(args.force, args.retries, args.limit_rate)?;
    let (connector, client) = session.transfer()?;
    let quiet_progress = Progress::new(true, 0, 0);
    let folders: Vec<String> = wanted
        .iter()
        .map(|w| match w {
            Wanted::Plain { folder, .. } => folder.clone(),
            Wanted::Glob(glob) => glob.folder.clone(),
        })
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut listings: HashMap<String, Result<Vec<DirEntry>, ClientError>> = HashMap::new();
    for folder in folders {
        let listed = transfer::with_retries(
            connector,
            client,
            options.retries,
            &quiet_progress,
            "listing",
            async |open: &mut Client| open.list(listing_path(&folder)).await,
        )
        .await;
        match listed {
            // Only a refused or missing folder is that REMOTE's failure; anything else (login,
            // connection) ends the command.
            Err(error) if !matches!(&error, ClientError::Remote { kind, .. } if kind.is_remote_path()) =>
            {
                return Err(error);
            }
            listed => {
                listings.insert(folder, listed);
            }
        }
    }
    let steps = plan(&wanted, &listings, &dir, !args.no_fsync);
    let fetched: Vec<&Option<u64>> = steps
        .iter()
        .filter_map(|s| match s {
            Step::Fetch(_, size) => Some(size),
            _ => None,
        })
        .collect();
    let total = fetched.iter().map(|size| size.unwrap_or(0)).sum();
    let progress = Progress::new(global.quiet, fetched.len(), total);
    progress.show();
    let mut out = Report {
        global,
        progress: &progress,
        summary: Summary::new(),
        first_failure: None,
        ended: None,
        lost: false,
    };
    let small = pipelined(&steps, &options).await?;
    let mut index = 0;
    while index < steps.len() {
        if out.ended.is_some() || out.lost {
            break;
        }
        match &steps[index] {
            Step::Skip(remote, why) => out.skipped(remote, why),
            Step::Fail(remote, error) => out.failure(None, remote, error),
            Step::Fetch(job, _) if small[index].is_some() => {
                let (run, existing): (Vec<GetJob>, Vec<Option<u64>>) = steps[index..]
                    .iter()
                    .zip(&small[index..])
                    .map_while(|(step, small)| match (step, small) {
                        (Step::Fetch(job, _), Some(existing)) => Some((job.clone(), *existing)),
                        _ => None,
                    })
                    .unzip();
                let count = run.len();
                let mut reported = 0;
                let finished = transfer::compare_or_get_whole_with_retries(
                    connector,
                    client,
                    &run,
                    &existing,
                    &options,
                    &progress,
                    |job, result| {
                        reported += 1;
                        out.fetched(job, result);
                    },
                )
                .await;
                if let Err(error) = finished {
                    // Told for the first file that did not go.
                    out.lost(run.get(reported).unwrap_or(job), error);
                }
                index += count;
                continue;
            }
            Step::Fetch(job, size) => {
                // The total counts the listed size already: the file's bar starts at it.
                let size = size.unwrap_or(0);
                let result = transfer::get_sized_with_retries(
                    connector, client, job, size, &options, &progress,
                )
                .await;
                out.fetched(job, result);
            }
        }
        index += 1;
    }
    progress.finish();
    if let Some(error) = out.ended {
        return Err(error);
    }
    if global.json {
        super::print(&format!("{}\n", out.summary.json()))?;
    } else if !global.quiet {
        super::print(&format!("{}\n", out.summary.text()))?;
    }
    session.finish_quietly().await;
    match out.first_failure {
        None => Ok(()),
        Some(code) => Err(ClientError::Several {
            failed: usize::try_from(out.summary.failed).unwrap_or(usize::MAX),
            total: steps.len(),
            code,
        }),
    }
}

/// How each step goes when it goes pipelined: `None` one by one (not small, not listed, a rate
/// limit, or something at its local name that only the single-file rules handle); `Some(None)`
/// fetched, with nothing at its local name; `Some(Some(len))` compared with the regular file
/// of `len` bytes there (not with `--force`, which replaces through the single-file rules).
/// One metadata look per file, off the runtime.
async fn pipelined(
    steps: &[Step],
    options: &TransferOptions,
) -> Result<Vec<Option<Option<u64>>>, ClientError> {
    if options.limit_rate.is_some() {
        return Ok(vec![None; steps.len()]);
    }
    let candidates: Vec<Option<PathBuf>> = steps
        .iter()
        .map(|step| match step {
            Step::Fetch(job, Some(size)) if *size <= SMALL_FILE => Some(job.local.clone()),
            _ => None,
        })
        .collect();
    let force = options.force;
    crate::blocking::run(move || {
        Ok(candidates
            .iter()
            .map(|local| {
                let meta = std::fs::symlink_metadata(local.as_deref()?);
                match meta {
                    Err(_) => Some(None),
                    // An empty file is compared by the single-file rules (a compare asks from
                    // its length, and 0 is a download).
                    Ok(meta) if meta.is_file() && meta.len() > 0 && !force => {
                        Some(Some(meta.len()))
                    }
                    Ok(_) => None,
                }
            })
            .collect())
    })
    .await
}

/// What the command prints and counts as files finish.
struct Report<'a> {
    global: &'a GlobalArgs,
    progress: &'a Progress,
    summary: Summary,
    /// Exit code of the first failure.
    first_failure: Option<u8>,
    /// Set when stdout is gone or a signal came: the command ends with it.
    ended: Option<ClientError>,
    /// The connection is lost for good: the files left cannot go.
    lost: bool,
}

impl Report<'_> {
    /// Prints a line on stdout above the bars.
    fn line(&mut self, line: String) {
        if let Err(error) = self.progress.suspend(|| super::print(&format!("{line}\n"))) {
            self.ended.get_or_insert(error);
        }
    }

    fn fetched(&mut self, job: &GetJob, result: Result<Outcome, ClientError>) {
        match result {
            Ok(outcome) => {
                if !outcome.identical {
                    self.summary.moved(outcome.size);
                }
                if self.global.json {
                    self.line(output::get_json(job, &outcome).to_string());
                } else if !self.global.quiet {
                    self.line(output::get_summary(job, &outcome));
                }
            }
            Err(error @ (ClientError::Interrupted(_) | ClientError::BelowServerFloor { .. })) => {
                self.ended.get_or_insert(error);
            }
            Err(error) => {
                self.lost |= transfer::is_retryable(&error);
                self.failure(Some(&job.local), &job.remote, &error);
            }
        }
    }

    /// A batch of small files ended early: the connection is lost for good, or a signal came.
    fn lost(&mut self, job: &GetJob, error: ClientError) {
        if matches!(error, ClientError::Interrupted(_)) {
            self.ended.get_or_insert(error);
            return;
        }
        self.lost = true;
        self.failure(None, &job.remote, &error);
    }

    fn failure(&mut self, local: Option<&Path>, remote: &str, error: &ClientError) {
        self.summary.failed += 1;
        self.first_failure.get_or_insert(error.exit_code());
        let text = format!("{}: {error}", remote_shown(remote));
        self.progress
            .suspend(|| eprintln!("ftp: error: {}", output::printable_lines(&text)));
        if self.global.json {
            self.line(summary::failed_json("get", local, Some(remote), error).to_string());
        }
    }

    fn skipped(&mut self, remote: &str, why: &str) {
        self.summary.skipped += 1;
        let shown = remote_shown(remote);
        self.progress.note(&format!("{}: {why}", printable(&shown)));
        if self.global.json {
            let line = serde_json::json!({
                "op": "get",
                "remote": shown,
                "local": null,
                "result": "skipped",
                "reason": why,
            });
            self.line(line.to_string());
        }
    }
}
