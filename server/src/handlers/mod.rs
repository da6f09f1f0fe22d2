//! Request handlers, one file per operation. Handlers see typed messages and a logged-in
//! [`Session`]; they touch the disk only through the home's capability handle, on blocking
//! threads, and answer refusals with an error frame while the session goes on.

pub mod get;
pub mod list;
pub mod mkdir;
pub mod partials;
pub mod put;
pub mod put_whole;
pub mod remove;
pub mod remove_tree;
pub mod rename;
pub mod stat;
#[cfg(test)]
pub(crate) mod test_session;
pub mod tree;

use std::sync::Arc;
use std::time::UNIX_EPOCH;

use ftp_proto::{DirEntry, EntryKind, ErrorKind};

use crate::error::Refusal;
use crate::jail::{self, RemotePath};
use crate::state::ServerState;
use crate::users::Account;

/// What a handler knows about the logged-in user.
#[derive(Debug)]
pub struct Session {
    /// The user.
    pub account: Account,
    /// Capability handle on the user's home: every path is resolved beneath it.
    pub home: Arc<cap_std::fs::Dir>,
}

/// Opens the user's home beneath the root, creating it on first login.
pub async fn open_home(
    state: &ServerState,
    account: &Account,
) -> Result<cap_std::fs::Dir, Refusal> {
    let root = Arc::clone(&state.root);
    let home = account.home.clone();
    let mode = state.config.modes.dir;
    tokio::task::spawn_blocking(move || jail::open_home(&root, &home, mode))
        .await
        .map_err(|e| Refusal::internal("opening the home folder", e))?
        .map_err(|e| Refusal::internal("opening the home folder", e))
}

/// Checks `path` and runs `work` on it beneath the user's home, on a blocking thread: the
/// shape every file-system handler shares.
pub async fn on_home<T: Send + 'static>(
    session: &Session,
    path: &str,
    what: &'static str,
    work: impl FnOnce(&cap_std::fs::Dir, &RemotePath) -> Result<T, Refusal> + Send + 'static,
) -> Result<T, Refusal> {
    let path = RemotePath::parse(path)?;
    let home = Arc::clone(&session.home);
    tokio::task::spawn_blocking(move || work(&home, &path))
        .await
        .unwrap_or_else(|e| Err(Refusal::internal(what, e)))
}

/// The minimum-rate check for one transfer, as configured (with no rate, silence for
/// `idle_timeout` is what ends a transfer).
pub fn rate_floor(state: &crate::state::ServerState) -> crate::rate_floor::RateFloor {
    let config = &state.config;
    if config.min_transfer_rate == 0 {
        crate::rate_floor::RateFloor::new(0, config.idle_timeout)
    } else {
        crate::rate_floor::RateFloor::new(config.min_transfer_rate, config.transfer_rate_window)
    }
}

/// [`on_home`] for a change: a read-only user is refused first, saying what `action` was.
pub async fn change_on_home<T: Send + 'static>(
    session: &Session,
    path: &str,
    action: &'static str,
    work: impl FnOnce(&cap_std::fs::Dir, &RemotePath) -> Result<T, Refusal> + Send + 'static,
) -> Result<T, Refusal> {
    require_write(session, action)?;
    on_home(session, path, action, work).await
}

/// Refuses a change (upload, remove, mkdir) for a read-only user, saying what and why.
pub fn require_write(session: &Session, action: &str) -> Result<(), Refusal> {
    if session.account.read_only {
        return Err(Refusal::new(
            ErrorKind::Denied,
            format!(
                "{action} refused: user {} is read-only (may list, stat and download only)",
                session.account.name
            ),
        ));
    }
    Ok(())
}

/// Modification time in seconds since the epoch (0 when unknown).
pub fn modified_secs(meta: &cap_std::fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .map(|t| t.into_std())
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Nanoseconds within the second of [`modified_secs`] (0 when unknown).
pub fn modified_nanos(meta: &cap_std::fs::Metadata) -> u32 {
    meta.modified()
        .ok()
        .map(|t| t.into_std())
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.subsec_nanos())
}

/// A listing entry from file metadata (not following links): each type as what it is, so a
/// FIFO, socket or device is never shown (or opened) as a file.
pub fn entry(name: String, meta: &cap_std::fs::Metadata) -> DirEntry {
    use cap_std::fs::FileTypeExt;
    let kind = meta.file_type();
    let kind = if kind.is_symlink() {
        EntryKind::Symlink
    } else if kind.is_dir() {
        EntryKind::Dir
    } else if kind.is_fifo() {
        EntryKind::Fifo
    } else if kind.is_socket() {
        EntryKind::Socket
    } else if kind.is_block_device() {
        EntryKind::BlockDevice
    } else if kind.is_char_device() {
        EntryKind::CharDevice
    } else {
        EntryKind::File
    };
    DirEntry {
        name,
        kind,
        size: if matches!(kind, EntryKind::File | EntryKind::Symlink) {
            meta.len()
        } else {
            0
        },
        modified: modified_secs(meta),
    }
}
