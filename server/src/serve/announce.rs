//! What a starting server tells the person (or the script) watching: the fingerprint, where it
//! listens, the line that connects, and on a first start the new user's password, shown once
//! on a terminal or left in a mode-0600 file (never in the log).

use std::io::IsTerminal;

use super::say;
use crate::config::Config;
use crate::fatal::FtpdError;
use crate::startup::FirstRun;

/// Tells the person (or the test) where the server listens and how to connect. The
/// `listening on` line on stdout is stable: scripts wait for it.
pub fn announce(
    state: &crate::state::ServerState,
    first_run: &FirstRun,
    address: std::net::SocketAddr,
) -> Result<(), FtpdError> {
    let config = &state.config;
    if first_run.generated_key {
        tracing::info!(path = %config.secret_file.display(), "generated a new shared key; every client needs a copy");
    }
    let user = match &first_run.initial_user {
        Some((name, password)) => {
            deliver_initial_password(config, name, password)?;
            name.clone()
        }
        None => {
            let loaded = crate::users::Users::load(&config.users).ok().flatten();
            let names: Vec<String> = loaded
                .as_ref()
                .map(|users| users.users.keys().cloned().collect())
                .unwrap_or_default();
            if loaded.is_some() && names.is_empty() {
                tracing::warn!(
                    "the users file has no users: nobody can log in (add one with `ftpd user add NAME`)"
                );
            }
            // With one user, the connect line names it; with several, the person picks one.
            match <[String; 1]>::try_from(names) {
                Ok([only]) => only,
                Err(_) => "NAME".to_owned(),
            }
        }
    };
    match &config.storage {
        crate::config::Storage::Local => {
            tracing::info!(root = %config.root.display(), users = %config.users.display(), "serving");
        }
        crate::config::Storage::S3(s3) => {
            tracing::info!(bucket = %s3.bucket, prefix = %s3.prefix, users = %config.users.display(), "serving");
        }
    }
    let transport = match &state.tls {
        Some(tls) => {
            if first_run.generated_cert {
                tracing::info!(cert = %config.tls_cert.display(), key = %config.tls_key.display(), "generated a self-signed TLS certificate");
            }
            say(&format!("ftpd certificate fingerprint {}", tls.fingerprint));
            format!("--fingerprint {}", tls.fingerprint)
        }
        None => {
            tracing::warn!(
                "insecure_plaintext: no TLS; passwords and files cross the network in clear (benchmarks only)"
            );
            "--insecure-plaintext".to_owned()
        }
    };
    say(&format!("ftpd listening on {address}"));
    let line = crate::connect_line::ConnectLine {
        client: crate::connect_line::client_beside_server(),
        address,
        secret_file: &config.secret_file,
        transport,
        user: &user,
    };
    say(&format!("connect with: {}", line.render()));
    Ok(())
}

/// Shows the first user's random password once: on the terminal when there is one, otherwise in
/// a mode-0600 file next to the users file (never in the log).
fn deliver_initial_password(
    config: &Config,
    name: &str,
    password: &ftp_proto::Password,
) -> Result<(), FtpdError> {
    let text = String::from_utf8_lossy(password.expose()).into_owned();
    if std::io::stdout().is_terminal() {
        say(&format!(
            "\n  First start: created user '{name}' with password  {text}\n  It is shown only this once and stored only as a hash.\n  Change it with: {}\n",
            crate::connect_line::passwd_command(&config.users, name)
        ));
    } else {
        let folder = config.users.parent().filter(|p| !p.as_os_str().is_empty());
        let path = folder
            .unwrap_or(std::path::Path::new("."))
            .join("ftpd-initial-password");
        ftp_proto::files::private_file::write_private_file(&path, format!("{text}\n").as_bytes())
            .map_err(|e| FtpdError::io(format!("cannot write {}", path.display()), e))?;
        tracing::warn!(user = name, file = %path.display(), "first start: created a user; its password is in the file (mode 0600): read it, then delete the file");
    }
    Ok(())
}
