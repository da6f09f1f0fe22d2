//! What one run of `ftp` holds across its commands: the options, the [`Connector`] (built on
//! first use, so a password typed once is remembered), the open [`Client`] and the remote
//! current folder.
//!
//! A one-shot `ftp CMD` runs one command on a session and closes its connection at the end, as
//! it always did. The interactive shell and batch mode keep the connection for the next command
//! (one login for all of them); one the server closed meanwhile (idle timeout, restart, cut) is
//! noticed before the next command and opened again, logging in with the remembered password.
//! If the server refuses that password, the user is told and asked again (at a terminal).

use std::io::IsTerminal;

use ftp_proto::ErrorKind;

use crate::cli::GlobalArgs;
use crate::connection::Client;
use crate::connector::Connector;
use crate::error::ClientError;

/// One run of the client: options, connection and remote current folder.
#[derive(Debug)]
pub struct Session {
    /// The global options, as given on the command line.
    pub global: GlobalArgs,
    /// Built on first use.
    connector: Option<Connector>,
    /// The open connection, if any.
    client: Option<Client>,
    /// The remote current folder: `/` (the home) or `/a/b`.
    cwd: String,
    /// Keep the connection open after a command (shell and batch).
    keep: bool,
}

impl Session {
    /// A session for one command: its connection is closed when the command ends.
    pub fn one_shot(global: GlobalArgs) -> Self {
        Session {
            global,
            connector: None,
            client: None,
            cwd: "/".into(),
            keep: false,
        }
    }

    /// A session for many commands (shell, batch): one connection, kept between them. Every
    /// connection it opens stops its command on Ctrl-C or SIGTERM, once logged in.
    pub fn lasting(global: GlobalArgs) -> Result<Self, ClientError> {
        let mut session = Session {
            keep: true,
            ..Session::one_shot(global)
        };
        session.connector()?.stop_on_signals();
        Ok(session)
    }

    /// The connector, built from the options on first use.
    pub fn connector(&mut self) -> Result<&mut Connector, ClientError> {
        let connector = match self.connector.take() {
            Some(connector) => connector,
            None => Connector::new(&self.global)?,
        };
        Ok(self.connector.insert(connector))
    }

    /// What a transfer with retries needs: the connector (stopping on signals) and the open
    /// connection, if any (`None` lets the transfer connect).
    pub fn transfer(&mut self) -> Result<(&mut Connector, &mut Option<Client>), ClientError> {
        self.drop_if_closed();
        self.connector()?.stop_on_signals();
        let Session {
            connector, client, ..
        } = self;
        match connector {
            Some(connector) => Ok((connector, client)),
            None => Err(ClientError::Usage("no connector".into())),
        }
    }

    /// Hands the connector (stopping on signals if `signals`) and the open connection to a
    /// command that keeps them in its own state; [`Session::restore`] takes them back.
    pub fn lend(&mut self, signals: bool) -> Result<(Connector, Option<Client>), ClientError> {
        self.drop_if_closed();
        let mut connector = match self.connector.take() {
            Some(connector) => connector,
            None => Connector::new(&self.global)?,
        };
        if signals {
            connector.stop_on_signals();
        }
        Ok((connector, self.client.take()))
    }

    /// Takes back what [`Session::lend`] handed out.
    pub fn restore(&mut self, connector: Connector, client: Option<Client>) {
        self.connector = Some(connector);
        self.client = client;
    }

    /// The open connection, connecting and logging in first if there is none (or the server
    /// closed it).
    pub async fn client(&mut self) -> Result<&mut Client, ClientError> {
        self.drop_if_closed();
        let client = match self.client.take() {
            Some(client) => client,
            None => self.connect().await?,
        };
        Ok(self.client.insert(client))
    }

    /// Whether a connection is open now.
    pub fn is_connected(&self) -> bool {
        self.client.is_some()
    }

    /// Connects and logs in; a remembered password the server now refuses is asked for again.
    async fn connect(&mut self) -> Result<Client, ClientError> {
        let ask_again = self.keep && std::io::stdin().is_terminal();
        let connector = self.connector()?;
        match connector.connect().await {
            Err(ClientError::Remote {
                kind: ErrorKind::LoginFailed,
                message,
            }) if ask_again && connector.ask_password_again() => {
                eprintln!(
                    "ftp: logging in again failed: {}",
                    crate::output::printable_lines(&message)
                );
                connector.connect().await
            }
            other => other,
        }
    }

    /// Forgets a connection the server has closed.
    fn drop_if_closed(&mut self) {
        if let Some(client) = &mut self.client
            && client.closed_by_server()
        {
            self.client = None;
        }
    }

    /// Forgets the connection (after an error that may have left it unusable).
    pub fn drop_connection(&mut self) {
        self.client = None;
    }

    /// Ends a command: a one-shot session says goodbye to the server.
    pub async fn finish(&mut self) -> Result<(), ClientError> {
        if self.keep {
            return Ok(());
        }
        match self.client.take() {
            Some(client) => client.quit().await,
            None => Ok(()),
        }
    }

    /// Ends a command whose goodbye does not matter (the work is done and reported).
    pub async fn finish_quietly(&mut self) {
        let _ = self.finish().await;
    }

    /// Closes the connection for good (end of the shell or batch).
    pub async fn close(&mut self) {
        if let Some(client) = self.client.take() {
            let _ = client.quit().await;
        }
    }

    /// The remote current folder (`/` is the home).
    pub fn cwd(&self) -> &str {
        &self.cwd
    }

    /// Sets the remote current folder (already resolved).
    pub fn set_cwd(&mut self, folder: String) {
        self.cwd = folder;
    }

    /// `path` against the remote current folder (see [`resolve`]).
    pub fn resolve(&self, path: &str) -> String {
        resolve(&self.cwd, path)
    }
}

/// A remote path made absolute from the home: one starting with `/` is taken from the home,
/// any other from `cwd`; `.` and `..` are handled by name (never above the home), and a
/// trailing `/` is kept (it means "inside that folder" to put, get and mv).
pub fn resolve(cwd: &str, path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    let start = if path.starts_with('/') { "" } else { cwd };
    for part in start.split('/').chain(path.split('/')) {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            name => parts.push(name),
        }
    }
    let mut resolved = format!("/{}", parts.join("/"));
    if path.ends_with('/') && !parts.is_empty() {
        resolved.push('/');
    }
    resolved
}

#[cfg(test)]
mod tests {
    use super::resolve;

    #[test]
    fn remote_paths_resolve_against_the_current_folder_by_name() {
        assert_eq!(resolve("/", "a.txt"), "/a.txt");
        assert_eq!(resolve("/photos", "a.txt"), "/photos/a.txt");
        assert_eq!(resolve("/photos", "/a.txt"), "/a.txt");
        assert_eq!(resolve("/photos/2026", ".."), "/photos");
        assert_eq!(resolve("/photos", "../../../x"), "/x");
        assert_eq!(resolve("/photos", "./b/./c/"), "/photos/b/c/");
        assert_eq!(resolve("/photos", ".."), "/");
        assert_eq!(resolve("/", "/"), "/");
        assert_eq!(resolve("/a", "my file"), "/a/my file");
    }
}
