//! The converter step of the pipeline: a record's key or value, as a Connect schema and
//! value, into bytes by the converter the connector configured (Kafka Connect's
//! `key.converter` / `value.converter`).
//!
//! Change events under the AvroConverter keep their direct encoder (no Connect value is
//! built for them, see `tributary_avro::encode`); everything else goes through here.

use tributary_avro::encode::{self, EncodeError};
use tributary_connect::{Converter, cloudevents, json, plain};
use tributary_core::{Schema, Value};

/// Writes one side of a record into `buf` (cleared first); leaves it empty for a null
/// (Kafka's null key or value). `avro_id` is the side's registered schema id under the
/// AvroConverter; `schema_json` its schema as the JsonConverter writes it.
pub(super) fn write_side(
    buf: &mut Vec<u8>,
    converter: &Converter,
    avro_id: Option<u32>,
    schema: Option<&Schema>,
    schema_json: &[u8],
    value: Option<&Value>,
) -> Result<(), EncodeError> {
    buf.clear();
    match converter {
        Converter::Avro => {
            if let (Some(id), Some(schema), Some(value)) = (avro_id, schema, value) {
                encode::write_confluent_header(buf, id);
                encode::write_value(buf, schema, value)?;
            }
        }
        // Nothing for no schema and no value (Kafka's null); a schema without a value is
        // written with a null payload, as Kafka's converter does.
        Converter::Json(settings) => {
            json::write_record(buf, settings, schema, schema_json, value);
        }
        Converter::String => plain::write_string(buf, schema, value),
        Converter::ByteArray => {
            plain::write_bytes(buf, schema, value).map_err(EncodeError::other)?;
        }
        // Nothing (Kafka's null) for what is not a change event.
        Converter::CloudEvents(settings) => {
            cloudevents::write(buf, settings, schema, schema_json, value)
                .map_err(EncodeError::other)?;
        }
    }
    Ok(())
}

/// A schema as the JsonConverter writes it (for the CloudEventsConverter, the schema of an
/// envelope's `data`), or nothing under the AvroConverter.
pub(super) fn schema_json(converter: &Converter, schema: Option<&Schema>) -> Vec<u8> {
    let mut buf = Vec::new();
    match (converter, schema) {
        (Converter::Json(settings), Some(schema)) if settings.schemas => {
            json::write_schema(&mut buf, settings, schema);
        }
        (Converter::CloudEvents(settings), Some(schema))
            if settings.json.schemas && cloudevents::is_envelope(schema) =>
        {
            json::write_schema(&mut buf, &settings.json, &cloudevents::data_schema(schema));
        }
        _ => {}
    }
    buf
}
