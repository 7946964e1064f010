//! Kafka's transforms that reshape a key or value: `ValueToKey` (a key from value fields),
//! `HoistField` (the side wrapped in a one-field struct), `SetSchemaMetadata` (a new schema
//! name or version) and `MaskField` (fields replaced by their type's empty value or a
//! replacement); `Flatten` is in `flatten.rs`.

use tributary_core::{Field, Schema, SchemaType, Value};

use super::util::{self, SchemaCache, Side};
use super::{Built, Settings, Transform};
use crate::config::Findings;
use crate::record::Record;

const VALUE_TO_KEY: &str = "org.apache.kafka.connect.transforms.ValueToKey";
const HOIST_FIELD: &str = "org.apache.kafka.connect.transforms.HoistField";
const SET_SCHEMA_METADATA: &str = "org.apache.kafka.connect.transforms.SetSchemaMetadata";
const MASK_FIELD: &str = "org.apache.kafka.connect.transforms.MaskField";
const FLATTEN: &str = "org.apache.kafka.connect.transforms.Flatten";
const DECIMAL: &str = "org.apache.kafka.connect.data.Decimal";
/// Connect's temporal types: `java.util.Date` objects in Java.
const DATES: [&str; 3] = [
    "org.apache.kafka.connect.data.Date",
    "org.apache.kafka.connect.data.Time",
    "org.apache.kafka.connect.data.Timestamp",
];

pub(super) fn build(class: &str, s: &Settings<'_>, found: &mut Findings) -> Option<Built> {
    fn boxed<T: Transform + 'static>(name: &'static str, t: Result<T, ()>) -> Built {
        t.map(|t| (name, Box::new(t) as Box<dyn Transform>))
    }
    if class == VALUE_TO_KEY {
        return Some(boxed("ValueToKey", ValueToKey::configure(s, found)));
    }
    let (base, side) = Side::of(class)?;
    let key = side == Side::Key;
    Some(match base {
        HOIST_FIELD => boxed(
            if key {
                "HoistField$Key"
            } else {
                "HoistField$Value"
            },
            HoistField::configure(s, side, found),
        ),
        SET_SCHEMA_METADATA => boxed(
            if key {
                "SetSchemaMetadata$Key"
            } else {
                "SetSchemaMetadata$Value"
            },
            SetSchemaMetadata::configure(s, side, found),
        ),
        FLATTEN => boxed(
            if key { "Flatten$Key" } else { "Flatten$Value" },
            super::flatten::Flatten::configure(s, side, found),
        ),
        MASK_FIELD => boxed(
            if key {
                "MaskField$Key"
            } else {
                "MaskField$Value"
            },
            MaskField::configure(s, side, found),
        ),
        _ => return None,
    })
}

/// `ValueToKey`: the key becomes a struct of the listed value fields.
struct ValueToKey {
    fields: Vec<String>,
    replace_null_with_default: bool,
    cache: SchemaCache,
}

impl ValueToKey {
    fn configure(s: &Settings<'_>, found: &mut Findings) -> Result<Self, ()> {
        let ok = s.only(found, &["fields", "replace.null.with.default"]);
        let fields: Vec<String> = s.list("fields").into_iter().map(str::to_owned).collect();
        if fields.is_empty() {
            found.error(
                &s.field("fields"),
                "is required: the value fields the key is made of",
            );
            return Err(());
        }
        let replace = s.boolean(found, "replace.null.with.default", true);
        if ok {
            Ok(ValueToKey {
                fields,
                replace_null_with_default: replace,
                cache: SchemaCache::default(),
            })
        } else {
            Err(())
        }
    }
}

impl Transform for ValueToKey {
    fn apply(&mut self, mut r: Record) -> Result<Option<Record>, String> {
        let purpose = "copying fields from value to key";
        let Some(schema) = r.value_schema.clone() else {
            let entries = util::map_entries(r.value.clone().unwrap_or(Value::Null), purpose)?;
            let key = self
                .fields
                .iter()
                .map(|f| {
                    let v = entries
                        .iter()
                        .find(|(k, _)| k.as_str() == Some(f))
                        .map_or(Value::Null, |(_, v)| v.clone());
                    (Value::String(f.clone()), v)
                })
                .collect();
            (r.key_schema, r.key) = (None, Some(Value::Map(key)));
            return Ok(Some(r));
        };
        let values = match &r.value {
            Some(Value::Struct(v)) => v,
            other => {
                return Err(format!(
                    "only Struct objects supported for [{purpose}], found: {}",
                    util::kind(other.as_ref().unwrap_or(&Value::Null))
                ));
            }
        };
        let fields = &self.fields;
        let key_schema = self.cache.get_or(&schema, |s| {
            let mut out = Vec::new();
            for f in fields {
                let field = s
                    .fields()
                    .iter()
                    .find(|x| x.name == *f)
                    .ok_or_else(|| format!("Field does not exist: {f}"))?;
                out.push(Field::new(f.clone(), field.schema.clone()));
            }
            Ok(Schema::new(SchemaType::Struct(out)))
        })?;
        let key = self
            .fields
            .iter()
            .map(|f| {
                let i = util::index(&schema, f).unwrap_or_default();
                util::field_value(
                    &schema.fields()[i],
                    values.get(i).unwrap_or(&Value::Null),
                    self.replace_null_with_default,
                )
            })
            .collect();
        (r.key_schema, r.key) = (Some(key_schema), Some(Value::Struct(key)));
        Ok(Some(r))
    }
}

/// `HoistField`: the side becomes a struct (or map) of one field holding it.
struct HoistField {
    side: Side,
    field: String,
    cache: SchemaCache,
}

impl HoistField {
    fn configure(s: &Settings<'_>, side: Side, found: &mut Findings) -> Result<Self, ()> {
        let ok = s.only(found, &["field"]);
        match s.required(found, "field") {
            Some(field) if ok => Ok(HoistField {
                side,
                field: field.to_owned(),
                cache: SchemaCache::default(),
            }),
            _ => Err(()),
        }
    }
}

impl Transform for HoistField {
    fn apply(&mut self, mut r: Record) -> Result<Option<Record>, String> {
        let (schema, value) = self.side.take(&mut r);
        let value = value.unwrap_or(Value::Null);
        match schema {
            None => {
                let map = Value::Map(vec![(Value::String(self.field.clone()), value)]);
                self.side.put(&mut r, None, Some(map));
            }
            Some(schema) => {
                let field = &self.field;
                let updated = self.cache.get_or(&schema, |s| {
                    Ok(Schema::new(SchemaType::Struct(vec![Field::new(
                        field.clone(),
                        s.clone(),
                    )])))
                })?;
                if value.is_null() && !schema.optional {
                    return Err(format!(
                        "Invalid value: null used for required field: \"{field}\", schema type: {}",
                        schema.type_name().to_uppercase()
                    ));
                }
                self.side
                    .put(&mut r, Some(updated), Some(Value::Struct(vec![value])));
            }
        }
        Ok(Some(r))
    }
}

/// `SetSchemaMetadata`: the side's schema renamed or re-versioned, the rest unchanged.
struct SetSchemaMetadata {
    side: Side,
    name: Option<String>,
    version: Option<i32>,
    replace_null_with_default: bool,
    cache: SchemaCache,
}

impl SetSchemaMetadata {
    fn configure(s: &Settings<'_>, side: Side, found: &mut Findings) -> Result<Self, ()> {
        let ok = s.only(
            found,
            &["schema.name", "schema.version", "replace.null.with.default"],
        );
        let name = s.get("schema.name").map(str::to_owned);
        let version = match s.get("schema.version") {
            None => None,
            Some(v) => match v.parse::<i32>() {
                Ok(v) => Some(v),
                Err(_) => {
                    found.error(
                        &s.field("schema.version"),
                        format!("{v:?} is not a whole number"),
                    );
                    return Err(());
                }
            },
        };
        if name.is_none() && version.is_none() {
            found.error(
                &s.field("schema.name"),
                "Neither schema name nor version configured: set schema.name, schema.version or both",
            );
            return Err(());
        }
        let replace = s.boolean(found, "replace.null.with.default", true);
        if ok {
            Ok(SetSchemaMetadata {
                side,
                name,
                version,
                replace_null_with_default: replace,
                cache: SchemaCache::default(),
            })
        } else {
            Err(())
        }
    }
}

impl Transform for SetSchemaMetadata {
    fn apply(&mut self, mut r: Record) -> Result<Option<Record>, String> {
        let (schema, value) = self.side.take(&mut r);
        let Some(schema) = schema else {
            if value.is_none() {
                return Ok(Some(r));
            }
            return Err("Schema required for [updating schema metadata]".into());
        };
        let (name, version) = (&self.name, self.version);
        let updated = self.cache.get_or(&schema, |s| {
            let mut u = s.clone();
            if let Some(n) = name {
                u.name = Some(n.clone());
            }
            if version.is_some() {
                u.version = version;
            }
            Ok(u)
        })?;
        // A struct is rebuilt on the new schema (`Struct.get`: defaults for nulls).
        let value = match value {
            Some(Value::Struct(values)) if self.replace_null_with_default => Some(Value::Struct(
                schema
                    .fields()
                    .iter()
                    .zip(values)
                    .map(|(f, v)| util::field_value(f, &v, true))
                    .collect(),
            )),
            other => other,
        };
        self.side.put(&mut r, Some(updated), value);
        Ok(Some(r))
    }
}

/// `MaskField`: the listed fields replaced by their type's empty value (`0`, `false`, `""`,
/// the epoch, an empty array or map) or by `replacement` read as the field's type.
struct MaskField {
    side: Side,
    fields: Vec<String>,
    replacement: Option<String>,
    replace_null_with_default: bool,
}

impl MaskField {
    fn configure(s: &Settings<'_>, side: Side, found: &mut Findings) -> Result<Self, ()> {
        let ok = s.only(
            found,
            &["fields", "replacement", "replace.null.with.default"],
        );
        let fields: Vec<String> = s.list("fields").into_iter().map(str::to_owned).collect();
        if fields.is_empty() {
            found.error(&s.field("fields"), "is required: the fields to mask");
            return Err(());
        }
        let replacement = s.get("replacement").map(str::to_owned);
        if replacement.as_deref() == Some("") {
            found.error(
                &s.field("replacement"),
                "must not be empty (remove it to mask with empty values)",
            );
            return Err(());
        }
        let replace = s.boolean(found, "replace.null.with.default", true);
        if ok {
            Ok(MaskField {
                side,
                fields,
                replacement,
                replace_null_with_default: replace,
            })
        } else {
            Err(())
        }
    }

    fn masked(&self, schema: Option<&Schema>, v: Value) -> Result<Value, String> {
        if v.is_null() {
            return Ok(v);
        }
        let decimal_scale = schema
            .filter(|s| s.name.as_deref() == Some(DECIMAL))
            .map(|s| {
                s.parameters
                    .get("scale")
                    .and_then(|x| x.parse::<i32>().ok())
                    .unwrap_or(0)
            });
        let Some(text) = &self.replacement else {
            return Ok(match v {
                Value::Boolean(_) => Value::Boolean(false),
                Value::Int8(_) => Value::Int8(0),
                Value::Int16(_) => Value::Int16(0),
                Value::Int32(_) => Value::Int32(0),
                Value::Int64(_) => Value::Int64(0),
                Value::Float32(_) => Value::Float32(0.0),
                Value::Float64(_) => Value::Float64(0.0),
                Value::String(_) => Value::String(String::new()),
                // BigDecimal.ZERO: its scale is 0, which a Decimal of another scale refuses.
                Value::Bytes(_) if decimal_scale == Some(0) => Value::Bytes(vec![0]),
                Value::Bytes(_) if decimal_scale.is_some() => {
                    return Err(
                        "BigDecimal has mismatching scale value for given Decimal schema".into(),
                    );
                }
                Value::Array(_) => Value::Array(Vec::new()),
                Value::Map(_) => Value::Map(Vec::new()),
                other => return Err(format!("Cannot mask value of type: {}", util::kind(&other))),
            });
        };
        let number = |t: &str| -> Result<f64, String> {
            t.trim()
                .parse::<f64>()
                .map_err(|_| format!("Unable to convert {t} (class java.lang.String) to number"))
        };
        let whole = |t: &str| -> Result<i64, String> {
            t.trim()
                .parse::<i64>()
                .map_err(|_| format!("Unable to convert {t} (class java.lang.String) to number"))
        };
        if schema.is_some_and(|s| s.name.as_deref().is_some_and(|n| DATES.contains(&n))) {
            return Err(
                "Cannot mask value of type class java.util.Date with custom replacement.".into(),
            );
        }
        if let Some(scale) = decimal_scale {
            // `new BigDecimal(replacement)`, which must have the schema's scale.
            let t = text.trim();
            let digits: String = t.chars().filter(|c| *c != '.').collect();
            let own = t.find('.').map_or(0, |i| t.len() - i - 1) as i32;
            let n: num_bigint::BigInt = digits
                .parse()
                .map_err(|_| format!("Unable to convert {t} (class java.lang.String) to number"))?;
            if own != scale {
                return Err(
                    "BigDecimal has mismatching scale value for given Decimal schema".into(),
                );
            }
            return Ok(Value::Bytes(n.to_signed_bytes_be()));
        }
        Ok(match v {
            Value::String(_) => Value::String(text.clone()),
            Value::Int8(_) => Value::Int8(i8::try_from(whole(text)?).map_err(|e| e.to_string())?),
            Value::Int16(_) => {
                Value::Int16(i16::try_from(whole(text)?).map_err(|e| e.to_string())?)
            }
            Value::Int32(_) => {
                Value::Int32(i32::try_from(whole(text)?).map_err(|e| e.to_string())?)
            }
            Value::Int64(_) => Value::Int64(whole(text)?),
            Value::Float32(_) => Value::Float32(number(text)? as f32),
            Value::Float64(_) => Value::Float64(number(text)?),
            other => {
                return Err(format!(
                    "Cannot mask value of type {} with custom replacement.",
                    util::kind(&other)
                ));
            }
        })
    }
}

impl Transform for MaskField {
    fn apply(&mut self, mut r: Record) -> Result<Option<Record>, String> {
        let (schema, value) = self.side.take(&mut r);
        let Some(schema) = schema else {
            let mut entries = util::map_entries(value.unwrap_or(Value::Null), "mask fields")?;
            for f in &self.fields {
                match entries.iter_mut().find(|(k, _)| k.as_str() == Some(f)) {
                    Some((_, v)) => *v = self.masked(None, std::mem::replace(v, Value::Null))?,
                    None => entries.push((Value::String(f.clone()), Value::Null)),
                }
            }
            self.side.put(&mut r, None, Some(Value::Map(entries)));
            return Ok(Some(r));
        };
        let values = util::struct_values(value.unwrap_or(Value::Null), "mask fields")?;
        let mut out = Vec::with_capacity(values.len());
        for (f, v) in schema.fields().iter().zip(values) {
            let v = util::field_value(f, &v, self.replace_null_with_default);
            out.push(if self.fields.contains(&f.name) {
                self.masked(Some(&f.schema), v)?
            } else {
                v
            });
        }
        self.side
            .put(&mut r, Some(schema), Some(Value::Struct(out)));
        Ok(Some(r))
    }
}
