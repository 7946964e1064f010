//! A change event as the Connect value Debezium makes of it: a struct laid out by the
//! table's envelope schema (`TableSchemas::envelope`), field for field what the Avro
//! encoder writes (`tributary_avro::encode::write_envelope`).

use tributary_core::{ChangeEvent, MessageEvent, Schema, SchemaType, SourceInfo, Value};

/// The `transaction` block of an event, when transaction metadata is on.
#[derive(Debug, Clone, Copy)]
pub struct TxBlock<'a> {
    pub id: &'a str,
    pub total_order: i64,
    pub data_collection_order: i64,
}

/// The envelope of `event`: its row images are moved, not copied.
///
/// A NULL in a required column (a deleted row's non-key columns under the default replica
/// identity, an unchanged TOAST value without a placeholder) becomes the column's default,
/// else its type's fallback, as Debezium's converters put it into the Connect struct (and
/// as the Avro encoder writes it, see `tributary_avro::encode`).
pub fn envelope_value(event: &mut ChangeEvent, tx: Option<TxBlock<'_>>) -> Value {
    let row = &event.schemas.value;
    let image = |v: Option<Value>| match v {
        Some(mut v) => {
            fill_required(row, &mut v);
            v
        }
        None => Value::Null,
    };
    Value::Struct(vec![
        image(event.before.take()),
        image(event.after.take()),
        source_value(&event.source),
        tx_value(tx),
        Value::String(event.op.code().to_string()),
        Value::Int64(event.ts_us.div_euclid(1000)),
        Value::Int64(event.ts_us),
        Value::Int64(event.ts_us.saturating_mul(1000)),
    ])
}

/// `io.debezium.connector.postgresql.Source`, in `tributary_core::envelope::source_schema`'s
/// field order.
pub fn source_value(s: &SourceInfo) -> Value {
    let opt = |v: Option<i64>| v.map_or(Value::Null, Value::Int64);
    Value::Struct(vec![
        Value::String(tributary_core::VERSION.to_string()),
        Value::String("postgresql".to_string()),
        Value::String(s.name.to_string()),
        Value::Int64(s.ts_us.div_euclid(1000)),
        Value::String(s.snapshot.as_str().to_string()),
        Value::String(s.db.to_string()),
        s.sequence_string().map_or(Value::Null, Value::String),
        Value::Int64(s.ts_us),
        Value::Int64(s.ts_us.saturating_mul(1000)),
        Value::String(s.schema.to_string()),
        Value::String(s.table.to_string()),
        opt(s.tx_id),
        opt(s.lsn.map(|l| l.0 as i64)),
        opt(s.xmin),
        // `origin` and `origin_lsn`: not read (see the Avro encoder).
        Value::Null,
        Value::Null,
    ])
}

/// A logical decoding message's value, Debezium's `MessageValue`: `op`, `ts_ms`, `source`,
/// `transaction` and the `message` block (its prefix and content).
pub fn message_value(m: &MessageEvent, tx: Option<TxBlock<'_>>) -> Value {
    Value::Struct(vec![
        Value::String("m".to_string()),
        Value::Int64(m.ts_us.div_euclid(1000)),
        source_value(&m.source),
        tx_value(tx),
        Value::Struct(vec![Value::String(m.prefix.clone()), m.content.clone()]),
    ])
}

fn tx_value(tx: Option<TxBlock<'_>>) -> Value {
    match tx {
        Some(tx) => Value::Struct(vec![
            Value::String(tx.id.to_string()),
            Value::Int64(tx.total_order),
            Value::Int64(tx.data_collection_order),
        ]),
        None => Value::Null,
    }
}

/// Replaces NULLs in the required fields of a row with their default, else fallback.
fn fill_required(schema: &Schema, row: &mut Value) {
    let (SchemaType::Struct(fields), Value::Struct(values)) = (&schema.ty, row) else {
        return;
    };
    for (f, v) in fields.iter().zip(values) {
        if v.is_null() && !f.schema.optional {
            *v = f
                .schema
                .default
                .clone()
                .unwrap_or_else(|| fallback(&f.schema));
        }
    }
}

/// The value Debezium's `JdbcValueConverters` write for a NULL in a required column of a
/// type: `0`, `false`, `""`, the epoch for zoned times, a zero decimal, an empty array.
pub fn fallback(schema: &Schema) -> Value {
    if schema.optional {
        return Value::Null;
    }
    match &schema.ty {
        SchemaType::Int8 => Value::Int8(0),
        SchemaType::Int16 => Value::Int16(0),
        SchemaType::Int32 => Value::Int32(0),
        SchemaType::Int64 => Value::Int64(0),
        SchemaType::Float32 => Value::Float32(0.0),
        SchemaType::Float64 => Value::Float64(0.0),
        SchemaType::Boolean => Value::Boolean(false),
        SchemaType::String => Value::String(
            match schema.name.as_deref() {
                Some("io.debezium.time.ZonedTimestamp") => "1970-01-01T00:00:00Z",
                Some("io.debezium.time.ZonedTime") => "00:00:00Z",
                _ => "",
            }
            .to_string(),
        ),
        SchemaType::Bytes
            if schema.name.as_deref() == Some("org.apache.kafka.connect.data.Decimal") =>
        {
            Value::Bytes(vec![0])
        }
        SchemaType::Bytes => Value::Bytes(Vec::new()),
        SchemaType::Array(_) => Value::Array(Vec::new()),
        SchemaType::Map(..) => Value::Map(Vec::new()),
        SchemaType::Struct(_)
            if schema.name.as_deref() == Some("io.debezium.data.VariableScaleDecimal") =>
        {
            // {scale: 0, value: BigInteger.ZERO.toByteArray()}
            Value::Struct(vec![Value::Int32(0), Value::Bytes(vec![0])])
        }
        SchemaType::Struct(fields) => Value::Struct(
            fields
                .iter()
                .map(|f| {
                    f.schema
                        .default
                        .clone()
                        .unwrap_or_else(|| fallback(&f.schema))
                })
                .collect(),
        ),
    }
}
