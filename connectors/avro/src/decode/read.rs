//! Avro binary → JSON, walking a [`Compiled`] schema next to the bytes.
//!
//! Values become their natural JSON: records and maps objects, unions their branch, enums
//! their symbol, bytes base64, decimals exact decimal strings, non-finite floats the
//! strings `NaN`, `Infinity`, `-Infinity`. Parts of a record nobody needs (the `before`
//! image, the transaction block) are skipped without building anything.
//!
//! Lengths and counts come from the data, so every one is checked against what is left
//! before anything is allocated: a corrupt record is an error, never a huge allocation.

use std::borrow::Cow;

use base64::Engine as _;
use serde_json::{Map, Number, Value as Json};

use super::compile::{Compiled, Node, NodeId, Record};
use super::decimal::decimal_string;

/// How deep values may nest (only a recursive schema gets near it).
const MAX_DEPTH: u32 = 128;

/// Why bytes do not match their schema; `path` is the field path, innermost first.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ReadError {
    pub path: Vec<String>,
    pub reason: Cow<'static, str>,
}

impl ReadError {
    pub fn new(reason: impl Into<Cow<'static, str>>) -> Self {
        ReadError {
            path: Vec::new(),
            reason: reason.into(),
        }
    }

    pub fn within(mut self, segment: &str) -> Self {
        self.path.push(segment.to_owned());
        self
    }

    /// `after.tags[2]: <reason>`.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for s in self.path.iter().rev() {
            if !out.is_empty() && !s.starts_with('[') {
                out.push('.');
            }
            out.push_str(s);
        }
        if out.is_empty() {
            self.reason.to_string()
        } else {
            format!("{out}: {}", self.reason)
        }
    }
}

type Result<T> = std::result::Result<T, ReadError>;

fn truncated() -> ReadError {
    ReadError::new("the data ends too early")
}

/// A cursor over one Avro datum.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// A zigzag varint `long`.
    #[inline]
    pub fn long(&mut self) -> Result<i64> {
        let mut value: u64 = 0;
        let mut shift = 0;
        loop {
            let Some(&b) = self.buf.get(self.pos) else {
                return Err(truncated());
            };
            self.pos += 1;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok((value >> 1) as i64 ^ -((value & 1) as i64));
            }
            shift += 7;
            if shift > 63 {
                return Err(ReadError::new("a varint is longer than 10 bytes"));
            }
        }
    }

    pub fn int(&mut self) -> Result<i32> {
        let v = self.long()?;
        i32::try_from(v).map_err(|_| ReadError::new(format!("{v} does not fit an int")))
    }

    #[inline]
    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(truncated());
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// A length (non-negative, within what is left).
    fn len(&mut self) -> Result<usize> {
        let n = self.long()?;
        if n < 0 || n as u64 > self.remaining() as u64 {
            return Err(ReadError::new(format!(
                "length {n} does not fit the {} bytes left",
                self.remaining()
            )));
        }
        Ok(n as usize)
    }

    #[inline]
    pub fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.len()?;
        self.take(n)
    }

    #[inline]
    pub fn str(&mut self) -> Result<&'a str> {
        std::str::from_utf8(self.bytes()?).map_err(|_| ReadError::new("a string is not UTF-8"))
    }

    fn f32(&mut self) -> Result<f32> {
        let b = self.take(4)?;
        Ok(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn f64(&mut self) -> Result<f64> {
        let b = self.take(8)?;
        let mut a = [0; 8];
        a.copy_from_slice(b);
        Ok(f64::from_le_bytes(a))
    }

    /// The branch index of a union with `n` branches.
    pub fn branch(&mut self, n: usize) -> Result<usize> {
        let i = self.long()?;
        if i < 0 || i as u64 >= n as u64 {
            return Err(ReadError::new(format!(
                "union branch {i} does not exist (the union has {n})"
            )));
        }
        Ok(i as usize)
    }

    /// The item count of the next array or map block (0 ends the value). A negative count
    /// is followed by the block's size in bytes, which is not needed here.
    fn block(&mut self, item: &Node) -> Result<usize> {
        let n = self.long()?;
        let n = if n < 0 {
            self.long()?;
            n.unsigned_abs()
        } else {
            n as u64
        };
        // Every item but a null takes at least one byte.
        let limit = if *item == Node::Null {
            1 << 20
        } else {
            self.remaining() as u64
        };
        if n > limit {
            return Err(ReadError::new(format!(
                "a block of {n} items does not fit the {} bytes left",
                self.remaining()
            )));
        }
        Ok(n as usize)
    }

    /// Reads a value as JSON.
    pub fn json(&mut self, s: &Compiled, id: NodeId, depth: u32) -> Result<Json> {
        if depth > MAX_DEPTH {
            return Err(ReadError::new("values nest too deep"));
        }
        Ok(match s.node(id) {
            Node::Null => Json::Null,
            Node::Boolean => match self.take(1)?[0] {
                0 => Json::Bool(false),
                1 => Json::Bool(true),
                b => return Err(ReadError::new(format!("{b} is not a boolean"))),
            },
            Node::Int | Node::Long => Json::Number(self.long()?.into()),
            Node::Float => float_json(shortest_f64(self.f32()?)),
            Node::Double => float_json(self.f64()?),
            Node::String { .. } => Json::String(self.str()?.to_owned()),
            Node::Bytes => Json::String(base64(self.bytes()?)),
            Node::Decimal { scale } => Json::String(decimal_string(self.bytes()?, *scale)),
            Node::Fixed { size, decimal } => {
                let b = self.take(*size)?;
                Json::String(match decimal {
                    Some(scale) => decimal_string(b, *scale),
                    None => base64(b),
                })
            }
            Node::Enum { symbols } => {
                let i = self.long()?;
                let symbol = usize::try_from(i).ok().and_then(|i| symbols.get(i));
                match symbol {
                    Some(sym) => Json::String(sym.clone()),
                    None => return Err(ReadError::new(format!("enum symbol {i} does not exist"))),
                }
            }
            Node::Array(item) => {
                let mut out = Vec::new();
                loop {
                    let n = self.block(s.node(*item))?;
                    if n == 0 {
                        break;
                    }
                    out.reserve(n);
                    for _ in 0..n {
                        let i = out.len();
                        let v = self
                            .json(s, *item, depth + 1)
                            .map_err(|e| e.within(&format!("[{i}]")))?;
                        out.push(v);
                    }
                }
                Json::Array(out)
            }
            Node::Map(value) => {
                let mut out = Map::new();
                loop {
                    let n = self.block(s.node(*value))?;
                    if n == 0 {
                        break;
                    }
                    for _ in 0..n {
                        let k = self.str()?;
                        let v = self
                            .json(s, *value, depth + 1)
                            .map_err(|e| e.within(&format!("[{k:?}]")))?;
                        out.insert(k.to_owned(), v);
                    }
                }
                Json::Object(out)
            }
            Node::Union(branches) => {
                let b = self.branch(branches.len())?;
                self.json(s, branches[b], depth + 1)?
            }
            Node::Record(r) => Json::Object(self.record(s, r, depth + 1)?),
            Node::VariableScaleDecimal => {
                let scale = self.int()?;
                Json::String(decimal_string(self.bytes()?, scale))
            }
            Node::Pending => return Err(ReadError::new("internal error: pending node")),
        })
    }

    /// Reads a record as a JSON object.
    pub fn record(&mut self, s: &Compiled, r: &Record, depth: u32) -> Result<Map<String, Json>> {
        let mut out = Map::new();
        for f in &r.fields {
            let v = self.json(s, f.node, depth).map_err(|e| e.within(&f.name))?;
            out.insert(f.name.clone(), v);
        }
        Ok(out)
    }

    /// Steps over a value without building it.
    pub fn skip(&mut self, s: &Compiled, id: NodeId, depth: u32) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(ReadError::new("values nest too deep"));
        }
        match s.node(id) {
            Node::Null => {}
            Node::Boolean => {
                self.take(1)?;
            }
            Node::Int | Node::Long | Node::Enum { .. } => {
                self.long()?;
            }
            Node::Float => {
                self.take(4)?;
            }
            Node::Double => {
                self.take(8)?;
            }
            Node::String { .. } | Node::Bytes | Node::Decimal { .. } => {
                self.bytes()?;
            }
            Node::Fixed { size, .. } => {
                self.take(*size)?;
            }
            Node::Array(item) | Node::Map(item) => {
                let map = matches!(s.node(id), Node::Map(_));
                loop {
                    let n = self.long()?;
                    if n == 0 {
                        break;
                    }
                    if n < 0 {
                        // The block's byte size follows: jump over it.
                        let size = self.len()?;
                        self.take(size)?;
                        continue;
                    }
                    if n as u64 > self.remaining() as u64 && *s.node(*item) != Node::Null {
                        return Err(ReadError::new("a block does not fit the data"));
                    }
                    for _ in 0..n {
                        if map {
                            self.bytes()?;
                        }
                        self.skip(s, *item, depth + 1)?;
                    }
                }
            }
            Node::Union(branches) => {
                let b = self.branch(branches.len())?;
                self.skip(s, branches[b], depth + 1)?;
            }
            Node::Record(r) => {
                for f in &r.fields {
                    self.skip(s, f.node, depth + 1)
                        .map_err(|e| e.within(&f.name))?;
                }
            }
            Node::VariableScaleDecimal => {
                self.long()?;
                self.bytes()?;
            }
            Node::Pending => return Err(ReadError::new("internal error: pending node")),
        }
        Ok(())
    }

    /// An optional string (`string`, or a union holding `null` and `string`); anything
    /// else is skipped and reads as `None`.
    pub fn opt_str(&mut self, s: &Compiled, id: NodeId) -> Result<Option<&'a str>> {
        let id = self.resolve_union(s, id)?;
        match s.node(id) {
            Node::String { .. } => self.str().map(Some),
            _ => self.skip(s, id, 0).map(|()| None),
        }
    }

    /// An optional integer (`int`/`long`, or a union holding one).
    pub fn opt_long(&mut self, s: &Compiled, id: NodeId) -> Result<Option<i64>> {
        let id = self.resolve_union(s, id)?;
        match s.node(id) {
            Node::Int | Node::Long => self.long().map(Some),
            _ => self.skip(s, id, 0).map(|()| None),
        }
    }

    /// The branch a union holds (reading its index), or `id` when it is no union.
    pub fn resolve_union(&mut self, s: &Compiled, id: NodeId) -> Result<NodeId> {
        match s.node(id) {
            Node::Union(branches) => Ok(branches[self.branch(branches.len())?]),
            _ => Ok(id),
        }
    }
}

fn base64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn float_json(f: f64) -> Json {
    match Number::from_f64(f) {
        Some(n) => Json::Number(n),
        None if f.is_nan() => Json::String("NaN".into()),
        None if f > 0.0 => Json::String("Infinity".into()),
        None => Json::String("-Infinity".into()),
    }
}

/// The `f64` a `float` prints as (`0.1f32` → `0.1`, not `0.10000000149011612`), as Java's
/// `Float.toString` and Kafka Connect's JSON show it.
fn shortest_f64(f: f32) -> f64 {
    if !f.is_finite() {
        return f64::from(f);
    }
    let mut buf = StackStr::default();
    let _ = std::fmt::Write::write_fmt(&mut buf, format_args!("{f}"));
    buf.as_str().parse().unwrap_or(f64::from(f))
}

/// A small formatting buffer on the stack (an `f32` prints in at most ~50 characters).
struct StackStr {
    buf: [u8; 64],
    len: usize,
}

impl Default for StackStr {
    fn default() -> Self {
        StackStr {
            buf: [0; 64],
            len: 0,
        }
    }
}

impl StackStr {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl std::fmt::Write for StackStr {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(std::fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}
