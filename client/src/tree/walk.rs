//! The local side of a tree: every entry beneath a local folder, as the server lists a remote
//! one ([`TreeEntry`], paths relative and `/`-joined, depth first, names in byte order).
//! Blocking: called on a blocking thread.
//!
//! Links are listed as links, never followed, unless `follow` (then what they point to is
//! listed under the link's name, and a link that leads back into its own ancestors is
//! reported, not walked forever). Names that are not UTF-8 cannot be remote names: they are
//! reported and left out, with what lies beneath them. Entries that cannot be read are
//! reported as failures; the rest of the walk goes on.

use std::os::unix::fs::FileTypeExt;
use std::path::Path;

use ftp_proto::{EntryKind, TreeEntry};

use crate::error::ClientError;

/// What a walk found.
#[derive(Debug, Default)]
pub struct Walked {
    /// The entries, depth first.
    pub entries: Vec<TreeEntry>,
    /// Entries left out, and why (skipped, with a note).
    pub skipped: Vec<(String, &'static str)>,
    /// Entries that could not be read (failed).
    pub failed: Vec<(String, ClientError)>,
}

impl Walked {
    /// Records the entry `shown` as one that could not be read (`otherwise`: what to say when
    /// the walk's error carries no I/O error).
    fn unreadable(&mut self, shown: String, error: walkdir::Error, otherwise: &str) {
        let source = error
            .into_io_error()
            .unwrap_or_else(|| std::io::Error::other(otherwise.to_owned()));
        let context = format!("cannot read {shown}");
        self.failed
            .push((shown, ClientError::Local { context, source }));
    }
}

/// Walks the folder `root` (which must be one; a link named as the root is followed).
/// Blocking.
pub fn walk(root: &Path, follow: bool) -> Walked {
    let mut walked = Walked::default();
    let mut entries = walkdir::WalkDir::new(root)
        .min_depth(1)
        .follow_links(follow)
        .sort_by_file_name()
        .into_iter();
    while let Some(next) = entries.next() {
        let entry = match next {
            Ok(entry) => entry,
            Err(error) => {
                let shown = error
                    .path()
                    .map_or_else(|| root.display().to_string(), shown_path);
                if error.loop_ancestor().is_some() {
                    walked.skipped.push((shown, "symbolic link loop"));
                } else {
                    walked.unreadable(shown, error, "cannot walk");
                }
                continue;
            }
        };
        let relative = entry.path().strip_prefix(root).unwrap_or(entry.path());
        let Some(path) = relative.to_str().map(str::to_owned) else {
            walked
                .skipped
                .push((shown_path(entry.path()), "name is not valid UTF-8"));
            if entry.file_type().is_dir() {
                entries.skip_current_dir();
            }
            continue;
        };
        let file_type = entry.file_type();
        let kind = if file_type.is_dir() {
            EntryKind::Dir
        } else if file_type.is_file() {
            EntryKind::File
        } else if file_type.is_symlink() {
            EntryKind::Symlink
        } else if file_type.is_fifo() {
            EntryKind::Fifo
        } else if file_type.is_socket() {
            EntryKind::Socket
        } else if file_type.is_block_device() {
            EntryKind::BlockDevice
        } else {
            EntryKind::CharDevice
        };
        let identity = match entry.metadata() {
            Ok(meta) => crate::upload::identity(&meta),
            Err(error) => {
                walked.unreadable(shown_path(entry.path()), error, "cannot read");
                continue;
            }
        };
        walked.entries.push(TreeEntry {
            path,
            kind,
            size: if kind == EntryKind::File {
                identity.size
            } else {
                0
            },
            modified_secs: identity.modified_secs,
            modified_nanos: identity.modified_nanos,
            sha256: None,
        });
    }
    walked
}

/// A local path for messages.
fn shown_path(path: &Path) -> String {
    crate::output::printable(&path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_in_the_servers_order_with_links_listed_or_followed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("a/empty")).unwrap();
        std::fs::write(root.join("a/one"), "111").unwrap();
        std::fs::write(root.join("a.txt"), "x").unwrap();
        std::os::unix::fs::symlink("a", root.join("link")).unwrap();
        std::os::unix::fs::symlink(".", root.join("a/loop")).unwrap();
        let walked = walk(root, false);
        let listed: Vec<_> = walked
            .entries
            .iter()
            .map(|e| (e.path.as_str(), e.kind, e.size))
            .collect();
        assert_eq!(
            listed,
            [
                ("a", EntryKind::Dir, 0),
                ("a/empty", EntryKind::Dir, 0),
                ("a/loop", EntryKind::Symlink, 0),
                ("a/one", EntryKind::File, 3),
                ("a.txt", EntryKind::File, 1),
                ("link", EntryKind::Symlink, 0),
            ]
        );
        assert!(walked.skipped.is_empty() && walked.failed.is_empty());
        let followed = walk(root, true);
        let paths: Vec<_> = followed.entries.iter().map(|e| e.path.as_str()).collect();
        assert!(paths.contains(&"link/one"), "{paths:?}");
        assert!(
            followed
                .skipped
                .iter()
                .any(|(_, why)| *why == "symbolic link loop"),
            "{:?}",
            followed.skipped
        );
    }
}
