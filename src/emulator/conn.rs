//! Connections the emulator can break on purpose, for the `reset` fault.
//!
//! A handler cannot close its own connection through axum, and an answer whose body
//! fails half-way still gives the client a status line. To make a client see a bare
//! connection error after its task was created, every accepted socket is wrapped in a
//! [`ResettableStream`], and the handler gets that connection's [`ConnHandle`] (as axum
//! connect-info). `ConnHandle::reset` sets a flag; from then on the stream refuses to
//! read or write, so hyper drops the connection before writing a byte of the answer,
//! and the socket is closed with `SO_LINGER` 0, which sends a TCP RST instead of a FIN.

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// A TCP listener whose connections can be reset by their handlers.
pub(crate) struct ResettableListener(pub TcpListener);

impl Listener for ResettableListener {
    type Io = ResettableStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (stream, addr) = Listener::accept(&mut self.0).await;
        let stream = ResettableStream {
            inner: stream,
            handle: ConnHandle::default(),
            lingering: false,
        };
        (stream, addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// The handle a handler uses to reset its own connection.
#[derive(Clone, Debug, Default)]
pub(crate) struct ConnHandle {
    reset: Arc<AtomicBool>,
}

impl ConnHandle {
    /// Makes the connection fail from now on; whatever the handler returns is never sent.
    pub(crate) fn reset(&self) {
        self.reset.store(true, Ordering::SeqCst);
    }

    fn is_reset(&self) -> bool {
        self.reset.load(Ordering::SeqCst)
    }
}

impl Connected<IncomingStream<'_, ResettableListener>> for ConnHandle {
    fn connect_info(stream: IncomingStream<'_, ResettableListener>) -> ConnHandle {
        stream.io().handle.clone()
    }
}

/// A TCP stream that starts failing once its [`ConnHandle`] was reset.
pub(crate) struct ResettableStream {
    inner: TcpStream,
    handle: ConnHandle,
    lingering: bool,
}

impl ResettableStream {
    /// `Some(error)` once reset; the first time, also arranges for an RST on close.
    fn broken(&mut self) -> Option<io::Error> {
        if !self.handle.is_reset() {
            return None;
        }
        if !self.lingering {
            self.lingering = true;
            // Best effort: if it fails, the close is an ordinary FIN, still no answer.
            let _ = self.inner.set_zero_linger();
        }
        Some(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "connection reset by the emulator's reset fault",
        ))
    }
}

impl AsyncRead for ResettableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Some(e) = self.broken() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for ResettableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Some(e) = self.broken() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(e) = self.broken() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // No orderly FIN for a reset connection: dropping the socket sends the RST.
        if self.broken().is_some() {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
