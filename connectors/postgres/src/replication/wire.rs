//! Message framing over the socket: a large read buffer frames are cut out of, and a write
//! buffer that drains progressively.
//!
//! Every backend message is a tag byte, a big-endian length that counts itself, and a body.
//! [`Wire::try_frame`] cuts whole messages out of the read buffer as zero-copy [`Bytes`]
//! (`split_to` + `freeze`: no allocation per message), and [`Wire::fill`] reads as much as
//! the socket has into spare capacity, reserving [`READ_RESERVE`] bytes at a time. Both are
//! cancel-safe: a partly received message simply stays in the buffer, and a partly written
//! one stays in the write buffer until the next [`Wire::flush`]. That is what lets the
//! replication stream `select!` between the socket and its status timer.

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::conn::ConnError;
use crate::conn::transport::MaybeTlsStream;

/// How much room to make in the read buffer when it runs low.
pub(crate) const READ_RESERVE: usize = 256 * 1024;
/// Read again without reallocating while at least this much room is left.
const MIN_SPARE: usize = 16 * 1024;
/// Larger messages are a protocol violation (the server's own limit is 1 GiB).
const MAX_MESSAGE: usize = 1 << 30;

/// One backend message: its tag and the body after the length word.
#[derive(Debug)]
pub(crate) struct Frame {
    pub tag: u8,
    pub body: Bytes,
}

/// A buffered, framed connection.
pub(crate) struct Wire {
    io: MaybeTlsStream,
    rbuf: BytesMut,
    wbuf: BytesMut,
}

impl Wire {
    pub(crate) fn new(io: MaybeTlsStream) -> Self {
        Wire {
            io,
            rbuf: BytesMut::with_capacity(READ_RESERVE),
            wbuf: BytesMut::with_capacity(1024),
        }
    }

    pub(crate) fn is_tls(&self) -> bool {
        self.io.is_tls()
    }

    /// Cuts the next whole message out of the read buffer, if there is one.
    #[inline]
    pub(crate) fn try_frame(&mut self) -> Result<Option<Frame>, ConnError> {
        cut_frame(&mut self.rbuf)
    }

    /// Reads whatever the socket has into the buffer. Cancel-safe.
    pub(crate) async fn fill(&mut self) -> Result<(), ConnError> {
        if self.rbuf.capacity() - self.rbuf.len() < MIN_SPARE {
            self.rbuf.reserve(READ_RESERVE);
        }
        match self.io.read_buf(&mut self.rbuf).await {
            Ok(0) => Err(ConnError::Closed),
            Ok(_) => Ok(()),
            Err(e) => Err(io_error(e)),
        }
    }

    /// The next message, reading as needed. Cancel-safe.
    pub(crate) async fn read_frame(&mut self) -> Result<Frame, ConnError> {
        loop {
            if let Some(frame) = self.try_frame()? {
                return Ok(frame);
            }
            self.fill().await?;
        }
    }

    /// The write buffer: encode frontend messages into it, then [`Wire::flush`].
    pub(crate) fn out(&mut self) -> &mut BytesMut {
        &mut self.wbuf
    }

    pub(crate) fn has_pending_writes(&self) -> bool {
        !self.wbuf.is_empty()
    }

    /// Writes out the write buffer. Cancel-safe: what was not written stays buffered.
    pub(crate) async fn flush(&mut self) -> Result<(), ConnError> {
        while !self.wbuf.is_empty() {
            match self.io.write_buf(&mut self.wbuf).await {
                Ok(0) => return Err(ConnError::Closed),
                Ok(_) => {}
                Err(e) => return Err(io_error(e)),
            }
        }
        self.io.flush().await.map_err(io_error)
    }
}

fn io_error(e: std::io::Error) -> ConnError {
    match e.kind() {
        std::io::ErrorKind::UnexpectedEof => ConnError::Closed,
        _ => ConnError::Io { source: e },
    }
}

/// Framing proper, kept free of I/O so it can be tested on byte strings.
#[inline]
fn cut_frame(buf: &mut BytesMut) -> Result<Option<Frame>, ConnError> {
    if buf.len() < 5 {
        return Ok(None);
    }
    let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
    if !(4..=MAX_MESSAGE).contains(&len) {
        return Err(ConnError::protocol(format!(
            "message {:?} has invalid length {len}",
            char::from(buf[0])
        )));
    }
    let total = len + 1;
    if buf.len() < total {
        buf.reserve(total - buf.len());
        return Ok(None);
    }
    let mut frame = buf.split_to(total);
    let tag = frame[0];
    frame.advance(5);
    Ok(Some(Frame {
        tag,
        body: frame.freeze(),
    }))
}

/// Big-endian integer readers over a message body, failing as protocol violations.
pub(crate) fn be_u64(body: &[u8], at: usize) -> Result<u64, ConnError> {
    body.get(at..at + 8)
        .map(|b| u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
        .ok_or_else(|| short(body))
}

pub(crate) fn be_i32(body: &[u8], at: usize) -> Result<i32, ConnError> {
    body.get(at..at + 4)
        .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(|| short(body))
}

fn short(body: &[u8]) -> ConnError {
    ConnError::protocol(format!("message body of {} bytes is too short", body.len()))
}

/// Splits a NUL-terminated string off the front of `body`.
pub(crate) fn cstr(body: &[u8]) -> Result<(&str, &[u8]), ConnError> {
    let end = body
        .iter()
        .position(|&b| b == 0)
        .ok_or_else(|| ConnError::protocol("string without terminating NUL"))?;
    let s = std::str::from_utf8(&body[..end])
        .map_err(|_| ConnError::protocol("string is not valid UTF-8"))?;
    Ok((s, &body[end + 1..]))
}

/// The columns of a `DataRow` as text (`None` for NULL).
pub(crate) fn data_row(body: &[u8]) -> Result<Vec<Option<String>>, ConnError> {
    let count = body
        .get(..2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
        .ok_or_else(|| short(body))?;
    let mut at = 2;
    let mut row = Vec::with_capacity(count.into());
    for _ in 0..count {
        let len = be_i32(body, at)?;
        at += 4;
        if len < 0 {
            row.push(None);
            continue;
        }
        let value = body.get(at..at + len as usize).ok_or_else(|| short(body))?;
        at += len as usize;
        row.push(Some(String::from_utf8_lossy(value).into_owned()));
    }
    Ok(row)
}

/// Logs a `NoticeResponse`.
pub(crate) fn log_notice(body: &[u8]) {
    if let ConnError::Server {
        severity,
        code,
        message,
        ..
    } = ConnError::from_error_fields(body)
    {
        tracing::info!(%severity, %code, %message, "server notice");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        out.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn frames_are_cut_only_when_complete() {
        let mut wire = message(b'd', b"hello");
        wire.extend(message(b'Z', b"I"));
        let mut buf = BytesMut::new();
        // feed one byte at a time: nothing comes out early, everything comes out once
        let mut frames = Vec::new();
        for b in wire {
            buf.extend_from_slice(&[b]);
            while let Some(frame) = cut_frame(&mut buf).unwrap() {
                frames.push(frame);
            }
        }
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0].tag, b'd');
        assert_eq!(&frames[0].body[..], b"hello");
        assert_eq!(frames[1].tag, b'Z');
        assert_eq!(&frames[1].body[..], b"I");
        assert!(buf.is_empty());
    }

    #[test]
    fn bad_lengths_are_protocol_violations() {
        let mut buf = BytesMut::from(&[b'd', 0, 0, 0, 3][..]);
        let err = cut_frame(&mut buf).unwrap_err();
        assert!(err.to_string().contains("invalid length 3"), "{err}");
        let mut buf = BytesMut::from(&[b'd', 0x7f, 0xff, 0xff, 0xff][..]);
        assert!(cut_frame(&mut buf).is_err());
    }

    #[test]
    fn data_rows_decode_text_and_nulls() {
        let mut body = 3u16.to_be_bytes().to_vec();
        body.extend_from_slice(&2i32.to_be_bytes());
        body.extend_from_slice(b"ab");
        body.extend_from_slice(&(-1i32).to_be_bytes());
        body.extend_from_slice(&0i32.to_be_bytes());
        let row = data_row(&body).unwrap();
        assert_eq!(row, vec![Some("ab".into()), None, Some(String::new())]);
        assert!(data_row(&body[..body.len() - 2]).is_err());
    }

    #[test]
    fn integers_and_strings_are_bounds_checked() {
        assert_eq!(be_u64(&[0, 0, 0, 0, 0, 0, 1, 0], 0).unwrap(), 256);
        assert!(be_u64(&[0; 7], 0).is_err());
        assert_eq!(
            be_i32(&[0, 0, 0, 0, 0xff, 0xff, 0xff, 0xfe], 4).unwrap(),
            -2
        );
        let (s, rest) = cstr(b"server_version\x0015.4\x00").unwrap();
        assert_eq!(s, "server_version");
        assert_eq!(cstr(rest).unwrap().0, "15.4");
        assert!(cstr(b"no nul").is_err());
    }
}
