//! The minimum transfer rate, so a peer that stalls or trickles cannot hold a connection slot
//! forever. From a transfer's first data byte on, the floor expects `rate` bytes per second and
//! keeps an account of how far the transfer is ahead of that pace or behind it: a transfer
//! that falls a whole window's worth (`rate × window` bytes) behind is cut. Being ahead counts
//! for at most one window's worth, so one that was fast and then stops is still cut within two
//! windows. A transfer that has kept to `rate` on average since its first byte is never cut,
//! however its bytes are bunched into frames, whereas counting each window on its own cut a
//! client paced at exactly the floor whenever one of its frames landed just past a window's
//! end. Before the first byte the transfer may be silent for one window; with a rate of 0
//! only silence longer than the window ends it. Time the server itself was the slow side (its
//! disk writer or reader behind) is excused: it never counts against the peer. The refusal is transient (`Unavailable`): what
//! moved is kept, and a client that reconnects resumes.
//!
//! It counts file data only (never frame headers or TLS records), as the client's
//! `--limit-rate` does, so a client paced at the floor and the floor measure the same bytes.
//! It never reads a clock of its own but tokio's, so tests can pause time.

use std::time::Duration;

use ftp_proto::ErrorKind;
use ftp_proto::units::exact_bytes;
use tokio::time::Instant;

use crate::error::Refusal;

/// Progress of one transfer against the floor.
#[derive(Debug)]
pub struct RateFloor {
    /// The configured rate, bytes per second (0: only silence is cut).
    rate: u64,
    /// The window: how far behind the pace a transfer may fall, and how far ahead it may count.
    window: Duration,
    /// `rate × window` bytes (at least 1): the most a transfer may be ahead or behind.
    allowance: f64,
    /// Bytes ahead of the pace (negative: behind) at `since`, at most `allowance`.
    balance: f64,
    /// When `balance` was last brought up to date: the last byte moved, or the opening.
    since: Instant,
    /// When the first byte moved, if one has.
    first: Option<Instant>,
    /// Bytes moved in all, for the message.
    moved: u64,
}

impl RateFloor {
    /// A floor of `rate` bytes per second, allowing a lead or lag of `window`'s worth, for a
    /// transfer opening now.
    pub fn new(rate: u64, window: Duration) -> Self {
        RateFloor {
            rate,
            window,
            allowance: (rate as f64 * window.as_secs_f64()).max(1.0),
            balance: 0.0,
            since: Instant::now(),
            first: None,
            moved: 0,
        }
    }

    /// The moment the transfer falls a window behind if nothing more moves: the latest moment
    /// to call [`Self::check`].
    pub fn deadline(&self) -> Instant {
        if self.rate == 0 || self.first.is_none() {
            return self.since + self.window;
        }
        let left = (self.balance + self.allowance).max(0.0) / self.rate as f64;
        self.since + Duration::from_secs_f64(left)
    }

    /// Counts bytes moved now.
    pub fn record(&mut self, bytes: u64) {
        let now = Instant::now();
        self.moved = self.moved.saturating_add(bytes);
        let spent = match self.first {
            None => {
                self.first = Some(now);
                0.0
            }
            Some(_) => now.saturating_duration_since(self.since).as_secs_f64() * self.rate as f64,
        };
        self.balance = (self.balance - spent + bytes as f64).min(self.allowance);
        self.since = now;
    }

    /// Excuses `busy`, a time the server itself held the transfer up (its writer or reader was
    /// behind), so it does not count against the peer.
    pub fn excuse(&mut self, busy: Duration) {
        self.since = (self.since + busy).min(Instant::now());
    }

    /// Fails if the transfer is a window behind at `now` (at or after [`Self::deadline`]).
    pub fn check(&self, now: Instant) -> Result<(), Refusal> {
        if now < self.deadline() {
            return Ok(());
        }
        let window = self.window.as_secs_f64();
        let message = match self.first {
            Some(first) if self.rate > 0 => format!(
                "transfer too slow: {} bytes in {:.1} s since the first byte, more than {window} s \
                 behind the server's floor of {}/s",
                self.moved,
                now.saturating_duration_since(first).as_secs_f64(),
                exact_bytes(self.rate),
            ),
            _ => format!(
                "transfer too slow: nothing moved in {window} s (the server's floor is {}/s)",
                exact_bytes(self.rate),
            ),
        };
        // A stalled link, most often: the client may reconnect and resume.
        Err(Refusal::new(ErrorKind::Unavailable, message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Advances paused time by `millis`.
    async fn pass(millis: u64) {
        tokio::time::sleep(Duration::from_millis(millis)).await;
    }

    #[tokio::test(start_paused = true)]
    async fn silence_before_the_first_byte_is_cut_after_one_window() {
        let floor = RateFloor::new(100, Duration::from_secs(10));
        pass(9_999).await;
        assert!(floor.check(Instant::now()).is_ok());
        pass(1).await;
        let refusal = floor.check(Instant::now()).unwrap_err();
        assert_eq!(refusal.kind, ErrorKind::Unavailable, "a reconnect resumes");
        assert!(refusal.message.contains("nothing moved"), "{refusal:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_trickle_below_the_rate_is_cut_and_a_stop_after_a_burst_within_two_windows() {
        // 50 B/s against 100 B/s over 10 s windows: 50 bytes a second behind, a window (1000
        // bytes) behind after 20 s (the first 50 bytes moved at 0 s).
        let mut floor = RateFloor::new(100, Duration::from_secs(10));
        let start = Instant::now();
        let mut cut = None;
        for _ in 0..40 {
            floor.record(50);
            pass(1000).await;
            if floor.check(Instant::now()).is_err() {
                cut = Some(start.elapsed());
                break;
            }
        }
        assert_eq!(cut, Some(Duration::from_secs(20)), "a window behind");

        // A megabyte at once, then nothing: the lead counts for one window only.
        let mut floor = RateFloor::new(100, Duration::from_secs(10));
        floor.record(1 << 20);
        assert_eq!(floor.deadline(), Instant::now() + Duration::from_secs(20));
        pass(19_999).await;
        assert!(floor.check(Instant::now()).is_ok());
        pass(1).await;
        let refusal = floor.check(Instant::now()).unwrap_err();
        assert!(refusal.message.contains("too slow"), "{refusal:?}");
        assert!(refusal.message.contains("100 B/s"), "{refusal:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_pace_at_the_rate_is_never_cut_however_its_frames_fall() {
        // 16 KiB frames at 12 KiB/s over 2 s windows: one or two frames a window. Counting
        // each window apart, a window holding one frame (16 KiB < 24 KiB) was cut.
        let (rate, frame): (u32, u32) = (12 * 1024, 16 * 1024);
        let period = Duration::from_secs_f64(f64::from(frame) / f64::from(rate));
        let mut floor = RateFloor::new(u64::from(rate), Duration::from_secs(2));
        let start = Instant::now();
        for sent in 0..60u32 {
            // Each frame is due at sent × period; let it land up to a second late, or early.
            let due = start + period * sent;
            let jitter = Duration::from_millis(u64::from(sent % 5) * 250);
            let landing = if sent % 2 == 0 {
                due + jitter
            } else {
                due.checked_sub(jitter).unwrap_or(due).max(Instant::now())
            };
            // Wake up whenever the floor would check, as the handlers do.
            while floor.deadline() <= landing {
                tokio::time::sleep_until(floor.deadline()).await;
                assert!(
                    floor.check(Instant::now()).is_ok(),
                    "cut before frame {sent}"
                );
            }
            tokio::time::sleep_until(landing).await;
            floor.record(u64::from(frame));
            assert!(floor.check(Instant::now()).is_ok(), "cut at frame {sent}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn time_the_server_held_the_transfer_up_is_excused() {
        let mut floor = RateFloor::new(100, Duration::from_secs(10));
        floor.record(1000);
        let deadline = floor.deadline();
        pass(15_000).await;
        floor.excuse(Duration::from_secs(15));
        assert_eq!(floor.deadline(), deadline + Duration::from_secs(15));
        assert!(floor.check(Instant::now()).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_zero_rate_still_ends_silence() {
        let mut floor = RateFloor::new(0, Duration::from_secs(5));
        pass(4_000).await;
        floor.record(1);
        pass(4_000).await;
        assert!(
            floor.check(Instant::now()).is_ok(),
            "5 s since the last byte"
        );
        pass(1_000).await;
        assert!(floor.check(Instant::now()).is_err());
    }
}
