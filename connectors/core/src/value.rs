//! Typed values of change events.

/// A value conforming to a [`crate::Schema`]. Struct values are positional: the n-th value
/// belongs to the n-th field of the struct schema.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Boolean(bool),
    Int8(i8),
    Int16(i16),
    Int32(i32),
    Int64(i64),
    Float32(f32),
    Float64(f64),
    String(String),
    Bytes(Vec<u8>),
    Array(Vec<Value>),
    Map(Vec<(Value, Value)>),
    Struct(Vec<Value>),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// About how many bytes the value occupies in memory: its own slot and what it owns.
    pub fn approx_size(&self) -> usize {
        std::mem::size_of::<Value>()
            + match self {
                Value::String(s) => s.len(),
                Value::Bytes(b) => b.len(),
                Value::Array(items) | Value::Struct(items) => {
                    items.iter().map(Value::approx_size).sum()
                }
                Value::Map(entries) => entries
                    .iter()
                    .map(|(k, v)| k.approx_size() + v.approx_size())
                    .sum(),
                _ => 0,
            }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::Int8(v) => Some(v.into()),
            Value::Int16(v) => Some(v.into()),
            Value::Int32(v) => Some(v.into()),
            Value::Int64(v) => Some(v),
            _ => None,
        }
    }
}
