//! Unit tests of the planner: the quick check, `--checksum`, refusals, folders, extras and
//! the totals.

use super::*;

fn file(path: &str, size: u64, secs: i64, sha: u8) -> TreeEntry {
    TreeEntry {
        path: path.into(),
        kind: EntryKind::File,
        size,
        modified_secs: secs,
        modified_nanos: 7,
        sha256: Some([sha; 32]),
    }
}

fn entry(path: &str, kind: EntryKind) -> TreeEntry {
    TreeEntry {
        path: path.into(),
        kind,
        size: 0,
        modified_secs: 0,
        modified_nanos: 0,
        sha256: None,
    }
}

fn dir(path: &str) -> TreeEntry {
    entry(path, EntryKind::Dir)
}

fn actions(plan: &Plan) -> Vec<(&str, Action)> {
    plan.items
        .iter()
        .map(|item| (item.entry.path.as_str(), item.action))
        .collect()
}

#[test]
fn tree_order_is_depth_first_by_bytes() {
    let mut entries = vec![
        file("a.txt", 1, 0, 0),
        file("a/b", 1, 0, 0),
        dir("a"),
        file("B", 1, 0, 0),
    ];
    sort(&mut entries);
    let paths: Vec<_> = entries.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["B", "a", "a/b", "a.txt"]);
}

#[test]
fn the_quick_check_and_what_differs() {
    let plain = PlanOptions::default();
    let new = file("f", 5, 100, 1);
    assert_eq!(decide(&new, None, plain), Action::Send { replacing: false });
    assert_eq!(
        decide(&new, Some(&file("f", 5, 100, 2)), plain),
        Action::Skip(SAME_SIZE_AND_TIME),
        "same size and time: skipped, never read, whatever the content"
    );
    let mut other_nanos = file("f", 5, 100, 1);
    other_nanos.modified_nanos = 8;
    assert_eq!(decide(&new, Some(&other_nanos), plain), Action::Compare);
    assert_eq!(
        decide(&new, Some(&file("f", 6, 100, 1)), plain),
        Action::Refuse(DIFFERS)
    );
    for allowed in [
        PlanOptions {
            force: true,
            ..plain
        },
        PlanOptions {
            replace: true,
            ..plain
        },
    ] {
        assert_eq!(
            decide(&new, Some(&file("f", 6, 100, 1)), allowed),
            Action::Send { replacing: true }
        );
        assert_eq!(
            decide(&new, Some(&other_nanos), allowed),
            Action::Send { replacing: true }
        );
    }
}

#[test]
fn checksums_decide_when_asked() {
    let sums = PlanOptions {
        checksum: true,
        ..PlanOptions::default()
    };
    let ours = file("f", 5, 100, 1);
    assert_eq!(
        decide(&ours, Some(&file("f", 5, 9, 1)), sums),
        Action::Identical
    );
    assert_eq!(
        decide(&ours, Some(&file("f", 5, 100, 2)), sums),
        Action::Refuse(DIFFERS),
        "same size and time, other content: found"
    );
    let forced = PlanOptions {
        force: true,
        ..sums
    };
    assert_eq!(
        decide(&ours, Some(&file("f", 5, 100, 2)), forced),
        Action::Send { replacing: true }
    );
    let mut unknown = file("f", 5, 100, 2);
    unknown.sha256 = None;
    assert_eq!(decide(&ours, Some(&unknown), sums), Action::Compare);
}

#[test]
fn kinds_in_the_way_are_refused_and_links_skipped() {
    let plain = PlanOptions::default();
    let link = entry("x", EntryKind::Symlink);
    assert_eq!(
        decide(&file("x", 1, 0, 0), Some(&link), plain),
        Action::Refuse("a symbolic link is in the way")
    );
    assert_eq!(
        decide(&dir("x"), Some(&link), plain),
        Action::Refuse("a symbolic link is in the way")
    );
    assert_eq!(
        decide(&dir("x"), Some(&file("x", 1, 0, 0)), plain),
        Action::Refuse("a file is in the way")
    );
    assert_eq!(
        decide(&file("x", 1, 0, 0), Some(&dir("x")), plain),
        Action::Refuse("a folder is in the way")
    );
    assert_eq!(
        decide(&dir("x"), Some(&dir("x")), plain),
        Action::FolderThere
    );
    assert_eq!(decide(&dir("x"), None, plain), Action::MakeDir);
    assert!(matches!(decide(&link, None, plain), Action::Skip(_)));
    assert!(matches!(
        decide(&entry("p", EntryKind::Fifo), None, plain),
        Action::Skip(_)
    ));
    let local = PlanOptions {
        local_destination: true,
        ..plain
    };
    assert!(matches!(
        decide(&file("a\\b", 1, 0, 0), None, local),
        Action::Skip(_)
    ));
    assert!(matches!(
        decide(&file("a\u{1b}b", 1, 0, 0), None, local),
        Action::Skip(_)
    ));
    assert_eq!(
        decide(&file("a\\b", 1, 0, 0), None, plain),
        Action::Send { replacing: false }
    );
}

#[test]
fn a_whole_plan_with_extras_and_a_refused_folder() {
    let mut source = vec![
        dir("a"),
        file("a/one", 3, 1, 1),
        dir("a/empty"),
        dir("sub"),
        file("sub/inner", 3, 1, 1),
        file("z", 4, 1, 1),
    ];
    let mut destination = vec![
        dir("a"),
        file("a/one", 3, 1, 1),
        file("a/old", 3, 1, 1),
        entry("sub", EntryKind::Symlink),
        dir("gone"),
        file("gone/x", 1, 1, 1),
    ];
    sort(&mut source);
    sort(&mut destination);
    let plan = plan(source, destination, PlanOptions::default());
    assert_eq!(
        actions(&plan),
        [
            ("a", Action::FolderThere),
            ("a/empty", Action::MakeDir),
            ("a/one", Action::Skip(SAME_SIZE_AND_TIME)),
            ("sub", Action::Refuse("a symbolic link is in the way")),
            ("z", Action::Send { replacing: false }),
        ]
    );
    let extra: Vec<_> = plan.extra.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(extra, ["a/old", "gone", "gone/x"]);
    let totals = plan.totals();
    assert_eq!((totals.files, totals.bytes), (1, 4));
    assert_eq!((totals.there_files, totals.there_bytes), (1, 3));
    assert_eq!(totals.source_files, 2, "sub/inner is left out with sub");
}

#[test]
fn same_size_pairs_are_what_checksums_need() {
    let source = vec![file("a", 1, 0, 0), file("b", 2, 0, 0), file("c", 3, 0, 0)];
    let destination = vec![file("a", 1, 5, 0), file("b", 9, 0, 0), dir("c")];
    assert_eq!(same_size_pairs(&source, &destination), [(0, 0)]);
}

#[test]
fn beneath_means_inside() {
    assert!(is_beneath("a/b", "a"));
    assert!(!is_beneath("ab", "a"));
    assert!(!is_beneath("a", "a"));
}
