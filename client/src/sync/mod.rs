//! `ftp sync`'s own rules, apart from the tree engine that moves the files: which side is
//! remote and where the copy goes ([`sides`]), what `--delete` removes and the guards that
//! keep it from wiping a destination ([`deletions`]), the deletions a tree plan calls for
//! ([`planned_deletions`]), the local removal that never follows a link ([`local`]), the
//! lines of a dry run and of each deletion ([`lines`]), the dry run's printing ([`dry_run`])
//! and the deletions carried out ([`delete`]). The command itself is
//! [`crate::commands::sync`].

pub mod delete;
pub mod deletions;
pub mod dry_run;
pub mod lines;
pub mod local;
pub mod planned_deletions;
pub mod sides;
