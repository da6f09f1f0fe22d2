//! The plan of `ftp get REMOTE... --to DIR`: each REMOTE parsed (a plain path, or a pattern in
//! its last part), then matched against its folder's listing into the files to fetch (each
//! remote file once, with its listed size), the ones skipped and the REMOTEs that failed.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use ftp_proto::{DirEntry, EntryKind, ErrorKind};

use crate::error::ClientError;
use crate::jobs::GetJob;
use crate::output::{printable, remote_shown};
use crate::remote_glob::{RemoteGlob, has_glob};

/// One REMOTE as given: a plain path or a pattern.
pub enum Wanted {
    /// A plain remote path, and the folder it is in.
    Plain {
        /// As given.
        remote: String,
        /// Its folder ("" for the home).
        folder: String,
    },
    /// A pattern in the last component.
    Glob(RemoteGlob),
}

/// One line of the plan, in the order of the command line and of each folder's listing.
pub enum Step {
    /// A file to fetch, with its listed size (`None` when the listing did not show it).
    Fetch(GetJob, Option<u64>),
    /// Left alone, and why.
    Skip(String, String),
    /// Failed before anything moved.
    Fail(String, ClientError),
}

/// The same error again (a listing's refusal is told for each REMOTE of its folder).
pub fn copy(error: &ClientError) -> ClientError {
    match error {
        ClientError::Remote { kind, message } => ClientError::Remote {
            kind: *kind,
            message: message.clone(),
        },
        other => ClientError::Protocol(other.to_string()),
    }
}

/// Parses one REMOTE; a plain one must end in a usable local name.
pub fn parse(remote: &str) -> Result<Wanted, ClientError> {
    if has_glob(remote) {
        return RemoteGlob::parse(remote).map(Wanted::Glob);
    }
    crate::remote_glob::remote_file_name(remote)?;
    let trimmed = remote.trim_end_matches('/');
    let folder = trimmed.rsplit_once('/').map_or("", |(folder, _)| folder);
    Ok(Wanted::Plain {
        remote: remote.to_owned(),
        folder: folder.to_owned(),
    })
}

/// The path to list for a folder ("" is the home).
pub fn listing_path(folder: &str) -> &str {
    if folder.is_empty() { "/" } else { folder }
}

/// Turns the REMOTEs and their folders' listings into steps (each remote file once).
pub fn plan(
    wanted: &[Wanted],
    listings: &HashMap<String, Result<Vec<DirEntry>, ClientError>>,
    dir: &Path,
    durable: bool,
) -> Vec<Step> {
    let mut seen = HashSet::new();
    let mut steps = Vec::new();
    let mut fetch = |steps: &mut Vec<Step>, remote: String, name: &str, size: Option<u64>| {
        if seen.insert(remote_shown(&remote)) {
            let job = GetJob {
                local: dir.join(name),
                remote,
                durable,
            };
            steps.push(Step::Fetch(job, size));
        }
    };
    for want in wanted {
        match want {
            Wanted::Plain { remote, folder } => {
                let name = crate::remote_glob::remote_file_name(remote).unwrap_or_default();
                let listed = match listings.get(folder) {
                    Some(Ok(entries)) => entries.iter().find(|e| e.name == name),
                    _ => None,
                };
                match listed {
                    Some(entry) if entry.kind == EntryKind::Dir => steps.push(Step::Fail(
                        remote.clone(),
                        ClientError::Remote {
                            kind: ErrorKind::Denied,
                            message: format!(
                                "{} is a folder (get -r copies a folder)",
                                printable(&remote_shown(remote))
                            ),
                        },
                    )),
                    // Not listed (or not a plain file): the server's answer to `Get` tells.
                    entry => {
                        let size = entry.filter(|e| e.kind == EntryKind::File).map(|e| e.size);
                        fetch(&mut steps, remote.clone(), name, size);
                    }
                }
            }
            Wanted::Glob(glob) => {
                let shown = remote_shown(&glob.child(&glob.pattern));
                let entries = match listings.get(&glob.folder) {
                    Some(Ok(entries)) => entries,
                    Some(Err(error)) => {
                        steps.push(Step::Fail(shown, copy(error)));
                        continue;
                    }
                    None => continue,
                };
                let mut matched: Vec<&DirEntry> =
                    entries.iter().filter(|e| glob.matches(&e.name)).collect();
                if matched.is_empty() {
                    // A name that merely looks like a pattern (`a[1].txt`) is that name.
                    matched.extend(entries.iter().filter(|e| e.name == glob.pattern));
                }
                if matched.is_empty() {
                    steps.push(Step::Fail(
                        shown.clone(),
                        ClientError::Remote {
                            kind: ErrorKind::NotFound,
                            message: format!("no remote names match {}", printable(&shown)),
                        },
                    ));
                }
                for entry in matched {
                    let remote = glob.child(&entry.name);
                    if entry.kind != EntryKind::File {
                        let what = match entry.kind {
                            EntryKind::Dir => "a folder (get -r copies a folder)",
                            EntryKind::Symlink => "a link (links are not followed)",
                            _ => "not a regular file",
                        };
                        steps.push(Step::Skip(remote, format!("skipped: it is {what}")));
                    } else if crate::remote_glob::remote_file_name(&entry.name).is_err() {
                        let why = "skipped: its name cannot be a local file name".to_owned();
                        steps.push(Step::Skip(remote, why));
                    } else {
                        fetch(&mut steps, remote, &entry.name, Some(entry.size));
                    }
                }
            }
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, kind: EntryKind, size: u64) -> DirEntry {
        DirEntry {
            name: name.into(),
            kind,
            size,
            modified: 0,
        }
    }

    #[test]
    fn remotes_become_each_file_once_with_folders_and_odd_names_skipped() {
        let listing = vec![
            entry("a.gz", EntryKind::File, 3),
            entry("d.gz", EntryKind::Dir, 0),
            entry("bad\\.gz", EntryKind::File, 1),
            entry("l.gz", EntryKind::Symlink, 4),
        ];
        let mut listings = HashMap::new();
        listings.insert("logs".to_owned(), Ok(listing));
        listings.insert(
            "gone".to_owned(),
            Err(ClientError::Remote {
                kind: ErrorKind::NotFound,
                message: "no such folder".into(),
            }),
        );
        let wanted: Vec<Wanted> = [
            "logs/*.gz",
            "logs/a.gz",
            "logs/*.zip",
            "gone/*",
            "logs/d.gz",
        ]
        .iter()
        .map(|r| parse(r).unwrap())
        .collect();
        let steps = plan(&wanted, &listings, Path::new("out"), true);
        let shown: Vec<String> = steps
            .iter()
            .map(|step| match step {
                Step::Fetch(job, size) => {
                    format!("fetch {} {size:?} {}", job.remote, job.local.display())
                }
                Step::Skip(remote, _) => format!("skip {remote}"),
                Step::Fail(remote, error) => format!("fail {remote} {}", error.exit_code()),
            })
            .collect();
        assert_eq!(
            shown,
            [
                "fetch logs/a.gz Some(3) out/a.gz",
                "skip logs/d.gz",
                "skip logs/bad\\.gz",
                "skip logs/l.gz",
                "fail /logs/*.zip 4",
                "fail /gone/* 4",
                "fail logs/d.gz 4",
            ]
        );
        assert!(parse("logs/..").is_err() && parse("*/x").is_err());
        assert_eq!(listing_path(""), "/");
    }
}
