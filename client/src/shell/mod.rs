//! What `ftp` runs: one command (`ftp CMD`), the interactive session (`ftp` at a terminal, or
//! `ftp shell`) or a batch (`ftp -b FILE`), and how an error is told and turned into the
//! contract's exit code.
//!
//! Layout: [`line`] (a line's words parsed by the same clap definitions as the command line,
//! remote paths resolved against the remote folder), [`builtins`] (cd, pwd, lcd, lls, mput,
//! mget, help...), [`local`] (lls's listing and mput's patterns), [`run`] (one parsed line run on the session), [`interactive`] (the prompt
//! loop), [`complete`] (tab completion), [`history`] (the history file), [`batch`] (`-b`).
//!
//! The prompt and the batch run on the main thread and hand each command to the async runtime
//! (`block_on`): reading a line never blocks it.

pub mod batch;
pub mod builtins;
pub mod complete;
pub mod history;
pub mod interactive;
pub mod line;
pub mod local;
pub mod run;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::CommandFactory;

use crate::cli::{Cli, Command};
use crate::error::ClientError;
use crate::session::Session;

/// Runs the parsed command line and returns the process's exit code.
pub fn main(cli: Cli) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("ftp: error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let terminal = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let code = match (cli.batch, cli.command) {
        (Some(file), None) => batch::run(&runtime, cli.global, &file),
        (Some(_), Some(_)) => report(&ClientError::Usage(
            "-b runs the commands of a file: give no command with it".into(),
        )),
        (None, Some(Command::Shell)) => interactive::run(&runtime, cli.global),
        (None, None) if terminal => interactive::run(&runtime, cli.global),
        (None, None) => {
            let error = Cli::command().error(
                clap::error::ErrorKind::MissingSubcommand,
                "'ftp' needs a command (or a terminal, for the interactive session, or -b FILE)",
            );
            let _ = error.print();
            2
        }
        (None, Some(command)) => {
            let mut session = Session::one_shot(cli.global);
            match runtime.block_on(crate::commands::run(&mut session, command)) {
                Ok(()) => 0,
                Err(error) => report(&error),
            }
        }
    };
    ExitCode::from(code)
}

/// Prints `error` as `ftp CMD` does (`ftp: error: ...`, or just `ftp: ...` for a stop by a
/// signal, which is no failure of the program) and returns its exit code.
pub fn report(error: &ClientError) -> u8 {
    report_at(None, error)
}

/// [`report`], naming the batch line (`line N: ...`) the error comes from.
pub fn report_at(line: Option<usize>, error: &ClientError) -> u8 {
    // Messages carry names (some the server's): never raw to the terminal.
    let text = crate::output::printable_lines(&error.to_string());
    let at = line.map(|n| format!("line {n}: ")).unwrap_or_default();
    match error {
        ClientError::Interrupted(_) => eprintln!("ftp: {at}{text}"),
        _ => eprintln!("ftp: error: {at}{text}"),
    }
    error.exit_code()
}
