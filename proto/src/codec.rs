//! Framing: a 4-byte big-endian length, then a body of one of two kinds: a bincode-encoded
//! message, or file data ([`FILE_DATA_MARK`], a varint offset, the bytes to the frame's end).
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

/// First byte of a file-data frame's body. A message frame's body starts with its variant
/// index as a bincode varint, below 251 for any enum, and 255 is no varint marker at all: so
/// the two kinds of frame are told apart by this byte, never by a message's variant index, and
/// a peer of an older version still reads the hello and the version refusal.
pub const FILE_DATA_MARK: u8 = 0xFF;

/// A message type the codec can decode from a whole frame. File data (`Chunk`, `Data`) comes
/// in its own kind of frame ([`FILE_DATA_MARK`], the offset as a varint, then the bytes to
/// the frame's end) and is sliced out of the received frame without a copy; everything else is
/// a bincode-encoded message.
pub trait FrameMessage: DeserializeOwned {
    /// This type's file-data message.
    fn file_data(offset: u64, data: Bytes) -> Self;

    /// The offset and bytes of this message if it is file data (sent as a file-data frame).
    fn as_file_data(&self) -> Option<(u64, &Bytes)>;

    /// Decodes one frame's payload.
    fn from_frame(frame: Bytes) -> Result<Self, CodecError> {
        if let Some(&FILE_DATA_MARK) = frame.first() {
            let (offset, start) = data_head_of(&frame)
                .ok_or_else(|| CodecError::Malformed("a file-data frame with no offset".into()))?;
            return Ok(Self::file_data(offset, frame.slice(start..)));
        }
        let message: Self = decode_payload(&frame)?;
        if message.as_file_data().is_some() {
            return Err(CodecError::Malformed(
                "file data inside a message frame (it has a frame kind of its own)".into(),
            ));
        }
        Ok(message)
    }
}

/// Most bytes before a file-data body's data: the mark and a varint.
const FILE_DATA_HEAD_MAX: usize = 1 + 9;

/// The offset of a file-data body and where its data starts; `None` while the head is not
/// whole (or is not a varint).
fn data_head_of(body: &[u8]) -> Option<(u64, usize)> {
    let (offset, used) =
        bincode::decode_from_slice::<u64, _>(body.get(1..)?, config::<16>()).ok()?;
    Some((offset, 1 + used))
}

/// The start of a file-data frame carrying `len` bytes at `offset`, byte for byte as the
/// encoder writes it: length prefix, [`FILE_DATA_MARK`], varint offset. The head followed by
/// the bytes is the whole frame, so a sender can write file data from where it lies instead of
/// copying it into the frame buffer. An error when the frame would exceed [`MAX_FRAME_LEN`].
pub fn file_data_head(offset: u64, len: usize) -> Result<Bytes, CodecError> {
    let mut body = [0u8; FILE_DATA_HEAD_MAX];
    body[0] = FILE_DATA_MARK;
    let used = 1 + bincode::encode_into_slice(offset, &mut body[1..], config::<16>())
        .map_err(|e| CodecError::Encode(e.to_string()))?;
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

impl FrameMessage for ClientMessage {
    fn file_data(offset: u64, data: Bytes) -> Self {
        ClientMessage::Chunk { offset, data }
    }

    fn as_file_data(&self) -> Option<(u64, &Bytes)> {
        match self {
            ClientMessage::Chunk { offset, data } => Some((*offset, data)),
            _ => None,
        }
    }
}

impl FrameMessage for ServerMessage {
    fn file_data(offset: u64, data: Bytes) -> Self {
        ServerMessage::Data { offset, data }
    }

    fn as_file_data(&self) -> Option<(u64, &Bytes)> {
        match self {
            ServerMessage::Data { offset, data } => Some((*offset, data)),
            _ => None,
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
            make_room(src, len);
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
fn make_room(src: &mut BytesMut, len: usize) {
    if len >= ALIGN_DATA_FROM && src.first() == Some(&FILE_DATA_MARK) {
        match data_head_of(src) {
            Some((_, start)) => return align_data(src, len, start),
            // The reader always asks for more bytes; the head comes with them.
            None if src.len() < FILE_DATA_HEAD_MAX => return,
            None => {}
        }
    }
    src.reserve(len - src.len());
}

/// Moves what `src` holds of a `len`-byte body into a buffer where the body's byte `start` (its
/// data) is on a page boundary and the whole body fits, unless it already is. The rest of the
/// body is then read straight to its place: a receiver can write the data to disk by direct
/// I/O from where it lies, without an aligned copy (see [`crate::files::appender`]). Costs one copy of
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

impl<In, Out: FrameMessage + Serialize> Encoder<Out> for MessageCodec<In, Out> {
    type Error = CodecError;

    fn encode(&mut self, message: Out, dst: &mut BytesMut) -> Result<(), CodecError> {
        if let Some((offset, data)) = message.as_file_data() {
            let head = file_data_head(offset, data.len())?;
            if head.len() - LENGTH_PREFIX + data.len() > self.max_frame_len {
                return Err(CodecError::Encode(format!(
                    "{} bytes of file data exceed the frame limit of {} bytes",
                    data.len(),
                    self.max_frame_len
                )));
            }
            dst.reserve(head.len() + data.len());
            dst.put_slice(&head);
            dst.put_slice(data);
            return Ok(());
        }
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
            ClientMessage::DiskUsage {},
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
            ServerMessage::DiskUsage(crate::UsageInfo {
                used_bytes: 9 << 30,
                used_files: 12,
                partial_bytes: 1,
                quota_bytes: Some(10 << 30),
                max_files: None,
            }),
            ServerMessage::Error {
                kind: ErrorKind::Quota,
                message: "quota".into(),
            },
        ]
    }

    fn round_trip<In, Out>(codec: &mut MessageCodec<In, Out>, message: Out) -> In
    where
        In: FrameMessage,
        Out: FrameMessage + Serialize,
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
        assert!(file_data_head(u64::MAX, crate::MAX_CHUNK_LEN).is_ok());
        assert!(file_data_head(0, MAX_FRAME_LEN).is_err());
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
    fn no_message_frame_starts_with_the_file_data_mark() {
        for message in every_client_message() {
            if message.as_file_data().is_none() {
                assert_ne!(
                    encode_payload(&message).unwrap()[0],
                    FILE_DATA_MARK,
                    "{message:?}"
                );
            }
        }
        for message in every_server_message() {
            if message.as_file_data().is_none() {
                assert_ne!(
                    encode_payload(&message).unwrap()[0],
                    FILE_DATA_MARK,
                    "{message:?}"
                );
            }
        }
    }

    #[test]
    fn file_data_inside_a_message_frame_is_refused() {
        let chunk = ClientMessage::Chunk {
            offset: 1,
            data: Bytes::from_static(b"x"),
        };
        let payload = Bytes::from(encode_payload(&chunk).unwrap());
        assert!(matches!(
            ClientMessage::from_frame(payload),
            Err(CodecError::Malformed(_))
        ));
        let data = ServerMessage::Data {
            offset: 1,
            data: Bytes::from_static(b"x"),
        };
        let payload = Bytes::from(encode_payload(&data).unwrap());
        assert!(ServerMessage::from_frame(payload).is_err());
        assert!(ClientMessage::from_frame(Bytes::from_static(&[FILE_DATA_MARK])).is_err());
    }

    proptest! {
        #[test]
        fn file_data_is_sliced_out_of_its_frame_without_a_copy(offset in any::<u64>(), data in proptest::collection::vec(any::<u8>(), 0..3000)) {
            let data = Bytes::from(data);
            let mut wire = BytesMut::new();
            ClientCodec::default().encode(ClientMessage::Chunk { offset, data: data.clone() }, &mut wire).unwrap();
            let frame = wire.split_off(LENGTH_PREFIX).freeze();
            let decoded = ClientMessage::from_frame(frame.clone()).unwrap();
            let Some((at, received)) = decoded.as_file_data() else {
                panic!("expected file data, got {decoded:?}");
            };
            prop_assert_eq!((at, received), (offset, &data));
            let inside = frame.as_ptr() as usize..frame.as_ptr() as usize + frame.len() + 1;
            prop_assert!(inside.contains(&(received.as_ptr() as usize)), "sliced, not copied");
            let mut wire = BytesMut::new();
            ServerCodec::default().encode(ServerMessage::Data { offset, data: data.clone() }, &mut wire).unwrap();
            let decoded = ServerMessage::from_frame(wire.split_off(LENGTH_PREFIX).freeze()).unwrap();
            prop_assert_eq!(decoded, ServerMessage::Data { offset, data });
        }

        #[test]
        fn file_data_heads_make_the_frames_the_encoder_makes(offset in any::<u64>(), data in proptest::collection::vec(any::<u8>(), 0..3000)) {
            let data = Bytes::from(data);
            let mut encoded = BytesMut::new();
            ClientCodec::default()
                .encode(ClientMessage::Chunk { offset, data: data.clone() }, &mut encoded)
                .unwrap();
            let head = file_data_head(offset, data.len()).unwrap();
            prop_assert_eq!(&encoded[..head.len()], &head[..]);
            prop_assert_eq!(&encoded[head.len()..], &data[..]);
            let mut encoded = BytesMut::new();
            ServerCodec::default()
                .encode(ServerMessage::Data { offset, data: data.clone() }, &mut encoded)
                .unwrap();
            let head = file_data_head(offset, data.len()).unwrap();
            prop_assert_eq!(&encoded[..head.len()], &head[..]);
            prop_assert_eq!(&encoded[head.len()..], &data[..]);
        }

        #[test]
        fn mangled_file_data_frames_decode_to_a_value_or_an_error(mut bytes in proptest::collection::vec(any::<u8>(), 1..64)) {
            bytes[0] = FILE_DATA_MARK;
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
            messages.push(ClientMessage::PutWhole(crate::message::WholeRequest {
                path: "big".into(),
                file: crate::FileIdentity { size: 90_000, modified_secs: 1, modified_nanos: 2 },
                force: false,
                upload_id: [7; 16],
                data: bytes(90_000),
                sha256: [1; 32],
            }));
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
            let message = ClientMessage::PutWhole(crate::message::WholeRequest {
                path,
                file: crate::FileIdentity { size: len as u64, modified_secs: 1, modified_nanos: 2 },
                force,
                upload_id: [7; 16],
                data: Bytes::from(vec![byte; len]),
                sha256: [byte; 32],
            });
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
