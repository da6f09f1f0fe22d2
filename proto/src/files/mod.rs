//! The local file machinery both sides stream through, apart from the wire: the hashing
//! reader and writer threads ([`filestream`]), how a received file is written ([`appender`]:
//! direct I/O, else [`writebehind`]), recycled chunk buffers ([`buffer_pool`]), saved hash
//! states so a resume re-hashes at most one interval ([`checkpoint`]), and the 0600 check and
//! atomic write of every file holding a secret ([`private_file`]). Nothing here knows a message
//! or a frame.

pub mod appender;
pub mod buffer_pool;
pub mod checkpoint;
pub mod filestream;
pub mod private_file;
pub mod writebehind;
