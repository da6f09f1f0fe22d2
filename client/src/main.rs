//! `ftp` entry point: parse the command line, run the command, print the whole error chain, and
//! exit with the contract's code (see [`ftp::error`]); a transfer stopped by a signal is told
//! as such, not as an error (see [`ftp::interrupt`]).

use std::process::ExitCode;

/// jemalloc keeps freed chunk buffers for reuse: with glibc's allocator every received frame of
/// a download faulted in fresh pages.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = match ftp::launch::command_line() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
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
    match runtime.block_on(ftp::commands::run(&cli.global, cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error @ ftp::ClientError::Interrupted(_)) => {
            // Not a failure of the program: the user asked it to stop.
            eprintln!("ftp: {}", ftp::output::printable_lines(&error.to_string()));
            ExitCode::from(error.exit_code())
        }
        Err(error) => {
            // Messages carry names (some the server's): never raw to the terminal.
            eprintln!(
                "ftp: error: {}",
                ftp::output::printable_lines(&error.to_string())
            );
            ExitCode::from(error.exit_code())
        }
    }
}
