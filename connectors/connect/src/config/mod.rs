//! Kafka Connect's pipeline keys, read as Kafka Connect reads them.
//!
//! `key.converter` / `value.converter` name a class; the properties under
//! `key.converter.` / `value.converter.` configure it. A connector that names no class gets
//! the worker's (the daemon's `[connect]` section), configured by the worker's properties,
//! as Kafka Connect's `Worker` does. Tributary's default is Confluent's AvroConverter.
//!
//! What cannot be honoured is refused, naming the property: a converter class Tributary does
//! not implement, a transform or predicate (none is implemented yet), a header converter
//! other than Kafka's `SimpleHeaderConverter`. A converter property without effect here is
//! a warning.

use std::collections::BTreeMap;

use tributary_core::config::ConfigError;

mod settings;

use settings::{avro_settings, cloudevents_settings, json_settings};

/// Confluent's Avro converter: Tributary's default.
pub const AVRO_CONVERTER: &str = "io.confluent.connect.avro.AvroConverter";
/// Kafka's JSON converter.
pub const JSON_CONVERTER: &str = "org.apache.kafka.connect.json.JsonConverter";
/// Kafka's default header converter, the one Tributary writes headers with.
pub const SIMPLE_HEADER_CONVERTER: &str = "org.apache.kafka.connect.storage.SimpleHeaderConverter";

/// Converter classes Kafka Connect users name that Tributary does not implement yet, with
/// what to use instead.
const NOT_YET: &[&str] = &[
    "io.confluent.connect.protobuf.ProtobufConverter",
    "io.confluent.connect.json.JsonSchemaConverter",
    "io.apicurio.registry.utils.converter.AvroConverter",
];

/// How a record's key or value becomes bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Converter {
    /// Confluent's AvroConverter, through the daemon's schema registry.
    Avro,
    /// Kafka's JsonConverter.
    Json(JsonSettings),
    /// Debezium's CloudEventsConverter (JSON events, JSON data).
    CloudEvents(crate::cloudevents::CloudEventsSettings),
    /// Kafka's StringConverter: the value's Java `toString()`.
    String,
    /// Kafka's ByteArrayConverter: bytes values as they are.
    ByteArray,
}

impl Converter {
    /// The class Kafka Connect knows the converter by.
    pub fn class(&self) -> &'static str {
        match self {
            Converter::Avro => AVRO_CONVERTER,
            Converter::Json(_) => JSON_CONVERTER,
            Converter::CloudEvents(_) => crate::cloudevents::CLOUDEVENTS_CONVERTER,
            Converter::String => crate::plain::STRING_CONVERTER,
            Converter::ByteArray => crate::plain::BYTE_ARRAY_CONVERTER,
        }
    }
}

/// `JsonConverterConfig`'s settings that change what is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonSettings {
    /// `schemas.enable` (default true): `{"schema": …, "payload": …}` instead of the
    /// payload alone.
    pub schemas: bool,
    /// `decimal.format=NUMERIC`: decimals as JSON numbers instead of base64 (`BASE64`, the
    /// default).
    pub decimal_numeric: bool,
    /// `replace.null.with.default` (default true): a null whose schema has a default is
    /// written as the default.
    pub replace_null_with_default: bool,
}

impl Default for JsonSettings {
    fn default() -> Self {
        JsonSettings {
            schemas: true,
            decimal_numeric: false,
            replace_null_with_default: true,
        }
    }
}

/// A connector's pipeline: its transforms (validated; [`Pipeline::chain`] builds them) and
/// its key and value converters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pipeline {
    pub key: Converter,
    pub value: Converter,
    /// The `transforms*` and `predicates*` properties.
    pub transforms: BTreeMap<String, String>,
}

impl Default for Pipeline {
    fn default() -> Self {
        Pipeline {
            key: Converter::Avro,
            value: Converter::Avro,
            transforms: BTreeMap::new(),
        }
    }
}

/// What [`Pipeline::parse`] found besides the pipeline: errors refuse the config,
/// warnings are logged when the connector starts.
#[derive(Debug, Default)]
pub struct Findings {
    pub errors: Vec<ConfigError>,
    pub warnings: Vec<ConfigError>,
}

impl Findings {
    pub(crate) fn error(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(ConfigError {
            field: field.to_string(),
            message: message.into(),
        });
    }

    pub(crate) fn warn(&mut self, field: &str, message: impl Into<String>) {
        self.warnings.push(ConfigError {
            field: field.to_string(),
            message: message.into(),
        });
    }
}

impl Pipeline {
    /// Reads a connector's pipeline keys from `props`, falling back to the worker's
    /// (`worker`, keys as Kafka Connect's worker config names them).
    pub fn parse(
        props: &BTreeMap<String, String>,
        worker: &BTreeMap<String, String>,
        found: &mut Findings,
    ) -> Pipeline {
        let key = converter("key.converter", props, worker, found);
        let value = converter("value.converter", props, worker, found);
        header_converter(props, worker, found);
        let transforms: BTreeMap<String, String> = props
            .iter()
            .filter(|(k, _)| k.starts_with("transforms") || k.starts_with("predicates"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        // Validates every transform and predicate (the chain itself is built per run).
        let chain = crate::transforms::Chain::parse(&transforms, found);
        // Keys and change events are structs, which the ByteArrayConverter refuses: without a
        // transform that makes them bytes, every record would fail.
        for (field, c) in [("key.converter", &key), ("value.converter", &value)] {
            if *c == Converter::ByteArray && chain.is_empty() {
                found.error(
                    field,
                    format!(
                        "{} writes bytes values, and without transforms every key and value is a struct (it would fail every record)\nHINT: add a transform that makes it bytes (e.g. ExtractField of a bytea column), or use {JSON_CONVERTER}",
                        crate::plain::BYTE_ARRAY_CONVERTER
                    ),
                );
            }
        }
        Pipeline {
            key,
            value,
            transforms,
        }
    }

    /// A new chain of the configured transforms (each run of a connector has its own: the
    /// transforms keep schema caches).
    pub fn chain(&self) -> crate::transforms::Chain {
        crate::transforms::Chain::parse(&self.transforms, &mut Findings::default())
    }
}

/// The converter `prefix` names, configured by the properties under `prefix.` of the same
/// level (connector or worker) that named it.
fn converter(
    prefix: &str,
    props: &BTreeMap<String, String>,
    worker: &BTreeMap<String, String>,
    found: &mut Findings,
) -> Converter {
    let (class, level) = match props.get(prefix) {
        Some(class) => (Some(class.trim()), props),
        None => (worker.get(prefix).map(|c| c.trim()), worker),
    };
    let sub = format!("{prefix}.");
    let settings: Vec<(&str, &str)> = level
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix(&sub)?, v.as_str())))
        .collect();
    if !std::ptr::eq(level, props) {
        // The worker's converter ignores a connector's settings for it, as Kafka Connect's.
        for (k, _) in props.iter().filter(|(k, _)| k.starts_with(&sub)) {
            found.warn(
                k,
                format!(
                    "has no effect: {prefix} is not set on the connector, so the worker's converter and its settings apply\nHINT: set {prefix} on the connector to configure its converter here"
                ),
            );
        }
    }
    match class {
        None | Some("") => {
            avro_settings(prefix, &settings, found);
            Converter::Avro
        }
        Some(c) if c == AVRO_CONVERTER || c == "AvroConverter" => {
            avro_settings(prefix, &settings, found);
            Converter::Avro
        }
        Some(c) if c == JSON_CONVERTER || c == "JsonConverter" => {
            Converter::Json(json_settings(prefix, &settings, found))
        }
        Some(c) if c == crate::plain::STRING_CONVERTER || c == "StringConverter" => {
            for (k, v) in &settings {
                let field = format!("{prefix}.{k}");
                match *k {
                    "converter.encoding" | "encoding"
                        if !["utf8", "utf-8"].contains(&v.trim().to_ascii_lowercase().as_str()) =>
                    {
                        found.error(
                            &field,
                            format!("{v:?} cannot be honoured: Tributary writes strings as UTF-8\nHINT: remove {field}"),
                        )
                    }
                    "converter.encoding" | "encoding" => {}
                    _ => found.warn(&field, "is not a StringConverter property (converter.encoding) and has no effect"),
                }
            }
            Converter::String
        }
        Some(c) if c == crate::plain::BYTE_ARRAY_CONVERTER || c == "ByteArrayConverter" => {
            for (k, _) in &settings {
                found.warn(
                    &format!("{prefix}.{k}"),
                    "the ByteArrayConverter has no properties: no effect",
                );
            }
            Converter::ByteArray
        }
        Some(c) if c == crate::cloudevents::CLOUDEVENTS_CONVERTER => {
            if prefix == "key.converter" {
                found.error(
                    prefix,
                    format!(
                        "{c:?} converts values: as a key converter it would write every key as null\nHINT: keep it as value.converter and use {JSON_CONVERTER} or {AVRO_CONVERTER} for keys"
                    ),
                );
            }
            Converter::CloudEvents(cloudevents_settings(prefix, &settings, found))
        }
        Some(c) => {
            let why = if NOT_YET.contains(&c) {
                "is not implemented by Tributary yet"
            } else {
                "is not a converter Tributary implements"
            };
            found.error(
                prefix,
                format!(
                    "{c:?} {why}\nHINT: use {AVRO_CONVERTER} (the default, through the schema registry), {JSON_CONVERTER} (with {prefix}.schemas.enable true or false) or, for values, {}",
                    crate::cloudevents::CLOUDEVENTS_CONVERTER
                ),
            );
            Converter::Avro
        }
    }
}

/// Headers are written by Kafka's `SimpleHeaderConverter`; another class is refused.
fn header_converter(
    props: &BTreeMap<String, String>,
    worker: &BTreeMap<String, String>,
    found: &mut Findings,
) {
    let (class, field) = match props.get("header.converter") {
        Some(c) => (c, "header.converter"),
        None => match worker.get("header.converter") {
            Some(c) => (c, "connect.header.converter"),
            None => return,
        },
    };
    let class = class.trim();
    if !(class.is_empty() || class == SIMPLE_HEADER_CONVERTER || class == "SimpleHeaderConverter") {
        found.error(
            field,
            format!(
                "{class:?} is not implemented: headers are written by {SIMPLE_HEADER_CONVERTER}\nHINT: remove {field}"
            ),
        );
    }
}

#[cfg(test)]
mod tests;
