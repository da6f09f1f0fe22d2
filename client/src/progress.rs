//! Progress on stderr, only on a terminal and never with `--quiet`: one bar per file (bytes,
//! rate, ETA) and a total bar when several files go. A resumed transfer starts its bar where
//! the server already is and says so. Nothing is drawn before [`Progress::show`], which comes
//! after the login, so no bar sits in front of a password prompt.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

use indicatif::{HumanBytes, MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The progress display of one command.
#[derive(Debug)]
pub struct Progress {
    /// Holds the bars; hidden when there is no terminal or `--quiet` was given.
    multi: MultiProgress,
    /// Bar for all files together, when there are several.
    total: Option<ProgressBar>,
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
            let bar = multi.add(ProgressBar::new(total_bytes));
            bar.set_style(style(
                "{msg:>12} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
            ));
            bar.set_message(format!("{files} files"));
            bar
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
            if let Some(total) = &self.total {
                total.reset_elapsed();
                total.reset_eta();
            }
            self.multi.set_draw_target(ProgressDrawTarget::stderr());
        }
    }

    /// A bar for one file of `size` bytes.
    pub fn file(&self, name: &str, size: u64) -> FileProgress {
        let bar = self.multi.add(ProgressBar::new(size));
        bar.set_style(style(
            "{msg:>12} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
        ));
        bar.set_message(short(name));
        FileProgress {
            bar,
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
        if let Some(total) = &self.total {
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
    /// The total bar, if any.
    total: Option<ProgressBar>,
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
            if let Some(total) = &self.total {
                let known = total.length().unwrap_or(0);
                total.set_length(known + size);
            }
        }
        if offset > 0 && self.notes {
            print_note(&self.multi, &resume_note(&self.name, offset, size, place));
        }
        let before = self.bar.position();
        self.bar.set_position(offset);
        self.bar.reset_eta();
        if let Some(total) = &self.total {
            total.set_position(total.position() - before.min(total.position()) + offset);
        }
    }

    /// Counts `bytes` more as moved.
    pub fn advance(&self, bytes: u64) {
        self.bar.inc(bytes);
        if let Some(total) = &self.total {
            total.inc(bytes);
        }
    }

    /// The file is complete (sent, resumed or already there): fills its share of the total
    /// and removes its bar (the summary line replaces it).
    pub fn done(&self) {
        let size = self.bar.length().unwrap_or(self.size);
        let remaining = size.saturating_sub(self.bar.position());
        if let Some(total) = &self.total {
            total.inc(remaining);
        }
        self.bar.finish_and_clear();
    }

    /// The file failed: removes its bar.
    pub fn abandon(&self) {
        self.bar.finish_and_clear();
    }
}

/// Prints a line above the bars, or plainly on stderr when the bars are hidden.
fn print_note(multi: &MultiProgress, text: &str) {
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

/// A bar style (the templates are constants, so parsing cannot fail in practice).
fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
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
