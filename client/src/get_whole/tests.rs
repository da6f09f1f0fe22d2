//! Unit tests of the pipelined downloads: answers taken in order, refusals and mismatches
//! per file, files already there compared and never written.

use std::path::Path;

use bytes::Bytes;
use ftp_proto::{ClientMessage, ErrorKind, ServerMessage, SharedKey};
use futures::{SinkExt, StreamExt};
use sha2::{Digest, Sha256};

use crate::jobs::GetJob;
use crate::test_server;

/// A server at the other end of `stream`: the key handshake, then for each `Get` of `NAME`
/// the content `NAME` from the offset asked (in two frames), except `missing` (an error)
/// and `lying` (a wrong SHA-256). It reads every request before answering the first, as a pipelining client
/// allows.
async fn serve(stream: tokio::io::DuplexStream, key: SharedKey, expected: usize) {
    let mut conn = test_server::accept(stream, &key).await;
    let mut asked = Vec::new();
    while asked.len() < expected {
        let Some(Ok(ClientMessage::Get { path, offset, .. })) = conn.next().await else {
            panic!("not a Get");
        };
        asked.push((path, offset));
    }
    for (path, asked) in asked {
        if path == "missing" {
            let kind = ErrorKind::NotFound;
            let message = "no such file".into();
            conn.send(ServerMessage::Error { kind, message })
                .await
                .unwrap();
            continue;
        }
        let data = path.as_bytes().to_vec();
        let size = data.len() as u64;
        // From where it was asked, or from the start when that is past the end.
        let start = if asked > size { 0 } else { asked };
        let ready = ServerMessage::GetReady {
            size,
            modified: 1_700_000_000,
            modified_nanos: 0,
            offset: start,
        };
        conn.send(ready).await.unwrap();
        let start = usize::try_from(start).unwrap();
        let half = start + (data.len() - start) / 2;
        for (offset, part) in [(start, &data[start..half]), (half, &data[half..])] {
            if part.is_empty() {
                continue;
            }
            let data = Bytes::copy_from_slice(part);
            let offset = offset as u64;
            conn.send(ServerMessage::Data { offset, data })
                .await
                .unwrap();
        }
        let sha256 = if path == "lying" {
            [0; 32]
        } else {
            Sha256::digest(&data).into()
        };
        conn.send(ServerMessage::GetDone { sha256 }).await.unwrap();
    }
}

#[tokio::test]
async fn answers_are_taken_in_order_with_refusals_and_mismatches_per_file() {
    let dir = tempfile::tempdir().unwrap();
    let names = ["first", "missing", "lying", "last one"];
    let jobs = jobs(dir.path(), &names, true);
    let expected = jobs.len();
    let (mut client, server) =
        test_server::connect(move |far, key| serve(far, key, expected)).await;
    let mut results = Vec::new();
    let mut next = 0;
    client
        .get_whole(&jobs, &[], &mut next, false, &mut |index, result| {
            results.push((index, result.map_err(|e| e.exit_code())));
        })
        .await
        .unwrap();
    assert_eq!(next, 4);
    let codes: Vec<_> = results
        .iter()
        .map(|(index, result)| (*index, result.as_ref().err().copied()))
        .collect();
    assert_eq!(codes, [(0, None), (1, Some(4)), (2, Some(6)), (3, None)]);
    assert_eq!(std::fs::read(dir.path().join("first")).unwrap(), b"first");
    assert_eq!(
        std::fs::read(dir.path().join("last one")).unwrap(),
        b"last one"
    );
    assert!(!dir.path().join("lying").exists() && !dir.path().join("missing").exists());
    let mtime = std::fs::metadata(dir.path().join("first"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(
        mtime,
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000)
    );
    drop(client);
    server.await.unwrap();
}

#[tokio::test]
async fn files_already_there_are_compared_and_never_written() {
    let dir = tempfile::tempdir().unwrap();
    let names = ["same", "other", "shorter", "new"];
    std::fs::write(dir.path().join("same"), "same").unwrap();
    std::fs::write(dir.path().join("other"), "OTHER").unwrap();
    std::fs::write(dir.path().join("shorter"), "short").unwrap();
    let existing = [Some(4), Some(5), Some(5), None];
    let jobs = jobs(dir.path(), &names, false);
    let expected = jobs.len();
    let (mut client, server) =
        test_server::connect(move |far, key| serve(far, key, expected)).await;
    let mut results = Vec::new();
    let mut next = 0;
    client
        .get_whole(&jobs, &existing, &mut next, false, &mut |index, result| {
            results.push((
                index,
                result.map(|o| o.identical).map_err(|e| e.exit_code()),
            ));
        })
        .await
        .unwrap();
    assert_eq!(
        results,
        [(0, Ok(true)), (1, Err(4)), (2, Err(4)), (3, Ok(false))]
    );
    assert_eq!(std::fs::read(dir.path().join("other")).unwrap(), b"OTHER");
    assert_eq!(std::fs::read(dir.path().join("shorter")).unwrap(), b"short");
    assert_eq!(std::fs::read(dir.path().join("new")).unwrap(), b"new");
    drop(client);
    server.await.unwrap();
}

/// One job a name: the remote file `NAME` to `dir/NAME`.
fn jobs(dir: &Path, names: &[&str], durable: bool) -> Vec<GetJob> {
    names
        .iter()
        .map(|name| GetJob {
            remote: (*name).into(),
            local: dir.join(name),
            durable,
        })
        .collect()
}
