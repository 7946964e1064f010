//! One Redis connection: connect and authenticate, send commands, read replies.
//!
//! [`Connection::pipeline`] writes a whole run of pre-encoded commands while reading their
//! replies concurrently, so a batch costs one round trip however long it is, and neither
//! side's socket buffer can fill up and stall the other. Any I/O error, timeout or
//! malformed reply leaves the connection out of step with the server: the caller drops it
//! and connects again ([`RedisError::breaks_connection`]).

use std::future::Future;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::config::ConnectParams;
use crate::error::RedisError;
use crate::resp::{self, Reply};

/// Bytes read from the socket at a time.
const READ_CHUNK: usize = 64 * 1024;
/// Bytes written under one timeout.
const WRITE_CHUNK: usize = 256 * 1024;

/// A connected, authenticated Redis connection with the database selected.
pub struct Connection {
    stream: TcpStream,
    /// Bytes received and not yet parsed: `rbuf[rpos..]`.
    rbuf: Vec<u8>,
    rpos: usize,
    timeout: Duration,
}

async fn within<T, E>(
    timeout: Duration,
    fut: impl Future<Output = Result<T, E>>,
) -> Result<T, RedisError>
where
    RedisError: From<E>,
{
    match tokio::time::timeout(timeout, fut).await {
        Ok(result) => result.map_err(RedisError::from),
        Err(_) => Err(RedisError::Timeout(timeout)),
    }
}

impl Connection {
    /// Connects, sends `AUTH` when a password (or user) is configured, and `SELECT`s the
    /// database when it is not 0.
    pub async fn connect(params: &ConnectParams) -> Result<Connection, RedisError> {
        let addr = format!("{}:{}", params.host, params.port);
        let stream = match tokio::time::timeout(
            params.timeout,
            TcpStream::connect((params.host.as_str(), params.port)),
        )
        .await
        {
            Ok(Ok(stream)) => stream,
            Ok(Err(source)) => return Err(RedisError::Connect { addr, source }),
            Err(_) => {
                return Err(RedisError::Connect {
                    addr,
                    source: std::io::ErrorKind::TimedOut.into(),
                });
            }
        };
        stream.set_nodelay(true)?;
        let mut conn = Connection {
            stream,
            rbuf: Vec::with_capacity(READ_CHUNK),
            rpos: 0,
            timeout: params.timeout,
        };
        let password = params.password.as_ref().map(|p| p.expose());
        let auth = match (&params.username, password) {
            (Some(user), pass) => Some(vec![
                "AUTH".as_bytes(),
                user.as_bytes(),
                pass.unwrap_or_default().as_bytes(),
            ]),
            (None, Some(pass)) => Some(vec!["AUTH".as_bytes(), pass.as_bytes()]),
            (None, None) => None,
        };
        if let Some(args) = auth
            && let Reply::Error(message) = conn.command(&args).await?
        {
            return Err(RedisError::Auth(crate::error::tidy(message)));
        }
        if params.db != 0 {
            let db = params.db.to_string();
            match conn.command(&["SELECT", db.as_str()]).await? {
                Reply::Error(message) if crate::error::is_auth_reply(&message) => {
                    return Err(RedisError::Auth(crate::error::tidy(message)));
                }
                Reply::Error(message) => {
                    return Err(RedisError::Select {
                        db: params.db,
                        message: crate::error::tidy(message),
                    });
                }
                _ => {}
            }
        }
        Ok(conn)
    }

    /// Sends one command and returns its reply (an error reply is `Ok(Reply::Error)`).
    pub async fn command<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Reply, RedisError> {
        let mut buf = Vec::new();
        resp::push_command(&mut buf, args);
        let mut replies = self.pipeline(&buf, 1).await?;
        replies.pop().ok_or_else(|| {
            RedisError::Protocol(resp::ProtocolError("a command got no reply".into()))
        })
    }

    /// Sends `count` encoded commands and returns their replies, in order.
    pub async fn pipeline(
        &mut self,
        encoded: &[u8],
        count: usize,
    ) -> Result<Vec<Reply>, RedisError> {
        let timeout = self.timeout;
        let (mut reader, mut writer) = self.stream.split();
        let rbuf = &mut self.rbuf;
        let rpos = &mut self.rpos;
        let send = async {
            // Chunked, so the timeout bounds a stall, not the time Redis needs for a batch.
            for chunk in encoded.chunks(WRITE_CHUNK) {
                within(timeout, writer.write_all(chunk)).await?;
            }
            Ok::<_, RedisError>(())
        };
        let receive = async {
            let mut replies = Vec::with_capacity(count);
            while replies.len() < count {
                match resp::parse(&rbuf[*rpos..])? {
                    Some((reply, used)) => {
                        *rpos += used;
                        replies.push(reply);
                    }
                    None => {
                        if *rpos > 0 {
                            rbuf.drain(..*rpos);
                            *rpos = 0;
                        }
                        rbuf.reserve(READ_CHUNK);
                        // The timeout bounds the wait for progress, not the whole batch.
                        let n = within(timeout, reader.read_buf(rbuf)).await?;
                        if n == 0 {
                            return Err(RedisError::Io(std::io::ErrorKind::UnexpectedEof.into()));
                        }
                    }
                }
            }
            Ok(replies)
        };
        let ((), replies) = tokio::try_join!(send, receive)?;
        Ok(replies)
    }
}
