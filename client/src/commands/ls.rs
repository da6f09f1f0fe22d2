//! `ftp ls [-R] [PATH]`: a table of the remote folder, or one JSON object with `--json`; with
//! `-R`, the whole tree beneath it, one section (or JSON object) per folder.
//!
//! A recursive listing streams: the server sends the tree depth first in batches, and each
//! folder's section is printed as soon as the stream has left that folder, so the client holds
//! only the folders on the current path (not the whole tree). That makes the order the one
//! `du` uses: a folder's subfolders come before it, the listed folder last; within a section
//! the names are in byte order. An empty folder still gets its heading. `ls -R` of a file shows
//! that file as `ls` does; an empty folder's plain `ls` prints nothing, like coreutils.

use ftp_proto::{DirEntry, ErrorKind, TreeEntry};

use crate::cli::GlobalArgs;
use crate::connector::Connector;
use crate::error::ClientError;
use crate::output;

/// Lists `path` on the server.
pub async fn run(global: &GlobalArgs, path: &str, recursive: bool) -> Result<(), ClientError> {
    let mut client = Connector::new(global)?.connect().await?;
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
                if is_folder(&mut client, path).await? {
                    return Err(error);
                }
                print_listing(&mut client, path, global.json).await?;
            }
            Err(error) => return Err(error),
        }
    } else {
        print_listing(&mut client, path, global.json).await?;
    }
    client.quit().await
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

/// One folder whose entries are still arriving.
struct Open {
    /// Its path relative to the listed folder ("" for the listed folder).
    relative: String,
    /// Its entries so far.
    entries: Vec<DirEntry>,
}

/// Groups a depth-first tree listing into one section per folder, each written out once the
/// listing has left that folder.
struct Sections {
    /// The listed folder as shown (`/photos`).
    top: String,
    /// One JSON object per folder instead of a heading and a table.
    json: bool,
    /// The folders on the current path, the listed one first.
    open: Vec<Open>,
    /// A section was written already (the next one starts with a blank line).
    written: bool,
}

impl Sections {
    fn new(top: &str, json: bool) -> Self {
        Sections {
            top: top.to_owned(),
            json,
            open: vec![Open {
                relative: String::new(),
                entries: Vec::new(),
            }],
            written: false,
        }
    }

    /// Takes the next entry of the listing, writing to `out` the sections of the folders the
    /// listing has left.
    fn add(&mut self, entry: TreeEntry, out: &mut String) {
        let (parent, name) = match entry.path.rsplit_once('/') {
            Some((parent, name)) => (parent, name),
            None => ("", entry.path.as_str()),
        };
        while self.open.len() > 1 && self.open.last().is_some_and(|o| o.relative != parent) {
            self.close(out);
        }
        let described = DirEntry {
            name: name.to_owned(),
            kind: entry.kind,
            size: entry.size,
            modified: entry.modified_secs,
        };
        if let Some(current) = self.open.last_mut() {
            current.entries.push(described);
        }
        if entry.kind == ftp_proto::EntryKind::Dir {
            self.open.push(Open {
                relative: entry.path,
                entries: Vec::new(),
            });
        }
    }

    /// Writes the innermost open folder's section and forgets it.
    fn close(&mut self, out: &mut String) {
        let Some(done) = self.open.pop() else {
            return;
        };
        let shown = match (self.top.as_str(), done.relative.as_str()) {
            (top, "") => top.to_owned(),
            ("/", relative) => format!("/{relative}"),
            (top, relative) => format!("{top}/{relative}"),
        };
        if self.json {
            out.push_str(&format!(
                "{}\n",
                output::listing_json(&shown, &done.entries)
            ));
        } else {
            if self.written {
                out.push('\n');
            }
            out.push_str(&format!("{}:\n", output::printable(&shown)));
            out.push_str(&output::listing_table(&done.entries));
        }
        self.written = true;
    }

    /// The sections of every folder still open, the listed one last.
    fn finish(mut self) -> String {
        let mut out = String::new();
        while !self.open.is_empty() {
            self.close(&mut out);
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
    fn each_folder_is_one_section_once_the_listing_leaves_it() {
        use EntryKind::{Dir, File};
        let tree = [
            ("a", Dir),
            ("a/b", Dir),
            ("a/b/x", File),
            ("a/empty", Dir),
            ("a/y", File),
            ("z", File),
        ];
        let text = sections("/p", false, &tree);
        let headings: Vec<_> = text.lines().filter(|l| l.ends_with(':')).collect();
        assert_eq!(headings, ["/p/a/b:", "/p/a/empty:", "/p/a:", "/p:"]);
        assert!(text.contains("/p/a/empty:\n\n/p/a:\n"), "{text}");
        assert!(
            text.ends_with("/p:\nd 1  1970-01-01T00:00:00Z  a/\n- 1  1970-01-01T00:00:00Z  z\n"),
            "{text}"
        );
        let json = sections("/", true, &tree);
        let objects: Vec<serde_json::Value> = json
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let paths: Vec<_> = objects
            .iter()
            .map(|o| o["path"].as_str().unwrap())
            .collect();
        assert_eq!(paths, ["/a/b", "/a/empty", "/a", "/"]);
        assert_eq!(objects[2]["entries"].as_array().unwrap().len(), 3);
        assert_eq!(objects[1]["entries"].as_array().unwrap().len(), 0);
        assert_eq!(objects[3]["entries"][1]["name"], "z");
    }

    #[test]
    fn an_empty_tree_is_its_heading_and_names_are_escaped() {
        assert_eq!(sections("/e", false, &[]), "/e:\n");
        let text = sections("/", false, &[("a\nb", EntryKind::Dir)]);
        assert!(text.starts_with("/a\\nb:\n\n/:\n"), "{text}");
    }
}
