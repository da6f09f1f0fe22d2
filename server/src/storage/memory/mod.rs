//! Homes held in memory: the same [`Home`](super::Home) as the local disk, for tests and
//! fuzzing, with no file system beneath. [`MemoryStore`] keeps every user's [`MemoryHome`]
//! (files and unfinished uploads) for as long as it lives, so partials outlive a session as
//! on the disk. Nothing here blocks: every lock is held only to look or to change a map.
//!
//! [`nodes`] is what a home holds, [`home`] the home's files, [`upload`] its partial uploads,
//! [`batch`] its batches of whole files, [`store`] the homes of every user.

mod batch;
mod home;
mod nodes;
mod store;
mod upload;

pub use home::MemoryHome;
pub use store::MemoryStore;

#[cfg(test)]
mod tests;
