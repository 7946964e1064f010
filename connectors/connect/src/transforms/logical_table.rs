//! Debezium's `ByLogicalTableRouter` (`io.debezium.transforms.ByLogicalTableRouter`, 3.6):
//! the records of several physical tables (shards, partitions) routed to one logical
//! table's topic, their keys given a field naming the physical table so that equal keys of
//! different tables stay apart, and their schemas renamed after the new topic.

use tributary_core::{Field, Schema, SchemaType, Value};

use super::routers::RegexRouter;
use super::util::{self, ByStructure};
use super::{Built, Settings, Transform};
use crate::config::Findings;
use crate::record::Record;

const CLASS: &str = "io.debezium.transforms.ByLogicalTableRouter";

pub(super) fn build(class: &str, s: &Settings<'_>, found: &mut Findings) -> Option<Built> {
    (class == CLASS).then(|| {
        ByLogicalTableRouter::configure(s, found)
            .map(|t| ("ByLogicalTableRouter", Box::new(t) as Box<dyn Transform>))
    })
}

struct ByLogicalTableRouter {
    topic: RegexRouter,
    /// `key.field.regex` and `key.field.replacement`: the physical table's identifier from
    /// the old topic (the old topic itself when unset or not matching).
    key_field: Option<RegexRouter>,
    enforce_uniqueness: bool,
    key_field_name: String,
    key_schemas: ByStructure<Schema>,
    envelope_schemas: ByStructure<Schema>,
}

impl ByLogicalTableRouter {
    fn configure(s: &Settings<'_>, found: &mut Findings) -> Result<Self, ()> {
        let mut ok = s.only(
            found,
            &[
                "topic.regex",
                "topic.replacement",
                "key.enforce.uniqueness",
                "key.field.regex",
                "key.field.name",
                "key.field.replacement",
                "schema.name.adjustment.mode",
                "logical.table.cache.size",
            ],
        );
        let topic = match (
            s.required(found, "topic.regex"),
            s.required(found, "topic.replacement"),
        ) {
            (Some(regex), Some(replacement)) => RegexRouter::new(regex, replacement)
                .map_err(|e| found.error(&s.field("topic.regex"), e))
                .ok(),
            _ => None,
        };
        let key_field = match s.get("key.field.regex").filter(|r| !r.is_empty()) {
            None => None,
            Some(regex) => match s.get("key.field.replacement").filter(|r| !r.is_empty()) {
                None => {
                    found.error(
                        &s.field("key.field.replacement"),
                        "key.field.replacement must be non-empty if key.field.regex is set.",
                    );
                    ok = false;
                    None
                }
                Some(replacement) => match RegexRouter::new(regex, replacement) {
                    Ok(r) => Some(r),
                    Err(e) => {
                        found.error(&s.field("key.field.regex"), e);
                        ok = false;
                        None
                    }
                },
            },
        };
        match s
            .get("schema.name.adjustment.mode")
            .map(str::to_ascii_lowercase)
        {
            None => {}
            Some(m) if m == "none" => {}
            Some(m) => {
                found.error(
                    &s.field("schema.name.adjustment.mode"),
                    format!(
                        "{m:?} is not supported by this transform (it renames key and value schemas after the new topic as they are: none); the AvroConverter adjusts names by the connector's schema.name.adjustment.mode"
                    ),
                );
                ok = false;
            }
        }
        if let Some(size) = s.get("logical.table.cache.size")
            && !size.parse::<i32>().is_ok_and(|n| n > 0)
        {
            found.error(
                &s.field("logical.table.cache.size"),
                format!("{size:?} is not a positive integer"),
            );
            ok = false;
        }
        let enforce_uniqueness = s.boolean(found, "key.enforce.uniqueness", true);
        match topic {
            Some(topic) if ok => Ok(ByLogicalTableRouter {
                topic,
                key_field,
                enforce_uniqueness,
                key_field_name: s
                    .get("key.field.name")
                    .unwrap_or("__dbz__physicalTableIdentifier")
                    .to_owned(),
                key_schemas: ByStructure::default(),
                envelope_schemas: ByStructure::default(),
            }),
            _ => Err(()),
        }
    }

    fn key_schema(&self, old: &Schema, topic: &str) -> Schema {
        let mut fields = old.fields().to_vec();
        if self.enforce_uniqueness {
            fields.push(Field::new(self.key_field_name.clone(), Schema::string()));
        }
        renamed(old, fields, format!("{topic}.Key"))
    }

    fn envelope_schema(old: &Schema, topic: &str) -> Result<Schema, String> {
        let before = util::index(old, "before")
            .map(|i| &old.fields()[i].schema)
            .ok_or("before is not a valid field name")?;
        let value = renamed(before, before.fields().to_vec(), format!("{topic}.Value"));
        let fields = old
            .fields()
            .iter()
            .map(|f| match f.name.as_str() {
                "before" | "after" => Field::new(f.name.clone(), value.clone()),
                _ => f.clone(),
            })
            .collect();
        Ok(renamed(old, fields, format!("{topic}.Envelope")))
    }
}

/// `copySchemaExcludingName` and a new name: version, doc, parameters and optionality
/// kept, no default.
fn renamed(old: &Schema, fields: Vec<Field>, name: String) -> Schema {
    let mut s = util::struct_like(old, fields);
    s.name = Some(name);
    s.optional = old.optional;
    s
}

impl Transform for ByLogicalTableRouter {
    fn apply(&mut self, mut r: Record) -> Result<Option<Record>, String> {
        let Some(topic) = self.topic.route(&r.topic) else {
            return Ok(Some(r));
        };
        if topic.is_empty() {
            tracing::warn!(
                "Routing regex returned an empty topic name, propagating original record"
            );
            return Ok(Some(r));
        }
        let old_topic = std::mem::replace(&mut r.topic, topic);
        let topic = r.topic.as_str();
        match r.key.take() {
            None => r.key_schema = None,
            Some(key) => {
                let schema = r
                    .key_schema
                    .take()
                    .filter(|s| matches!(s.ty, SchemaType::Struct(_)));
                let (Some(schema), Value::Struct(mut values)) = (schema, key) else {
                    return Err(
                        "Only Struct objects supported for [Updating schema], found: a key without a struct schema"
                            .into(),
                    );
                };
                let mut keys = std::mem::take(&mut self.key_schemas);
                let new_schema = keys.get_or_by(&schema, || Ok(self.key_schema(&schema, topic)));
                self.key_schemas = keys;
                if self.enforce_uniqueness {
                    let id = self
                        .key_field
                        .as_ref()
                        .and_then(|k| k.route(&old_topic))
                        .unwrap_or(old_topic);
                    values.push(Value::String(id));
                }
                r.key_schema = Some(new_schema?);
                r.key = Some(Value::Struct(values));
            }
        }
        let envelope = util::is_envelope(r.value_schema.as_ref());
        if !envelope {
            return Ok(Some(r));
        }
        let (Some(schema), Some(Value::Struct(values))) = (r.value_schema.take(), r.value.take())
        else {
            return Err("Only Struct objects supported for [Updating schema]".into());
        };
        let new_schema = self
            .envelope_schemas
            .get_or_by(&schema, || Self::envelope_schema(&schema, topic))?;
        let values = schema
            .fields()
            .iter()
            .zip(values)
            .map(|(f, v)| util::field_value(f, &v, true))
            .collect();
        r.value_schema = Some(new_schema);
        r.value = Some(Value::Struct(values));
        Ok(Some(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::sync::Arc;

    fn router(props: &[(&str, &str)]) -> Result<ByLogicalTableRouter, Findings> {
        let all: BTreeMap<String, String> = props
            .iter()
            .map(|(k, v)| (format!("transforms.r.{k}"), v.to_string()))
            .collect();
        let mut found = Findings::default();
        ByLogicalTableRouter::configure(&Settings::new(&all, "transforms.r."), &mut found)
            .map_err(|()| found)
    }

    #[test]
    fn settings_are_checked() {
        let base = [("topic.regex", "(.*)_\\d+"), ("topic.replacement", "$1")];
        assert!(router(&base).is_ok());
        let no_replacement = router(&[base[0], ("key.field.regex", "(.*)")]).err();
        assert!(no_replacement.is_some());
        let avro = router(&[base[0], base[1], ("schema.name.adjustment.mode", "avro")]);
        assert!(avro.is_err());
        assert!(router(&[base[0], base[1], ("logical.table.cache.size", "0")]).is_err());
    }

    #[test]
    fn a_keyless_record_loses_its_key_schema() {
        let mut r = router(&[("topic.regex", "t_(.*)"), ("topic.replacement", "t")]).unwrap();
        let rec = Record::new(
            "t_1",
            (Some(Arc::new(Schema::string().optional())), None),
            (None, None),
        );
        let out = r.apply(rec).unwrap().unwrap();
        assert_eq!(out.topic, "t");
        assert_eq!(out.key_schema, None);
    }
}
