//! What `ftp sync --delete` removes from DST: the destination entries SRC lacks, minimal (a
//! folder to delete goes whole, its contents are not listed apart), counted as the server's
//! `RemovedTree` counts them (the folder itself and everything in it), and the guards that
//! keep a sync from wiping a destination: an empty source deletes nothing (rclone#4298), and
//! `--max-delete N` deletes nothing when more than N would go.
//!
//! Pure: it sees relative `/`-joined paths only, never the disk or the server.

use std::collections::HashMap;

use ftp_proto::ErrorKind;

use crate::error::ClientError;

/// One entry of a listed tree, as the plan needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listed<'a> {
    /// Relative to the listed folder, `/`-joined.
    pub path: &'a str,
    /// A folder (links and every other kind are not).
    pub is_dir: bool,
}

/// One path to delete from DST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deletion {
    /// Relative to DST, `/`-joined.
    pub path: String,
    /// A folder, deleted whole (never following a link inside it).
    pub is_dir: bool,
    /// Entries it takes away: 1 for a file or link, the folder and all it holds for a folder.
    pub count: u64,
    /// SRC has this name as the other kind (a file where DST has a folder, or the reverse):
    /// it must go before the transfers, or SRC's entry cannot land.
    pub in_the_way: bool,
}

/// Every deletion a sync would make, in DST's order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeletionPlan {
    /// The topmost paths to delete.
    pub deletions: Vec<Deletion>,
}

impl DeletionPlan {
    /// The destination entries `source` lacks; `destination` lists each folder before its
    /// contents (as both the remote listing and the local walk do). `keep_parts`: a download's `NAME.part` beside
    /// a source file NAME is its resume data, not an extra file, and stays.
    pub fn new<'a>(
        source: impl IntoIterator<Item = Listed<'a>>,
        destination: impl IntoIterator<Item = Listed<'a>>,
        keep_parts: bool,
    ) -> DeletionPlan {
        let source: HashMap<&str, bool> = source
            .into_iter()
            .map(|entry| (entry.path, entry.is_dir))
            .collect();
        let mut deletions: Vec<Deletion> = Vec::new();
        let mut deleted_folders: HashMap<&str, usize> = HashMap::new();
        for entry in destination {
            if let Some(index) = deleted_ancestor(entry.path, &deleted_folders) {
                deletions[index].count += 1;
                continue;
            }
            let in_the_way = match source.get(entry.path) {
                Some(&is_dir) if is_dir == entry.is_dir => continue,
                Some(_) => true,
                None => false,
            };
            if !in_the_way && keep_parts && !entry.is_dir && is_resume_data(entry.path, &source) {
                continue;
            }
            if entry.is_dir {
                deleted_folders.insert(entry.path, deletions.len());
            }
            deletions.push(Deletion {
                path: entry.path.to_owned(),
                is_dir: entry.is_dir,
                count: 1,
                in_the_way,
            });
        }
        DeletionPlan { deletions }
    }

    /// Files and folders that would go, as the server counts a removed tree.
    pub fn total(&self) -> u64 {
        self.deletions.iter().map(|d| d.count).sum()
    }

    /// The deletions of entries in the way of source entries (to go before the transfers),
    /// and the rest.
    pub fn split_in_the_way(self) -> (DeletionPlan, DeletionPlan) {
        let (first, rest) = self.deletions.into_iter().partition(|d| d.in_the_way);
        (
            DeletionPlan { deletions: first },
            DeletionPlan { deletions: rest },
        )
    }

    /// Whether nothing would go.
    pub fn is_empty(&self) -> bool {
        self.deletions.is_empty()
    }

    /// Checks the guards before anything is deleted: an empty source (`source_entries` = 0)
    /// never deletes, and neither does a plan over `max_delete`. The error (exit 4) says what
    /// would have gone and that nothing was; the transfers still run either way.
    pub fn check(&self, source_entries: u64, max_delete: Option<u64>) -> Result<(), ClientError> {
        if self.is_empty() {
            return Ok(());
        }
        if source_entries == 0 {
            return Err(refused(
                "SRC is empty: refusing to delete everything in DST (nothing deleted)".into(),
            ));
        }
        let total = self.total();
        if let Some(limit) = max_delete.filter(|&limit| total > limit) {
            return Err(refused(format!(
                "{total} {} would be deleted, more than --max-delete {limit}: nothing deleted",
                if total == 1 {
                    "file or folder"
                } else {
                    "files and folders"
                }
            )));
        }
        Ok(())
    }
}

/// A refusal with exit code 4.
fn refused(message: String) -> ClientError {
    ClientError::Remote {
        kind: ErrorKind::Denied,
        message,
    }
}

/// The deletion that already takes `path` away with a folder above it, if any (the topmost:
/// folders beneath a deleted one are never recorded).
fn deleted_ancestor(path: &str, deleted_folders: &HashMap<&str, usize>) -> Option<usize> {
    if deleted_folders.is_empty() {
        return None;
    }
    path.match_indices('/')
        .find_map(|(at, _)| deleted_folders.get(&path[..at]).copied())
}

/// Whether `path` is `NAME.part` for a file NAME of the source.
fn is_resume_data(path: &str, source: &HashMap<&str, bool>) -> bool {
    path.strip_suffix(".part")
        .is_some_and(|name| source.get(name) == Some(&false))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `"a/"` is a folder, anything else a file.
    fn listed(paths: &[&'static str]) -> Vec<Listed<'static>> {
        paths
            .iter()
            .map(|p| match p.strip_suffix('/') {
                Some(dir) => Listed {
                    path: dir,
                    is_dir: true,
                },
                None => Listed {
                    path: p,
                    is_dir: false,
                },
            })
            .collect()
    }

    fn plan(source: &[&'static str], destination: &[&'static str]) -> DeletionPlan {
        DeletionPlan::new(listed(source), listed(destination), true)
    }

    fn shown(plan: &DeletionPlan) -> Vec<(String, u64)> {
        plan.deletions
            .iter()
            .map(|d| (d.path.clone() + if d.is_dir { "/" } else { "" }, d.count))
            .collect()
    }

    #[test]
    fn only_what_the_source_lacks_goes_and_a_folder_goes_whole() {
        let plan = plan(
            &["a/", "a/keep.txt", "b.txt"],
            &[
                "a/",
                "a/extra.txt",
                "a/keep.txt",
                "b.txt",
                "old/",
                "old/x/",
                "old/x/y.txt",
                "old/z.txt",
                "stray.txt",
            ],
        );
        assert_eq!(
            shown(&plan),
            [
                ("a/extra.txt".into(), 1),
                ("old/".into(), 4),
                ("stray.txt".into(), 1)
            ]
        );
        assert_eq!(plan.total(), 6);
    }

    #[test]
    fn a_name_of_the_other_kind_is_in_the_way() {
        let plan = plan(&["x", "y/", "y/in"], &["x/", "x/inner", "y"]);
        assert_eq!(shown(&plan), [("x/".into(), 2), ("y".into(), 1)]);
        assert!(plan.deletions.iter().all(|d| d.in_the_way));
        let mixed = DeletionPlan::new(listed(&["x"]), listed(&["x/", "x/in", "y"]), false);
        let (first, rest) = mixed.split_in_the_way();
        assert_eq!(shown(&first), [("x/".into(), 2)]);
        assert_eq!(shown(&rest), [("y".into(), 1)]);
    }

    #[test]
    fn a_downloads_resume_data_stays_unless_its_file_is_gone() {
        let plan = plan(&["a.bin"], &["a.bin.part", "b.bin.part"]);
        assert_eq!(shown(&plan), [("b.bin.part".into(), 1)]);
        let uploads = DeletionPlan::new(listed(&["a.bin"]), listed(&["a.bin.part"]), false);
        assert_eq!(uploads.total(), 1);
    }

    #[test]
    fn nothing_to_delete_passes_every_guard() {
        let plan = plan(&["a"], &["a"]);
        assert!(plan.is_empty());
        assert!(plan.check(1, Some(0)).is_ok());
        assert!(DeletionPlan::default().check(0, None).is_ok());
    }

    #[test]
    fn an_empty_source_never_deletes() {
        let plan = plan(&[], &["a", "b/", "b/c"]);
        assert_eq!(plan.total(), 3);
        let error = plan.check(0, None).unwrap_err();
        assert_eq!(error.exit_code(), 4);
        assert_eq!(
            error.to_string(),
            "SRC is empty: refusing to delete everything in DST (nothing deleted)"
        );
    }

    #[test]
    fn more_than_max_delete_deletes_nothing_and_says_how_many() {
        let plan = plan(&["keep"], &["keep", "d/", "d/1", "d/2"]);
        assert_eq!(plan.total(), 3);
        assert!(plan.check(1, Some(3)).is_ok());
        assert!(plan.check(1, None).is_ok());
        let error = plan.check(1, Some(2)).unwrap_err();
        assert_eq!(error.exit_code(), 4);
        assert_eq!(
            error.to_string(),
            "3 files and folders would be deleted, more than --max-delete 2: nothing deleted"
        );
    }
}
