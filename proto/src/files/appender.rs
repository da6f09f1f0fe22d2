//! How a file being received is written: with direct I/O where the file system allows it,
//! else through the page cache with write-behind ([`crate::files::writebehind`]).
//!
//! Direct I/O (`O_DIRECT`) hands each block to the disk from the process's own buffer: no
//! page-cache pages to allocate, dirty, write back and drop, which on this project's machine
//! costs about half the CPU time of a buffered write, and nothing is left for a final fsync but
//! the disk's cache. It needs the buffer, the file offset and the length aligned to the block
//! size. Large received chunks arrive page-aligned (see [`crate::codec`]) and are written from
//! where they lie; anything else is gathered in an aligned buffer and written in pieces of up
//! to [`STAGE`] bytes, or sooner when no more data is at hand ([`Appender::flush`]). An
//! unaligned start (a resumed partial) and the last bytes of the file go through the page
//! cache. When the file system refuses
//! direct I/O (tmpfs, some network file systems), everything goes through the page cache.
//!
//! The flag belongs to the open file, so anything else sharing it (a `try_clone`) reads and
//! writes directly too while the appender runs; [`Appender::finish`] clears it.

use std::io::Write;

use bytes::BytesMut;
use rustix::fs::OFlags;

use crate::files::writebehind::WriteBehind;

/// Alignment of direct writes: a page, which covers 512- and 4096-byte disk blocks.
pub const ALIGN: usize = 4096;

/// Bytes gathered before a direct write.
pub const STAGE: usize = 1 << 20;

/// Bytes staged at a time when a chunk written through the page cache is misaligned.
const BUFFERED_STAGING: usize = 64 << 10;

/// Appends to a file positioned at its end.
#[derive(Debug)]
pub struct Appender {
    /// The file, positioned at its end.
    file: std::fs::File,
    /// Length of the file, counting bytes still staged.
    position: u64,
    /// Aligned buffer: bytes gathered for the next direct write, or staged for a buffered one.
    /// Allocated at its first use: chunks aligned where they lie never need it.
    staging: BytesMut,
    /// Bytes gathered in `staging` (direct mode).
    staged: usize,
    /// Bytes to write through the page cache before direct I/O can start (an unaligned start).
    head: usize,
    /// Writing directly.
    direct: bool,
    /// Write-behind for what goes through the page cache.
    behind: WriteBehind,
}

impl Appender {
    /// For `file` holding `offset` bytes and positioned at its end. With `direct`, uses
    /// direct I/O when the file system allows it.
    pub fn new(file: std::fs::File, offset: u64, direct: bool) -> Appender {
        let head = (ALIGN - (offset % ALIGN as u64) as usize) % ALIGN;
        let direct = direct && (head > 0 || set_direct(&file, true).is_ok());
        Appender {
            file,
            position: offset,
            staging: BytesMut::new(),
            staged: 0,
            head,
            direct,
            behind: WriteBehind::new(offset),
        }
    }

    /// Appends `data`.
    pub fn write(&mut self, mut data: &[u8]) -> std::io::Result<()> {
        if !self.direct {
            self.write_buffered(data)?;
            self.position += data.len() as u64;
            return Ok(());
        }
        if self.head > 0 {
            let (now, rest) = data.split_at(self.head.min(data.len()));
            self.write_buffered(now)?;
            self.position += now.len() as u64;
            self.head -= now.len();
            data = rest;
            if self.head == 0 && set_direct(&self.file, true).is_err() {
                self.direct = false;
                return self.write(data);
            }
        }
        while !data.is_empty() {
            if self.staged == 0 && data.len() >= ALIGN && data.as_ptr().align_offset(ALIGN) == 0 {
                // Aligned where it lies (see `crate::codec`): written from there, not copied.
                let (now, rest) = data.split_at(data.len() / ALIGN * ALIGN);
                if !write_direct(&self.file, now)? {
                    self.fall_back_to_page_cache()?;
                    return self.write(data);
                }
                self.position += now.len() as u64;
                data = rest;
                continue;
            }
            let take = (STAGE - self.staged).min(data.len());
            let (now, rest) = data.split_at(take);
            let staged = self.staged;
            self.staging()[staged..staged + take].copy_from_slice(now);
            self.staged += take;
            self.position += take as u64;
            data = rest;
            if self.staged == STAGE {
                self.write_staged(STAGE)?;
            }
        }
        Ok(())
    }

    /// Writes what is staged, except a last piece shorter than [`ALIGN`]: call it when no more
    /// data is at hand, so that bytes received stay in the process only while more follow
    /// at once (a process killed then loses less than [`ALIGN`] of what it took in).
    pub fn flush(&mut self) -> std::io::Result<()> {
        if self.direct && self.head == 0 {
            self.write_staged(self.staged / ALIGN * ALIGN)?;
        }
        Ok(())
    }

    /// Writes what is staged, clears direct I/O, returns the file positioned at its end.
    pub fn finish(mut self) -> std::io::Result<std::fs::File> {
        self.flush()?;
        if self.direct {
            let _ = set_direct(&self.file, false);
            self.direct = false;
            let tail = self.staging.split_to(self.staged);
            self.file.write_all(&tail)?;
        }
        Ok(self.file)
    }

    /// Writes the first `len` staged bytes (a multiple of [`ALIGN`]) directly and keeps the
    /// rest staged; through the page cache instead if the file system refuses.
    fn write_staged(&mut self, len: usize) -> std::io::Result<()> {
        if len == 0 {
            return Ok(());
        }
        if !write_direct(&self.file, &self.staging[..len])? {
            self.fall_back_to_page_cache()?;
            self.file.write_all(&self.staging[..self.staged])?;
            self.behind.advance(&self.file, self.position);
            self.staged = 0;
            return Ok(());
        }
        self.staging.copy_within(len..self.staged, 0);
        self.staged -= len;
        Ok(())
    }

    /// The staging buffer, allocated at the first call: [`STAGE`] bytes for direct writes,
    /// fewer for buffered ones.
    fn staging(&mut self) -> &mut BytesMut {
        if self.staging.is_empty() {
            self.staging = aligned_buffer(if self.direct { STAGE } else { BUFFERED_STAGING });
        }
        &mut self.staging
    }

    /// Direct I/O was refused: from here on the page cache takes everything.
    fn fall_back_to_page_cache(&mut self) -> std::io::Result<()> {
        set_direct(&self.file, false)?;
        self.direct = false;
        Ok(())
    }

    /// Writes `data` through the page cache, from an aligned copy when `data` is misaligned:
    /// the kernel's copy into the page cache is several times slower from a misaligned address
    /// here, and a copy between two user buffers costs little.
    fn write_buffered(&mut self, data: &[u8]) -> std::io::Result<()> {
        let end = self.position + data.len() as u64;
        if data.as_ptr().align_offset(64) == 0 {
            self.file.write_all(data)?;
        } else {
            self.staging();
            let staging = &mut self.staging[self.staged..];
            for piece in data.chunks(staging.len().min(BUFFERED_STAGING)) {
                let staged = &mut staging[..piece.len()];
                staged.copy_from_slice(piece);
                self.file.write_all(staged)?;
            }
        }
        self.behind.advance(&self.file, end);
        Ok(())
    }
}

/// Writes `bytes` (aligned in memory and length) to `file` opened for direct I/O. `false` when
/// the first write was refused for direct I/O (an alignment the disk does not take, say):
/// then nothing was written. A refusal after part of `bytes` went out is an error, so that
/// no caller writes those bytes again.
fn write_direct(mut file: &std::fs::File, bytes: &[u8]) -> std::io::Result<bool> {
    let mut written = 0;
    while written < bytes.len() {
        match file.write(&bytes[written..]) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => written += n,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error)
                if written == 0
                    && error.raw_os_error() == Some(rustix::io::Errno::INVAL.raw_os_error()) =>
            {
                return Ok(false);
            }
            Err(error) => return Err(error),
        }
    }
    Ok(true)
}

/// Sets or clears `O_DIRECT` on the open file.
fn set_direct(file: &std::fs::File, on: bool) -> std::io::Result<()> {
    let flags = rustix::fs::fcntl_getfl(file)?;
    let flags = if on {
        flags | OFlags::DIRECT
    } else {
        flags - OFlags::DIRECT
    };
    Ok(rustix::fs::fcntl_setfl(file, flags)?)
}

/// A zeroed buffer of `len` bytes that starts on a page boundary.
pub fn aligned_buffer(len: usize) -> BytesMut {
    const PAGE: usize = 4096;
    let mut buffer = BytesMut::zeroed(len + PAGE);
    let pad = buffer.as_ptr().align_offset(PAGE).min(PAGE);
    let mut aligned = buffer.split_off(pad);
    aligned.truncate(len);
    aligned
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Seek, SeekFrom};

    fn data(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    /// Appends `pieces` of `bytes` after `prefix` bytes already in the file, each from a
    /// misaligned address or, with `aligned`, from a page boundary; returns the file.
    fn append(direct: bool, prefix: usize, bytes: &[u8], piece: usize, aligned: bool) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, &bytes[..prefix]).unwrap();
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        file.seek(SeekFrom::End(0)).unwrap();
        let mut appender = Appender::new(file, prefix as u64, direct);
        // Misaligned pieces, as small received chunks are; or aligned, as large ones are.
        let source = [&[0u8][..], bytes].concat();
        for (i, chunk) in source[1 + prefix..].chunks(piece).enumerate() {
            if aligned {
                let mut copy = aligned_buffer(chunk.len());
                copy.copy_from_slice(chunk);
                appender.write(&copy).unwrap();
            } else {
                appender.write(chunk).unwrap();
            }
            if i % 3 == 1 {
                appender.flush().unwrap();
            }
        }
        let mut file = appender.finish().unwrap();
        file.write_all(b"!").unwrap();
        drop(file);
        std::fs::read(&path).unwrap()
    }

    #[test]
    fn every_start_and_length_comes_out_whole() {
        let bytes = data(2 * STAGE + 3 * ALIGN + 777);
        for direct in [true, false] {
            for prefix in [0, 1, ALIGN - 1, ALIGN, 3 * ALIGN + 5] {
                for piece in [1000, ALIGN, 1 << 20] {
                    for aligned in [false, true] {
                        let written = append(direct, prefix, &bytes, piece, aligned);
                        assert!(
                            written[..bytes.len()] == bytes[..] && written[bytes.len()..] == *b"!",
                            "direct {direct}, prefix {prefix}, pieces of {piece}, aligned {aligned}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn short_files_and_nothing_at_all() {
        for len in [0, 1, ALIGN - 1, ALIGN, ALIGN + 1] {
            let bytes = data(len);
            assert_eq!(append(true, 0, &bytes, 100, false)[..len], bytes[..]);
            assert_eq!(append(true, 0, &bytes, ALIGN, true)[..len], bytes[..]);
        }
    }

    #[test]
    fn a_flush_leaves_less_than_one_block_in_the_process() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let file = std::fs::File::create(&path).unwrap();
        let mut appender = Appender::new(file, 0, true);
        appender.write(&data(3 * ALIGN + 100)).unwrap();
        appender.flush().unwrap();
        let on_disk = std::fs::metadata(&path).unwrap().len();
        assert!(on_disk >= 3 * ALIGN as u64, "{on_disk} bytes written");
        drop(appender);
    }

    #[test]
    fn the_file_is_left_without_direct_io() {
        let dir = tempfile::tempdir().unwrap();
        let file = std::fs::File::create(dir.path().join("f")).unwrap();
        let mut appender = Appender::new(file, 0, true);
        appender.write(&data(3 * ALIGN + 1)).unwrap();
        let file = appender.finish().unwrap();
        let flags = rustix::fs::fcntl_getfl(&file).unwrap();
        assert!(!flags.contains(OFlags::DIRECT));
    }
}
