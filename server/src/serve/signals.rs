//! The signals that stop a running server: the first SIGINT or SIGTERM stops it gracefully, a
//! second one at once.

/// Listens for SIGINT and SIGTERM from now on (so none is missed): the returned future
/// completes on the first, and the second exits the process at once with code 130.
pub fn signals() -> std::io::Result<impl std::future::Future<Output = ()>> {
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
