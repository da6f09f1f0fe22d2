//! The async client: connect (TLS by default, see [`crate::transport`]), mutual key proof bound
//! to the TLS session, login, then requests.
//!
//! Generic over any `AsyncRead + AsyncWrite` (tests drive it over in-memory pipes). The password
//! is sent only after the server's certificate was accepted and the server has proved it holds
//! the shared key. Every wait for the server is bounded by the connection's timeout (`--timeout`,
//! 60 s by default), an answer awaited and a send the server does not take alike, so a silent
//! server or a stalled link gives a lost-connection error (which `--retries` retries) instead
//! of a hang, and gives up at once when a signal asks the command to stop (see
//! [`crate::interrupt`]).

use std::time::Duration;

use ftp_proto::file_frames;
use ftp_proto::handshake::{self, ChannelBinding};
use ftp_proto::transport::Stream;
use ftp_proto::{
    ClientCodec, ClientMessage, DirEntry, PROTOCOL_VERSION, Password, ServerMessage, SharedKey,
};
use futures::{FutureExt, SinkExt, StreamExt};

pub use crate::address::{parse_server, server_address};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::codec::Framed;

use crate::error::ClientError;
use crate::interrupt::Interrupt;
use crate::transport::Transport;

/// Longest wait for any answer from the server, or for it to take one frame, unless
/// [`Client::set_timeout`] says otherwise (a login may queue behind others' argon2 work).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// A connection that has passed the handshake (and, after [`Client::login`], the login).
#[derive(Debug)]
pub struct Client<S = Stream> {
    /// The framed stream.
    conn: Framed<S, ClientCodec>,
    /// Stops every send and receive once a signal came (the default one never does).
    interrupt: Interrupt,
    /// Longest wait for an answer, or for the server to take one frame: past it the
    /// connection counts as lost.
    timeout: Duration,
    /// The server's minimum transfer rate in bytes per second, as its `Welcome` said (0 before
    /// the login, or when it has none): a `--limit-rate` below it is refused up front.
    min_transfer_rate: u64,
    /// An attempt ended with answers still on their way (data of a download it stopped
    /// reading): the next request would read them, so the connection must not be used again.
    out_of_step: bool,
}

/// What the server said on a successful login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Welcome {
    /// The user logged in.
    pub user: String,
    /// Whether this user may only list, stat and download.
    pub read_only: bool,
    /// The server's minimum transfer rate (`min_transfer_rate`), bytes per second; 0: none.
    pub min_transfer_rate: u64,
}

impl Client<Stream> {
    /// Connects (TLS, or plain TCP if `transport` says so) and runs the handshake. A server met
    /// for the first time is recorded in the known-servers file once it has proved the key,
    /// with a note on stderr.
    pub async fn connect(
        server: &str,
        key: &SharedKey,
        transport: &Transport,
    ) -> Result<Self, ClientError> {
        let address = server_address(server)?;
        let (stream, first_use) = transport.connect(&address).await?;
        let binding = stream.binding().map_err(|e| ClientError::Connect {
            server: address.clone(),
            reason: format!("no TLS exporter value: {e}"),
        })?;
        let client = Client::handshake(stream, key, &binding).await?;
        if let Some(first) = first_use {
            let (file, server, fingerprint) =
                (first.file.clone(), address.clone(), first.fingerprint);
            crate::blocking::run(move || file.record(&server, &fingerprint)).await?;
            eprintln!(
                "ftp: first connection to {address}: recorded its certificate {} in {}",
                first.fingerprint,
                first.file.path.display()
            );
        }
        Ok(client)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    /// Runs the mutual handshake on an open stream whose key proofs are bound to `binding`.
    pub async fn handshake(
        stream: S,
        key: &SharedKey,
        binding: &ChannelBinding,
    ) -> Result<Self, ClientError> {
        let mut client = Client {
            conn: Framed::new(stream, ClientCodec::default()),
            interrupt: Interrupt::default(),
            timeout: DEFAULT_TIMEOUT,
            min_transfer_rate: 0,
            out_of_step: false,
        };
        let (version, server_nonce) = match client.receive().await? {
            ServerMessage::Hello { version, nonce } => (version, nonce),
            other => return Err(unexpected("the server's hello", &other)),
        };
        if version != PROTOCOL_VERSION {
            return Err(ClientError::Version {
                server: version,
                client: PROTOCOL_VERSION,
            });
        }
        let client_nonce = handshake::new_nonce()?;
        let proof = handshake::client_proof(key, binding, &server_nonce, &client_nonce);
        // The default key goes in a plain hello, as it always did; a named key names itself.
        let hello = if key.is_default() {
            ClientMessage::Hello {
                version: PROTOCOL_VERSION,
                nonce: client_nonce,
                proof,
            }
        } else {
            ClientMessage::KeyHello {
                version: PROTOCOL_VERSION,
                key: key.name().to_owned(),
                nonce: client_nonce,
                proof,
            }
        };
        client.send(hello).await?;
        match client.receive().await? {
            ServerMessage::Proof { proof }
                if handshake::verify_server_proof(
                    key,
                    binding,
                    &client_nonce,
                    &server_nonce,
                    &proof,
                ) =>
            {
                Ok(client)
            }
            ServerMessage::Proof { .. } => Err(ClientError::ServerNotVerified),
            other => Err(unexpected("the server's proof", &other)),
        }
    }

    /// Logs in; a refusal names the user but never says which of name or password was wrong.
    pub async fn login(&mut self, user: &str, password: Password) -> Result<Welcome, ClientError> {
        self.send(ClientMessage::Login {
            user: user.to_owned(),
            password,
        })
        .await?;
        match self.receive().await {
            Ok(ServerMessage::Welcome {
                user,
                read_only,
                min_transfer_rate,
            }) => {
                self.min_transfer_rate = min_transfer_rate;
                Ok(Welcome {
                    user,
                    read_only,
                    min_transfer_rate,
                })
            }
            Ok(other) => Err(unexpected("a login answer", &other)),
            Err(ClientError::Remote { kind, message }) if kind.is_authentication() => {
                Err(ClientError::Remote {
                    kind,
                    message: format!("user {user:?}: {message}"),
                })
            }
            Err(error) => Err(error),
        }
    }

    /// Lists a remote folder (or the one entry of a file).
    pub async fn list(&mut self, path: &str) -> Result<Vec<DirEntry>, ClientError> {
        self.send(ClientMessage::List {
            path: path.to_owned(),
        })
        .await?;
        let mut all = Vec::new();
        loop {
            match self.receive().await? {
                ServerMessage::Listing { entries, last } => {
                    all.extend(entries);
                    if last {
                        return Ok(all);
                    }
                }
                other => return Err(unexpected("a listing", &other)),
            }
        }
    }

    /// Ends the session politely.
    pub async fn quit(mut self) -> Result<(), ClientError> {
        self.send(ClientMessage::Quit {}).await?;
        self.conn.close().await?;
        Ok(())
    }

    /// Refuses a `--limit-rate` below the server's minimum transfer rate, which would cut the
    /// transfer: called before anything is sent or asked for, so nothing moves.
    pub fn check_limit_rate(&self, limit: Option<u64>) -> Result<(), ClientError> {
        match limit {
            Some(rate) if rate < self.min_transfer_rate => Err(ClientError::BelowServerFloor {
                rate,
                floor: self.min_transfer_rate,
            }),
            _ => Ok(()),
        }
    }

    /// Whether the server has already spoken or closed the connection unasked: before a login,
    /// only its farewell (the login came too late) can be waiting. Does not wait.
    pub(crate) fn closed_by_server(&mut self) -> bool {
        self.conn.next().now_or_never().is_some()
    }

    /// From now on, sends and receives give up with [`ClientError::Interrupted`] once
    /// `interrupt` is raised; the connection is then of no further use.
    pub fn stop_on(&mut self, interrupt: Interrupt) {
        self.interrupt = interrupt;
    }

    /// From now on, an answer not received, or a frame not taken by the server, within
    /// `timeout` counts as a lost connection.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// The interrupt this connection stops on.
    /// Marks the connection as out of step: answers are still on their way unread.
    pub(crate) fn set_out_of_step(&mut self) {
        self.out_of_step = true;
    }

    /// Whether answers are still on their way unread (the connection must be dropped).
    pub fn is_out_of_step(&self) -> bool {
        self.out_of_step
    }

    pub(crate) fn interrupt(&self) -> &Interrupt {
        &self.interrupt
    }

    /// Sends a message during a transfer; if the server has closed the connection, its last
    /// error frame (the reason) is reported instead of the broken pipe.
    pub(crate) async fn send_or_explain(
        &mut self,
        message: ClientMessage,
    ) -> Result<(), ClientError> {
        let sent = bounded(&self.interrupt, self.timeout, self.conn.send(message)).await?;
        self.explain(sent).await
    }

    /// Sends file data during a transfer as a `Chunk` frame written straight from `data`'s
    /// buffer (see [`ftp_proto::file_frames`]); errors are explained as by
    /// [`Self::send_or_explain`].
    pub(crate) async fn send_chunk_or_explain(
        &mut self,
        offset: u64,
        data: bytes::Bytes,
    ) -> Result<(), ClientError> {
        let sent = bounded(
            &self.interrupt,
            self.timeout,
            file_frames::send_chunk(&mut self.conn, offset, data),
        )
        .await?;
        self.explain(sent).await
    }

    /// Queues a message during a transfer without flushing it (the framed writer still writes
    /// whenever its buffer fills); errors are explained as by [`Self::send_or_explain`]. What is
    /// queued goes out at the latest with [`Self::receive_flushing`].
    pub(crate) async fn feed_or_explain(
        &mut self,
        message: ClientMessage,
    ) -> Result<(), ClientError> {
        let fed = bounded(&self.interrupt, self.timeout, self.conn.feed(message)).await?;
        self.explain(fed).await
    }

    /// Receives one message as [`Self::receive`] does, first flushing what is queued unless
    /// a message is already waiting: many queued messages go out in one write, and the peer
    /// never waits for what is still queued here.
    pub(crate) async fn receive_flushing(&mut self) -> Result<ServerMessage, ClientError> {
        if let Some(next) = self.conn.next().now_or_never() {
            return interpret(next);
        }
        let flushed = bounded(&self.interrupt, self.timeout, self.conn.flush()).await?;
        self.explain(flushed).await?;
        self.receive().await
    }

    /// A failed write, explained: if the server has closed the connection, its last error
    /// frame (the reason) instead of the broken pipe.
    async fn explain(
        &mut self,
        written: Result<(), ftp_proto::CodecError>,
    ) -> Result<(), ClientError> {
        let Err(error) = written else {
            return Ok(());
        };
        let pending = tokio::time::timeout(Duration::from_secs(1), self.conn.next()).await;
        match pending {
            Ok(Some(Ok(ServerMessage::Error { kind, message }))) => {
                Err(ClientError::Remote { kind, message })
            }
            _ => Err(error.into()),
        }
    }

    /// Sends one message.
    pub(crate) async fn send(&mut self, message: ClientMessage) -> Result<(), ClientError> {
        bounded(&self.interrupt, self.timeout, self.conn.send(message))
            .await?
            .map_err(ClientError::from)
    }

    /// Receives one message; an error frame becomes [`ClientError::Remote`].
    pub(crate) async fn receive(&mut self) -> Result<ServerMessage, ClientError> {
        let timeout = self.timeout;
        let next = self
            .interrupt
            .guard(tokio::time::timeout(timeout, self.conn.next()))
            .await?
            .map_err(|_| {
                ClientError::Connection(format!(
                    "no answer from the server within {}",
                    humantime::format_duration(timeout)
                ))
            })?;
        interpret(next)
    }
}

/// Runs a send to its end, unless `interrupt` stops it or it does not finish within `timeout`
/// (the server takes no data: a stalled link): then the connection counts as lost. A send cut short leaves the
/// stream whole (see [`ftp_proto::file_frames`]), but the connection is not used again.
async fn bounded<T>(
    interrupt: &Interrupt,
    timeout: Duration,
    send: impl Future<Output = T>,
) -> Result<T, ClientError> {
    interrupt
        .guard(tokio::time::timeout(timeout, send))
        .await?
        .map_err(|_| {
            ClientError::Connection(format!(
                "a send to the server did not finish within {}; the link may have stalled",
                humantime::format_duration(timeout)
            ))
        })
}

/// What the next frame from the server means: an error frame becomes
/// [`ClientError::Remote`], the end of the stream a lost connection.
fn interpret(
    next: Option<Result<ServerMessage, ftp_proto::CodecError>>,
) -> Result<ServerMessage, ClientError> {
    match next {
        Some(Ok(ServerMessage::Error { kind, message })) => {
            Err(ClientError::Remote { kind, message })
        }
        Some(Ok(message)) => Ok(message),
        Some(Err(error)) => Err(error.into()),
        None => Err(ClientError::Connection(
            "the server closed the connection".into(),
        )),
    }
}

/// A message that does not fit where it arrived.
pub(crate) fn unexpected(expected: &str, got: &ServerMessage) -> ClientError {
    let name = match got {
        ServerMessage::Hello { .. } => "hello",
        ServerMessage::Proof { .. } => "proof",
        ServerMessage::Welcome { .. } => "welcome",
        ServerMessage::Listing { .. } => "listing",
        ServerMessage::Error { .. } => "error",
        ServerMessage::PutReady { .. } => "put-ready",
        ServerMessage::PutExisting { .. } => "put-existing",
        ServerMessage::PutDone { .. } => "put-done",
        ServerMessage::GetReady { .. } => "get-ready",
        ServerMessage::Data { .. } => "data",
        ServerMessage::GetDone { .. } => "get-done",
        ServerMessage::StatInfo { .. } => "stat",
        ServerMessage::Done { .. } => "done",
        ServerMessage::PartialList { .. } => "partial-list",
        ServerMessage::Renamed { .. } => "renamed",
        ServerMessage::TreeBatch { .. } => "tree-batch",
        ServerMessage::Removed { .. } => "removed",
        ServerMessage::DiskUsage(_) => "disk-usage",
    };
    ClientError::Protocol(format!("expected {expected}, got a {name} message"))
}
