//! Framing: a 4-byte big-endian length, then one bincode-encoded message.
//!
//! Frames are cut here with a hard maximum: a longer length is an error before any byte of the
//! body is buffered. The data of a large file-data frame is received on a page boundary, so it
//! can go to disk by direct I/O without a copy. Each payload is decoded by bincode with a
//! byte limit close to the frame's own size, so no length field inside a frame can make the
//! receiver allocate more than that frame could hold. A payload must be consumed exactly:
//! trailing bytes are an error. This module never touches a socket.

use std::marker::PhantomData;

use bincode::config::{Configuration, Limit, standard};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_util::codec::{Decoder, Encoder};

use crate::MAX_FRAME_LEN;
use crate::error::CodecError;
use crate::message::{ClientMessage, ServerMessage};

/// Bytes of the length prefix.
const LENGTH_PREFIX: usize = 4;

/// Codec used by the server: reads client messages, writes server messages.
pub type ServerCodec = MessageCodec<ClientMessage, ServerMessage>;

/// Codec used by the client: reads server messages, writes client messages.
pub type ClientCodec = MessageCodec<ServerMessage, ClientMessage>;

/// Frames and (de)serializes messages: decodes `In`, encodes `Out`.
pub struct MessageCodec<In, Out> {
    /// Largest frame accepted or produced.
    max_frame_len: usize,
    /// Length of the frame whose body is awaited (its prefix is consumed).
    body: Option<usize>,
    /// The message types; `fn` keeps the codec `Send` and `Sync` whatever they are.
    messages: PhantomData<fn(Out) -> In>,
}

impl<In, Out> MessageCodec<In, Out> {
    /// A codec accepting frames up to `max_frame_len` bytes (capped at [`MAX_FRAME_LEN`]).
    pub fn new(max_frame_len: usize) -> Self {
        MessageCodec {
            max_frame_len: max_frame_len.min(MAX_FRAME_LEN),
            body: None,
            messages: PhantomData,
        }
    }
}

impl<In, Out> Default for MessageCodec<In, Out> {
    fn default() -> Self {
        Self::new(MAX_FRAME_LEN)
    }
}

impl<In, Out> std::fmt::Debug for MessageCodec<In, Out> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageCodec")
            .field("max_frame_len", &self.max_frame_len)
            .finish()
    }
}

/// The bincode configuration with an allocation limit of `LIMIT` bytes.
fn config<const LIMIT: usize>()
-> Configuration<bincode::config::BigEndian, bincode::config::Varint, Limit<LIMIT>> {
    standard().with_big_endian().with_limit::<LIMIT>()
}

/// Decodes one whole payload, allocating at most `LIMIT` bytes for lengths it announces.
fn decode_limited<T: DeserializeOwned, const LIMIT: usize>(
    payload: &[u8],
) -> Result<T, CodecError> {
    let (message, used) = bincode::serde::decode_from_slice::<T, _>(payload, config::<LIMIT>())
        .map_err(|e| CodecError::Malformed(e.to_string()))?;
    if used != payload.len() {
        return Err(CodecError::Malformed(format!(
            "{} unexpected bytes after the message",
            payload.len() - used
        )));
    }
    Ok(message)
}

/// Decodes a payload with a limit chosen from its size: a small frame can never claim a large
/// allocation. (The limit is a type parameter in bincode 2, hence the fixed steps.) Each step
/// allows twice the payload: bincode counts a byte string's length against the limit more
/// than once on its way into `Bytes`.
pub fn decode_payload<T: DeserializeOwned>(payload: &[u8]) -> Result<T, CodecError> {
    const SMALL: usize = 8 * 1024;
    const MEDIUM: usize = 128 * 1024;
    const LARGE: usize = 2 * MAX_FRAME_LEN;
    match payload.len() {
        len if len <= SMALL / 2 => decode_limited::<T, SMALL>(payload),
        len if len <= MEDIUM / 2 => decode_limited::<T, MEDIUM>(payload),
        _ => decode_limited::<T, LARGE>(payload),
    }
}

/// Encodes a message as a payload (without the length prefix).
pub fn encode_payload<T: Serialize>(message: &T) -> Result<Vec<u8>, CodecError> {
    bincode::serde::encode_to_vec(message, config::<MAX_FRAME_LEN>())
        .map_err(|e| CodecError::Encode(e.to_string()))
}

/// A message type the codec can decode from a whole frame. File data (`Chunk`, `Data`) takes a
/// zero-copy path: the payload is sliced out of the received frame instead of being copied
/// into a fresh allocation; everything else goes through bincode.
pub trait FrameMessage: DeserializeOwned {
    /// Variant index of this type's file-data message in the bincode encoding.
    const FILE_DATA_TAG: u8;

    /// Decodes one frame's payload.
    fn from_frame(frame: Bytes) -> Result<Self, CodecError>;
}

/// Variant index of `ClientMessage::Chunk` in the bincode encoding (checked by a test).
const CHUNK_TAG: u8 = 5;

/// Variant index of `ServerMessage::Data` in the bincode encoding (checked by a test).
const DATA_TAG: u8 = 9;

/// Most bytes before a file-data body's data: the tag and two varints.
const FILE_DATA_HEAD_MAX: usize = 1 + 9 + 9;

/// What the first bytes of a frame body say about where file data starts in it.
#[derive(Debug, PartialEq, Eq)]
enum DataStart {
    /// A `{ offset, data }` body with this tag: the offset, the data's length, and where the
    /// data starts.
    At { offset: u64, len: u64, start: usize },
    /// Too few bytes to tell.
    Unknown,
    /// Not a file-data body of this tag (or not one laid out as bincode writes it).
    NotData,
}

/// Reads the head of a `{ offset: u64, data: bytes }` body laid out as bincode writes it (tag,
/// varint offset, varint length).
fn data_start(body: &[u8], tag: u8) -> DataStart {
    let config = config::<16>();
    let head = || {
        if *body.first()? != tag {
            return Some(Err(()));
        }
        let (offset, used) = bincode::decode_from_slice::<u64, _>(body.get(1..)?, config).ok()?;
        let start = 1 + used;
        let (len, used) = bincode::decode_from_slice::<u64, _>(body.get(start..)?, config).ok()?;
        Some(Ok((offset, len, start + used)))
    };
    match head() {
        Some(Ok((offset, len, start))) => DataStart::At { offset, len, start },
        Some(Err(())) => DataStart::NotData,
        None if body.len() < FILE_DATA_HEAD_MAX => DataStart::Unknown,
        None => DataStart::NotData,
    }
}

/// Slices the data out of a whole `{ offset, data }` frame of this tag without copying. `None`
/// when the layout does not match, so the caller can fall back to bincode (and its errors).
fn file_data(frame: &Bytes, tag: u8) -> Option<(u64, Bytes)> {
    let DataStart::At { offset, len, start } = data_start(frame, tag) else {
        return None;
    };
    let len = usize::try_from(len).ok()?;
    if frame.len().checked_sub(start)? != len {
        return None;
    }
    Some((offset, frame.slice(start..)))
}

/// The start of a file-data frame carrying `len` bytes at `offset`, byte for byte as the
/// encoder writes it: length prefix, variant `tag`, varint offset, varint byte count. The head
/// followed by the bytes is the whole frame, so a sender can write file data from where it
/// lies instead of copying it into the frame buffer. An error when the frame would exceed
/// [`MAX_FRAME_LEN`].
fn file_data_head(tag: u8, offset: u64, len: usize) -> Result<Bytes, CodecError> {
    // Tag, then two varints of at most 9 bytes each.
    let mut body = [0u8; 1 + 9 + 9];
    body[0] = tag;
    let config = config::<16>();
    let encode = |value: u64, into: &mut [u8]| {
        bincode::encode_into_slice(value, into, config)
            .map_err(|e| CodecError::Encode(e.to_string()))
    };
    let used = 1 + encode(offset, &mut body[1..])?;
    let used = used + encode(len as u64, &mut body[used..])?;
    let frame_len = used
        .checked_add(len)
        .filter(|&n| n <= MAX_FRAME_LEN)
        .ok_or_else(|| {
            CodecError::Encode(format!(
                "{len} bytes of file data exceed the frame limit of {MAX_FRAME_LEN} bytes"
            ))
        })?;
    let mut head = BytesMut::with_capacity(LENGTH_PREFIX + used);
    // Below MAX_FRAME_LEN, so it fits in the prefix.
    head.put_u32(frame_len as u32);
    head.put_slice(&body[..used]);
    Ok(head.freeze())
}

/// The head of a `ClientMessage::Chunk` frame of `len` bytes at `offset` (see
/// [`file_data_head`]): written before the bytes, it makes the same frame the encoder would.
pub fn chunk_head(offset: u64, len: usize) -> Result<Bytes, CodecError> {
    file_data_head(CHUNK_TAG, offset, len)
}

/// The head of a `ServerMessage::Data` frame of `len` bytes at `offset` (see [`chunk_head`]).
pub fn data_head(offset: u64, len: usize) -> Result<Bytes, CodecError> {
    file_data_head(DATA_TAG, offset, len)
}

impl FrameMessage for ClientMessage {
    const FILE_DATA_TAG: u8 = CHUNK_TAG;

    fn from_frame(frame: Bytes) -> Result<Self, CodecError> {
        match file_data(&frame, CHUNK_TAG) {
            Some((offset, data)) => Ok(ClientMessage::Chunk { offset, data }),
            None => decode_payload(&frame),
        }
    }
}

impl FrameMessage for ServerMessage {
    const FILE_DATA_TAG: u8 = DATA_TAG;

    fn from_frame(frame: Bytes) -> Result<Self, CodecError> {
        match file_data(&frame, DATA_TAG) {
            Some((offset, data)) => Ok(ServerMessage::Data { offset, data }),
            None => decode_payload(&frame),
        }
    }
}

impl<In: FrameMessage, Out> Decoder for MessageCodec<In, Out> {
    type Item = In;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<In>, CodecError> {
        let len = match self.body {
            Some(len) => len,
            None => {
                let Some(prefix) = src.first_chunk::<LENGTH_PREFIX>() else {
                    return Ok(None);
                };
                let len = u32::from_be_bytes(*prefix) as usize;
                if len > self.max_frame_len {
                    return Err(CodecError::FrameTooLarge {
                        len,
                        max: self.max_frame_len,
                    });
                }
                src.advance(LENGTH_PREFIX);
                self.body = Some(len);
                len
            }
        };
        if src.len() < len {
            make_room::<In>(src, len);
            return Ok(None);
        }
        self.body = None;
        In::from_frame(src.split_to(len).freeze()).map(Some)
    }
}

/// Bodies at least this long that carry file data are received page-aligned.
const ALIGN_DATA_FROM: usize = 64 << 10;

/// Page size the data of large file-data frames is aligned to.
const PAGE: usize = 4096;

/// Makes room in `src` for the rest of a `len`-byte body whose first bytes it holds. The data
/// of a large file-data body is placed to start on a page boundary (see [`align_data`]); other
/// bodies just get the room.
fn make_room<In: FrameMessage>(src: &mut BytesMut, len: usize) {
    if len >= ALIGN_DATA_FROM {
        match data_start(src, In::FILE_DATA_TAG) {
            DataStart::At { start, .. } => return align_data(src, len, start),
            // The reader always asks for more bytes; the head comes with them.
            DataStart::Unknown => return,
            DataStart::NotData => {}
        }
    }
    src.reserve(len - src.len());
}

/// Moves what `src` holds of a `len`-byte body into a buffer where the body's byte `start` (its
/// data) is on a page boundary and the whole body fits, unless it already is. The rest of the
/// body is then read straight to its place: a receiver can write the data to disk by direct
/// I/O from where it lies, without an aligned copy (see [`crate::appender`]). Costs one copy of
/// the few bytes already received.
fn align_data(src: &mut BytesMut, len: usize, start: usize) {
    let aligned = (src.as_ptr() as usize + start).is_multiple_of(PAGE);
    if aligned && src.capacity() >= len {
        return;
    }
    let mut fresh = BytesMut::with_capacity(len + 2 * PAGE);
    let pad = (PAGE - (fresh.as_ptr() as usize + start) % PAGE) % PAGE;
    fresh.resize(pad, 0);
    fresh.advance(pad);
    fresh.extend_from_slice(src);
    *src = fresh;
}

impl<In, Out: Serialize> Encoder<Out> for MessageCodec<In, Out> {
    type Error = CodecError;

    fn encode(&mut self, message: Out, dst: &mut BytesMut) -> Result<(), CodecError> {
        // Encode in place after a placeholder length, then patch it: one copy of the payload.
        let start = dst.len();
        dst.put_u32(0);
        let mut writer = dst.writer();
        let encoded =
            bincode::serde::encode_into_std_write(&message, &mut writer, config::<MAX_FRAME_LEN>());
        let dst = writer.into_inner();
        let len = match encoded {
            Ok(len) if len <= self.max_frame_len => len,
            Ok(len) => {
                dst.truncate(start);
                return Err(CodecError::Encode(format!(
                    "message of {len} bytes exceeds the frame limit of {} bytes",
                    self.max_frame_len
                )));
            }
            Err(e) => {
                dst.truncate(start);
                return Err(CodecError::Encode(e.to_string()));
            }
        };
        // The length fits: it was just checked against a limit below u32::MAX.
        dst[start..start + LENGTH_PREFIX].copy_from_slice(&(len as u32).to_be_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{DirEntry, EntryKind, ErrorKind};
    use crate::secret::Password;
    use proptest::prelude::*;

    fn every_client_message() -> Vec<ClientMessage> {
        vec![
            ClientMessage::Hello {
                version: crate::PROTOCOL_VERSION,
                nonce: [1; 32],
                proof: [2; 32],
            },
            ClientMessage::Login {
                user: "alice".into(),
                password: Password::new("correct horse".into()),
            },
            ClientMessage::List {
                path: "/docs".into(),
            },
            ClientMessage::Get {
                path: "/big.iso".into(),
                offset: 9,
                limit_rate: Some(u64::MAX),
            },
            ClientMessage::Get {
                path: String::new(),
                offset: u64::MAX,
                limit_rate: None,
            },
            ClientMessage::PutCancel {},
            ClientMessage::PutReplace {},
            ClientMessage::Rename {
                from: "a/b.txt".into(),
                to: "c/".into(),
                force: true,
            },
            ClientMessage::ListTree {
                path: "photos".into(),
                sha256: true,
            },
            ClientMessage::RemoveTree {
                path: "old/builds".into(),
            },
            ClientMessage::Quit {},
        ]
    }

    fn every_server_message() -> Vec<ServerMessage> {
        let entry = DirEntry {
            name: "photo.png".into(),
            kind: EntryKind::File,
            size: u64::MAX,
            modified: -1,
        };
        vec![
            ServerMessage::Hello {
                version: u32::MAX,
                nonce: [3; 32],
            },
            ServerMessage::Proof { proof: [4; 32] },
            ServerMessage::Welcome {
                user: "bob".into(),
                read_only: true,
                min_transfer_rate: u64::MAX,
            },
            ServerMessage::Listing {
                entries: vec![
                    entry.clone(),
                    DirEntry {
                        kind: EntryKind::Dir,
                        ..entry.clone()
                    },
                ],
                last: false,
            },
            ServerMessage::Error {
                kind: ErrorKind::Busy,
                message: "in use".into(),
            },
            ServerMessage::PutReady { offset: 7 },
            ServerMessage::PutExisting { sha256: [1; 32] },
            ServerMessage::PutDone {
                size: 0,
                sha256: [2; 32],
            },
            ServerMessage::GetReady {
                size: 10,
                modified: 5,
                modified_nanos: 6,
                offset: 3,
            },
            ServerMessage::Data {
                offset: 3,
                data: bytes::Bytes::from_static(b"0123456"),
            },
            ServerMessage::GetDone { sha256: [8; 32] },
            ServerMessage::StatInfo {
                entry: entry.clone(),
                sha256: Some([6; 32]),
            },
            ServerMessage::StatInfo {
                entry: entry.clone(),
                sha256: None,
            },
            ServerMessage::Done { changed: false },
            ServerMessage::Renamed {
                from: "a/b.txt".into(),
                to: "c/b.txt".into(),
            },
            ServerMessage::TreeBatch {
                entries: vec![
                    crate::message::TreeEntry {
                        path: "2026/a.jpg".into(),
                        kind: EntryKind::File,
                        size: u64::MAX,
                        modified_secs: i64::MIN,
                        modified_nanos: 999_999_999,
                        sha256: Some([9; 32]),
                    },
                    crate::message::TreeEntry {
                        path: "2026".into(),
                        kind: EntryKind::Dir,
                        size: 0,
                        modified_secs: 0,
                        modified_nanos: 0,
                        sha256: None,
                    },
                ],
                last: true,
            },
            ServerMessage::Removed {
                files: u64::MAX,
                folders: 1,
            },
        ]
    }

    fn round_trip<In, Out>(codec: &mut MessageCodec<In, Out>, message: Out) -> In
    where
        In: FrameMessage,
        Out: Serialize,
    {
        let mut buf = BytesMut::new();
        codec.encode(message, &mut buf).unwrap();
        let decoded = codec.decode(&mut buf).unwrap().unwrap();
        assert!(buf.is_empty(), "the whole frame is consumed");
        decoded
    }

    #[test]
    fn every_message_round_trips() {
        for message in every_client_message() {
            let mut codec = MessageCodec::<ClientMessage, ClientMessage>::default();
            assert_eq!(round_trip(&mut codec, message.clone()), message);
        }
        for message in every_server_message() {
            let mut codec = MessageCodec::<ServerMessage, ServerMessage>::default();
            assert_eq!(round_trip(&mut codec, message.clone()), message);
        }
    }

    #[test]
    fn the_welcome_carries_the_floor_and_a_get_its_pace() {
        let mut codec = MessageCodec::<ServerMessage, ServerMessage>::default();
        let welcome = ServerMessage::Welcome {
            user: "alice".into(),
            read_only: false,
            min_transfer_rate: 64 << 10,
        };
        match round_trip(&mut codec, welcome) {
            ServerMessage::Welcome {
                min_transfer_rate, ..
            } => assert_eq!(min_transfer_rate, 64 << 10),
            other => panic!("expected a welcome, got {other:?}"),
        }
        let mut codec = MessageCodec::<ClientMessage, ClientMessage>::default();
        let get = ClientMessage::Get {
            path: "a".into(),
            offset: 0,
            limit_rate: Some(8192),
        };
        match round_trip(&mut codec, get) {
            ClientMessage::Get { limit_rate, .. } => assert_eq!(limit_rate, Some(8192)),
            other => panic!("expected a get, got {other:?}"),
        }
    }

    #[test]
    fn oversized_length_prefix_is_refused_before_buffering() {
        let mut codec = ServerCodec::default();
        let mut buf = BytesMut::from(&[0xff, 0xff, 0xff, 0xff][..]);
        assert!(matches!(
            codec.decode(&mut buf),
            Err(CodecError::FrameTooLarge {
                len: 0xffff_ffff,
                ..
            })
        ));
        // An HTTP request starts with "GET " = 0x47455420: far beyond the limit.
        let mut buf = BytesMut::from(&b"GET / HTTP/1.1\r\n"[..]);
        assert!(matches!(
            codec.decode(&mut buf),
            Err(CodecError::FrameTooLarge { .. })
        ));
    }

    #[test]
    fn a_huge_inner_length_is_an_error_not_an_allocation() {
        // Variant 2 (List) whose string claims 2^40 bytes, in a 12-byte frame.
        let mut payload = vec![2u8, 253];
        payload.extend_from_slice(&(1u64 << 40).to_be_bytes());
        let result: Result<ClientMessage, _> = decode_payload(&payload);
        assert!(matches!(result, Err(CodecError::Malformed(_))));
    }

    #[test]
    fn a_full_chunk_fits_in_a_frame_and_a_larger_one_does_not() {
        let mut codec = MessageCodec::<ClientMessage, ClientMessage>::default();
        let mut buf = BytesMut::new();
        let full = ClientMessage::Chunk {
            offset: u64::MAX,
            data: bytes::Bytes::from(vec![1; crate::MAX_CHUNK_LEN]),
        };
        codec.encode(full, &mut buf).unwrap();
        let too_big = ClientMessage::Chunk {
            offset: 0,
            data: bytes::Bytes::from(vec![1; MAX_FRAME_LEN]),
        };
        let before = buf.len();
        assert!(codec.encode(too_big, &mut buf).is_err());
        assert_eq!(
            buf.len(),
            before,
            "a refused message leaves no bytes behind"
        );
        assert!(chunk_head(u64::MAX, crate::MAX_CHUNK_LEN).is_ok());
        assert!(data_head(0, MAX_FRAME_LEN).is_err());
    }

    #[test]
    fn large_file_data_arrives_page_aligned_however_the_bytes_come() {
        let data = |seed: u8| {
            Bytes::from(
                (0..200_000u32)
                    .map(|i| (i as u8) ^ seed)
                    .collect::<Vec<u8>>(),
            )
        };
        let mut stream = BytesMut::new();
        let mut sender = ClientCodec::default();
        sender
            .encode(
                ClientMessage::Chunk {
                    offset: 0,
                    data: data(1),
                },
                &mut stream,
            )
            .unwrap();
        sender
            .encode(ClientMessage::PutCancel {}, &mut stream)
            .unwrap();
        sender
            .encode(
                ClientMessage::Chunk {
                    offset: 300,
                    data: data(2),
                },
                &mut stream,
            )
            .unwrap();
        for piece in [1, 7, 1000, 65_536, 150_000, stream.len()] {
            let mut receiver = ServerCodec::default();
            let mut buffer = BytesMut::new();
            let mut got = Vec::new();
            // As tokio-util's reader does: room for one more byte, then a read of at most
            // the room there is.
            let mut position = 0;
            while position < stream.len() {
                buffer.reserve(1);
                let room = buffer.capacity() - buffer.len();
                let n = piece.min(room).min(stream.len() - position);
                buffer.extend_from_slice(&stream[position..position + n]);
                position += n;
                while let Some(message) = receiver.decode(&mut buffer).unwrap() {
                    got.push(message);
                }
            }
            assert_eq!(got.len(), 3, "pieces of {piece}");
            for (message, (offset, seed)) in [&got[0], &got[2]].into_iter().zip([(0, 1), (300, 2)])
            {
                let ClientMessage::Chunk {
                    offset: at,
                    data: received,
                } = message
                else {
                    panic!("expected a chunk, got {message:?}");
                };
                assert_eq!((*at, received), (offset, &data(seed)), "pieces of {piece}");
                assert_eq!(received.as_ptr() as usize % PAGE, 0, "pieces of {piece}");
            }
            assert_eq!(got[1], ClientMessage::PutCancel {});
        }
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let mut payload = encode_payload(&ClientMessage::Quit {}).unwrap();
        payload.push(0);
        assert!(decode_payload::<ClientMessage>(&payload).is_err());
    }

    #[test]
    fn truncated_frame_waits_for_more() {
        let mut codec = ServerCodec::default();
        let mut full = BytesMut::new();
        MessageCodec::<ServerMessage, ClientMessage>::default()
            .encode(every_client_message().remove(1), &mut full)
            .unwrap();
        let mut half = BytesMut::from(&full[..full.len() / 2]);
        assert!(codec.decode(&mut half).unwrap().is_none());
    }

    #[test]
    fn frames_arriving_byte_by_byte_decode_whole() {
        let mut writer = MessageCodec::<ClientMessage, ClientMessage>::default();
        let mut wire = BytesMut::new();
        let messages = every_client_message();
        for message in messages.clone() {
            writer.encode(message, &mut wire).unwrap();
        }
        let mut reader = MessageCodec::<ClientMessage, ClientMessage>::default();
        let mut buffer = BytesMut::new();
        let mut decoded = Vec::new();
        for byte in wire.iter() {
            buffer.put_u8(*byte);
            while let Some(message) = reader.decode(&mut buffer).unwrap() {
                decoded.push(message);
            }
        }
        assert_eq!(decoded, messages);
    }

    #[test]
    fn file_data_tags_match_the_bincode_encoding() {
        let chunk = encode_payload(&ClientMessage::Chunk {
            offset: 1,
            data: Bytes::from_static(b"x"),
        })
        .unwrap();
        assert_eq!(chunk[0], CHUNK_TAG);
        let data = encode_payload(&ServerMessage::Data {
            offset: 1,
            data: Bytes::from_static(b"x"),
        })
        .unwrap();
        assert_eq!(data[0], DATA_TAG);
    }

    proptest! {
        #[test]
        fn the_zero_copy_path_agrees_with_bincode(offset in any::<u64>(), data in proptest::collection::vec(any::<u8>(), 0..3000)) {
            let chunk = ClientMessage::Chunk { offset, data: Bytes::from(data.clone()) };
            let payload = Bytes::from(encode_payload(&chunk).unwrap());
            prop_assert_eq!(ClientMessage::from_frame(payload.clone()).unwrap(), decode_payload::<ClientMessage>(&payload).unwrap());
            prop_assert!(file_data(&payload, CHUNK_TAG).is_some(), "the fast path was taken");
            let reply = ServerMessage::Data { offset, data: Bytes::from(data) };
            let payload = Bytes::from(encode_payload(&reply).unwrap());
            prop_assert_eq!(ServerMessage::from_frame(payload.clone()).unwrap(), decode_payload::<ServerMessage>(&payload).unwrap());
            prop_assert!(file_data(&payload, DATA_TAG).is_some(), "the fast path was taken");
        }

        #[test]
        fn file_data_heads_make_the_frames_the_encoder_makes(offset in any::<u64>(), data in proptest::collection::vec(any::<u8>(), 0..3000)) {
            let data = Bytes::from(data);
            let mut encoded = BytesMut::new();
            ClientCodec::default()
                .encode(ClientMessage::Chunk { offset, data: data.clone() }, &mut encoded)
                .unwrap();
            let head = chunk_head(offset, data.len()).unwrap();
            prop_assert_eq!(&encoded[..head.len()], &head[..]);
            prop_assert_eq!(&encoded[head.len()..], &data[..]);
            let mut encoded = BytesMut::new();
            ServerCodec::default()
                .encode(ServerMessage::Data { offset, data: data.clone() }, &mut encoded)
                .unwrap();
            let head = data_head(offset, data.len()).unwrap();
            prop_assert_eq!(&encoded[..head.len()], &head[..]);
            prop_assert_eq!(&encoded[head.len()..], &data[..]);
        }

        #[test]
        fn mangled_file_data_frames_decode_to_a_value_or_an_error(mut bytes in proptest::collection::vec(any::<u8>(), 1..64), tag in prop_oneof![Just(CHUNK_TAG), Just(DATA_TAG)]) {
            bytes[0] = tag;
            let frame = Bytes::from(bytes);
            let _ = ClientMessage::from_frame(frame.clone());
            let _ = ServerMessage::from_frame(frame);
        }

        #[test]
        fn any_split_of_a_stream_decodes_the_same(cuts in proptest::collection::vec(1usize..70_000, 1..40)) {
            let mut writer = MessageCodec::<ClientMessage, ClientMessage>::default();
            let mut wire = BytesMut::new();
            // Small messages, and large ones with and without file data (the aligned path).
            let mut messages = every_client_message();
            let bytes = |len: usize| Bytes::from((0..len).map(|i| (i % 253) as u8).collect::<Vec<u8>>());
            messages.insert(1, ClientMessage::Chunk { offset: 1 << 40, data: bytes(150_000) });
            messages.push(ClientMessage::PutWhole {
                path: "big".into(),
                file: crate::FileIdentity { size: 90_000, modified_secs: 1, modified_nanos: 2 },
                force: false,
                upload_id: [7; 16],
                data: bytes(90_000),
                sha256: [1; 32],
            });
            messages.push(ClientMessage::Chunk { offset: 7, data: bytes(70_000) });
            for message in messages.clone() {
                writer.encode(message, &mut wire).unwrap();
            }
            let mut reader = MessageCodec::<ClientMessage, ClientMessage>::default();
            let mut buffer = BytesMut::new();
            let mut decoded = Vec::new();
            let mut rest = &wire[..];
            for cut in cuts.iter().cycle() {
                if rest.is_empty() {
                    break;
                }
                let (piece, tail) = rest.split_at((*cut).min(rest.len()));
                buffer.extend_from_slice(piece);
                rest = tail;
                while let Some(message) = reader.decode(&mut buffer).unwrap() {
                    decoded.push(message);
                }
            }
            prop_assert_eq!(decoded, messages);
        }

        #[test]
        fn any_bytes_decode_to_a_value_or_an_error(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let mut server = ServerCodec::default();
            let mut buf = BytesMut::from(&bytes[..]);
            while let Ok(Some(_)) = server.decode(&mut buf) {}
            let mut client = ClientCodec::default();
            let mut buf = BytesMut::from(&bytes[..]);
            while let Ok(Some(_)) = client.decode(&mut buf) {}
        }

        #[test]
        fn any_framed_payload_decodes_to_a_value_or_an_error(payload in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut buf = BytesMut::new();
            buf.put_u32(payload.len() as u32);
            buf.extend_from_slice(&payload);
            let _ = ServerCodec::default().decode(&mut buf.clone());
            let _ = ClientCodec::default().decode(&mut buf);
        }

        #[test]
        fn listings_round_trip(names in proptest::collection::vec("\\PC{0,40}", 0..50), size in any::<u64>(), modified in any::<i64>()) {
            let entries: Vec<DirEntry> = names.into_iter().map(|name| DirEntry { name, kind: EntryKind::File, size, modified }).collect();
            let message = ServerMessage::Listing { entries, last: true };
            let mut codec = MessageCodec::<ServerMessage, ServerMessage>::default();
            prop_assert_eq!(round_trip(&mut codec, message.clone()), message);
        }

        #[test]
        fn whole_files_of_any_size_round_trip(path in "\\PC{0,200}", len in 0usize..(1 << 20), byte in any::<u8>(), force in any::<bool>()) {
            let message = ClientMessage::PutWhole {
                path,
                file: crate::FileIdentity { size: len as u64, modified_secs: 1, modified_nanos: 2 },
                force,
                upload_id: [7; 16],
                data: Bytes::from(vec![byte; len]),
                sha256: [byte; 32],
            };
            let mut codec = MessageCodec::<ClientMessage, ClientMessage>::default();
            prop_assert_eq!(round_trip(&mut codec, message.clone()), message);
        }

        #[test]
        fn logins_round_trip(user in "\\PC{0,64}", password in "\\PC{0,64}") {
            let message = ClientMessage::Login { user, password: Password::new(password) };
            let mut codec = MessageCodec::<ClientMessage, ClientMessage>::default();
            prop_assert_eq!(round_trip(&mut codec, message.clone()), message);
        }
    }
}
