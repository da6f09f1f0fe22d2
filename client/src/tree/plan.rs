//! The plan of a tree transfer: for every entry of the source tree, what to do with it given
//! its counterpart in the destination tree (if any), and the destination entries the source
//! lacks (for `sync --delete`). Pure: no file system, no network; used by `put -r`, `get -r`
//! and `sync` alike, in either direction.
//!
//! Per file: no counterpart -> send; the same size and modification time (to the nanosecond)
//! -> skipped without being read (rsync's quick check); with `checksum`, the SHA-256 of both
//! sides decides instead (`identical` when equal). A counterpart that differs is refused
//! (exit 4) unless `force` or `replace` (sync) lets it be replaced. A counterpart of the same
//! size but another time, without `force`, is left to the transfer to compare by content
//! (identical, or refused). Anything of another kind in the way (a folder where a file goes,
//! a link anywhere) is refused, never written through; what lies beneath a refused folder is
//! left out of the plan.

use std::cmp::Ordering;

use ftp_proto::{EntryKind, TreeEntry};

/// Why a file was refused when it differs from its counterpart.
pub const DIFFERS: &str = "differs; --force replaces it";

/// Why an entry was skipped by the quick check.
pub const SAME_SIZE_AND_TIME: &str = "same size and time";

/// What the plan takes into account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// Compare SHA-256 (the entries' `sha256`) instead of size and modification time.
    pub checksum: bool,
    /// `--force`: replace files that differ.
    pub force: bool,
    /// Replace files that differ even without `force` (sync).
    pub replace: bool,
    /// The destination is the local file system: source names that cannot be local file
    /// names (a backslash, a control character) are skipped.
    pub local_destination: bool,
}

/// What to do with one source entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Send the file. `replacing`: a different file is there and is to be replaced.
    Send {
        /// A counterpart is there (the result is `replaced`).
        replacing: bool,
    },
    /// A file of the same size but another time is there: send without replacing, so the
    /// transfer compares content (identical, or refused as different).
    Compare,
    /// Create the folder (missing in the destination).
    MakeDir,
    /// A folder that is already there: nothing to do.
    FolderThere,
    /// Left alone, for this reason (counted as skipped).
    Skip(&'static str),
    /// The same content is already there (`--checksum`).
    Identical,
    /// Refused, for this reason (failed, exit 4).
    Refuse(&'static str),
}

impl Action {
    /// Whether the action moves the file's bytes (the progress total counts them).
    pub fn moves(self) -> bool {
        matches!(self, Action::Send { .. } | Action::Compare)
    }
}

/// One source entry and what to do with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The source entry (its path relative to the source folder).
    pub entry: TreeEntry,
    /// What to do.
    pub action: Action,
}

/// A whole tree's plan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Every source entry, depth first, with its action (entries beneath a refused folder are
    /// left out).
    pub items: Vec<Item>,
    /// Destination entries the source has no entry for, depth first (a folder before what is
    /// in it; entries beneath a folder listed here are listed too).
    pub extra: Vec<TreeEntry>,
}

/// What a plan will move and what is already there.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Files to move.
    pub files: usize,
    /// Their bytes.
    pub bytes: u64,
    /// Regular files in the source.
    pub source_files: usize,
    /// Files already there (same size and time, or identical).
    pub there_files: usize,
    /// Their bytes.
    pub there_bytes: u64,
}

impl Plan {
    /// The counts for the progress bars and the "already there" note.
    pub fn totals(&self) -> Totals {
        let mut totals = Totals::default();
        for item in &self.items {
            if item.entry.kind == EntryKind::File {
                totals.source_files += 1;
            }
            match item.action {
                action if action.moves() => {
                    totals.files += 1;
                    totals.bytes += item.entry.size;
                }
                Action::Identical | Action::Skip(SAME_SIZE_AND_TIME) => {
                    totals.there_files += 1;
                    totals.there_bytes += item.entry.size;
                }
                _ => {}
            }
        }
        totals
    }
}

/// Orders two tree paths depth first, names of one folder in byte order, component by
/// component: a folder's entry, then what it holds. (The server sends `ls -R` order instead,
/// each folder's entries together, so remote listings are sorted with this before use.)
pub fn tree_order(a: &str, b: &str) -> Ordering {
    a.split('/').cmp(b.split('/'))
}

/// Sorts entries in [`tree_order`].
pub fn sort(entries: &mut [TreeEntry]) {
    entries.sort_by(|a, b| tree_order(&a.path, &b.path));
}

/// The indexes `(source, destination)` of regular files present on both sides with the same
/// size: those whose SHA-256 `--checksum` needs. Both lists sorted ([`sort`]).
pub fn same_size_pairs(source: &[TreeEntry], destination: &[TreeEntry]) -> Vec<(usize, usize)> {
    let mut pairs = Vec::new();
    merge(source, destination, |s, d| {
        if let (Some(s), Some(d)) = (s, d) {
            let (a, b) = (&source[s], &destination[d]);
            if a.kind == EntryKind::File && b.kind == EntryKind::File && a.size == b.size {
                pairs.push((s, d));
            }
        }
    });
    pairs
}

/// Plans a tree transfer from `source` to `destination` (both sorted with [`sort`]).
pub fn plan(source: Vec<TreeEntry>, destination: Vec<TreeEntry>, options: PlanOptions) -> Plan {
    let mut pairs: Vec<(Option<usize>, Option<usize>)> = Vec::new();
    merge(&source, &destination, |s, d| pairs.push((s, d)));
    let mut source: Vec<Option<TreeEntry>> = source.into_iter().map(Some).collect();
    let mut plan = Plan::default();
    // The last refused source folder: what lies beneath it is left out.
    let mut refused: Option<String> = None;
    for (s, d) in pairs {
        let counterpart = d.and_then(|d| destination.get(d));
        let Some(entry) = s.and_then(|s| source.get_mut(s)).and_then(Option::take) else {
            if let Some(extra) = counterpart {
                plan.extra.push(extra.clone());
            }
            continue;
        };
        if let Some(folder) = &refused {
            if is_beneath(&entry.path, folder) {
                continue;
            }
            refused = None;
        }
        let action = decide(&entry, counterpart, options);
        if entry.kind == EntryKind::Dir && matches!(action, Action::Refuse(_) | Action::Skip(_)) {
            refused = Some(entry.path.clone());
        }
        plan.items.push(Item { entry, action });
    }
    plan
}

/// What to do with one source entry given its counterpart.
pub fn decide(entry: &TreeEntry, counterpart: Option<&TreeEntry>, options: PlanOptions) -> Action {
    match entry.kind {
        EntryKind::File | EntryKind::Dir => {}
        EntryKind::Symlink => return Action::Skip("symbolic link"),
        _ => return Action::Skip("not a regular file or folder"),
    }
    if options.local_destination && !is_local_safe(&entry.path) {
        return Action::Skip("name not usable as a local file name");
    }
    let Some(there) = counterpart else {
        return match entry.kind {
            EntryKind::Dir => Action::MakeDir,
            _ => Action::Send { replacing: false },
        };
    };
    match (entry.kind, there.kind) {
        (EntryKind::Dir, EntryKind::Dir) => return Action::FolderThere,
        (_, EntryKind::Symlink) => return Action::Refuse("a symbolic link is in the way"),
        (EntryKind::Dir, EntryKind::File) => return Action::Refuse("a file is in the way"),
        (EntryKind::File, EntryKind::Dir) => return Action::Refuse("a folder is in the way"),
        (_, EntryKind::File) => {}
        _ => return Action::Refuse("something that is not a file is in the way"),
    }
    let may_replace = options.force || options.replace;
    let differs = if may_replace {
        Action::Send { replacing: true }
    } else {
        Action::Refuse(DIFFERS)
    };
    if options.checksum
        && let (Some(ours), Some(theirs)) = (entry.sha256, there.sha256)
    {
        return if entry.size == there.size && ours == theirs {
            Action::Identical
        } else {
            differs
        };
    }
    if entry.size != there.size {
        return differs;
    }
    let same_time =
        (entry.modified_secs, entry.modified_nanos) == (there.modified_secs, there.modified_nanos);
    if same_time && !options.checksum {
        return Action::Skip(SAME_SIZE_AND_TIME);
    }
    // The same size, content unknown: the transfer compares it (replacing only if allowed).
    if may_replace {
        Action::Send { replacing: true }
    } else {
        Action::Compare
    }
}

/// Whether `path` lies beneath the folder `folder`.
pub fn is_beneath(path: &str, folder: &str) -> bool {
    path.len() > folder.len() && path.starts_with(folder) && path.as_bytes()[folder.len()] == b'/'
}

/// Whether every component of a remote relative path can be a local file name: no
/// backslash, no control character (`..` and empty names are refused when listed).
pub fn is_local_safe(path: &str) -> bool {
    !path.contains('\\') && !path.chars().any(char::is_control)
}

/// Walks two sorted lists side by side, calling `each` with the index on each side of every
/// path (both when the path is on both sides).
fn merge(
    source: &[TreeEntry],
    destination: &[TreeEntry],
    mut each: impl FnMut(Option<usize>, Option<usize>),
) {
    let (mut s, mut d) = (0, 0);
    while s < source.len() || d < destination.len() {
        let order = match (source.get(s), destination.get(d)) {
            (Some(a), Some(b)) => tree_order(&a.path, &b.path),
            (Some(_), None) => Ordering::Less,
            _ => Ordering::Greater,
        };
        match order {
            Ordering::Less => {
                each(Some(s), None);
                s += 1;
            }
            Ordering::Greater => {
                each(None, Some(d));
                d += 1;
            }
            Ordering::Equal => {
                each(Some(s), Some(d));
                s += 1;
                d += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests;
