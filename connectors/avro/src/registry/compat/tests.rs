use super::*;

fn parse(s: &str) -> Schema {
    Schema::parse_str(s).unwrap()
}

fn record(fields: &str) -> String {
    format!(r#"{{"type":"record","name":"Value","namespace":"cdc.public.t","fields":[{fields}]}}"#)
}

fn check_pair(level: CompatibilityLevel, old: &str, new: &str) -> Vec<String> {
    let (o, n) = (parse(old), parse(new));
    check(
        level,
        &n,
        &[Previous {
            version: 1,
            text: old,
            schema: &o,
        }],
    )
}

const ID: &str = r#"{"name":"id","type":"int"}"#;

#[test]
fn added_optional_field_with_null_default_is_backward_compatible() {
    let old = record(ID);
    let new = record(&format!(
        r#"{ID},{{"name":"note","type":["null","string"],"default":null}}"#
    ));
    assert!(check_pair(CompatibilityLevel::Backward, &old, &new).is_empty());
    assert!(check_pair(CompatibilityLevel::Full, &old, &new).is_empty());
}

#[test]
fn added_required_field_without_default_is_not_backward_compatible() {
    let old = record(ID);
    let new = record(&format!(r#"{ID},{{"name":"note","type":"string"}}"#));
    let msgs = check_pair(CompatibilityLevel::Backward, &old, &new);
    assert!(
        msgs[0].contains("READER_FIELD_MISSING_DEFAULT_VALUE"),
        "{msgs:?}"
    );
    assert!(msgs[0].contains("'note'"), "{msgs:?}");
    assert!(
        msgs.iter().any(|m| m == "{oldSchemaVersion: 1}"),
        "{msgs:?}"
    );
    assert_eq!(msgs.last().unwrap(), "{compatibility: 'BACKWARD'}");
    // Old readers ignore the new field: FORWARD accepts it, NONE accepts anything.
    assert!(check_pair(CompatibilityLevel::Forward, &old, &new).is_empty());
    assert!(check_pair(CompatibilityLevel::None, &old, &new).is_empty());
    assert!(!check_pair(CompatibilityLevel::Full, &old, &new).is_empty());
}

#[test]
fn removed_field_without_default_breaks_forward_only() {
    let old = record(&format!(r#"{ID},{{"name":"note","type":"string"}}"#));
    let new = record(ID);
    assert!(check_pair(CompatibilityLevel::Backward, &old, &new).is_empty());
    let msgs = check_pair(CompatibilityLevel::Forward, &old, &new);
    assert!(
        msgs[0].contains("in the old schema has no default"),
        "{msgs:?}"
    );
}

#[test]
fn int_promotes_to_long_but_not_back() {
    let int = record(ID);
    let long = record(r#"{"name":"id","type":"long"}"#);
    assert!(check_pair(CompatibilityLevel::Backward, &int, &long).is_empty());
    let msgs = check_pair(CompatibilityLevel::Backward, &long, &int);
    assert!(msgs[0].contains("TYPE_MISMATCH"), "{msgs:?}");
    assert!(msgs[0].contains("/fields/id"), "{msgs:?}");
    assert!(
        msgs[0].contains("reader type: Int not compatible with writer type: Long"),
        "{msgs:?}"
    );
}

#[test]
fn union_losing_a_branch_is_incompatible_and_gaining_one_is_fine() {
    let two = record(r#"{"name":"v","type":["null","int","string"]}"#);
    let one = record(r#"{"name":"v","type":["null","int"]}"#);
    assert!(check_pair(CompatibilityLevel::Backward, &one, &two).is_empty());
    let msgs = check_pair(CompatibilityLevel::Backward, &two, &one);
    assert!(msgs[0].contains("MISSING_UNION_BRANCH"), "{msgs:?}");
    assert!(msgs[0].contains("'/fields/v'"), "{msgs:?}");
    assert!(msgs[0].contains("lacking writer type: STRING"), "{msgs:?}");
}

#[test]
fn enum_losing_a_symbol_is_incompatible() {
    let abc = r#"{"type":"enum","name":"E","symbols":["A","B","C"]}"#;
    let ab = r#"{"type":"enum","name":"E","symbols":["A","B"]}"#;
    assert!(check_pair(CompatibilityLevel::Backward, ab, abc).is_empty());
    let msgs = check_pair(CompatibilityLevel::Backward, abc, ab);
    assert!(msgs[0].contains("MISSING_ENUM_SYMBOLS"), "{msgs:?}");
    assert!(msgs[0].contains("additionalInfo:'[C]'"), "{msgs:?}");
}

#[test]
fn renamed_record_is_incompatible() {
    let a = r#"{"type":"record","name":"A","fields":[]}"#;
    let b = r#"{"type":"record","name":"B","fields":[]}"#;
    let msgs = check_pair(CompatibilityLevel::Backward, a, b);
    assert!(msgs[0].contains("NAME_MISMATCH"), "{msgs:?}");
}

#[test]
fn transitive_levels_check_every_version_and_plain_levels_only_the_latest() {
    // v1 has a required field, v2 dropped it, v3 adds it back without default:
    // v3 can read v2? No ("x" missing, no default). Make v3 add it back *with* a
    // default so it can read v2 but has a different type than v1's.
    let v1 = record(&format!(r#"{ID},{{"name":"x","type":"string"}}"#));
    let v2 = record(ID);
    let v3 = record(&format!(r#"{ID},{{"name":"x","type":"int","default":0}}"#));
    let (s1, s2, s3) = (parse(&v1), parse(&v2), parse(&v3));
    let previous = [
        Previous {
            version: 1,
            text: &v1,
            schema: &s1,
        },
        Previous {
            version: 2,
            text: &v2,
            schema: &s2,
        },
    ];
    assert!(check(CompatibilityLevel::Backward, &s3, &previous).is_empty());
    let msgs = check(CompatibilityLevel::BackwardTransitive, &s3, &previous);
    assert!(
        msgs.iter().any(|m| m == "{oldSchemaVersion: 1}"),
        "{msgs:?}"
    );
    assert!(
        !msgs.iter().any(|m| m == "{oldSchemaVersion: 2}"),
        "{msgs:?}"
    );
}

/// Debezium's envelope defines `Value` in `before` and refers to it by name in `after`:
/// a change of `Value` must still be seen.
fn envelope(value_fields: &str) -> String {
    format!(
        r#"{{"type":"record","name":"Envelope","namespace":"cdc.public.t","fields":[
            {{"name":"before","type":["null",{{"type":"record","name":"Value","fields":[{value_fields}]}}],"default":null}},
            {{"name":"after","type":["null","Value"],"default":null}},
            {{"name":"op","type":"string"}}]}}"#
    )
}

#[test]
fn debezium_envelope_evolves_like_its_value_record() {
    let old = envelope(ID);
    let optional = envelope(&format!(
        r#"{ID},{{"name":"note","type":["null","string"],"default":null}}"#
    ));
    let required = envelope(&format!(r#"{ID},{{"name":"note","type":"string"}}"#));
    assert!(check_pair(CompatibilityLevel::Backward, &old, &optional).is_empty());
    let msgs = check_pair(CompatibilityLevel::Backward, &old, &required);
    assert!(!msgs.is_empty());
    assert!(
        msgs[0].starts_with("{errorType:'READER_FIELD_MISSING_DEFAULT_VALUE'"),
        "{msgs:?}"
    );
    assert!(msgs[0].contains("'/fields/before/fields/note'"), "{msgs:?}");

    let retyped = envelope(r#"{"name":"id","type":"string"}"#);
    let msgs = check_pair(CompatibilityLevel::Backward, &old, &retyped);
    assert!(msgs[0].contains("TYPE_MISMATCH"), "{msgs:?}");
    assert!(msgs[0].contains("'/fields/before/fields/id'"), "{msgs:?}");
    assert!(
        msgs[0].contains("reader type: String not compatible with writer type: Int"),
        "{msgs:?}"
    );
}

#[test]
fn levels_parse_case_insensitively_and_print_upper_case() {
    assert_eq!(
        "full_transitive".parse::<CompatibilityLevel>().unwrap(),
        CompatibilityLevel::FullTransitive
    );
    assert_eq!(CompatibilityLevel::default().to_string(), "BACKWARD");
    assert!("SOMETIMES".parse::<CompatibilityLevel>().is_err());
    for l in CompatibilityLevel::ALL {
        assert_eq!(l.as_str().parse::<CompatibilityLevel>().unwrap(), l);
    }
}
