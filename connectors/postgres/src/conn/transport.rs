//! The byte stream under our own protocol clients: TCP, then TLS if `sslmode` asks for it.
//!
//! TLS is negotiated the classic Postgres way: an `SSLRequest` packet, a one-byte answer
//! (`S` = go ahead, `N` = no TLS here), then the handshake. `prefer` falls back to plain TCP
//! on `N`; `require` and stronger fail with [`ConnError::SslRefused`].

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::BytesMut;
use postgres_protocol::message::frontend;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use super::tls::{client_config, server_name};
use super::{ConnError, ConnectParams, SslMode};

/// A connected socket, encrypted or not.
pub(crate) enum MaybeTlsStream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl MaybeTlsStream {
    pub(crate) fn is_tls(&self) -> bool {
        matches!(self, MaybeTlsStream::Tls(_))
    }
}

/// Runs `fut` within `params.connect_timeout` (zero: no limit).
pub(crate) async fn with_connect_timeout<T>(
    params: &ConnectParams,
    fut: impl Future<Output = Result<T, ConnError>>,
) -> Result<T, ConnError> {
    if params.connect_timeout.is_zero() {
        return fut.await;
    }
    match tokio::time::timeout(params.connect_timeout, fut).await {
        Ok(result) => result,
        Err(_) => Err(ConnError::Timeout {
            addr: params.addr(),
            after: params.connect_timeout,
        }),
    }
}

/// Opens TCP to `params.host:port` and negotiates TLS per `params.sslmode`.
pub(crate) async fn connect_transport(params: &ConnectParams) -> Result<MaybeTlsStream, ConnError> {
    // Configuration problems (a missing root file) are reported before touching the network.
    let tls = match params.sslmode {
        SslMode::Disable => None,
        _ => Some((client_config(params)?, server_name(&params.host)?)),
    };
    let mut tcp = connect_tcp(params).await?;
    let Some((config, name)) = tls else {
        return Ok(MaybeTlsStream::Plain(tcp));
    };

    let mut request = BytesMut::with_capacity(8);
    frontend::ssl_request(&mut request);
    tcp.write_all(&request).await?;
    let answer = tcp.read_u8().await.map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => ConnError::Closed,
        _ => ConnError::Io { source: e },
    })?;
    match answer {
        b'S' => {}
        b'N' if params.sslmode.requires_tls() => {
            return Err(ConnError::SslRefused {
                addr: params.addr(),
                sslmode: params.sslmode,
            });
        }
        b'N' => {
            tracing::debug!(addr = %params.addr(), "server refused ssl, continuing without it");
            return Ok(MaybeTlsStream::Plain(tcp));
        }
        other => {
            return Err(ConnError::protocol(format!(
                "server answered SSLRequest with byte {other:#04x} instead of 'S' or 'N'"
            )));
        }
    }
    let stream = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|source| ConnError::Tls {
            addr: params.addr(),
            source,
        })?;
    Ok(MaybeTlsStream::Tls(Box::new(stream)))
}

async fn connect_tcp(params: &ConnectParams) -> Result<TcpStream, ConnError> {
    let addr = params.addr();
    let resolved = tokio::net::lookup_host((params.host.as_str(), params.port))
        .await
        .map_err(|source| ConnError::Connect {
            addr: addr.clone(),
            source,
        })?;
    let mut last_error = None;
    for sockaddr in resolved {
        match TcpStream::connect(sockaddr).await {
            Ok(stream) => {
                stream.set_nodelay(true)?;
                return Ok(stream);
            }
            Err(e) => {
                tracing::debug!(%sockaddr, error = %e, "tcp connect failed");
                last_error = Some(e);
            }
        }
    }
    Err(ConnError::Connect {
        addr,
        source: last_error.unwrap_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "host name resolved to no addresses",
            )
        }),
    })
}

impl AsyncRead for MaybeTlsStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            MaybeTlsStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for MaybeTlsStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            MaybeTlsStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            MaybeTlsStream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            MaybeTlsStream::Plain(s) => s.is_write_vectored(),
            MaybeTlsStream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_flush(cx),
            MaybeTlsStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            MaybeTlsStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
