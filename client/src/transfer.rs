//! Transfers with retries: a lost connection is reconnected, logged in again and resumed, with
//! exponential backoff, up to `--retries` times per file, for uploads and downloads alike.
//! Failures that retrying cannot fix (refusals, integrity, local errors, a signal) stop at
//! once; a signal also cuts a pause or a reconnect short. A `--limit-rate` below the server's
//! minimum transfer rate is refused on each connection before the transfer starts. A put or get that runs out of retries
//! says that a rerun of the same command resumes.

use std::time::Duration;

use crate::connection::Client;
use crate::connector::Connector;
use crate::error::ClientError;
use crate::jobs::{GetJob, GetPlan, Outcome, PutJob, PutPlan, Report, Tally};
use crate::progress::FileProgress;
use crate::progress::Progress;
use crate::rate::RateLimiter;

mod pipelined;
pub use pipelined::{
    compare_or_get_whole_with_retries, get_whole_with_retries, put_whole_with_retries,
};

/// First pause before a retry; doubled each time.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);

/// Longest pause between retries.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Settings shared by every file of a command.
#[derive(Debug, Clone)]
pub struct TransferOptions {
    /// Replace existing files on the receiving side.
    pub force: bool,
    /// Reconnects allowed per file.
    pub retries: u32,
    /// Bytes per second, if limited.
    pub limit_rate: Option<u64>,
    /// The command's id (lets a reconnect take over its own lock).
    pub upload_id: [u8; 16],
}

impl TransferOptions {
    /// The settings of one command, under a new id of its own.
    pub fn new(force: bool, retries: u32, limit_rate: Option<u64>) -> Result<Self, ClientError> {
        Ok(TransferOptions {
            force,
            retries,
            limit_rate,
            upload_id: new_upload_id()?,
        })
    }
}

/// Closes a file's bar and turns the last attempt's report and the tally into the outcome.
fn conclude(
    bar: &FileProgress,
    result: Result<Report, ClientError>,
    tally: &Tally,
) -> Result<Outcome, ClientError> {
    match result {
        Ok(report) => {
            bar.done();
            Ok(Outcome {
                size: report.size,
                sent: tally.sent,
                resumed_from: tally.resumed_from.unwrap_or(report.offset),
                sha256: report.sha256,
                identical: report.identical,
                hashed_from_cache: tally.hashed_from_cache,
            })
        }
        Err(error) => {
            bar.abandon();
            Err(error)
        }
    }
}

/// Whether reconnecting may fix this error.
pub fn is_retryable(error: &ClientError) -> bool {
    match error {
        ClientError::Connect { .. } | ClientError::Connection(_) => true,
        ClientError::Remote { kind, .. } => kind.is_transient(),
        _ => false,
    }
}

/// The pause before retry number `attempt` (1-based).
pub fn backoff(attempt: u32) -> Duration {
    FIRST_BACKOFF
        .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
        .min(MAX_BACKOFF)
}

/// A fresh random id for one command.
pub fn new_upload_id() -> Result<[u8; 16], ClientError> {
    let mut id = [0u8; 16];
    getrandom::fill(&mut id)
        .map_err(|e| ClientError::Protocol(format!("cannot get random bytes: {e}")))?;
    Ok(id)
}

/// A lost or refused connection that ended a put or get (retries spent): says that what was
/// moved is kept, so the same command resumes. Other errors pass unchanged.
fn say_a_rerun_resumes(error: ClientError) -> ClientError {
    const HINT: &str = "anything already sent is kept: run the same command again to resume";
    match error {
        ClientError::Connect { server, reason } => ClientError::Connect {
            server,
            reason: format!("{reason}; {HINT}"),
        },
        ClientError::Connection(reason) => ClientError::Connection(format!("{reason}; {HINT}")),
        other => other,
    }
}

/// Runs `attempt` on the open connection (connecting first if there is none), reconnecting
/// and trying again after a lost connection, up to `retries` times with backoff. `client` is
/// left open for the next transfer, or `None` after a connection failure or an attempt that
/// left answers unread (see [`Client::is_out_of_step`]).
pub async fn with_retries<T>(
    connector: &mut Connector,
    client: &mut Option<Client>,
    retries: u32,
    progress: &Progress,
    name: &str,
    mut attempt: impl AsyncFnMut(&mut Client) -> Result<T, ClientError>,
) -> Result<T, ClientError> {
    let interrupt = connector.interrupt().clone();
    let mut failures = 0;
    loop {
        let result = match client {
            Some(open) => attempt(open).await,
            None => match interrupt.guard(connector.connect()).await {
                Ok(Ok(open)) => {
                    // Logged in: no prompt can come any more, bars may be drawn.
                    progress.show();
                    attempt(client.insert(open)).await
                }
                Ok(Err(error)) | Err(error) => Err(error),
            },
        };
        match result {
            Ok(value) => return Ok(value),
            Err(error) if is_retryable(&error) && failures < retries => {
                *client = None;
                failures += 1;
                let pause = backoff(failures);
                progress.note(&format!(
                    "{name}: {error}; reconnecting in {:.1} s (retry {failures} of {retries})",
                    pause.as_secs_f64(),
                ));
                interrupt.guard(tokio::time::sleep(pause)).await?;
            }
            Err(error) => {
                if is_retryable(&error) || client.as_ref().is_some_and(Client::is_out_of_step) {
                    *client = None;
                }
                return Err(error);
            }
        }
    }
}

/// Uploads one file, reconnecting as needed.
pub async fn put_with_retries(
    connector: &mut Connector,
    client: &mut Option<Client>,
    job: &PutJob,
    options: &TransferOptions,
    progress: &Progress,
) -> Result<Outcome, ClientError> {
    let name = job.local.display().to_string();
    let bar = progress.file(&name, job.size);
    let plan = PutPlan {
        local: &job.local,
        remote: &job.remote,
        force: options.force,
        upload_id: options.upload_id,
    };
    let mut tally = Tally::default();
    let result = with_retries(
        connector,
        client,
        options.retries,
        progress,
        &name,
        async |open: &mut Client| {
            open.check_limit_rate(options.limit_rate)?;
            let limiter = options.limit_rate.map(RateLimiter::new);
            open.put(&plan, limiter, &bar, &mut tally).await
        },
    )
    .await
    .map_err(say_a_rerun_resumes);
    conclude(&bar, result, &tally)
}

/// Downloads one file, reconnecting as needed.
pub async fn get_with_retries(
    connector: &mut Connector,
    client: &mut Option<Client>,
    job: &GetJob,
    options: &TransferOptions,
    progress: &Progress,
) -> Result<Outcome, ClientError> {
    get_sized_with_retries(connector, client, job, 0, options, progress).await
}

/// [`get_with_retries`] for a file whose size a listing told (`size`, 0 when unknown): the
/// progress total already counts it, so the file's bar starts at that size.
pub async fn get_sized_with_retries(
    connector: &mut Connector,
    client: &mut Option<Client>,
    job: &GetJob,
    size: u64,
    options: &TransferOptions,
    progress: &Progress,
) -> Result<Outcome, ClientError> {
    // Named as every result line names it.
    let name = crate::output::remote_shown(&job.remote);
    let plan = GetPlan {
        remote: &job.remote,
        local: &job.local,
        durable: job.durable,
        force: options.force,
    };
    // Else the size is known only once the server answers; the bar learns it then.
    let bar = progress.file(&name, size);
    let mut tally = Tally::default();
    let result = with_retries(
        connector,
        client,
        options.retries,
        progress,
        &name,
        async |open: &mut Client| {
            open.check_limit_rate(options.limit_rate)?;
            let limiter = options.limit_rate.map(RateLimiter::new);
            open.get(&plan, limiter, &bar, &mut tally).await
        },
    )
    .await
    .map_err(say_a_rerun_resumes);
    conclude(&bar, result, &tally)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_a_cap() {
        assert_eq!(backoff(1), Duration::from_millis(500));
        assert_eq!(backoff(2), Duration::from_secs(1));
        assert_eq!(backoff(3), Duration::from_secs(2));
        assert_eq!(backoff(40), MAX_BACKOFF);
    }

    #[test]
    fn only_connection_failures_are_retried() {
        assert!(is_retryable(&ClientError::Connection("reset".into())));
        assert!(is_retryable(&ClientError::Connect {
            server: "x".into(),
            reason: "refused".into()
        }));
        assert!(!is_retryable(&ClientError::Remote {
            kind: ftp_proto::ErrorKind::Busy,
            message: String::new()
        }));
        assert!(!is_retryable(&ClientError::Protocol(String::new())));
        assert!(is_retryable(&ClientError::Remote {
            kind: ftp_proto::ErrorKind::Unavailable,
            message: String::new()
        }));
        assert!(!is_retryable(&ClientError::Remote {
            kind: ftp_proto::ErrorKind::NoSpace,
            message: String::new()
        }));
    }
}
