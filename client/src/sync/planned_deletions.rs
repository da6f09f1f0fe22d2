//! The deletions of `sync --delete`, from a tree plan: the destination's entries the source
//! lacks (the plan's extras) and the destination entries of another kind in the way of a
//! source entry, each marked as such.

use std::collections::HashSet;

use ftp_proto::EntryKind;

use crate::tree::plan::{self, Action, Plan};

use super::deletions::{DeletionPlan, Listed};

/// The deletions of `--delete`: the destination's entries the source lacks (the plan's
/// extras), folders whole, and the destination entries of another kind in the way of a source
/// entry (a folder where a file goes, a link).
pub fn from_plan(plan: &Plan) -> DeletionPlan {
    let mut in_the_way: HashSet<&str> = HashSet::new();
    let mut destination: Vec<(&str, bool)> = plan
        .extra
        .iter()
        .map(|entry| (entry.path.as_str(), entry.kind == EntryKind::Dir))
        .collect();
    for item in &plan.items {
        if let Action::Refuse(reason) = item.action
            && reason.ends_with("is in the way")
        {
            let folder_there = item.entry.kind != EntryKind::Dir && reason.contains("folder");
            destination.push((item.entry.path.as_str(), folder_there));
            in_the_way.insert(item.entry.path.as_str());
        }
    }
    destination.sort_by(|a, b| plan::tree_order(a.0, b.0));
    // What is in the way is not kept for its source entry's sake: it goes, and so does all
    // that is beneath it.
    let source = plan
        .items
        .iter()
        .filter(|item| !in_the_way.contains(item.entry.path.as_str()))
        .map(|item| Listed {
            path: item.entry.path.as_str(),
            is_dir: item.entry.kind == EntryKind::Dir,
        });
    let destination = destination
        .iter()
        .map(|&(path, is_dir)| Listed { path, is_dir });
    let mut deletions = DeletionPlan::new(source, destination, false);
    for deletion in &mut deletions.deletions {
        deletion.in_the_way = in_the_way.contains(deletion.path.as_str());
    }
    deletions
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::plan::PlanOptions;
    use ftp_proto::TreeEntry;

    fn entry(path: &str, kind: EntryKind) -> TreeEntry {
        TreeEntry {
            path: path.into(),
            kind,
            size: 1,
            modified_secs: 1,
            modified_nanos: 1,
            sha256: None,
        }
    }

    #[test]
    fn deletions_take_the_extras_whole_and_what_is_in_the_way() {
        use EntryKind::{Dir, File, Symlink};
        let mut source = vec![
            entry("keep", File),
            entry("file-now", File),
            entry("dir-now", Dir),
            entry("dir-now/a", File),
            entry("linked", File),
        ];
        let mut destination = vec![
            entry("keep", File),
            entry("file-now", Dir),
            entry("file-now/inner", File),
            entry("dir-now", File),
            entry("linked", Symlink),
            entry("old", Dir),
            entry("old/x", File),
        ];
        plan::sort(&mut source);
        plan::sort(&mut destination);
        let planned = plan::plan(source, destination, PlanOptions::default());
        let deletions = from_plan(&planned);
        let shown: Vec<(&str, bool, u64, bool)> = deletions
            .deletions
            .iter()
            .map(|d| (d.path.as_str(), d.is_dir, d.count, d.in_the_way))
            .collect();
        assert_eq!(
            shown,
            [
                ("dir-now", false, 1, true),
                ("file-now", true, 2, true),
                ("linked", false, 1, true),
                ("old", true, 2, false),
            ]
        );
    }
}
