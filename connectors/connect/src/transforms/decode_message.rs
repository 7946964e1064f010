//! Debezium's `DecodeLogicalDecodingMessageContent` (its Postgres connector's
//! `io.debezium.connector.postgresql.transforms`, 3.6): a logical decoding message whose
//! content is a JSON object becomes an insert (`op: c`) whose `after` is that object, so the
//! outbox `EventRouter` can route `pg_logical_emit_message` calls as outbox rows.

use std::sync::Arc;

use tributary_core::{Field, Schema, SchemaType, Value};

use super::json_data::{infer, read_tree, to_struct};
use super::util::{self, ByPointer, ByStructure, field_value, get};
use super::{Built, Settings, Transform};
use crate::config::Findings;
use crate::record::Record;

const DECODE_MESSAGE: &str =
    "io.debezium.connector.postgresql.transforms.DecodeLogicalDecodingMessageContent";
/// The value schema of a Postgres logical decoding message.
const MESSAGE_VALUE: &str = "io.debezium.connector.postgresql.MessageValue";

pub(super) fn build(class: &str, s: &Settings<'_>, found: &mut Findings) -> Option<Built> {
    if class != DECODE_MESSAGE {
        return None;
    }
    let ok = s.only(found, &["fields.null.include"]);
    let null_as_bytes = s.boolean(found, "fields.null.include", false);
    Some(if ok {
        Ok((
            "DecodeLogicalDecodingMessageContent",
            Box::new(DecodeMessage {
                null_as_bytes,
                schemas: ByStructure::default(),
            }) as Box<dyn Transform>,
        ))
    } else {
        Err(())
    })
}

/// `DecodeLogicalDecodingMessageContent`: a message whose content is a JSON object becomes
/// an insert (`op: c`) whose `after` is that object, without key; other records are
/// unchanged.
struct DecodeMessage {
    null_as_bytes: bool,
    /// Envelope schemas by (message schema, content schema); the message schema is held,
    /// so its pointer is not reused while it is here.
    schemas: ByStructure<(ByPointer, Schema)>,
}

impl Transform for DecodeMessage {
    fn apply(&mut self, mut r: Record) -> Result<Option<Record>, String> {
        let Some(schema) = r
            .value_schema
            .clone()
            .filter(|s| s.name.as_deref() == Some(MESSAGE_VALUE))
        else {
            return Ok(Some(r));
        };
        let values = util::struct_values(
            r.value.take().unwrap_or(Value::Null),
            "Retrieve a record value",
        )?;
        let (message_field, message) = get(&schema, &values, "message")?;
        let Value::Struct(message) = message else {
            return Err(format!(
                "Only Struct objects supported for [Retrieve content of a logical decoding message], found: {}",
                util::kind(&message)
            ));
        };
        let (content_field, content) = get(&message_field.schema, &message, "content")?;
        if content_field.schema.ty != SchemaType::Bytes {
            return Err("The content of a logical decoding message is non-binary".into());
        }
        let Value::Bytes(content) = content else {
            return Err("the logical decoding message has no content".into());
        };
        let text = String::from_utf8_lossy(&content);
        if !(text.starts_with('{') || text.starts_with('[')) {
            return Err(format!(
                "Unable to parse logical decoding message content JSON string '{text}'"
            ));
        }
        let tree = read_tree(&text)?;
        let content_schema = infer(None, &tree, self.null_as_bytes)?
            .ok_or("the message content has no schema (an empty array)")?;
        let mut after = Some(to_struct(&tree, &content_schema)?);
        let known = self
            .schemas
            .entries
            .iter()
            .find(|((p, c), _)| Arc::ptr_eq(&p.0, &schema) && *c == content_schema)
            .map(|(_, s)| s.clone());
        let updated = match known {
            Some(s) => s,
            None => {
                self.schemas
                    .get_or((ByPointer(schema.clone()), content_schema.clone()), || {
                        let mut fields: Vec<Field> = schema
                            .fields()
                            .iter()
                            .filter(|f| f.name != "message")
                            .cloned()
                            .collect();
                        fields.push(Field::new("after", content_schema));
                        Ok(Schema::new(SchemaType::Struct(fields)).named(format!(
                            "{}.Envelope",
                            schema.name.as_deref().unwrap_or_default()
                        )))
                    })?
            }
        };
        // Java reads the original struct by the new schema's field positions.
        let n = updated.fields().len();
        let out = updated
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| match f.name.as_str() {
                "after" if i == n - 1 => after.take().unwrap_or(Value::Null),
                "op" => Value::String("c".into()),
                _ => field_value(f, values.get(i).unwrap_or(&Value::Null), true),
            })
            .collect();
        r.key_schema = None;
        r.key = None;
        r.value_schema = Some(updated);
        r.value = Some(Value::Struct(out));
        Ok(Some(r))
    }
}
