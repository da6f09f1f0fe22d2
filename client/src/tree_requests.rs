//! The requests a tree needs: the whole remote tree in one request (`ListTree`, answered in
//! batches), and removing a whole folder (`RemoveTree`).
//!
//! Every path a server lists is checked before anyone uses it: it must be relative and made of
//! plain names (no empty component, `.` or `..`), so nothing a server sends can lead a
//! download outside the folder named. Names that are valid remotely but unsafe as local file
//! names (a backslash, a control character) are the planner's to skip, with a note.

use ftp_proto::{ClientMessage, ServerMessage, TreeEntry};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::connection::{Client, unexpected};
use crate::error::ClientError;

/// What a `RemoveTree` took away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemovedTree {
    /// Files, links and other non-folders.
    pub files: u64,
    /// Folders, the one named included.
    pub folders: u64,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    /// Lists the whole tree beneath the remote folder `path` (not including it), in `ls -R`
    /// order (each folder's entries together in byte order, then its subfolders', pre-order);
    /// with `sha256`, each regular file's SHA-256 too.
    /// `each` hears every batch as it arrives (so a listing can be printed while it streams).
    pub async fn list_tree_each(
        &mut self,
        path: &str,
        sha256: bool,
        mut each: impl FnMut(Vec<TreeEntry>) -> Result<(), ClientError>,
    ) -> Result<(), ClientError> {
        self.send(ClientMessage::ListTree {
            path: path.to_owned(),
            sha256,
        })
        .await?;
        loop {
            match self.receive().await? {
                ServerMessage::TreeBatch { entries, last } => {
                    if let Some(bad) = entries.iter().find(|e| !is_plain_relative(&e.path)) {
                        return Err(ClientError::Protocol(format!(
                            "the server listed {:?}, which is not a plain relative path",
                            bad.path
                        )));
                    }
                    if let Err(error) = each(entries) {
                        // The rest of the listing is still on its way.
                        self.set_out_of_step();
                        return Err(error);
                    }
                    if last {
                        return Ok(());
                    }
                }
                other => return Err(unexpected("a tree listing", &other)),
            }
        }
    }

    /// [`Client::list_tree_each`], gathered into one list.
    pub async fn list_tree(
        &mut self,
        path: &str,
        sha256: bool,
    ) -> Result<Vec<TreeEntry>, ClientError> {
        let mut all = Vec::new();
        self.list_tree_each(path, sha256, |batch| {
            all.extend(batch);
            Ok(())
        })
        .await?;
        Ok(all)
    }

    /// Removes a remote folder and everything in it (a file or link named is removed alone).
    pub async fn remove_tree(&mut self, path: &str) -> Result<RemovedTree, ClientError> {
        self.send(ClientMessage::RemoveTree {
            path: path.to_owned(),
        })
        .await?;
        match self.receive().await? {
            ServerMessage::Removed { files, folders } => Ok(RemovedTree { files, folders }),
            other => Err(unexpected("the removal's result", &other)),
        }
    }
}

/// Whether a listed path is relative and made of plain names: not empty, no leading or
/// doubled `/`, no `.` or `..` component, no NUL.
pub fn is_plain_relative(path: &str) -> bool {
    !path.is_empty()
        && !path.contains('\0')
        && path
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_paths_pass() {
        for good in ["a", "a/b", "a b/c.txt", "...", "x/.hidden"] {
            assert!(is_plain_relative(good), "{good:?}");
        }
        for bad in ["", "/a", "a/", "a//b", "..", "a/../b", ".", "a/./b", "a\0b"] {
            assert!(!is_plain_relative(bad), "{bad:?}");
        }
    }
}
