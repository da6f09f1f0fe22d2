//! The writer thread of [`super`]: checks each received file against the server's SHA-256,
//! writes it to its `.part` with the server's modification time, makes a whole batch durable
//! with one `syncfs` per file system, renames each part into place (never over something that
//! appeared there, unless forced) and fsyncs each folder once, answering every file in order.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use ftp_proto::ErrorKind;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::{Arrived, BATCH_BYTES, BATCH_FILES, Compared, Finished, Received, WAITING};
use crate::download::local_error;
use crate::error::ClientError;
use crate::jobs::Outcome;
use crate::output::printable;
use crate::part::{Part, part_path};

/// Starts the writer thread: it takes files in order, in batches of what has arrived, and
/// answers each with its result in the same order. It ends once the sender is dropped and
/// everything sent is answered.
pub(super) fn spawn_writer(
    force: bool,
) -> Result<(mpsc::Sender<Arrived>, mpsc::UnboundedReceiver<Finished>), ClientError> {
    let (to_writer, mut arrivals) = mpsc::channel::<Arrived>(WAITING);
    let (to_receiver, finished) = mpsc::unbounded_channel();
    std::thread::Builder::new()
        .name("ftp-small-downloads".into())
        .spawn(move || {
            while let Some(first) = arrivals.blocking_recv() {
                let mut batch = vec![first];
                let mut bytes = 0;
                while batch.len() < BATCH_FILES && bytes < BATCH_BYTES {
                    match arrivals.try_recv() {
                        Ok(more) => {
                            if let Arrived::File(file) = &more {
                                bytes += file.size;
                            }
                            batch.push(more);
                        }
                        Err(_) => break,
                    }
                }
                for result in write_batch(batch, force) {
                    if to_receiver.send(result).is_err() {
                        return;
                    }
                }
            }
        })
        .map_err(|source| ClientError::Local {
            context: "cannot start the download writer thread".into(),
            source,
        })?;
    Ok((to_writer, finished))
}

/// A file written to its part, to be made durable and renamed (one descriptor per file while
/// its batch is written: the part's own handle).
struct Written {
    index: usize,
    part: Part,
    local: PathBuf,
    durable: bool,
    outcome: Outcome,
}

/// Checks, writes, syncs and renames one batch; returns each file's result in order.
/// Blocking.
fn write_batch(batch: Vec<Arrived>, force: bool) -> Vec<Finished> {
    let mut results: Vec<Option<Finished>> = Vec::with_capacity(batch.len());
    let mut written: Vec<(usize, Written)> = Vec::new();
    for arrived in batch {
        let slot = results.len();
        match arrived {
            Arrived::Refused(index, error) => results.push(Some((index, Err(error)))),
            Arrived::Compare(compared) => {
                let index = compared.index;
                results.push(Some((index, compare(&compared))));
            }
            Arrived::File(file) => {
                let index = file.index;
                match write_part(file) {
                    Ok(done) => {
                        results.push(None);
                        written.push((slot, done));
                    }
                    Err(error) => results.push(Some((index, Err(error)))),
                }
            }
        }
    }
    // One sync per file system makes every part of the batch durable.
    let mut devices = HashSet::new();
    let mut synced: Result<(), std::io::Error> = Ok(());
    for (_, w) in written.iter().filter(|(_, w)| w.durable) {
        use std::os::unix::fs::MetadataExt;
        let device = w.part.file.metadata().map(|m| m.dev()).unwrap_or(0);
        if devices.insert(device) && synced.is_ok() {
            synced = rustix::fs::syncfs(&w.part.file).map_err(std::io::Error::from);
        }
    }
    // The folder of each file put in place durably, fsynced once each afterwards.
    let mut in_folder: Vec<Option<PathBuf>> = vec![None; results.len()];
    for (slot, w) in written {
        let result = match &synced {
            Err(error) if w.durable => Err(local_error(
                &w.part.path,
                std::io::Error::new(error.kind(), error.to_string()),
            )),
            _ => put_in_place(w.part, &w.local, force).map(|()| w.outcome),
        };
        if result.is_ok() && w.durable {
            in_folder[slot] = Some(folder_of(&w.local).to_path_buf());
        }
        results[slot] = Some((w.index, result));
    }
    let folders: HashSet<&PathBuf> = in_folder.iter().flatten().collect();
    let failed: HashMap<&PathBuf, std::io::Error> = folders
        .into_iter()
        .filter_map(|folder| {
            let synced = std::fs::File::open(folder).and_then(|f| f.sync_all());
            synced.err().map(|error| (folder, error))
        })
        .collect();
    results
        .into_iter()
        .zip(&in_folder)
        .filter_map(|(result, folder)| {
            let (index, result) = result?;
            Some(match folder.as_ref().and_then(|f| failed.get(f)) {
                // In place, but its folder's entry may not survive a power loss: said, not
                // hidden.
                Some(error) if result.is_ok() => (
                    index,
                    Err(local_error(
                        folder.as_deref().unwrap_or(Path::new(".")),
                        std::io::Error::new(error.kind(), error.to_string()),
                    )),
                ),
                _ => (index, result),
            })
        })
        .collect()
}

/// Compares the local file of `compared` with the server's SHA-256: opened without following
/// a link or blocking, and only while it is the regular file of that size. Blocking.
fn compare(compared: &Compared) -> Result<Outcome, ClientError> {
    use std::io::Read;
    let mut file = crate::identical::open_same(&compared.local, compared.size)?;
    let mut data = Vec::new();
    file.read_to_end(&mut data)
        .map_err(|source| ClientError::Local {
            context: format!(
                "cannot read {}",
                printable(&compared.local.display().to_string())
            ),
            source,
        })?;
    let sha256: [u8; 32] = Sha256::digest(&data).into();
    if sha256 != compared.sha256 {
        return Err(super::differs(&compared.local, &compared.remote));
    }
    Ok(Outcome {
        size: compared.size,
        sent: 0,
        resumed_from: compared.size,
        sha256,
        identical: true,
        hashed_from_cache: false,
    })
}

/// Checks a received file against the server's SHA-256 and writes it to its part, with the
/// server's modification time. Blocking.
fn write_part(file: Received) -> Result<Written, ClientError> {
    let mut hash = Sha256::new();
    for bytes in &file.data {
        hash.update(bytes);
    }
    let sha256: [u8; 32] = hash.finalize().into();
    if sha256 != file.sha256 {
        return Err(ClientError::Remote {
            kind: ErrorKind::Integrity,
            message: format!(
                "integrity check failed for {}: the downloaded data does not match the server's SHA-256; nothing was written, run the command again",
                printable(&file.local.display().to_string())
            ),
        });
    }
    let part = Part::open_or_create(&part_path(&file.local))?;
    // Opened for appending: cut to nothing first, then every write lands at the end.
    let mut written = &part.file;
    written.set_len(0).map_err(|e| local_error(&part.path, e))?;
    for bytes in &file.data {
        written
            .write_all(bytes)
            .map_err(|e| local_error(&part.path, e))?;
    }
    if let Some(modified) = file.modified {
        written
            .set_modified(modified)
            .map_err(|e| local_error(&part.path, e))?;
    }
    Ok(Written {
        index: file.index,
        part,
        local: file.local,
        durable: file.durable,
        outcome: Outcome {
            size: file.size,
            sent: file.size,
            resumed_from: 0,
            sha256,
            identical: false,
            hashed_from_cache: false,
        },
    })
}

/// Renames a synced part to `local` (never over something that appeared there meanwhile,
/// unless `force`). Blocking.
fn put_in_place(part: Part, local: &Path, force: bool) -> Result<(), ClientError> {
    if !force && std::fs::symlink_metadata(local).is_ok() {
        let _ = std::fs::remove_file(&part.path);
        return Err(ClientError::Remote {
            kind: ErrorKind::Exists,
            message: format!(
                "{} appeared during the download and was left as it is; use --force to replace it",
                printable(&local.display().to_string())
            ),
        });
    }
    let written = part
        .file
        .try_clone()
        .map_err(|e| local_error(&part.path, e))?;
    part.finish(written, local, None, false)
        .map_err(|e| local_error(local, e))
}

/// The folder `local` is in.
fn folder_of(local: &Path) -> &Path {
    match local.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn received(index: usize, local: &Path, data: &[u8], sha256: [u8; 32]) -> Arrived {
        Arrived::File(Received {
            index,
            local: local.to_path_buf(),
            durable: true,
            data: vec![
                Bytes::copy_from_slice(&data[..data.len() / 2]),
                Bytes::copy_from_slice(&data[data.len() / 2..]),
            ],
            size: data.len() as u64,
            sha256,
            modified: Some(std::time::UNIX_EPOCH + std::time::Duration::new(1_700_000_000, 5)),
        })
    }

    #[test]
    fn a_batch_puts_verified_files_in_place_in_order_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let (good, bad, taken, other) = (
            dir.path().join("good"),
            dir.path().join("bad"),
            dir.path().join("taken"),
            dir.path().join("other"),
        );
        std::fs::write(&taken, b"mine").unwrap();
        let sha = |data: &[u8]| -> [u8; 32] { Sha256::digest(data).into() };
        let refused = ClientError::Remote {
            kind: ErrorKind::NotFound,
            message: "gone".into(),
        };
        let batch = vec![
            received(0, &good, b"good data", sha(b"good data")),
            received(1, &bad, b"bad data", sha(b"other data")),
            Arrived::Refused(2, refused),
            received(3, &taken, b"theirs", sha(b"theirs")),
            received(4, &other, b"", sha(b"")),
        ];
        let mut batch = batch;
        if let Some(Arrived::File(file)) = batch.last_mut() {
            file.durable = false;
        }
        let results = write_batch(batch, false);
        let order: Vec<usize> = results.iter().map(|(index, _)| *index).collect();
        assert_eq!(order, [0, 1, 2, 3, 4]);
        let codes: Vec<Option<u8>> = results
            .iter()
            .map(|(_, result)| result.as_ref().err().map(ClientError::exit_code))
            .collect();
        assert_eq!(codes, [None, Some(6), Some(4), Some(4), None]);
        assert_eq!(std::fs::read(&good).unwrap(), b"good data");
        let mtime = std::fs::metadata(&good).unwrap().modified().unwrap();
        assert_eq!(
            mtime,
            std::time::UNIX_EPOCH + std::time::Duration::new(1_700_000_000, 5)
        );
        assert!(
            !bad.exists() && !part_path(&bad).exists(),
            "a mismatch writes nothing"
        );
        assert_eq!(
            std::fs::read(&taken).unwrap(),
            b"mine",
            "not replaced without force"
        );
        assert!(!part_path(&taken).exists());
        assert_eq!(std::fs::read(&other).unwrap(), b"");
        assert!(!part_path(&good).exists());
        let forced = write_batch(vec![received(0, &taken, b"theirs", sha(b"theirs"))], true);
        assert!(forced[0].1.is_ok());
        assert_eq!(std::fs::read(&taken).unwrap(), b"theirs");
    }
}
