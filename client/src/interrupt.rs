//! Ctrl-C (SIGINT) and SIGTERM during a transfer: the first stops it cleanly, a second ends
//! the process at once.
//!
//! Signals keep their default action (the process dies on the spot) until [`Interrupt::arm`],
//! which the connector calls once a login has succeeded: a Ctrl-C at the password prompt still
//! ends the client at once, and no prompt ever runs while signals are caught (a typed password
//! is remembered, so a reconnect does not ask again). A process cannot give a caught signal back
//! its default action, so only commands that handle the interruption (`put`, `get`) enable it.
//!
//! Once armed, the first signal only raises a flag. Every wait for the server, the rate limiter
//! and the pause between retries watch it ([`Interrupt::guard`]) and give up with
//! [`ClientError::Interrupted`]: a download's writer then drains what it received and seals its
//! checkpoint list, an upload's reader stops, and the command exits with [`EXIT_CODE`]. The
//! second signal exits at once with the same code, whatever is in progress.
//!
//! The interactive session lowers the flag again before each command ([`Interrupt::reset`]):
//! a Ctrl-C then stops that command only, and the session goes on.
//! It arms the interrupt before its login, once its line editor has taken SIGINT anyway (see
//! [`crate::shell::interactive`]).
//!
//! Must never: catch a signal before the last prompt; end the process on the first signal.

use std::future::{Future, pending};
use std::sync::{Arc, Once};

use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::watch;

use crate::error::ClientError;

pub use crate::error::INTERRUPTED_EXIT_CODE as EXIT_CODE;

/// Whether a signal asked this command to stop. Clones share the flag. The default one never
/// fires and leaves the signals alone.
#[derive(Debug, Clone, Default)]
pub struct Interrupt {
    /// The flag and its arming; `None` for an interrupt that leaves the signals alone.
    shared: Option<Arc<Shared>>,
}

/// What clones of one [`Interrupt`] share.
#[derive(Debug)]
struct Shared {
    /// The signal handlers are installed once, at the first [`Interrupt::arm`].
    armed: Once,
    /// Raised (`true`) by the first signal.
    raised: watch::Sender<bool>,
}

impl Interrupt {
    /// An interrupt that catches SIGINT and SIGTERM once armed.
    pub fn on_signals() -> Interrupt {
        Interrupt {
            shared: Some(Arc::new(Shared {
                armed: Once::new(),
                raised: watch::Sender::new(false),
            })),
        }
    }

    /// Starts catching SIGINT and SIGTERM (the first time only; needs the tokio runtime). A
    /// signal that cannot be caught keeps its default action.
    pub fn arm(&self) {
        let Some(shared) = &self.shared else {
            return;
        };
        shared.armed.call_once(|| {
            let mut interrupt = signal(SignalKind::interrupt()).ok();
            let mut terminate = signal(SignalKind::terminate()).ok();
            let shared = Arc::clone(shared);
            tokio::spawn(async move {
                loop {
                    either(&mut interrupt, &mut terminate).await;
                    if shared.raised.send_replace(true) {
                        eprintln!("\nftp: interrupted again: stopping at once");
                        std::process::exit(EXIT_CODE.into());
                    }
                }
            });
        });
    }

    /// Whether this interrupt catches signals (once armed).
    pub fn catches_signals(&self) -> bool {
        self.shared.is_some()
    }

    /// Lowers the flag: the next signal stops the next command instead of ending the process
    /// (the interactive session calls this before each command).
    pub fn reset(&self) {
        if let Some(shared) = &self.shared {
            shared.raised.send_replace(false);
        }
    }

    /// Completes once the first signal has come (never, for the default interrupt).
    pub async fn raised(&self) {
        // The sender lives as long as `shared`: waiting fails never.
        if let Some(shared) = &self.shared
            && shared
                .raised
                .subscribe()
                .wait_for(|raised| *raised)
                .await
                .is_ok()
        {
            return;
        }
        pending::<()>().await;
    }

    /// Runs `work` unless the signal comes first (or has already come), in which case `work`
    /// is dropped: give it only work that may stop at any await.
    pub async fn guard<T>(&self, work: impl Future<Output = T>) -> Result<T, ClientError> {
        tokio::select! {
            biased;
            () = self.raised() => Err(ClientError::interrupted()),
            done = work => Ok(done),
        }
    }
}

/// The next SIGINT or SIGTERM among those caught.
async fn either(interrupt: &mut Option<Signal>, terminate: &mut Option<Signal>) {
    tokio::select! {
        () = next(interrupt) => {}
        () = next(terminate) => {}
    }
}

/// The next delivery of a caught signal (never, for one not caught).
async fn next(signal: &mut Option<Signal>) {
    if let Some(signal) = signal
        && signal.recv().await.is_some()
    {
        return;
    }
    pending::<()>().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_default_interrupt_never_fires() {
        let interrupt = Interrupt::default();
        interrupt.arm();
        assert!(matches!(interrupt.guard(async { 7 }).await, Ok(7)));
    }

    #[tokio::test]
    async fn a_raised_interrupt_stops_waiting_work() {
        let interrupt = Interrupt::on_signals();
        let shared = interrupt.shared.clone().unwrap();
        let waiting = tokio::spawn({
            let interrupt = interrupt.clone();
            async move { interrupt.guard(pending::<()>()).await }
        });
        shared.raised.send_replace(true);
        assert!(matches!(
            waiting.await.unwrap(),
            Err(ClientError::Interrupted(_))
        ));
        // Work that is ready is not even started once the signal has come.
        assert!(interrupt.guard(async { 7 }).await.is_err());
    }
}
