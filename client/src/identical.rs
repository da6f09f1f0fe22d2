//! `get` onto an existing local file: compared, and never rewritten when identical.
//!
//! The cheapest honest comparison: the client asks to "resume" at the local file's length.
//! When the remote file has that size the server sends no data, only `GetDone` with its
//! SHA-256 (known from the upload without reading the file again, else hashed once), while
//! the client hashes its own file on a blocking thread (opened without following a link and
//! without blocking, and checked to be the regular file of that length, so a link or FIFO
//! swapped in meanwhile is refused, never waited on; hashed only once the sizes are known to
//! match). The same digest is success,
//! `identical`, exit 0, with nothing written; another size or digest is the old refusal,
//! "already exists", exit 4. A size that differs ends the attempt at once (the data the
//! server then starts sending is not read: the connection is dropped with the error). The
//! local file's SHA-256 comes from the client's cache when it knows the file unchanged and the
//! digest matches (see [`crate::local_hash`]); else the file is read, with a "checking" bar.
//! The file is opened and hashed on blocking threads, never on the async runtime.
//!
//! With `--force` the same comparison runs first, but only onto a regular file whose length a
//! `List` of the remote file shows to be the remote file's size (so no data is in flight when
//! they differ): identical is `identical` as above; a different digest, or a local file that is
//! not the regular file of that length when opened, lets the download go on as a normal one on
//! a new request, replacing `LOCAL` through its `.part`. A remote file that changed size
//! between the `List` and the request ends the attempt as a lost connection (its data is
//! already on the way), which a retry starts afresh.

use std::path::Path;
use std::sync::Arc;

use ftp_proto::{ClientMessage, EntryKind, ErrorKind, ServerMessage};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::connection::{Client, unexpected};
use crate::error::ClientError;
use crate::jobs::GetPlan;
use crate::jobs::{Report, Tally};
use crate::local_hash;
use crate::output::{printable, remote_shown};
use crate::progress::FileProgress;

/// The length of an existing regular file at `local` (not followed), `None` when nothing is
/// there; anything else there (a link, a folder) is refused as existing. Blocking (one
/// `lstat`): a download calls it on a blocking thread; `ftp get` also once before it connects.
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

/// How a comparison ended.
enum Compared {
    /// The same content: the report of a download that wrote nothing.
    Identical(Report),
    /// Different content of the same size; the connection is ready for another request.
    Differs,
    /// The remote file has another size; its data may be on the way, unread.
    OtherSize,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    /// Compares the existing `plan.local`, `len` bytes long, with the remote file (see the
    /// module doc).
    pub(crate) async fn compare_existing(
        &mut self,
        plan: &GetPlan<'_>,
        len: u64,
        progress: &FileProgress,
        tally: &mut Tally,
    ) -> Result<Report, ClientError> {
        let local = plan.local.to_path_buf();
        let file = Arc::new(crate::blocking::run(move || open_same(&local, len)).await?);
        match self.compare_open(plan, len, file, progress, tally).await? {
            Compared::Identical(report) => Ok(report),
            Compared::Differs | Compared::OtherSize => Err(differs(plan)),
        }
    }

    /// With `--force`: compares `plan.local` with the remote file when it is a regular file of
    /// the remote file's size (see the module doc). `Some` when identical; `None` when the
    /// download is to go on and replace it.
    pub(crate) async fn compare_before_replacing(
        &mut self,
        plan: &GetPlan<'_>,
        progress: &FileProgress,
        tally: &mut Tally,
    ) -> Result<Option<Report>, ClientError> {
        let local = plan.local.to_path_buf();
        let len = crate::blocking::run(move || {
            Ok(std::fs::symlink_metadata(&local)
                .ok()
                .filter(std::fs::Metadata::is_file)
                .map(|meta| meta.len()))
        })
        .await?;
        let Some(len) = len else {
            return Ok(None);
        };
        let same_size = match self.list(plan.remote).await {
            Ok(entries) => matches!(
                entries.as_slice(),
                [entry] if entry.kind == EntryKind::File && entry.size == len
            ),
            // The download itself tells what is wrong with the remote path.
            Err(ClientError::Remote { .. }) => false,
            Err(error) => return Err(error),
        };
        if !same_size {
            return Ok(None);
        }
        let local = plan.local.to_path_buf();
        // Anything but the regular file of that length there now is simply replaced.
        let Ok(file) = crate::blocking::run(move || open_same(&local, len)).await else {
            return Ok(None);
        };
        match self
            .compare_open(plan, len, Arc::new(file), progress, tally)
            .await?
        {
            Compared::Identical(report) => Ok(Some(report)),
            Compared::Differs => Ok(None),
            Compared::OtherSize => Err(ClientError::Connection(format!(
                "{} changed size while being compared",
                printable(&remote_shown(plan.remote))
            ))),
        }
    }

    /// Compares the open `file`, `plan.local` of `len` bytes, with the remote file: asks to
    /// resume at `len` and hashes the local file meanwhile (see the module doc).
    async fn compare_open(
        &mut self,
        plan: &GetPlan<'_>,
        len: u64,
        file: Arc<std::fs::File>,
        progress: &FileProgress,
        tally: &mut Tally,
    ) -> Result<Compared, ClientError> {
        self.send(ClientMessage::Get {
            path: plan.remote.to_owned(),
            offset: len,
            limit_rate: None,
        })
        .await?;
        match self.receive().await? {
            ServerMessage::GetReady { size, offset, .. } if size == len && offset == len => {}
            ServerMessage::GetReady { .. } => {
                // Its data is on the way, unread.
                self.set_out_of_step();
                return Ok(Compared::OtherSize);
            }
            other => return Err(unexpected("a download answer", &other)),
        }
        progress.start_sized(0, len, "local file");
        let checking = || progress.hashing("checking");
        let hashing = local_hash::hash(plan.local, Arc::clone(&file), true, checking());
        let server_sha = match self.receive().await? {
            ServerMessage::GetDone { sha256 } => sha256,
            other => return Err(unexpected("the file's SHA-256", &other)),
        };
        let again = || local_hash::hash(plan.local, file, false, checking());
        let local = match self.interrupt().guard(hashing).await? {
            Ok(first) => {
                let confirmed = local_hash::confirmed(first, &server_sha, again);
                self.interrupt().guard(confirmed).await?
            }
            Err(error) => Err(error),
        }
        .map_err(|source| ClientError::Local {
            context: format!(
                "cannot read {}",
                printable(&plan.local.display().to_string())
            ),
            source,
        })?;
        if local.sha256 != server_sha {
            return Ok(Compared::Differs);
        }
        tally.hashed_from_cache |= local.from_cache;
        Ok(Compared::Identical(Report {
            size: len,
            offset: len,
            sha256: local.sha256,
            identical: true,
        }))
    }
}

/// Opens the existing `local` for comparing: never through a link, never blocking (on a FIFO
/// swapped in since it was looked at), and only if it still is a regular file of `len` bytes;
/// anything else there is refused as existing.
pub(crate) fn open_same(local: &Path, len: u64) -> Result<std::fs::File, ClientError> {
    let shown = || printable(&local.display().to_string());
    let opened = crate::part::options()
        .read(true)
        .open(local)
        .and_then(|file| Ok((file.metadata()?, file)));
    match opened {
        Ok((meta, file)) if meta.is_file() && meta.len() == len => Ok(file),
        Ok(_) => Err(ClientError::Remote {
            kind: ErrorKind::Exists,
            message: format!(
                "{} already exists and changed while being compared; use --force to replace it",
                shown()
            ),
        }),
        Err(source) if source.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) => {
            Err(ClientError::Remote {
                kind: ErrorKind::Exists,
                message: format!(
                    "{} already exists and is not a regular file; use --force to replace it",
                    shown()
                ),
            })
        }
        Err(source) => Err(ClientError::Local {
            context: format!("cannot read {}", shown()),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_regular_file_of_that_length_is_opened_never_a_link_or_fifo() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, b"12345").unwrap();
        assert!(open_same(&file, 5).is_ok());
        let exists = |result: Result<std::fs::File, ClientError>| {
            matches!(
                result,
                Err(ClientError::Remote {
                    kind: ErrorKind::Exists,
                    ..
                })
            )
        };
        assert!(exists(open_same(&file, 4)), "another length");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert!(exists(open_same(&link, 5)), "a link is not followed");
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        // With no writer, a blocking open would wait forever.
        assert!(exists(open_same(&fifo, 0)), "a FIFO is refused at once");
    }
}
