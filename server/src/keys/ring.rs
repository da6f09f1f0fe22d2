//! The server's view of the keys file: which key a hello names, whether its proof holds, and
//! whether a session's key is still valid.
//!
//! The file is re-read whenever it changed (its size, times or inode), so `ftpd key add|revoke|
//! rotate` need no restart: a handshake always looks (one `stat`, off the async runtime), a
//! session's watcher at most once a second, and the file is parsed again only when the `stat`
//! differs. An unknown name costs the same work as a known one (two HMACs against a dummy key)
//! and gets the same refusal as a wrong proof. A keys file that became unusable (unreadable,
//! exposed, invalid) refuses every named key to new connections, logged, while open sessions
//! carry on. When each key was last used is recorded off the async runtime, at most once a
//! minute per key. Never logs a key.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use ftp_proto::SharedKey;
use ftp_proto::handshake::{self, ChannelBinding, Nonce, Proof};
use ftp_proto::secret::DEFAULT_KEY_NAME;
use sha2::{Digest, Sha256};

use super::{KeyEntry, Keys, LastUsed, last_used_path};

/// How often an open session's key is checked against the keys file.
pub const WATCH_INTERVAL: Duration = Duration::from_secs(1);

/// Least time between two records of one key's last use.
const LAST_USED_EVERY: Duration = Duration::from_secs(60);

/// Checked instead of a key that does not exist, so that an unknown name costs what a known one
/// does. Its result is never trusted.
const DUMMY_KEY: [u8; 32] = [0x5a; 32];

/// What identifies a version of the keys file without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    /// Size in bytes.
    len: u64,
    /// Last modification.
    modified: Option<SystemTime>,
    /// Inode: a rename over the file changes it.
    inode: u64,
    /// Last status change, seconds and nanoseconds.
    changed: (i64, i64),
}

impl FileStamp {
    /// The stamp of `path`; `None` when it does not exist or cannot be looked at.
    fn of(path: &std::path::Path) -> Option<FileStamp> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path).ok()?;
        Some(FileStamp {
            len: meta.len(),
            modified: meta.modified().ok(),
            inode: meta.ino(),
            changed: (meta.ctime(), meta.ctime_nsec()),
        })
    }
}

/// The keys as last read.
#[derive(Debug)]
struct Loaded {
    /// The stamp of the file they were read from (`None`: no file).
    stamp: Option<FileStamp>,
    /// The keys, or why the file cannot be used.
    keys: Result<Arc<Keys>, String>,
    /// When the stamp was last compared.
    checked: Instant,
}

/// The key a session proved, as long as it lives.
#[derive(Debug, Clone)]
pub struct SessionKey {
    /// The key's name (`default` for the shared key file).
    pub name: String,
    /// SHA-256 of the key's bytes, to tell whether it is still valid; `None` for the shared key
    /// file's key, which no keys file change affects.
    fingerprint: Option<[u8; 32]>,
    /// The users it may log in as; empty: any.
    users: Vec<String>,
}

impl SessionKey {
    /// The shared key file's key.
    pub fn default_key() -> Self {
        SessionKey {
            name: DEFAULT_KEY_NAME.to_owned(),
            fingerprint: None,
            users: Vec::new(),
        }
    }

    /// Whether the key may log in as `user`.
    pub fn allows(&self, user: &str) -> bool {
        self.users.is_empty() || self.users.iter().any(|u| u == user)
    }
}

/// The named keys, re-read when their file changes; cheap to share.
#[derive(Debug)]
pub struct KeyRing {
    /// The keys file.
    path: PathBuf,
    /// What was last read of it.
    loaded: Mutex<Loaded>,
    /// When each key's last use was last recorded.
    recorded: Arc<Mutex<HashMap<String, Instant>>>,
    /// Held while the last-used file is rewritten, so two records never race.
    recording: Arc<Mutex<()>>,
}

/// SHA-256 of a key's bytes.
fn fingerprint(key: &SharedKey) -> [u8; 32] {
    Sha256::digest(key.expose()).into()
}

impl KeyRing {
    /// The keys of `path`, read at first use.
    pub fn new(path: PathBuf) -> Self {
        KeyRing {
            path,
            loaded: Mutex::new(Loaded {
                stamp: None,
                keys: Ok(Arc::default()),
                // Long ago: the first look reads the file.
                checked: Instant::now()
                    .checked_sub(Duration::from_secs(3600))
                    .unwrap_or_else(Instant::now),
            }),
            recorded: Arc::default(),
            recording: Arc::default(),
        }
    }

    /// The keys, looked at again if the last look is older than `max_age` (and read again if
    /// the file changed).
    async fn keys(&self, max_age: Duration) -> Result<Arc<Keys>, String> {
        let known = {
            let loaded = self.lock();
            if loaded.checked.elapsed() < max_age {
                return loaded.keys.clone();
            }
            (loaded.stamp, loaded.keys.is_ok())
        };
        let path = self.path.clone();
        let looked = tokio::task::spawn_blocking(move || {
            let stamp = FileStamp::of(&path);
            // A file that failed is read again each time: it may have been fixed in place.
            if stamp == known.0 && known.1 {
                return None;
            }
            let keys = match super::Keys::load(&path) {
                Ok(keys) => Ok(Arc::new(keys.unwrap_or_default())),
                Err(error) => Err(error.to_string()),
            };
            Some((stamp, keys))
        })
        .await
        .map_err(|e| format!("reading the keys file failed: {e}"))?;
        let mut loaded = self.lock();
        loaded.checked = Instant::now();
        if let Some((stamp, keys)) = looked {
            match &keys {
                Ok(keys) => tracing::debug!(keys = keys.keys.len(), "read the keys file"),
                Err(error) => {
                    tracing::error!(%error, "cannot use the keys file: named keys are refused")
                }
            }
            loaded.stamp = stamp;
            loaded.keys = keys;
        }
        loaded.keys.clone()
    }

    /// The lock on what was read, poison or not (it holds no invariant a panic could break).
    fn lock(&self) -> std::sync::MutexGuard<'_, Loaded> {
        self.loaded.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Checks a client's proof of the key named `name` (read fresh from the keys file). Returns
    /// the key to prove the server with and the session's key, or `None`: unknown name and
    /// wrong proof alike, after the same work.
    pub async fn check_proof(
        &self,
        name: &str,
        binding: &ChannelBinding,
        server_nonce: &Nonce,
        client_nonce: &Nonce,
        proof: &Proof,
    ) -> Option<(SharedKey, SessionKey)> {
        // An unreadable file is logged when read; then checked against nothing, as an
        // unknown name is.
        let keys = self.keys(Duration::ZERO).await.unwrap_or_default();
        check(&keys, name, SystemTime::now(), |key| {
            handshake::verify_client_proof(key, binding, server_nonce, client_nonce, proof)
        })
    }

    /// Resolves once the key `session` proved is no longer valid: revoked, or rotated out and
    /// its grace period over. Never resolves for the shared key file's key.
    pub async fn revoked(&self, session: &SessionKey) {
        let Some(fingerprint) = session.fingerprint else {
            return std::future::pending().await;
        };
        let mut ticks = tokio::time::interval(WATCH_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            // A file that cannot be read now ends nobody's session.
            if let Ok(keys) = self.keys(WATCH_INTERVAL / 2).await
                && !still_valid(&keys, &session.name, &fingerprint, SystemTime::now())
            {
                return;
            }
        }
    }

    /// Notes that `name` was just used: recorded in the last-used file, off the async runtime,
    /// unless it was recorded less than a minute ago.
    pub fn used(&self, name: &str) {
        {
            let mut recorded = self.recorded.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            if recorded
                .get(name)
                .is_some_and(|last| now.duration_since(*last) < LAST_USED_EVERY)
            {
                return;
            }
            recorded.insert(name.to_owned(), now);
        }
        let path = last_used_path(&self.path);
        let name = name.to_owned();
        let recording = Arc::clone(&self.recording);
        tokio::task::spawn_blocking(move || {
            let _held = recording.lock().unwrap_or_else(|e| e.into_inner());
            if let Err(error) = LastUsed::record(&path, &name, SystemTime::now()) {
                tracing::warn!(key = %name, file = %path.display(), %error, "cannot record when the key was used");
            }
        });
    }
}

/// The proof check behind [`KeyRing::check_proof`]: `verify` runs twice whatever the name
/// (against the current and the rotated-out key, or the dummy key in their place).
pub fn check(
    keys: &Keys,
    name: &str,
    now: SystemTime,
    verify: impl Fn(&SharedKey) -> bool,
) -> Option<(SharedKey, SessionKey)> {
    let dummy = SharedKey::from_bytes(DUMMY_KEY);
    let entry: Option<&KeyEntry> = keys.keys.get(name);
    let current = entry.map_or(&dummy, |e| &e.key.0);
    let previous = entry.and_then(|e| e.previous_at(now)).unwrap_or(&dummy);
    let current_holds = verify(current);
    let previous_holds = verify(previous);
    let entry = entry?;
    let proved = if current_holds {
        current
    } else if previous_holds && entry.previous_at(now).is_some() {
        previous
    } else {
        return None;
    };
    let session = SessionKey {
        name: name.to_owned(),
        fingerprint: Some(fingerprint(proved)),
        users: entry.users.clone(),
    };
    Some((proved.clone().with_name(name), session))
}

/// Whether the key `name` with this fingerprint is still valid at `now`.
pub fn still_valid(keys: &Keys, name: &str, fingerprint_of: &[u8; 32], now: SystemTime) -> bool {
    let Some(entry) = keys.keys.get(name) else {
        return false;
    };
    fingerprint(&entry.key.0) == *fingerprint_of
        || entry
            .previous_at(now)
            .is_some_and(|previous| fingerprint(previous) == *fingerprint_of)
}
