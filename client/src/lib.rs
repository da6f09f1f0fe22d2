//! `ftp`: the client as a library, reused by its binary and by tests.
//!
//! Layout: [`cli`] (syntax), [`credentials`] (key and password sources), [`connection`] (the
//! async [`Client`]: handshake, login, requests), [`commands`] (one function per command),
//! [`output`] (tables and JSON), [`error`] (errors and exit codes).

pub mod cli;
pub mod commands;
pub mod connection;
pub mod credentials;
pub mod error;
pub mod output;

pub use connection::{Client, Welcome};
pub use error::ClientError;
