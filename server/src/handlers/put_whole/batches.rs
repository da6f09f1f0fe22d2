//! The whole-file batches of a session not answered yet: the one being received (its files
//! going to its store thread) and at most one before it, being settled on its own thread
//! meanwhile. Answers go out batch by batch, in order: a batch is closed only once the one
//! before it has been answered.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use ftp_proto::{ErrorKind, ServerMessage};

use super::{Admitted, MAX_BATCH};
use crate::error::Refusal;
use crate::handlers::Session;
use crate::handlers::upload_refusals;
use crate::state::ServerState;
use crate::storage::{SettlingBatch, WholeBatch, WholeOutcome};
use crate::uploads::PathLock;

/// An answer to send, with the printable path of the file when one landed.
pub type Answer = (ServerMessage, Option<String>);

/// One file of a batch, in request order.
enum Slot {
    /// Answered without the store (a refusal).
    Decided(ServerMessage),
    /// Handed to the store: answered by its outcome.
    Stored {
        /// The printable path.
        shown: String,
        /// Its size.
        size: u64,
        /// Its SHA-256.
        sha256: [u8; 32],
        /// Replace a file at the destination.
        force: bool,
    },
}

/// The batch being received.
#[derive(Default)]
pub(super) struct Receiving {
    /// Stores the batch's files; started by its first file.
    store: Option<Box<dyn WholeBatch>>,
    /// The batch's files, in order.
    slots: Vec<Slot>,
    /// Destinations (relative to the home) of the batch's files, whose locks it holds.
    destinations: HashSet<PathBuf>,
    /// Those locks, held until the batch is settled.
    locks: Vec<PathLock>,
    /// Which of the store's two slots the batch uses: not the one the batch before it (maybe
    /// settling) uses.
    partials: usize,
}

impl Receiving {
    /// How many answers the batch owes.
    pub(super) fn owed(&self) -> usize {
        self.slots.len()
    }

    /// Hands an admitted file to the store (started by the batch's first file).
    pub(super) async fn store(&mut self, session: &Session, state: &ServerState, file: Admitted) {
        let Admitted { upload, file, lock } = file;
        self.destinations.insert(upload.target.path.relative());
        self.locks.push(lock);
        self.slots.push(Slot::Stored {
            shown: upload.shown,
            size: upload.target.size,
            sha256: file.sha256,
            force: upload.force,
        });
        let slot = self.partials;
        let store = self
            .store
            .get_or_insert_with(|| session.storage.start_batch(slot, state.config.fsync));
        store.store(file).await;
    }

    /// Adds an answer decided without the store, in its place.
    pub(super) fn decided(&mut self, answer: ServerMessage) {
        self.slots.push(Slot::Decided(answer));
    }
}

/// A closed batch, settling in the store.
struct Closed {
    /// The store settling it (`None`: nothing of it went to the store).
    settling: Option<Box<dyn SettlingBatch>>,
    /// Its files, in order.
    slots: Vec<Slot>,
    /// Destinations of its files, locked until it is settled.
    destinations: HashSet<PathBuf>,
    /// Those locks.
    locks: Vec<PathLock>,
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
        self.receiving.owed() == 0 && self.closed.is_none()
    }

    /// The batch being received is full and must be closed before more is added.
    pub(super) fn is_full(&self) -> bool {
        self.receiving.owed() >= MAX_BATCH
    }

    /// A file of an unanswered batch goes to `destination`, and may hold its lock.
    pub(super) fn holds(&self, destination: &Path) -> bool {
        self.receiving.destinations.contains(destination)
            || self
                .closed
                .as_ref()
                .is_some_and(|c| c.destinations.contains(destination))
    }

    /// Hands the files received so far to the store.
    pub(super) async fn hand_over(&mut self) {
        if let Some(store) = &mut self.receiving.store {
            store.hand_over().await;
        }
    }

    /// A batch is settling.
    pub(super) fn is_settling(&self) -> bool {
        self.closed.is_some()
    }

    /// Closes the batch being received: the store settles it while the next is received.
    /// The batch before it must have been answered.
    pub(super) async fn close(&mut self) {
        let next = Receiving {
            partials: 1 - self.receiving.partials,
            ..Receiving::default()
        };
        let receiving = std::mem::replace(&mut self.receiving, next);
        if receiving.slots.is_empty() {
            return;
        }
        let settling = match receiving.store {
            Some(store) => Some(store.close().await),
            None => None,
        };
        self.closed = Some(Closed {
            settling,
            slots: receiving.slots,
            destinations: receiving.destinations,
            locks: receiving.locks,
            since: std::time::Instant::now(),
        });
    }

    /// Waits until the closed batch is settled and returns its answers, in request order
    /// (never resolves when no batch is closed), its destinations' locks let go. Cancel-safe.
    pub async fn settled(&mut self) -> Result<Vec<Answer>, Refusal> {
        let Some(closed) = &mut self.closed else {
            return std::future::pending().await;
        };
        let outcomes = match &mut closed.settling {
            Some(settling) => settling.outcomes().await,
            None => Ok(Vec::new()),
        };
        let Some(closed) = self.closed.take() else {
            return Err(Refusal::internal("finishing uploads", "no batch settling"));
        };
        tracing::debug!(
            files = closed.slots.len(),
            ms = closed.since.elapsed().as_millis() as u64,
            "whole-file batch settled"
        );
        drop(closed.locks);
        let outcomes = outcomes.map_err(|e| Refusal::internal("finishing uploads", e))?;
        answers(closed.slots, outcomes)
    }
}

/// Each file's answer, in order: the decided ones as they are, the stored ones by their
/// outcomes (one per stored file, in order).
fn answers(slots: Vec<Slot>, outcomes: Vec<WholeOutcome>) -> Result<Vec<Answer>, Refusal> {
    let mut outcomes = outcomes.into_iter();
    let mut answers = Vec::with_capacity(slots.len());
    for slot in slots {
        let (shown, size, sha256, force) = match slot {
            Slot::Decided(answer) => {
                answers.push((answer, None));
                continue;
            }
            Slot::Stored {
                shown,
                size,
                sha256,
                force,
            } => (shown, size, sha256, force),
        };
        let Some(outcome) = outcomes.next() else {
            return Err(Refusal::internal(
                "finishing uploads",
                "an outcome is missing",
            ));
        };
        answers.push(match outcome {
            WholeOutcome::Landed => (ServerMessage::PutDone { size, sha256 }, Some(shown)),
            WholeOutcome::Existing(sha256) => (ServerMessage::PutExisting { sha256 }, None),
            WholeOutcome::Mismatch => (
                ServerMessage::from(Refusal::new(
                    ErrorKind::Integrity,
                    format!(
                        "integrity check failed for {shown}: the data received does not match the client's SHA-256; nothing was stored, run the command again"
                    ),
                )),
                None,
            ),
            WholeOutcome::Failed(stage, error) => (
                ServerMessage::from(upload_refusals::whole(stage, &error, &shown, force)),
                None,
            ),
        });
    }
    Ok(answers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::WholeFile;
    use bytes::Bytes;
    use sha2::{Digest, Sha256};

    /// Hands `remote` (its path as its content) to the batch being received, as `receive` does.
    async fn receive(batches: &mut Batches, session: &Session, state: &ServerState, remote: &str) {
        let request = ftp_proto::PutRequest {
            path: remote.into(),
            file: ftp_proto::FileIdentity {
                size: remote.len() as u64,
                modified_secs: 1,
                modified_nanos: 0,
            },
            force: false,
            upload_id: [7; 16],
        };
        let path = crate::jail::RemotePath::parse(remote).unwrap();
        let upload = super::super::Upload::new(session, path, &request);
        let lock = state
            .locks
            .lock(
                upload.lock_key(session),
                [7; 16],
                &upload.target.partial,
                remote,
            )
            .await
            .unwrap();
        let file = WholeFile {
            path: upload.target.path.clone(),
            partial: upload.target.partial.clone(),
            force: false,
            modified: upload.target.modified,
            data: Bytes::copy_from_slice(remote.as_bytes()),
            sha256: Sha256::digest(remote.as_bytes()).into(),
        };
        let admitted = Admitted { upload, file, lock };
        batches.receiving.store(session, state, admitted).await;
    }

    #[tokio::test]
    async fn a_closed_batch_holds_its_destinations_until_settled_and_answers_alone() {
        let (alice, state, session) = crate::handlers::test_session::alice().await;
        let mut batches = Batches::default();
        receive(&mut batches, &session, &state, "/d/one").await;
        batches.receiving.decided(ServerMessage::Error {
            kind: ErrorKind::Busy,
            message: "decided".into(),
        });
        receive(&mut batches, &session, &state, "/d/two").await;
        batches.close().await;
        assert!(batches.is_settling() && !batches.is_empty());
        assert!(
            batches.holds(Path::new("d/one")),
            "settling, its lock may be held"
        );

        // The next batch is received meanwhile; the closed one answers for its own files only.
        receive(&mut batches, &session, &state, "/d/three").await;
        let answers = batches.settled().await.unwrap();
        assert_eq!(answers.len(), 3);
        assert!(matches!(answers[0].0, ServerMessage::PutDone { .. }));
        assert!(
            matches!(&answers[1].0, ServerMessage::Error { message, .. } if message == "decided"),
            "a decided answer keeps its place"
        );
        assert!(matches!(answers[2].0, ServerMessage::PutDone { .. }));
        assert!(!batches.is_settling());
        assert!(!batches.holds(Path::new("d/one")));
        assert!(batches.holds(Path::new("d/three")));
        assert!(alice.exists("d/two"));
        assert!(!alice.exists("d/three"), "not settled yet");
        // Every lock of the settled batch was let go before its answers were handed back.
        state
            .locks
            .lock("alice/d/one".into(), [8; 16], "p", "/d/one")
            .await
            .unwrap();

        batches.close().await;
        let answers = batches.settled().await.unwrap();
        assert_eq!(answers.len(), 1);
        assert!(batches.is_empty());
        assert!(alice.exists("d/three"));
    }

    #[tokio::test]
    async fn a_batch_of_refusals_only_is_answered_in_order() {
        let (_alice, _state, _session) = crate::handlers::test_session::alice().await;
        let mut batches = Batches::default();
        for i in 0..3 {
            batches.receiving.decided(ServerMessage::Error {
                kind: ErrorKind::Denied,
                message: format!("no {i}"),
            });
        }
        batches.close().await;
        let answers = batches.settled().await.unwrap();
        let messages: Vec<String> = answers
            .into_iter()
            .map(|(answer, _)| match answer {
                ServerMessage::Error { message, .. } => message,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(messages, ["no 0", "no 1", "no 2"]);
        assert!(batches.is_empty());
    }
}
