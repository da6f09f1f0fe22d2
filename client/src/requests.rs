//! The simple requests, one answer each: stat, remove, mkdir.

use ftp_proto::{ClientMessage, DirEntry, ServerMessage};
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
