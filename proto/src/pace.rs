//! Pacing a transfer to a number of bytes per second (`--limit-rate`), the same way on both
//! sides: the client paces what it sends (an upload) and takes (a download); the server paces a
//! download the client asked to be paced, so the data leaves at the pace instead of piling up
//! in socket buffers, through which the server would see it only in bursts, or not at all for a
//! while. It opens no socket and reads only tokio's clock (tests can pause it).
//!
//! The pace is kept from the pacer's start: by any moment `t` after it, at least `rate × t`
//! bytes have been let through (a chunk goes as soon as the ones before it have had their
//! time), and a chunk that was late (a slow disk, a full link) lets the next ones catch up. So
//! a transfer paced at the server's minimum transfer rate stays at or above it, as the server
//! measures it (from the first byte, file data only). Chunks are an eighth of a second's
//! worth, at least [`crate::MIN_CHUNK_LEN`] and at most [`crate::MAX_CHUNK_LEN`], so the pace
//! moves in small steps.

use std::time::Duration;

use tokio::time::Instant;

use crate::{MAX_CHUNK_LEN, MIN_CHUNK_LEN};

/// Paces a stream of bytes to an average rate.
#[derive(Debug)]
pub struct Pacer {
    /// Bytes per second.
    rate: u64,
    /// When pacing started.
    start: Instant,
    /// Bytes let through so far.
    passed: u64,
}

impl Pacer {
    /// A pacer at `rate` bytes per second (at least 1), starting now.
    pub fn new(rate: u64) -> Self {
        Pacer {
            rate: rate.max(1),
            start: Instant::now(),
            passed: 0,
        }
    }

    /// The rate, bytes per second.
    pub fn rate(&self) -> u64 {
        self.rate
    }

    /// Waits until `bytes` more may go without exceeding the rate.
    pub async fn take(&mut self, bytes: u64) {
        let due = self.start + Duration::from_secs_f64(self.passed as f64 / self.rate as f64);
        tokio::time::sleep_until(due).await;
        self.passed = self.passed.saturating_add(bytes);
    }

    /// The chunk size for this rate: see [`chunk_len`].
    pub fn chunk_len(&self) -> usize {
        chunk_len(self.rate)
    }
}

/// A chunk size giving about eight sends per second at `rate` bytes per second, within
/// [`MIN_CHUNK_LEN`] and [`MAX_CHUNK_LEN`].
pub fn chunk_len(rate: u64) -> usize {
    usize::try_from(rate / 8)
        .unwrap_or(usize::MAX)
        .clamp(MIN_CHUNK_LEN, MAX_CHUNK_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn pacing_follows_the_rate() {
        let mut pacer = Pacer::new(1000);
        let start = Instant::now();
        for _ in 0..5 {
            pacer.take(500).await;
        }
        // Five takes of 500 bytes at 1000 B/s: the fifth may start after 2 s.
        assert_eq!(start.elapsed(), Duration::from_secs(2));
        assert_eq!(pacer.chunk_len(), MIN_CHUNK_LEN);
        assert_eq!(chunk_len(64 << 10), 8 << 10);
        assert_eq!(chunk_len(1 << 30), MAX_CHUNK_LEN);
    }

    #[tokio::test(start_paused = true)]
    async fn a_late_chunk_lets_the_next_ones_catch_up() {
        let mut pacer = Pacer::new(1000);
        let start = Instant::now();
        pacer.take(1000).await;
        // Held up for 3 s (a slow disk): the next two seconds' worth go at once.
        tokio::time::sleep(Duration::from_secs(3)).await;
        pacer.take(1000).await;
        pacer.take(1000).await;
        pacer.take(1000).await;
        assert_eq!(start.elapsed(), Duration::from_secs(3));
        pacer.take(1000).await;
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(4),
            "then the pace again"
        );
    }
}
