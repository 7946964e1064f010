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

/// AvroConverter's settings: the registry is the daemon's, so its connection settings here
/// have no effect; a subject naming strategy other than the topic's cannot be honoured.
fn avro_settings(prefix: &str, settings: &[(&str, &str)], found: &mut Findings) {
    for (k, v) in settings {
        let field = format!("{prefix}.{k}");
        match *k {
            "key.subject.name.strategy" | "value.subject.name.strategy" => {
                let topic_name = v.trim().is_empty()
                    || v.trim() == "io.confluent.kafka.serializers.subject.TopicNameStrategy";
                if !topic_name {
                    found.error(
                        &field,
                        format!(
                            "{v:?} cannot be honoured: subjects are named by the topic (<topic>-key, <topic>-value, Confluent's TopicNameStrategy)\nHINT: remove {field}"
                        ),
                    );
                }
            }
            "auto.register.schemas" if v.trim().eq_ignore_ascii_case("false") => found.error(
                &field,
                "false cannot be honoured: a table's schema is registered before its first event needs it\nHINT: remove it, or register the schemas yourself with a registry that accepts them",
            ),
            "connect.meta.data" if v.trim().eq_ignore_ascii_case("false") => found.error(
                &field,
                "false cannot be honoured: the Avro schemas carry Connect's metadata (connect.name, connect.parameters, …), as Debezium's do by default\nHINT: remove it",
            ),
            "schemas.cache.size" | "auto.register.schemas" | "connect.meta.data" => {}
            _ => found.warn(
                &field,
                "has no effect: connectors use the daemon's schema registry ([schema_registry] in its config)",
            ),
        }
    }
}

/// `CloudEventsConverterConfig`'s settings, and the `json.*` ones of its JSON converters.
fn cloudevents_settings(
    prefix: &str,
    settings: &[(&str, &str)],
    found: &mut Findings,
) -> crate::cloudevents::CloudEventsSettings {
    let mut s = crate::cloudevents::CloudEventsSettings::default();
    let json: Vec<(&str, &str)> = settings
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("json.")?, *v)))
        .collect();
    s.json = json_settings(&format!("{prefix}.json"), &json, found);
    for (k, v) in settings {
        let field = format!("{prefix}.{k}");
        let v = v.trim();
        let lower = v.to_ascii_lowercase();
        let refuse = |found: &mut Findings, why: &str| {
            found.error(
                &field,
                format!("{v:?} cannot be honoured: {why}\nHINT: remove {field}"),
            )
        };
        match *k {
            _ if k.starts_with("json.") => {}
            "serializer.type" | "data.serializer.type" if lower != "json" => refuse(
                found,
                "Tributary writes CloudEvents as JSON with JSON data (Avro needs a registry URL of its own, which the converter does not take here)",
            ),
            "serializer.type" | "data.serializer.type" => {}
            "extension.attributes.enable" => match lower.as_str() {
                "true" => s.extension_attributes = true,
                "false" => s.extension_attributes = false,
                _ => found.error(&field, format!("{v:?} is not true or false")),
            },
            "opentelemetry.tracing.attributes.enable" | "schema.data.name.source.header.enable"
                if lower != "false" =>
            {
                refuse(
                    found,
                    "it reads headers that only OpenTelemetry or JVM-side transforms write",
                )
            }
            "opentelemetry.tracing.attributes.enable" | "schema.data.name.source.header.enable" => {
            }
            "schema.name.adjustment.mode" if !["avro", "none"].contains(&lower.as_str()) => {
                found.error(&field, format!("{v:?} is not avro or none"))
            }
            // The event's own schema is not written with JSON events.
            "schema.name.adjustment.mode" | "schema.cloudevents.name" => {}
            "metadata.source" => {
                let mut parts = v.split(',').map(str::trim);
                let global = parts.next().unwrap_or("value").to_ascii_lowercase();
                let generated = parts.all(|p| match p.split_once(':') {
                    Some((name, source)) => {
                        source.eq_ignore_ascii_case("generate")
                            || name.eq_ignore_ascii_case("traceparent")
                    }
                    None => false,
                });
                if global != "value" || !generated {
                    refuse(
                        found,
                        "only the record's value is read (value,id:generate,type:generate), not headers",
                    );
                }
            }
            _ => found.warn(
                &field,
                "is not a CloudEventsConverter property Tributary reads, and has no effect",
            ),
        }
    }
    s
}

/// JsonConverterConfig's settings.
fn json_settings(prefix: &str, settings: &[(&str, &str)], found: &mut Findings) -> JsonSettings {
    let mut s = JsonSettings::default();
    for (k, v) in settings {
        let field = format!("{prefix}.{k}");
        let v = v.trim();
        let mut boolean = |target: &mut bool| match v.to_ascii_lowercase().as_str() {
            "true" => *target = true,
            "false" => *target = false,
            _ => found.error(&field, format!("{v:?} is not true or false")),
        };
        match *k {
            "schemas.enable" => boolean(&mut s.schemas),
            "replace.null.with.default" => boolean(&mut s.replace_null_with_default),
            "decimal.format" => match v.to_ascii_uppercase().as_str() {
                "BASE64" => s.decimal_numeric = false,
                "NUMERIC" => s.decimal_numeric = true,
                _ => found.error(&field, format!("{v:?} is not BASE64 or NUMERIC")),
            },
            // The cache of converted schemas changes no output.
            "schemas.cache.size" => {
                if v.parse::<u32>().is_err() {
                    found.error(&field, format!("{v:?} is not a whole number"));
                }
            }
            _ => found.warn(
                &field,
                "is not a JsonConverter property (schemas.enable, decimal.format, replace.null.with.default, schemas.cache.size) and has no effect",
            ),
        }
    }
    s
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
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn parse(connector: &[(&str, &str)], worker: &[(&str, &str)]) -> (Pipeline, Findings) {
        let mut found = Findings::default();
        let p = Pipeline::parse(&props(connector), &props(worker), &mut found);
        (p, found)
    }

    fn fields(errors: &[ConfigError]) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn avro_is_the_default_and_json_reads_its_settings() {
        let (p, found) = parse(&[], &[]);
        assert_eq!(p, Pipeline::default());
        assert!(found.errors.is_empty() && found.warnings.is_empty());

        let (p, found) = parse(
            &[
                ("value.converter", JSON_CONVERTER),
                ("value.converter.schemas.enable", "false"),
                ("value.converter.decimal.format", "numeric"),
                ("value.converter.replace.null.with.default", "FALSE"),
                ("key.converter", "JsonConverter"),
            ],
            &[],
        );
        assert!(found.errors.is_empty(), "{:?}", found.errors);
        assert_eq!(p.key, Converter::Json(JsonSettings::default()));
        assert_eq!(
            p.value,
            Converter::Json(JsonSettings {
                schemas: false,
                decimal_numeric: true,
                replace_null_with_default: false,
            })
        );
    }

    #[test]
    fn the_worker_converter_applies_with_the_worker_settings() {
        let (p, found) = parse(
            &[("value.converter.schemas.enable", "true")],
            &[
                ("value.converter", JSON_CONVERTER),
                ("value.converter.schemas.enable", "false"),
            ],
        );
        assert_eq!(
            p.value,
            Converter::Json(JsonSettings {
                schemas: false,
                ..JsonSettings::default()
            })
        );
        assert_eq!(fields(&found.warnings), ["value.converter.schemas.enable"]);
        assert_eq!(p.key, Converter::Avro);
    }

    #[test]
    fn cloudevents_takes_json_settings_and_refuses_what_needs_avro_or_headers() {
        const CE: &str = crate::cloudevents::CLOUDEVENTS_CONVERTER;
        let (p, found) = parse(
            &[
                ("value.converter", CE),
                ("value.converter.json.schemas.enable", "false"),
                ("value.converter.extension.attributes.enable", "false"),
            ],
            &[],
        );
        assert!(found.errors.is_empty(), "{:?}", found.errors);
        let Converter::CloudEvents(s) = p.value else {
            panic!("{:?}", p.value)
        };
        assert!(!s.json.schemas && !s.extension_attributes);
        let (_, found) = parse(
            &[
                ("key.converter", CE),
                ("value.converter", CE),
                ("value.converter.serializer.type", "avro"),
                ("value.converter.metadata.source", "header"),
                (
                    "value.converter.opentelemetry.tracing.attributes.enable",
                    "true",
                ),
            ],
            &[],
        );
        assert_eq!(
            fields(&found.errors),
            [
                "key.converter",
                "value.converter.metadata.source",
                "value.converter.opentelemetry.tracing.attributes.enable",
                "value.converter.serializer.type",
            ]
        );
    }

    #[test]
    fn the_byte_array_converter_needs_a_transform_that_makes_bytes() {
        let bytes = crate::plain::BYTE_ARRAY_CONVERTER;
        let (_, found) = parse(&[("value.converter", bytes)], &[]);
        assert_eq!(fields(&found.errors), ["value.converter"]);
        let (p, found) = parse(
            &[
                ("value.converter", bytes),
                ("transforms", "x"),
                (
                    "transforms.x.type",
                    "org.apache.kafka.connect.transforms.ExtractField$Value",
                ),
                ("transforms.x.field", "payload"),
            ],
            &[],
        );
        assert!(found.errors.is_empty(), "{:?}", found.errors);
        assert_eq!(p.value, Converter::ByteArray);
    }

    #[test]
    fn what_cannot_be_honoured_is_refused_by_name() {
        let (_, found) = parse(
            &[
                (
                    "key.converter",
                    "io.confluent.connect.protobuf.ProtobufConverter",
                ),
                ("value.converter", "com.example.MyConverter"),
                ("value.converter.schemas.enable", "maybe"),
                (
                    "header.converter",
                    "org.apache.kafka.connect.json.JsonConverter",
                ),
                ("transforms", "unwrap, filter,route"),
                (
                    "transforms.unwrap.type",
                    "io.debezium.transforms.ByLogicalTableRouter",
                ),
                ("transforms.filter.type", "io.debezium.transforms.Filter"),
                ("predicates", "p"),
                (
                    "predicates.p.type",
                    "org.apache.kafka.connect.transforms.predicates.HasHeaderKey",
                ),
            ],
            &[],
        );
        assert_eq!(
            fields(&found.errors),
            [
                "key.converter",
                "value.converter",
                "header.converter",
                "predicates.p.name",
                "transforms.unwrap.type",
                "transforms.filter.type",
                "transforms.route.type",
            ]
        );
        let text: Vec<String> = found.errors.iter().map(ToString::to_string).collect();
        assert!(
            text[0].contains("not implemented by Tributary yet"),
            "{text:?}"
        );
        assert!(text[1].contains("HINT: use io.confluent.connect.avro.AvroConverter"));
        assert!(text[3].contains("is required"), "{text:?}");
        assert!(
            text[4].contains("ByLogicalTableRouter\" is not implemented"),
            "{text:?}"
        );
        assert!(text[5].contains("runs scripts"), "{text:?}");
        assert!(text[6].contains("is required"), "{text:?}");
        // The unknown converter's settings are not read, so `maybe` is not an error.
        assert!(!text.iter().any(|t| t.contains("maybe")));
    }

    #[test]
    fn avro_settings_are_honoured_warned_or_refused() {
        let (_, found) = parse(
            &[
                ("value.converter", AVRO_CONVERTER),
                (
                    "value.converter.schema.registry.url",
                    "http://registry:8081",
                ),
                ("value.converter.auto.register.schemas", "true"),
                ("key.converter", AVRO_CONVERTER),
                ("key.converter.connect.meta.data", "false"),
                (
                    "value.converter.value.subject.name.strategy",
                    "io.confluent.kafka.serializers.subject.RecordNameStrategy",
                ),
                ("key.converter.schema.registry.url", "http://registry:8081"),
            ],
            &[],
        );
        assert_eq!(
            fields(&found.errors),
            [
                "key.converter.connect.meta.data",
                "value.converter.value.subject.name.strategy"
            ]
        );
        assert_eq!(
            fields(&found.warnings),
            [
                "key.converter.schema.registry.url",
                "value.converter.schema.registry.url"
            ]
        );
    }
}
