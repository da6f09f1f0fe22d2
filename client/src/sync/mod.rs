//! `ftp sync`'s own rules, apart from the tree engine that moves the files: which side is
//! remote and where the copy goes ([`sides`]), what `--delete` removes and the guards that keep
//! it from wiping a destination ([`deletions`]), the local side's listing and removal that
//! never follow a link ([`local`]), and the lines of a dry run and of each deletion
//! ([`lines`]). The command itself is [`crate::commands::sync`].

pub mod deletions;
pub mod lines;
pub mod local;
pub mod sides;
