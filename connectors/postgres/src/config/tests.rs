use super::*;
use serde_json::json;

fn parse(config: serde_json::Value) -> Result<PostgresConnectorConfig, ConfigErrors> {
    PostgresConnectorConfig::from_connector_json(&json!({"name": "inventory", "config": config}))
}

fn base() -> serde_json::Value {
    json!({
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "database.hostname": "localhost",
        "database.port": "5432",
        "database.user": "postgres",
        "database.password": "secret",
        "database.dbname": "inventory",
        "topic.prefix": "cdc",
        "plugin.name": "pgoutput",
        "tasks.max": 1,
    })
}

fn fields(err: ConfigErrors) -> Vec<String> {
    err.0.into_iter().map(|e| e.field).collect()
}

/// The properties `config` is refused for, sorted, and the whole message.
fn refused(config: serde_json::Value) -> (Vec<String>, String) {
    let err = parse(config).unwrap_err();
    let msg = err.to_string();
    let mut fields = fields(err);
    fields.sort();
    (fields, msg)
}

#[test]
fn a_debezium_config_is_accepted_as_it_is() {
    let c = parse(base()).unwrap();
    assert_eq!(c.connect.port, 5432);
    assert_eq!(c.slot_name, "debezium");
    assert_eq!(c.publication_name, "dbz_publication");
    assert_eq!(c.snapshot_mode, SnapshotMode::Initial);
    assert!(c.skipped_operations.contains(&Op::Truncate));
    assert!(c.tombstones_on_delete);
    assert_eq!(format!("{:?}", c.connect.password), "********");
    assert_eq!(c.topic_for(&TableId::new("public", "t")), "cdc.public.t");
}

#[test]
fn a_missing_topic_prefix_is_named() {
    let mut c = base();
    c.as_object_mut().unwrap().remove("topic.prefix");
    assert_eq!(fields(parse(c).unwrap_err()), ["topic.prefix"]);
}

#[test]
fn unknown_and_malformed_properties_are_each_named() {
    let mut c = base();
    let o = c.as_object_mut().unwrap();
    o.insert("databse.hostname".into(), json!("x"));
    o.insert("database.port".into(), json!("eighty"));
    o.insert("plugin.name".into(), json!("wal2json"));
    o.insert("snapshot.mode".into(), json!("sometimes"));
    o.insert("table.include.list".into(), json!("public.(orders"));
    o.insert("skipped.operations".into(), json!("c,x"));
    o.insert("decimal.handling.mode".into(), json!("float"));
    let err = parse(c).unwrap_err();
    let mut f = fields(err.clone());
    f.sort();
    assert_eq!(
        f,
        [
            "database.port",
            "databse.hostname",
            "decimal.handling.mode",
            "plugin.name",
            "skipped.operations",
            "snapshot.mode",
            "table.include.list"
        ]
    );
    let text = err.to_string();
    assert!(text.contains("only pgoutput"), "{text}");
    assert!(text.contains("initial, always"), "{text}");
}

#[test]
fn message_prefix_lists_select_prefixes_and_cannot_be_combined() {
    let mut c = base();
    c["message.prefix.include.list"] = json!("keep\\..*,outbox");
    let parsed = parse(c.clone()).unwrap();
    assert!(parsed.message_prefixes.accepts("KEEP.a"));
    assert!(parsed.message_prefixes.accepts("Outbox"));
    assert!(!parsed.message_prefixes.accepts("outbox2"));
    c["message.prefix.exclude.list"] = json!("noise");
    assert_eq!(
        fields(parse(c).unwrap_err()),
        ["message.prefix.exclude.list"]
    );
}

#[test]
fn include_and_exclude_lists_cannot_be_combined() {
    let mut c = base();
    let o = c.as_object_mut().unwrap();
    o.insert("table.include.list".into(), json!("public.a"));
    o.insert("table.exclude.list".into(), json!("public.b"));
    assert_eq!(fields(parse(c).unwrap_err()), ["table.exclude.list"]);
}

#[test]
fn filters_match_whole_identifiers() {
    let mut c = base();
    let o = c.as_object_mut().unwrap();
    o.insert("table.include.list".into(), json!("public.orders,inv\\..*"));
    o.insert("column.exclude.list".into(), json!("public.orders.secret"));
    o.insert(
        "message.key.columns".into(),
        json!("public.orders:a,b;inv.*:id"),
    );
    o.insert("skipped.operations".into(), json!("none"));
    let c = parse(c).unwrap();
    let orders = TableId::new("public", "orders");
    assert!(c.filters.accepts_table(&orders));
    assert!(!c.filters.accepts_table(&TableId::new("public", "orders2")));
    assert!(c.filters.accepts_table(&TableId::new("inv", "items")));
    assert!(
        !c.filters
            .accepts_table(&TableId::new("pg_catalog", "pg_class"))
    );
    assert!(!c.filters.accepts_column(&orders, "secret"));
    assert!(c.filters.accepts_column(&orders, "secretive"));
    assert!(c.message_prefixes.accepts("anything"));
    // Regardless of case, as Debezium matches them.
    assert!(c.filters.accepts_table(&TableId::new("Public", "ORDERS")));
    assert!(c.filters.accepts_table(&TableId::new("INV", "Items")));
    assert!(!c.filters.accepts_column(&orders, "Secret"));
    assert_eq!(c.key_columns.for_table(&orders).unwrap(), ["a", "b"]);
    assert_eq!(
        c.key_columns.for_table(&TableId::new("inv", "x")).unwrap(),
        ["id"]
    );
    assert!(c.skipped_operations.is_empty());
}

#[test]
fn every_property_set_to_its_default_parses_as_if_unset() {
    let mut c = base();
    let o = c.as_object_mut().unwrap();
    for p in PROPERTIES {
        if let Some(default) = p.default {
            o.insert(p.name.into(), json!(default));
        }
    }
    let normalize = |mut c: PostgresConnectorConfig| {
        c.raw.clear();
        let mut ops: Vec<String> = c
            .skipped_operations
            .drain()
            .map(|o| format!("{o:?}"))
            .collect();
        ops.sort();
        (format!("{c:?}"), ops)
    };
    assert_eq!(
        normalize(parse(c).unwrap()),
        normalize(parse(base()).unwrap())
    );
}

#[test]
fn property_definitions_are_unique_and_speak_kafka_connects_names() {
    let mut names: Vec<&str> = PROPERTIES.iter().map(|p| p.name).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), PROPERTIES.len(), "a property is defined twice");
    let required: Vec<&str> = PROPERTIES
        .iter()
        .filter(|p| p.required)
        .map(|p| p.name)
        .collect();
    assert_eq!(
        required,
        [
            "database.hostname",
            "database.user",
            "database.dbname",
            "topic.prefix"
        ]
    );
    for p in PROPERTIES {
        assert!(
            !p.documentation.is_empty() && !p.group.is_empty(),
            "{}",
            p.name
        );
        assert!(!(p.required && p.default.is_some()), "{}", p.name);
    }
    let password = property("database.password").unwrap();
    assert_eq!(password.kind.as_str(), "PASSWORD");
    assert_eq!(password.importance.as_str(), "HIGH");
    assert_eq!(
        property("table.include.list").unwrap().kind.as_str(),
        "LIST"
    );
    assert_eq!(property("database.port").unwrap().default, Some("5432"));
    assert!(property("databse.hostname").is_none());
}

#[test]
fn publication_drop_on_delete_is_off_unless_asked_for() {
    assert!(!parse(base()).unwrap().publication_drop_on_delete);
    let mut c = base();
    let o = c.as_object_mut().unwrap();
    o.insert("publication.drop.on.delete".into(), json!(true));
    o.insert("slot.drop.on.stop".into(), json!("true"));
    let c = parse(c).unwrap();
    assert!(c.publication_drop_on_delete);
    assert!(c.slot_drop_on_stop);
    let mut bad = base();
    bad.as_object_mut()
        .unwrap()
        .insert("publication.drop.on.delete".into(), json!("yes"));
    assert_eq!(
        fields(parse(bad).unwrap_err()),
        ["publication.drop.on.delete"]
    );
}

#[test]
fn debezium_properties_of_its_jvm_are_accepted_with_a_warning() {
    let mut config = base();
    config["memory.management.tables.class"] = json!("io.debezium.relational.X");
    config["snapshot.lock.timeout.ms"] = json!("10000");
    let c = parse(config).unwrap();
    let warned: Vec<&str> = c.warnings.iter().map(|w| w.field.as_str()).collect();
    assert_eq!(
        warned,
        ["memory.management.tables.class", "snapshot.lock.timeout.ms"]
    );
    assert!(c.warnings[1].message.contains("takes no table locks"));
}

#[test]
fn queue_and_batch_sizes_are_read_and_checked_as_debezium_checks_them() {
    let c = parse(base()).unwrap();
    assert_eq!(
        (
            c.queue.max_events,
            c.queue.max_batch,
            c.queue.max_bytes,
            c.queue.snapshot_fetch
        ),
        (8192, 2048, 0, 10_240),
        "Debezium's defaults"
    );
    assert_eq!(c.retriable_restart_wait, None);
    let mut config = base();
    config["max.batch.size"] = json!("100");
    config["max.queue.size"] = json!("101");
    config["max.queue.size.in.bytes"] = json!("1048576");
    config["snapshot.fetch.size"] = json!("0");
    config["retriable.restart.connector.wait.ms"] = json!("2500");
    let c = parse(config).unwrap();
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    let limits = c.queue.limits();
    assert_eq!(
        (limits.max_items, limits.batch, limits.max_bytes),
        (101, 100, 1 << 20)
    );
    assert_eq!(
        c.queue.snapshot_fetch, 10_240,
        "0 is the default, as in JDBC"
    );
    assert_eq!(c.retriable_restart_wait, Some(Duration::from_millis(2500)));

    // Debezium's validateMaxQueueSize: the queue must be larger than a batch.
    let mut config = base();
    config["max.queue.size"] = json!("2048");
    let (fields, msg) = refused(config);
    assert_eq!(fields, ["max.queue.size"]);
    assert!(msg.contains("larger than max.batch.size (2048)"), "{msg}");
    let mut config = base();
    config["max.batch.size"] = json!("0");
    config["max.queue.size.in.bytes"] = json!("-1");
    config["retriable.restart.connector.wait.ms"] = json!("0");
    let (fields, _) = refused(config);
    assert_eq!(
        fields,
        [
            "max.batch.size",
            "max.queue.size.in.bytes",
            "retriable.restart.connector.wait.ms"
        ]
    );
}

#[test]
fn debezium_properties_at_their_defaults_are_accepted_and_others_refused_with_why() {
    let mut config = base();
    config["snapshot.locking.mode"] = json!("none");
    config["topic.naming.strategy"] = json!("io.debezium.schema.DefaultTopicNamingStrategy");
    config["column.mask.with.10.chars"] = json!("");
    let c = parse(config).unwrap();
    assert!(c.warnings.is_empty());

    let mut config = base();
    config["snapshot.locking.mode"] = json!("shared");
    config["publish.via.partition.root"] = json!("yes");
    config["sourceinfo.struct.maker"] = json!("com.example.Maker");
    let err = parse(config).unwrap_err();
    let msg = err.to_string();
    assert_eq!(
        fields(err),
        [
            "snapshot.locking.mode",
            "sourceinfo.struct.maker",
            "publish.via.partition.root"
        ]
    );
    assert!(msg.contains("\"shared\" cannot be honoured"), "{msg}");
    assert!(msg.contains("Java class"), "{msg}");
}

#[test]
fn column_mappers_are_parsed_and_a_bad_one_is_refused_naming_it() {
    let mut config = base();
    config["column.mask.with.10.chars"] = json!("public.users.email");
    config["column.mask.hash.v2.SHA-256.with.salt.s3cr3t"] = json!("public.users.name");
    config["column.propagate.source.type"] = json!(".*");
    let c = parse(config).unwrap();
    assert!(c.warnings.is_empty());
    assert!(!c.column_mappers.is_empty());

    let mut config = base();
    config["column.mask.hash.MD2.with.salt.x"] = json!("public.users.email");
    config["column.truncate.to.ten.chars"] = json!("public.users.email");
    config["column.mask.with.3.chars"] = json!("public.users.(");
    let (refused, msg) = refused(config);
    assert_eq!(
        refused,
        [
            "column.mask.hash.MD2.with.salt.x",
            "column.mask.with.3.chars",
            "column.truncate.to.ten.chars"
        ]
    );
    assert!(msg.contains("SHA-256"), "{msg}");
    assert!(msg.contains("regular expression"), "{msg}");
}

#[test]
fn client_certificate_files_are_checked_when_the_config_is_read() {
    let mut config = base();
    config["database.sslkey"] = json!("/nonexistent/client.pk8");
    let err = parse(config).unwrap_err();
    assert_eq!(fields(err), ["database.sslcert"]);

    let mut config = base();
    config["database.sslcert"] = json!("/nonexistent/client.crt");
    config["database.sslkey"] = json!("/nonexistent/client.pk8");
    let err = parse(config).unwrap_err();
    let msg = err.to_string();
    assert_eq!(fields(err), ["database.sslcert"]);
    assert!(msg.contains("/nonexistent/client.crt"), "{msg}");

    // The passphrase is a password property: never shown.
    let mut config = base();
    config["database.sslpassword"] = json!("secret");
    let c = parse(config).unwrap();
    assert_eq!(c.connect.sslpassword.expose(), "secret");
    assert!(!format!("{:?}", c.connect).contains("secret"));
}

#[test]
fn snapshot_overrides_need_a_statement_per_listed_table_and_a_listing_per_statement() {
    let mut config = base();
    config["snapshot.select.statement.overrides"] = json!("public.orders, public.users");
    config["snapshot.select.statement.overrides.public.orders"] =
        json!("SELECT * FROM public.orders WHERE NOT archived;");
    config["snapshot.select.statement.overrides.public.items"] = json!("SELECT * FROM items");
    config["snapshot.include.collection.list"] = json!("public\\.(orders|users)");
    let (refused, msg) = refused(config.clone());
    assert_eq!(
        refused,
        [
            "snapshot.select.statement.overrides",
            "snapshot.select.statement.overrides.public.items"
        ]
    );
    assert!(
        msg.contains("snapshot.select.statement.overrides.public.users is not set"),
        "{msg}"
    );

    config
        .as_object_mut()
        .unwrap()
        .remove("snapshot.select.statement.overrides.public.items");
    config["snapshot.select.statement.overrides"] = json!("public.orders");
    let c = parse(config).unwrap();
    assert_eq!(
        c.snapshot_overrides["public.orders"],
        "SELECT * FROM public.orders WHERE NOT archived"
    );
    assert!(c.snapshots(&TableId::new("public", "ORDERS")));
    assert!(!c.snapshots(&TableId::new("public", "items")));
}

#[test]
fn a_typo_is_refused_naming_the_closest_property() {
    let mut config = base();
    config["snapshot.mdoe"] = json!("initial");
    config["completely.unrelated.thing"] = json!("1");
    let err = parse(config).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("did you mean snapshot.mode?"), "{msg}");
    assert!(msg.contains("check its spelling"), "{msg}");
}

#[test]
fn failure_handling_modes_read_debezium_values_and_refuse_others() {
    let c = parse(base()).unwrap();
    assert_eq!(c.converting_failure, ConvertingFailure::Warn);
    assert_eq!(c.processing_failure, ProcessingFailure::Fail);

    let mut config = base();
    config["event.converting.failure.handling.mode"] = json!("FAIL");
    config["event.processing.failure.handling.mode"] = json!(" ignore");
    let c = parse(config).unwrap();
    assert_eq!(c.converting_failure, ConvertingFailure::Fail);
    assert_eq!(c.processing_failure, ProcessingFailure::Ignore);

    let mut config = base();
    config["event.converting.failure.handling.mode"] = json!("ignore");
    config["event.processing.failure.handling.mode"] = json!("retry");
    let (refused, msg) = refused(config);
    assert_eq!(
        refused,
        [
            "event.converting.failure.handling.mode",
            "event.processing.failure.handling.mode"
        ]
    );
    assert!(msg.contains("fail, warn, skip, ignore"), "{msg}");
}

#[test]
fn the_column_reselector_is_read_in_both_conventions_and_nothing_else_is_taken() {
    let mut config = base();
    config["post.processors"] = json!("reselector");
    config["post.processors.reselector.type"] = json!(RESELECTOR_CLASS);
    config["post.processors.reselector.reselect.columns.include.list"] =
        json!("public\\.orders:(notes|body)");
    config["post.processors.reselector.reselect.null.values"] = json!("false");
    config["post.processors.reselector.reselect.error.handling.mode"] = json!("FAIL");
    let c = parse(config).unwrap();
    let [r] = &c.reselectors[..] else {
        panic!("{:?}", c.reselectors)
    };
    assert_eq!(r.name, "reselector");
    assert!(r.columns.accepts("PUBLIC.orders:Notes"));
    assert!(!r.columns.accepts("public.orders:id"));
    assert!(r.unavailable_values && !r.null_values && !r.use_event_key && r.fail_on_error);

    // Debezium's older convention: options under the name alone.
    let mut config = base();
    config["post.processors"] = json!("old");
    config["old.type"] = json!(RESELECTOR_CLASS);
    config["old.reselect.use.event.key"] = json!("true");
    let c = parse(config).unwrap();
    assert!(c.reselectors[0].use_event_key);
    assert!(c.reselectors[0].columns.accepts("any.table:any"));

    // Another class, an unknown option, an unlisted processor, a listed one without its
    // type, and both column lists: each names its property.
    let mut config = base();
    config["post.processors"] = json!("custom, untyped, both");
    config["post.processors.custom.type"] = json!("com.acme.Enricher");
    config["post.processors.untyped.reselect.null.values"] = json!("true");
    config["post.processors.both.type"] = json!(RESELECTOR_CLASS);
    config["post.processors.both.reselect.columns.include.list"] = json!("a");
    config["post.processors.both.reselect.columns.exclude.list"] = json!("b");
    config["post.processors.both.reselect.colums.include.list"] = json!("c");
    config["post.processors.stray.type"] = json!(RESELECTOR_CLASS);
    config["both.reselect.null.values"] = json!("false");
    let (refused, msg) = refused(config);
    assert_eq!(
        refused,
        [
            "both.reselect.null.values",
            "post.processors",
            "post.processors.both.reselect.columns.exclude.list",
            "post.processors.both.reselect.colums.include.list",
            "post.processors.custom.type",
            "post.processors.stray.type",
        ]
    );
    assert!(msg.contains("Tributary runs no Java code"), "{msg}");
    assert!(msg.contains("add stray to post.processors"), "{msg}");
    assert!(
        msg.contains("post.processors.untyped.type is not set"),
        "{msg}"
    );
}

#[test]
fn topic_naming_strategies_name_topics_as_debezium_ships_them() {
    let table = |s: &str, t: &str| TableId::new(s, t);
    let c = parse(base()).unwrap();
    assert_eq!(
        c.topic_for(&table("public", "Order Items")),
        "cdc.public.Order_Items"
    );
    assert_eq!(c.topic_for(&table("public", "café")), "cdc.public.caf_");
    // A character outside the BMP is two UTF-16 units in Java, so two replacements.
    assert_eq!(c.topic_for(&table("s", "a😀")), "cdc.s.a__");
    let long = "t".repeat(300);
    assert_eq!(c.topic_for(&table("public", &long)).len(), 249);

    let mut config = base();
    config["topic.naming.strategy"] = json!("io.debezium.schema.DefaultUnicodeTopicNamingStrategy");
    config["topic.delimiter"] = json!("-");
    let c = parse(config).unwrap();
    // The Default strategies name Postgres topics by the table alone (its "database
    // parts": no catalog, no schema).
    assert_eq!(
        c.topic_for(&table("my_schema", "Order Items")),
        "cdc-Order_u0020Items"
    );
    // Java's Integer.toHexString, padded only up to four digits from two.
    assert_eq!(c.topic_for(&table("s", "a_Ā")), "cdc-a_u005f_u100");
    let mut config = base();
    config["topic.naming.strategy"] = json!("io.debezium.schema.SchemaUnicodeTopicNamingStrategy");
    let c = parse(config).unwrap();
    assert_eq!(
        c.topic_for(&table("my_schema", "t")),
        "cdc.my_u005fschema.t"
    );

    let mut config = base();
    config["topic.naming.strategy"] = json!("io.debezium.schema.SchemaRegexTopicNamingStrategy");
    config["topic.regex"] = json!("(cdc\\.public)\\.shard_\\d+");
    config["topic.replacement"] = json!("$1.shards\\$");
    let c = parse(config).unwrap();
    assert_eq!(
        c.topic_for(&table("public", "shard_7")),
        "cdc.public.shards$"
    );
    assert_eq!(
        c.topic_for(&table("public", "shard_x")),
        "cdc.public.shard_x"
    );
    assert_eq!(
        c.topics.key_field(&table("public", "shard_7")),
        Some((
            "__dbz__physicalTableIdentifier",
            "cdc.public.shard_7".into()
        ))
    );

    // A Java class Tributary cannot run, and regex properties without a regex strategy.
    let mut config = base();
    config["topic.naming.strategy"] = json!("com.acme.MyStrategy");
    config["topic.regex"] = json!("x");
    config["topic.delimiter"] = json!("/");
    let (refused, msg) = refused(config);
    assert_eq!(
        refused,
        ["topic.delimiter", "topic.naming.strategy", "topic.regex"]
    );
    assert!(msg.contains("runs no Java code"), "{msg}");
    assert!(msg.contains("SchemaRegexTopicNamingStrategy"), "{msg}");
}

#[test]
fn the_guardrail_counts_tables_only_when_set() {
    let c = parse(base()).unwrap();
    assert_eq!(c.guardrail.exceeded(10_000), None, "0 is no limit");
    let mut config = base();
    config["guardrail.collections.max"] = json!("2");
    config["guardrail.collections.limit.action"] = json!("FAIL");
    let c = parse(config).unwrap();
    assert!(c.guardrail.fail);
    assert_eq!(c.guardrail.exceeded(2), None);
    assert!(
        c.guardrail
            .exceeded(3)
            .unwrap()
            .contains("maximum allowed is 2")
    );
    let mut config = base();
    config["guardrail.collections.limit.action"] = json!("stop");
    let (fields, msg) = refused(config);
    assert_eq!(fields, ["guardrail.collections.limit.action"]);
    assert!(msg.contains("warn, fail"), "{msg}");
}
