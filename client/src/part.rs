//! The `.part` file of a download: its name, opening it without trusting what is at that
//! path, its lock, and the final rename.
//!
//! The part is `LOCAL.part`, or, when that would pass the 255-byte name limit, a shortened
//! name plus 16 hex digits of the SHA-256 of the full name (`LOCAL` cut~HASH.part), so a
//! re-run finds the same part. It is opened with `O_NOFOLLOW` (a new one with `O_EXCL`, so a
//! planted symbolic link, dangling or not, is never followed), and the opened handle must be a
//! regular file owned by this user with one link; anything else is refused by name (exit 1:
//! a local file the user must look at, not a remote refusal). The handle holds an exclusive
//! `flock` for the whole download, rename included: a second download of the same target is
//! told "busy" (exit 4). The rename happens only while the part's path still names the very
//! file (same device and inode) that was written and hashed, and the final name is checked
//! to be that file afterwards.
//!
//! This module never follows a link at the part's name and never renames anything it did not
//! verify.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::ErrorKind as IoKind;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use ftp_proto::ErrorKind;
use sha2::{Digest, Sha256};

use crate::error::ClientError;
use crate::output::printable;

/// The longest file name most file systems take (NAME_MAX).
const NAME_MAX: usize = 255;

/// What a part's name ends with.
const SUFFIX: &str = ".part";

/// Hex digits of the full name's hash in a shortened part name.
const HASH_DIGITS: usize = 16;

/// The `.part` file next to `local` (see the module doc for long names).
pub fn part_path(local: &Path) -> PathBuf {
    let Some(name) = local.file_name() else {
        let mut path = local.as_os_str().to_owned();
        path.push(SUFFIX);
        return PathBuf::from(path);
    };
    let bytes = name.as_bytes();
    if bytes.len() + SUFFIX.len() <= NAME_MAX {
        let mut whole = name.to_owned();
        whole.push(SUFFIX);
        return local.with_file_name(whole);
    }
    let hash = hex::encode(Sha256::digest(bytes));
    let keep = NAME_MAX - SUFFIX.len() - HASH_DIGITS - 1;
    // Cut at a character boundary when the name is UTF-8, so the part's name still is.
    let mut cut = keep;
    if let Ok(text) = std::str::from_utf8(bytes) {
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
    }
    let mut short = std::ffi::OsStr::from_bytes(&bytes[..cut]).to_owned();
    short.push(format!("~{}{SUFFIX}", &hash[..HASH_DIGITS]));
    local.with_file_name(short)
}

/// An opened, verified and locked `.part` file.
#[derive(Debug)]
pub struct Part {
    /// Its path.
    pub path: PathBuf,
    /// The handle that holds the lock (the writer gets a clone; the lock lasts until both are
    /// closed).
    pub file: File,
    /// Device and inode of the verified file.
    id: (u64, u64),
}

impl Part {
    /// Opens the existing part at `path`, or `None` when there is none.
    pub fn open_existing(path: &Path) -> Result<Option<Part>, ClientError> {
        match options().read(true).append(true).open(path) {
            Ok(file) => Part::verify(path, file).map(Some),
            Err(e) if e.kind() == IoKind::NotFound => Ok(None),
            Err(e) => Err(open_error(path, e)),
        }
    }

    /// Opens the part at `path`, creating it when missing (never through a link).
    pub fn open_or_create(path: &Path) -> Result<Part, ClientError> {
        for _ in 0..3 {
            if let Some(part) = Part::open_existing(path)? {
                return Ok(part);
            }
            match options()
                .read(true)
                .append(true)
                .create_new(true)
                .mode(0o666)
                .open(path)
            {
                Ok(file) => return Part::verify(path, file),
                // Someone created it since: open that one (and meet its lock).
                Err(e) if e.kind() == IoKind::AlreadyExists => {}
                Err(e) => return Err(open_error(path, e)),
            }
        }
        Err(busy(path))
    }

    /// Checks the opened handle and locks it.
    fn verify(path: &Path, file: File) -> Result<Part, ClientError> {
        let meta = file.metadata().map_err(|e| open_error(path, e))?;
        let problem = if !meta.is_file() {
            Some("it is not a regular file")
        } else if meta.uid() != rustix::process::geteuid().as_raw() {
            Some("it belongs to another user")
        } else if meta.nlink() != 1 {
            Some("it has other hard links")
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(refused(path, problem));
        }
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(busy(path)),
            Err(TryLockError::Error(e)) => return Err(open_error(path, e)),
        }
        let part = Part {
            path: path.to_path_buf(),
            file,
            id: (meta.dev(), meta.ino()),
        };
        // Locked only now: the path must still name this file (not renamed into place by the
        // download that held the lock, nor replaced).
        if !part.still_at(path) {
            return Err(busy(path));
        }
        Ok(part)
    }

    /// Whether `path` (not followed) names this very file.
    fn still_at(&self, path: &Path) -> bool {
        std::fs::symlink_metadata(path)
            .is_ok_and(|meta| meta.is_file() && (meta.dev(), meta.ino()) == self.id)
    }

    /// Renames the verified part to `local`: gives it the server's modification time
    /// `modified` when known, fsyncs when `durable`, renames, then fsyncs the folder (so the
    /// file never appears under its name with another time). The lock is held throughout;
    /// `written` is the writer's handle, which must be this file. Blocking.
    pub fn finish(
        self,
        written: File,
        local: &Path,
        modified: Option<std::time::SystemTime>,
        durable: bool,
    ) -> std::io::Result<()> {
        let meta = written.metadata()?;
        if (meta.dev(), meta.ino()) != self.id || !self.still_at(&self.path) {
            return Err(std::io::Error::other(format!(
                "{} was replaced during the download; nothing was renamed",
                printable(&self.path.display().to_string())
            )));
        }
        if let Some(modified) = modified {
            written.set_modified(modified)?;
        }
        if durable {
            written.sync_all()?;
        }
        drop(written);
        std::fs::rename(&self.path, local)?;
        if !self.still_at(local) {
            return Err(std::io::Error::other(format!(
                "{} was replaced while it was renamed",
                printable(&local.display().to_string())
            )));
        }
        if durable {
            let folder = match local.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => parent,
                _ => Path::new("."),
            };
            File::open(folder)?.sync_all()?;
        }
        // `self.file` (and with it the lock) closes only now.
        drop(self.file);
        Ok(())
    }

    /// Device and inode of the part.
    pub fn id(&self) -> (u64, u64) {
        self.id
    }
}

/// Open options that never follow a link at the last component nor block on a FIFO.
pub(crate) fn options() -> OpenOptions {
    let mut options = OpenOptions::new();
    let flags = rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK;
    options.custom_flags(i32::try_from(flags.bits()).unwrap_or(0));
    options
}

/// An error opening the part, telling a link apart.
fn open_error(path: &Path, error: std::io::Error) -> ClientError {
    if error.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
        return refused(path, "it is a symbolic link");
    }
    local_error(path, error)
}

/// The refusal of a part that is not what a download writes.
fn refused(path: &Path, problem: &str) -> ClientError {
    ClientError::Local {
        context: format!(
            "refusing the partial download {}",
            printable(&path.display().to_string())
        ),
        source: std::io::Error::other(format!(
            "{problem}; remove it (or download elsewhere) and run the command again"
        )),
    }
}

/// Another download holds the part.
fn busy(path: &Path) -> ClientError {
    ClientError::Remote {
        kind: ErrorKind::Busy,
        message: format!(
            "busy: another download to the same place is writing {}",
            printable(&path.display().to_string())
        ),
    }
}

/// A local I/O error on `path`, telling a full disk apart.
pub fn local_error(path: &Path, source: std::io::Error) -> ClientError {
    let full = [rustix::io::Errno::NOSPC, rustix::io::Errno::DQUOT]
        .iter()
        .any(|errno| source.raw_os_error() == Some(errno.raw_os_error()));
    let shown = printable(&path.display().to_string());
    let context = if full {
        format!(
            "local disk full: cannot write {shown} (what was received is kept; free some space and run the same command to resume)"
        )
    } else {
        format!("cannot write {shown}")
    };
    ClientError::Local { context, source }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_part_file_sits_next_to_the_target() {
        assert_eq!(
            part_path(Path::new("a/b.iso")),
            PathBuf::from("a/b.iso.part")
        );
        assert_eq!(part_path(Path::new("x")), PathBuf::from("x.part"));
    }

    #[test]
    fn a_long_name_gets_a_part_name_that_fits_and_stays_the_same() {
        for len in 250..=255 {
            let name = "é".repeat(len / 2) + &"x".repeat(len % 2);
            let part = part_path(&Path::new("d").join(&name));
            let part_name = part.file_name().unwrap().as_bytes().len();
            assert!(part_name <= NAME_MAX, "{len}: {part_name}");
            assert!(part.to_str().unwrap().ends_with(".part"));
            assert_eq!(part, part_path(&Path::new("d").join(&name)));
        }
        let (a, b) = ("a".repeat(254), "a".repeat(253) + "b");
        assert_ne!(part_path(Path::new(&a)), part_path(Path::new(&b)));
    }

    #[test]
    fn links_foreign_and_linked_parts_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        let part = dir.path().join("x.part");
        std::os::unix::fs::symlink(&victim, &part).unwrap();
        let error = Part::open_or_create(&part).unwrap_err().to_string();
        assert!(error.contains("symbolic link"), "{error}");
        std::fs::remove_file(&part).unwrap();
        std::os::unix::fs::symlink(dir.path().join("none"), &part).unwrap();
        assert!(Part::open_or_create(&part).is_err());
        assert!(!dir.path().join("none").exists());
        std::fs::remove_file(&part).unwrap();
        std::fs::hard_link(&victim, &part).unwrap();
        let error = Part::open_or_create(&part).unwrap_err().to_string();
        assert!(error.contains("hard links"), "{error}");
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    }

    #[test]
    fn a_second_opener_is_busy_and_a_replaced_part_is_not_renamed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("y.part");
        let first = Part::open_or_create(&path).unwrap();
        let second = Part::open_or_create(&path).unwrap_err();
        assert_eq!(second.exit_code(), 4, "{second}");
        let written = first.file.try_clone().unwrap();
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, b"other").unwrap();
        let target = dir.path().join("y");
        assert!(first.finish(written, &target, None, false).is_err());
        assert!(!target.exists());
    }
}
