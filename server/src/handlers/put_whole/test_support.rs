//! Test helpers for the whole-file batches: a home and a partials folder in a temporary
//! folder, and admitted files as the connection would hand them to a store thread.

use std::sync::Arc;

use bytes::Bytes;
use ftp_proto::FileIdentity;
use sha2::{Digest, Sha256};

use super::super::put::Upload;
use super::store::Admitted;
use crate::jail::RemotePath;
use crate::uploads::PathLocks;

/// A home and a partials folder, and the locks of the destinations.
pub(super) struct Site {
    /// The temporary folder holding both.
    pub(super) dir: tempfile::TempDir,
    /// The home (`home` in `dir`).
    pub(super) home: Arc<cap_std::fs::Dir>,
    /// The partials folder (`partials` in `dir`).
    pub(super) partials: Arc<cap_std::fs::Dir>,
    /// The destinations' locks.
    pub(super) locks: Arc<PathLocks>,
}

/// A new, empty site.
pub(super) fn site() -> Site {
    let dir = tempfile::tempdir().unwrap();
    for name in ["home", "partials"] {
        std::fs::create_dir(dir.path().join(name)).unwrap();
    }
    let open = |name: &str| {
        let path = dir.path().join(name);
        Arc::new(cap_std::fs::Dir::open_ambient_dir(path, cap_std::ambient_authority()).unwrap())
    };
    Site {
        home: open("home"),
        partials: open("partials"),
        locks: Arc::new(PathLocks::default()),
        dir,
    }
}

/// The file `remote` with `content`, admitted: its destination locked for one command.
pub(super) async fn file(site: &Site, remote: &str, content: &[u8]) -> Admitted {
    let path = RemotePath::parse(remote).unwrap();
    let destination = path.relative();
    let identity = FileIdentity {
        size: content.len() as u64,
        modified_secs: 1,
        modified_nanos: 0,
    };
    let partial = crate::uploads::partial_name("alice", &destination, &identity);
    let lock = site
        .locks
        .lock(destination.clone(), [7; 16], &partial, remote)
        .await
        .unwrap();
    Admitted {
        upload: Upload {
            partial,
            user: "alice".into(),
            destination,
            shown: path.to_string(),
            size: identity.size,
            force: false,
            modes: crate::modes::Modes::default(),
            disk_reserve: None,
            modified: crate::uploads::client_time(&identity),
        },
        path,
        force: false,
        data: Bytes::copy_from_slice(content),
        sha256: Sha256::digest(content).into(),
        lock,
    }
}
