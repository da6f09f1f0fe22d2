//! The lines `ftp sync` prints for its plan and its deletions: with `--dry-run`, one line per
//! action (text `upload a/b.jpg (4.0 KiB)`, `replace …`, `delete …`), or with `--json` the same
//! objects a real run prints, marked `"dry_run": true`; and the `deleted` line of each path
//! removed, `{"op":"sync","path","result":"deleted","kind":"file"|"dir"}`.
//!
//! Pure formatting: names are made printable here, nothing is written.

use std::path::Path;

use indicatif::HumanBytes;
use serde_json::json;

use crate::output::{printable, remote_shown};

/// Which way a sync goes, for the words of its lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Local to remote.
    Upload,
    /// Remote to local.
    Download,
}

/// What a sync does with one source file (or would, in a dry run).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileAction {
    /// No counterpart: sent (`uploaded` / `downloaded`).
    Send,
    /// A counterpart that differs: replaced.
    Replace,
    /// Left alone without reading it (same size and time, a link, an unusable name).
    Skip,
    /// Same content (known from SHA-256 with `--checksum`).
    Identical,
}

impl FileAction {
    /// The `result` word of its JSON line.
    pub fn result(self, direction: Direction) -> &'static str {
        match (self, direction) {
            (FileAction::Send, Direction::Upload) => "uploaded",
            (FileAction::Send, Direction::Download) => "downloaded",
            (FileAction::Replace, _) => "replaced",
            (FileAction::Skip, _) => "skipped",
            (FileAction::Identical, _) => "identical",
        }
    }

    /// The verb of its dry-run text line; `None` for what is not an action (left alone).
    fn verb(self, direction: Direction) -> Option<&'static str> {
        match (self, direction) {
            (FileAction::Send, Direction::Upload) => Some("upload"),
            (FileAction::Send, Direction::Download) => Some("download"),
            (FileAction::Replace, _) => Some("replace"),
            (FileAction::Skip | FileAction::Identical, _) => None,
        }
    }
}

/// The dry-run `--json` line of one file: `{"op":"sync","local","remote","size","result",
/// "dry_run":true}` (plus `reason` for a skipped one).
pub fn planned_json(
    direction: Direction,
    action: FileAction,
    local: &Path,
    remote: &str,
    size: u64,
    reason: Option<&str>,
) -> serde_json::Value {
    let mut line = json!({
        "op": "sync",
        "local": local.display().to_string(),
        "remote": remote_shown(remote),
        "size": size,
        "result": action.result(direction),
        "dry_run": true,
    });
    if let Some(reason) = reason {
        line["reason"] = reason.into();
    }
    line
}

/// The dry-run text line of one file (`upload a/b.jpg (4.0 KiB)`); `None` when it is left
/// alone, which is no action.
pub fn planned_text(
    direction: Direction,
    action: FileAction,
    relative: &str,
    size: u64,
) -> Option<String> {
    action
        .verb(direction)
        .map(|verb| format!("{verb} {} ({})", printable(relative), HumanBytes(size)))
}

/// The `--json` line of a deleted path (`shown`: the remote path from the home, or the local
/// path), marked `dry_run` when it only would be.
pub fn deleted_json(shown: &str, is_dir: bool, dry_run: bool) -> serde_json::Value {
    let mut line = json!({
        "op": "sync",
        "path": shown,
        "result": "deleted",
        "kind": if is_dir { "dir" } else { "file" },
    });
    if dry_run {
        line["dry_run"] = true.into();
    }
    line
}

/// The text line of a deletion: `delete old/` in a dry run, `deleted old/` after it (a
/// folder with how many went with it, when more than itself).
pub fn deleted_text(relative: &str, is_dir: bool, count: u64, dry_run: bool) -> String {
    let verb = if dry_run { "delete" } else { "deleted" };
    let name = printable(relative);
    if is_dir && count > 1 {
        format!("{verb} {name}/ ({count} files and folders)")
    } else if is_dir {
        format!("{verb} {name}/")
    } else {
        format!("{verb} {name}")
    }
}

/// A summary line marked as a dry run's.
pub fn dry_run_summary(mut summary: serde_json::Value) -> serde_json::Value {
    summary["dry_run"] = true.into();
    summary
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dry_run_text_names_each_action_and_nothing_else() {
        assert_eq!(
            planned_text(Direction::Upload, FileAction::Send, "a/b.jpg", 4096).as_deref(),
            Some("upload a/b.jpg (4.00 KiB)")
        );
        assert_eq!(
            planned_text(Direction::Download, FileAction::Send, "x", 1).as_deref(),
            Some("download x (1 B)")
        );
        assert_eq!(
            planned_text(Direction::Download, FileAction::Replace, "x", 0).as_deref(),
            Some("replace x (0 B)")
        );
        assert_eq!(
            planned_text(Direction::Upload, FileAction::Skip, "x", 0),
            None
        );
        assert_eq!(
            deleted_text("old", true, 3, true),
            "delete old/ (3 files and folders)"
        );
        assert_eq!(deleted_text("old", true, 1, true), "delete old/");
        assert_eq!(deleted_text("old", false, 1, false), "deleted old");
        assert_eq!(deleted_text("a\u{1b}b", false, 1, true), "delete a\\u{1b}b");
    }

    #[test]
    fn dry_run_json_is_the_real_line_marked() {
        let line = planned_json(
            Direction::Upload,
            FileAction::Replace,
            Path::new("photos/a.jpg"),
            "backup/photos/a.jpg",
            7,
            None,
        );
        assert_eq!(line["op"], "sync");
        assert_eq!(line["remote"], "/backup/photos/a.jpg");
        assert_eq!(line["result"], "replaced");
        assert_eq!(line["dry_run"], true);
        let skipped = planned_json(
            Direction::Download,
            FileAction::Skip,
            Path::new("p/a"),
            "p/a",
            7,
            Some("same size and time"),
        );
        assert_eq!(skipped["result"], "skipped");
        assert_eq!(skipped["reason"], "same size and time");
        let deleted = deleted_json("/backup/old", true, false);
        assert_eq!(deleted["kind"], "dir");
        assert!(deleted.get("dry_run").is_none());
        assert_eq!(deleted_json("x", false, true)["dry_run"], true);
        assert_eq!(dry_run_summary(json!({"op": "summary"}))["dry_run"], true);
    }
}
