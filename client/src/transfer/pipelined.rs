//! Runs of small files, whole and pipelined, both ways, with retries: a lost connection is
//! reconnected and the run carries on from the first file not yet answered.

use crate::connection::Client;
use crate::connector::Connector;
use crate::error::ClientError;
use crate::progress::Progress;

use super::{TransferOptions, say_a_rerun_resumes, with_retries};
use crate::jobs::{GetJob, Outcome, PutJob};

/// Uploads small files whole and pipelined (see [`crate::whole`]), reconnecting as needed and
/// carrying on from the first unanswered file; `done` hears of each file in order.
pub async fn put_whole_with_retries(
    connector: &mut Connector,
    client: &mut Option<Client>,
    jobs: &[PutJob],
    options: &TransferOptions,
    progress: &Progress,
    mut done: impl FnMut(&PutJob, Result<Outcome, ClientError>),
) -> Result<(), ClientError> {
    let mut next = 0;
    let mut report = |index: usize, result: Result<Outcome, ClientError>| {
        if let Some(job) = jobs.get(index) {
            shown(
                progress,
                &job.local.display().to_string(),
                job.size,
                &result,
            );
            done(job, result);
        }
    };
    with_retries(
        connector,
        client,
        options.retries,
        progress,
        "small files",
        async |open: &mut Client| {
            open.put_whole(
                jobs,
                &mut next,
                options.force,
                options.upload_id,
                &mut report,
            )
            .await
        },
    )
    .await
}

/// Downloads small files pipelined (see [`crate::get_whole`]), reconnecting as needed and
/// carrying on from the first unreported file; `done` hears of each file in order. Without
/// `options.force` the files must have nothing at their local names (an existing one is
/// compared by [`super::get_with_retries`]; one that appears meanwhile is refused, exit 4); with it,
/// what is there is replaced, never compared (a changed file that `sync` replaces). Each
/// job's local folder must exist. `--limit-rate` is not applied here: paced downloads go one
/// by one.
pub async fn get_whole_with_retries(
    connector: &mut Connector,
    client: &mut Option<Client>,
    jobs: &[GetJob],
    options: &TransferOptions,
    progress: &Progress,
    done: impl FnMut(&GetJob, Result<Outcome, ClientError>),
) -> Result<(), ClientError> {
    compare_or_get_whole_with_retries(connector, client, jobs, &[], options, progress, done).await
}

/// [`get_whole_with_retries`], where `existing[index]` may give the length of the regular file
/// already at a job's local name (without `options.force`): that file is compared, pipelined
/// too, as a single `get` compares it (see [`crate::get_whole`]).
pub async fn compare_or_get_whole_with_retries(
    connector: &mut Connector,
    client: &mut Option<Client>,
    jobs: &[GetJob],
    existing: &[Option<u64>],
    options: &TransferOptions,
    progress: &Progress,
    mut done: impl FnMut(&GetJob, Result<Outcome, ClientError>),
) -> Result<(), ClientError> {
    let mut next = 0;
    let mut report = |index: usize, result: Result<Outcome, ClientError>| {
        if let Some(job) = jobs.get(index) {
            shown(
                progress,
                &crate::output::remote_shown(&job.remote),
                0,
                &result,
            );
            done(job, result);
        }
    };
    with_retries(
        connector,
        client,
        options.retries,
        progress,
        "small files",
        async |open: &mut Client| {
            open.get_whole(jobs, existing, &mut next, options.force, &mut report)
                .await
        },
    )
    .await
    .map_err(say_a_rerun_resumes)
}

/// Shows one file of a run as done (a bar named `name`, `size` bytes, which is 0 when the
/// size is not known) or abandoned.
fn shown(progress: &Progress, name: &str, size: u64, result: &Result<Outcome, ClientError>) {
    let bar = progress.file(name, size);
    match result {
        Ok(outcome) => {
            bar.advance(outcome.sent);
            bar.done();
        }
        Err(_) => bar.abandon(),
    }
}
