//! Login throttling per client address: each failure delays its answer a little more, and an
//! address that fails too often is refused for a while without any password being checked.
//! A success clears the address. The table is pruned so a flood of addresses cannot grow it
//! without bound.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Addresses remembered before old records are pruned.
const PRUNE_ABOVE: usize = 10_000;

/// Longest delay added to a failed login's answer.
const MAX_DELAY: Duration = Duration::from_secs(5);

/// Failures of one address.
#[derive(Debug, Clone, Copy)]
struct Record {
    /// Failures in a row.
    failures: u32,
    /// When the last one happened.
    last: Instant,
}

/// Failed logins by address.
#[derive(Debug)]
pub struct LoginThrottle {
    /// Records by address.
    records: Mutex<HashMap<IpAddr, Record>>,
    /// Delay per failure so far.
    step: Duration,
    /// Failures before an address is locked out.
    limit: u32,
    /// How long a lockout lasts.
    lockout: Duration,
}

impl LoginThrottle {
    /// A throttle with the given delay step, failure limit and lockout time.
    pub fn new(step: Duration, limit: u32, lockout: Duration) -> Self {
        LoginThrottle {
            records: Mutex::default(),
            step,
            limit,
            lockout,
        }
    }

    /// `Err(remaining)` while `address` is locked out.
    pub fn check(&self, address: IpAddr, now: Instant) -> Result<(), Duration> {
        let Ok(mut records) = self.records.lock() else {
            return Ok(());
        };
        match records.get(&address) {
            Some(record) if record.failures >= self.limit => {
                let elapsed = now.saturating_duration_since(record.last);
                if elapsed < self.lockout {
                    Err(self.lockout - elapsed)
                } else {
                    records.remove(&address);
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }

    /// Records a failure; returns how long to wait before answering it.
    pub fn failure(&self, address: IpAddr, now: Instant) -> Duration {
        let Ok(mut records) = self.records.lock() else {
            return self.step;
        };
        if records.len() > PRUNE_ABOVE {
            let lockout = self.lockout;
            records.retain(|_, r| now.saturating_duration_since(r.last) < lockout);
        }
        let record = records.entry(address).or_insert(Record {
            failures: 0,
            last: now,
        });
        // Failures long after the last one start a new count.
        if now.saturating_duration_since(record.last) >= self.lockout {
            record.failures = 0;
        }
        record.failures = record.failures.saturating_add(1);
        record.last = now;
        self.step.saturating_mul(record.failures).min(MAX_DELAY)
    }

    /// Clears the address after a successful login.
    pub fn success(&self, address: IpAddr) {
        if let Ok(mut records) = self.records.lock() {
            records.remove(&address);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_slow_down_then_lock_out_one_address_only() {
        let throttle = LoginThrottle::new(Duration::from_millis(100), 3, Duration::from_secs(60));
        let (a, b) = ("127.0.0.1".parse().unwrap(), "127.0.0.2".parse().unwrap());
        let now = Instant::now();
        assert_eq!(throttle.failure(a, now), Duration::from_millis(100));
        assert_eq!(throttle.failure(a, now), Duration::from_millis(200));
        assert!(throttle.check(a, now).is_ok());
        throttle.failure(a, now);
        assert!(throttle.check(a, now).is_err(), "locked after 3 failures");
        assert!(
            throttle.check(b, now).is_ok(),
            "other addresses are not affected"
        );
        let later = now + Duration::from_secs(61);
        assert!(throttle.check(a, later).is_ok(), "the lockout ends");
        throttle.failure(b, now);
        throttle.success(b);
        assert_eq!(
            throttle.failure(b, now),
            Duration::from_millis(100),
            "success clears"
        );
    }

    #[test]
    fn delays_are_capped() {
        let throttle = LoginThrottle::new(Duration::from_secs(2), 100, Duration::from_secs(60));
        let a = "::1".parse().unwrap();
        let now = Instant::now();
        for _ in 0..10 {
            assert!(throttle.failure(a, now) <= MAX_DELAY);
        }
    }
}
