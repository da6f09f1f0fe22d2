//! `ftp -b FILE` (`-b -`: standard input): the shell's lines with no prompt, one login for all.
//! Blank lines and `#` comments are skipped. The first failure ends the batch with its exit
//! code, unless its line starts with `-`: then it is told and the batch goes on. A line that
//! cannot be parsed (all are parsed before the first runs), or a batch file that cannot be
//! read, is a usage failure (exit 2); a stop by Ctrl-C or SIGTERM ends it always. Every error
//! names its line.

use std::io::Read;
use std::path::Path;

use crate::cli::GlobalArgs;
use crate::error::ClientError;
use crate::session::Session;

use super::run::Flow;

/// Runs the batch in `file`; returns the exit code.
pub fn run(runtime: &tokio::runtime::Runtime, global: GlobalArgs, file: &Path) -> u8 {
    let text = if file == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map(|_| text)
            .map_err(|source| ClientError::Local {
                context: "cannot read the batch from standard input".into(),
                source,
            })
    } else {
        // A batch file that cannot be read is a mistake in the command line, as a missing
        // --config file is: exit 2.
        std::fs::read_to_string(file).map_err(|source| {
            ClientError::Usage(format!(
                "cannot read the batch file {}: {}",
                file.display(),
                crate::error::os_words(&source)
            ))
        })
    };
    let text = match text {
        Ok(text) => text,
        Err(error) => return super::report(&error),
    };
    let mut session = match Session::lasting(global) {
        Ok(session) => session,
        Err(error) => return super::report(&error),
    };
    let code = lines(runtime, &mut session, &text);
    runtime.block_on(session.close());
    code
}

/// The lines, each without its `-` prefix, and whether a failure of it lets the batch go on.
fn steps(text: &str) -> impl Iterator<Item = (usize, bool, &str)> {
    text.lines().enumerate().map(|(index, line)| {
        let line = line.trim();
        match line.strip_prefix('-') {
            Some(rest) => (index + 1, true, rest),
            None => (index + 1, false, line),
        }
    })
}

/// A line (not `-`-prefixed) that cannot be parsed: nothing of the batch runs then.
fn first_bad_line(text: &str) -> Option<(usize, String)> {
    steps(text).find_map(
        |(number, goes_on, line)| match super::line::parse(line, "/") {
            Err(ClientError::Usage(message)) if !goes_on => Some((number, message)),
            _ => None,
        },
    )
}

/// Runs the lines; the exit code of the batch.
fn lines(runtime: &tokio::runtime::Runtime, session: &mut Session, text: &str) -> u8 {
    if let Some((number, message)) = first_bad_line(text) {
        return super::report(&ClientError::Usage(format!("line {number}: {message}")));
    }
    for (number, goes_on, line) in steps(text) {
        match super::run::execute(runtime, session, line) {
            Ok((Flow::Go, _)) => {}
            Ok((Flow::Exit, _)) => break,
            Err(error @ ClientError::Interrupted(_)) => {
                return super::report_at(Some(number), &error);
            }
            Err(error) => {
                let code = super::report_at(Some(number), &error);
                if !goes_on {
                    return code;
                }
            }
        }
    }
    0
}
