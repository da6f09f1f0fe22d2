//! Arbitrary bytes into the message decoders of both sides.
//!
//! Checks, for the server's decoder (client messages) and the client's (server messages):
//! - decoding never panics or aborts, whatever the bytes;
//! - the bytes decode to the same messages, and stop on the same error, whether they arrive at
//!   once, byte by byte, or in pieces of a size taken from the first byte;
//! - every message decoded re-encodes, and decodes back to itself;
//! - the raw bytes as one frame's payload: `FrameMessage::from_frame` (with its zero-copy path
//!   for file data) gives exactly what plain `decode_payload` gives, value or error.
#![no_main]

use std::fmt::Debug;

use bytes::{Bytes, BytesMut};
use ftp_proto::codec::{decode_payload, encode_payload};
use ftp_proto::{
    ClientCodec, ClientMessage, CodecError, FrameMessage, MessageCodec, ServerCodec, ServerMessage,
};
use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use tokio_util::codec::{Decoder, Encoder};

/// What a decoder made of a byte stream: the messages, then the error that stopped it (if any).
type Outcome<M> = (Vec<M>, Option<String>);

/// Decodes messages from `buf` into `out` until the decoder wants more bytes, or fails (the
/// error is kept in `error`).
fn drain<C, M>(codec: &mut C, buf: &mut BytesMut, out: &mut Vec<M>, error: &mut Option<String>)
where
    C: Decoder<Item = M, Error = CodecError>,
{
    while error.is_none() {
        match codec.decode(buf) {
            Ok(Some(message)) => out.push(message),
            Ok(None) => return,
            Err(e) => *error = Some(e.to_string()),
        }
    }
}

/// Feeds `data` to a fresh decoder in pieces of `piece` bytes (all at once when 0).
fn decode_in_pieces<C, M>(new: fn() -> C, data: &[u8], piece: usize) -> Outcome<M>
where
    C: Decoder<Item = M, Error = CodecError>,
{
    let mut codec = new();
    let mut buf = BytesMut::new();
    let (mut out, mut error) = (Vec::new(), None);
    let piece = if piece == 0 { data.len().max(1) } else { piece };
    for chunk in data.chunks(piece) {
        buf.extend_from_slice(chunk);
        drain(&mut codec, &mut buf, &mut out, &mut error);
        if error.is_some() {
            break;
        }
    }
    (out, error)
}

/// A message survives encoding and decoding unchanged, framed and unframed.
fn round_trip<M>(message: &M)
where
    M: Serialize + FrameMessage + PartialEq + Debug + Clone,
{
    let payload = encode_payload(message).expect("a decoded message encodes");
    let back: M = decode_payload(&payload).expect("an encoded message decodes");
    assert_eq!(&back, message, "payload round trip changed the message");

    let mut codec = MessageCodec::<M, M>::default();
    let mut wire = BytesMut::new();
    codec
        .encode(message.clone(), &mut wire)
        .expect("a decoded message fits in a frame");
    let back = codec
        .decode(&mut wire)
        .expect("an encoded frame decodes")
        .expect("an encoded frame is complete");
    assert_eq!(&back, message, "frame round trip changed the message");
    assert!(wire.is_empty(), "a frame round trip leaves no bytes behind");
}

/// All the checks for one decoder.
fn check<C, M>(new: fn() -> C, data: &[u8])
where
    C: Decoder<Item = M, Error = CodecError>,
    M: Serialize + FrameMessage + PartialEq + Debug + Clone,
{
    let whole = decode_in_pieces(new, data, 0);
    let bytewise = decode_in_pieces(new, data, 1);
    assert_eq!(whole, bytewise, "byte-by-byte decoding differs from whole");
    let stride = 1 + usize::from(data.first().copied().unwrap_or(0));
    let strided = decode_in_pieces(new, data, stride);
    assert_eq!(
        whole, strided,
        "decoding in pieces of {stride} differs from whole"
    );
    for message in &whole.0 {
        round_trip(message);
    }
}

/// The raw bytes as a bare payload: the frame decoder's path (zero-copy for file data) and
/// plain bincode must agree exactly.
fn check_payload<M>(data: &[u8])
where
    M: Serialize + FrameMessage + PartialEq + Debug + Clone,
{
    let framed = M::from_frame(Bytes::copy_from_slice(data));
    let plain = decode_payload::<M>(data);
    match (&framed, &plain) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "from_frame and decode_payload decode differently"),
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "different errors"),
        _ => panic!("from_frame gave {framed:?} but decode_payload gave {plain:?}"),
    }
    if let Ok(message) = plain {
        round_trip(&message);
    }
}

fuzz_target!(|data: &[u8]| {
    check(ServerCodec::default, data);
    check(ClientCodec::default, data);
    check_payload::<ClientMessage>(data);
    check_payload::<ServerMessage>(data);
});
