use tributary_core::{Field, Schema, Value};

use super::*;

fn row_schema() -> Schema {
    let mut status = Schema::string().optional();
    status.default = Some(Value::String("new".into()));
    Schema::structure(
        "cdc.public.t.Value",
        vec![
            Field::new("id", Schema::int32()),
            Field::new(
                "price",
                Schema::bytes()
                    .named(DECIMAL)
                    .versioned(1)
                    .param("scale", "2")
                    .param("connect.decimal.precision", "10")
                    .optional(),
            ),
            Field::new("status", status),
            Field::new(
                "tags",
                Schema::map(Schema::string(), Schema::float64().optional()).optional(),
            ),
        ],
    )
}

fn row(status: Value) -> Value {
    Value::Struct(vec![
        Value::Int32(7),
        Value::Bytes(vec![0x30, 0x39]), // 12345 → 123.45
        status,
        Value::Map(vec![
            (Value::String("b".into()), Value::Float64(1e10)),
            (Value::String("a".into()), Value::Null),
        ]),
    ])
}

fn written(settings: JsonSettings, schema: Option<&Schema>, value: Option<&Value>) -> String {
    let mut schema_json = Vec::new();
    if let Some(s) = schema {
        write_schema(&mut schema_json, &settings, s);
    }
    let mut buf = Vec::new();
    assert!(write_record(
        &mut buf,
        &settings,
        schema,
        &schema_json,
        value
    ));
    String::from_utf8(buf).unwrap()
}

#[test]
fn a_struct_with_its_schema_reads_as_json_converter_writes_it() {
    let schema = row_schema();
    assert_eq!(
        written(
            JsonSettings::default(),
            Some(&schema),
            Some(&row(Value::Null))
        ),
        concat!(
            r#"{"schema":{"type":"struct","fields":["#,
            r#"{"type":"int32","optional":false,"field":"id"},"#,
            r#"{"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2","connect.decimal.precision":"10"},"field":"price"},"#,
            r#"{"type":"string","optional":true,"default":"new","field":"status"},"#,
            r#"{"type":"map","keys":{"type":"string","optional":false},"values":{"type":"double","optional":true},"optional":true,"field":"tags"}"#,
            r#"],"optional":false,"name":"cdc.public.t.Value"},"#,
            r#""payload":{"id":7,"price":"MDk=","status":"new","tags":{"b":1.0E10,"a":null}}}"#
        )
    );
}

#[test]
fn settings_change_the_payload_as_the_java_converter_does() {
    let schema = row_schema();
    let plain = JsonSettings {
        schemas: false,
        decimal_numeric: true,
        replace_null_with_default: false,
    };
    assert_eq!(
        written(plain, Some(&schema), Some(&row(Value::Null))),
        r#"{"id":7,"price":123.45,"status":null,"tags":{"b":1.0E10,"a":null}}"#
    );
    // A value that is there is written, default or not.
    assert_eq!(
        written(plain, Some(&schema), Some(&row(Value::String("x".into())))),
        r#"{"id":7,"price":123.45,"status":"x","tags":{"b":1.0E10,"a":null}}"#
    );
}

#[test]
fn a_tombstone_is_null_and_a_null_value_keeps_its_schema() {
    let mut buf = Vec::new();
    assert!(!write_record(
        &mut buf,
        &JsonSettings::default(),
        None,
        b"",
        None
    ));
    assert!(buf.is_empty());
    let schema = Schema::int64().optional();
    assert_eq!(
        written(JsonSettings::default(), Some(&schema), None),
        r#"{"schema":{"type":"int64","optional":true},"payload":null}"#
    );
}

#[test]
fn maps_without_string_keys_are_arrays_of_pairs() {
    let schema = Schema::map(Schema::int32(), Schema::boolean());
    let value = Value::Map(vec![(Value::Int32(1), Value::Boolean(true))]);
    assert_eq!(
        written(
            JsonSettings {
                schemas: false,
                ..JsonSettings::default()
            },
            Some(&schema),
            Some(&value)
        ),
        "[[1,true]]"
    );
}

#[test]
fn what_is_written_reads_back_as_the_same_schema_and_value() {
    let schema = row_schema();
    let value = row(Value::String("x".into()));
    let settings = JsonSettings::default();
    let text = written(settings, Some(&schema), Some(&value));
    let (s, v) = read::read_record(Some(text.as_bytes()), &settings).unwrap();
    assert_eq!(s.as_ref(), Some(&schema));
    assert_eq!(v.as_ref(), Some(&value));
    // Parameters keep their written order, and the value reads as written again.
    assert_eq!(written(settings, s.as_ref(), v.as_ref()), text);
    // A null with a default reads as the default, as Kafka's converter reads it.
    let text = written(
        JsonSettings {
            replace_null_with_default: false,
            ..settings
        },
        Some(&schema),
        Some(&row(Value::Null)),
    );
    let (_, v) = read::read_record(Some(text.as_bytes()), &settings).unwrap();
    assert_eq!(v, Some(row(Value::String("new".into()))));
    assert_eq!(read::read_record(None, &settings).unwrap(), (None, None));
}

#[test]
fn schemaless_json_reads_as_maps_and_wide_numbers() {
    let settings = JsonSettings {
        schemas: false,
        ..JsonSettings::default()
    };
    let (s, v) = read::read_record(Some(br#"{"b":1,"a":[1.5,"x",null]}"#), &settings).unwrap();
    assert_eq!(s, None);
    assert_eq!(
        v,
        Some(Value::Map(vec![
            (Value::String("b".into()), Value::Int64(1)),
            (
                Value::String("a".into()),
                Value::Array(vec![
                    Value::Float64(1.5),
                    Value::String("x".into()),
                    Value::Null
                ])
            ),
        ]))
    );
}
