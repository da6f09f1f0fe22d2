//! `--checksum`: the SHA-256 of the local files that have a counterpart of the same size, so
//! the plan compares content instead of size and time. A digest comes from the client's hash
//! cache when it knows the file unchanged, else the file is read (on a blocking thread); a
//! cached digest that differs from the remote one is read again before it counts (see
//! [`crate::local_hash`]). A file that cannot be hashed keeps no digest: the plan then leaves
//! it to the transfer to compare.

use std::path::Path;
use std::sync::Arc;

use ftp_proto::TreeEntry;

use crate::local_hash;

/// Fills in `local[l].sha256` for each `(l, r)` of `pairs` (`remote[r]` being the
/// counterpart, whose SHA-256 the server listed), reading files under `root`.
pub async fn fill_local(
    root: &Path,
    local: &mut [TreeEntry],
    remote: &[TreeEntry],
    pairs: &[(usize, usize)],
) {
    for &(l, r) in pairs {
        let (Some(entry), Some(theirs)) = (local.get_mut(l), remote.get(r)) else {
            continue;
        };
        let Some(theirs) = theirs.sha256 else {
            continue;
        };
        let path = root.join(&entry.path);
        entry.sha256 = hash(&path, &theirs).await;
    }
}

/// The SHA-256 of the local file `path` compared with `theirs`, or `None` when it cannot be
/// read.
async fn hash(path: &Path, theirs: &[u8; 32]) -> Option<[u8; 32]> {
    let open = |path: &Path| {
        let path = path.to_path_buf();
        async move {
            crate::blocking::run(move || crate::upload::open_local(&path))
                .await
                .ok()
                .map(|(file, _)| Arc::new(file))
        }
    };
    let file = open(path).await?;
    let first = local_hash::hash(path, file, true, Box::new(|_, _| {}))
        .await
        .ok()?;
    let again = || async {
        match open(path).await {
            Some(file) => local_hash::hash(path, file, false, Box::new(|_, _| {})).await,
            None => Err(std::io::Error::other("cannot open")),
        }
    };
    local_hash::confirmed(first, theirs, again)
        .await
        .ok()
        .map(|hashed| hashed.sha256)
}
