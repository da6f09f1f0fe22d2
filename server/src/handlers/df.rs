//! `DiskUsage` (`ftp df`): what the user stores (a fresh count of the home and the unfinished
//! uploads, see [`crate::usage`]) and the account's quota and file limit.

use ftp_proto::{ErrorKind, ServerMessage};
use tokio::io::{AsyncRead, AsyncWrite};

use super::Session;
use crate::connection::{Connection, send, send_error};
use crate::error::{Refusal, SessionError};

/// Answers one `DiskUsage` request.
pub async fn handle<S>(conn: &mut Connection<S>, session: &Session) -> Result<(), SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let counted = session
        .slot
        .shared
        .usage
        .current(session.storage.as_ref(), true)
        .await;
    match counted {
        Ok(usage) => {
            let info = usage.info(&session.account.limits);
            send(conn, ServerMessage::DiskUsage(info)).await
        }
        Err(error) => {
            tracing::warn!(user = %session.account.name, error = %error.detail, "cannot count the user's storage");
            let refusal = Refusal::new(
                ErrorKind::Internal,
                "server error: the server cannot count your storage",
            );
            send_error(conn, refusal).await
        }
    }
}
