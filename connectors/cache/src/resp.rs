//! RESP2 framing: commands out, replies in. Pure functions over bytes, no I/O.
//!
//! A command is an array of bulk strings; a reply is one of RESP2's five types. The parser
//! is incremental: [`parse`] returns `Ok(None)` until a whole reply is buffered, so the
//! connection can read replies of a pipeline as they arrive.

use std::fmt;

/// One RESP2 reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+OK`.
    Status(String),
    /// `-ERR …`: the server refused the command. The first word is the error code.
    Error(String),
    Integer(i64),
    /// `$…`; `None` is the null bulk string (`$-1`).
    Bulk(Option<Vec<u8>>),
    /// `*…`; `None` is the null array (`*-1`).
    Array(Option<Vec<Reply>>),
}

impl Reply {
    /// The error code of an error reply (`WRONGTYPE`, `NOSCRIPT`, `ERR`, …).
    pub fn error_code(&self) -> Option<&str> {
        match self {
            Reply::Error(msg) => msg.split_whitespace().next(),
            _ => None,
        }
    }

    /// The text of a status or bulk reply.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Reply::Status(s) => Some(s),
            Reply::Bulk(Some(b)) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Status(s) | Reply::Error(s) => f.write_str(s),
            Reply::Integer(n) => write!(f, "{n}"),
            Reply::Bulk(None) | Reply::Array(None) => f.write_str("(nil)"),
            Reply::Bulk(Some(b)) => write!(f, "{:?}", String::from_utf8_lossy(b)),
            Reply::Array(Some(items)) => write!(f, "({} items)", items.len()),
        }
    }
}

/// The bytes are not RESP2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ProtocolError(pub String);

/// Appends an array header announcing `n` arguments.
pub fn push_array_header(buf: &mut Vec<u8>, n: usize) {
    buf.push(b'*');
    push_decimal(buf, n);
    buf.extend_from_slice(b"\r\n");
}

/// Appends one argument as a bulk string.
pub fn push_bulk(buf: &mut Vec<u8>, arg: &[u8]) {
    buf.push(b'$');
    push_decimal(buf, arg.len());
    buf.extend_from_slice(b"\r\n");
    buf.extend_from_slice(arg);
    buf.extend_from_slice(b"\r\n");
}

/// Appends a whole command.
pub fn push_command<A: AsRef<[u8]>>(buf: &mut Vec<u8>, args: &[A]) {
    push_array_header(buf, args.len());
    for a in args {
        push_bulk(buf, a.as_ref());
    }
}

fn push_decimal(buf: &mut Vec<u8>, mut n: usize) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[i..]);
}

/// Largest bulk string Redis sends (its `proto-max-bulk-len` default).
const MAX_BULK: i64 = 512 * 1024 * 1024;
/// Arrays nest this deep at most (Redis's own replies nest a few levels).
const MAX_DEPTH: usize = 32;

/// Parses one reply from the front of `buf`: `Ok(Some((reply, bytes used)))`, or
/// `Ok(None)` when `buf` holds only part of a reply.
pub fn parse(buf: &[u8]) -> Result<Option<(Reply, usize)>, ProtocolError> {
    parse_at(buf, 0, 0)
}

fn parse_at(buf: &[u8], at: usize, depth: usize) -> Result<Option<(Reply, usize)>, ProtocolError> {
    if depth > MAX_DEPTH {
        return Err(ProtocolError(format!(
            "arrays nested deeper than {MAX_DEPTH}"
        )));
    }
    let Some((line, next)) = line(buf, at + 1) else {
        return Ok(None);
    };
    let text = || {
        std::str::from_utf8(line)
            .map(str::to_string)
            .map_err(|_| ProtocolError("a status line is not UTF-8".into()))
    };
    match buf[at] {
        b'+' => Ok(Some((Reply::Status(text()?), next))),
        b'-' => Ok(Some((Reply::Error(text()?), next))),
        b':' => Ok(Some((Reply::Integer(integer(line)?), next))),
        b'$' => {
            let len = integer(line)?;
            if len == -1 {
                return Ok(Some((Reply::Bulk(None), next)));
            }
            if !(0..=MAX_BULK).contains(&len) {
                return Err(ProtocolError(format!("bulk length {len} out of range")));
            }
            let end = next + len as usize;
            if buf.len() < end + 2 {
                return Ok(None);
            }
            if &buf[end..end + 2] != b"\r\n" {
                return Err(ProtocolError("a bulk string does not end in CRLF".into()));
            }
            Ok(Some((Reply::Bulk(Some(buf[next..end].to_vec())), end + 2)))
        }
        b'*' => {
            let len = integer(line)?;
            if len == -1 {
                return Ok(Some((Reply::Array(None), next)));
            }
            if !(0..=i64::from(u32::MAX)).contains(&len) {
                return Err(ProtocolError(format!("array length {len} out of range")));
            }
            let mut items = Vec::with_capacity((len as usize).min(1024));
            let mut pos = next;
            for _ in 0..len {
                match parse_at(buf, pos, depth + 1)? {
                    Some((item, used)) => {
                        items.push(item);
                        pos = used;
                    }
                    None => return Ok(None),
                }
            }
            Ok(Some((Reply::Array(Some(items)), pos)))
        }
        other => Err(ProtocolError(format!(
            "unexpected type byte {:?}",
            char::from(other)
        ))),
    }
}

/// The line starting at `from` (without CRLF) and the offset after its CRLF.
fn line(buf: &[u8], from: usize) -> Option<(&[u8], usize)> {
    let rest = buf.get(from..)?;
    let cr = rest.windows(2).position(|w| w == b"\r\n")?;
    Some((&rest[..cr], from + cr + 2))
}

fn integer(line: &[u8]) -> Result<i64, ProtocolError> {
    std::str::from_utf8(line)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            ProtocolError(format!(
                "{:?} is not an integer",
                String::from_utf8_lossy(line)
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(bytes: &[u8]) -> Reply {
        let (reply, used) = parse(bytes).unwrap().unwrap();
        assert_eq!(used, bytes.len());
        reply
    }

    #[test]
    fn commands_are_arrays_of_bulk_strings() {
        let mut buf = Vec::new();
        push_command(&mut buf, &["SET", "k", ""]);
        push_command(&mut buf, &[b"GET".as_slice(), b"\r\n"]);
        assert_eq!(
            buf,
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n*2\r\n$3\r\nGET\r\n$2\r\n\r\n\r\n"
        );
        let mut big = Vec::new();
        push_bulk(&mut big, &[b'x'; 1234]);
        assert!(big.starts_with(b"$1234\r\n"));
    }

    #[test]
    fn every_reply_type_parses() {
        assert_eq!(one(b"+OK\r\n"), Reply::Status("OK".into()));
        let err = one(b"-WRONGTYPE Operation against a key\r\n");
        assert_eq!(err.error_code(), Some("WRONGTYPE"));
        assert_eq!(one(b":-42\r\n"), Reply::Integer(-42));
        assert_eq!(
            one(b"$5\r\nh\r\nlo\r\n"),
            Reply::Bulk(Some(b"h\r\nlo".to_vec()))
        );
        assert_eq!(one(b"$0\r\n\r\n"), Reply::Bulk(Some(vec![])));
        assert_eq!(one(b"$-1\r\n"), Reply::Bulk(None));
        assert_eq!(one(b"*-1\r\n"), Reply::Array(None));
        assert_eq!(one(b"*0\r\n"), Reply::Array(Some(vec![])));
        assert_eq!(
            one(b"*2\r\n$1\r\n0\r\n*2\r\n$1\r\nf\r\n:1\r\n"),
            Reply::Array(Some(vec![
                Reply::Bulk(Some(b"0".to_vec())),
                Reply::Array(Some(vec![
                    Reply::Bulk(Some(b"f".to_vec())),
                    Reply::Integer(1)
                ])),
            ]))
        );
    }

    #[test]
    fn a_partial_reply_waits_for_more_bytes_at_every_cut() {
        let whole: &[u8] = b"*3\r\n$3\r\nabc\r\n:7\r\n-ERR x\r\n+next\r\n";
        let first_len = whole.len() - b"+next\r\n".len();
        for cut in 0..first_len {
            assert_eq!(parse(&whole[..cut]).unwrap(), None, "cut at {cut}");
        }
        let (_, used) = parse(whole).unwrap().unwrap();
        assert_eq!(used, first_len);
        assert_eq!(
            parse(&whole[used..]).unwrap().unwrap().0,
            Reply::Status("next".into())
        );
    }

    #[test]
    fn malformed_replies_are_protocol_errors() {
        assert!(parse(b"HTTP/1.1 400\r\n").is_err());
        assert!(parse(b":12a\r\n").is_err());
        assert!(parse(b"$3\r\nabcXY").is_err());
        assert!(parse(b"$-7\r\n").is_err());
        let deep = "*1\r\n".repeat(40) + ":1\r\n";
        assert!(parse(deep.as_bytes()).is_err());
    }
}
