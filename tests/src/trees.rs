//! Helpers for the tests of whole-folder transfers (`put -r`, `get -r`, `sync`, `get --to`):
//! file times, the `--json` lines of a run, and comparing two trees (or taking a snapshot of
//! one).

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

/// Sets the modification time of `path`.
pub fn set_time(path: &Path, secs: u64, nanos: u32) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .expect("a file to set the time of")
        .set_modified(UNIX_EPOCH + Duration::new(secs, nanos))
        .expect("the time set");
}

/// Modification time, seconds and nanoseconds.
pub fn mtime(path: &Path) -> (i64, i64) {
    let meta = std::fs::metadata(path).expect("a file to read the time of");
    (meta.mtime(), meta.mtime_nsec())
}

/// The JSON lines of an output (one object per line, or the test fails).
pub fn json_lines(output: &Output) -> Vec<serde_json::Value> {
    crate::stdout(output)
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect()
}

/// The summary line (the last one).
pub fn summary_line(lines: &[serde_json::Value]) -> &serde_json::Value {
    let last = lines.last().expect("a summary line");
    assert_eq!(last["op"], "summary", "{lines:#?}");
    last
}

/// The line about `remote` (shown from the home).
pub fn line_about<'a>(lines: &'a [serde_json::Value], remote: &str) -> &'a serde_json::Value {
    lines
        .iter()
        .find(|line| line["remote"] == remote)
        .unwrap_or_else(|| panic!("no line for {remote}: {lines:?}"))
}

/// The two trees hold the same names, sizes, contents and file times.
pub fn assert_same_tree(source: &Path, copy: &Path) {
    let relative = |root: &Path| -> Vec<(PathBuf, u64)> {
        crate::tree(root)
            .into_iter()
            .map(|(path, len)| {
                (
                    path.strip_prefix(root)
                        .expect("a path beneath root")
                        .to_path_buf(),
                    len,
                )
            })
            .collect()
    };
    assert_eq!(relative(source), relative(copy));
    for (path, _) in relative(source) {
        let (a, b) = (source.join(&path), copy.join(&path));
        if a.is_file() {
            assert!(crate::same_content(&a, &b), "{}", path.display());
            assert_eq!(mtime(&a), mtime(&b), "time of {}", path.display());
        }
    }
}

/// What a snapshot records of one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A folder.
    Dir,
    /// A regular file.
    File {
        /// Its length.
        len: u64,
        /// Its content's SHA-256.
        sha256: Vec<u8>,
        /// Its modification time.
        modified: SystemTime,
    },
    /// Anything else (a link, say).
    Other,
}

/// Every path beneath `root` (relative, `/`-joined) with what it is (a path that goes away
/// meanwhile is left out).
pub fn snapshot(root: &Path) -> BTreeMap<String, Node> {
    let mut found = BTreeMap::new();
    for (path, _) in crate::tree(root) {
        let name = path
            .strip_prefix(root)
            .expect("a path beneath root")
            .to_str()
            .expect("a UTF-8 name")
            .to_owned();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let node = if meta.is_dir() {
            Node::Dir
        } else if meta.is_file() {
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            Node::File {
                len: bytes.len() as u64,
                sha256: Sha256::digest(&bytes).to_vec(),
                modified: meta.modified().expect("a modification time"),
            }
        } else {
            Node::Other
        };
        found.insert(name, node);
    }
    found
}
