//! The byte stream a session runs over: TLS (the default) or, when both sides asked for it
//! explicitly, plain TCP. Either way the framing above it is the same; [`Stream::binding`] gives
//! the value the key proofs are bound to.
//!
//! TLS runs over a [`Socket`]: the TCP stream behind a large read buffer, because rustls reads
//! at most about 4 KiB per call; without the buffer that would be one system call per 4 KiB of
//! file data. This module only forwards reads and writes: it never looks at the bytes.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, BufReader, ReadBuf};
use tokio::net::TcpStream;

use crate::handshake::ChannelBinding;

/// What TLS runs over: the TCP stream with a read buffer (writes pass straight through).
pub type Socket = BufReader<TcpStream>;

/// Size of the read buffer under TLS: large socket reads, handed to rustls in its small pieces.
pub const TLS_READ_BUFFER: usize = 256 * 1024;

/// Most encrypted bytes rustls holds for sending before a write waits for the socket (its
/// default is 64 KiB): larger batches mean fewer system calls per chunk of file data.
pub const TLS_SEND_BUFFER: usize = 512 * 1024;

/// Wraps a TCP stream for TLS to run over.
pub fn socket(tcp: TcpStream) -> Socket {
    BufReader::with_capacity(TLS_READ_BUFFER, tcp)
}

/// An established connection, encrypted or not.
#[derive(Debug)]
pub enum Stream {
    /// Plain TCP (`--insecure-plaintext` on both sides).
    Plain(TcpStream),
    /// TLS 1.3 over TCP, either side of it.
    Tls(Box<tokio_rustls::TlsStream<Socket>>),
}

impl Stream {
    /// What the key proofs on this connection are bound to: the TLS exporter value, or the
    /// plaintext marker.
    pub fn binding(&self) -> Result<ChannelBinding, rustls::Error> {
        match self {
            Stream::Plain(_) => Ok(ChannelBinding::plaintext()),
            Stream::Tls(tls) => match tls.as_ref() {
                tokio_rustls::TlsStream::Client(client) => {
                    crate::tls::channel_binding(client.get_ref().1)
                }
                tokio_rustls::TlsStream::Server(server) => {
                    crate::tls::channel_binding(server.get_ref().1)
                }
            },
        }
    }

    /// Whether the connection is encrypted.
    pub fn is_tls(&self) -> bool {
        matches!(self, Stream::Tls(_))
    }

    /// The TCP socket underneath.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(tcp) => tcp,
            Stream::Tls(tls) => tls.get_ref().0.get_ref(),
        }
    }
}

impl From<tokio_rustls::client::TlsStream<Socket>> for Stream {
    fn from(mut stream: tokio_rustls::client::TlsStream<Socket>) -> Self {
        stream.get_mut().1.set_buffer_limit(Some(TLS_SEND_BUFFER));
        Stream::Tls(Box::new(tokio_rustls::TlsStream::Client(stream)))
    }
}

impl From<tokio_rustls::server::TlsStream<Socket>> for Stream {
    fn from(mut stream: tokio_rustls::server::TlsStream<Socket>) -> Self {
        stream.get_mut().1.set_buffer_limit(Some(TLS_SEND_BUFFER));
        Stream::Tls(Box::new(tokio_rustls::TlsStream::Server(stream)))
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_write_vectored(cx, bufs),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(tcp) => tcp.is_write_vectored(),
            Stream::Tls(tls) => tls.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
        }
    }
}
