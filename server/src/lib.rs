//! `ftpd`: the server as a library, so tests can run it in-process.
//!
//! Layout: [`config`] (settings), [`startup`] (key, certificate, users, root), [`tls`] (the
//! certificate and the rustls configuration), [`server`] (accept loop), [`startups`] (bounds on
//! connections that have not proved the key), [`source`] (which addresses count as one),
//! [`transport`] (TLS handshake or plain TCP for each connection),
//! [`session`] (one connection's state machine), [`handlers`] (one file per operation),
//! [`auth`], [`throttle`] and [`users`] (logins, argon2id, per-address throttling),
//! [`rate_floor`] (the minimum transfer rate), [`limits`] and [`usage`] (per-user limits: quota,
//! files, rate, sessions), [`jail`] (paths beneath a home, I/O errors to
//! refusals), [`modes`] (the modes
//! of what the server creates), [`admin`]
//! (the `user` and `keygen` commands), [`uploads`] (partial names, the client's times, locks),
//! [`error`] (refusals and their wire kinds), [`fatal`] (what ends an `ftpd` command, and its
//! exit code), [`serve`] (running as `ftpd` does: listen, announce, signals), [`storage`] (the
//! seam between the handlers and where homes are kept: the local disk, memory), [`connection`] (a session's framed I/O).

pub mod admin;
pub mod auth;
pub mod cli;
pub mod config;
pub mod connect_line;
pub mod connection;
pub mod error;
pub mod failure;
pub mod fatal;
pub mod handlers;
pub mod jail;
pub mod keys;
pub mod limits;
pub mod modes;
pub mod rate_floor;
pub mod serve;
pub mod server;
pub mod session;
pub mod source;
pub mod startup;
pub mod startups;
pub mod state;
pub mod storage;
pub mod throttle;
pub mod tls;
pub mod transport;
pub mod uploads;
pub mod usage;
pub mod usage_report;
pub mod user_shared;
pub mod users;

pub use config::Config;
pub use server::run;
pub use startup::prepare;
