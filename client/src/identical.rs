//! `get` onto an existing local file without `--force`: compared, never rewritten.
//!
//! The cheapest honest comparison: the client asks to "resume" at the local file's length.
//! When the remote file has that size the server sends no data, only `GetDone` with its
//! SHA-256 (known from the upload without reading the file again, else hashed once), while
//! the client hashes its own file on a blocking thread. The same digest is success,
//! `identical`, exit 0, with nothing written; another size or digest is the old refusal,
//! "already exists", exit 4. A size that differs ends the attempt at once (the data the
//! server then starts sending is not read: the connection is dropped with the error).

use std::path::Path;

use ftp_proto::{ClientMessage, ErrorKind, ServerMessage};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::connection::{Client, unexpected};
use crate::download::GetPlan;
use crate::error::ClientError;
use crate::output::{printable, remote_shown};
use crate::progress::FileProgress;
use crate::transfer::Report;

/// The length of an existing regular file at `local` (not followed), `None` when nothing is
/// there; anything else there (a link, a folder) is refused as existing.
pub fn existing_len(local: &Path) -> Result<Option<u64>, ClientError> {
    match std::fs::symlink_metadata(local) {
        Ok(meta) if meta.is_file() => Ok(Some(meta.len())),
        Ok(_) => Err(ClientError::Remote {
            kind: ErrorKind::Exists,
            message: format!(
                "{} already exists and is not a regular file; use --force to replace it",
                printable(&local.display().to_string())
            ),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ClientError::Local {
            context: format!("cannot read {}", printable(&local.display().to_string())),
            source,
        }),
    }
}

/// The refusal of a local file that differs from the remote one.
fn differs(plan: &GetPlan<'_>) -> ClientError {
    ClientError::Remote {
        kind: ErrorKind::Exists,
        message: format!(
            "{} already exists and differs from {}; use --force to replace it",
            printable(&plan.local.display().to_string()),
            printable(&remote_shown(plan.remote)),
        ),
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    /// Compares the existing `plan.local`, `len` bytes long, with the remote file (see the
    /// module doc).
    pub(crate) async fn compare_existing(
        &mut self,
        plan: &GetPlan<'_>,
        len: u64,
        progress: &FileProgress,
    ) -> Result<Report, ClientError> {
        let local = plan.local.to_path_buf();
        let hashing = tokio::task::spawn_blocking(move || {
            let file = std::fs::File::open(&local)?;
            ftp_proto::filestream::hash_file(&file)
        });
        self.send(ClientMessage::Get {
            path: plan.remote.to_owned(),
            offset: len,
        })
        .await?;
        match self.receive().await? {
            ServerMessage::GetReady { size, offset, .. } if size == len && offset == len => {}
            ServerMessage::GetReady { .. } => return Err(differs(plan)),
            other => return Err(unexpected("a download answer", &other)),
        }
        progress.start_sized(0, len, "local file");
        let server_sha = match self.receive().await? {
            ServerMessage::GetDone { sha256 } => sha256,
            other => return Err(unexpected("the file's SHA-256", &other)),
        };
        let local_sha = hashing
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())))
            .map_err(|source| ClientError::Local {
                context: format!(
                    "cannot read {}",
                    printable(&plan.local.display().to_string())
                ),
                source,
            })?;
        if local_sha != server_sha {
            return Err(differs(plan));
        }
        Ok(Report {
            size: len,
            offset: len,
            sha256: local_sha,
            identical: true,
        })
    }
}
