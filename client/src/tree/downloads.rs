//! The downloads of a tree, in the order planned: a leading run of small files whole and
//! pipelined ([`transfer::compare_or_get_whole_with_retries`]), the others one by one in chunks
//! ([`transfer::get_sized_with_retries`]). Used by `get -r` and by `sync` downloading.

use std::path::PathBuf;

use crate::connection::Client;
use crate::connector::Connector;
use crate::error::ClientError;
use crate::jobs::{GetJob, Outcome};
use crate::progress::Progress;
use crate::transfer::{self, TransferOptions};

/// Downloads `jobs` in order (`sizes` their listed sizes, which the progress total counts;
/// the small ones first): a leading run of small files through [`fetch_whole`], the others
/// one by one. `done` hears of each file and says whether to go on. The one place downloads
/// of a tree go through. `Err`: the run of small files ended (its unanswered files not heard
/// of).
pub async fn download_files(
    connector: &mut Connector,
    client: &mut Option<Client>,
    jobs: &[GetJob],
    sizes: &[u64],
    options: &TransferOptions,
    progress: &Progress,
    mut done: impl FnMut(&GetJob, Result<Outcome, ClientError>) -> bool,
) -> Result<(), ClientError> {
    let small = sizes
        .iter()
        .take_while(|&&size| super::is_small(size, options))
        .count();
    let mut going = true;
    let (run, rest) = jobs.split_at(if small > 1 { small } else { 0 });
    if !run.is_empty() {
        let finished = fetch_whole(connector, client, run, options, progress, |job, result| {
            if going {
                going = done(job, result);
            }
        })
        .await;
        if !going {
            return Ok(());
        }
        finished?;
    }
    for (job, &size) in rest.iter().zip(&sizes[run.len()..]) {
        let result =
            transfer::get_sized_with_retries(connector, client, job, size, options, progress).await;
        if !done(job, result) {
            return Ok(());
        }
    }
    Ok(())
}

/// Downloads a run of small files pipelined ([`transfer::compare_or_get_whole_with_retries`]);
/// `done` hears of each in order. A regular file already at a job's local name (one of the same
/// size and another time: the planner sends the rest elsewhere) is compared as a single `get`
/// compares it, unless the plan replaces it.
async fn fetch_whole(
    connector: &mut Connector,
    client: &mut Option<Client>,
    jobs: &[GetJob],
    options: &TransferOptions,
    progress: &Progress,
    done: impl FnMut(&GetJob, Result<Outcome, ClientError>),
) -> Result<(), ClientError> {
    let locals: Vec<PathBuf> = jobs.iter().map(|job| job.local.clone()).collect();
    let existing = crate::blocking::run(move || {
        Ok(locals
            .iter()
            .map(|local| crate::identical::existing_len(local).ok().flatten())
            .collect::<Vec<_>>())
    })
    .await?;
    transfer::compare_or_get_whole_with_retries(
        connector, client, jobs, &existing, options, progress, done,
    )
    .await
}
