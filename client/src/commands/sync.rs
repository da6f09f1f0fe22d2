//! `ftp sync SRC DST`: make DST identical to SRC, one way (the remote side written `:PATH`).

use crate::cli::{GlobalArgs, SyncArgs};
use crate::error::ClientError;

/// Runs `ftp sync`.
pub async fn run(_global: &GlobalArgs, _args: SyncArgs) -> Result<(), ClientError> {
    Err(ClientError::Usage("sync: not built yet (issue 16)".into()))
}
