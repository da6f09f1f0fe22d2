//! For unit tests: the server's side of the key handshake, over an in-memory stream, so that a
//! test can play the server to a real [`crate::connection::Client`].

use ftp_proto::handshake::{self, ChannelBinding};
use ftp_proto::{ClientMessage, PROTOCOL_VERSION, ServerCodec, ServerMessage, SharedKey};
use futures::{SinkExt, StreamExt};
use tokio::io::DuplexStream;
use tokio_util::codec::Framed;

use crate::connection::Client;

/// The key every test connection proves.
pub fn key() -> SharedKey {
    SharedKey::from_bytes([7; 32])
}

/// Greets the client at the other end of `stream` and proves the server's key: the connection
/// after the handshake.
pub async fn accept(stream: DuplexStream, key: &SharedKey) -> Framed<DuplexStream, ServerCodec> {
    let binding = ChannelBinding::plaintext();
    let mut conn = Framed::new(stream, ServerCodec::default());
    let nonce = handshake::new_nonce().unwrap();
    let hello = ServerMessage::Hello {
        version: PROTOCOL_VERSION,
        nonce,
    };
    conn.send(hello).await.unwrap();
    let Some(Ok(ClientMessage::Hello {
        nonce: client_nonce,
        ..
    })) = conn.next().await
    else {
        panic!("no hello from the client");
    };
    let proof = handshake::server_proof(key, &binding, &client_nonce, &nonce);
    conn.send(ServerMessage::Proof { proof }).await.unwrap();
    conn
}

/// A client connected (handshake done) to `serve`, which runs as a task on the other end.
pub async fn connect<F>(
    serve: impl FnOnce(DuplexStream, SharedKey) -> F,
) -> (Client<DuplexStream>, tokio::task::JoinHandle<()>)
where
    F: Future<Output = ()> + Send + 'static,
{
    let key = key();
    let (near, far) = tokio::io::duplex(1 << 20);
    let server = tokio::spawn(serve(far, key.clone()));
    let binding = ChannelBinding::plaintext();
    let client = Client::handshake(near, &key, &binding).await.unwrap();
    (client, server)
}
