//! What a command over several files adds up to, and the lines it prints for them with
//! `--json`: a `failed` line for each file that did not go (with `error` and `exit_code`), and
//! a last line `{"op":"summary","files","bytes","skipped","failed","deleted","seconds"}`.
//! `files` and `bytes` count what was moved (uploaded, downloaded or replaced); files found
//! identical count in neither, nor in `skipped`.

use std::time::Instant;

use serde_json::json;

use crate::error::ClientError;

/// Counts over one command's files.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Files moved (uploaded, downloaded, replaced).
    pub files: u64,
    /// Bytes those files hold.
    pub bytes: u64,
    /// Files left alone: unchanged by the quick check, links, names that cannot be used.
    pub skipped: u64,
    /// Files that failed.
    pub failed: u64,
    /// Files and folders deleted (sync --delete).
    pub deleted: u64,
    /// When the command started.
    pub started: Instant,
}

impl Summary {
    /// All zero, starting now.
    pub fn new() -> Self {
        Summary {
            files: 0,
            bytes: 0,
            skipped: 0,
            failed: 0,
            deleted: 0,
            started: Instant::now(),
        }
    }

    /// Counts one file moved.
    pub fn moved(&mut self, bytes: u64) {
        self.files += 1;
        self.bytes += bytes;
    }

    /// The last `--json` line.
    pub fn json(&self) -> serde_json::Value {
        json!({
            "op": "summary",
            "files": self.files,
            "bytes": self.bytes,
            "skipped": self.skipped,
            "failed": self.failed,
            "deleted": self.deleted,
            "seconds": (self.started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
        })
    }

    /// The last line for a person.
    pub fn text(&self) -> String {
        let mut parts = vec![format!(
            "{} {}, {}",
            self.files,
            if self.files == 1 { "file" } else { "files" },
            indicatif::HumanBytes(self.bytes)
        )];
        if self.skipped > 0 {
            parts.push(format!("{} skipped", self.skipped));
        }
        if self.deleted > 0 {
            parts.push(format!("{} deleted", self.deleted));
        }
        if self.failed > 0 {
            parts.push(format!("{} failed", self.failed));
        }
        format!(
            "{} in {:.1} s",
            parts.join(", "),
            self.started.elapsed().as_secs_f64()
        )
    }
}

impl Default for Summary {
    fn default() -> Self {
        Summary::new()
    }
}

/// The `--json` line of a file that failed: `{"op","local","remote","result":"failed","error",
/// "exit_code"}` (`local` or `remote` null when the file has none yet).
pub fn failed_json(
    op: &str,
    local: Option<&std::path::Path>,
    remote: Option<&str>,
    error: &ClientError,
) -> serde_json::Value {
    json!({
        "op": op,
        "local": local.map(|path| path.display().to_string()),
        "remote": remote.map(crate::output::remote_shown),
        "result": "failed",
        "error": error.to_string(),
        "exit_code": error.exit_code(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_line_names_every_count() {
        let mut summary = Summary::new();
        summary.moved(10);
        summary.moved(5);
        summary.skipped += 2;
        summary.failed += 1;
        let line = summary.json();
        assert_eq!(line["op"], "summary");
        assert_eq!(line["files"], 2);
        assert_eq!(line["bytes"], 15);
        assert_eq!(line["skipped"], 2);
        assert_eq!(line["failed"], 1);
        assert_eq!(line["deleted"], 0);
        assert!(line["seconds"].as_f64().is_some());
        assert!(
            summary
                .text()
                .starts_with("2 files, 15 B, 2 skipped, 1 failed in ")
        );
    }

    #[test]
    fn a_failed_line_carries_the_error_and_its_code() {
        let error = ClientError::Remote {
            kind: ftp_proto::ErrorKind::Exists,
            message: "a different file is already there".into(),
        };
        let line = failed_json(
            "put",
            Some(std::path::Path::new("a/b")),
            Some("x/b"),
            &error,
        );
        assert_eq!(line["result"], "failed");
        assert_eq!(line["exit_code"], 4);
        assert_eq!(line["local"], "a/b");
        assert!(line["error"].as_str().unwrap().contains("different"));
    }
}
