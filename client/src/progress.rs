//! Progress on stderr, only on a terminal and never with `--quiet`: one bar per file (bytes,
//! rate, ETA) and a total bar when several files go. A resumed transfer starts its bar where
//! the server already is and says so. Nothing is drawn before [`Progress::show`], which comes
//! after the login, so no bar sits in front of a password prompt. Hashing that moves nothing
//! (a local file read to be compared, a resume's prefix hashed again) gets a bar of its own
//! under the file's, saying what it does ("checking", "hashing"), gone once the hashing ends.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use indicatif::{
    BinaryBytes, HumanBytes, HumanDuration, MultiProgress, ProgressBar, ProgressDrawTarget,
    ProgressState, ProgressStyle,
};

/// Layout of every bar: the rate and ETA count only bytes this run moved (see [`Skipped`]).
const TEMPLATE: &str = "{msg:>12} [{bar:30}] {bytes}/{total_bytes} {rate} ETA {left}";

/// Layout of a hashing bar.
const HASHING: &str = "{msg:>12} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}";

/// The progress display of one command.
#[derive(Debug)]
pub struct Progress {
    /// Holds the bars; hidden when there is no terminal or `--quiet` was given.
    multi: MultiProgress,
    /// Bar for all files together, when there are several, and what it counts that was not
    /// moved.
    total: Option<(ProgressBar, Skipped)>,
    /// Whether notes are printed at all.
    notes: bool,
    /// Whether bars are to be drawn at all (a terminal, no `--quiet`).
    visible: bool,
    /// Whether [`Self::show`] has put them on the terminal.
    shown: AtomicBool,
}

impl Progress {
    /// A display for `files` transfers of `total_bytes` together. Bars show only on a terminal
    /// and without `quiet`; notes (such as "resuming") show unless `quiet`.
    pub fn new(quiet: bool, files: usize, total_bytes: u64) -> Self {
        let visible = !quiet && std::io::stderr().is_terminal();
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::hidden());
        let total = (files > 1).then(|| {
            let skipped = Skipped::default();
            let bar = multi.add(ProgressBar::new(total_bytes));
            bar.set_style(style(&skipped));
            bar.set_message(format!("{files} files"));
            (bar, skipped)
        });
        Progress {
            multi,
            total,
            notes: !quiet,
            visible,
            shown: AtomicBool::new(false),
        }
    }

    /// Starts drawing the bars (on a terminal, without `--quiet`): called once logged in.
    pub fn show(&self) {
        if self.visible && !self.shown.swap(true, Ordering::Relaxed) {
            // The time at the prompt is not transfer time.
            if let Some((total, _)) = &self.total {
                total.reset_elapsed();
            }
            self.multi.set_draw_target(ProgressDrawTarget::stderr());
        }
    }

    /// A bar for one file of `size` bytes.
    pub fn file(&self, name: &str, size: u64) -> FileProgress {
        let skipped = Skipped::default();
        let bar = self.multi.add(ProgressBar::new(size));
        bar.set_style(style(&skipped));
        bar.set_message(short(&crate::output::printable(name)));
        FileProgress {
            bar,
            skipped,
            total: self.total.clone(),
            multi: self.multi.clone(),
            notes: self.notes,
            name: name.to_owned(),
            size,
        }
    }

    /// Runs `print` (which writes to stdout) with the bars out of the way, so lines and bars
    /// never mix on a shared terminal.
    pub fn suspend<T>(&self, print: impl FnOnce() -> T) -> T {
        self.multi.suspend(print)
    }

    /// Clears the total bar once every file is done.
    pub fn finish(&self) {
        if let Some((total, _)) = &self.total {
            total.finish_and_clear();
        }
    }

    /// Prints a line above the bars (or plainly on stderr when there are none).
    pub fn note(&self, text: &str) {
        if !self.notes {
            return;
        }
        print_note(&self.multi, text);
    }
}

/// One file's bar.
#[derive(Debug)]
pub struct FileProgress {
    /// The file's bar.
    bar: ProgressBar,
    /// What the file's bar counts that this run did not move (where it resumed).
    skipped: Skipped,
    /// The total bar, if any.
    total: Option<(ProgressBar, Skipped)>,
    /// Where notes go.
    multi: MultiProgress,
    /// Whether notes are printed.
    notes: bool,
    /// The file's name, for notes.
    name: String,
    /// The file's size, for notes.
    size: u64,
}

impl FileProgress {
    /// Starts (or restarts, after a reconnect) at `offset`, already on the `place` side, and
    /// says so when that is a resume.
    pub fn start_at(&self, offset: u64, place: &str) {
        self.start_sized(offset, self.bar.length().unwrap_or(self.size), place);
    }

    /// Like [`Self::start_at`], for a file whose size was learnt just now (a download).
    pub fn start_sized(&self, offset: u64, size: u64, place: &str) {
        if self.bar.length() != Some(size) {
            self.bar.set_length(size);
            if let Some((total, _)) = &self.total {
                let known = total.length().unwrap_or(0);
                total.set_length(known + size);
            }
        }
        if offset > 0 && self.notes {
            print_note(&self.multi, &resume_note(&self.name, offset, size, place));
        }
        let before = self.bar.position();
        self.skipped.set(offset);
        self.bar.reset_elapsed();
        self.bar.set_position(offset);
        if let Some((total, skipped)) = &self.total {
            skipped.add(offset.saturating_sub(before));
            total.set_position(total.position() - before.min(total.position()) + offset);
        }
    }

    /// Counts `bytes` more as moved.
    pub fn advance(&self, bytes: u64) {
        self.bar.inc(bytes);
        if let Some((total, _)) = &self.total {
            total.inc(bytes);
        }
    }

    /// The file is complete (sent, resumed or already there): fills its share of the total
    /// and removes its bar (the summary line replaces it).
    pub fn done(&self) {
        let size = self.bar.length().unwrap_or(self.size);
        let remaining = size.saturating_sub(self.bar.position());
        if let Some((total, skipped)) = &self.total {
            total.inc(remaining);
            skipped.add(remaining);
        }
        self.bar.finish_and_clear();
    }

    /// Prints a line about this file above the bars.
    pub fn note(&self, text: &str) {
        if self.notes {
            print_note(&self.multi, text);
        }
    }

    /// The file failed: removes its bar.
    pub fn abandon(&self) {
        self.bar.finish_and_clear();
    }

    /// What hears of hashing that moves nothing for this file (see
    /// [`ftp_proto::files::filestream::HashProgress`]): a bar labelled `what` and the file's name,
    /// drawn under the file's own where bars are drawn, shown from the first byte hashed and
    /// removed when all are, or when the hashing stops.
    pub fn hashing(&self, what: &str) -> ftp_proto::files::filestream::HashProgress {
        let mut bar = HashBar {
            multi: self.multi.clone(),
            after: self.bar.clone(),
            label: format!("{what} {}", short(&crate::output::printable(&self.name))),
            bar: None,
        };
        Box::new(move |done, total| bar.tell(done, total))
    }
}

/// The bar of one pass of hashing that moves nothing; made on the first news of it.
struct HashBar {
    /// Where the bar goes.
    multi: MultiProgress,
    /// The file's bar, which it goes under.
    after: ProgressBar,
    /// What the bar says.
    label: String,
    /// The bar, once hashing has begun.
    bar: Option<ProgressBar>,
}

impl HashBar {
    /// `done` of `total` bytes are hashed.
    fn tell(&mut self, done: u64, total: u64) {
        let bar = self.bar.get_or_insert_with(|| {
            let bar = self
                .multi
                .insert_after(&self.after, ProgressBar::new(total));
            bar.set_style(
                ProgressStyle::with_template(HASHING)
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar.set_message(self.label.clone());
            bar
        });
        bar.set_position(done);
        if done >= total {
            bar.finish_and_clear();
        }
    }
}

impl Drop for HashBar {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Prints a line above the bars, or plainly on stderr when the bars are hidden.
fn print_note(multi: &MultiProgress, text: &str) {
    // Notes carry names: never raw to the terminal.
    let text = crate::output::printable_lines(text);
    if multi.is_hidden() {
        eprintln!("{text}");
    } else {
        let _ = multi.println(text);
    }
}

/// "resuming at 94 %, 1.2 GiB already on the server"
pub fn resume_note(name: &str, offset: u64, size: u64, place: &str) -> String {
    let percent = (u128::from(offset) * 100)
        .checked_div(u128::from(size))
        .unwrap_or(100);
    format!(
        "{name}: resuming at {percent} %, {} already on the {place}",
        HumanBytes(offset)
    )
}

/// Bytes a bar counts that the current run did not move: what was already on the other side
/// when it resumed, or a file found identical. Its rate and ETA leave them out; indicatif's
/// own would take a resume's jump to 94 % for a burst of speed.
#[derive(Debug, Clone, Default)]
struct Skipped(Arc<AtomicU64>);

impl Skipped {
    fn set(&self, bytes: u64) {
        self.0.store(bytes, Ordering::Relaxed);
    }

    fn add(&self, bytes: u64) {
        self.0.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Bytes per second this run moved, on average since its start (0 for its first quarter
    /// second, when an average says nothing yet).
    fn rate(&self, state: &ProgressState) -> f64 {
        let moved = state.pos().saturating_sub(self.0.load(Ordering::Relaxed));
        let seconds = state.elapsed().as_secs_f64();
        if seconds >= 0.25 {
            moved as f64 / seconds
        } else {
            0.0
        }
    }
}

/// The bar style, with `{rate}` and `{left}` (ETA) from `skipped`'s view of the bar (the
/// template is a constant, so parsing cannot fail in practice).
fn style(skipped: &Skipped) -> ProgressStyle {
    let (for_rate, for_left) = (skipped.clone(), skipped.clone());
    ProgressStyle::with_template(TEMPLATE)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key(
            "rate",
            move |state: &ProgressState, out: &mut dyn std::fmt::Write| {
                let _ = write!(out, "{}/s", BinaryBytes(for_rate.rate(state) as u64));
            },
        )
        .with_key(
            "left",
            move |state: &ProgressState, out: &mut dyn std::fmt::Write| {
                let rate = for_left.rate(state);
                let left = state.len().unwrap_or(0).saturating_sub(state.pos());
                let eta = if rate > 0.0 {
                    Duration::from_secs_f64(left as f64 / rate)
                } else {
                    Duration::ZERO
                };
                let _ = write!(out, "{:#}", HumanDuration(eta));
            },
        )
        .progress_chars("=> ")
}

/// A file name cut to fit the bar's label.
fn short(name: &str) -> String {
    const WIDTH: usize = 24;
    let count = name.chars().count();
    if count <= WIDTH {
        name.to_owned()
    } else {
        let tail: String = name.chars().skip(count - (WIDTH - 1)).collect();
        format!("…{tail}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resume_notes_and_labels() {
        assert_eq!(
            resume_note("big.iso", 94, 100, "server"),
            "big.iso: resuming at 94 %, 94 B already on the server"
        );
        assert_eq!(short("a.txt"), "a.txt");
        assert_eq!(short(&"x".repeat(40)).chars().count(), 24);
    }
}
