//! Schema derivation tests.

use tributary_core::{Field, Schema, SchemaType};

use super::fixtures::*;
use super::*;

const A: NameAdjustment = NameAdjustment::Avro;

fn parses(text: &str) {
    if let Err(e) = apache_avro::Schema::parse_str(text) {
        panic!("{e}\n{text}");
    }
}

#[test]
fn envelope_matches_debeziums_avro_schema() {
    // What Debezium 2.6+ registers through AvroConverter for this table (its columns have
    // no DEFAULT, which Debezium would add as `connect.default`), except that our
    // `snapshot` enum lists the markers of newer versions, as tributary-core does.
    let t = table(
        "demo.public.users",
        vec![Field::new("id", Schema::int32())],
        vec![
            Field::new("id", Schema::int32()),
            Field::new("user_id", Schema::string()),
            Field::new("email", Schema::string().optional()),
            Field::new("country", Schema::string().optional()),
            Field::new(
                "created_at",
                debezium_time(Schema::int64(), "MicroTimestamp").optional(),
            ),
        ],
    );
    let avro = table_avro(&t, A, A).unwrap();
    assert_eq!(
        avro.key.as_deref(),
        Some(
            r#"{"type":"record","name":"Key","namespace":"demo.public.users","fields":[{"name":"id","type":"int"}],"connect.name":"demo.public.users.Key"}"#
        )
    );
    let expected = concat!(
        r#"{"type":"record","name":"Envelope","namespace":"demo.public.users","fields":["#,
        r#"{"name":"before","type":["null",{"type":"record","name":"Value","fields":["#,
        r#"{"name":"id","type":"int"},{"name":"user_id","type":"string"},"#,
        r#"{"name":"email","type":["null","string"],"default":null},"#,
        r#"{"name":"country","type":["null","string"],"default":null},"#,
        r#"{"name":"created_at","type":["null",{"type":"long","connect.version":1,"connect.name":"io.debezium.time.MicroTimestamp"}],"default":null}"#,
        r#"],"connect.name":"demo.public.users.Value"}],"default":null},"#,
        r#"{"name":"after","type":["null","Value"],"default":null},"#,
        r#"{"name":"source","type":{"type":"record","name":"Source","namespace":"io.debezium.connector.postgresql","fields":["#,
        r#"{"name":"version","type":"string"},{"name":"connector","type":"string"},{"name":"name","type":"string"},{"name":"ts_ms","type":"long"},"#,
        r#"{"name":"snapshot","type":[{"type":"string","connect.version":1,"connect.parameters":{"allowed":"true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"},"connect.default":"false","connect.name":"io.debezium.data.Enum"},"null"],"default":"false"},"#,
        r#"{"name":"db","type":"string"},{"name":"sequence","type":["null","string"],"default":null},"#,
        r#"{"name":"ts_us","type":["null","long"],"default":null},{"name":"ts_ns","type":["null","long"],"default":null},"#,
        r#"{"name":"schema","type":"string"},{"name":"table","type":"string"},"#,
        r#"{"name":"txId","type":["null","long"],"default":null},{"name":"lsn","type":["null","long"],"default":null},{"name":"xmin","type":["null","long"],"default":null},"#,
        r#"{"name":"origin","type":["null","string"],"default":null},{"name":"origin_lsn","type":["null","long"],"default":null}"#,
        r#"],"connect.version":1,"connect.name":"io.debezium.connector.postgresql.Source"}},"#,
        r#"{"name":"transaction","type":["null",{"type":"record","name":"block","namespace":"event","fields":["#,
        r#"{"name":"id","type":"string"},{"name":"total_order","type":"long"},{"name":"data_collection_order","type":"long"}"#,
        r#"],"connect.version":1,"connect.name":"event.block"}],"default":null},"#,
        r#"{"name":"op","type":"string"},"#,
        r#"{"name":"ts_ms","type":["null","long"],"default":null},{"name":"ts_us","type":["null","long"],"default":null},{"name":"ts_ns","type":["null","long"],"default":null}"#,
        r#"],"connect.version":2,"connect.name":"demo.public.users.Envelope"}"#,
    );
    assert_eq!(avro.value, expected);
    parses(&avro.value);
}

#[test]
fn envelope_record_names_split_at_the_last_dot() {
    let t = table(
        "cdc.public.customers",
        vec![Field::new("id", Schema::int64())],
        vec![Field::new("id", Schema::int64())],
    );
    let avro = table_avro(&t, A, A).unwrap();
    let v: serde_json::Value = serde_json::from_str(&avro.value).unwrap();
    assert_eq!(v["name"], "Envelope");
    assert_eq!(v["namespace"], "cdc.public.customers");
    assert_eq!(v["connect.name"], "cdc.public.customers.Envelope");
    let before = &v["fields"][0]["type"][1];
    assert_eq!(before["name"], "Value");
    assert_eq!(
        before.get("namespace"),
        None,
        "same namespace as the envelope"
    );
    let source = &v["fields"][2]["type"];
    assert_eq!(source["name"], "Source");
    assert_eq!(source["namespace"], "io.debezium.connector.postgresql");
    let names: Vec<&str> = source["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "version",
            "connector",
            "name",
            "ts_ms",
            "snapshot",
            "db",
            "sequence",
            "ts_us",
            "ts_ns",
            "schema",
            "table",
            "txId",
            "lsn",
            "xmin",
            "origin",
            "origin_lsn"
        ]
    );
    let top: Vec<&str> = v["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        top,
        [
            "before",
            "after",
            "source",
            "transaction",
            "op",
            "ts_ms",
            "ts_us",
            "ts_ns"
        ]
    );
}

#[test]
fn decimals_carry_scale_precision_and_connect_parameters() {
    let text = connect_to_avro_string(&decimal(2, Some(10)), A, A).unwrap();
    assert_eq!(
        text,
        r#"{"type":"bytes","scale":2,"precision":10,"connect.version":1,"connect.parameters":{"scale":"2","connect.decimal.precision":"10"},"connect.name":"org.apache.kafka.connect.data.Decimal","logicalType":"decimal"}"#
    );
    // Money has no precision parameter: AvroData's default 64.
    let text = connect_to_avro_string(&decimal(2, None), A, A).unwrap();
    assert_eq!(
        text,
        r#"{"type":"bytes","scale":2,"precision":64,"connect.version":1,"connect.parameters":{"scale":"2"},"connect.name":"org.apache.kafka.connect.data.Decimal","logicalType":"decimal"}"#
    );
    // Negative scale (Postgres 15): AvroData's legacy form; Avro readers see bytes.
    let text = connect_to_avro_string(&decimal(-2, Some(5)), A, A).unwrap();
    assert!(
        text.starts_with(r#"{"type":"bytes","scale":-2,"precision":5,"#),
        "{text}"
    );
    let missing = Schema::bytes().named("org.apache.kafka.connect.data.Decimal");
    let err = connect_to_avro_string(&missing, A, A).unwrap_err();
    assert!(
        err.to_string().contains("parameter scale is missing"),
        "{err}"
    );
}

#[test]
fn small_ints_and_connect_logical_types_keep_their_connect_type() {
    let s = |schema: Schema| connect_to_avro_string(&schema, A, A).unwrap();
    assert_eq!(
        s(Schema::new(SchemaType::Int8)),
        r#"{"type":"int","connect.type":"int8"}"#
    );
    assert_eq!(
        s(Schema::int16()),
        r#"{"type":"int","connect.type":"int16"}"#
    );
    assert_eq!(
        s(Schema::int16().optional()),
        r#"["null",{"type":"int","connect.type":"int16"}]"#
    );
    assert_eq!(s(Schema::int32()), r#""int""#);
    assert_eq!(s(Schema::float32().optional()), r#"["null","float"]"#);
    assert_eq!(
        s(connect_logical(Schema::int32(), "Date")),
        r#"{"type":"int","connect.version":1,"connect.name":"org.apache.kafka.connect.data.Date","logicalType":"date"}"#
    );
    assert_eq!(
        s(connect_logical(Schema::int32(), "Time")),
        r#"{"type":"int","connect.version":1,"connect.name":"org.apache.kafka.connect.data.Time","logicalType":"time-millis"}"#
    );
    assert_eq!(
        s(connect_logical(Schema::int64(), "Timestamp")),
        r#"{"type":"long","connect.version":1,"connect.name":"org.apache.kafka.connect.data.Timestamp","logicalType":"timestamp-millis"}"#
    );
    // Debezium's own time types are plain numbers with a connect.name.
    assert_eq!(
        s(debezium_time(Schema::int32(), "Date")),
        r#"{"type":"int","connect.version":1,"connect.name":"io.debezium.time.Date"}"#
    );
    assert_eq!(
        s(named_string("io.debezium.data.Enum").param("allowed", "a,b")),
        r#"{"type":"string","connect.version":1,"connect.parameters":{"allowed":"a,b"},"connect.name":"io.debezium.data.Enum"}"#
    );
}

#[test]
fn a_named_struct_is_defined_once_and_referenced_after() {
    let t = table(
        "cdc.public.prices",
        vec![Field::new("id", Schema::int32())],
        vec![
            Field::new("id", Schema::int32()),
            Field::new("a", variable_scale_decimal().optional()),
            Field::new("b", variable_scale_decimal()),
        ],
    );
    let avro = table_avro(&t, A, A).unwrap();
    let vsd = r#"{"type":"record","name":"VariableScaleDecimal","namespace":"io.debezium.data","fields":[{"name":"scale","type":"int"},{"name":"value","type":"bytes"}],"connect.doc":"Variable scaled decimal","connect.version":1,"connect.name":"io.debezium.data.VariableScaleDecimal"}"#;
    let a = format!(r#"{{"name":"a","type":["null",{vsd}],"default":null}}"#);
    let b = r#"{"name":"b","type":"io.debezium.data.VariableScaleDecimal"}"#;
    assert!(avro.value.contains(&a), "{}", avro.value);
    assert!(avro.value.contains(b), "{}", avro.value);
    assert_eq!(
        avro.value
            .matches("\"name\":\"VariableScaleDecimal\"")
            .count(),
        1
    );
    assert!(
        avro.value
            .contains(r#"{"name":"after","type":["null","Value"],"default":null}"#)
    );
    parses(&avro.value);
}

#[test]
fn unnamed_structs_get_connect_default_names() {
    let inner = |f: &str| Schema::new(SchemaType::Struct(vec![Field::new(f, Schema::int32())]));
    let s = Schema::structure(
        "x.Row",
        vec![
            Field::new("p", inner("a")),
            Field::new("q", inner("b").optional()),
            Field::new("r", inner("a")),
        ],
    );
    let text = connect_to_avro_string(&s, A, A).unwrap();
    assert_eq!(
        text,
        concat!(
            r#"{"type":"record","name":"Row","namespace":"x","fields":["#,
            r#"{"name":"p","type":{"type":"record","name":"ConnectDefault","namespace":"io.confluent.connect.avro","fields":[{"name":"a","type":"int"}]}},"#,
            r#"{"name":"q","type":["null",{"type":"record","name":"ConnectDefault2","namespace":"io.confluent.connect.avro","fields":[{"name":"b","type":"int"}]}],"default":null},"#,
            r#"{"name":"r","type":"io.confluent.connect.avro.ConnectDefault"}"#,
            r#"],"connect.name":"x.Row"}"#
        )
    );
    parses(&text);
}

#[test]
fn maps_with_string_keys_are_avro_maps_and_others_map_entries() {
    let s = Schema::structure(
        "x.Row",
        vec![
            Field::new(
                "m",
                Schema::new(SchemaType::Map(
                    Box::new(Schema::string()),
                    Box::new(Schema::string().optional()),
                )),
            ),
            Field::new(
                "e",
                Schema::new(SchemaType::Map(
                    Box::new(Schema::int32()),
                    Box::new(Schema::string()),
                ))
                .optional(),
            ),
            Field::new("a", Schema::array(Schema::int64().optional())),
        ],
    );
    let text = connect_to_avro_string(&s, A, A).unwrap();
    assert!(
        text.contains(r#"{"name":"m","type":{"type":"map","values":["null","string"]}}"#),
        "{text}"
    );
    assert!(text.contains(r#"{"name":"e","type":["null",{"type":"array","items":{"type":"record","name":"MapEntry","namespace":"io.confluent.connect.avro","fields":[{"name":"key","type":"int"},{"name":"value","type":"string"}]}}],"default":null}"#), "{text}");
    assert!(
        text.contains(r#"{"name":"a","type":{"type":"array","items":["null","long"]}}"#),
        "{text}"
    );
    parses(&text);
}

#[test]
fn two_different_structs_with_one_name_are_refused() {
    let s = Schema::structure(
        "x.Row",
        vec![
            Field::new(
                "p",
                Schema::structure("x.Inner", vec![Field::new("a", Schema::int32())]),
            ),
            Field::new(
                "q",
                Schema::structure("x.Inner", vec![Field::new("b", Schema::int32())]).optional(),
            ),
        ],
    );
    let err = connect_to_avro_string(&s, A, A).unwrap_err();
    assert_eq!(
        err,
        AvroSchemaError::Conflict {
            name: "x.Inner".into()
        }
    );
}

#[test]
fn names_are_adjusted_for_avro() {
    let t = table(
        "my-db.public.order lines",
        vec![Field::new("line id", Schema::int32())],
        vec![
            Field::new("line id", Schema::int32()),
            Field::new("unit price", decimal(2, Some(10))),
            Field::new("first_name", Schema::string()),
        ],
    );
    let avro = table_avro(&t, A, A).unwrap();
    let v: serde_json::Value = serde_json::from_str(&avro.value).unwrap();
    assert_eq!(v["name"], "Envelope");
    assert_eq!(v["namespace"], "my_db.public.order_lines");
    assert_eq!(v["connect.name"], "my_db.public.order_lines.Envelope");
    let row = &v["fields"][0]["type"][1];
    assert_eq!(row["connect.name"], "my_db.public.order_lines.Value");
    assert_eq!(row["fields"][0]["name"], "line_id");
    assert_eq!(row["fields"][1]["name"], "unit_price");
    let key: serde_json::Value = serde_json::from_str(avro.key.as_deref().unwrap()).unwrap();
    assert_eq!(key["namespace"], "my_db.public.order_lines");
    assert_eq!(key["fields"][0]["name"], "line_id");
    parses(&avro.value);

    // avro_unicode escapes `_` in column names, but not in Debezium's own fields.
    let u = NameAdjustment::AvroUnicode;
    let avro = table_avro(&t, u, u).unwrap();
    let v: serde_json::Value = serde_json::from_str(&avro.value).unwrap();
    assert_eq!(v["namespace"], "my_u002ddb.public.order_u0020lines");
    let row = &v["fields"][0]["type"][1];
    assert_eq!(row["fields"][2]["name"], "first_u005fname");
    assert_eq!(v["fields"][5]["name"], "ts_ms");
    assert_eq!(
        v["fields"][3]["type"][1]["fields"][1]["name"],
        "total_order"
    );
    parses(&avro.value);

    // Schema names and field names adjust independently.
    let avro = table_avro(&t, A, NameAdjustment::None);
    assert!(
        matches!(avro, Err(AvroSchemaError::Invalid { .. })),
        "{avro:?}"
    );
}

#[test]
fn unadjusted_invalid_names_are_reported_with_a_hint() {
    let t = table(
        "my-db.public.orders",
        vec![],
        vec![Field::new("id", Schema::int32())],
    );
    let none = NameAdjustment::None;
    let err = table_avro(&t, none, none).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("my-db.public.orders.Envelope is not valid Avro"),
        "{msg}"
    );
    assert!(msg.contains("HINT"), "{msg}");
}

#[test]
fn adjusted_names_that_collide_are_refused() {
    let t = table(
        "cdc.public.t",
        vec![],
        vec![
            Field::new("a-b", Schema::int32()),
            Field::new("a_b", Schema::int32()),
        ],
    );
    let err = table_avro(&t, A, A).unwrap_err();
    assert_eq!(
        err,
        AvroSchemaError::DuplicateField {
            record: "cdc.public.t.Value".into(),
            field: "a_b".into()
        }
    );
}

#[test]
fn a_table_without_key_has_no_key_schema() {
    let t = table(
        "cdc.public.log",
        vec![],
        vec![Field::new("msg", Schema::string())],
    );
    let avro = table_avro(&t, A, A).unwrap();
    assert_eq!(avro.key, None);
    parses(&avro.value);
}

#[test]
fn every_postgres_type_schema_parses_as_avro() {
    let mut columns = Vec::new();
    for (i, (ty, schema)) in postgres_type_schemas().into_iter().enumerate() {
        // Alone, required and optional.
        for s in [schema.clone(), schema.clone().optional()] {
            let text = connect_to_avro_string(&s, A, A).unwrap_or_else(|e| panic!("{ty}: {e}"));
            parses(&text);
        }
        // In a row: required, optional, and as an array of optional elements (as arrays
        // of the type map).
        columns.push(Field::new(format!("c{i}"), schema.clone()));
        columns.push(Field::new(format!("o{i}"), schema.clone().optional()));
        columns.push(Field::new(
            format!("a{i}"),
            Schema::array(schema.clone().optional()).optional(),
        ));
    }
    let t = table(
        "cdc.public.all_types",
        vec![Field::new("c2", Schema::int32())],
        columns,
    );
    let avro = table_avro(&t, A, A).unwrap();
    parses(avro.key.as_deref().unwrap());
    parses(&avro.value);
}

#[test]
fn transaction_metadata_and_heartbeat_schemas_are_debeziums() {
    let (key, value) = transaction_metadata_schemas();
    assert_eq!(
        key,
        r#"{"type":"record","name":"TransactionMetadataKey","namespace":"io.debezium.connector.common","fields":[{"name":"id","type":"string"}],"connect.version":1,"connect.name":"io.debezium.connector.common.TransactionMetadataKey"}"#
    );
    assert_eq!(
        value,
        concat!(
            r#"{"type":"record","name":"TransactionMetadataValue","namespace":"io.debezium.connector.common","fields":["#,
            r#"{"name":"status","type":"string"},{"name":"id","type":"string"},"#,
            r#"{"name":"event_count","type":["null","long"],"default":null},"#,
            r#"{"name":"data_collections","type":["null",{"type":"array","items":["null",{"type":"record","name":"collection","namespace":"event","fields":[{"name":"data_collection","type":"string"},{"name":"event_count","type":"long"}],"connect.version":1,"connect.name":"event.collection"}]}],"default":null},"#,
            r#"{"name":"ts_ms","type":"long"}"#,
            r#"],"connect.version":1,"connect.name":"io.debezium.connector.common.TransactionMetadataValue"}"#
        )
    );
    parses(&key);
    parses(&value);
    let (key, value) = heartbeat_schemas();
    assert_eq!(
        key,
        r#"{"type":"record","name":"ServerNameKey","namespace":"io.debezium.connector.common","fields":[{"name":"serverName","type":"string"}],"connect.version":1,"connect.name":"io.debezium.connector.common.ServerNameKey"}"#
    );
    assert_eq!(
        value,
        r#"{"type":"record","name":"Heartbeat","namespace":"io.debezium.connector.common","fields":[{"name":"ts_ms","type":"long"}],"connect.version":1,"connect.name":"io.debezium.connector.common.Heartbeat"}"#
    );
    parses(&key);
    parses(&value);
}

#[test]
fn connect_to_avro_gives_the_same_schema_as_json() {
    let v = connect_to_avro(&decimal(3, Some(12)), A, A).unwrap();
    assert_eq!(v["type"], "bytes");
    assert_eq!(v["scale"], 3);
    assert_eq!(v["precision"], 12);
    assert_eq!(v["logicalType"], "decimal");
    assert_eq!(v["connect.parameters"]["connect.decimal.precision"], "12");
}

#[test]
fn strings_are_escaped_as_json() {
    let s = Schema::string()
        .named("x.Y")
        .param("allowed", "a\"b\\c\nd\u{1}");
    let text = connect_to_avro_string(&s, A, A).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["connect.parameters"]["allowed"], "a\"b\\c\nd\u{1}");
}
