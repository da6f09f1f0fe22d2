//! The two file streams both sides use, each on a blocking thread so disk and hashing overlap
//! the network: [`HashingWriter`] appends chunks to a partial file and hashes them (the
//! receiving side of an upload or a download), and [`spawn_reader`] reads a file from an offset
//! in chunks and hashes it from byte 0 (the sending side). Queues are bounded, so memory stays
//! flat whatever the file size. Nothing here knows about sockets or messages.

use std::io::Write;
use std::num::NonZeroU64;
use std::os::unix::fs::FileExt;

use bytes::{Bytes, BytesMut};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::checkpoint::{Checkpoint, CheckpointingHash, Ledger};

/// Chunks queued between a file thread and the connection.
pub const QUEUE: usize = 4;

/// Buffer for hashing bytes that are not sent.
const HASH_BUFFER: usize = 1 << 20;

/// With early writeback, how much written data may wait before its writeback is started.
const WRITEBACK_WINDOW: u64 = 8 << 20;

/// How a file thread hashes: the saved state it may start from, and where its checkpoints go.
#[derive(Debug, Default)]
pub struct HashPlan {
    /// A checkpoint at or below the thread's offset; the bytes before it are not re-read.
    pub resume_from: Option<Checkpoint>,
    /// Where checkpoints are stored as they are taken (`None`: none are).
    pub ledger: Option<Ledger>,
}

impl HashPlan {
    /// Hashes `file` up to `len`, starting from the plan's checkpoint when it is not past
    /// `len`. Blocking.
    fn hash_to(self, file: &std::fs::File, len: u64) -> std::io::Result<CheckpointingHash> {
        let start = self.resume_from.filter(|c| c.offset <= len);
        let mut hash = CheckpointingHash::new(start, self.ledger);
        hash_range(file, &mut hash, len)?;
        Ok(hash)
    }
}

/// Feeds `file` from the hash's position up to `len` into it. Blocking.
fn hash_range(file: &std::fs::File, hash: &mut CheckpointingHash, len: u64) -> std::io::Result<()> {
    let mut buffer = aligned_buffer(HASH_BUFFER);
    while hash.position() < len {
        let position = hash.position();
        let want = (len - position).min(buffer.len() as u64) as usize;
        let n = file.read_at(&mut buffer[..want], position)?;
        if n == 0 {
            return Err(shorter());
        }
        hash.update(&buffer[..n]);
    }
    Ok(())
}

/// Bytes staged at a time when a chunk to write is misaligned.
const STAGING: usize = 64 << 10;

/// Writes `data` to `file`: straight from `data` when it starts on a 64-byte boundary, else
/// through `staging`. The kernel's copy into the page cache is several times slower from a
/// misaligned address here, and received chunks sit wherever their frame header left them;
/// a copy between two user buffers costs little.
fn write_aligned(file: &mut std::fs::File, data: &[u8], staging: &mut [u8]) -> std::io::Result<()> {
    if data.as_ptr().align_offset(64) == 0 || staging.is_empty() {
        return file.write_all(data);
    }
    for piece in data.chunks(staging.len()) {
        let staged = &mut staging[..piece.len()];
        staged.copy_from_slice(piece);
        file.write_all(staged)?;
    }
    Ok(())
}

/// A zeroed buffer of `len` bytes that starts on a page boundary: reads from the page cache
/// into a misaligned buffer are several times slower here.
fn aligned_buffer(len: usize) -> BytesMut {
    const PAGE: usize = 4096;
    let mut buffer = BytesMut::zeroed(len + PAGE);
    let pad = buffer.as_ptr().align_offset(PAGE).min(PAGE);
    let mut aligned = buffer.split_off(pad);
    aligned.truncate(len);
    aligned
}

/// SHA-256 of a whole file. Blocking.
pub fn hash_file(file: &std::fs::File) -> std::io::Result<[u8; 32]> {
    let len = file.metadata()?.len();
    // A file that grew while hashed is hashed to its length at the start.
    Ok(HashPlan::default().hash_to(file, len)?.finalize())
}

/// The file is shorter than it was said to be.
fn shorter() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::UnexpectedEof,
        "the file changed size while it was being read",
    )
}

/// Appends chunks to a file and hashes everything in it, on a blocking thread.
#[derive(Debug)]
pub struct HashingWriter {
    /// Chunks to append, in order.
    chunks: mpsc::Sender<Bytes>,
    /// The thread; yields the file and the hash of all its bytes.
    thread: JoinHandle<std::io::Result<(std::fs::File, CheckpointingHash)>>,
}

impl HashingWriter {
    /// Starts the writer on `file`, positioned at `offset` (its current length): it first
    /// hashes those `offset` bytes (from the plan's checkpoint on), then appends and hashes
    /// each chunk. With `early_writeback`, writeback of what has been written starts as it
    /// goes, so a final fsync has little left to do.
    pub fn start(
        mut file: std::fs::File,
        offset: u64,
        plan: HashPlan,
        early_writeback: bool,
    ) -> HashingWriter {
        let (chunks, mut incoming) = mpsc::channel::<Bytes>(QUEUE);
        let thread = tokio::task::spawn_blocking(move || {
            let mut hash = plan.hash_to(&file, offset)?;
            let mut flushed = offset;
            let mut staging = aligned_buffer(STAGING);
            while let Some(chunk) = incoming.blocking_recv() {
                write_aligned(&mut file, &chunk, &mut staging)?;
                hash.update(&chunk);
                let written = hash.position();
                if early_writeback && written - flushed >= WRITEBACK_WINDOW {
                    start_writeback(&file, flushed, written - flushed);
                    flushed = written;
                }
            }
            hash.seal(&file);
            Ok((file, hash))
        });
        HashingWriter { chunks, thread }
    }

    /// Queues a chunk; `false` when the writer has stopped (call [`Self::finish`] for why).
    pub async fn write(&self, chunk: Bytes) -> bool {
        self.chunks.send(chunk).await.is_ok()
    }

    /// Waits until every queued chunk is written; returns the file and the SHA-256 of all of it.
    pub async fn finish(self) -> std::io::Result<(std::fs::File, [u8; 32])> {
        drop(self.chunks);
        let (file, hash) = self
            .thread
            .await
            .map_err(|e| std::io::Error::other(format!("writer thread failed: {e}")))??;
        Ok((file, hash.finalize()))
    }
}

/// Starts writeback of `len` bytes at `offset` without waiting for it, and lets the kernel
/// drop those pages from the cache once they are clean (`POSIX_FADV_DONTNEED`). Best effort:
/// a failure only leaves more for the final fsync.
pub fn start_writeback(file: &std::fs::File, offset: u64, len: u64) {
    let _ = rustix::fs::fadvise(
        file,
        offset,
        NonZeroU64::new(len),
        rustix::fs::Advice::DontNeed,
    );
}

/// Reads `file` from `offset` to `size` in chunks of `chunk_len` on a blocking thread, hashing
/// from byte 0 (the prefix is hashed from the plan's checkpoint on, not sent). Chunks arrive on
/// the receiver; the thread yields the SHA-256 of the whole file, or an error if the file
/// changed size. When it stops, having read everything or because the receiver was dropped
/// (then with an `Interrupted` error), it seals its checkpoints (see
/// [`crate::checkpoint::Ledger`]): what is read is not yet delivered.
pub fn spawn_reader(
    file: std::fs::File,
    offset: u64,
    size: u64,
    chunk_len: usize,
    plan: HashPlan,
) -> (mpsc::Receiver<Bytes>, JoinHandle<std::io::Result<[u8; 32]>>) {
    let (chunks, incoming) = mpsc::channel(QUEUE);
    let thread = tokio::task::spawn_blocking(move || {
        let mut hash = plan.hash_to(&file, offset)?;
        let mut position = offset;
        while position < size {
            let want = (size - position).min(chunk_len.max(1) as u64) as usize;
            let mut buffer = aligned_buffer(want);
            let mut filled = 0;
            while filled < want {
                let n = file.read_at(&mut buffer[filled..], position + filled as u64)?;
                if n == 0 {
                    return Err(shorter());
                }
                filled += n;
            }
            hash.update(&buffer);
            position += want as u64;
            if chunks.blocking_send(buffer.freeze()).is_err() {
                // A resume of this transfer can start from what was hashed.
                hash.seal(&file);
                return Err(std::io::Error::new(
                    std::io::ErrorKind::Interrupted,
                    "transfer interrupted",
                ));
            }
        }
        // The last chunks may still be lost in flight: a resume can start from here too.
        hash.seal(&file);
        Ok(hash.finalize())
    });
    (incoming, thread)
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
        let (_dir, path) = file_with(b"abc");
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .open(&path)
            .unwrap();
        file.flush().unwrap();
        let writer = HashingWriter::start(file, 3, HashPlan::default(), true);
        assert!(writer.write(Bytes::from_static(b"def")).await);
        let (_, hash) = writer.finish().await.unwrap();
        assert_eq!(hash, <[u8; 32]>::from(Sha256::digest(b"abcdef")));
        assert_eq!(std::fs::read(&path).unwrap(), b"abcdef");
    }

    #[tokio::test]
    async fn a_restored_checkpoint_means_the_prefix_is_not_read_again() {
        use crate::checkpoint::{Checkpoint, INTERVAL};
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
            ledger: None,
        };
        let file = std::fs::File::open(&path).unwrap();
        let offset = INTERVAL + 1000;
        let (mut chunks, thread) = spawn_reader(file, offset, real.len() as u64, 4096, plan);
        while chunks.recv().await.is_some() {}
        let hash = thread.await.unwrap().unwrap();
        assert_eq!(hash, <[u8; 32]>::from(Sha256::digest(&real)));
    }

    #[test]
    fn misaligned_data_is_written_whole_through_the_staging_buffer() {
        let data: Vec<u8> = (0..200_001u32).map(|i| (i % 251) as u8).collect();
        let misaligned = &data[(0..64)
            .find(|&k| data[k..].as_ptr().align_offset(64) != 0)
            .unwrap()..];
        let (_dir, path) = file_with(b"");
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        let mut staging = aligned_buffer(STAGING);
        write_aligned(&mut file, misaligned, &mut staging).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), misaligned);
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
