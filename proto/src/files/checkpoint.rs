//! Checkpoints: the SHA-256 state saved at fixed offsets while a file is hashed, so a resumed
//! transfer restores the state at the last checkpoint at or below its offset and re-hashes at
//! most one [`INTERVAL`] instead of the whole prefix.
//!
//! A saved list is bound to one file by a 32-byte binding the caller derives (from a path and
//! inode, say) and to the current boot of the machine: within one boot the page cache holds
//! every byte a finished `write` put in a file, even if the process was killed since, so the
//! file still has the bytes its checkpoints describe. After a reboot unsynced data may be gone,
//! so a list from another boot is ignored and the prefix is hashed again. The encoding ends
//! with a SHA-256 of itself: a torn or altered list is ignored too. This module does no file
//! I/O except reading the boot id; where a list is kept is the caller's business.

use std::collections::VecDeque;
use std::sync::OnceLock;

use sha2::digest::common::hazmat::{SerializableState, SerializedState};
use sha2::{Digest, Sha256};

/// Distance between checkpoints: the most a resume ever re-hashes.
pub const INTERVAL: u64 = 16 << 20;

/// Checkpoints kept: the receiver's offset can trail the sender's by the bytes in flight.
pub const KEEP: usize = 4;

/// First bytes of an encoded list.
const MAGIC: &[u8; 8] = b"FTPCKPT1";

/// Bytes of one serialised SHA-256 state.
const STATE_LEN: usize = std::mem::size_of::<SerializedState<Sha256>>();

/// The hash state after the first `offset` bytes of a file.
#[derive(Clone)]
pub struct Checkpoint {
    /// Bytes hashed.
    pub offset: u64,
    /// SHA-256 state after them.
    pub state: Sha256,
}

impl std::fmt::Debug for Checkpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checkpoint")
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

/// Stores an encoded checkpoint list, replacing the previous one.
pub type SaveFn = Box<dyn FnMut(&[u8]) + Send>;

/// Where checkpoints of one file go: the binding and a function that stores an encoded list
/// (best effort: a list that is not stored only makes a later resume slower).
///
/// A file being read (an upload's source) is bound by an identity that any change to it
/// alters (its change time), so its list is saved at every checkpoint, and once more by
/// [`CheckpointingHash::seal`] when reading stops, with the state there (at the file's end,
/// its SHA-256, good for as long as the file is unchanged). A file being written (a
/// partial) changes all the time: its list is saved once, by [`CheckpointingHash::seal`] when
/// writing stops, bound to the file's final length and modification time through
/// [`sealed_binding`], so it is used only on a file nobody has written since. A writer killed
/// before sealing leaves no list, and its prefix is hashed again.
pub struct Ledger {
    /// What the list is valid for (before sealing, for a file being written).
    pub binding: [u8; 32],
    /// Stores an encoded list, replacing the previous one.
    pub save: SaveFn,
    /// The file is being written: save only when sealed.
    pub sealed: bool,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger").finish_non_exhaustive()
    }
}

/// Encodes checkpoints for `binding` in this boot.
pub fn encode(binding: &[u8; 32], list: &[Checkpoint]) -> Vec<u8> {
    let count = list.len().min(usize::from(u8::MAX));
    let mut out = Vec::with_capacity(MAGIC.len() + 32 + 16 + 1 + count * (8 + STATE_LEN) + 32);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(binding);
    out.extend_from_slice(boot_id());
    out.push(count as u8);
    for checkpoint in &list[..count] {
        out.extend_from_slice(&checkpoint.offset.to_be_bytes());
        out.extend_from_slice(checkpoint.state.serialize().as_slice());
    }
    let seal = Sha256::digest(&out);
    out.extend_from_slice(&seal);
    out
}

/// Decodes a list saved by [`encode`]; empty unless it is whole, for `binding`, from this boot.
pub fn decode(bytes: &[u8], binding: &[u8; 32]) -> Vec<Checkpoint> {
    decode_checked(bytes, binding).unwrap_or_default()
}

/// [`decode`], with `None` for anything that does not check out.
fn decode_checked(bytes: &[u8], binding: &[u8; 32]) -> Option<Vec<Checkpoint>> {
    let (body, seal) = bytes.split_at_checked(bytes.len().checked_sub(32)?)?;
    if Sha256::digest(body).as_slice() != seal {
        return None;
    }
    let rest = body.strip_prefix(MAGIC)?;
    let rest = rest.strip_prefix(binding.as_slice())?;
    let rest = rest.strip_prefix(boot_id().as_slice())?;
    let (&count, mut rest) = rest.split_first()?;
    let mut list = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        let (offset, after) = rest.split_at_checked(8)?;
        let (state, after) = after.split_at_checked(STATE_LEN)?;
        let offset = u64::from_be_bytes(offset.try_into().ok()?);
        let state = SerializedState::<Sha256>::try_from(state).ok()?;
        list.push(Checkpoint {
            offset,
            state: Sha256::deserialize(&state).ok()?,
        });
        rest = after;
    }
    rest.is_empty().then_some(list)
}

/// Feeds what identifies a file's contents to `hash`: device, inode, size, modification and
/// change times. Any write to the file changes its change time, which no user can set.
pub fn hash_identity(hash: &mut Sha256, meta: &std::fs::Metadata) {
    use std::os::unix::fs::MetadataExt;
    for value in [meta.dev(), meta.ino(), meta.size()] {
        hash.update(value.to_be_bytes());
    }
    for value in [
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ctime(),
        meta.ctime_nsec(),
    ] {
        hash.update(value.to_be_bytes());
    }
}

/// The binding of a sealed list: `binding` and the file's length and modification time.
pub fn sealed_binding(binding: &[u8; 32], meta: &std::fs::Metadata) -> [u8; 32] {
    use std::os::unix::fs::MetadataExt;
    let mut hash = Sha256::new();
    hash.update(binding);
    hash.update(meta.len().to_be_bytes());
    hash.update(meta.mtime().to_be_bytes());
    hash.update(meta.mtime_nsec().to_be_bytes());
    hash.finalize().into()
}

/// The checkpoint furthest into the file at or below `at_most`.
pub fn best(list: &[Checkpoint], at_most: u64) -> Option<Checkpoint> {
    list.iter()
        .filter(|c| c.offset <= at_most)
        .max_by_key(|c| c.offset)
        .cloned()
}

/// A 16-byte id of this boot of the machine (a random one per process where the kernel gives
/// none, so checkpoints then live only as long as the process).
fn boot_id() -> &'static [u8; 16] {
    static ID: OnceLock<[u8; 16]> = OnceLock::new();
    ID.get_or_init(|| {
        let seed = match std::fs::read("/proc/sys/kernel/random/boot_id") {
            Ok(text) => text,
            Err(_) => {
                let mut random = [0u8; 16];
                // Without randomness, zeros: still consistent within the process.
                let _ = getrandom::fill(&mut random);
                random.to_vec()
            }
        };
        let digest = Sha256::digest(&seed);
        let mut id = [0u8; 16];
        id.copy_from_slice(&digest[..16]);
        id
    })
}

/// SHA-256 of a stream from some offset, taking a checkpoint at each multiple of [`INTERVAL`]
/// it passes and handing the recent ones to its [`Ledger`].
#[derive(Debug)]
pub struct CheckpointingHash {
    /// State so far.
    hash: Sha256,
    /// Bytes hashed so far, counted from the file's start.
    position: u64,
    /// The most recent checkpoints, oldest first.
    kept: VecDeque<Checkpoint>,
    /// Where checkpoints go; `None` takes none.
    ledger: Option<Ledger>,
}

impl CheckpointingHash {
    /// Starts at byte 0, or at `start` when given.
    pub fn new(start: Option<Checkpoint>, ledger: Option<Ledger>) -> CheckpointingHash {
        let mut kept = VecDeque::with_capacity(KEEP + 1);
        let (hash, position) = match start {
            Some(checkpoint) => {
                let at = (checkpoint.state.clone(), checkpoint.offset);
                kept.push_back(checkpoint);
                at
            }
            None => (Sha256::new(), 0),
        };
        CheckpointingHash {
            hash,
            position,
            kept,
            ledger,
        }
    }

    /// Bytes hashed so far, from the file's start.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Hashes the next bytes of the stream.
    pub fn update(&mut self, mut data: &[u8]) {
        if self.ledger.is_none() {
            self.hash.update(data);
            self.position += data.len() as u64;
            return;
        }
        while !data.is_empty() {
            let to_boundary = INTERVAL - self.position % INTERVAL;
            let take = usize::try_from(to_boundary).map_or(data.len(), |t| t.min(data.len()));
            let (now, later) = data.split_at(take);
            self.hash.update(now);
            self.position += take as u64;
            data = later;
            if self.position.is_multiple_of(INTERVAL) {
                self.take_checkpoint();
            }
        }
    }

    /// Records the state at the current position and hands the list to the ledger.
    fn take_checkpoint(&mut self) {
        if self.kept.back().is_some_and(|c| c.offset == self.position) {
            return;
        }
        self.kept.push_back(Checkpoint {
            offset: self.position,
            state: self.hash.clone(),
        });
        while self.kept.len() > KEEP {
            self.kept.pop_front();
        }
        if let Some(ledger) = self.ledger.as_mut().filter(|l| !l.sealed) {
            let list: Vec<Checkpoint> = self.kept.iter().cloned().collect();
            (ledger.save)(&encode(&ledger.binding, &list));
        }
    }

    /// Once hashing has stopped: saves the list with the state at the current position added.
    /// For a file being written, bound to `file` as it is now (see [`Ledger`]); for a file
    /// being read, to the ledger's binding, which already names the file's identity. Call it
    /// after the last write or read.
    pub fn seal(&mut self, file: &std::fs::File) {
        // Under one interval, hashing again costs less than keeping a list.
        let Some(sealed) = self.ledger.as_ref().map(|l| l.sealed) else {
            return;
        };
        if self.position < INTERVAL {
            return;
        }
        let binding = match (sealed, &self.ledger) {
            (true, Some(ledger)) => match file.metadata() {
                Ok(meta) => sealed_binding(&ledger.binding, &meta),
                Err(_) => return,
            },
            (false, Some(ledger)) => ledger.binding,
            (_, None) => return,
        };
        let mut list: Vec<Checkpoint> = self.kept.iter().cloned().collect();
        // The state at the end too: a resume from here re-hashes nothing, and a reader that
        // got to the end of the file knows its SHA-256 until the file changes.
        if list.last().is_none_or(|c| c.offset != self.position) {
            list.push(self.here());
        }
        if let Some(ledger) = self.ledger.as_mut() {
            (ledger.save)(&encode(&binding, &list));
        }
    }

    /// The state at the current position.
    pub fn here(&self) -> Checkpoint {
        Checkpoint {
            offset: self.position,
            state: self.hash.clone(),
        }
    }

    /// The SHA-256 of everything hashed.
    pub fn finalize(self) -> [u8; 32] {
        self.hash.finalize().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    fn recording() -> (Ledger, Arc<Mutex<Vec<u8>>>) {
        let saved = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&saved);
        let ledger = Ledger {
            binding: [9; 32],
            save: Box::new(move |bytes| *sink.lock().unwrap() = bytes.to_vec()),
            sealed: false,
        };
        (ledger, saved)
    }

    fn data(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 253) as u8).collect()
    }

    #[test]
    fn a_restored_checkpoint_gives_the_same_hash_as_hashing_everything() {
        let bytes = data(3 * INTERVAL as usize + 1000);
        let (ledger, saved) = recording();
        let mut hash = CheckpointingHash::new(None, Some(ledger));
        for piece in bytes.chunks(1_000_003) {
            hash.update(piece);
        }
        let whole = hash.finalize();
        assert_eq!(whole, <[u8; 32]>::from(Sha256::digest(&bytes)));

        let list = decode(&saved.lock().unwrap(), &[9; 32]);
        let offsets: Vec<u64> = list.iter().map(|c| c.offset).collect();
        assert_eq!(offsets, [INTERVAL, 2 * INTERVAL, 3 * INTERVAL]);
        let start = best(&list, 2 * INTERVAL + 5).unwrap();
        assert_eq!(start.offset, 2 * INTERVAL);
        let mut resumed = CheckpointingHash::new(Some(start), None);
        resumed.update(&bytes[2 * INTERVAL as usize..]);
        assert_eq!(resumed.finalize(), whole);
    }

    #[test]
    fn only_the_most_recent_checkpoints_are_kept() {
        let (ledger, saved) = recording();
        let mut hash = CheckpointingHash::new(None, Some(ledger));
        let block = vec![1u8; INTERVAL as usize];
        for _ in 0..KEEP + 2 {
            hash.update(&block);
        }
        let list = decode(&saved.lock().unwrap(), &[9; 32]);
        assert_eq!(list.len(), KEEP);
        assert_eq!(list[0].offset, 3 * INTERVAL);
    }

    #[test]
    fn a_list_for_another_file_or_damaged_is_ignored() {
        let checkpoint = Checkpoint {
            offset: INTERVAL,
            state: Sha256::new_with_prefix(b"x"),
        };
        let bytes = encode(&[1; 32], &[checkpoint]);
        assert_eq!(decode(&bytes, &[1; 32]).len(), 1);
        assert!(decode(&bytes, &[2; 32]).is_empty());
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut], &[1; 32]).is_empty());
        }
        let mut flipped = bytes.clone();
        flipped[60] ^= 1;
        assert!(decode(&flipped, &[1; 32]).is_empty());
    }

    #[test]
    fn a_written_file_saves_its_list_only_when_sealed_and_only_for_that_state() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("partial");
        let block = vec![3u8; INTERVAL as usize];
        std::fs::write(&path, &block).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let (mut ledger, saved) = recording();
        ledger.sealed = true;
        let mut hash = CheckpointingHash::new(None, Some(ledger));
        hash.update(&block);
        assert!(
            saved.lock().unwrap().is_empty(),
            "nothing saved before sealing"
        );
        hash.update(&block[..100]);
        hash.seal(&file);
        let bytes = saved.lock().unwrap().clone();
        let now = sealed_binding(&[9; 32], &file.metadata().unwrap());
        let list = decode(&bytes, &now);
        let offsets: Vec<u64> = list.iter().map(|c| c.offset).collect();
        assert_eq!(
            offsets,
            [INTERVAL, INTERVAL + 100],
            "with the state at the end"
        );
        let mut whole = Sha256::new_with_prefix(&block);
        whole.update(&block[..100]);
        assert_eq!(
            list[1].state.clone().finalize(),
            whole.finalize(),
            "the end state knows the SHA-256 of all that was hashed"
        );
        assert!(decode(&bytes, &[9; 32]).is_empty());

        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"more")
            .unwrap();
        let later = sealed_binding(&[9; 32], &file.metadata().unwrap());
        assert!(decode(&bytes, &later).is_empty(), "the file changed since");
    }

    #[test]
    fn a_read_file_seals_its_list_with_the_state_at_its_end_under_its_own_binding() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("source");
        let bytes = data(INTERVAL as usize + 77);
        std::fs::write(&path, &bytes).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let (ledger, saved) = recording();
        let mut hash = CheckpointingHash::new(None, Some(ledger));
        hash.update(&bytes);
        hash.seal(&file);
        let list = decode(&saved.lock().unwrap(), &[9; 32]);
        let end = list.last().unwrap();
        assert_eq!(end.offset, bytes.len() as u64);
        assert_eq!(end.state.clone().finalize(), Sha256::digest(&bytes));
    }

    #[test]
    fn no_checkpoint_is_better_than_one_past_the_offset() {
        let list = vec![Checkpoint {
            offset: INTERVAL,
            state: Sha256::new(),
        }];
        assert!(best(&list, INTERVAL - 1).is_none());
    }
}
