//! Unit tests: arrays and the registry-driven mapping (enums, domains, extension types).

use tributary_core::{Schema, SchemaType, Value};

use super::tests::{map, modes, numeric_typmod};
use super::*;

fn string(s: &str) -> Value {
    Value::String(s.to_string())
}

#[test]
fn arrays_parse_quotes_escapes_nulls_and_flatten_dimensions() {
    let m = modes();
    let ints = map(oid::INT4_ARRAY, -1, &m);
    assert_eq!(
        ints.schema.ty,
        SchemaType::Array(Box::new(Schema::int32().optional()))
    );
    let p = &ints.parser;
    assert_eq!(
        p.parse("{1,2,NULL}").unwrap(),
        Value::Array(vec![Value::Int32(1), Value::Int32(2), Value::Null])
    );
    assert_eq!(p.parse("{}").unwrap(), Value::Array(vec![]));
    assert_eq!(
        p.parse("{{1,2},{3,4}}").unwrap(),
        Value::Array((1..=4).map(Value::Int32).collect())
    );
    assert_eq!(
        p.parse("[0:1]={1,2}").unwrap(),
        Value::Array(vec![Value::Int32(1), Value::Int32(2)])
    );
    assert_eq!(
        p.parse("{ 1 , null }").unwrap(),
        Value::Array(vec![Value::Int32(1), Value::Null])
    );
    for bad in ["{1,2", "{1,}", "{,1}", "1,2", "{1}}", "{1} x", "{{1},2"] {
        assert!(p.parse(bad).is_err(), "{bad}");
    }
    let err = p.parse("{1,x}").unwrap_err();
    assert!(err.reason().contains("element 2 (integer)"), "{err}");

    let texts = map(oid::TEXT_ARRAY, -1, &m).parser;
    let parsed = texts
        .parse(r#"{"a,b","","NULL","x\"y","back\\slash"," sp ",plain,"{}",ünï}"#)
        .unwrap();
    let expected = [
        "a,b",
        "",
        "NULL",
        "x\"y",
        "back\\slash",
        " sp ",
        "plain",
        "{}",
        "ünï",
    ];
    assert_eq!(
        parsed,
        Value::Array(expected.iter().map(|s| string(s)).collect())
    );
    assert_eq!(
        texts.parse(r"{a\,b}").unwrap(),
        Value::Array(vec![string("a,b")])
    );

    let numerics = map(oid::NUMERIC_ARRAY, numeric_typmod(10, 2), &m);
    let SchemaType::Array(item) = &numerics.schema.ty else {
        panic!()
    };
    assert_eq!(item.parameters["scale"], "2");
    assert!(item.optional);
    assert_eq!(
        numerics.parser.parse("{1.5}").unwrap(),
        Value::Array(vec![Value::Bytes(vec![0x00, 0x96])])
    );
    let tz = map(1185, -1, &m).parser;
    assert_eq!(
        tz.parse(r#"{"2024-01-01 00:00:00+00"}"#).unwrap(),
        Value::Array(vec![string("2024-01-01T00:00:00.000000Z")])
    );
}

fn registry_with_user_types() -> TypeRegistry {
    let mut registry = TypeRegistry::new();
    let user = |oid, name: &str, kind| PgType {
        oid,
        name: name.to_string(),
        namespace: "public".to_string(),
        kind,
    };
    let labels = ["sad", "ok", "happy"].map(String::from).to_vec();
    registry.insert(user(90_000, "mood", PgTypeKind::Enum { labels }));
    registry.insert(user(90_001, "_mood", PgTypeKind::Array { element: 90_000 }));
    let price = PgTypeKind::Domain {
        base: oid::NUMERIC,
        base_typmod: numeric_typmod(10, 2),
    };
    registry.insert(user(90_002, "price", price));
    registry.insert(user(
        90_003,
        "_price",
        PgTypeKind::Array { element: 90_002 },
    ));
    let tags = PgTypeKind::Domain {
        base: oid::TEXT_ARRAY,
        base_typmod: -1,
    };
    registry.insert(user(90_004, "tags", tags));
    registry.insert(user(90_005, "citext", PgTypeKind::Base));
    registry.insert(user(90_006, "ltree", PgTypeKind::Base));
    registry.insert(user(
        90_007,
        "_ltree",
        PgTypeKind::Array { element: 90_006 },
    ));
    registry.insert(user(90_008, "point3d", PgTypeKind::Composite));
    for (oid, name) in [
        (90_010, "vector"),
        (90_011, "halfvec"),
        (90_012, "sparsevec"),
    ] {
        registry.insert(user(oid, name, PgTypeKind::Base));
    }
    let loop_domain = PgTypeKind::Domain {
        base: 90_009,
        base_typmod: -1,
    };
    registry.insert(user(90_009, "loop", loop_domain));
    registry
}

#[test]
fn registry_knows_builtins_and_maps_enums_domains_and_extension_types() {
    let registry = registry_with_user_types();
    let int4_array = registry.get(oid::INT4_ARRAY).unwrap();
    assert_eq!(int4_array.name, "_int4");
    assert_eq!(int4_array.kind, PgTypeKind::Array { element: oid::INT4 });
    assert_eq!(
        registry.get(oid::INT4RANGE).unwrap().kind,
        PgTypeKind::Range
    );
    let m = modes();
    let map = |oid| map_column(&registry, oid, -1, false, &m);

    let mood = map(90_000);
    assert_eq!(mood.schema.name.as_deref(), Some("io.debezium.data.Enum"));
    assert_eq!(mood.schema.parameters["allowed"], "sad,ok,happy");
    assert!(!mood.schema.optional && !mood.unknown);
    assert_eq!(mood.parser.parse("happy").unwrap(), string("happy"));
    let moods = map(90_001);
    assert_eq!(
        moods.parser.parse("{sad,ok}").unwrap(),
        Value::Array(vec![string("sad"), string("ok")])
    );

    let price = map(90_002);
    assert_eq!(price.schema.parameters["connect.decimal.precision"], "10");
    assert_eq!(
        price.parser.parse("1.5").unwrap(),
        Value::Bytes(vec![0x00, 0x96])
    );
    assert!(
        matches!(&map(90_003).schema.ty, SchemaType::Array(item) if item.parameters["scale"] == "2")
    );
    assert_eq!(
        map(90_004).parser.parse("{a}").unwrap(),
        Value::Array(vec![string("a")])
    );

    assert_eq!(map(90_005).schema, Schema::string());
    assert_eq!(
        map(90_006).schema.name.as_deref(),
        Some("io.debezium.data.Ltree")
    );
    assert!(
        matches!(&map(90_007).schema.ty, SchemaType::Array(i) if i.name.as_deref() == Some("io.debezium.data.Ltree"))
    );
    // pgvector, by name wherever the extension lives (Debezium's `VectorDatabaseIT`).
    let vector = map(90_010);
    assert_eq!(
        vector.schema,
        Schema::array(Schema::float64())
            .named("io.debezium.data.DoubleVector")
            .versioned(1)
    );
    assert_eq!(
        vector.parser.parse("[1,2,3]").unwrap(),
        Value::Array(vec![
            Value::Float64(1.0),
            Value::Float64(2.0),
            Value::Float64(3.0)
        ])
    );
    assert_eq!(
        map(90_011).schema.name.as_deref(),
        Some("io.debezium.data.FloatVector")
    );
    let sparse = map(90_012);
    assert_eq!(
        sparse.schema.name.as_deref(),
        Some("io.debezium.data.SparseDoubleVector")
    );
    assert_eq!(sparse.schema.doc.as_deref(), Some("Sparse double vector"));
    assert!(
        matches!(&sparse.parser.parse("{1:201,9:209}/3000").unwrap(), Value::Struct(f) if f[0] == Value::Int16(3000))
    );

    // Unmapped types: left out of events unless include.unknown.datatypes, which writes
    // their text's bytes (pgjdbc's Java doubles for the geometric types).
    for unknown in [90_008, 90_009, 123_456, 4451] {
        let mapping = map(unknown);
        assert!(mapping.unknown, "{unknown}");
        assert_eq!(mapping.schema, Schema::bytes());
        assert_eq!(
            mapping.parser.parse("(1,2)").unwrap(),
            Value::Bytes(b"(1,2)".to_vec())
        );
    }
    let boxed = map(603);
    assert!(boxed.unknown);
    assert_eq!(
        boxed.parser.parse("(1,1),(0,-2.5)").unwrap(),
        Value::Bytes(b"(1.0,1.0),(0.0,-2.5)".to_vec())
    );
    assert_eq!(
        map(3614).schema.name.as_deref(),
        Some("io.debezium.data.Tsvector")
    );
    assert_eq!(
        map(600).schema.name.as_deref(),
        Some("io.debezium.data.geometry.Point")
    );
    let range = map(oid::INT4RANGE);
    assert!(!range.unknown);
    assert_eq!(range.parser.parse("[1,5)").unwrap(), string("[1,5)"));
    assert!(
        map(1017).unknown,
        "arrays of unmapped types are unknown as a whole"
    );
}
