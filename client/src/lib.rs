//! `ftp`: the client as a library, reused by its binary and by tests.
//!
//! Layout: [`launch`] (the command line, `completions` and `man`, then [`config_file`]: named
//! servers and defaults, its permissions checked by [`config_perms`]), [`cli`] (syntax), [`address`] (the `--server` forms), [`credentials`] (key and password sources), [`transport`] (TCP,
//! then TLS with the server's identity checked by [`verifier`] against a pin, a CA or the
//! [`known_servers`] file), [`connector`] (connect and log in, again after a loss), [`session`] (the connection and remote folder kept across commands), [`shell`] (the interactive session and batch mode),
//! [`connection`] (the async [`Client`]: handshake, login, list), [`requests`] (stat, rm,
//! mkdir), [`tree_requests`] (a whole remote tree listed or removed), [`tree`] (folders both ways: walk, plan, `put -r`, `get -r`), [`upload`] and [`download`] (one attempt each; a download's [`part`] file, the
//! [`remote_identity`] it belongs to, and the [`identical`] check of an existing file), [`whole`] (small files sent whole,
//! pipelined) and [`get_whole`] (small files received pipelined, made durable in batches),
//! [`remote_glob`] (patterns in remote names, matched against a listing), [`transfer`] (retries and backoff), [`interrupt`] (Ctrl-C and SIGTERM stop a
//! transfer cleanly), [`checkpoints`] (saved hash states for cheap resumes), [`rate`]
//! (`--limit-rate`), [`blocking`] (file-system work off the runtime), [`progress`] (bars),
//! [`commands`] (one module per command), [`output`] (tables and JSON), [`summary`] (the counts and
//! lines of a command over several files), [`sync`] (sync's own rules: sides, deletions), [`error`] (errors and
//! exit codes).

pub mod address;
pub mod blocking;
pub mod checkpoints;
pub mod cli;
pub mod commands;
pub mod config_file;
pub mod config_perms;
pub mod connection;
pub mod connector;
pub mod credentials;
pub mod download;
pub mod error;
pub mod get_whole;
pub mod identical;
pub mod interrupt;
pub mod jobs;
pub mod known_servers;
pub mod launch;
pub mod local_hash;
pub mod output;
pub mod part;
pub mod progress;
pub mod rate;
pub mod remote_glob;
pub mod remote_identity;
pub mod requests;
pub mod session;
pub mod shell;
pub mod summary;
pub mod sync;
pub mod transfer;
pub mod transport;
pub mod tree;
pub mod tree_requests;
pub mod upload;
pub mod verifier;
pub mod whole;

#[cfg(test)]
mod test_server;

pub use connection::{Client, Welcome};
pub use error::ClientError;
