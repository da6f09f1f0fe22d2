//! `ftp` entry point: parse the command line and run it (see [`ftp::shell::main`]: one command,
//! the interactive session or a batch), exiting with the contract's code (see [`ftp::error`]).

use std::process::ExitCode;

use clap::Parser;
use ftp::cli::Cli;

/// jemalloc keeps freed chunk buffers for reuse: with glibc's allocator every received frame of
/// a download faulted in fresh pages.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    ftp::shell::main(Cli::parse())
}
