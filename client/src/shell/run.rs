//! One line run on the session, the same for the prompt and for a batch: parsed (see
//! [`super::line`]), then a builtin or an `ftp` command on the session's connection.
//!
//! Before each command the interrupt is lowered again, so Ctrl-C stops that command only. After
//! a failure that may have left the connection unusable (anything but the server's answer or a
//! usage error) the connection is dropped and the next command opens a new one. A command that
//! finds the kept connection lost (or gets the server's farewell to it as its answer) runs once
//! more on a new one.

use ftp_proto::ErrorKind;

use crate::cli::Command;
use crate::error::ClientError;
use crate::session::Session;

use super::builtins::{self, After};
use super::line::{self, Line};

/// Whether the session goes on after a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Read the next line.
    Go,
    /// `exit` or `quit`.
    Exit,
}

/// What a line did to the remote listings shown by completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Changes {
    /// Nothing remote changed.
    None,
    /// Remote folders may have changed.
    Remote,
}

/// Runs one line.
pub fn execute(
    runtime: &tokio::runtime::Runtime,
    session: &mut Session,
    text: &str,
) -> Result<(Flow, Changes), ClientError> {
    let reused = session.is_connected();
    match execute_once(runtime, session, text) {
        // Lost, or the server's farewell (an idle timeout) read as the answer.
        Err(
            error @ (ClientError::Connection(_)
            | ClientError::Remote {
                kind: ErrorKind::Protocol,
                ..
            }),
        ) if reused => {
            session.drop_connection();
            eprintln!(
                "ftp: {}: connecting again",
                crate::output::printable_lines(&error.to_string())
            );
            execute_once(runtime, session, text)
        }
        other => other,
    }
}

/// Runs one line, once.
fn execute_once(
    runtime: &tokio::runtime::Runtime,
    session: &mut Session,
    text: &str,
) -> Result<(Flow, Changes), ClientError> {
    let command = match line::parse(text, session.cwd())? {
        Line::Empty => return Ok((Flow::Go, Changes::None)),
        Line::Shown(help) => {
            crate::output::print(&help)?;
            return Ok((Flow::Go, Changes::None));
        }
        Line::Builtin(builtin) => {
            session.connector()?.interrupt().reset();
            match builtins::run(runtime, session, builtin) {
                Ok(After::Done) => return Ok((Flow::Go, Changes::None)),
                Ok(After::Exit) => return Ok((Flow::Exit, Changes::None)),
                Ok(After::Run(command)) => command,
                Err(error) => return Err(dropped_after(session, error)),
            }
        }
        Line::Command(command) => command,
    };
    let changes = match &command {
        Command::Put(_)
        | Command::Rm { .. }
        | Command::Mkdir { .. }
        | Command::Mv { .. }
        | Command::Sync(_) => Changes::Remote,
        _ => Changes::None,
    };
    session.connector()?.interrupt().reset();
    runtime
        .block_on(crate::commands::run(session, command))
        .map_err(|error| dropped_after(session, error))?;
    Ok((Flow::Go, changes))
}

/// Drops the connection after an error that may have left it unusable; returns the error.
fn dropped_after(session: &mut Session, error: ClientError) -> ClientError {
    match &error {
        ClientError::Remote { .. } | ClientError::Usage(_) | ClientError::Several { .. } => {}
        _ => session.drop_connection(),
    }
    error
}
