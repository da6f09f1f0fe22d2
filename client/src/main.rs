//! `ftp` entry point: parse the command line, with the config file's settings filled in (see
//! [`ftp::launch`]), and run it (see [`ftp::shell::main`]: one command, the interactive
//! session or a batch), exiting with the contract's code (see [`ftp::error`]).

use std::process::ExitCode;

/// jemalloc keeps freed chunk buffers for reuse: with glibc's allocator every received frame of
/// a download faulted in fresh pages.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    match ftp::launch::command_line() {
        Ok(cli) => ftp::shell::main(cli),
        Err(code) => code,
    }
}
