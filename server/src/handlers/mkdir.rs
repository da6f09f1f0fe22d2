//! `MakeDir`: create a folder and any missing parents (like `mkdir -p`). A folder already
//! there is not an error (`changed: false`); a file in the way is. Read-only users are refused.
//! Each folder created gets `dir_mode` exactly.

use ftp_proto::{ErrorKind, ServerMessage};
use tokio::io::{AsyncRead, AsyncWrite};

use super::{Session, change_on_home};
use crate::connection::{Connection, send, send_error};
use crate::error::{Refusal, SessionError};
use crate::jail::{self, RemotePath};
use crate::state::ServerState;

/// Answers one `MakeDir` request.
pub async fn handle<S>(
    conn: &mut Connection<S>,
    session: &Session,
    state: &ServerState,
    path: &str,
) -> Result<(), SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mode = state.config.modes.dir;
    let result = change_on_home(session, path, "creating folders", move |home, path| {
        make(home, path, mode)
    })
    .await;
    match result {
        Ok(changed) => send(conn, ServerMessage::Done { changed }).await,
        Err(refusal) => send_error(conn, refusal).await,
    }
}

/// Creates the folder (and its missing parents, each with `mode`); `false` if it was already
/// there. Blocking.
fn make(home: &cap_std::fs::Dir, path: &RemotePath, mode: u32) -> Result<bool, Refusal> {
    let relative = path.relative();
    match home.symlink_metadata(&relative) {
        Ok(meta) if meta.is_dir() => return Ok(false),
        Ok(_) => {
            return Err(Refusal::new(
                ErrorKind::Exists,
                format!("mkdir refused: {path} already exists and is not a folder"),
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(jail::refusal_for(&e, path)),
    }
    crate::modes::create_dir_all(home, &relative, mode).map_err(|e| jail::refusal_for(&e, path))?;
    Ok(true)
}
