//! Each converter's own settings (`key.converter.*` / `value.converter.*`): what they
//! change, what is refused, what has no effect here.

use super::{Findings, JsonSettings};

/// AvroConverter's settings: the registry is the daemon's, so its connection settings here
/// have no effect; a subject naming strategy other than the topic's cannot be honoured.
pub(super) fn avro_settings(prefix: &str, settings: &[(&str, &str)], found: &mut Findings) {
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
pub(super) fn cloudevents_settings(
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
            "schema.name.adjustment.mode" | "schema.cloudevents.name" => found.warn(
                &field,
                "has no effect with JSON events, as in Debezium: it names the event's schema, which a JSON CloudEvent does not carry",
            ),
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
pub(super) fn json_settings(
    prefix: &str,
    settings: &[(&str, &str)],
    found: &mut Findings,
) -> JsonSettings {
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
