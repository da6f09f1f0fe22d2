//! `ftp sync SRC DST`: make DST identical to SRC, one way (the remote side written `:PATH`).
//!
//! Built on the tree engine ([`crate::tree`]): both trees are listed and planned before
//! anything moves, changed files are replaced without `--force` (sync's name says so),
//! unchanged ones skipped by the quick check (or `--checksum`). With `--delete`, what SRC
//! lacks goes ([`crate::sync::deletions`]) after the transfers, and only if none of them
//! failed; a destination entry of another kind in the way of a source entry (a folder where
//! a file goes, a link) goes first, and the tree is planned again. A missing SRC is an error
//! before anything; an empty one, or more deletions than `--max-delete`, deletes nothing
//! (exit 4). `--dry-run` lists, prints the plan and changes nothing.

use std::path::Path;

use crate::cli::{GlobalArgs, SyncArgs};
use crate::connection::Client;
use crate::connector::Connector;
use crate::error::ClientError;
use crate::output::{printable, remote_shown};
use crate::progress::Progress;
use crate::session::Session as FtpSession;
use crate::sync::delete::{self, Target};
use crate::sync::deletions::DeletionPlan;
use crate::sync::dry_run::{self, DryRun};
use crate::sync::lines::Direction;
use crate::sync::planned_deletions;
use crate::sync::sides::Sides;
use crate::transfer::TransferOptions;
use crate::tree::get::Download;
use crate::tree::plan::{Plan, PlanOptions};
use crate::tree::put::Upload;
use crate::tree::report::Report;
use crate::tree::{self, names};

/// Runs `ftp sync`.
pub async fn run(ftp: &mut FtpSession, args: SyncArgs) -> Result<(), ClientError> {
    let global = &ftp.global.clone();
    let (src, dst) = (args.src.clone(), args.dst.clone());
    let sides = crate::blocking::run(move || {
        let sides = Sides::parse(&src, &dst, |path| names::local_folder_name(path).ok())?;
        if let Sides::Upload { local, .. } = &sides {
            require_source_folder(local)?;
        }
        Ok(sides)
    })
    .await?;
    let (connector, client) = ftp.lend(!args.dry_run)?;
    let mut session = Session {
        connector,
        client,
        sides,
        args,
        listing: Progress::new(global.quiet, 0, 0),
    };
    let result = session.sync(global).await;
    ftp.restore(session.connector, session.client);
    ftp.finish_quietly().await;
    result
}

/// One sync under way: the connection and what it was asked.
struct Session {
    /// Connects (again) as needed.
    connector: Connector,
    /// The open connection, if any.
    client: Option<Client>,
    /// Which way, from where to where.
    sides: Sides,
    /// The command line.
    args: SyncArgs,
    /// The display while listing (and deleting what is in the way).
    listing: Progress,
}

/// Both trees listed and planned, whichever way.
enum Planned {
    /// An upload's plan.
    Up(Upload),
    /// A download's plan.
    Down(Download),
}

impl Planned {
    /// The plan.
    fn plan(&self) -> &Plan {
        match self {
            Planned::Up(planned) | Planned::Down(planned) => &planned.plan,
        }
    }

    /// How many entries the source holds (for the empty-source guard).
    fn source_entries(&self) -> u64 {
        let entries = match self {
            Planned::Up(up) => up.plan.items.len() + up.walk_skipped.len() + up.walk_failed.len(),
            Planned::Down(down) => down.plan.items.len(),
        };
        u64::try_from(entries).unwrap_or(u64::MAX)
    }
}

impl Session {
    /// Plans, then prints the plan (a dry run) or carries it out.
    async fn sync(&mut self, global: &GlobalArgs) -> Result<(), ClientError> {
        let mut planned = self.prepare().await?;
        let mut deletions = self
            .args
            .delete
            .then(|| planned_deletions::from_plan(planned.plan()));
        let guard = deletions
            .as_ref()
            .map(|plan| plan.check(planned.source_entries(), self.args.max_delete));
        if self.args.dry_run {
            self.listing.finish();
            return self.dry_run(global, &planned, deletions.as_ref().zip(guard));
        }
        let mut report = Report::new("sync", global);
        if let (Some(plan), Some(Ok(()))) = (&deletions, &guard) {
            let (in_the_way, _) = plan.clone().split_in_the_way();
            if !in_the_way.is_empty() {
                let mut target = target(
                    &mut self.connector,
                    &mut self.client,
                    self.args.retries,
                    &planned,
                );
                delete::carry_out(&mut target, &in_the_way, &self.listing, &mut report).await?;
                planned = self.prepare().await?;
                deletions = Some(planned_deletions::from_plan(planned.plan()));
            }
        }
        self.listing.finish();
        let progress = tree::progress_for(planned.plan(), global.quiet);
        self.transfer(&planned, &progress, &mut report).await?;
        if let (Some(plan), Some(guard)) = (&deletions, guard) {
            let already = report.summary.deleted;
            let max_delete = self
                .args
                .max_delete
                .map(|limit| limit.saturating_sub(already));
            let guard = guard.and_then(|()| plan.check(planned.source_entries(), max_delete));
            self.delete_after(&planned, plan, guard, &progress, &mut report)
                .await?;
        }
        report.finish(&progress)
    }

    /// Walks and lists both sides and plans the transfer (connecting as needed).
    async fn prepare(&mut self) -> Result<Planned, ClientError> {
        let options = PlanOptions {
            checksum: self.args.tree.checksum,
            force: false,
            replace: true,
            local_destination: matches!(self.sides, Sides::Download { .. }),
        };
        match &self.sides {
            Sides::Upload { local, remote } => tree::put::prepare(
                &mut self.connector,
                &mut self.client,
                &self.listing,
                local.clone(),
                remote.clone(),
                self.args.tree.follow_links,
                options,
                self.args.retries,
            )
            .await
            .map(Planned::Up),
            Sides::Download { remote, local } => tree::get::prepare(
                &mut self.connector,
                &mut self.client,
                &self.listing,
                remote.clone(),
                local.clone(),
                options,
                self.args.retries,
            )
            .await
            .map(Planned::Down),
        }
    }

    /// Prints the plan; nothing is changed.
    fn dry_run(
        &self,
        global: &GlobalArgs,
        planned: &Planned,
        deletions: Option<(&DeletionPlan, Result<(), ClientError>)>,
    ) -> Result<(), ClientError> {
        let no_walk_notes: &[(String, &'static str)] = &[];
        let dry = match planned {
            Planned::Up(up) => DryRun {
                direction: Direction::Upload,
                local_root: &up.local_root,
                remote_root: &up.remote_root,
                plan: &up.plan,
                walk_skipped: &up.walk_skipped,
                walk_failed: &up.walk_failed,
                deletions,
            },
            Planned::Down(down) => DryRun {
                direction: Direction::Download,
                local_root: &down.local_root,
                remote_root: &down.remote_root,
                plan: &down.plan,
                walk_skipped: no_walk_notes,
                walk_failed: &down.walk_failed,
                deletions,
            },
        };
        dry_run::print(global, dry)
    }

    /// Moves the files the plan moves.
    async fn transfer(
        &mut self,
        planned: &Planned,
        progress: &Progress,
        report: &mut Report,
    ) -> Result<(), ClientError> {
        let options = TransferOptions::new(true, self.args.retries, self.args.limit_rate)?;
        match planned {
            Planned::Up(upload) => {
                tree::put::send(
                    &mut self.connector,
                    &mut self.client,
                    upload,
                    &options,
                    progress,
                    report,
                )
                .await
            }
            Planned::Down(download) => {
                tree::get::fetch(
                    &mut self.connector,
                    &mut self.client,
                    download,
                    &options,
                    !self.args.no_fsync,
                    progress,
                    report,
                )
                .await
            }
        }
    }

    /// Deletes what SRC lacks once the transfers are done: not at all when one of them
    /// failed (a note says so), nor when a guard refuses (its failure reported). `Err` for a
    /// signal.
    async fn delete_after(
        &mut self,
        planned: &Planned,
        plan: &DeletionPlan,
        guard: Result<(), ClientError>,
        progress: &Progress,
        report: &mut Report,
    ) -> Result<(), ClientError> {
        if plan.is_empty() || report.ended() {
            return Ok(());
        }
        if let Err(error) = guard {
            match planned {
                Planned::Up(upload) => {
                    let root = remote_shown(&upload.remote_root);
                    report.failed(progress, None, Some(&root), &error);
                }
                Planned::Down(download) => {
                    report.failed(progress, Some(&download.local_root), None, &error);
                }
            }
            return Ok(());
        }
        if report.summary.failed > 0 {
            progress.note(&format!(
                "nothing deleted ({} files and folders would go): some transfers failed; \
                 run the same sync again",
                plan.total()
            ));
            return Ok(());
        }
        let mut target = target(
            &mut self.connector,
            &mut self.client,
            self.args.retries,
            planned,
        );
        delete::carry_out(&mut target, plan, progress, report).await
    }
}

/// Where deletions happen: in the remote destination (through this connection), or the
/// local one.
fn target<'a>(
    connector: &'a mut Connector,
    client: &'a mut Option<Client>,
    retries: u32,
    planned: &'a Planned,
) -> Target<'a> {
    match planned {
        Planned::Up(upload) => Target::Remote {
            connector,
            client,
            retries,
            root: &upload.remote_root,
        },
        Planned::Down(download) => Target::Local {
            root: &download.local_root,
        },
    }
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
