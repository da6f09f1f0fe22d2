//! Bounds on connections that have not yet proved the shared key ("startups", after OpenSSH's
//! MaxStartups and PerSourceMaxStartups), so that anyone who can reach the port, without the
//! key, cannot hold every slot.
//!
//! A connection is first admitted ([`Startups::admit`]): at most `queue_per_source` from one
//! source ([`crate::source`]) and `queue_total` in all may be waiting or starting at once;
//! beyond, it is refused. An admitted connection then waits for a [`Slot`]: one of
//! `per_source` for its source and one of `total` for everyone, taken in arrival order. Only a
//! slot holder does TLS and the key proof (within `startup_timeout`, enforced by the caller);
//! the slot is dropped once the key is proved or the connection ends. Waiting costs the server
//! a socket and no work. Nothing here touches a socket or a clock.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Connections of one source not yet past the key proof.
#[derive(Debug)]
struct Source {
    /// How many: waiting for a slot or holding one.
    admitted: usize,
    /// The source's slots.
    slots: Arc<Semaphore>,
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
        })
    }

    /// Admits a new connection from `address`, or says why not.
    pub fn admit(self: &Arc<Self>, address: IpAddr) -> Result<Ticket, Refused> {
        let source = crate::source::of(address);
        let mut admitted = lock(&self.admitted);
        if *admitted >= self.queue_total {
            return Err(Refused::Total);
        }
        let mut sources = lock(&self.sources);
        let entry = sources.entry(source).or_insert_with(|| Source {
            admitted: 0,
            slots: Arc::new(Semaphore::new(self.per_source)),
        });
        if entry.admitted >= self.queue_per_source {
            return Err(Refused::Source);
        }
        entry.admitted += 1;
        *admitted += 1;
        Ok(Ticket {
            startups: Arc::clone(self),
            source,
            slots: Arc::clone(&entry.slots),
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
}

impl Ticket {
    /// Waits for a slot of the source, then one of everyone's (in arrival order).
    pub async fn slot(self) -> Option<Slot> {
        let source = Arc::clone(&self.slots).acquire_owned().await.ok()?;
        let total = Arc::clone(&self.startups.total)
            .acquire_owned()
            .await
            .ok()?;
        Some(Slot {
            _total: total,
            _source: source,
            _ticket: self,
        })
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
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
        let _queued = startups.admit(a).unwrap();
        assert_eq!(startups.admit(a).unwrap_err(), Refused::Source);
        // Another source still gets a slot at once, its /64 counted as one.
        let b = startups.admit(ip("2001:db8::1")).unwrap();
        let b_slot = b.slot().now_or_never().unwrap().unwrap();
        // Now every slot is taken: the next source waits; the queue fills up in all.
        let c = startups.admit(ip("2001:db8::2")).unwrap();
        let c_waiting = c.slot();
        tokio::pin!(c_waiting);
        assert!(c_waiting.as_mut().now_or_never().is_none());
        assert_eq!(
            startups.admit(ip("192.0.2.9")).unwrap_err(),
            Refused::Total,
            "6 admitted in all"
        );
        // Slots come free as connections prove the key.
        drop(b_slot);
        assert!(c_waiting.now_or_never().unwrap().is_some());
        drop(held);
        assert!(waiting.now_or_never().unwrap().is_some());
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
