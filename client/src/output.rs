//! What the client prints: human tables on stdout, or one JSON object per result with `--json`.
//! Names from the server are shown with control characters escaped, so a hostile name cannot
//! drive the terminal, and so are the invisible format characters (bidirectional overrides
//! and isolates, zero-width spaces and joiners, the byte-order mark), so a name cannot show
//! as another ("abc\u{202e}txt.exe" is not shown as "abcexe.txt").

use ftp_proto::{DirEntry, EntryKind};
use indicatif::HumanBytes;
use serde_json::json;

use std::io::Write;

use crate::error::ClientError;
use crate::jobs::{GetJob, Outcome, PutJob};

/// The latest time an RFC 3339 formatter handles (9999-12-31T23:59:59Z).
const MAX_RFC3339: i64 = 253_402_300_799;

/// Seconds since the epoch as `2026-11-22T11:30:48Z` (the raw number when out of range).
pub fn timestamp(seconds: i64) -> String {
    if (0..=MAX_RFC3339).contains(&seconds) {
        let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(seconds.unsigned_abs());
        humantime::format_rfc3339_seconds(time).to_string()
    } else {
        seconds.to_string()
    }
}

/// Whether `c` is an invisible format character that can make a name look like another:
/// bidirectional marks, embeddings, overrides and isolates, zero-width and invisible
/// characters, the byte-order mark, interlinear annotations and tag characters.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

/// A name with control and invisible format characters escaped for the terminal.
pub fn printable(name: &str) -> String {
    name.chars()
        .flat_map(|c| {
            if c.is_control() || is_invisible(c) {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

/// A message of one or more lines, each line made [`printable`].
pub fn printable_lines(text: &str) -> String {
    text.split('\n')
        .map(printable)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The word used for an entry kind in JSON.
fn kind_name(kind: EntryKind) -> &'static str {
    match kind {
        EntryKind::File => "file",
        EntryKind::Dir => "dir",
        EntryKind::Symlink => "symlink",
        EntryKind::Fifo => "fifo",
        EntryKind::Socket => "socket",
        EntryKind::BlockDevice => "block-device",
        EntryKind::CharDevice => "char-device",
    }
}

/// `ls` as a table: type (as `ls -l` marks it), size in bytes, modification time (UTC), name
/// (`/` after folders, `@` after links, `|` after FIFOs, `=` after sockets, as `ls -F`).
pub fn listing_table(entries: &[DirEntry]) -> String {
    let width = entries
        .iter()
        .map(|e| e.size.to_string().len())
        .max()
        .unwrap_or(1);
    let mut out = String::new();
    for entry in entries {
        let (mark, suffix) = match entry.kind {
            EntryKind::File => ('-', ""),
            EntryKind::Dir => ('d', "/"),
            EntryKind::Symlink => ('l', "@"),
            EntryKind::Fifo => ('p', "|"),
            EntryKind::Socket => ('s', "="),
            EntryKind::BlockDevice => ('b', ""),
            EntryKind::CharDevice => ('c', ""),
        };
        out.push_str(&format!(
            "{mark} {size:>width$}  {time}  {name}{suffix}\n",
            size = entry.size,
            time = timestamp(entry.modified),
            name = printable(&entry.name),
        ));
    }
    out
}

/// `ls --json`: `{"op":"ls","path":…,"entries":[{"name","type","size","modified","mtime"}]}`.
pub fn listing_json(path: &str, entries: &[DirEntry]) -> serde_json::Value {
    let entries: Vec<_> = entries
        .iter()
        .map(|e| {
            json!({
                "name": e.name,
                "type": kind_name(e.kind),
                "size": e.size,
                "modified": timestamp(e.modified),
                "mtime": e.modified,
            })
        })
        .collect();
    json!({ "op": "ls", "path": path, "entries": entries })
}

/// `put --json`: `{"op":"put","local","remote","size","sent","resumed_from","sha256","result",
/// "hashed_from_cache"}`.
pub fn put_json(job: &PutJob, outcome: &Outcome) -> serde_json::Value {
    json!({
        "op": "put",
        "local": job.local.display().to_string(),
        "remote": remote_shown(&job.remote),
        "size": outcome.size,
        "sent": outcome.sent,
        "resumed_from": outcome.resumed_from,
        "sha256": hex::encode(outcome.sha256),
        "result": if outcome.identical { "identical" } else { "uploaded" },
        "hashed_from_cache": outcome.hashed_from_cache,
    })
}

/// One line for a person after an upload.
pub fn put_summary(job: &PutJob, outcome: &Outcome) -> String {
    let remote = printable(&remote_shown(&job.remote));
    let local = printable(&job.local.display().to_string());
    let sha = hex::encode(&outcome.sha256[..8]);
    if outcome.identical {
        return format!("{local}: identical content already at {remote} (sha256 {sha}…)");
    }
    let resumed = if outcome.resumed_from > 0 {
        format!(", resumed from {}", HumanBytes(outcome.resumed_from))
    } else {
        String::new()
    };
    format!(
        "{local} -> {remote}: {} verified (sha256 {sha}…){resumed}",
        HumanBytes(outcome.size)
    )
}

/// `get --json`: `{"op":"get","remote","local","size","sent","resumed_from","sha256","result",
/// "hashed_from_cache"}`.
pub fn get_json(job: &GetJob, outcome: &Outcome) -> serde_json::Value {
    json!({
        "op": "get",
        "remote": remote_shown(&job.remote),
        "local": job.local.display().to_string(),
        "size": outcome.size,
        "sent": outcome.sent,
        "resumed_from": outcome.resumed_from,
        "sha256": hex::encode(outcome.sha256),
        "result": if outcome.identical { "identical" } else { "downloaded" },
        "hashed_from_cache": outcome.hashed_from_cache,
    })
}

/// One line for a person after a download.
pub fn get_summary(job: &GetJob, outcome: &Outcome) -> String {
    if outcome.identical {
        return format!(
            "{}: identical content already at {} (sha256 {}…)",
            printable(&remote_shown(&job.remote)),
            printable(&job.local.display().to_string()),
            hex::encode(&outcome.sha256[..8])
        );
    }
    let resumed = if outcome.resumed_from > 0 {
        format!(", resumed from {}", HumanBytes(outcome.resumed_from))
    } else {
        String::new()
    };
    format!(
        "{} -> {}: {} verified (sha256 {}…){resumed}",
        printable(&remote_shown(&job.remote)),
        printable(&job.local.display().to_string()),
        HumanBytes(outcome.size),
        hex::encode(&outcome.sha256[..8])
    )
}

/// `stat --json`.
pub fn stat_json(path: &str, entry: &DirEntry, sha256: Option<&[u8; 32]>) -> serde_json::Value {
    json!({
        "op": "stat",
        "path": path,
        "type": kind_name(entry.kind),
        "size": entry.size,
        "modified": timestamp(entry.modified),
        "mtime": entry.modified,
        "sha256": sha256.map(hex::encode),
    })
}

/// `stat` for a person.
pub fn stat_text(path: &str, entry: &DirEntry, sha256: Option<&[u8; 32]>) -> String {
    let mut text = format!(
        "{}\n  type      {}\n  size      {} ({})\n  modified  {}\n",
        printable(path),
        kind_name(entry.kind),
        entry.size,
        HumanBytes(entry.size),
        timestamp(entry.modified)
    );
    if let Some(sha256) = sha256 {
        text.push_str(&format!("  sha256    {}\n", hex::encode(sha256)));
    }
    text
}

/// A remote path as the server shows it: from the home, with a leading `/`, without empty or
/// `.` components (`./a//b/.` is `/a/b`). `..` is left as it is: the server refuses it.
pub fn remote_shown(remote: &str) -> String {
    let parts: Vec<&str> = remote
        .split('/')
        .filter(|part| !part.is_empty() && *part != ".")
        .collect();
    format!("/{}", parts.join("/"))
}

/// Writes `text` to stdout and flushes it.
pub fn print(text: &str) -> Result<(), ClientError> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|source| ClientError::Local {
            context: "cannot write to standard output".into(),
            source,
        })
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_paths_are_shown_from_the_home_without_dots_or_doubled_slashes() {
        assert_eq!(remote_shown("a.txt"), "/a.txt");
        assert_eq!(remote_shown("/a.txt"), "/a.txt");
        assert_eq!(remote_shown("./nu.bin"), "/nu.bin");
        assert_eq!(remote_shown("/./b//c/./d.bin"), "/b/c/d.bin");
        assert_eq!(remote_shown("."), "/");
        assert_eq!(remote_shown(""), "/");
        assert_eq!(remote_shown("a/../b"), "/a/../b");
        assert_eq!(remote_shown(".hidden/..x"), "/.hidden/..x");
    }

    #[test]
    fn timestamps_and_hostile_names() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(timestamp(-5), "-5");
        assert_eq!(timestamp(i64::MAX), i64::MAX.to_string());
        assert_eq!(printable("a\u{1b}[2Jb\n"), "a\\u{1b}[2Jb\\n");
        assert_eq!(printable("abc\u{202e}txt.exe"), "abc\\u{202e}txt.exe");
        for hidden in [
            '\u{200b}', '\u{200d}', '\u{2066}', '\u{2069}', '\u{feff}', '\u{200f}',
        ] {
            let shown = printable(&format!("a{hidden}b"));
            assert!(
                shown.starts_with("a\\u{") && shown.ends_with("}b"),
                "{shown}"
            );
        }
        assert_eq!(printable("naïve 日本"), "naïve 日本");
    }

    #[test]
    fn table_marks_kinds() {
        let entries = vec![
            DirEntry {
                name: "docs".into(),
                kind: EntryKind::Dir,
                size: 0,
                modified: 0,
            },
            DirEntry {
                name: "a.bin".into(),
                kind: EntryKind::File,
                size: 1234,
                modified: 0,
            },
        ];
        let table = listing_table(&entries);
        assert!(table.contains("d    0  1970-01-01T00:00:00Z  docs/"));
        assert!(table.contains("- 1234  1970-01-01T00:00:00Z  a.bin"));
        let json = listing_json("/", &entries);
        assert_eq!(json["entries"][1]["size"], 1234);
        assert_eq!(json["entries"][0]["type"], "dir");
    }
}
