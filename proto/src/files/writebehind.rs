//! Write-behind for a file written front to back: writeback of each [`WINDOW`] starts as soon
//! as it is written, and the window before it, clean by then, leaves the page cache.
//!
//! A transfer then holds about two windows of the page cache instead of the whole file, and
//! its writes land in pages the kernel just freed. On this project's machine that decides the
//! speed: a page the kernel has not used lately must first be handed back by the host, which
//! costs about 2.5 s per GiB, while a recycled page costs nothing (see the README's benchmark
//! notes). A final fsync also finds little left to write, and a long upload does not push
//! everyone else's files out of the cache.
//!
//! Both steps are `posix_fadvise(POSIX_FADV_DONTNEED)`: on dirty pages it starts their
//! writeback without waiting, on clean pages it drops them. Pages still being written when the
//! second call comes stay cached; nothing waits, and nothing is lost either way: a dropped
//! page is on the disk. Best effort: a failed call only leaves more in the cache.

use std::num::NonZeroU64;

/// Bytes written between two steps.
pub const WINDOW: u64 = 8 << 20;

/// Where a file's write-behind stands.
#[derive(Debug)]
pub struct WriteBehind {
    /// Writeback has been started for everything before this offset.
    started: u64,
    /// Everything before this offset has been dropped from the cache.
    dropped: u64,
}

impl WriteBehind {
    /// For a file whose bytes before `offset` were written earlier (they are left alone).
    pub fn new(offset: u64) -> WriteBehind {
        WriteBehind {
            started: offset,
            dropped: offset,
        }
    }

    /// The file now holds `written` bytes: once a window has gathered, starts its writeback
    /// and drops the window before it.
    pub fn advance(&mut self, file: &std::fs::File, written: u64) {
        if written < self.started + WINDOW {
            return;
        }
        advise_dont_need(file, self.started, written - self.started);
        if self.started > self.dropped {
            advise_dont_need(file, self.dropped, self.started - self.dropped);
            self.dropped = self.started;
        }
        self.started = written;
    }
}

/// `POSIX_FADV_DONTNEED` on `len` bytes at `offset`.
fn advise_dont_need(file: &std::fs::File, offset: u64, len: u64) {
    let _ = rustix::fs::fadvise(
        file,
        offset,
        NonZeroU64::new(len),
        rustix::fs::Advice::DontNeed,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn steps_come_once_a_window_has_gathered_and_drop_only_older_windows() {
        let dir = tempfile::tempdir().unwrap();
        let file = std::fs::File::create(dir.path().join("f")).unwrap();
        let mut behind = WriteBehind::new(100);
        behind.advance(&file, 100 + WINDOW - 1);
        assert_eq!((behind.started, behind.dropped), (100, 100));
        behind.advance(&file, 100 + WINDOW);
        assert_eq!((behind.started, behind.dropped), (100 + WINDOW, 100));
        behind.advance(&file, 100 + 3 * WINDOW);
        assert_eq!(
            (behind.started, behind.dropped),
            (100 + 3 * WINDOW, 100 + WINDOW)
        );
    }

    #[test]
    fn what_was_written_reads_back_whole_after_the_pages_left_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut file = std::fs::File::create(&path).unwrap();
        let data: Vec<u8> = (0..3 * WINDOW as usize + 12_345)
            .map(|i| (i % 251) as u8)
            .collect();
        let mut behind = WriteBehind::new(0);
        let mut written = 0;
        for piece in data.chunks(1 << 20) {
            file.write_all(piece).unwrap();
            written += piece.len() as u64;
            behind.advance(&file, written);
        }
        drop(file);
        assert!(std::fs::read(&path).unwrap() == data);
    }
}
