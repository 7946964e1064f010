//! TupleData, the row image inside Insert, Update and Delete messages, and the one-byte
//! markers ('N', 'K', 'O') that say which image follows.

use super::reader::Reader;
use super::{DecodeError, OldTuple, TupleData, TupleValue};

/// What precedes a tuple image.
pub(super) enum Marker {
    New,
    Key,
    Full,
}

pub(super) fn marker(r: &mut Reader<'_>) -> Result<Marker, DecodeError> {
    match r.u8("tuple marker")? {
        b'N' => Ok(Marker::New),
        b'K' => Ok(Marker::Key),
        b'O' => Ok(Marker::Full),
        other => Err(DecodeError::UnknownTupleMarker(other)),
    }
}

/// Reads the new-tuple marker 'N' and the tuple after it.
pub(super) fn new_tuple(r: &mut Reader<'_>) -> Result<TupleData, DecodeError> {
    match marker(r)? {
        Marker::New => tuple(r),
        Marker::Key | Marker::Full => Err(DecodeError::ExpectedNewTuple),
    }
}

/// Reads an old-tuple marker ('K' or 'O') and the tuple after it.
pub(super) fn old_tuple(r: &mut Reader<'_>) -> Result<OldTuple, DecodeError> {
    match marker(r)? {
        Marker::Key => tuple(r).map(OldTuple::Key),
        Marker::Full => tuple(r).map(OldTuple::Full),
        Marker::New => Err(DecodeError::ExpectedOldTuple),
    }
}

pub(super) fn tuple(r: &mut Reader<'_>) -> Result<TupleData, DecodeError> {
    let count = usize::from(r.u16("tuple column count")?);
    // Every column takes at least its one kind byte.
    let mut values = Vec::with_capacity(r.capacity_for(count, 1));
    for _ in 0..count {
        values.push(value(r)?);
    }
    Ok(TupleData(values))
}

fn value(r: &mut Reader<'_>) -> Result<TupleValue, DecodeError> {
    match r.u8("column value kind")? {
        b'n' => Ok(TupleValue::Null),
        b'u' => Ok(TupleValue::UnchangedToast),
        b't' => value_bytes(r).map(TupleValue::Text),
        b'b' => value_bytes(r).map(TupleValue::Binary),
        other => Err(DecodeError::UnknownTupleKind(other)),
    }
}

fn value_bytes(r: &mut Reader<'_>) -> Result<bytes::Bytes, DecodeError> {
    let len = r.i32("column value length")?;
    let len = usize::try_from(len).map_err(|_| DecodeError::NegativeLength {
        what: "column value",
        len,
    })?;
    r.bytes(len, "column value")
}
