//! `ftp get REMOTE... --to DIR`: several remote files into one local folder, with `*`, `?`
//! and `[..]` in the last part of a REMOTE matched against a listing of its folder (see
//! [`crate::remote_glob`]).
//!
//! Before the first byte moves, each REMOTE's folder is listed once (one `List` per distinct
//! folder), so the total bar knows the files and bytes. Only regular files are fetched: a
//! folder, link or special file that a pattern matches is skipped with a note (and a
//! `skipped` JSON line); a plain REMOTE that is a folder is refused (use `get -r`). A pattern
//! that matches nothing fails that REMOTE (exit 4), and the others still go, unless the folder
//! holds that very name (`a[1].txt` is fetched as it is). Local names are
//! checked as a single `get` checks them. An existing local file follows the single-file rule
//! (identical content is fine, different is refused per file, exit 4, unless `--force`).
//! Small files with nothing at their local names go pipelined ([`crate::get_whole`]), the
//! others one by one. Each file's result is printed as a single `get` prints it (a failed one
//! with [`crate::summary::failed_json`] under `--json`), and the command ends with the summary
//! line; the exit code is the first failure's.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use ftp_proto::{DirEntry, EntryKind, ErrorKind};

use crate::cli::{GetArgs, GlobalArgs};
use crate::connection::Client;
use crate::connector::Connector;
use crate::error::ClientError;
use crate::output::{self, printable, remote_shown};
use crate::progress::Progress;
use crate::remote_glob::{RemoteGlob, has_glob};
use crate::summary::{self, Summary};
use crate::transfer::{self, GetJob, Outcome, TransferOptions};
use crate::whole::SMALL_FILE;

/// One REMOTE as given: a plain path or a pattern.
enum Wanted {
    /// A plain remote path, and the folder it is in.
    Plain { remote: String, folder: String },
    /// A pattern in the last component.
    Glob(RemoteGlob),
}

/// One line of the plan, in the order of the command line and of each folder's listing.
enum Step {
    /// A file to fetch, with its listed size (`None` when the listing did not show it).
    Fetch(GetJob, Option<u64>),
    /// Left alone, and why.
    Skip(String, String),
    /// Failed before anything moved.
    Fail(String, ClientError),
}

/// Runs `ftp get REMOTE... --to DIR` (and a lone REMOTE holding a pattern, into `.`).
pub async fn run(global: &GlobalArgs, args: GetArgs, dir: PathBuf) -> Result<(), ClientError> {
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
    let options = TransferOptions {
        force: args.force,
        retries: args.retries,
        limit_rate: args.limit_rate,
        upload_id: transfer::new_upload_id()?,
    };
    let mut connector = Connector::new(global)?;
    connector.stop_on_signals();
    let mut client: Option<Client> = None;
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
            &mut connector,
            &mut client,
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
    let small = small_and_new(&steps, &options).await?;
    let mut index = 0;
    while index < steps.len() {
        if out.ended.is_some() || out.lost {
            break;
        }
        match &steps[index] {
            Step::Skip(remote, why) => out.skipped(remote, why),
            Step::Fail(remote, error) => out.failure(None, remote, error),
            Step::Fetch(job, _) if small[index] => {
                let run: Vec<GetJob> = steps[index..]
                    .iter()
                    .zip(&small[index..])
                    .take_while(|(_, small)| **small)
                    .filter_map(|(step, _)| match step {
                        Step::Fetch(job, _) => Some(job.clone()),
                        _ => None,
                    })
                    .collect();
                let count = run.len();
                let finished = transfer::get_whole_with_retries(
                    &mut connector,
                    &mut client,
                    &run,
                    &options,
                    &progress,
                    |job, result| out.fetched(job, result),
                )
                .await;
                if let Err(error) = finished {
                    out.lost(job, error);
                }
                index += count;
                continue;
            }
            Step::Fetch(job, _) => {
                let result = transfer::get_with_retries(
                    &mut connector,
                    &mut client,
                    job,
                    &options,
                    &progress,
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
    if let Some(client) = client {
        let _ = client.quit().await;
    }
    match out.first_failure {
        None => Ok(()),
        Some(code) => Err(ClientError::Several {
            failed: usize::try_from(out.summary.failed).unwrap_or(usize::MAX),
            total: steps.len(),
            code,
        }),
    }
}

/// Whether each step is a small file with nothing at its local name (and no rate limit): those
/// go pipelined. One metadata look per file, off the runtime.
async fn small_and_new(
    steps: &[Step],
    options: &TransferOptions,
) -> Result<Vec<bool>, ClientError> {
    if options.limit_rate.is_some() {
        return Ok(vec![false; steps.len()]);
    }
    let candidates: Vec<Option<PathBuf>> = steps
        .iter()
        .map(|step| match step {
            Step::Fetch(job, Some(size)) if *size <= SMALL_FILE => Some(job.local.clone()),
            _ => None,
        })
        .collect();
    crate::blocking::run(move || {
        Ok(candidates
            .iter()
            .map(|local| {
                local
                    .as_deref()
                    .is_some_and(|local| std::fs::symlink_metadata(local).is_err())
            })
            .collect())
    })
    .await
}

/// The same error again (a listing's refusal is told for each REMOTE of its folder).
fn copy(error: &ClientError) -> ClientError {
    match error {
        ClientError::Remote { kind, message } => ClientError::Remote {
            kind: *kind,
            message: message.clone(),
        },
        other => ClientError::Protocol(other.to_string()),
    }
}

/// Parses one REMOTE; a plain one must end in a usable local name.
fn parse(remote: &str) -> Result<Wanted, ClientError> {
    if has_glob(remote) {
        return RemoteGlob::parse(remote).map(Wanted::Glob);
    }
    super::get::remote_file_name(remote)?;
    let trimmed = remote.trim_end_matches('/');
    let folder = trimmed.rsplit_once('/').map_or("", |(folder, _)| folder);
    Ok(Wanted::Plain {
        remote: remote.to_owned(),
        folder: folder.to_owned(),
    })
}

/// The path to list for a folder ("" is the home).
fn listing_path(folder: &str) -> &str {
    if folder.is_empty() { "/" } else { folder }
}

/// Turns the REMOTEs and their folders' listings into steps (each remote file once).
fn plan(
    wanted: &[Wanted],
    listings: &HashMap<String, Result<Vec<DirEntry>, ClientError>>,
    dir: &Path,
    durable: bool,
) -> Vec<Step> {
    let mut seen = HashSet::new();
    let mut steps = Vec::new();
    let mut fetch = |steps: &mut Vec<Step>, remote: String, name: &str, size: Option<u64>| {
        if seen.insert(remote_shown(&remote)) {
            let job = GetJob {
                local: dir.join(name),
                remote,
                durable,
            };
            steps.push(Step::Fetch(job, size));
        }
    };
    for want in wanted {
        match want {
            Wanted::Plain { remote, folder } => {
                let name = super::get::remote_file_name(remote).unwrap_or_default();
                let listed = match listings.get(folder) {
                    Some(Ok(entries)) => entries.iter().find(|e| e.name == name),
                    _ => None,
                };
                match listed {
                    Some(entry) if entry.kind == EntryKind::Dir => steps.push(Step::Fail(
                        remote.clone(),
                        ClientError::Remote {
                            kind: ErrorKind::Denied,
                            message: format!(
                                "{} is a folder (get -r copies a folder)",
                                printable(&remote_shown(remote))
                            ),
                        },
                    )),
                    // Not listed (or not a plain file): the server's answer to `Get` tells.
                    entry => {
                        let size = entry.filter(|e| e.kind == EntryKind::File).map(|e| e.size);
                        fetch(&mut steps, remote.clone(), name, size);
                    }
                }
            }
            Wanted::Glob(glob) => {
                let shown = remote_shown(&glob.child(&glob.pattern));
                let entries = match listings.get(&glob.folder) {
                    Some(Ok(entries)) => entries,
                    Some(Err(error)) => {
                        steps.push(Step::Fail(shown, copy(error)));
                        continue;
                    }
                    None => continue,
                };
                let mut matched: Vec<&DirEntry> =
                    entries.iter().filter(|e| glob.matches(&e.name)).collect();
                if matched.is_empty() {
                    // A name that merely looks like a pattern (`a[1].txt`) is that name.
                    matched.extend(entries.iter().filter(|e| e.name == glob.pattern));
                }
                if matched.is_empty() {
                    steps.push(Step::Fail(
                        shown.clone(),
                        ClientError::Remote {
                            kind: ErrorKind::NotFound,
                            message: format!("no remote names match {}", printable(&shown)),
                        },
                    ));
                }
                for entry in matched {
                    let remote = glob.child(&entry.name);
                    if entry.kind != EntryKind::File {
                        let what = match entry.kind {
                            EntryKind::Dir => "a folder (get -r copies a folder)",
                            EntryKind::Symlink => "a link (links are not followed)",
                            _ => "not a regular file",
                        };
                        steps.push(Step::Skip(remote, format!("skipped: it is {what}")));
                    } else if super::get::remote_file_name(&entry.name).is_err() {
                        let why = "skipped: its name cannot be a local file name".to_owned();
                        steps.push(Step::Skip(remote, why));
                    } else {
                        fetch(&mut steps, remote, &entry.name, Some(entry.size));
                    }
                }
            }
        }
    }
    steps
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
