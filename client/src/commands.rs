//! One function per command: connect and log in as the options say, do the work, print the
//! result. Connection set-up lives here once so every command behaves the same.

use std::io::Write;

use ftp_proto::SharedKey;

use crate::cli::{Command, GlobalArgs};
use crate::connection::Client;
use crate::credentials::{self, PasswordSource};
use crate::error::ClientError;
use crate::output;

/// Attempts at the password prompt before giving up, as ssh does.
const PROMPT_ATTEMPTS: u32 = 3;

/// Runs a parsed command line.
pub async fn run(global: &GlobalArgs, command: Command) -> Result<(), ClientError> {
    let mut client = connect(global).await?;
    match command {
        Command::Ls { path } => ls(&mut client, global, &path).await?,
    }
    client.quit().await
}

/// Everything needed to connect, gathered (and checked) before any network traffic.
struct Target {
    server: String,
    user: String,
    key: SharedKey,
    password: PasswordSource,
}

/// Connects and logs in; a password typed at the prompt may be retried.
async fn connect(global: &GlobalArgs) -> Result<Client, ClientError> {
    let target = Target {
        server: global
            .server
            .clone()
            .unwrap_or_else(|| format!("127.0.0.1:{}", ftp_proto::DEFAULT_PORT)),
        user: credentials::user_name(global.user.as_deref())?,
        key: credentials::load_key(global.secret_file.as_deref())?,
        password: credentials::password_source(global.password_file.as_deref())?,
    };
    let mut attempt = 1;
    loop {
        let password = match &target.password {
            PasswordSource::Given(password) => password.clone(),
            PasswordSource::Prompt => credentials::prompt(&target.user, &target.server)?,
        };
        let mut client = Client::connect(&target.server, &target.key).await?;
        match client.login(&target.user, password).await {
            Ok(_) => return Ok(client),
            Err(ClientError::Remote { kind, message })
                if kind.is_authentication()
                    && matches!(target.password, PasswordSource::Prompt)
                    && attempt < PROMPT_ATTEMPTS
                    && kind != ftp_proto::ErrorKind::BadKey =>
            {
                eprintln!("{message}; try again.");
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

/// `ftp ls [PATH]`.
async fn ls(client: &mut Client, global: &GlobalArgs, path: &str) -> Result<(), ClientError> {
    let entries = client.list(path).await?;
    let text = if global.json {
        format!("{}\n", output::listing_json(path, &entries))
    } else {
        output::listing_table(&entries)
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|source| ClientError::Local {
            context: "cannot write to standard output".into(),
            source,
        })
}
