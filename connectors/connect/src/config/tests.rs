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
                "io.debezium.transforms.tracing.ActivateTracingSpan",
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
        text[4].contains("ActivateTracingSpan\" is not implemented"),
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
