//! `ftp sync --dry-run`: the plan printed, one line per action, and nothing changed (the only
//! requests made were the listings). With `--json` the lines are the objects a real run
//! prints, marked `"dry_run": true`, then the summary of what would move (also marked); for
//! a person `upload a/b.jpg (4.0 KiB)`, `replace …`, `delete …`, then that summary. What
//! would fail (a refusal, `--max-delete`, an empty source) is told as it would be, and sets
//! the exit code.

use std::path::Path;

use crate::cli::GlobalArgs;
use crate::error::ClientError;
use crate::output::{printable, remote_shown};
use crate::progress::Progress;
use crate::summary::{Summary, failed_json};
use crate::tree::names;
use crate::tree::plan::{Action, Plan};
use crate::tree::report::{self, Report};

use super::deletions::DeletionPlan;
use super::lines::{self, Direction, FileAction};

/// Everything a dry run shows.
pub struct DryRun<'a> {
    /// Which way the sync goes.
    pub direction: Direction,
    /// The local folder (source or destination).
    pub local_root: &'a Path,
    /// The remote folder (source or destination).
    pub remote_root: &'a str,
    /// The per-entry plan.
    pub plan: &'a Plan,
    /// Local entries the walk left out, and why.
    pub walk_skipped: &'a [(String, &'static str)],
    /// Local entries the walk could not read.
    pub walk_failed: &'a [(String, ClientError)],
    /// With `--delete`: the deletions, and whether the guards let them go.
    pub deletions: Option<(&'a DeletionPlan, Result<(), ClientError>)>,
}

impl DryRun<'_> {
    /// Whether what is in the way of a source entry would be deleted first (then the entry
    /// is sent rather than refused).
    fn clears_the_way(&self) -> bool {
        matches!(self.deletions, Some((_, Ok(()))))
    }
}

/// What the dry run prints as it goes, and the first failure's exit code.
struct Printer {
    /// Prints lines (json or text, quiet).
    report: Report,
    /// A hidden progress display (a dry run moves nothing).
    progress: Progress,
    /// The counts of what would be done.
    summary: Summary,
    /// Exit code of the first thing that would fail.
    first_code: Option<u8>,
    /// With `--json`.
    json: bool,
}

impl Printer {
    /// A line of something that would fail: its `failed` object marked, or on stderr.
    fn failed(&mut self, local: Option<&Path>, remote: Option<&str>, error: &ClientError) {
        self.summary.failed += 1;
        self.first_code.get_or_insert(error.exit_code());
        if self.json {
            let mut value = failed_json("sync", local, remote, error);
            value["dry_run"] = true.into();
            self.report.line(&self.progress, value, None);
        } else {
            let name = match (local, remote) {
                (Some(local), _) => local.display().to_string(),
                (None, Some(remote)) => remote_shown(remote),
                (None, None) => String::new(),
            };
            eprintln!("ftp: error: {}: {error} (dry run)", printable(&name));
        }
    }
}

/// Prints the plan; `Err` with the first failure's exit code when something would fail.
pub fn print(global: &GlobalArgs, dry: DryRun<'_>) -> Result<(), ClientError> {
    let mut printer = Printer {
        report: Report::new("sync", global),
        progress: Progress::new(true, 0, 0),
        summary: Summary::new(),
        first_code: None,
        json: global.json,
    };
    for (shown, reason) in dry.walk_skipped {
        printer.summary.skipped += 1;
        let value = serde_json::json!({
            "op": "sync", "local": shown, "remote": null, "result": "skipped",
            "reason": reason, "dry_run": true,
        });
        printer.report.line(&printer.progress, value, None);
    }
    for (shown, error) in dry.walk_failed {
        printer.failed(Some(Path::new(shown)), None, error);
    }
    for item in &dry.plan.items {
        let relative = item.entry.path.as_str();
        let local = dry.local_root.join(relative);
        let remote = names::remote_join(dry.remote_root, relative);
        let (action, reason) = match item.action {
            Action::Send { replacing: false } => (FileAction::Send, None),
            Action::Send { replacing: true } | Action::Compare => (FileAction::Replace, None),
            Action::Skip(reason) => (FileAction::Skip, Some(reason)),
            Action::Identical => (FileAction::Identical, None),
            Action::MakeDir | Action::FolderThere => continue,
            Action::Refuse(reason) if reason.ends_with("is in the way") && dry.clears_the_way() => {
                if item.entry.kind == ftp_proto::EntryKind::Dir {
                    continue;
                }
                (FileAction::Replace, None)
            }
            Action::Refuse(reason) => {
                printer.failed(Some(&local), Some(&remote), &report::refusal(reason));
                continue;
            }
        };
        match action {
            FileAction::Send | FileAction::Replace => printer.summary.moved(item.entry.size),
            FileAction::Skip => printer.summary.skipped += 1,
            FileAction::Identical => {}
        }
        let value = lines::planned_json(
            dry.direction,
            action,
            &local,
            &remote,
            item.entry.size,
            reason,
        );
        let text = lines::planned_text(dry.direction, action, relative, item.entry.size);
        printer.report.line(&printer.progress, value, text);
    }
    if let Some((deletions, guard)) = dry.deletions {
        match guard {
            Ok(()) => {
                for deletion in &deletions.deletions {
                    let shown = match dry.direction {
                        Direction::Upload => {
                            remote_shown(&names::remote_join(dry.remote_root, &deletion.path))
                        }
                        Direction::Download => {
                            dry.local_root.join(&deletion.path).display().to_string()
                        }
                    };
                    printer.summary.deleted += deletion.count;
                    printer.report.line(
                        &printer.progress,
                        lines::deleted_json(&shown, deletion.is_dir, true),
                        Some(lines::deleted_text(
                            &deletion.path,
                            deletion.is_dir,
                            deletion.count,
                            true,
                        )),
                    );
                }
            }
            Err(error) => match dry.direction {
                Direction::Upload => printer.failed(None, Some(dry.remote_root), &error),
                Direction::Download => printer.failed(Some(dry.local_root), None, &error),
            },
        }
    }
    let summary = lines::dry_run_summary(printer.summary.json());
    let text = format!("dry run, nothing changed: {}", printer.summary.text());
    printer.report.line(&printer.progress, summary, Some(text));
    match printer.first_code {
        None => Ok(()),
        Some(code) => Err(ClientError::Several {
            failed: usize::try_from(printer.summary.failed).unwrap_or(usize::MAX),
            total: dry.plan.items.len().max(1),
            code,
        }),
    }
}
