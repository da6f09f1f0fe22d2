//! Carrying out `sync --delete`'s plan, after the transfers: on the server a folder goes
//! whole with one `RemoveTree` and a file or link with `Remove` (retried after a lost
//! connection; a path already gone counts as deleted, since the attempt the connection lost
//! may have done it); here through [`super::local::remove`], which never follows a link.
//! Each path gets its `deleted` line; a failure its `failed` line, and the rest still go.

use std::path::Path;

use ftp_proto::ErrorKind;

use crate::connection::Client;
use crate::connector::Connector;
use crate::error::ClientError;
use crate::output::remote_shown;
use crate::progress::Progress;
use crate::transfer;
use crate::tree::names;
use crate::tree::report::Report;

use super::deletions::{Deletion, DeletionPlan};
use super::lines;

/// Where the deletions happen.
pub enum Target<'a> {
    /// In the remote folder `root`, through this connection.
    Remote {
        /// Connects (again) as needed.
        connector: &'a mut Connector,
        /// The open connection, if any.
        client: &'a mut Option<Client>,
        /// Reconnections allowed per request.
        retries: u32,
        /// The remote destination folder.
        root: &'a str,
    },
    /// In the local folder `root`.
    Local {
        /// The local destination folder.
        root: &'a Path,
    },
}

/// Deletes every path of `plan` (those `in_the_way` too), reporting each. Stops at a lost
/// connection that retries could not mend (reported); `Err` for a signal, which ends the
/// command.
pub async fn carry_out(
    target: &mut Target<'_>,
    plan: &DeletionPlan,
    progress: &Progress,
    report: &mut Report,
) -> Result<(), ClientError> {
    for deletion in &plan.deletions {
        if report.ended() {
            return Ok(());
        }
        let (shown, result) = delete_one(target, deletion, progress).await;
        match result {
            Ok(count) => {
                report.summary.deleted += count;
                report.line(
                    progress,
                    lines::deleted_json(&shown, deletion.is_dir, false),
                    Some(lines::deleted_text(
                        &deletion.path,
                        deletion.is_dir,
                        count,
                        false,
                    )),
                );
            }
            Err(error @ ClientError::Interrupted(_)) => return Err(error),
            Err(error) => {
                let stop = transfer::is_retryable(&error);
                match target {
                    Target::Remote { .. } => report.failed(progress, None, Some(&shown), &error),
                    Target::Local { .. } => {
                        report.failed(progress, Some(Path::new(&shown)), None, &error);
                    }
                }
                if stop {
                    return Ok(());
                }
            }
        }
    }
    Ok(())
}

/// Deletes one path; returns how it is shown and how many files and folders went.
async fn delete_one(
    target: &mut Target<'_>,
    deletion: &Deletion,
    progress: &Progress,
) -> (String, Result<u64, ClientError>) {
    match target {
        Target::Remote {
            connector,
            client,
            retries,
            root,
        } => {
            let path = names::remote_join(root, &deletion.path);
            let shown = remote_shown(&path);
            let is_dir = deletion.is_dir;
            let removed = transfer::with_retries(
                connector,
                client,
                *retries,
                progress,
                &shown,
                async |open: &mut Client| {
                    if is_dir {
                        let removed = open.remove_tree(&path).await?;
                        Ok(removed.files + removed.folders)
                    } else {
                        open.remove(&path).await.map(|()| 1)
                    }
                },
            )
            .await;
            let result = match removed {
                Err(ClientError::Remote {
                    kind: ErrorKind::NotFound,
                    ..
                }) => Ok(deletion.count),
                other => other,
            };
            (shown, result)
        }
        Target::Local { root } => {
            let path = root.join(&deletion.path);
            let shown = path.display().to_string();
            let count = deletion.count;
            let result =
                crate::blocking::run(move || super::local::remove(&path).map(|()| count)).await;
            (shown, result)
        }
    }
}
