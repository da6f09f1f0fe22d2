//! Whole folders both ways: `put -r`, `get -r`, and the engine `sync` runs on.
//!
//! [`walk`] lists a local tree, [`remote`] a remote one (one streamed request); [`plan`]
//! decides, per entry, what to do (send, skip by the quick check, identical, refuse, make a
//! folder) and what the destination has that the source lacks; [`checksum`] gives local
//! files their SHA-256 for `--checksum`; [`put`] and [`get`] carry a plan out through the
//! single-file machinery of [`crate::transfer`]; [`report`] prints and counts the results;
//! [`names`] holds the destination rule. Nothing here follows a link while writing, and no
//! listed name can lead outside the folder named.

pub mod checksum;
pub mod downloads;
pub mod get;
pub mod names;
pub mod plan;
pub mod planned;
pub mod put;
pub mod quota;
pub mod remote;
pub mod report;
pub mod walk;

use std::collections::HashSet;
use std::path::Path;

use ftp_proto::TreeEntry;
use indicatif::HumanBytes;

use crate::error::ClientError;
use crate::jobs::Outcome;
use crate::progress::Progress;
use crate::transfer::{self};
use plan::{Plan, Totals};
use report::Report;

/// What comes after one step of a tree transfer.
#[derive(Debug)]
pub enum Flow<T> {
    /// It worked: go on with its value.
    Go(T),
    /// It failed (reported); go on with the next.
    Next,
    /// The connection is lost for good, or stdout is gone (reported): stop the transfer.
    Stop,
    /// A signal, or a rate the server refuses for every file: the command ends with it.
    End(ClientError),
}

/// Turns one step's result into what comes next, reporting a failure of the entry `local` /
/// `remote`.
pub fn flow<T>(
    result: Result<T, ClientError>,
    report: &mut Report,
    progress: &Progress,
    local: Option<&Path>,
    remote: &str,
) -> Flow<T> {
    match result {
        Ok(_) if report.ended() => Flow::Stop,
        Ok(value) => Flow::Go(value),
        Err(error @ (ClientError::Interrupted(_) | ClientError::BelowServerFloor { .. })) => {
            Flow::End(error)
        }
        Err(error) => {
            report.failed(progress, local, Some(remote), &error);
            if transfer::is_retryable(&error) || report.ended() {
                Flow::Stop
            } else {
                Flow::Next
            }
        }
    }
}

/// A command-line path as UTF-8 text (remote names are UTF-8).
pub fn utf8(path: &Path) -> Result<String, ClientError> {
    path.to_str().map(str::to_owned).ok_or_else(|| {
        ClientError::Usage(format!(
            "{} is not valid UTF-8; remote names must be",
            path.display()
        ))
    })
}

/// Checks that `dir` is a local folder (a link to one counts: it was named). Blocking.
pub fn require_local_folder(dir: &Path) -> Result<(), ClientError> {
    let meta = std::fs::metadata(dir).map_err(|source| ClientError::Local {
        context: format!("cannot read {}", dir.display()),
        source,
    })?;
    if meta.is_dir() {
        Ok(())
    } else {
        Err(ClientError::Usage(format!(
            "{} is not a folder (without -r, put sends a file)",
            crate::output::printable(&dir.display().to_string())
        )))
    }
}

/// Whether a file of `size` bytes goes whole, in a pipelined run (never under `--limit-rate`).
pub fn is_small(size: u64, options: &transfer::TransferOptions) -> bool {
    options.limit_rate.is_none() && size <= crate::whole::SMALL_FILE
}

/// The progress display of a plan: the total counts only what will move.
pub fn progress_for(plan: &Plan, quiet: bool) -> Progress {
    let totals = plan.totals();
    Progress::new(quiet, totals.files, totals.bytes)
}

/// Says how much of the tree is already there, when some is.
pub fn note_already_there(progress: &Progress, totals: &Totals) {
    if totals.there_files > 0 {
        progress.note(&format!(
            "{} of {} files ({}) already there",
            totals.there_files,
            totals.source_files,
            HumanBytes(totals.there_bytes)
        ));
    }
}

/// The outcome shown for a file `--checksum` found identical: nothing moved.
pub fn identical_outcome(entry: &TreeEntry) -> Outcome {
    Outcome {
        size: entry.size,
        sent: 0,
        resumed_from: entry.size,
        sha256: entry.sha256.unwrap_or_default(),
        identical: true,
        hashed_from_cache: false,
    }
}

/// How many of a plan's entries a failure count is out of: every entry but the folders that
/// are there or made without trouble.
pub fn counted<'a>(items: impl Iterator<Item = &'a plan::Item>) -> usize {
    items
        .filter(|item| {
            !matches!(
                item.action,
                plan::Action::FolderThere | plan::Action::MakeDir
            )
        })
        .count()
}

/// The folders (relative paths) that some file to be moved lies in: sending it creates them.
pub fn covered_folders(plan: &Plan) -> HashSet<&str> {
    let mut covered = HashSet::new();
    for item in plan.items.iter().filter(|item| item.action.moves()) {
        let path = item.entry.path.as_str();
        for (at, _) in path.match_indices('/') {
            covered.insert(&path[..at]);
        }
    }
    covered
}
