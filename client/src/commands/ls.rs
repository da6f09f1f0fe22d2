//! `ftp ls [-R] [PATH]`: a table of the remote folder, or one JSON object with `--json`; with
//! `-R`, the whole tree beneath it, one section (or JSON object) per folder.
//!
//! A recursive listing streams, in the order of coreutils `ls -R` and sftp: the listed folder's
//! section first, then each subfolder's, depth first (pre-order), names in byte order. The
//! server sends the tree in that order (each folder's entries together), so each section is
//! printed as soon as the stream moves to another folder; the client holds one folder's
//! entries and the subfolders still to come of the folders on the current path, never the
//! whole tree. An empty folder (which sends no entries) still gets its heading, in its place. `ls -R` of a file shows
//! that file as `ls` does; an empty folder's plain `ls` prints nothing, like coreutils.

use ftp_proto::{DirEntry, ErrorKind, TreeEntry};

use crate::error::ClientError;
use crate::output;
use crate::session::Session;

/// Lists `path` on the server.
pub async fn run(session: &mut Session, path: &str, recursive: bool) -> Result<(), ClientError> {
    let global = &session.global.clone();
    let client = session.client().await?;
    if recursive {
        let top = output::remote_shown(path);
        let mut sections = Sections::new(&top, global.json);
        let listed = client
            .list_tree_each(path, false, |batch| {
                let mut text = String::new();
                for entry in batch {
                    sections.add(entry, &mut text);
                }
                super::print(&text)
            })
            .await;
        match listed {
            Ok(()) => super::print(&sections.finish())?,
            // Not a folder: shown as `ls` shows one file. A folder refused part way (one
            // beneath it cannot be read) is that refusal.
            Err(
                error @ ClientError::Remote {
                    kind: ErrorKind::Denied,
                    ..
                },
            ) => {
                if is_folder(client, path).await? {
                    return Err(error);
                }
                print_listing(client, path, global.json).await?;
            }
            Err(error) => return Err(error),
        }
    } else {
        print_listing(client, path, global.json).await?;
    }
    session.finish().await
}

/// Whether the remote `path` is a folder, as its parent's listing shows it (the home is one;
/// a parent that cannot be listed counts as saying so).
async fn is_folder(client: &mut crate::Client, path: &str) -> Result<bool, ClientError> {
    let shown = output::remote_shown(path);
    let Some((parent, name)) = shown.rsplit_once('/').filter(|(_, name)| !name.is_empty()) else {
        return Ok(true);
    };
    let parent = if parent.is_empty() { "/" } else { parent };
    Ok(match client.list(parent).await {
        Ok(entries) => entries
            .iter()
            .any(|e| e.name == name && e.kind == ftp_proto::EntryKind::Dir),
        Err(ClientError::Remote { .. }) => true,
        Err(error) => return Err(error),
    })
}

/// Prints `ls` of one folder (or file).
async fn print_listing(
    client: &mut crate::Client,
    path: &str,
    json: bool,
) -> Result<(), ClientError> {
    let entries = client.list(path).await?;
    let text = if json {
        format!(
            "{}\n",
            output::listing_json(&output::remote_shown(path), &entries)
        )
    } else {
        output::listing_table(&entries)
    };
    super::print(&text)
}

/// One folder whose entries are arriving.
struct Open {
    /// Its path relative to the listed folder ("" for the listed folder).
    relative: String,
    /// Its entries so far.
    entries: Vec<DirEntry>,
    /// Its subfolders so far (paths relative to the listed folder), in order.
    subfolders: Vec<String>,
}

impl Open {
    fn new(relative: String) -> Self {
        Open {
            relative,
            entries: Vec::new(),
            subfolders: Vec::new(),
        }
    }
}

/// Groups a tree listing in `ls -R` order (each folder's entries together, the folders in
/// pre-order) into one section per folder, each written out once the listing moves on. An
/// empty folder sends no entries, so the subfolders each section names are kept, as a stack,
/// to give every one its section in its place, empty ones included.
struct Sections {
    /// The listed folder as shown (`/photos`).
    top: String,
    /// One JSON object per folder instead of a heading and a table.
    json: bool,
    /// The folder whose entries are arriving.
    current: Open,
    /// Folders whose sections are still to come, the next one last: the subfolders not yet
    /// reached of the folders on the current path.
    pending: Vec<String>,
    /// A section was written already (the next one starts with a blank line).
    written: bool,
}

impl Sections {
    fn new(top: &str, json: bool) -> Self {
        Sections {
            top: top.to_owned(),
            json,
            current: Open::new(String::new()),
            pending: Vec::new(),
            written: false,
        }
    }

    /// Takes the next entry of the listing, writing to `out` the sections of the folders the
    /// listing has left (and of the empty ones it passed).
    fn add(&mut self, entry: TreeEntry, out: &mut String) {
        let (parent, name) = match entry.path.rsplit_once('/') {
            Some((parent, name)) => (parent, name),
            None => ("", entry.path.as_str()),
        };
        if self.current.relative != parent {
            self.close_current(out);
            // The folders expected before this one had no entries: empty sections. A parent
            // never announced (a server out of order) just starts its section.
            if let Some(at) = self.pending.iter().rposition(|p| p == parent) {
                while self.pending.len() > at + 1 {
                    if let Some(empty) = self.pending.pop() {
                        self.write(&empty, &[], out);
                    }
                }
                self.pending.pop();
            }
            self.current = Open::new(parent.to_owned());
        }
        self.current.entries.push(DirEntry {
            name: name.to_owned(),
            kind: entry.kind,
            size: entry.size,
            modified: entry.modified_secs,
        });
        if entry.kind == ftp_proto::EntryKind::Dir {
            self.current.subfolders.push(entry.path);
        }
    }

    /// Writes the current folder's section and adds its subfolders to those to come.
    fn close_current(&mut self, out: &mut String) {
        let done = std::mem::replace(&mut self.current, Open::new(String::new()));
        self.write(&done.relative, &done.entries, out);
        self.pending.extend(done.subfolders.into_iter().rev());
    }

    /// Writes one folder's section.
    fn write(&mut self, relative: &str, entries: &[DirEntry], out: &mut String) {
        let shown = match (self.top.as_str(), relative) {
            (top, "") => top.to_owned(),
            ("/", relative) => format!("/{relative}"),
            (top, relative) => format!("{top}/{relative}"),
        };
        if self.json {
            out.push_str(&format!("{}\n", output::listing_json(&shown, entries)));
        } else {
            if self.written {
                out.push('\n');
            }
            out.push_str(&format!("{}:\n", output::printable(&shown)));
            out.push_str(&output::listing_table(entries));
        }
        self.written = true;
    }

    /// The current folder's section and those of the empty folders still to come.
    fn finish(mut self) -> String {
        let mut out = String::new();
        self.close_current(&mut out);
        while let Some(empty) = self.pending.pop() {
            self.write(&empty, &[], &mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ftp_proto::EntryKind;

    fn entry(path: &str, kind: EntryKind) -> TreeEntry {
        TreeEntry {
            path: path.into(),
            kind,
            size: 1,
            modified_secs: 0,
            modified_nanos: 0,
            sha256: None,
        }
    }

    fn sections(top: &str, json: bool, paths: &[(&str, EntryKind)]) -> String {
        let mut sections = Sections::new(top, json);
        let mut out = String::new();
        for (path, kind) in paths {
            sections.add(entry(path, *kind), &mut out);
        }
        out + &sections.finish()
    }

    #[test]
    fn sections_come_top_first_in_pre_order_empty_folders_in_place() {
        use EntryKind::{Dir, File};
        // As the server sends it: each folder's entries together, folders in pre-order.
        let tree = [
            ("a", Dir),
            ("m", Dir),
            ("z", File),
            ("a/b", Dir),
            ("a/empty", Dir),
            ("a/f", Dir),
            ("a/y", File),
            ("a/b/x", File),
            ("a/f/q", File),
        ];
        let text = sections("/p", false, &tree);
        let headings: Vec<_> = text.lines().filter(|l| l.ends_with(':')).collect();
        assert_eq!(
            headings,
            ["/p:", "/p/a:", "/p/a/b:", "/p/a/empty:", "/p/a/f:", "/p/m:"]
        );
        assert!(
            text.starts_with(
                "/p:\nd 1  1970-01-01T00:00:00Z  a/\nd 1  1970-01-01T00:00:00Z  m/\n\
                 - 1  1970-01-01T00:00:00Z  z\n\n/p/a:\n"
            ),
            "{text}"
        );
        assert!(text.contains("/p/a/empty:\n\n/p/a/f:\n"), "{text}");
        assert!(text.ends_with("\n\n/p/m:\n"), "{text}");
        let json = sections("/", true, &tree);
        let objects: Vec<serde_json::Value> = json
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let paths: Vec<_> = objects
            .iter()
            .map(|o| o["path"].as_str().unwrap())
            .collect();
        assert_eq!(paths, ["/", "/a", "/a/b", "/a/empty", "/a/f", "/m"]);
        assert_eq!(objects[0]["op"], "ls");
        assert_eq!(objects[0]["entries"][2]["name"], "z");
        assert_eq!(objects[1]["entries"].as_array().unwrap().len(), 4);
        assert_eq!(objects[3]["entries"].as_array().unwrap().len(), 0);
        assert_eq!(objects[5]["entries"].as_array().unwrap().len(), 0);
    }

    #[test]
    fn an_empty_tree_is_its_heading_and_names_are_escaped() {
        assert_eq!(sections("/e", false, &[]), "/e:\n");
        let text = sections("/", false, &[("a\nb", EntryKind::Dir)]);
        assert!(text.ends_with("\n\n/a\\nb:\n"), "{text}");
        assert!(text.starts_with("/:\n"), "{text}");
    }
}
