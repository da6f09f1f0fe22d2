//! A tree transfer planned (both trees seen, every entry's action decided), and what `put -r`
//! and `get -r` (and `sync`) report of it before the first byte moves: the entries the local
//! walk left out or could not read, the entries skipped or refused by the plan, and the files
//! `--checksum` found identical.

use std::path::{Path, PathBuf};

use ftp_proto::TreeEntry;

use crate::error::ClientError;
use crate::progress::Progress;

use super::names;
use super::plan::{Action, Plan};
use super::report::{self, Report};

/// A tree transfer planned, either way.
#[derive(Debug)]
pub struct Planned {
    /// The local folder (the source of an upload, the copy of a download).
    pub local_root: PathBuf,
    /// The remote folder (the copy of an upload, the source of a download).
    pub remote_root: String,
    /// What to do with each entry (and what the destination has that the source lacks; for a
    /// download, the `.part` files of downloads under way are not counted there).
    pub plan: Plan,
    /// Local entries the walk left out, and why.
    pub walk_skipped: Vec<(String, &'static str)>,
    /// Local entries the walk could not read.
    pub walk_failed: Vec<(String, ClientError)>,
}

impl Planned {
    /// The local path of the entry `path` (relative, '/'-joined).
    pub fn local(&self, path: &str) -> PathBuf {
        self.local_root.join(path)
    }

    /// The remote path of the entry `path`.
    pub fn remote(&self, path: &str) -> String {
        names::remote_join(&self.remote_root, path)
    }

    /// Shows the progress, counts the entries, says how much is already there and reports
    /// every entry that will not move: `identical_line` gives the line (JSON, text) of a file
    /// found identical, from its local path, remote path and entry.
    pub fn report_unmoved(
        &self,
        report: &mut Report,
        progress: &Progress,
        identical_line: impl Fn(PathBuf, String, &TreeEntry) -> (serde_json::Value, String),
    ) {
        progress.show();
        let totals = self.plan.totals();
        report.total += super::counted(self.plan.items.iter()) + self.walk_failed.len();
        super::note_already_there(progress, &totals);
        for (shown, reason) in &self.walk_skipped {
            report.skipped_local(progress, shown, reason);
        }
        for (shown, error) in &self.walk_failed {
            report.failed(progress, Some(Path::new(shown)), None, error);
        }
        for item in &self.plan.items {
            let path = item.entry.path.as_str();
            match item.action {
                Action::Skip(reason) => {
                    report.skipped(
                        progress,
                        &self.local(path),
                        &self.remote(path),
                        item.entry.size,
                        reason,
                    );
                }
                Action::Refuse(reason) => report.failed(
                    progress,
                    Some(&self.local(path)),
                    Some(&self.remote(path)),
                    &report::refusal(reason),
                ),
                Action::Identical => {
                    let (value, text) =
                        identical_line(self.local(path), self.remote(path), &item.entry);
                    report.identical(progress, value, text);
                }
                _ => {}
            }
        }
    }
}
