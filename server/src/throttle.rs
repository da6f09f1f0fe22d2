//! Login throttling per client source ([`crate::source`]: an IPv4 address, an IPv6 /64): each
//! failure delays its answer a little more, and a source that failed too often is refused for
//! a while without any password being checked.
//!
//! An attempt is counted when it starts: [`LoginThrottle::begin`] reserves a place before the
//! password is checked and the attempt settles it afterwards, so parallel connections can never
//! get more than `limit` passwords checked between two lockouts; attempts past the places left
//! wait for running ones to settle (a success frees its place, a failure keeps it). A success
//! clears only the failures of that same account from that source, never another account's:
//! logging in to one's own account does not reset the count of guesses at someone else's. User
//! names are kept only as keyed hashes. The table is pruned so a flood of sources cannot grow it
//! without bound.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// Sources remembered before old records are pruned.
const PRUNE_ABOVE: usize = 10_000;

/// Longest delay added to a failed login's answer.
const MAX_DELAY: Duration = Duration::from_secs(5);

/// Attempts of one source.
#[derive(Debug)]
struct Record {
    /// Failed checks by account: a keyed hash of the user name tried, and its failures.
    failures: Vec<(u64, u32)>,
    /// Checks running now; each holds a place as if it had failed until it settles.
    pending: u32,
    /// When the last failure happened.
    last: Instant,
}

impl Record {
    /// Failures of every account together.
    fn failed(&self) -> u32 {
        self.failures
            .iter()
            .fold(0u32, |sum, (_, n)| sum.saturating_add(*n))
    }
}

/// What [`LoginThrottle::try_begin`] decided.
#[derive(Debug)]
pub enum Start<'a> {
    /// A place is reserved: check the password, then settle the attempt.
    Reserved(Attempt<'a>),
    /// The source is locked out for this long.
    Locked(Duration),
    /// Every place left is held by a check still running: wait for one to settle.
    Full,
}

/// Login attempts by source.
#[derive(Debug)]
pub struct LoginThrottle {
    /// Records by source.
    records: Mutex<HashMap<IpAddr, Record>>,
    /// Woken whenever an attempt settles, for attempts waiting for a place.
    settled: Notify,
    /// Keys the hashes of user names (so the table holds no name).
    tags: std::collections::hash_map::RandomState,
    /// Delay per failure so far.
    step: Duration,
    /// Failures before a source is locked out.
    limit: u32,
    /// How long a lockout lasts; failures older than this are forgotten.
    lockout: Duration,
}

impl LoginThrottle {
    /// A throttle with the given delay step, failure limit and lockout time.
    pub fn new(step: Duration, limit: u32, lockout: Duration) -> Self {
        LoginThrottle {
            records: Mutex::default(),
            settled: Notify::new(),
            tags: std::collections::hash_map::RandomState::new(),
            step,
            limit,
            lockout,
        }
    }

    /// Reserves a place for one password check from `address`, waiting while running checks
    /// hold every place left; `Err(remaining)` while the source is locked out.
    pub async fn begin(&self, address: IpAddr) -> Result<Attempt<'_>, Duration> {
        loop {
            let settled = self.settled.notified();
            tokio::pin!(settled);
            settled.as_mut().enable();
            match self.try_begin(address, Instant::now()) {
                Start::Reserved(attempt) => return Ok(attempt),
                Start::Locked(remaining) => return Err(remaining),
                Start::Full => settled.await,
            }
        }
    }

    /// Reserves a place for one password check from `address` at `now`, if one is left.
    pub fn try_begin(&self, address: IpAddr, now: Instant) -> Start<'_> {
        let source = crate::source::of(address);
        let mut records = self.records();
        if records.len() > PRUNE_ABOVE {
            let lockout = self.lockout;
            records.retain(|_, r| r.pending > 0 || now.saturating_duration_since(r.last) < lockout);
        }
        let record = records.entry(source).or_insert(Record {
            failures: Vec::new(),
            pending: 0,
            last: now,
        });
        let elapsed = now.saturating_duration_since(record.last);
        if elapsed >= self.lockout {
            // Failures long after the last one start a new count.
            record.failures.clear();
        }
        if record.failed() >= self.limit {
            return Start::Locked(self.lockout.saturating_sub(elapsed));
        }
        if record.failed().saturating_add(record.pending) >= self.limit {
            return Start::Full;
        }
        record.pending += 1;
        Start::Reserved(Attempt {
            throttle: self,
            source,
            settled: false,
        })
    }

    /// The table, even if a thread panicked while holding it (it holds only counters).
    fn records(&self) -> MutexGuard<'_, HashMap<IpAddr, Record>> {
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A keyed hash of a user name.
    fn tag(&self, user: &str) -> u64 {
        self.tags.hash_one(user)
    }

    /// Frees the place of an attempt of `source`, then records what `outcome` says.
    fn settle(&self, source: IpAddr, outcome: impl FnOnce(&mut Record)) {
        let mut records = self.records();
        if let Some(record) = records.get_mut(&source) {
            record.pending = record.pending.saturating_sub(1);
            outcome(record);
            if record.pending == 0 && record.failures.is_empty() {
                records.remove(&source);
            }
        }
        drop(records);
        self.settled.notify_waiters();
    }
}

/// One password check that holds a place in its source's count until it settles; dropped
/// unsettled (the check never ran or its answer was never sent), it frees the place.
#[derive(Debug)]
pub struct Attempt<'a> {
    /// The throttle it counts in.
    throttle: &'a LoginThrottle,
    /// Its source.
    source: IpAddr,
    /// Whether it was settled (by failure or success) already.
    settled: bool,
}

impl Attempt<'_> {
    /// The password for `user` was wrong (or the user unknown); returns how long to wait before
    /// answering.
    pub fn failed(mut self, user: &str, now: Instant) -> Duration {
        self.settled = true;
        let throttle = self.throttle;
        let tag = throttle.tag(user);
        let mut failed = 1;
        throttle.settle(self.source, |record| {
            match record.failures.iter_mut().find(|(t, _)| *t == tag) {
                Some((_, n)) => *n = n.saturating_add(1),
                None => record.failures.push((tag, 1)),
            }
            record.last = now;
            failed = record.failed();
        });
        throttle.step.saturating_mul(failed).min(MAX_DELAY)
    }

    /// `user` logged in: its own failures from this source are forgotten, no one else's.
    pub fn succeeded(mut self, user: &str) {
        self.settled = true;
        let tag = self.throttle.tag(user);
        self.throttle.settle(self.source, |record| {
            record.failures.retain(|(t, _)| *t != tag)
        });
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.settled {
            self.throttle.settle(self.source, |_| {});
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;

    fn reserve(throttle: &LoginThrottle, address: IpAddr, now: Instant) -> Attempt<'_> {
        match throttle.try_begin(address, now) {
            Start::Reserved(attempt) => attempt,
            other => panic!("expected a place, got {other:?}"),
        }
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn failures_slow_down_then_lock_out_one_address_only() {
        let throttle = LoginThrottle::new(Duration::from_millis(100), 3, Duration::from_secs(60));
        let (a, b) = (ip("127.0.0.1"), ip("127.0.0.2"));
        let now = Instant::now();
        assert_eq!(
            reserve(&throttle, a, now).failed("x", now),
            Duration::from_millis(100)
        );
        assert_eq!(
            reserve(&throttle, a, now).failed("y", now),
            Duration::from_millis(200)
        );
        reserve(&throttle, a, now).failed("x", now);
        assert!(
            matches!(throttle.try_begin(a, now), Start::Locked(_)),
            "locked after 3 failures"
        );
        drop(reserve(&throttle, b, now));
        let later = now + Duration::from_secs(61);
        drop(reserve(&throttle, a, later));
    }

    #[test]
    fn attempts_count_when_they_start_so_parallel_ones_cannot_pass_the_limit() {
        let throttle = LoginThrottle::new(Duration::ZERO, 3, Duration::from_secs(60));
        let a = ip("192.0.2.1");
        let now = Instant::now();
        let running: Vec<_> = (0..3).map(|_| reserve(&throttle, a, now)).collect();
        assert!(
            matches!(throttle.try_begin(a, now), Start::Full),
            "a fourth check waits while three run"
        );
        let waiting = throttle.begin(a);
        tokio::pin!(waiting);
        for attempt in running {
            assert!(waiting.as_mut().now_or_never().is_none());
            attempt.failed("victim", now);
        }
        assert!(
            matches!(waiting.now_or_never(), Some(Err(_))),
            "three failures lock the waiting one out, unchecked"
        );
    }

    #[test]
    fn a_success_frees_its_place_and_clears_only_its_own_account() {
        let step = Duration::from_millis(100);
        let throttle = LoginThrottle::new(step, 3, Duration::from_secs(60));
        let a = ip("192.0.2.1");
        let now = Instant::now();
        let running: Vec<_> = (0..3).map(|_| reserve(&throttle, a, now)).collect();
        let waiting = throttle.begin(a);
        tokio::pin!(waiting);
        let mut running = running.into_iter();
        running.next().unwrap().succeeded("mallory");
        let freed = waiting.as_mut().now_or_never();
        assert!(matches!(freed, Some(Ok(_))), "a success frees its place");
        drop(freed);
        drop(running);

        // Two guesses at bob, then mallory logs in to her own account: bob's guesses stay.
        reserve(&throttle, a, now).failed("bob", now);
        reserve(&throttle, a, now).failed("bob", now);
        reserve(&throttle, a, now).succeeded("mallory");
        reserve(&throttle, a, now).failed("bob", now);
        assert!(matches!(throttle.try_begin(a, now), Start::Locked(_)));

        // Bob's own success clears bob's failures.
        let c = ip("192.0.2.3");
        reserve(&throttle, c, now).failed("bob", now);
        reserve(&throttle, c, now).failed("bob", now);
        reserve(&throttle, c, now).succeeded("bob");
        assert_eq!(reserve(&throttle, c, now).failed("bob", now), step);
        assert!(matches!(throttle.try_begin(c, now), Start::Reserved(_)));
    }

    #[test]
    fn an_attempt_dropped_unsettled_frees_its_place() {
        let throttle = LoginThrottle::new(Duration::ZERO, 1, Duration::from_secs(60));
        let a = ip("192.0.2.1");
        let now = Instant::now();
        let attempt = reserve(&throttle, a, now);
        assert!(matches!(throttle.try_begin(a, now), Start::Full));
        drop(attempt);
        drop(reserve(&throttle, a, now));
    }

    #[test]
    fn an_ipv6_64_counts_as_one_source_and_mapped_ipv4_as_ipv4() {
        let throttle = LoginThrottle::new(Duration::ZERO, 2, Duration::from_secs(60));
        let now = Instant::now();
        reserve(&throttle, ip("2001:db8::1"), now).failed("a", now);
        reserve(&throttle, ip("2001:db8::2:3"), now).failed("a", now);
        assert!(matches!(
            throttle.try_begin(ip("2001:db8::ffff:9"), now),
            Start::Locked(_)
        ));
        drop(reserve(&throttle, ip("2001:db8:0:1::1"), now));
        reserve(&throttle, ip("192.0.2.9"), now).failed("a", now);
        reserve(&throttle, ip("::ffff:192.0.2.9"), now).failed("a", now);
        assert!(matches!(
            throttle.try_begin(ip("192.0.2.9"), now),
            Start::Locked(_)
        ));
    }

    #[test]
    fn delays_are_capped() {
        let throttle = LoginThrottle::new(Duration::from_secs(2), 100, Duration::from_secs(60));
        let a = ip("::1");
        let now = Instant::now();
        for _ in 0..10 {
            assert!(reserve(&throttle, a, now).failed("a", now) <= MAX_DELAY);
        }
    }
}
