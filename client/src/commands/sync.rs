//! `ftp sync SRC DST`: make DST identical to SRC, one way (the remote side written `:PATH`).
//!
//! Built on the tree engine ([`crate::tree`]): both trees are listed and planned before
//! anything moves, changed files are replaced without `--force` (sync's name says so),
//! unchanged ones skipped by the quick check (or `--checksum`); then, with `--delete`, what SRC
//! lacks goes ([`crate::sync::deletions`]), after the transfers and only if none of them
//! failed. A missing SRC is an error before anything; an empty one, or more deletions than
//! `--max-delete`, deletes nothing (exit 4). `--dry-run` lists and prints, and changes nothing.

use std::path::Path;

use crate::cli::{GlobalArgs, SyncArgs};
use crate::connection::Client;
use crate::connector::Connector;
use crate::error::ClientError;
use crate::output::printable;
use crate::progress::Progress;
use crate::sync::delete::{self, Target};
use crate::sync::deletions::{DeletionPlan, Listed};
use crate::sync::dry_run::{self, DryRun};
use crate::sync::lines::Direction;
use crate::sync::sides::Sides;
use crate::transfer::{self, TransferOptions};
use crate::tree::plan::{Item, PlanOptions};
use crate::tree::report::Report;
use crate::tree::{self, names};
use ftp_proto::{EntryKind, TreeEntry};

/// Runs `ftp sync`.
pub async fn run(global: &GlobalArgs, args: SyncArgs) -> Result<(), ClientError> {
    let (src, dst) = (args.src.clone(), args.dst.clone());
    let sides = crate::blocking::run(move || {
        let sides = Sides::parse(&src, &dst, |path| names::local_folder_name(path).ok())?;
        if let Sides::Upload { local, .. } = &sides {
            require_source_folder(local)?;
        }
        Ok(sides)
    })
    .await?;
    let options = TransferOptions {
        force: true,
        retries: args.retries,
        limit_rate: args.limit_rate,
        upload_id: transfer::new_upload_id()?,
    };
    let plan_options = PlanOptions {
        checksum: args.tree.checksum,
        force: false,
        replace: true,
        local_destination: matches!(sides, Sides::Download { .. }),
    };
    let mut connector = Connector::new(global)?;
    if !args.dry_run {
        connector.stop_on_signals();
    }
    let mut client = None;
    let listing = Progress::new(global.quiet, 0, 0);
    let result = match sides {
        Sides::Upload { local, remote } => {
            let upload = tree::put::prepare(
                &mut connector,
                &mut client,
                &listing,
                local,
                remote,
                args.tree.follow_links,
                plan_options,
                args.retries,
            )
            .await?;
            listing.finish();
            let sizes = SourceSize::of(
                upload.plan.items.len() + upload.walk_skipped.len() + upload.walk_failed.len(),
            );
            let deletions = args
                .delete
                .then(|| deletion_plan(&upload.plan.items, &upload.plan.extra));
            if args.dry_run {
                dry_run::print(
                    global,
                    DryRun {
                        direction: Direction::Upload,
                        local_root: &upload.local_root,
                        remote_root: &upload.remote_root,
                        plan: &upload.plan,
                        walk_skipped: &upload.walk_skipped,
                        walk_failed: &upload.walk_failed,
                        deletions: deletions
                            .as_ref()
                            .map(|plan| (plan, plan.check(sizes.entries, args.max_delete))),
                    },
                )
            } else {
                let progress = tree::progress_for(&upload.plan, global.quiet);
                let mut report = Report::new("sync", global);
                tree::put::send(
                    &mut connector,
                    &mut client,
                    &upload,
                    &options,
                    &progress,
                    &mut report,
                )
                .await?;
                if let Some(plan) = &deletions {
                    let mut target = Target::Remote {
                        connector: &mut connector,
                        client: &mut client,
                        retries: args.retries,
                        root: &upload.remote_root,
                    };
                    delete_after(
                        &mut target,
                        plan,
                        sizes,
                        args.max_delete,
                        &progress,
                        &mut report,
                    )
                    .await;
                }
                report.finish(&progress)
            }
        }
        Sides::Download { remote, local } => {
            let download = tree::get::prepare(
                &mut connector,
                &mut client,
                &listing,
                remote,
                local,
                plan_options,
                args.retries,
            )
            .await?;
            listing.finish();
            let sizes = SourceSize::of(download.plan.items.len());
            let deletions = args
                .delete
                .then(|| deletion_plan(&download.plan.items, &download.plan.extra));
            if args.dry_run {
                dry_run::print(
                    global,
                    DryRun {
                        direction: Direction::Download,
                        local_root: &download.local_root,
                        remote_root: &download.remote_root,
                        plan: &download.plan,
                        walk_skipped: &[],
                        walk_failed: &download.walk_failed,
                        deletions: deletions
                            .as_ref()
                            .map(|plan| (plan, plan.check(sizes.entries, args.max_delete))),
                    },
                )
            } else {
                let progress = tree::progress_for(&download.plan, global.quiet);
                let mut report = Report::new("sync", global);
                tree::get::fetch(
                    &mut connector,
                    &mut client,
                    &download,
                    &options,
                    !args.no_fsync,
                    &progress,
                    &mut report,
                )
                .await?;
                if let Some(plan) = &deletions {
                    let mut target = Target::Local {
                        root: &download.local_root,
                    };
                    delete_after(
                        &mut target,
                        plan,
                        sizes,
                        args.max_delete,
                        &progress,
                        &mut report,
                    )
                    .await;
                }
                report.finish(&progress)
            }
        }
    };
    quit(client).await;
    result
}

/// How much the source holds, for the empty-source guard.
#[derive(Debug, Clone, Copy)]
struct SourceSize {
    /// Entries listed (planned, skipped by the walk, or unreadable).
    entries: u64,
}

impl SourceSize {
    /// A source of `entries` entries.
    fn of(entries: usize) -> SourceSize {
        SourceSize {
            entries: u64::try_from(entries).unwrap_or(u64::MAX),
        }
    }
}

/// The deletions of `--delete`: the destination's `extra` entries (those the source lacks),
/// folders whole.
fn deletion_plan(items: &[Item], extra: &[TreeEntry]) -> DeletionPlan {
    fn listed(entry: &TreeEntry) -> Listed<'_> {
        Listed {
            path: entry.path.as_str(),
            is_dir: entry.kind == EntryKind::Dir,
        }
    }
    DeletionPlan::new(
        items.iter().map(|item| listed(&item.entry)),
        extra.iter().map(listed),
        false,
    )
}

/// Deletes what the plan says once the transfers are done: not at all when one of them
/// failed (a note says so), nor when a guard refuses (its failure reported).
async fn delete_after(
    target: &mut Target<'_>,
    plan: &DeletionPlan,
    sizes: SourceSize,
    max_delete: Option<u64>,
    progress: &Progress,
    report: &mut Report,
) {
    if plan.is_empty() || report.ended() {
        return;
    }
    if report.summary.failed > 0 {
        progress.note(&format!(
            "{} files and folders not deleted: some transfers failed (run the same sync again)",
            plan.total()
        ));
        return;
    }
    if let Err(error) = plan.check(sizes.entries, max_delete) {
        match target {
            Target::Remote { root, .. } => {
                let root = crate::output::remote_shown(root);
                report.failed(progress, None, Some(&root), &error);
            }
            Target::Local { root } => {
                let root = root.to_path_buf();
                report.failed(progress, Some(&root), None, &error);
            }
        }
        return;
    }
    delete::carry_out(target, plan, progress, report).await;
}

/// A local SRC must be a folder that is there: else a usage error (exit 2) before anything.
/// Blocking.
fn require_source_folder(local: &Path) -> Result<(), ClientError> {
    let shown = printable(&local.display().to_string());
    match std::fs::metadata(local) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(ClientError::Usage(format!(
            "sync: {shown} is not a folder (sync copies folders)"
        ))),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            Err(ClientError::Usage(format!("sync: no such folder: {shown}")))
        }
        Err(source) => Err(ClientError::Local {
            context: format!("cannot read {shown}"),
            source,
        }),
    }
}

/// Says goodbye on the connection, if one is open.
async fn quit(client: Option<Client>) {
    if let Some(client) = client {
        let _ = client.quit().await;
    }
}
