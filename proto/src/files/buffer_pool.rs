//! Page-aligned chunk buffers that come back for reuse once every handle to them is dropped.
//!
//! A file sender reads each chunk into a buffer, hands it on as [`Bytes`], and forgets it. A
//! fresh megabyte per chunk costs more than the read into it: the allocator zeroes it, or the
//! kernel faults in and clears its pages. A [`BufferPool`] keeps a few buffers; the [`Bytes`]
//! made from one returns it to the pool when its last clone is dropped, wherever that is.
//!
//! Must never: hand out a buffer some [`Bytes`] still shows; keep more than its limit.

use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};

use crate::files::appender::aligned_buffer;

/// Buffers of one length, recycled.
#[derive(Debug, Clone)]
pub struct BufferPool {
    /// The free buffers.
    free: Arc<Mutex<Vec<BytesMut>>>,
    /// Length of every buffer.
    len: usize,
    /// Most free buffers kept; more are released.
    keep: usize,
}

impl BufferPool {
    /// A pool of `len`-byte buffers that keeps at most `keep` free ones.
    pub fn new(len: usize, keep: usize) -> Self {
        BufferPool {
            free: Arc::default(),
            len,
            keep,
        }
    }

    /// A buffer of the pool's length, starting on a page boundary. A recycled buffer still
    /// holds the bytes of its last use (never uninitialised memory): fill what you freeze.
    pub fn take(&self) -> Pooled {
        let recycled = self.free.lock().ok().and_then(|mut free| free.pop());
        Pooled {
            buffer: recycled.unwrap_or_else(|| aligned_buffer(self.len)),
            pool: self.clone(),
        }
    }

    /// Takes `buffer` back if there is room.
    fn give_back(&self, buffer: BytesMut) {
        if let Ok(mut free) = self.free.lock()
            && free.len() < self.keep
        {
            free.push(buffer);
        }
    }
}

/// A buffer from a [`BufferPool`]; back to it when dropped, or when the last handle to the
/// [`Bytes`] made by [`Pooled::freeze`] is.
#[derive(Debug)]
pub struct Pooled {
    /// The bytes (always the pool's length; emptied only on the way back).
    buffer: BytesMut,
    /// Where it goes back.
    pool: BufferPool,
}

impl Pooled {
    /// The first `len` bytes (at most the buffer's length), shared without copying.
    pub fn freeze(self, len: usize) -> Bytes {
        let len = len.min(self.buffer.len());
        Bytes::from_owner(self).slice(..len)
    }
}

impl AsMut<[u8]> for Pooled {
    /// The whole buffer, to fill.
    fn as_mut(&mut self) -> &mut [u8] {
        &mut self.buffer
    }
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buffer
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        let buffer = std::mem::take(&mut self.buffer);
        if buffer.len() == self.pool.len {
            self.pool.give_back(buffer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(bytes: &[u8]) -> usize {
        bytes.as_ptr() as usize
    }

    #[test]
    fn a_buffer_comes_back_only_after_its_last_clone_is_dropped() {
        let pool = BufferPool::new(8192, 2);
        let mut first = pool.take();
        first.as_mut()[..3].copy_from_slice(b"abc");
        let at = address(first.as_ref());
        let bytes = first.freeze(3);
        let clone = bytes.clone();
        drop(bytes);
        let second = pool.take();
        assert_ne!(address(second.as_ref()), at, "still shown by a clone");
        assert_eq!(&clone[..], b"abc");
        drop(clone);
        let third = pool.take();
        assert_eq!(
            address(third.as_ref()),
            at,
            "recycled once no clone is left"
        );
        drop(second);
    }

    #[test]
    fn buffers_are_page_aligned_and_the_pool_keeps_at_most_its_limit() {
        let pool = BufferPool::new(4096 * 3, 1);
        let taken: Vec<Pooled> = (0..3).map(|_| pool.take()).collect();
        for buffer in &taken {
            assert_eq!(address(buffer.as_ref()) % 4096, 0);
            assert_eq!(buffer.as_ref().len(), 4096 * 3);
        }
        drop(taken);
        assert_eq!(pool.free.lock().unwrap().len(), 1);
    }

    #[test]
    fn freezing_more_than_the_buffer_holds_is_cut_to_its_length() {
        let pool = BufferPool::new(16, 1);
        assert_eq!(pool.take().freeze(100).len(), 16);
    }
}
