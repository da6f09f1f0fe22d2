//! A session's connection, and nothing else: the framed stream, reading the next request,
//! sending an answer or an error frame. A leaf: the session loop and every handler use it, and it
//! uses neither.

use ftp_proto::{ClientMessage, ServerCodec, ServerMessage};
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::codec::Framed;

use crate::error::{Refusal, SessionError};

/// A framed connection as the server sees it.
pub type Connection<S> = Framed<S, ServerCodec>;

/// Reads the next message; the end of the stream is [`SessionError::Closed`].
pub async fn receive<S>(conn: &mut Connection<S>) -> Result<ClientMessage, SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match conn.next().await {
        Some(Ok(message)) => Ok(message),
        // A client that closes without TLS close_notify (the usual exit of a command line
        // client) has gone away like any other: `From` makes it `Closed`.
        Some(Err(error)) => Err(SessionError::from(error)),
        None => Err(SessionError::Closed),
    }
}

/// Sends one message and flushes it.
pub async fn send<S>(conn: &mut Connection<S>, message: ServerMessage) -> Result<(), SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    conn.send(message).await.map_err(SessionError::from)
}

/// Sends an error frame.
pub async fn send_error<S>(conn: &mut Connection<S>, refusal: Refusal) -> Result<(), SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    send(conn, ServerMessage::from(refusal)).await
}
