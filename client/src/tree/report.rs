//! What a tree transfer prints and counts: with `--json` one line per file (`uploaded`,
//! `downloaded`, `identical`, `skipped` with its `reason`, `replaced`, `failed` with `error`
//! and `exit_code`) and the summary line last; for a person one line per moved or failed
//! file, a note per file skipped for a reason other than the quick check, and the summary
//! (nothing at all on success with `--quiet`). The exit code is the first failure's.

use std::path::Path;

use serde_json::json;

use crate::cli::GlobalArgs;
use crate::error::ClientError;
use crate::jobs::Outcome;
use crate::output;
use crate::progress::Progress;
use crate::summary::{self, Summary};

/// The results of one tree command.
#[derive(Debug)]
pub struct Report {
    /// `put` or `get` (or `sync`): the `op` of every line.
    op: &'static str,
    /// One JSON object per line.
    json: bool,
    /// Nothing printed on success.
    quiet: bool,
    /// The counts.
    pub summary: Summary,
    /// The first failure's exit code.
    first_code: Option<u8>,
    /// Files (and folders) the command was about, for the final error.
    pub total: usize,
    /// Set when stdout is gone: the command ends with it.
    ended: Option<ClientError>,
}

impl Report {
    /// An empty report for `op`.
    pub fn new(op: &'static str, global: &GlobalArgs) -> Self {
        Report {
            op,
            json: global.json,
            quiet: global.quiet,
            summary: Summary::new(),
            first_code: None,
            total: 0,
            ended: None,
        }
    }

    /// Whether the command is to stop (stdout is gone).
    pub fn ended(&self) -> bool {
        self.ended.is_some()
    }

    /// Prints one line (a JSON object with `--json`, else `text` unless `--quiet`; `None`
    /// prints nothing for a person).
    pub fn line(&mut self, progress: &Progress, value: serde_json::Value, text: Option<String>) {
        let line = if self.json {
            value.to_string()
        } else {
            match text {
                Some(text) if !self.quiet => text,
                _ => return,
            }
        };
        if self.ended.is_none()
            && let Err(error) = progress.suspend(|| crate::output::print(&format!("{line}\n")))
        {
            self.ended = Some(error);
        }
    }

    /// A file moved (`result` as given), `size` bytes.
    pub fn moved(
        &mut self,
        progress: &Progress,
        value: serde_json::Value,
        text: String,
        size: u64,
    ) {
        self.summary.moved(size);
        self.line(progress, self.own(value), Some(text));
    }

    /// A file the transfer moved, or found identical on the way (`value` and `text` its
    /// `put_json`/`get_json` line and summary); `replacing`: it replaced a file that differed.
    pub fn transferred(
        &mut self,
        progress: &Progress,
        mut value: serde_json::Value,
        mut text: String,
        outcome: &Outcome,
        replacing: bool,
    ) {
        if outcome.identical {
            self.identical(progress, value, text);
            return;
        }
        if replacing {
            value["result"] = "replaced".into();
            text.push_str(" (replaced)");
        }
        self.moved(progress, value, text, outcome.size);
    }

    /// A file found identical (not moved).
    pub fn identical(&mut self, progress: &Progress, value: serde_json::Value, text: String) {
        self.line(progress, self.own(value), Some(text));
    }

    /// A file's line (made by `put_json`/`get_json`) under this command's `op` (`sync`).
    fn own(&self, mut value: serde_json::Value) -> serde_json::Value {
        value["op"] = self.op.into();
        value
    }

    /// An entry left alone for `reason` (a note unless it is the quick check's).
    pub fn skipped(
        &mut self,
        progress: &Progress,
        local: &Path,
        remote: &str,
        size: u64,
        reason: &str,
    ) {
        self.summary.skipped += 1;
        let shown = match self.op {
            "get" => output::remote_shown(remote),
            _ => local.display().to_string(),
        };
        if !self.json && reason != super::plan::SAME_SIZE_AND_TIME {
            progress.note(&format!(
                "{}: skipped ({reason})",
                output::printable(&shown)
            ));
        }
        let value = json!({
            "op": self.op,
            "local": local.display().to_string(),
            "remote": output::remote_shown(remote),
            "size": size,
            "result": "skipped",
            "reason": reason,
        });
        self.line(progress, value, None);
    }

    /// A local entry left out by the walk, for `reason`.
    pub fn skipped_local(&mut self, progress: &Progress, shown: &str, reason: &str) {
        self.summary.skipped += 1;
        if !self.json {
            progress.note(&format!("{shown}: skipped ({reason})"));
        }
        let value = json!({
            "op": self.op,
            "local": shown,
            "remote": null,
            "result": "skipped",
            "reason": reason,
        });
        self.line(progress, value, None);
    }

    /// A file that failed (its own line; on stderr for a person).
    pub fn failed(
        &mut self,
        progress: &Progress,
        local: Option<&Path>,
        remote: Option<&str>,
        error: &ClientError,
    ) {
        self.summary.failed += 1;
        self.first_code.get_or_insert(error.exit_code());
        if self.json {
            let value = summary::failed_json(self.op, local, remote, error);
            self.line(progress, value, None);
            return;
        }
        let name = match (self.op, local, remote) {
            ("get", _, Some(remote)) | (_, None, Some(remote)) => output::remote_shown(remote),
            (_, Some(local), _) => local.display().to_string(),
            _ => String::new(),
        };
        progress.suspend(|| {
            let text = format!("{name}: {error}");
            eprintln!("ftp: error: {}", output::printable_lines(&text));
        });
    }

    /// Prints the summary and turns the results into the command's: `Ok` when nothing
    /// failed, else the first failure's exit code.
    pub fn finish(mut self, progress: &Progress) -> Result<(), ClientError> {
        progress.finish();
        let value = self.summary.json();
        let text = self.summary.text();
        self.line(progress, value, Some(text));
        if let Some(error) = self.ended {
            return Err(error);
        }
        match self.first_code {
            None => Ok(()),
            Some(code) => Err(ClientError::Several {
                failed: usize::try_from(self.summary.failed).unwrap_or(usize::MAX),
                total: self.total.max(1),
                code,
            }),
        }
    }
}

/// The refusal of a planned entry (exit 4; the line names the entry).
pub fn refusal(reason: &str) -> ClientError {
    ClientError::Remote {
        kind: ftp_proto::ErrorKind::Exists,
        message: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_failure_gives_the_exit_code_and_the_counts_add_up() {
        let global = GlobalArgs {
            quiet: true,
            ..GlobalArgs::default()
        };
        let progress = Progress::new(true, 0, 0);
        let mut report = Report::new("put", &global);
        report.total = 4;
        report.skipped(&progress, Path::new("a"), "r/a", 1, "symbolic link");
        report.failed(
            &progress,
            Some(Path::new("b")),
            Some("r/b"),
            &refusal("differs"),
        );
        let lost = ClientError::Connection("reset".into());
        report.failed(&progress, Some(Path::new("c")), Some("r/c"), &lost);
        assert_eq!((report.summary.skipped, report.summary.failed), (1, 2));
        match report.finish(&progress) {
            Err(ClientError::Several {
                failed: 2,
                total: 4,
                code: 4,
            }) => {}
            other => panic!("{other:?}"),
        }
        let clean = Report::new("get", &global);
        assert!(clean.finish(&progress).is_ok());
    }
}
