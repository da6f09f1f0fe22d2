//! The simple requests, one answer each: stat, remove, mkdir, rename, partials, remove a partial,
//! disk usage.

use ftp_proto::{ClientMessage, DirEntry, PartialInfo, ServerMessage, UsageInfo};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::connection::{Client, unexpected};
use crate::error::ClientError;

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    /// Describes a path; a regular file comes with its SHA-256.
    pub async fn stat(&mut self, path: &str) -> Result<(DirEntry, Option<[u8; 32]>), ClientError> {
        self.send(ClientMessage::Stat {
            path: path.to_owned(),
        })
        .await?;
        match self.receive().await? {
            ServerMessage::StatInfo { entry, sha256 } => Ok((entry, sha256)),
            other => Err(unexpected("stat information", &other)),
        }
    }

    /// Removes a file, a link or an empty folder.
    pub async fn remove(&mut self, path: &str) -> Result<(), ClientError> {
        self.send(ClientMessage::Remove {
            path: path.to_owned(),
        })
        .await?;
        match self.receive().await? {
            ServerMessage::Done { .. } => Ok(()),
            other => Err(unexpected("the removal's result", &other)),
        }
    }

    /// The user's unfinished uploads.
    pub async fn partials(&mut self) -> Result<Vec<PartialInfo>, ClientError> {
        self.send(ClientMessage::Partials {}).await?;
        match self.receive().await? {
            ServerMessage::PartialList { partials } => Ok(partials),
            other => Err(unexpected("the list of unfinished uploads", &other)),
        }
    }

    /// What the user stores, and their quota and file limit.
    pub async fn disk_usage(&mut self) -> Result<UsageInfo, ClientError> {
        self.send(ClientMessage::DiskUsage {}).await?;
        match self.receive().await? {
            ServerMessage::DiskUsage(info) => Ok(info),
            other => Err(unexpected("the disk usage", &other)),
        }
    }

    /// Drops the user's unfinished upload to `path`.
    pub async fn remove_partial(&mut self, path: &str) -> Result<(), ClientError> {
        self.send(ClientMessage::RemovePartial {
            path: path.to_owned(),
        })
        .await?;
        match self.receive().await? {
            ServerMessage::Done { .. } => Ok(()),
            other => Err(unexpected("the removal's result", &other)),
        }
    }

    /// Renames `from` to `to` (inside it when it ends in `/` or is a folder), replacing a file
    /// there only with `force`; the paths as the server resolved them.
    pub async fn rename(
        &mut self,
        from: &str,
        to: &str,
        force: bool,
    ) -> Result<(String, String), ClientError> {
        self.send(ClientMessage::Rename {
            from: from.to_owned(),
            to: to.to_owned(),
            force,
        })
        .await?;
        match self.receive().await? {
            ServerMessage::Renamed { from, to } => Ok((from, to)),
            other => Err(unexpected("the rename's result", &other)),
        }
    }

    /// Creates a folder and its parents; `false` when it was already there.
    pub async fn make_dir(&mut self, path: &str) -> Result<bool, ClientError> {
        self.send(ClientMessage::MakeDir {
            path: path.to_owned(),
        })
        .await?;
        match self.receive().await? {
            ServerMessage::Done { changed } => Ok(changed),
            other => Err(unexpected("the mkdir result", &other)),
        }
    }
}
