//! Connecting and logging in as the options say, again and again if a transfer needs to
//! reconnect. Everything is gathered and checked before the first byte goes out, so a missing
//! password or key fails at once; a password prompt comes only once the server is reached. A
//! password typed at the prompt is kept for reconnects, and so is one the server could not
//! check yet (it answered "busy"), so a retry does not ask again.
//! A command that stops cleanly on Ctrl-C arms its [`Interrupt`] here, after the first login
//! succeeded: past the last prompt (see [`crate::interrupt`]).

use ftp_proto::{ErrorKind, Password, SharedKey};

use crate::cli::GlobalArgs;
use crate::connection::{Client, parse_server};
use crate::credentials::{self, PasswordSource};
use crate::error::ClientError;
use crate::interrupt::Interrupt;
use crate::transport::Transport;

/// Attempts at the password prompt before giving up, as ssh does.
const PROMPT_ATTEMPTS: u32 = 3;

/// Knows how to reach and log in to the server.
#[derive(Debug)]
pub struct Connector {
    /// Server address.
    server: String,
    /// User name.
    user: String,
    /// Shared key.
    key: SharedKey,
    /// The file the key came from, for messages.
    key_file: std::path::PathBuf,
    /// Where the password comes from (a prompted one is remembered after it worked).
    password: PasswordSource,
    /// A typed password the server did not check (it was busy), for the next connect.
    unchecked: Option<Password>,
    /// TLS and how the server's certificate is judged, or plain TCP.
    transport: Transport,
    /// Armed after the first login and handed to every connection (the default one leaves
    /// signals alone).
    interrupt: Interrupt,
    /// How long every connection waits for the server (`--timeout`).
    timeout: std::time::Duration,
}

impl Connector {
    /// Gathers server, user, key, password source and transport from the options. Reads the
    /// key, password and CA files right here, on the async runtime: a few small reads once per
    /// command, before any connection exists to be held up.
    pub fn new(global: &GlobalArgs) -> Result<Self, ClientError> {
        let (key, key_file) = credentials::load_key(global.secret_file.as_deref())?;
        let transport = Transport::from_args(global)?;
        let (server_user, server) = match &global.server {
            Some(server) => parse_server(server)?,
            None => (None, format!("127.0.0.1:{}", ftp_proto::DEFAULT_PORT)),
        };
        Ok(Connector {
            server,
            // --user beats the user named in --server.
            user: credentials::user_name(global.user.as_deref().or(server_user.as_deref()))?,
            key,
            key_file,
            password: credentials::password_source(global.password_file.as_deref())?,
            unchecked: None,
            transport,
            interrupt: Interrupt::default(),
            timeout: global.timeout.unwrap_or(crate::connection::DEFAULT_TIMEOUT),
        })
    }

    /// Makes Ctrl-C and SIGTERM stop this command's transfers cleanly, from the first login on.
    pub fn stop_on_signals(&mut self) {
        if !self.interrupt.catches_signals() {
            self.interrupt = Interrupt::on_signals();
        }
    }

    /// The user the connections log in as.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The server's address, as connected to.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Drops the password in use, so the next connect asks for it on the terminal (the
    /// session calls this after the server refused it on a reconnect). Whether there was one.
    pub fn ask_password_again(&mut self) -> bool {
        if matches!(self.password, PasswordSource::Given(_)) {
            self.password = PasswordSource::Prompt;
            return true;
        }
        false
    }

    /// What stops this command's transfers (connecting included, once armed).
    pub fn interrupt(&self) -> &Interrupt {
        &self.interrupt
    }

    /// Connects and logs in; a password typed at the prompt may be retried. The prompt comes
    /// once the server is reached and has proved it holds the key, so a wrong address, key or
    /// certificate fails before anyone types a password.
    pub async fn connect(&mut self) -> Result<Client, ClientError> {
        let mut attempt = 1;
        loop {
            let client = self.reach().await?;
            let (password, prompted) = match &self.password {
                PasswordSource::Given(password) => (password.clone(), false),
                PasswordSource::Prompt => match self.unchecked.take() {
                    Some(password) => (password, true),
                    None => (credentials::prompt(&self.user, &self.server)?, true),
                },
            };
            // While the server checks a typed password, nothing typed ahead is echoed.
            let held = prompted.then(credentials::EchoHeld::hold).flatten();
            let answer = self.log_in(client, &password, prompted).await;
            drop(held);
            match answer {
                Ok(mut client) => {
                    self.remember(password);
                    // No prompt follows a login that worked: signals may be caught now.
                    self.interrupt.arm();
                    client.stop_on(self.interrupt.clone());
                    return Ok(client);
                }
                Err(ClientError::Remote { kind, message })
                    if kind == ErrorKind::LoginFailed && prompted && attempt < PROMPT_ATTEMPTS =>
                {
                    eprintln!("{message}; try again.");
                    attempt += 1;
                }
                Err(error @ ClientError::Remote { kind, .. })
                    if prompted && kind.is_transient() =>
                {
                    // Not checked (the server was busy): the retry sends it again, unasked.
                    self.unchecked = Some(password);
                    return Err(error);
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Opens a connection and runs the key handshake.
    async fn reach(&self) -> Result<Client, ClientError> {
        let mut client = Client::connect(&self.server, &self.key, &self.transport)
            .await
            .map_err(|error| self.explain_key(error))?;
        client.set_timeout(self.timeout);
        Ok(client)
    }

    /// Logs `client` in. The server allows a connection only so long to log in: if it gave up
    /// on this one while the user was at the prompt (it said so and closed), the password goes
    /// over a fresh connection instead. Never is one typed password sent twice: each try is
    /// checked, and counted against the address, by the server.
    async fn log_in(
        &self,
        mut client: Client,
        password: &Password,
        prompted: bool,
    ) -> Result<Client, ClientError> {
        if prompted && client.closed_by_server() {
            client = self.reach().await?;
        }
        match client.login(&self.user, password.clone()).await {
            // The server gave up before the password arrived (its farewell was still on its
            // way when the client looked): it never read it, so it goes once more.
            Err(ClientError::Remote {
                kind: ErrorKind::LoginTimedOut,
                ..
            }) if prompted => {
                client = self.reach().await?;
                client.login(&self.user, password.clone()).await?;
            }
            answer => {
                answer?;
            }
        }
        Ok(client)
    }

    /// Adds to a key refusal which key file was used and how to fix it.
    fn explain_key(&self, error: ClientError) -> ClientError {
        match error {
            ClientError::Remote {
                kind: ErrorKind::BadKey,
                message,
            } if !self.key.is_default() => ClientError::Remote {
                kind: ErrorKind::BadKey,
                message: format!(
                    "{message} (key {:?}, key file {}): ask the server's operator for a current key file for this client (`ftpd key add` or `ftpd key rotate` writes one)",
                    self.key.name(),
                    self.key_file.display()
                ),
            },
            ClientError::Remote {
                kind: ErrorKind::BadKey,
                message,
            } => ClientError::Remote {
                kind: ErrorKind::BadKey,
                message: format!(
                    "{message} (key file {}): give this client a copy of the server's key file with --secret-file or FTP_SECRET_FILE",
                    self.key_file.display()
                ),
            },
            other => other,
        }
    }

    /// Keeps a password that worked, so a reconnect does not ask again.
    fn remember(&mut self, password: Password) {
        if matches!(self.password, PasswordSource::Prompt) {
            self.password = PasswordSource::Given(password);
        }
    }
}
