//! `--limit-rate`: paces sending to a number of bytes per second (K, M, G suffixes), and picks
//! a chunk size small enough that the pace is smooth rather than bursty.

use std::time::Duration;

use tokio::time::Instant;

/// Smallest chunk used when pacing.
const MIN_PACED_CHUNK: usize = 16 * 1024;

/// Paces a stream of bytes to an average rate.
#[derive(Debug)]
pub struct RateLimiter {
    /// Bytes per second.
    rate: u64,
    /// When pacing started.
    start: Instant,
    /// Bytes let through so far.
    passed: u64,
}

impl RateLimiter {
    /// A limiter at `rate` bytes per second (at least 1), starting now.
    pub fn new(rate: u64) -> Self {
        RateLimiter {
            rate: rate.max(1),
            start: Instant::now(),
            passed: 0,
        }
    }

    /// Waits until `bytes` more may go without exceeding the rate.
    pub async fn take(&mut self, bytes: u64) {
        let due = self.start + Duration::from_secs_f64(self.passed as f64 / self.rate as f64);
        tokio::time::sleep_until(due).await;
        self.passed += bytes;
    }

    /// A chunk size giving about eight sends per second, within protocol limits.
    pub fn chunk_len(&self) -> usize {
        usize::try_from(self.rate / 8)
            .unwrap_or(usize::MAX)
            .clamp(MIN_PACED_CHUNK, ftp_proto::MAX_CHUNK_LEN)
    }
}

/// Parses a `--limit-rate` value such as `500K` or `10M` (bytes per second).
pub fn parse_rate(text: &str) -> Result<u64, String> {
    match ftp_proto::units::parse_bytes(text)? {
        0 => Err(format!("--limit-rate {text}: the rate must be above 0")),
        rate => Ok(rate),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn pacing_follows_the_rate() {
        let mut limiter = RateLimiter::new(1000);
        let start = Instant::now();
        for _ in 0..5 {
            limiter.take(500).await;
        }
        // Five takes of 500 bytes at 1000 B/s: the fifth may start after 2 s.
        assert_eq!(start.elapsed(), Duration::from_secs(2));
        assert_eq!(limiter.chunk_len(), MIN_PACED_CHUNK);
        assert_eq!(
            RateLimiter::new(1 << 30).chunk_len(),
            ftp_proto::MAX_CHUNK_LEN
        );
        assert!(parse_rate("0").is_err());
        assert_eq!(parse_rate("2M"), Ok(2 << 20));
    }
}
