//! Bounds on connections that have not yet proved the shared key ("startups", after OpenSSH's
//! MaxStartups and PerSourceMaxStartups), so that anyone who can reach the port, without the
//! key, cannot hold every slot.
//!
//! A connection is first admitted ([`Startups::admit`]): at most `queue_per_source` from one
//! source ([`crate::source`]) and `queue_total` in all may be waiting or starting at once;
//! beyond, it is refused, except that a connection whose source holds fewer places than the
//! source holding the most, when the queue is full, takes the place of that source's newest
//! waiting connection (which is closed): a flood from a few sources can fill the queue, but
//! never keep a new source out. An admitted connection then waits for a [`Slot`]: one of
//! `per_source` for its source and one of `total` for everyone, taken in arrival order. Only a
//! slot holder does TLS and the key proof (within `startup_timeout`, enforced by the caller);
//! the slot is dropped once the key is proved or the connection ends. Waiting costs the server
//! a socket and no work. Nothing here touches a socket or a clock.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

/// Connections of one source not yet past the key proof.
#[derive(Debug)]
struct Source {
    /// How many: waiting for a slot or holding one.
    admitted: usize,
    /// The source's slots.
    slots: Arc<Semaphore>,
    /// Its admitted connections still waiting for a slot, oldest first: their ids and what
    /// tells one it was evicted.
    waiting: VecDeque<(u64, Arc<Notify>)>,
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// Its source has too many connections starting or waiting already.
    #[error("too many connections from this address are starting")]
    Source,
    /// Too many connections in all are starting or waiting.
    #[error("too many connections are starting")]
    Total,
}

/// The bounds and the connections they count.
#[derive(Debug)]
pub struct Startups {
    /// Admitted connections by source.
    sources: Mutex<HashMap<IpAddr, Source>>,
    /// Admitted connections in all.
    admitted: Mutex<usize>,
    /// Slots for everyone.
    total: Arc<Semaphore>,
    /// Slots per source.
    per_source: usize,
    /// Admitted connections allowed per source.
    queue_per_source: usize,
    /// Admitted connections allowed in all.
    queue_total: usize,
    /// The next ticket's id.
    next_id: AtomicU64,
}

impl Startups {
    /// `total` slots, `per_source` of them for one source; at most `queue_per_source` and
    /// `queue_total` connections admitted (waiting or holding a slot).
    pub fn new(
        total: usize,
        per_source: usize,
        queue_per_source: usize,
        queue_total: usize,
    ) -> Arc<Self> {
        Arc::new(Startups {
            sources: Mutex::default(),
            admitted: Mutex::new(0),
            total: Arc::new(Semaphore::new(total)),
            per_source,
            queue_per_source,
            queue_total,
            next_id: AtomicU64::new(0),
        })
    }

    /// Admits a new connection from `address`, or says why not.
    pub fn admit(self: &Arc<Self>, address: IpAddr) -> Result<Ticket, Refused> {
        let source = crate::source::of(address);
        let mut admitted = lock(&self.admitted);
        let mut sources = lock(&self.sources);
        let mine = sources.get(&source).map_or(0, |entry| entry.admitted);
        if mine >= self.queue_per_source {
            return Err(Refused::Source);
        }
        if *admitted >= self.queue_total {
            // Full: the source holding the most gives up its newest waiting place, if it holds
            // more than this one would.
            let victim = sources
                .values_mut()
                .filter(|entry| !entry.waiting.is_empty())
                .max_by_key(|entry| entry.admitted)
                .filter(|entry| entry.admitted > mine + 1);
            match victim.and_then(|entry| entry.waiting.pop_back()) {
                Some((_, evict)) => evict.notify_one(),
                None => return Err(Refused::Total),
            }
        }
        let entry = sources.entry(source).or_insert_with(|| Source {
            admitted: 0,
            slots: Arc::new(Semaphore::new(self.per_source)),
            waiting: VecDeque::new(),
        });
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let evicted = Arc::new(Notify::new());
        entry.waiting.push_back((id, Arc::clone(&evicted)));
        entry.admitted += 1;
        *admitted += 1;
        Ok(Ticket {
            startups: Arc::clone(self),
            source,
            slots: Arc::clone(&entry.slots),
            id,
            evicted,
        })
    }
}

/// Locks a table of counters, even after a panic elsewhere (counters stay consistent).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An admitted connection, counted until it is dropped.
#[derive(Debug)]
pub struct Ticket {
    /// Where it is counted.
    startups: Arc<Startups>,
    /// Its source.
    source: IpAddr,
    /// Its source's slots.
    slots: Arc<Semaphore>,
    /// Its id among its source's waiting connections.
    id: u64,
    /// Told when a connection of a source with fewer places took this one's place.
    evicted: Arc<Notify>,
}

impl Ticket {
    /// Waits for a slot of the source, then one of everyone's (in arrival order); `None` when
    /// the connection was evicted from the queue meanwhile.
    pub async fn slot(self) -> Option<Slot> {
        let acquire = async {
            let source = Arc::clone(&self.slots).acquire_owned().await.ok()?;
            let total = Arc::clone(&self.startups.total)
                .acquire_owned()
                .await
                .ok()?;
            Some((source, total))
        };
        let (source, total) = tokio::select! {
            biased;
            () = self.evicted.notified() => return None,
            acquired = acquire => acquired?,
        };
        self.stop_waiting();
        Some(Slot {
            _total: total,
            _source: source,
            _ticket: self,
        })
    }
}

impl Ticket {
    /// Takes this connection off its source's list of waiting ones.
    fn stop_waiting(&self) {
        if let Some(entry) = lock(&self.startups.sources).get_mut(&self.source) {
            entry.waiting.retain(|(id, _)| *id != self.id);
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.stop_waiting();
        let mut admitted = lock(&self.startups.admitted);
        *admitted = admitted.saturating_sub(1);
        let mut sources = lock(&self.startups.sources);
        if let Some(entry) = sources.get_mut(&self.source) {
            entry.admitted = entry.admitted.saturating_sub(1);
            if entry.admitted == 0 {
                sources.remove(&self.source);
            }
        }
    }
}

/// The right to do the TLS handshake and the key proof; dropped once the key is proved.
#[derive(Debug)]
pub struct Slot {
    /// One of everyone's slots.
    _total: OwnedSemaphorePermit,
    /// One of the source's slots.
    _source: OwnedSemaphorePermit,
    /// The admission, counted as long as the slot is held.
    _ticket: Ticket,
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn one_source_cannot_take_every_slot_nor_fill_the_queue() {
        let startups = Startups::new(3, 2, 4, 6);
        let a = ip("192.0.2.1");
        let held: Vec<Slot> = (0..2)
            .map(|_| {
                let ticket = startups.admit(a).unwrap();
                ticket.slot().now_or_never().unwrap().unwrap()
            })
            .collect();
        let waiting = startups.admit(a).unwrap().slot();
        tokio::pin!(waiting);
        assert!(
            waiting.as_mut().now_or_never().is_none(),
            "a third from one source waits"
        );
        let queued = startups.admit(a).unwrap();
        assert_eq!(startups.admit(a).unwrap_err(), Refused::Source);
        // Another source still gets a slot at once, its /64 counted as one.
        let b = startups.admit(ip("2001:db8::1")).unwrap();
        let b_slot = b.slot().now_or_never().unwrap().unwrap();
        // Now every slot is taken: the next source waits; the queue fills up in all.
        let c = startups.admit(ip("2001:db8::2")).unwrap();
        let c_waiting = c.slot();
        tokio::pin!(c_waiting);
        assert!(c_waiting.as_mut().now_or_never().is_none());
        // 6 admitted in all: a newcomer takes the place of a's newest waiting connection.
        let _newcomer = startups.admit(ip("192.0.2.9")).unwrap();
        assert!(queued.slot().now_or_never().unwrap().is_none(), "evicted");
        // Slots come free as connections prove the key.
        drop(b_slot);
        assert!(c_waiting.now_or_never().unwrap().is_some());
        drop(held);
        assert!(waiting.now_or_never().unwrap().is_some());
    }

    #[test]
    fn a_new_source_takes_the_newest_waiting_place_of_the_source_holding_the_most() {
        // One slot per source, 8 places per source, 6 in all: one source fills the queue.
        let startups = Startups::new(4, 1, 8, 6);
        let a = ip("192.0.2.1");
        let held = startups
            .admit(a)
            .unwrap()
            .slot()
            .now_or_never()
            .unwrap()
            .unwrap();
        let mut waiting: Vec<_> = (0..5)
            .map(|_| Box::pin(startups.admit(a).unwrap().slot()))
            .collect();
        for wait in &mut waiting {
            assert!(wait.as_mut().now_or_never().is_none(), "a's others wait");
        }
        assert_eq!(
            startups.admit(ip("192.0.2.1")).unwrap_err(),
            Refused::Total,
            "a may not displace itself"
        );
        // A new source gets in: a's newest waiting connection is evicted, the others wait on.
        let b = startups.admit(ip("198.51.100.7")).unwrap();
        let newest = waiting.pop().unwrap();
        assert!(newest.now_or_never().unwrap().is_none(), "evicted");
        for wait in &mut waiting {
            assert!(wait.as_mut().now_or_never().is_none());
        }
        assert!(
            b.slot().now_or_never().unwrap().is_some(),
            "b starts at once"
        );
        drop(held);
        assert!(
            waiting[0].as_mut().now_or_never().unwrap().is_some(),
            "a's oldest is next"
        );
    }

    #[test]
    fn a_source_is_forgotten_when_its_last_connection_goes() {
        let startups = Startups::new(1, 1, 1, 10);
        let ticket = startups.admit(ip("192.0.2.1")).unwrap();
        drop(ticket);
        assert!(lock(&startups.sources).is_empty());
        assert_eq!(*lock(&startups.admitted), 0);
        assert!(startups.admit(ip("192.0.2.1")).is_ok());
    }
}
