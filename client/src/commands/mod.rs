//! One module per command. Each turns parsed options into work on a [`crate::Client`] and
//! prints the result; connecting lives in [`crate::connector`], retries in [`crate::transfer`].

pub mod get;
pub mod get_many;
pub mod get_plan;
pub mod ls;
pub mod put;
pub mod simple;
pub mod sync;

use std::io::Write;

use crate::cli::{Command, GlobalArgs};
use crate::error::ClientError;

/// Runs a parsed command line.
pub async fn run(global: &GlobalArgs, command: Command) -> Result<(), ClientError> {
    match command {
        Command::Ls { path, recursive } => ls::run(global, &path, recursive).await,
        Command::Put(args) => put::run(global, args).await,
        Command::Get(args) => get::run(global, args).await,
        Command::Stat { path } => simple::stat(global, &path).await,
        Command::Rm {
            path,
            recursive,
            partial,
        } => simple::rm(global, &path, recursive, partial).await,
        Command::Partials => simple::partials(global).await,
        Command::Mkdir { path } => simple::mkdir(global, &path).await,
        Command::Mv { src, dst, force } => simple::mv(global, &src, &dst, force).await,
        Command::Sync(args) => sync::run(global, args).await,
    }
}

/// Writes `text` to stdout and flushes it.
pub fn print(text: &str) -> Result<(), ClientError> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|source| ClientError::Local {
            context: "cannot write to standard output".into(),
            source,
        })
}
