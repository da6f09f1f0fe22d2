//! `ftpd` entry point: parse the command line (answering `completions` and `man`, see
//! [`ftp_proto::cli_docs`]), run the server or a maintenance command, and
//! turn the outcome into an exit code (0 success, 2 usage, 1 anything else).

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Context;
use ftpd::cli::{Cli, Command};
use ftpd::config::Config;
use ftpd::startup::FirstRun;

/// jemalloc keeps freed chunk buffers for reuse: with glibc's allocator every received frame
/// faulted in fresh pages (0.15 s of CPU per GiB uploaded).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli: Cli = match ftp_proto::cli_docs::parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    init_logging();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ftpd: error: {}", describe(&error));
            if is_usage(&error) {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// The error and its causes, each cause added only if the text so far does not already say it.
fn describe(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

/// Whether the error is a mistake in what was asked (bad setting, bad name, no way to read a
/// password): exit code 2, as for a command-line error.
fn is_usage(error: &anyhow::Error) -> bool {
    use ftpd::config::ConfigError;
    use ftpd::users::UsersError;
    error.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<ConfigError>(),
            Some(ConfigError::Invalid { .. })
        ) || matches!(
            cause.downcast_ref::<UsersError>(),
            Some(UsersError::Refused(_))
        )
    })
}

/// Logs to stderr; `RUST_LOG` picks the level (default `info`).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

/// Dispatches to the command asked for.
fn run(cli: Cli) -> anyhow::Result<()> {
    for flag in cli.unused() {
        eprintln!("ftpd: note: {flag} does nothing for this command; ignored");
    }
    let config = Config::load(&cli.settings())?;
    match cli.command {
        Some(Command::User { command, .. }) => say(&ftpd::admin::user(command, &config)?),
        Some(Command::Keygen { out, force, .. }) => {
            let out = out.unwrap_or_else(|| config.secret_file.clone());
            say(&ftpd::admin::keygen(&out, force)?);
        }
        Some(Command::Fingerprint { .. }) => {
            let (identity, generated) = ftpd::tls::load_or_generate(&config)?;
            if generated {
                eprintln!(
                    "ftpd: generated a self-signed certificate in {} (key in {}, mode 0600)",
                    config.tls_cert.display(),
                    config.tls_key.display()
                );
            }
            say(&identity.fingerprint.to_string());
        }
        None => serve(config)?,
    }
    Ok(())
}

/// Runs the server until Ctrl-C or SIGTERM, then stops gracefully (exit 0).
fn serve(config: Config) -> anyhow::Result<()> {
    // Freed memory goes back to the system some seconds after a burst, even if the server
    // then stays idle (jemalloc otherwise purges only when it next allocates).
    if let Err(error) = tikv_jemalloc_ctl::background_thread::write(true) {
        tracing::debug!(%error, "jemalloc background purging unavailable");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let listener =
            listen(config.listen).with_context(|| format!("cannot listen on {}", config.listen))?;
        let address = listener.local_addr()?;
        let (state, first_run) = ftpd::prepare(config).await?;
        announce(&state, &first_run, address)?;
        let first_signal = signals()?;
        ftpd::run(listener, state, first_signal).await?;
        Ok(())
    })
}

/// Connections the kernel queues before `accept` (std's default of 128 makes a burst of
/// clients wait on SYN retries).
const LISTEN_BACKLOG: u32 = 1024;

/// Binds the listening socket (address reuse on, so a restart need not wait out TIME_WAIT).
fn listen(address: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if address.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Tells the person (or the test) where the server listens and how to connect. The
/// `listening on` line on stdout is stable: scripts wait for it.
fn announce(
    state: &ftpd::state::ServerState,
    first_run: &FirstRun,
    address: std::net::SocketAddr,
) -> anyhow::Result<()> {
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
            let loaded = ftpd::users::Users::load(&config.users).ok().flatten();
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
    tracing::info!(root = %config.root.display(), users = %config.users.display(), "serving");
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
    let line = ftpd::connect_line::ConnectLine {
        client: ftpd::connect_line::client_beside_server(),
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
) -> anyhow::Result<()> {
    let text = String::from_utf8_lossy(password.expose()).into_owned();
    if std::io::stdout().is_terminal() {
        say(&format!(
            "\n  First start: created user '{name}' with password  {text}\n  It is shown only this once and stored only as a hash.\n  Change it with: {}\n",
            ftpd::connect_line::passwd_command(&config.users, name)
        ));
    } else {
        let folder = config.users.parent().filter(|p| !p.as_os_str().is_empty());
        let path = folder
            .unwrap_or(std::path::Path::new("."))
            .join("ftpd-initial-password");
        ftp_proto::private_file::write_private_file(&path, format!("{text}\n").as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
        tracing::warn!(user = name, file = %path.display(), "first start: created a user; its password is in the file (mode 0600): read it, then delete the file");
    }
    Ok(())
}

/// Writes a line to stdout for the person or script watching. A closed or full stdout (nobody
/// reading) must never stop the server, so errors are ignored (`println!` would panic).
fn say(line: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
}

/// Listens for SIGINT and SIGTERM from now on (so none is missed): the returned future
/// completes on the first, and the second exits the process at once with code 130.
fn signals() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let (first, first_seen) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        let _ = first.send(());
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        eprintln!("ftpd: second signal: exiting at once");
        std::process::exit(130);
    });
    Ok(async {
        let _ = first_seen.await;
        tracing::info!("signal received: stopping gracefully (a second signal stops at once)");
    })
}
