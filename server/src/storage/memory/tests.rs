//! Tests of the memory store: the conformance suite, and homes that outlive a session.

use std::time::Duration;

use crate::storage::conformance;
use crate::storage::fixtures::Memory;

#[tokio::test]
async fn memory_passes_the_conformance_suite() {
    conformance::run_all(Memory::new).await;
}

#[tokio::test]
async fn a_users_home_is_the_same_at_every_opening_and_others_apart() {
    use crate::storage::Store;
    let store = super::MemoryStore::new();
    let path = crate::jail::RemotePath::parse("/f").unwrap();
    store.home("alice").put_file(&path, b"x").unwrap();
    let again = store.open_home("alice", "ignored".as_ref()).await.unwrap();
    assert!(again.describe(&path, false).await.is_ok());
    let other = store.open_home("bob", "ignored".as_ref()).await.unwrap();
    assert!(other.describe(&path, false).await.is_err());
    store
        .home("bob")
        .put_partial("bob~p.part", &path, 9, b"abc");
    assert_eq!(store.expire(Duration::from_secs(3600)).await.unwrap(), 0);
    assert_eq!(other.partials().await.unwrap().len(), 1);
}
