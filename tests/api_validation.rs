//! Bad connector configs over the REST API: each is refused with 400 naming the offending
//! field, whether it creates a connector or replaces a running one's config, and nothing
//! changes — no new connector, the old config kept, the running one still streaming. The
//! validate endpoint reports the same problem on the same field.

mod support;

use std::time::Duration;

use serde_json::{Map, Value, json};
use support::api::{
    Tally, assert_error, connector_path as path, get, names_field, post, put, wait_status,
};
use support::daemon::{Daemon, DaemonOptions};
use support::kafka::Broker;
use support::pg::{free_port, password_cluster};
use support::slot::wait_active;

const T: Duration = Duration::from_secs(60);
const VALIDATE: &str =
    "/connector-plugins/io.debezium.connector.postgresql.PostgresConnector/config/validate";
const PASSWORD: &str = "right-pw-4c1d";

/// (what is wrong, the field the answer must name, the config map).
fn bad_configs(good: &Value) -> Vec<(&'static str, &'static str, Value)> {
    let with = |change: &dyn Fn(&mut Map<String, Value>)| {
        let mut c = good.clone();
        change(c.as_object_mut().unwrap());
        c
    };
    vec![
        (
            "no topic.prefix",
            "topic.prefix",
            with(&|c| {
                c.remove("topic.prefix");
            }),
        ),
        (
            "a misspelt property",
            "tabel.include.list",
            with(&|c| {
                c.insert("tabel.include.list".into(), json!("public.items"));
            }),
        ),
        (
            "a regex that does not compile",
            "table.include.list",
            with(&|c| {
                c.insert("table.include.list".into(), json!("public.(unclosed"));
            }),
        ),
        (
            "a transform Tributary does not implement (it would be ignored)",
            "transforms.unwrap.type",
            with(&|c| {
                c.insert("transforms".into(), json!("unwrap"));
                c.insert(
                    "transforms.unwrap.type".into(),
                    json!("com.example.connect.CustomTransform"),
                );
            }),
        ),
        (
            "an outbox router with a placement that does not exist",
            "transforms.outbox.table.fields.additional.placement",
            with(&|c| {
                c.insert("transforms".into(), json!("outbox"));
                c.insert(
                    "transforms.outbox.type".into(),
                    json!("io.debezium.transforms.outbox.EventRouter"),
                );
                c.insert(
                    "transforms.outbox.table.fields.additional.placement".into(),
                    json!("type:nowhere"),
                );
            }),
        ),
        (
            "a converter class Tributary does not implement",
            "value.converter",
            with(&|c| {
                c.insert(
                    "value.converter".into(),
                    json!("io.confluent.connect.protobuf.ProtobufConverter"),
                );
            }),
        ),
        (
            "a JsonConverter setting with a bad value",
            "value.converter.schemas.enable",
            with(&|c| {
                c.insert(
                    "value.converter".into(),
                    json!("org.apache.kafka.connect.json.JsonConverter"),
                );
                c.insert("value.converter.schemas.enable".into(), json!("yes"));
            }),
        ),
        (
            "a database nobody listens for",
            "database.hostname",
            with(&|c| {
                c.insert("database.port".into(), json!(free_port().to_string()));
            }),
        ),
        (
            "a wrong password",
            "database.password",
            with(&|c| {
                c.insert("database.password".into(), json!("wrong-pw-9e2b"));
            }),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_configs_are_refused_naming_the_field_and_change_nothing() {
    let (pg, db) = password_cluster(PASSWORD).await;
    let broker = Broker::start();
    let work = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_with(work.path(), DaemonOptions::new(&broker.bootstrap));
    let api = daemon.api.as_str();
    let good = pg.connector(
        "good",
        "app",
        json!({"database.user": "cdc", "database.password": PASSWORD, "snapshot.mode": "no_data"}),
    );
    let r = post(api, "/connectors", &good);
    assert_eq!(r.status, 201, "{r:?}\n{}", daemon.log());
    wait_status(api, "good", "RUNNING", &["RUNNING"], T).await;
    wait_active(&db, "good_slot", T).await;
    let config_before = get(api, &path("good", "/config")).json();

    for (i, (what, field, config)) in bad_configs(&good["config"]).into_iter().enumerate() {
        // Creating a connector with it.
        let mut own = config.clone();
        own["slot.name"] = json!(format!("bad{i}_slot"));
        own["publication.name"] = json!(format!("bad{i}_pub"));
        let r = post(
            api,
            "/connectors",
            &json!({"name": format!("bad{i}"), "config": own}),
        );
        let message = assert_error(&r, 400);
        assert!(
            names_field(&message, field),
            "{what}: creating names {field}: {message}"
        );
        assert_eq!(
            get(api, "/connectors").json(),
            json!(["good"]),
            "{what}: no connector was created"
        );

        // Replacing the running connector's config with it.
        let r = put(api, &path("good", "/config"), &config);
        let message = assert_error(&r, 400);
        assert!(
            names_field(&message, field),
            "{what}: updating names {field}: {message}"
        );
        assert_eq!(
            get(api, &path("good", "/config")).json(),
            config_before,
            "{what}: the stored config is unchanged"
        );
        let s = get(api, &path("good", "/status")).json();
        assert_eq!(
            (&s["connector"]["state"], &s["tasks"][0]["state"]),
            (&json!("RUNNING"), &json!("RUNNING")),
            "{what}: the connector keeps running: {s}"
        );

        // Validating it.
        let r = put(api, VALIDATE, &own);
        assert_eq!(r.status, 200, "{what}: {r:?}");
        let v = r.json();
        assert!(v["error_count"].as_u64() >= Some(1), "{what}: {v}");
        let errors = v["configs"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["value"]["name"] == field))
            .map(|c| c["value"]["errors"].clone())
            .unwrap_or_else(|| panic!("{what}: no configs entry for {field}: {v}"));
        assert!(
            errors.as_array().is_some_and(|e| !e.is_empty()),
            "{what}: the error is on {field}: {v}"
        );
    }

    // A second connector on the good one's slot would take its changes: refused, naming
    // the slot's owner.
    let mut twin = good["config"].clone();
    twin["publication.name"] = json!("twin_pub");
    let r = post(api, "/connectors", &json!({"name": "twin", "config": twin}));
    let message = assert_error(&r, 400);
    assert!(
        names_field(&message, "slot.name") && message.contains("\"good\""),
        "the shared slot names its owner: {message}"
    );
    assert_eq!(get(api, "/connectors").json(), json!(["good"]));

    // The good connector never stopped streaming.
    let mut kafka = Tally::new(
        &broker.bootstrap,
        &daemon.registry,
        "^cdc\\.public\\.items$",
    );
    db.batch_execute("INSERT INTO items SELECT g, 'x' FROM generate_series(1, 10) g")
        .await
        .unwrap();
    let arrived = kafka.until(T, |t| t.missing("cdc.public.items", "c", 1..=10).is_empty());
    assert!(arrived, "{:?}\n{}", kafka.counts, daemon.log());
    assert_eq!(kafka.duplicates("cdc.public.items"), 0);
    assert_eq!(get(api, &path("good", "/config")).json(), config_before);
}
