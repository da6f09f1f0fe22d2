//! The two file streams both sides use, each on a blocking thread so disk and hashing overlap
//! the network: [`HashingWriter`] appends chunks to a partial file and hashes them (the
//! receiving side of an upload or a download), and [`spawn_reader`] reads a file from an offset
//! in chunks and hashes it from byte 0 (the sending side). Queues are bounded, so memory stays
//! flat whatever the file size. Nothing here knows about sockets or messages.

use std::io::Write;
use std::os::unix::fs::FileExt;

use bytes::{Bytes, BytesMut};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Chunks queued between a file thread and the connection.
pub const QUEUE: usize = 4;

/// Buffer for hashing bytes that are not sent.
const HASH_BUFFER: usize = 1 << 20;

/// SHA-256 state over the first `len` bytes of `file`. Blocking.
pub fn hash_prefix(file: &std::fs::File, len: u64) -> std::io::Result<Sha256> {
    let mut hash = Sha256::new();
    let mut buffer = vec![0u8; HASH_BUFFER];
    let mut position = 0;
    while position < len {
        let want = (len - position).min(buffer.len() as u64) as usize;
        let n = file.read_at(&mut buffer[..want], position)?;
        if n == 0 {
            return Err(shorter());
        }
        hash.update(&buffer[..n]);
        position += n as u64;
    }
    Ok(hash)
}

/// SHA-256 of a whole file. Blocking.
pub fn hash_file(file: &std::fs::File) -> std::io::Result<[u8; 32]> {
    let len = file.metadata()?.len();
    let hash = hash_prefix(file, len)?;
    // A file that grew while hashed is hashed to its length at the start.
    Ok(hash.finalize().into())
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
    thread: JoinHandle<std::io::Result<(std::fs::File, Sha256)>>,
}

impl HashingWriter {
    /// Starts the writer on `file`, positioned at `offset` (its current length): it first
    /// hashes those `offset` bytes, then appends and hashes each chunk.
    pub fn start(mut file: std::fs::File, offset: u64) -> HashingWriter {
        let (chunks, mut incoming) = mpsc::channel::<Bytes>(QUEUE);
        let thread = tokio::task::spawn_blocking(move || {
            let mut hash = hash_prefix(&file, offset)?;
            while let Some(chunk) = incoming.blocking_recv() {
                file.write_all(&chunk)?;
                hash.update(&chunk);
            }
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
        Ok((file, hash.finalize().into()))
    }
}

/// Reads `file` from `offset` to `size` in chunks of `chunk_len` on a blocking thread, hashing
/// from byte 0 (the prefix is hashed, not sent). Chunks arrive on the receiver; the thread
/// yields the SHA-256 of the whole file, or an error if the file changed size. If the receiver
/// is dropped the thread stops with an `Interrupted` error.
pub fn spawn_reader(
    file: std::fs::File,
    offset: u64,
    size: u64,
    chunk_len: usize,
) -> (mpsc::Receiver<Bytes>, JoinHandle<std::io::Result<[u8; 32]>>) {
    let (chunks, incoming) = mpsc::channel(QUEUE);
    let thread = tokio::task::spawn_blocking(move || {
        let mut hash = hash_prefix(&file, offset)?;
        let mut position = offset;
        while position < size {
            let want = (size - position).min(chunk_len.max(1) as u64) as usize;
            let mut buffer = BytesMut::zeroed(want);
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
                return Err(std::io::Error::new(
                    std::io::ErrorKind::Interrupted,
                    "transfer interrupted",
                ));
            }
        }
        Ok(hash.finalize().into())
    });
    (incoming, thread)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let (mut chunks, thread) = spawn_reader(file, 3000, data.len() as u64, 4096);
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
        let (mut chunks, thread) = spawn_reader(file, 0, 200, 64);
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
        let writer = HashingWriter::start(file, 3);
        assert!(writer.write(Bytes::from_static(b"def")).await);
        let (_, hash) = writer.finish().await.unwrap();
        assert_eq!(hash, <[u8; 32]>::from(Sha256::digest(b"abcdef")));
        assert_eq!(std::fs::read(&path).unwrap(), b"abcdef");
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
