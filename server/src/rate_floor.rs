//! The minimum transfer rate: a transfer must move at least `min_rate × window` bytes in each
//! window, so a peer that stalls or trickles cannot hold a connection slot forever. With a
//! rate of 0 only silence longer than the window ends a transfer. The refusal is transient
//! (`Unavailable`): what moved is kept, and a client that reconnects resumes.

use std::time::Duration;

use ftp_proto::ErrorKind;
use tokio::time::Instant;

use crate::error::Refusal;

/// Progress of one transfer against the floor.
#[derive(Debug)]
pub struct RateFloor {
    /// Bytes needed per window.
    needed: u64,
    /// Window length.
    window: Duration,
    /// End of the current window.
    window_end: Instant,
    /// Bytes moved in the current window.
    moved: u64,
    /// The configured rate, for the message.
    rate: u64,
}

impl RateFloor {
    /// A floor of `rate` bytes per second averaged over `window`, starting now.
    pub fn new(rate: u64, window: Duration) -> Self {
        let needed = (rate as f64 * window.as_secs_f64()).ceil() as u64;
        RateFloor {
            needed: needed.max(1),
            window,
            window_end: Instant::now() + window,
            moved: 0,
            rate,
        }
    }

    /// When the current window ends: the latest moment to call [`Self::check`].
    pub fn deadline(&self) -> Instant {
        self.window_end
    }

    /// Counts bytes moved.
    pub fn record(&mut self, bytes: u64) {
        self.moved = self.moved.saturating_add(bytes);
    }

    /// At or after the window's end: fails if too little moved, else starts a new window.
    pub fn check(&mut self, now: Instant) -> Result<(), Refusal> {
        if now < self.window_end {
            return Ok(());
        }
        if self.moved < self.needed {
            // A stalled link, most often: the client may reconnect and resume.
            return Err(Refusal::new(
                ErrorKind::Unavailable,
                format!(
                    "transfer too slow: {} bytes in {} s, the server's floor is {} bytes per second",
                    self.moved,
                    self.window.as_secs(),
                    self.rate
                ),
            ));
        }
        self.moved = 0;
        self.window_end = now + self.window;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_slow_window_fails_and_a_fast_one_renews() {
        let mut floor = RateFloor::new(100, Duration::from_secs(10));
        floor.record(999);
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert!(floor.check(Instant::now()).is_err(), "999 < 1000 bytes");

        let mut floor = RateFloor::new(100, Duration::from_secs(10));
        floor.record(1000);
        assert!(floor.check(Instant::now()).is_ok(), "not due yet");
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert!(floor.check(Instant::now()).is_ok());
        assert_eq!(floor.deadline(), Instant::now() + Duration::from_secs(10));
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert!(
            floor.check(Instant::now()).is_err(),
            "a new window starts empty"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_zero_rate_still_ends_silence() {
        let mut floor = RateFloor::new(0, Duration::from_secs(5));
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(floor.check(Instant::now()).is_err());
    }
}
