//! The end of a batch of whole files, on its store thread: with fsync on, one `syncfs` makes
//! every partial of the batch durable, the renames into place follow, and a second `syncfs`
//! makes the new names durable (two flushes for the whole batch instead of a data and a folder
//! sync per file). A file whose rename fails, or every file when a sync fails, is answered
//! with an error instead of `PutDone`, and its partial removed: an answer of `PutDone` means
//! durable under its name. Without `force` the rename never replaces: a file that appeared at
//! the destination since it was checked is answered "already exists" and left in place.

use std::path::PathBuf;
use std::sync::Arc;

use ftp_proto::{ErrorKind, ServerMessage};

use super::super::put::Upload;
use crate::error::Refusal;
use crate::uploads::PathLock;
use crate::{jail, place};

/// A file written to its partial, waiting to be made durable and visible.
pub(super) struct Stored {
    /// The upload.
    pub(super) upload: Upload,
    /// The folder it lands in, opened once for the files of the batch that go there (or the
    /// home).
    pub(super) folder: Arc<cap_std::fs::Dir>,
    /// Its path from that folder.
    pub(super) name: PathBuf,
    /// Its SHA-256, verified.
    pub(super) sha256: [u8; 32],
    /// Held until the file is in place.
    pub(super) _lock: PathLock,
}

/// One answer of the batch, in request order.
pub(super) enum Pending {
    /// Answered once the file is in place.
    Stored(Stored),
    /// Answered as it is.
    Ready(ServerMessage),
}

/// An answer to send, with the printable path of the file when one landed.
pub type Answer = (ServerMessage, Option<String>);

/// Makes every stored file durable and visible; returns the answers in request order.
/// Blocking.
pub(super) fn settle(
    home: &cap_std::fs::Dir,
    partials: &cap_std::fs::Dir,
    pending: Vec<Pending>,
    durable: bool,
) -> Vec<Answer> {
    let stored_any = pending.iter().any(|p| matches!(p, Pending::Stored(_)));
    let data_synced = if durable && stored_any {
        sync_file_system(partials)
    } else {
        Ok(())
    };
    let mut answers = Vec::with_capacity(pending.len());
    for item in pending {
        let stored = match item {
            Pending::Ready(answer) => {
                answers.push((answer, None));
                continue;
            }
            Pending::Stored(stored) => stored,
        };
        let upload = &stored.upload;
        let landed = match &data_synced {
            Ok(()) => place::place(
                partials,
                &upload.partial,
                &stored.folder,
                &stored.name,
                upload.force,
            ),
            Err(error) => Err(copy(error)),
        };
        let answer = match landed {
            Ok(()) => (
                ServerMessage::PutDone {
                    size: upload.size,
                    sha256: stored.sha256,
                },
                Some(upload.shown.clone()),
            ),
            Err(error) => {
                let _ = partials.remove_file(&upload.partial);
                let refusal = refusal(&error, upload);
                let message = ServerMessage::from(refusal);
                (message, None)
            }
        };
        answers.push(answer);
    }
    let landed_any = answers.iter().any(|(_, shown)| shown.is_some());
    if durable
        && landed_any
        && let Err(error) = sync_file_system(home)
    {
        // The new names may not survive a crash: say so rather than claim durability.
        tracing::warn!(%error, "cannot sync the file system after an upload batch");
        let full = place::is_disk_full(&error);
        for (answer, shown) in &mut answers {
            if let Some(shown) = shown.take() {
                *answer = if full {
                    let refusal =
                        place::disk_full(&format!("{shown} may not survive a crash of the server"));
                    ServerMessage::from(refusal)
                } else {
                    ServerMessage::Error {
                        kind: ErrorKind::Internal,
                        message: "the server could not sync its disk after the upload".into(),
                    }
                };
            }
        }
    }
    answers
}

/// What a file that could not be put in place is answered (its partial is gone: the client
/// sends small files again anyway).
fn refusal(error: &std::io::Error, upload: &Upload) -> Refusal {
    if !upload.force && error.kind() == std::io::ErrorKind::AlreadyExists {
        Refusal::new(
            ErrorKind::Exists,
            format!(
                "upload refused: {} already exists (it appeared during the upload); use --force to replace it",
                upload.shown
            ),
        )
    } else if place::is_disk_full(error) {
        place::disk_full(&format!("nothing of {} was stored", upload.shown))
    } else {
        jail::refusal_for(error, &upload.shown)
    }
}

/// The same error again, for each file a failed sync fails.
fn copy(error: &std::io::Error) -> std::io::Error {
    match error.raw_os_error() {
        Some(code) => std::io::Error::from_raw_os_error(code),
        None => std::io::Error::new(error.kind(), error.to_string()),
    }
}

/// Syncs the file system holding `dir` (through a plain read-only handle: one from `open_dir`
/// may be `O_PATH`, which cannot be synced). Blocking.
fn sync_file_system(dir: &cap_std::fs::Dir) -> std::io::Result<()> {
    let handle = dir.open(".")?.into_std();
    rustix::fs::syncfs(&handle)?;
    Ok(())
}
