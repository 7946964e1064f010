//! Kafka's field transforms: `ExtractField`, `InsertField` and `ReplaceField`, each on the
//! key (`$Key`) or the value (`$Value`), with a schema or schemaless.

use tributary_core::{Field, Schema, Value};

use super::util::{self, SchemaCache, Side};
use super::{Built, Settings, Transform};
use crate::config::Findings;
use crate::record::Record;

const EXTRACT_FIELD: &str = "org.apache.kafka.connect.transforms.ExtractField";
const INSERT_FIELD: &str = "org.apache.kafka.connect.transforms.InsertField";
const REPLACE_FIELD: &str = "org.apache.kafka.connect.transforms.ReplaceField";

pub(super) fn build(class: &str, s: &Settings<'_>, found: &mut Findings) -> Option<Built> {
    let (base, side) = Side::of(class)?;
    // The short class name the chain reports errors with.
    fn named<T: Transform + 'static>(
        names: [&'static str; 2],
        side: Side,
        t: Result<T, ()>,
    ) -> Built {
        let name = if side == Side::Key {
            names[0]
        } else {
            names[1]
        };
        t.map(|t| (name, Box::new(t) as Box<dyn Transform>))
    }
    Some(match base {
        EXTRACT_FIELD => named(
            ["ExtractField$Key", "ExtractField$Value"],
            side,
            ExtractField::configure(s, side, found),
        ),
        INSERT_FIELD => named(
            ["InsertField$Key", "InsertField$Value"],
            side,
            InsertField::configure(s, side, found),
        ),
        REPLACE_FIELD => named(
            ["ReplaceField$Key", "ReplaceField$Value"],
            side,
            ReplaceField::configure(s, side, found),
        ),
        _ => return None,
    })
}

/// `ExtractField`: the side becomes one field of it (a top-level field; Kafka's nested
/// `field.syntax.version=V2` paths are refused).
pub(crate) struct ExtractField {
    side: Side,
    field: String,
    replace_null_with_default: bool,
    cache: SchemaCache,
}

impl ExtractField {
    fn configure(s: &Settings<'_>, side: Side, found: &mut Findings) -> Result<Self, ()> {
        let ok = s.only(
            found,
            &["field", "replace.null.with.default", "field.syntax.version"],
        );
        let field = s.required(found, "field").map(str::to_owned);
        if s.get("field.syntax.version")
            .is_some_and(|v| !v.eq_ignore_ascii_case("V1"))
        {
            found.error(
                &s.field("field.syntax.version"),
                "only V1 (top-level field names) is implemented",
            );
            return Err(());
        }
        let replace = s.boolean(found, "replace.null.with.default", true);
        match field {
            Some(field) if ok => Ok(ExtractField::new(side, &field, replace)),
            _ => Err(()),
        }
    }

    pub fn new(side: Side, field: &str, replace_null_with_default: bool) -> Self {
        ExtractField {
            side,
            field: field.to_owned(),
            replace_null_with_default,
            cache: SchemaCache::default(),
        }
    }
}

impl Transform for ExtractField {
    fn apply(&mut self, mut r: Record) -> Result<Option<Record>, String> {
        let (schema, value) = self.side.take(&mut r);
        let Some(schema) = schema else {
            let value = match value {
                None => None,
                Some(v) => util::map_entries(v, "field extraction")?
                    .into_iter()
                    .find(|(k, _)| k.as_str() == Some(&self.field))
                    .map(|(_, v)| v),
            };
            self.side.put(&mut r, None, value);
            return Ok(Some(r));
        };
        let Some(i) = util::index(&schema, &self.field) else {
            return Err(format!("Unknown field: {}", self.field));
        };
        let field_schema = self
            .cache
            .get_or(&schema, |s| Ok(s.fields()[i].schema.clone()))?;
        let value = match value {
            None => None,
            Some(v) => {
                let mut values = util::struct_values(v, "field extraction")?;
                let f = &schema.fields()[i];
                let v = std::mem::replace(&mut values[i], Value::Null);
                Some(util::field_value(f, &v, self.replace_null_with_default))
            }
        };
        self.side.put(&mut r, Some(field_schema), value);
        Ok(Some(r))
    }
}

/// `InsertField`: adds the topic, the partition, the record's timestamp and a static
/// string; a name ending in `!` is a required field, `?` (or nothing) an optional one.
pub(crate) struct InsertField {
    side: Side,
    topic: Option<(String, bool)>,
    partition: Option<(String, bool)>,
    timestamp: Option<(String, bool)>,
    fixed: Option<((String, bool), String)>,
    replace_null_with_default: bool,
    cache: SchemaCache,
}

fn spec(v: Option<&str>) -> Option<(String, bool)> {
    let v = v?;
    if let Some(name) = v.strip_suffix('?') {
        Some((name.to_owned(), true))
    } else if let Some(name) = v.strip_suffix('!') {
        Some((name.to_owned(), false))
    } else {
        Some((v.to_owned(), true))
    }
}

impl InsertField {
    fn configure(s: &Settings<'_>, side: Side, found: &mut Findings) -> Result<Self, ()> {
        let ok = s.only(
            found,
            &[
                "topic.field",
                "partition.field",
                "timestamp.field",
                "static.field",
                "static.value",
                "offset.field",
                "replace.null.with.default",
            ],
        );
        if s.get("offset.field").is_some() {
            found.error(
                &s.field("offset.field"),
                "applies to sink connectors only (a source record has no offset yet), as in Kafka Connect",
            );
            return Err(());
        }
        let fixed = match (spec(s.get("static.field")), s.get("static.value")) {
            (Some(f), Some(v)) => Some((f, v.to_owned())),
            (Some(_), None) => {
                found.error(&s.field("static.value"), "is required with static.field");
                return Err(());
            }
            (None, _) => None,
        };
        let t = InsertField {
            side,
            topic: spec(s.get("topic.field")),
            partition: spec(s.get("partition.field")),
            timestamp: spec(s.get("timestamp.field")),
            fixed,
            replace_null_with_default: s.boolean(found, "replace.null.with.default", true),
            cache: SchemaCache::default(),
        };
        if t.topic.is_none() && t.partition.is_none() && t.timestamp.is_none() && t.fixed.is_none()
        {
            found.error(
                &s.field("type"),
                "no field insertion configured: set topic.field, partition.field, timestamp.field or static.field",
            );
            return Err(());
        }
        if ok { Ok(t) } else { Err(()) }
    }

    /// `static.field` = `value`, optional: what Debezium's `__deleted` marker uses.
    pub fn fixed(side: Side, field: &str, value: &str, replace_null_with_default: bool) -> Self {
        InsertField {
            side,
            topic: None,
            partition: None,
            timestamp: None,
            fixed: Some(((field.to_owned(), true), value.to_owned())),
            replace_null_with_default,
            cache: SchemaCache::default(),
        }
    }

    fn updated_schema(&self, schema: &Schema) -> Schema {
        let mut fields = schema.fields().to_vec();
        let mut add = |spec: &Option<(String, bool)>, base: Schema| {
            if let Some((name, optional)) = spec {
                let s = if *optional { base.optional() } else { base };
                fields.push(Field::new(name.clone(), s));
            }
        };
        add(&self.topic, Schema::string());
        add(&self.partition, Schema::int32());
        add(
            &self.timestamp,
            Schema::int64()
                .named("org.apache.kafka.connect.data.Timestamp")
                .versioned(1),
        );
        add(
            &self.fixed.as_ref().map(|(f, _)| f.clone()),
            Schema::string(),
        );
        util::struct_like(schema, fields)
    }
}

impl Transform for InsertField {
    fn apply(&mut self, mut r: Record) -> Result<Option<Record>, String> {
        let (schema, value) = self.side.take(&mut r);
        let Some(value) = value else {
            self.side.put(&mut r, schema, None);
            return Ok(Some(r));
        };
        let topic = Value::String(r.topic.clone());
        let partition = r.partition.map(Value::Int32);
        let timestamp = r.timestamp.map(Value::Int64);
        let fixed = self.fixed.as_ref().map(|(_, v)| Value::String(v.clone()));
        let Some(schema) = schema else {
            let mut entries = util::map_entries(value, "field insertion")?;
            let mut put = |name: &str, v: Value| match entries
                .iter_mut()
                .find(|(k, _)| k.as_str() == Some(name))
            {
                Some((_, slot)) => *slot = v,
                None => entries.push((Value::String(name.to_owned()), v)),
            };
            if let Some((name, _)) = &self.topic {
                put(name, topic);
            }
            if let (Some((name, _)), Some(p)) = (&self.partition, partition) {
                put(name, p);
            }
            if let (Some((name, _)), Some(t)) = (&self.timestamp, timestamp) {
                put(name, t);
            }
            if let (Some(((name, _), _)), Some(v)) = (&self.fixed, fixed) {
                put(name, v);
            }
            self.side.put(&mut r, None, Some(Value::Map(entries)));
            return Ok(Some(r));
        };
        let mut cache = std::mem::take(&mut self.cache);
        let updated = cache.get_or(&schema, |s| Ok(self.updated_schema(s)));
        self.cache = cache;
        let updated = updated?;
        let values = util::struct_values(value, "field insertion")?;
        let mut out: Vec<Value> = schema
            .fields()
            .iter()
            .zip(values)
            .map(|(f, v)| util::field_value(f, &v, self.replace_null_with_default))
            .collect();
        if self.topic.is_some() {
            out.push(topic);
        }
        if self.partition.is_some() {
            out.push(partition.unwrap_or(Value::Null));
        }
        if self.timestamp.is_some() {
            out.push(timestamp.unwrap_or(Value::Null));
        }
        if self.fixed.is_some() {
            out.push(fixed.unwrap_or(Value::Null));
        }
        self.side
            .put(&mut r, Some(updated), Some(Value::Struct(out)));
        Ok(Some(r))
    }
}

/// `ReplaceField`: keeps the fields `include` lists (all when empty) that `exclude` does
/// not, renamed by `renames` (`old:new` pairs).
pub(crate) struct ReplaceField {
    side: Side,
    exclude: Vec<String>,
    include: Vec<String>,
    renames: Vec<(String, String)>,
    replace_null_with_default: bool,
    cache: SchemaCache,
}

impl ReplaceField {
    fn configure(s: &Settings<'_>, side: Side, found: &mut Findings) -> Result<Self, ()> {
        let ok = s.only(
            found,
            &[
                "exclude",
                "include",
                "renames",
                "replace.null.with.default",
                // Their names before Kafka 3.0.
                "blacklist",
                "whitelist",
            ],
        );
        let list = |new: &str, old: &str| {
            let mut v: Vec<String> = s.list(new).into_iter().map(str::to_owned).collect();
            if v.is_empty() {
                v = s.list(old).into_iter().map(str::to_owned).collect();
            }
            v
        };
        let mut renames = Vec::new();
        for pair in s.list("renames") {
            match pair.split(':').collect::<Vec<_>>().as_slice() {
                [from, to] => renames.push(((*from).to_owned(), (*to).to_owned())),
                _ => {
                    found.error(
                        &s.field("renames"),
                        format!(
                            "invalid rename mapping: {pair} (use old:new pairs, comma separated)"
                        ),
                    );
                    return Err(());
                }
            }
        }
        let t = ReplaceField {
            side,
            exclude: list("exclude", "blacklist"),
            include: list("include", "whitelist"),
            renames,
            replace_null_with_default: s.boolean(found, "replace.null.with.default", true),
            cache: SchemaCache::default(),
        };
        if ok { Ok(t) } else { Err(()) }
    }

    fn keep(&self, name: &str) -> bool {
        !self.exclude.iter().any(|e| e == name)
            && (self.include.is_empty() || self.include.iter().any(|i| i == name))
    }

    fn renamed<'a>(&'a self, name: &'a str) -> &'a str {
        self.renames
            .iter()
            .find(|(from, _)| from == name)
            .map_or(name, |(_, to)| to)
    }
}

impl Transform for ReplaceField {
    fn apply(&mut self, mut r: Record) -> Result<Option<Record>, String> {
        let (schema, value) = self.side.take(&mut r);
        let Some(value) = value else {
            self.side.put(&mut r, schema, None);
            return Ok(Some(r));
        };
        let Some(schema) = schema else {
            let entries = util::map_entries(value, "field replacement")?
                .into_iter()
                .filter_map(|(k, v)| {
                    let name = k.as_str()?.to_owned();
                    self.keep(&name)
                        .then(|| (Value::String(self.renamed(&name).to_owned()), v))
                })
                .collect();
            self.side.put(&mut r, None, Some(Value::Map(entries)));
            return Ok(Some(r));
        };
        let mut cache = std::mem::take(&mut self.cache);
        let updated = cache.get_or(&schema, |s| {
            let fields = s
                .fields()
                .iter()
                .filter(|f| self.keep(&f.name))
                .map(|f| Field::new(self.renamed(&f.name), f.schema.clone()))
                .collect();
            Ok(util::struct_like(s, fields))
        });
        self.cache = cache;
        let updated = updated?;
        let values = util::struct_values(value, "field replacement")?;
        let out = schema
            .fields()
            .iter()
            .zip(values)
            .filter(|(f, _)| self.keep(&f.name))
            .map(|(f, v)| util::field_value(f, &v, self.replace_null_with_default))
            .collect();
        self.side
            .put(&mut r, Some(updated), Some(Value::Struct(out)));
        Ok(Some(r))
    }
}
