//! The remote side of a tree: listed in one request (`ListTree`, streamed in batches), with
//! retries, and folders created with `MakeDir`. A destination that is not there yet is an
//! empty tree; one that is a file (or a link) is refused (exit 4).

use ftp_proto::{ErrorKind, TreeEntry};

use crate::connection::Client;
use crate::connector::Connector;
use crate::error::ClientError;
use crate::output::remote_shown;
use crate::progress::Progress;
use crate::transfer;

/// Lists the remote tree beneath `path` (with each file's SHA-256 when `sha256`), sorted in
/// tree order. `missing_is_empty`: a missing folder is an empty tree (a destination) rather
/// than an error (a source).
pub async fn list(
    connector: &mut Connector,
    client: &mut Option<Client>,
    retries: u32,
    progress: &Progress,
    path: &str,
    sha256: bool,
    missing_is_empty: bool,
) -> Result<Vec<TreeEntry>, ClientError> {
    let shown = remote_shown(path);
    let listed = transfer::with_retries(
        connector,
        client,
        retries,
        progress,
        &shown,
        async |open: &mut Client| open.list_tree(path, sha256).await,
    )
    .await;
    let mut entries = match listed {
        Ok(entries) => entries,
        Err(ClientError::Remote {
            kind: ErrorKind::NotFound,
            ..
        }) if missing_is_empty => Vec::new(),
        Err(error) => return Err(error),
    };
    super::plan::sort(&mut entries);
    Ok(entries)
}

/// Creates the remote folder `path` (and its parents), with retries.
pub async fn make_dir(
    connector: &mut Connector,
    client: &mut Option<Client>,
    retries: u32,
    progress: &Progress,
    path: &str,
) -> Result<(), ClientError> {
    transfer::with_retries(
        connector,
        client,
        retries,
        progress,
        &remote_shown(path),
        async |open: &mut Client| open.make_dir(path).await.map(|_| ()),
    )
    .await
}
