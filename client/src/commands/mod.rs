//! One module per command. Each turns parsed options into work on a [`crate::Client`] and
//! prints the result; connecting lives in [`crate::connector`], retries in [`crate::transfer`].

pub mod get;
pub mod get_many;
pub mod get_plan;
pub mod ls;
pub mod put;
pub mod simple;
pub mod sync;

pub(crate) use crate::output::print;

use crate::cli::Command;
use crate::error::ClientError;
use crate::session::Session;

/// Runs one parsed command on `session` (a one-shot `ftp CMD`, or a line of the shell).
pub async fn run(session: &mut Session, command: Command) -> Result<(), ClientError> {
    match command {
        Command::Ls { path, recursive } => ls::run(session, &path, recursive).await,
        Command::Put(args) => put::run(session, args).await,
        Command::Get(args) => get::run(session, args).await,
        Command::Stat { path } => simple::stat(session, &path).await,
        Command::Rm {
            path,
            recursive,
            partial,
        } => simple::rm(session, &path, recursive, partial).await,
        Command::Partials => simple::partials(session).await,
        Command::Df => simple::df(session).await,
        Command::Mkdir { path } => simple::mkdir(session, &path).await,
        Command::Mv { src, dst, force } => simple::mv(session, &src, &dst, force).await,
        Command::Sync(args) => sync::run(session, args).await,
        Command::Shell => Err(ClientError::Usage(
            "shell: already in the interactive session".into(),
        )),
    }
}
