//! What `main` does before the runtime starts: parse the command line, answering
//! `ftp completions` and `ftp man` on the way ([`ftp_proto::cli_docs`]), then fill the global
//! options the command line and environment left unset from the config file
//! ([`crate::config_file`]).

use std::process::ExitCode;

use crate::cli::Cli;

/// The command line to run, or the exit code to end with (docs printed, or a config error
/// told).
pub fn command_line() -> Result<Cli, ExitCode> {
    let mut cli: Cli = ftp_proto::cli_docs::parse()?;
    match crate::config_file::effective(std::mem::take(&mut cli.global)) {
        Ok(global) => {
            cli.global = global;
            Ok(cli)
        }
        Err(error) => {
            eprintln!(
                "ftp: error: {}",
                crate::output::printable_lines(&error.to_string())
            );
            Err(ExitCode::from(error.exit_code()))
        }
    }
}
