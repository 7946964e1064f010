//! A bounds-checked cursor over one pgoutput message. Every read names what it was
//! reading, so a short buffer turns into [`DecodeError::Truncated`] instead of a panic.

use bytes::Bytes;
use tributary_core::Lsn;

use super::{DecodeError, PG_EPOCH_OFFSET_US};

pub(super) struct Reader<'a> {
    buf: &'a Bytes,
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(buf: &'a Bytes) -> Self {
        Reader { buf, pos: 0 }
    }

    pub(super) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Advances past `n` bytes and returns their range in the buffer.
    fn advance(
        &mut self,
        n: usize,
        what: &'static str,
    ) -> Result<std::ops::Range<usize>, DecodeError> {
        if n > self.remaining() {
            return Err(DecodeError::Truncated { what });
        }
        let start = self.pos;
        self.pos += n;
        Ok(start..self.pos)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let range = self.advance(N, what)?;
        let mut out = [0; N];
        out.copy_from_slice(&self.buf[range]);
        Ok(out)
    }

    pub(super) fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        self.array::<1>(what).map(|[b]| b)
    }

    pub(super) fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        self.array(what).map(u16::from_be_bytes)
    }

    pub(super) fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        self.array(what).map(u32::from_be_bytes)
    }

    pub(super) fn i32(&mut self, what: &'static str) -> Result<i32, DecodeError> {
        self.array(what).map(i32::from_be_bytes)
    }

    pub(super) fn lsn(&mut self, what: &'static str) -> Result<Lsn, DecodeError> {
        self.array(what).map(u64::from_be_bytes).map(Lsn)
    }

    /// A timestamp in Postgres-epoch microseconds, returned as UNIX-epoch microseconds.
    pub(super) fn timestamp(&mut self, what: &'static str) -> Result<i64, DecodeError> {
        let pg = self.array(what).map(i64::from_be_bytes)?;
        pg.checked_add(PG_EPOCH_OFFSET_US)
            .ok_or(DecodeError::TimestampOutOfRange { what, value: pg })
    }

    /// `n` bytes as a zero-copy slice of the input.
    pub(super) fn bytes(&mut self, n: usize, what: &'static str) -> Result<Bytes, DecodeError> {
        let range = self.advance(n, what)?;
        Ok(self.buf.slice(range))
    }

    /// A NUL-terminated UTF-8 string; the NUL is consumed, not returned.
    pub(super) fn cstr(&mut self, what: &'static str) -> Result<String, DecodeError> {
        let rest = &self.buf[self.pos..];
        let len = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or(DecodeError::Truncated { what })?;
        let s = std::str::from_utf8(&rest[..len]).map_err(|_| DecodeError::InvalidUtf8 { what })?;
        let s = s.to_owned();
        self.pos += len + 1;
        Ok(s)
    }

    /// A capacity for `count` items that each take at least `min_size` bytes on the wire:
    /// never more than the rest of the buffer could hold, whatever `count` claims.
    pub(super) fn capacity_for(&self, count: usize, min_size: usize) -> usize {
        count.min(self.remaining() / min_size.max(1))
    }

    /// Fails unless the whole message has been consumed.
    pub(super) fn finish(self, message: &'static str) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(DecodeError::TrailingBytes { message, count }),
        }
    }
}
