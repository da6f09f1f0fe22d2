//! The whole-file batches of a session not answered yet: the one being received (its files
//! going to its store thread) and at most one before it, being settled on its own thread
//! meanwhile. Answers go out batch by batch, in order: a batch is closed only once the one
//! before it has been answered.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::MAX_BATCH;
use super::settle::Answer;
use super::store::{Settling, StoreThread};
use crate::error::Refusal;
use crate::handlers::Session;
use crate::state::ServerState;

/// The batch being received.
#[derive(Default)]
pub(super) struct Receiving {
    /// Stores the batch's files; started by its first file.
    pub(super) store: Option<StoreThread>,
    /// How many answers the batch owes.
    pub(super) owed: usize,
    /// Destinations (relative to the home) of the batch's files, whose locks it may hold.
    pub(super) destinations: HashSet<PathBuf>,
    /// Which of the folders for whole files' partials the batch uses: not the one the batch
    /// before it (maybe settling) uses.
    partials: usize,
}

impl Receiving {
    /// The store thread, started when the batch gets its first file.
    pub(super) fn store_thread(
        &mut self,
        session: &Session,
        state: &ServerState,
    ) -> &mut StoreThread {
        let folder = self.partials;
        self.store.get_or_insert_with(|| {
            StoreThread::start(
                Arc::clone(&session.home),
                Arc::clone(&state.whole_partials[folder]),
                state.config.fsync,
            )
        })
    }
}

/// A closed batch, settling on its thread.
struct Closed {
    /// The thread settling it.
    settling: Settling,
    /// How many answers it owes.
    owed: usize,
    /// Destinations of its files, locked until it is settled.
    destinations: HashSet<PathBuf>,
    /// When it was closed.
    since: std::time::Instant,
}

/// The batches not answered yet.
#[derive(Default)]
pub struct Batches {
    /// The batch being received.
    pub(super) receiving: Receiving,
    /// The batch before it, settling.
    closed: Option<Closed>,
}

impl Batches {
    /// Nothing waits to be answered.
    pub fn is_empty(&self) -> bool {
        self.receiving.owed == 0 && self.closed.is_none()
    }

    /// The batch being received is full and must be closed before more is added.
    pub(super) fn is_full(&self) -> bool {
        self.receiving.owed >= MAX_BATCH
    }

    /// A file of an unanswered batch goes to `destination`, and may hold its lock.
    pub(super) fn holds(&self, destination: &Path) -> bool {
        self.receiving.destinations.contains(destination)
            || self
                .closed
                .as_ref()
                .is_some_and(|c| c.destinations.contains(destination))
    }

    /// Hands the files received so far to the store thread of the batch being received.
    pub(super) async fn hand_over(&mut self) {
        if let Some(store) = &mut self.receiving.store {
            store.hand_over().await;
        }
    }

    /// A batch is settling.
    pub(super) fn is_settling(&self) -> bool {
        self.closed.is_some()
    }

    /// Closes the batch being received: its thread settles it while the next is received.
    /// The batch before it must have been answered.
    pub(super) async fn close(&mut self) {
        let next = Receiving {
            partials: 1 - self.receiving.partials,
            ..Receiving::default()
        };
        let receiving = std::mem::replace(&mut self.receiving, next);
        if let Some(store) = receiving.store {
            self.closed = Some(Closed {
                settling: store.close().await,
                owed: receiving.owed,
                destinations: receiving.destinations,
                since: std::time::Instant::now(),
            });
        }
    }

    /// Waits until the closed batch is settled and returns its answers, in request order
    /// (never resolves when no batch is closed). Cancel-safe.
    pub async fn settled(&mut self) -> Result<Vec<Answer>, Refusal> {
        let Some(closed) = &mut self.closed else {
            return std::future::pending().await;
        };
        let answers = closed.settling.answers().await;
        if let Some(closed) = self.closed.take() {
            tracing::debug!(
                files = closed.owed,
                ms = closed.since.elapsed().as_millis() as u64,
                "whole-file batch settled"
            );
        }
        answers
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{file, site};
    use super::*;
    use ftp_proto::ServerMessage;

    /// Hands `remote` to the batch being received, as `receive` does.
    async fn receive(batches: &mut Batches, site: &super::super::test_support::Site, remote: &str) {
        let admitted = file(site, remote, remote.as_bytes()).await;
        let receiving = &mut batches.receiving;
        receiving.owed += 1;
        receiving
            .destinations
            .insert(admitted.upload.destination.clone());
        let store = receiving.store.get_or_insert_with(|| {
            StoreThread::start(Arc::clone(&site.home), Arc::clone(&site.partials), true)
        });
        store.store(admitted).await;
    }

    #[tokio::test]
    async fn a_closed_batch_holds_its_destinations_until_settled_and_answers_alone() {
        let site = site();
        let mut batches = Batches::default();
        receive(&mut batches, &site, "/d/one").await;
        receive(&mut batches, &site, "/d/two").await;
        batches.close().await;
        assert!(batches.is_settling() && !batches.is_empty());
        assert!(
            batches.holds(Path::new("d/one")),
            "settling, its lock may be held"
        );

        // The next batch is received meanwhile; the closed one answers for its own files only.
        receive(&mut batches, &site, "/d/three").await;
        let answers = batches.settled().await.unwrap();
        assert_eq!(answers.len(), 2);
        assert!(
            answers
                .iter()
                .all(|(answer, _)| matches!(answer, ServerMessage::PutDone { .. }))
        );
        assert!(!batches.is_settling());
        assert!(!batches.holds(Path::new("d/one")));
        assert!(batches.holds(Path::new("d/three")));
        assert!(site.dir.path().join("home/d/two").exists());
        assert!(
            !site.dir.path().join("home/d/three").exists(),
            "not settled yet"
        );

        batches.close().await;
        let answers = batches.settled().await.unwrap();
        assert_eq!(answers.len(), 1);
        assert!(batches.is_empty());
        assert!(site.dir.path().join("home/d/three").exists());
    }
}
