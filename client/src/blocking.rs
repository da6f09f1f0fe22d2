//! Running the client's file-system work off the async runtime.
//!
//! Every open, read, metadata call, rename, remove and fsync a transfer makes per file goes
//! through [`run`], on tokio's blocking pool, so a slow disk, a network file system or a
//! FIFO that blocks on open never stalls the connection's reads, writes, timeouts and signal
//! handling. (Bulk data has its own threads: see `ftp_proto::files::filestream` and
//! [`crate::whole`].) This module must never hold any state, nor run anything on the runtime
//! itself.

use crate::error::ClientError;

/// Runs `work` on a blocking thread and waits for it; a thread that panicked is a local error.
pub async fn run<T, F>(work: F) -> Result<T, ClientError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, ClientError> + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|error| Err(thread_failed(&error.to_string())))
}

/// The error of a file-system thread that stopped without an answer.
pub fn thread_failed(why: &str) -> ClientError {
    ClientError::Local {
        context: "a file-system thread failed".into(),
        source: std::io::Error::other(why.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn work_runs_on_another_thread_and_a_panic_is_an_error() {
        let here = std::thread::current().id();
        let there = run(|| Ok(std::thread::current().id())).await.unwrap();
        assert_ne!(here, there);
        let panicked = run(|| -> Result<(), ClientError> { panic!("boom") }).await;
        assert!(matches!(panicked, Err(ClientError::Local { .. })));
    }
}
