//! The two file streams both sides use, each on a blocking thread so disk and hashing overlap
//! the network: [`HashingWriter`] appends chunks to a partial file and hashes them (the
//! receiving side of an upload or a download), and [`spawn_reader`] reads a file from an offset
//! in chunks and hashes it from byte 0 (the sending side). Queues are bounded, so memory stays
//! flat whatever the file size. Nothing here knows about sockets or messages.

use std::os::unix::fs::FileExt;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::files::appender::{Appender, aligned_buffer};
use crate::files::buffer_pool::BufferPool;
use crate::files::checkpoint::{Checkpoint, CheckpointingHash, Ledger};

/// Chunks queued between a file thread and the connection.
pub const QUEUE: usize = 4;

/// Buffer for hashing bytes that are not sent.
const HASH_BUFFER: usize = 1 << 20;

/// Bytes a sender reads before it hashes them: well inside a core's L2 cache.
const PIECE: usize = 256 << 10;

/// Hears how far a file thread has got hashing bytes it neither sends nor receives (a resume's
/// prefix, a whole file read to be compared): called with the bytes hashed so far and the
/// bytes to hash in all, first with none hashed, then after each read. For a progress display.
pub type HashProgress = Box<dyn FnMut(u64, u64) + Send>;

/// How a file thread hashes: the saved state it may start from, where its checkpoints go, and
/// who hears of the hashing that sends nothing.
#[derive(Default)]
pub struct HashPlan {
    /// A checkpoint at or below the thread's offset; the bytes before it are not re-read.
    pub resume_from: Option<Checkpoint>,
    /// Where checkpoints are stored as they are taken (`None`: none are).
    pub ledger: Option<Ledger>,
    /// Told of the progress of the hashing that sends nothing (`None`: nobody is).
    pub progress: Option<HashProgress>,
}

impl std::fmt::Debug for HashPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashPlan")
            .field("resume_from", &self.resume_from)
            .field("ledger", &self.ledger)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

impl HashPlan {
    /// The plan, with `progress` told of the hashing that sends nothing.
    pub fn with_progress(mut self, progress: HashProgress) -> HashPlan {
        self.progress = Some(progress);
        self
    }

    /// Hashes `file` up to `len`, starting from the plan's checkpoint when it is not past
    /// `len`. Blocking.
    fn hash_to(self, file: &std::fs::File, len: u64) -> std::io::Result<CheckpointingHash> {
        let start = self.resume_from.filter(|c| c.offset <= len);
        let mut hash = CheckpointingHash::new(start, self.ledger);
        hash_range(file, &mut hash, len, self.progress)?;
        Ok(hash)
    }
}

/// Feeds `file` from the hash's position up to `len` into it, telling `progress` as it goes.
/// Blocking.
fn hash_range(
    file: &std::fs::File,
    hash: &mut CheckpointingHash,
    len: u64,
    mut progress: Option<HashProgress>,
) -> std::io::Result<()> {
    let start = hash.position();
    if start >= len {
        return Ok(());
    }
    let mut tell = |position: u64| {
        if let Some(progress) = progress.as_mut() {
            progress(position - start, len - start);
        }
    };
    tell(start);
    let mut buffer = aligned_buffer(HASH_BUFFER);
    while hash.position() < len {
        let position = hash.position();
        let want = (len - position).min(buffer.len() as u64) as usize;
        let n = file.read_at(&mut buffer[..want], position)?;
        if n == 0 {
            return Err(shorter());
        }
        hash.update(&buffer[..n]);
        tell(hash.position());
    }
    Ok(())
}

/// SHA-256 of a whole file. Blocking.
pub fn hash_file(file: &std::fs::File) -> std::io::Result<[u8; 32]> {
    Ok(sha256_of(&hash_whole(file, HashPlan::default())?))
}

/// The hash state at the end of a whole file, following `plan`: from its checkpoint on (so
/// nothing is read when that is at the file's end), telling its progress; its ledger, if any,
/// is sealed at the end. Blocking.
pub fn hash_whole(file: &std::fs::File, plan: HashPlan) -> std::io::Result<Checkpoint> {
    // A file that grew while hashed is hashed to its length at the start.
    let len = file.metadata()?.len();
    let mut hash = plan.hash_to(file, len)?;
    hash.seal(file);
    Ok(hash.here())
}

/// The SHA-256 of the bytes a checkpoint has hashed.
pub fn sha256_of(checkpoint: &Checkpoint) -> [u8; 32] {
    sha2::Digest::finalize(checkpoint.state.clone()).into()
}

/// The file is shorter than it was said to be.
fn shorter() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::UnexpectedEof,
        "the file changed size while it was being read",
    )
}

/// Appends chunks to a file and hashes everything in it, writing and hashing on two blocking
/// threads (each chunk is shared, not copied), so a receiver has the cost of the slower of the
/// two instead of both.
#[derive(Debug)]
pub struct HashingWriter {
    /// Chunks to append, in order.
    to_writer: mpsc::Sender<Bytes>,
    /// The same chunks, to hash.
    to_hasher: mpsc::Sender<Bytes>,
    /// The hashing thread; once the writing thread is done, yields the file and the hash of
    /// all its bytes.
    thread: JoinHandle<std::io::Result<(std::fs::File, CheckpointingHash)>>,
}

impl HashingWriter {
    /// Starts the writer on `file`, positioned at `offset` (its current length): it first
    /// hashes those `offset` bytes (from the plan's checkpoint on), then appends and hashes
    /// each chunk, by direct I/O where it can (see [`crate::files::appender`]): a final fsync has
    /// little left to do, and the file does not fill the page cache.
    pub fn start(file: std::fs::File, offset: u64, plan: HashPlan) -> HashingWriter {
        let (to_writer, for_writer) = mpsc::channel::<Bytes>(QUEUE);
        let (to_hasher, mut for_hasher) = mpsc::channel::<Bytes>(QUEUE);
        let (written, file_back) = oneshot::channel();
        let (prefix_done, prefix_hashed) = oneshot::channel();
        let prefix = file.try_clone();
        tokio::task::spawn_blocking(move || {
            // Nobody left to tell means the hashing thread failed first, and said why.
            let _ = written.send(append(file, offset, prefix_hashed, for_writer));
        });
        let thread = tokio::task::spawn_blocking(move || {
            let mut hash = plan.hash_to(&prefix?, offset)?;
            let _ = prefix_done.send(());
            while let Some(chunk) = for_hasher.blocking_recv() {
                hash.update(&chunk);
            }
            let file = file_back
                .blocking_recv()
                .map_err(|_| std::io::Error::other("the writing thread failed"))??;
            hash.seal(&file);
            Ok((file, hash))
        });
        HashingWriter {
            to_writer,
            to_hasher,
            thread,
        }
    }

    /// Queues a chunk; `false` when the writer has stopped (call [`Self::finish`] for why).
    pub async fn write(&self, chunk: Bytes) -> bool {
        self.to_hasher.send(chunk.clone()).await.is_ok() && self.to_writer.send(chunk).await.is_ok()
    }

    /// Waits until every queued chunk is written; returns the file and the hash of all of it.
    pub async fn finish(self) -> std::io::Result<Written> {
        drop(self.to_writer);
        drop(self.to_hasher);
        let (file, hash) = self
            .thread
            .await
            .map_err(|e| std::io::Error::other(format!("writer thread failed: {e}")))??;
        let end = hash.here();
        Ok(Written {
            file,
            sha256: hash.finalize(),
            end,
        })
    }
}

/// Appends each chunk of `incoming` to `file`, which holds `offset` bytes (see
/// [`crate::files::appender`]), once `prefix_hashed` says the hashing thread, which shares the open
/// file, is done reading it: direct I/O would refuse its reads. Blocking.
fn append(
    file: std::fs::File,
    offset: u64,
    prefix_hashed: oneshot::Receiver<()>,
    mut incoming: mpsc::Receiver<Bytes>,
) -> std::io::Result<std::fs::File> {
    // Without word, the hashing thread failed (and says why): the page cache will do.
    let direct = prefix_hashed.blocking_recv().is_ok();
    let mut appender = Appender::new(file, offset, direct);
    loop {
        let chunk = match incoming.try_recv() {
            Ok(chunk) => chunk,
            Err(mpsc::error::TryRecvError::Disconnected) => break,
            Err(mpsc::error::TryRecvError::Empty) => {
                // Nothing more at hand: what was received goes to the file now.
                appender.flush()?;
                match incoming.blocking_recv() {
                    Some(chunk) => chunk,
                    None => break,
                }
            }
        };
        appender.write(&chunk)?;
    }
    appender.finish()
}

/// What a [`HashingWriter`] leaves.
#[derive(Debug)]
pub struct Written {
    /// The file written.
    pub file: std::fs::File,
    /// The SHA-256 of all of it.
    pub sha256: [u8; 32],
    /// The hash state at its end (a checkpoint that knows the whole file).
    pub end: Checkpoint,
}

/// Reads `file` from `offset` to `size` in chunks of `chunk_len` on a blocking thread, hashing
/// from byte 0 (the prefix is hashed from the plan's checkpoint on, not sent). Chunks arrive on
/// the receiver; the thread yields the SHA-256 of the whole file, or an error if the file
/// changed size. When it stops, having read everything or because the receiver was dropped
/// (then with an `Interrupted` error), it seals its checkpoints (see
/// [`crate::files::checkpoint::Ledger`]): what is read is not yet delivered.
pub fn spawn_reader(
    file: std::fs::File,
    offset: u64,
    size: u64,
    chunk_len: usize,
    plan: HashPlan,
) -> (mpsc::Receiver<Bytes>, JoinHandle<std::io::Result<[u8; 32]>>) {
    let (chunks, incoming) = mpsc::channel(QUEUE);
    let thread = tokio::task::spawn_blocking(move || {
        if let Some(whole) = plan.resume_from.as_ref().filter(|c| c.offset == size) {
            // The plan knows the whole file's hash: read and send, hash nothing.
            let sha256 = sha256_of(whole);
            send_range(&file, offset, size, chunk_len, &chunks, |_| {})?;
            return Ok(sha256);
        }
        let mut hash = plan.hash_to(&file, offset)?;
        let sent = send_range(&file, offset, size, chunk_len, &chunks, |chunk| {
            hash.update(chunk);
        });
        // What was read is not yet delivered: a resume can start from what was hashed, even
        // after the last chunk.
        hash.seal(&file);
        sent.map(|()| hash.finalize())
    });
    (incoming, thread)
}

/// Reads `file` from `offset` to `size` in chunks of `chunk_len`, shows each piece read to
/// `inspect` in order, and queues each chunk on `chunks`. Blocking. An `Interrupted` error
/// when the receiver is gone.
fn send_range(
    file: &std::fs::File,
    offset: u64,
    size: u64,
    chunk_len: usize,
    chunks: &mpsc::Sender<Bytes>,
    mut inspect: impl FnMut(&[u8]),
) -> std::io::Result<()> {
    let chunk_len = chunk_len.max(1);
    // Enough for the queue, the chunk being sent and the one being read.
    let pool = BufferPool::new(chunk_len, QUEUE + 2);
    let mut position = offset;
    while position < size {
        let want = (size - position).min(chunk_len as u64) as usize;
        let mut buffer = pool.take();
        let mut filled = 0;
        while filled < want {
            // A piece at a time: `inspect` (the hash) reads it while it is still in cache.
            let end = want.min(filled + PIECE);
            let n = file.read_at(&mut buffer.as_mut()[filled..end], position + filled as u64)?;
            if n == 0 {
                return Err(shorter());
            }
            inspect(&buffer.as_ref()[filled..filled + n]);
            filled += n;
        }
        position += want as u64;
        if chunks.blocking_send(buffer.freeze(want)).is_err() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::Interrupted,
                "transfer interrupted",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn file_with(bytes: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, bytes).unwrap();
        (dir, path)
    }

    #[tokio::test]
    async fn reader_sends_from_the_offset_and_hashes_from_zero() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let (_dir, path) = file_with(&data);
        let file = std::fs::File::open(&path).unwrap();
        let (mut chunks, thread) =
            spawn_reader(file, 3000, data.len() as u64, 4096, HashPlan::default());
        let mut sent = Vec::new();
        while let Some(chunk) = chunks.recv().await {
            assert!(chunk.len() <= 4096);
            sent.extend_from_slice(&chunk);
        }
        assert_eq!(sent, &data[3000..]);
        let hash = thread.await.unwrap().unwrap();
        assert_eq!(hash, <[u8; 32]>::from(Sha256::digest(&data)));
    }

    #[tokio::test]
    async fn reader_reports_a_file_that_shrank() {
        let (_dir, path) = file_with(&[7; 100]);
        let file = std::fs::File::open(&path).unwrap();
        let (mut chunks, thread) = spawn_reader(file, 0, 200, 64, HashPlan::default());
        while chunks.recv().await.is_some() {}
        assert!(thread.await.unwrap().is_err());
    }

    #[tokio::test]
    async fn writer_resumes_with_the_hash_of_the_prefix() {
        let data: Vec<u8> = (0..9_000_123u32).map(|i| (i % 253) as u8).collect();
        let prefix = 5000;
        let (_dir, path) = file_with(&data[..prefix]);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .open(&path)
            .unwrap();
        let writer = HashingWriter::start(file, prefix as u64, HashPlan::default());
        // Chunks at odd addresses and lengths, as frames deliver them.
        let received = Bytes::from([&[0u8][..], &data[prefix..]].concat()).slice(1..);
        for start in (0..received.len()).step_by(777_777) {
            let end = (start + 777_777).min(received.len());
            assert!(writer.write(received.slice(start..end)).await);
        }
        let written = writer.finish().await.unwrap();
        assert_eq!(written.sha256, <[u8; 32]>::from(Sha256::digest(&data)));
        assert_eq!(written.end.offset, data.len() as u64);
        assert!(std::fs::read(&path).unwrap() == data);
    }

    #[tokio::test]
    async fn a_restored_checkpoint_means_the_prefix_is_not_read_again() {
        use crate::files::checkpoint::{Checkpoint, INTERVAL};
        let real: Vec<u8> = (0..INTERVAL as usize + 5000)
            .map(|i| (i % 241) as u8)
            .collect();
        // On disk the prefix is zeros: only a hash that skips it can come out right.
        let mut on_disk = vec![0u8; INTERVAL as usize];
        on_disk.extend_from_slice(&real[INTERVAL as usize..]);
        let (_dir, path) = file_with(&on_disk);
        let plan = HashPlan {
            resume_from: Some(Checkpoint {
                offset: INTERVAL,
                state: Sha256::new_with_prefix(&real[..INTERVAL as usize]),
            }),
            ..HashPlan::default()
        };
        let file = std::fs::File::open(&path).unwrap();
        let offset = INTERVAL + 1000;
        let (mut chunks, thread) = spawn_reader(file, offset, real.len() as u64, 4096, plan);
        while chunks.recv().await.is_some() {}
        let hash = thread.await.unwrap().unwrap();
        assert_eq!(hash, <[u8; 32]>::from(Sha256::digest(&real)));
    }

    #[tokio::test]
    async fn a_plan_that_knows_the_whole_file_sends_it_without_hashing() {
        use crate::files::checkpoint::Checkpoint;
        let (_dir, path) = file_with(&[5; 10_000]);
        // The plan's state is for other contents: the reader must answer with it unchecked,
        // leaving the check to the receiver.
        let recorded = Sha256::new_with_prefix([6; 10_000]);
        let plan = HashPlan {
            resume_from: Some(Checkpoint {
                offset: 10_000,
                state: recorded.clone(),
            }),
            ..HashPlan::default()
        };
        let file = std::fs::File::open(&path).unwrap();
        let (mut chunks, thread) = spawn_reader(file, 2000, 10_000, 4096, plan);
        let mut sent = Vec::new();
        while let Some(chunk) = chunks.recv().await {
            sent.extend_from_slice(&chunk);
        }
        assert_eq!(sent, [5; 8000]);
        let hash = thread.await.unwrap().unwrap();
        assert_eq!(hash, <[u8; 32]>::from(recorded.finalize()));
    }

    #[test]
    fn whole_file_hash() {
        let (_dir, path) = file_with(b"hello");
        let file = std::fs::File::open(&path).unwrap();
        assert_eq!(
            hash_file(&file).unwrap(),
            <[u8; 32]>::from(Sha256::digest(b"hello"))
        );
    }
}
