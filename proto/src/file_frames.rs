//! File data frames written straight from the buffer the file was read into.
//!
//! The framed writer would copy each chunk into its own buffer before writing it: a full extra
//! pass over every byte sent. Here only the few bytes of the frame's head are built (see
//! [`crate::codec::file_data_head`]), and head and data go out in one vectored write. What the
//! peer reads is exactly the frame the encoder would have made, so receivers do not change.
//!
//! Must never: write a frame's bytes before the frames queued ahead of it; lose the unwritten
//! rest of a frame whose send was dropped (it is queued for the next send, as the framed
//! writer's own sends leave theirs).

use bytes::buf::Chain;
use bytes::{Buf, Bytes};
use futures::SinkExt;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio_util::codec::{Encoder, Framed};

use crate::codec::file_data_head;
use crate::error::CodecError;
use crate::{ClientCodec, ClientMessage, ServerCodec, ServerMessage};

/// Sends `ClientMessage::Chunk { offset, data }` without copying `data`.
pub async fn send_chunk<S>(
    conn: &mut Framed<S, ClientCodec>,
    offset: u64,
    data: Bytes,
) -> Result<(), CodecError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let head = file_data_head(offset, data.len())?;
    send_frame::<S, ClientCodec, ClientMessage>(conn, head, data).await
}

/// Sends `ServerMessage::Data { offset, data }` without copying `data`.
pub async fn send_data<S>(
    conn: &mut Framed<S, ServerCodec>,
    offset: u64,
    data: Bytes,
) -> Result<(), CodecError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let head = file_data_head(offset, data.len())?;
    send_frame::<S, ServerCodec, ServerMessage>(conn, head, data).await
}

/// Flushes the frames queued in `conn`, then writes `head` and `data` to its stream. Dropped
/// part way, what it did not write goes to the framed buffer (see [`Unsent`]). The stream is
/// not flushed after: under TLS the frame's last bytes may wait in rustls until the next send
/// or flush, so a caller that awaits an answer flushes first (every framed `send` does).
async fn send_frame<S, C, M>(
    conn: &mut Framed<S, C>,
    head: Bytes,
    data: Bytes,
) -> Result<(), CodecError>
where
    S: AsyncRead + AsyncWrite + Unpin,
    C: Encoder<M, Error = CodecError>,
{
    SinkExt::<M>::flush(conn).await?;
    let mut unsent = Unsent {
        conn,
        frame: head.chain(data),
    };
    unsent
        .conn
        .get_mut()
        .write_all_buf(&mut unsent.frame)
        .await?;
    Ok(())
}

/// The part of a frame not yet written. If a send stops before the end (its future dropped in a
/// `select!`, or a failed write), the rest is queued in the framed writer's buffer on drop:
/// the next frame sent goes out after it, as with the framed writer's own sends, so the
/// stream never carries half a frame followed by another one.
struct Unsent<'a, S, C> {
    /// The connection the frame is written to.
    conn: &'a mut Framed<S, C>,
    /// Head and data, advanced past what was written.
    frame: Chain<Bytes, Bytes>,
}

impl<S, C> Drop for Unsent<'_, S, C> {
    fn drop(&mut self) {
        while self.frame.has_remaining() {
            let piece = self.frame.chunk();
            let len = piece.len();
            self.conn.write_buffer_mut().extend_from_slice(piece);
            self.frame.advance(len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::{FutureExt, StreamExt};

    #[tokio::test]
    async fn frames_sent_directly_arrive_in_order_with_queued_ones() {
        let (near, far) = tokio::io::duplex(1 << 16);
        let mut client = Framed::new(near, ClientCodec::default());
        let mut server = Framed::new(far, ServerCodec::default());
        let data = Bytes::from((0..200_000u32).map(|i| i as u8).collect::<Vec<u8>>());
        let expected = data.clone();
        let sending = tokio::spawn(async move {
            client.feed(ClientMessage::PutCancel {}).await.unwrap();
            send_chunk(&mut client, 7, data).await.unwrap();
            client.send(ClientMessage::PutCancel {}).await.unwrap();
            client
        });
        assert_eq!(
            server.next().await.unwrap().unwrap(),
            ClientMessage::PutCancel {}
        );
        match server.next().await.unwrap().unwrap() {
            ClientMessage::Chunk { offset, data } => {
                assert_eq!(offset, 7);
                assert_eq!(data, expected);
            }
            other => panic!("expected a chunk, got {other:?}"),
        }
        assert_eq!(
            server.next().await.unwrap().unwrap(),
            ClientMessage::PutCancel {}
        );
        drop(sending.await.unwrap());
    }

    #[tokio::test]
    async fn a_send_dropped_part_way_is_finished_before_the_next_frame() {
        // A pipe too small for the frame: the send stalls after writing part of it.
        let (near, far) = tokio::io::duplex(1024);
        let mut server = Framed::new(near, ServerCodec::default());
        let mut client = Framed::new(far, ClientCodec::default());
        let data = Bytes::from(
            (0..100_000u32)
                .map(|i| (i % 251) as u8)
                .collect::<Vec<u8>>(),
        );
        let stalled = send_data(&mut server, 3, data.clone()).now_or_never();
        assert!(stalled.is_none(), "the pipe cannot take the whole frame");
        let sending = tokio::spawn(async move {
            server
                .send(ServerMessage::GetDone { sha256: [4; 32] })
                .await
                .unwrap();
            server
        });
        // Without the rest of the frame the client would wait for it forever.
        let first = tokio::time::timeout(std::time::Duration::from_secs(30), client.next())
            .await
            .expect("the rest of the dropped frame arrives");
        match first.unwrap().unwrap() {
            ServerMessage::Data { offset, data: got } => {
                assert_eq!(offset, 3);
                assert_eq!(got, data);
            }
            other => panic!("expected data, got {other:?}"),
        }
        assert_eq!(
            client.next().await.unwrap().unwrap(),
            ServerMessage::GetDone { sha256: [4; 32] }
        );
        drop(sending.await.unwrap());
    }

    #[tokio::test]
    async fn data_frames_decode_as_the_client_expects() {
        let (near, far) = tokio::io::duplex(1 << 16);
        let mut server = Framed::new(near, ServerCodec::default());
        let mut client = Framed::new(far, ClientCodec::default());
        let data = Bytes::from(vec![9u8; crate::MAX_CHUNK_LEN]);
        let sending = tokio::spawn(async move {
            send_data(&mut server, u64::MAX - 1, data).await.unwrap();
            server
        });
        match client.next().await.unwrap().unwrap() {
            ServerMessage::Data { offset, data } => {
                assert_eq!(offset, u64::MAX - 1);
                assert_eq!(data.len(), crate::MAX_CHUNK_LEN);
                assert!(data.iter().all(|&b| b == 9));
            }
            other => panic!("expected data, got {other:?}"),
        }
        drop(sending.await.unwrap());
    }
}
