//! Store operations and their persistence across reopen.

use super::*;

fn rec(fields: &str) -> String {
    format!(r#"{{"type":"record","name":"Value","fields":[{fields}]}}"#)
}

fn v1() -> String {
    rec(r#"{"name":"id","type":"int"}"#)
}

fn v2() -> String {
    rec(r#"{"name":"id","type":"int"},{"name":"note","type":["null","string"],"default":null}"#)
}

#[test]
fn registrations_survive_reopen_with_the_same_ids_and_versions() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    assert_eq!(store.register("a-value", &v1()).unwrap(), 1);
    assert_eq!(store.register("a-value", &v2()).unwrap(), 2);
    assert_eq!(
        store.register("b-value", &v1()).unwrap(),
        1,
        "same schema, same id"
    );
    store
        .set_level(Some("a-value"), Some(CompatibilityLevel::Full))
        .unwrap();
    drop(store);

    let mut store = Store::open(dir.path()).unwrap();
    assert_eq!(store.versions("a-value", false).unwrap(), vec![1, 2]);
    assert_eq!(
        store
            .version("a-value", VersionSpec::Latest, false)
            .unwrap()
            .id,
        2
    );
    assert_eq!(
        store
            .version("b-value", VersionSpec::Number(1), false)
            .unwrap()
            .id,
        1
    );
    assert_eq!(store.schema(2).unwrap(), v2());
    assert_eq!(
        store.subject_level("a-value"),
        Some(CompatibilityLevel::Full)
    );
    assert_eq!(
        store.schema_versions(1, false).unwrap(),
        vec![("a-value".into(), 1), ("b-value".into(), 1)]
    );
    // The next new schema gets the next id.
    let v3 = rec(r#"{"name":"id","type":"int"},{"name":"x","type":"long","default":0}"#);
    assert_eq!(store.register("c-value", &v3).unwrap(), 3);
}

#[test]
fn registering_the_same_schema_again_is_idempotent_whatever_its_formatting() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let id = store.register("s", &v1()).unwrap();
    let reformatted = r#"{ "fields": [ {"type": {"type":"int"}, "name": "id"} ], "name": "Value", "type": "record" }"#;
    assert_eq!(store.register("s", reformatted).unwrap(), id);
    assert_eq!(store.versions("s", false).unwrap(), vec![1]);
    // The text first registered is what comes back.
    assert_eq!(store.schema(id).unwrap(), v1());
    let found = store.lookup("s", reformatted, false).unwrap();
    assert_eq!((found.id, found.version), (id, 1));
}

#[test]
fn incompatible_change_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    store.register("s", &v1()).unwrap();
    let breaking = rec(r#"{"name":"id","type":"int"},{"name":"must","type":"string"}"#);
    let err = store.register("s", &breaking).unwrap_err();
    assert_eq!((err.status, err.code), (409, 409));
    assert!(err.message.contains("for subject \"s\""), "{}", err.message);
    assert!(
        err.message.contains("READER_FIELD_MISSING_DEFAULT_VALUE"),
        "{}",
        err.message
    );
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.versions("s", false).unwrap(), vec![1]);
}

#[test]
fn invalid_schema_and_version_get_confluent_codes() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let err = store.register("s", r#"{"type":"recordz"}"#).unwrap_err();
    assert_eq!((err.status, err.code), (422, 42201));
    assert!(err.message.starts_with("Invalid schema"), "{}", err.message);
    assert_eq!(VersionSpec::parse("0").unwrap_err().code, 42202);
    assert_eq!(VersionSpec::parse("x").unwrap_err().code, 42202);
    assert_eq!(VersionSpec::parse("-1").unwrap(), VersionSpec::Latest);
    assert_eq!(VersionSpec::parse("7").unwrap(), VersionSpec::Number(7));
}

#[test]
fn soft_then_hard_delete_and_numbers_are_never_reused() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    store.register("s", &v1()).unwrap();
    store.register("s", &v2()).unwrap();

    // Hard delete needs a soft delete first.
    assert_eq!(store.delete_subject("s", true).unwrap_err().code, 40405);
    assert_eq!(
        store
            .delete_version("s", VersionSpec::Number(2), true)
            .unwrap_err()
            .code,
        40407
    );

    assert_eq!(
        store
            .delete_version("s", VersionSpec::Latest, false)
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .delete_version("s", VersionSpec::Number(2), false)
            .unwrap_err()
            .code,
        40406
    );
    assert_eq!(store.versions("s", false).unwrap(), vec![1]);
    assert_eq!(store.versions("s", true).unwrap(), vec![1, 2]);
    assert_eq!(
        store
            .version("s", VersionSpec::Number(2), false)
            .unwrap_err()
            .code,
        40402
    );
    assert_eq!(
        store.version("s", VersionSpec::Number(2), true).unwrap().id,
        2
    );

    assert_eq!(store.delete_subject("s", false).unwrap(), vec![1]);
    assert_eq!(store.delete_subject("s", false).unwrap_err().code, 40404);
    assert!(store.subjects(false, false, "").is_empty());
    assert_eq!(store.subjects(true, false, ""), vec!["s".to_owned()]);
    assert_eq!(store.versions("s", false).unwrap_err().code, 40401);

    assert_eq!(store.delete_subject("s", true).unwrap(), vec![1, 2]);
    assert!(store.subjects(true, false, "").is_empty());
    assert_eq!(store.schema(1).unwrap_err().code, 40403);
    drop(store);

    // After a restart: neither id 1/2 nor version 1/2 come back.
    let mut store = Store::open(dir.path()).unwrap();
    assert_eq!(store.schema(2).unwrap_err().code, 40403);
    assert_eq!(store.register("s", &v1()).unwrap(), 3);
    assert_eq!(store.versions("s", false).unwrap(), vec![3]);
}

#[test]
fn a_soft_deleted_version_still_counts_for_its_id_but_not_for_compatibility() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    store.register("s", &v1()).unwrap();
    store
        .delete_version("s", VersionSpec::Number(1), false)
        .unwrap();
    // Nothing live: any schema is accepted, and v1 again is a new version with its old id.
    let other = rec(r#"{"name":"id","type":"string"}"#);
    assert_eq!(store.register("s", &other).unwrap(), 2);
    store
        .set_level(Some("s"), Some(CompatibilityLevel::None))
        .unwrap();
    assert_eq!(store.register("s", &v1()).unwrap(), 1);
    assert_eq!(store.versions("s", false).unwrap(), vec![2, 3]);
}

#[test]
fn compatibility_levels_resolve_subject_then_global_then_backward() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    assert_eq!(store.global_level(), CompatibilityLevel::Backward);
    store
        .set_level(None, Some(CompatibilityLevel::Forward))
        .unwrap();
    store.register("s", &v1()).unwrap();
    let breaking = rec(r#"{"name":"id","type":"int"},{"name":"must","type":"string"}"#);
    // FORWARD: old readers ignore the new field.
    assert!(
        store
            .test_compatibility("s", &breaking, None)
            .unwrap()
            .is_empty()
    );
    store
        .set_level(Some("s"), Some(CompatibilityLevel::Backward))
        .unwrap();
    assert!(
        !store
            .test_compatibility("s", &breaking, None)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.delete_subject_level("s").unwrap(),
        CompatibilityLevel::Backward
    );
    assert_eq!(store.delete_subject_level("s").unwrap_err().code, 40408);
    assert_eq!(store.delete_subject_level("nope").unwrap_err().code, 40401);
    // A subject with nothing registered is compatible with anything.
    assert!(
        store
            .test_compatibility("new", &breaking, Some(VersionSpec::Latest))
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .test_compatibility("new", &breaking, Some(VersionSpec::Number(1)))
            .unwrap_err()
            .code,
        40401
    );
}
