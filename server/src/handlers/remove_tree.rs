//! `RemoveTree`: delete a folder and everything in it (`ftp rm -r`), answered with how many
//! files and folders went (see [`crate::storage::Home::remove_tree`]). The home itself and
//! read-only users are refused before the store is asked.

use ftp_proto::{ErrorKind, ServerMessage};
use tokio::io::{AsyncRead, AsyncWrite};

use super::{Session, require_write};
use crate::connection::{Connection, send, send_error};
use crate::error::{Refusal, SessionError};
use crate::jail::RemotePath;
use crate::storage::{Failure, Removed};

/// Answers one `RemoveTree` request.
pub async fn handle<S>(
    conn: &mut Connection<S>,
    session: &Session,
    path: &str,
) -> Result<(), SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let removed = remove_tree(session, path).await;
    session.usage_changed();
    match removed {
        Ok(removed) => {
            tracing::info!(
                user = %session.account.name,
                path,
                files = removed.files,
                folders = removed.folders,
                "removed tree"
            );
            send(
                conn,
                ServerMessage::Removed {
                    files: removed.files,
                    folders: removed.folders,
                },
            )
            .await
        }
        Err(refusal) => send_error(conn, refusal).await,
    }
}

/// Removes the path and everything beneath it.
async fn remove_tree(session: &Session, path: &str) -> Result<Removed, Refusal> {
    require_write(session, "removing")?;
    let path = RemotePath::parse(path)?;
    if path.is_home() {
        return Err(super::remove::home_refused());
    }
    session
        .storage
        .remove_tree(&path)
        .await
        .map_err(|e| match e.failure {
            Failure::Changed => Refusal::new(
                ErrorKind::Busy,
                format!("{path} changed while it was being removed; nothing was removed"),
            ),
            _ => Refusal::from_storage(&e, &path),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_read_only_user_is_refused_and_nothing_goes() {
        let (alice, _state, mut session) = crate::handlers::test_session::alice().await;
        alice.seed("t/f", b"f");
        session.account.read_only = true;
        let refused = remove_tree(&session, "t").await.unwrap_err();
        assert_eq!(refused.kind, ErrorKind::Denied);
        assert!(alice.exists("t/f"));
    }
}
