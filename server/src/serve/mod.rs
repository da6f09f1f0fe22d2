//! Running the server as `ftpd` does: the runtime, the listening socket, the announcement of
//! where it listens and how to connect ([`announce`]), the signals that stop it ([`signals`]),
//! then the accept loop ([`crate::server`]) until the first signal.

mod announce;
mod signals;

use crate::config::Config;
use crate::fatal::FtpdError;

/// Runs the server until Ctrl-C or SIGTERM, then stops gracefully (exit 0).
pub fn serve(config: Config) -> Result<(), FtpdError> {
    // Freed memory goes back to the system some seconds after a burst, even if the server
    // then stays idle (jemalloc otherwise purges only when it next allocates).
    if let Err(error) = tikv_jemalloc_ctl::background_thread::write(true) {
        tracing::debug!(%error, "jemalloc background purging unavailable");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| FtpdError::io("cannot start the async runtime", e))?;
    runtime.block_on(async {
        let listener = listen(config.listen)
            .map_err(|e| FtpdError::io(format!("cannot listen on {}", config.listen), e))?;
        let address = listener
            .local_addr()
            .map_err(|e| FtpdError::io("the listening socket has no address", e))?;
        let (state, first_run) = crate::prepare(config).await?;
        announce::announce(&state, &first_run, address)?;
        let first_signal =
            signals::signals().map_err(|e| FtpdError::io("cannot listen for signals", e))?;
        crate::run(listener, state, first_signal)
            .await
            .map_err(|e| FtpdError::io("the server stopped", e))
    })
}

/// Connections the kernel queues before `accept` (std's default of 128 makes a burst of
/// clients wait on SYN retries).
const LISTEN_BACKLOG: u32 = 1024;

/// Binds the listening socket (address reuse on, so a restart need not wait out TIME_WAIT).
pub fn listen(address: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if address.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Writes a line to stdout for the person or script watching. A closed or full stdout (nobody
/// reading) must never stop the server, so errors are ignored (`println!` would panic).
pub fn say(line: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
}
