//! Kafka over TLS and SASL, as users run it: a broker with a SASL_SSL listener (SCRAM-SHA-512
//! users made when its storage is formatted) and an SSL listener that requires client
//! certificates (mTLS), all certificates made at test time.
//!
//! - A source publishes and a sink job consumes through SASL_SSL, exactly once.
//! - A source whose `producer.override.*` speaks mTLS to the other listener publishes too.
//! - A wrong SASL password, an untrusted CA and a plaintext client on the TLS port are
//!   named by the property to fix: a 400 on create when the connector's overrides carry
//!   them, a status trace when the daemon's `[kafka]` section does.
//! - No secret appears in any response or log line.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::api::{assert_error, connector_path as path, get, post, wait_status};
use support::daemon::{Daemon, DaemonOptions};
use support::kafka::{Broker, BrokerOptions, CdcConsumer};
use support::pg::{PgCluster, free_port};
use support::tls::{CLIENT_KEY_PASSWORD, Pki};

const T: Duration = Duration::from_secs(90);
const USER: &str = "tributary";
const PASSWORD: &str = "scram-Pa55-9f3e";

/// A broker with SASL_SSL (SCRAM-SHA-512) on its client port and mTLS on `mtls`.
fn secure_broker(pki: &Pki, mtls: u16) -> Broker {
    let internal = free_port();
    Broker::start_with(BrokerOptions {
        properties: format!(
            "listeners=SASL_SSL://127.0.0.1:{{port}},SSL://127.0.0.1:{mtls},INTERNAL://127.0.0.1:{internal},CONTROLLER://127.0.0.1:{{controller}}
advertised.listeners=SASL_SSL://127.0.0.1:{{port}},SSL://127.0.0.1:{mtls},INTERNAL://127.0.0.1:{internal}
inter.broker.listener.name=INTERNAL
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PEM
ssl.keystore.location={server}
ssl.truststore.type=PEM
ssl.truststore.location={ca}
listener.name.ssl.ssl.client.auth=required
",
            server = pki.path("server.pem"),
            ca = pki.path("ca.pem"),
        ),
        format_args: vec![
            "--add-scram".into(),
            format!("SCRAM-SHA-512=[name={USER},password={PASSWORD}]"),
        ],
        ..BrokerOptions::default()
    })
}

/// `[kafka]` lines for SASL_SSL with `password`, trusting `ca`.
fn sasl_toml(password: &str, ca: &str) -> String {
    format!(
        "\"security.protocol\" = \"SASL_SSL\"\n\"sasl.mechanism\" = \"SCRAM-SHA-512\"\n\"sasl.username\" = \"{USER}\"\n\"sasl.password\" = \"{password}\"\n\"ssl.ca.location\" = \"{ca}\"\n"
    )
}

/// The same settings for a test client.
fn sasl_props(pki: &Pki) -> Vec<(&'static str, String)> {
    vec![
        ("security.protocol", "SASL_SSL".into()),
        ("sasl.mechanism", "SCRAM-SHA-512".into()),
        ("sasl.username", USER.into()),
        ("sasl.password", PASSWORD.into()),
        ("ssl.ca.location", pki.path("ca.pem")),
    ]
}

async fn items_db(pg: &PgCluster, table: &str, rows: i64) -> tokio_postgres::Client {
    let db = pg.create_db("app").await;
    db.batch_execute(&format!(
        "CREATE TABLE {table} (id bigint PRIMARY KEY, v text);
         INSERT INTO {table} SELECT g, 'row ' || g FROM generate_series(1, {rows}) g"
    ))
    .await
    .unwrap();
    db
}

/// Each id of `1..=rows` seen once on `topic` by a read_committed SASL_SSL consumer.
fn assert_exactly_once(broker: &Broker, pki: &Pki, registry: &str, topic: &str, rows: i64) {
    let props = sasl_props(pki);
    let refs: Vec<(&str, &str)> = props.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut consumer = CdcConsumer::with(&broker.bootstrap, registry, &format!("^{topic}$"), &refs);
    let complete = consumer.poll_until(T, |r| r.len() as i64 >= rows);
    // A moment more, for anything that should not be there.
    consumer.poll_until(Duration::from_secs(1), |_| false);
    let mut ids: Vec<i64> = consumer
        .records
        .iter()
        .filter_map(|r| r.value.as_ref()?["after"]["id"].as_i64())
        .collect();
    ids.sort_unstable();
    assert!(complete, "only {} of {rows} records on {topic}", ids.len());
    assert_eq!(
        ids,
        (1..=rows).collect::<Vec<_>>(),
        "{topic}: every row exactly once"
    );
}

/// The documents the embedded index holds for `index`.
async fn wait_docs(daemon: &Daemon, index: &str, want: u64) {
    let deadline = Instant::now() + T;
    loop {
        let indexes = get(&daemon.api, "/indexes").json();
        let docs = indexes
            .as_array()
            .and_then(|l| l.iter().find(|i| i["name"] == index))
            .and_then(|i| i["docs"].as_u64());
        if docs == Some(want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the index holds {docs:?} documents, not {want}: {indexes}\n{}",
            daemon.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Nothing the daemon said or logged carries a secret.
fn assert_no_secret(daemon: &Daemon, names: &[&str], secrets: &[&str]) {
    let mut said = vec![
        get(&daemon.api, "/connectors?expand=info&expand=status").body,
        get(&daemon.api, "/metrics").body,
        daemon.log(),
    ];
    for name in names {
        said.push(get(&daemon.api, &path(name, "")).body);
        said.push(get(&daemon.api, &path(name, "/config")).body);
        said.push(get(&daemon.api, &path(name, "/status")).body);
    }
    for text in &said {
        for secret in secrets {
            assert!(!text.contains(secret), "a secret leaked: {text}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sasl_ssl_and_mtls_carry_sources_and_a_sink_job_exactly_once_and_keep_secrets() {
    let work = tempfile::tempdir().unwrap();
    let pki = Pki::create(&work.path().join("pki"));
    let mtls = free_port();
    let broker = secure_broker(&pki, mtls);
    let pg = PgCluster::start();
    let db = items_db(&pg, "items", 1000).await;
    db.batch_execute(
        "CREATE TABLE certs (id bigint PRIMARY KEY, v text);
         INSERT INTO certs SELECT g, 'cert ' || g FROM generate_series(1, 500) g",
    )
    .await
    .unwrap();
    let daemon = Daemon::start_with(
        &work.path().join("daemon"),
        DaemonOptions {
            kafka_toml: sasl_toml(PASSWORD, &pki.path("ca.pem")),
            log_toml: "level = \"debug\"".into(),
            ..DaemonOptions::new(&broker.bootstrap)
        },
    );
    let api = daemon.api.clone();

    // SASL_SSL from the daemon's [kafka] section: a source and a search job.
    let source = pg.connector("sasl", "app", json!({"table.include.list": "public.items"}));
    let r = post(&api, "/connectors", &source);
    assert_eq!(r.status, 201, "{r:?}\n{}", daemon.log());
    let job = json!({"name": "search", "config": {
        "connector.class": "SearchSinkConnector",
        "topics": "cdc.public.items",
    }});
    let r = post(&api, "/connectors", &job);
    assert_eq!(r.status, 201, "{r:?}\n{}", daemon.log());

    // mTLS through the connector's own overrides, to the other listener.
    let mut over = pg.connector(
        "mtls",
        "app",
        json!({
            "table.include.list": "public.certs",
            "topic.prefix": "mt",
            "producer.override.bootstrap.servers": format!("127.0.0.1:{mtls}"),
            "producer.override.security.protocol": "SSL",
            "producer.override.ssl.ca.location": pki.path("ca.pem"),
            "producer.override.ssl.certificate.location": pki.path("client.crt"),
            "producer.override.ssl.key.location": pki.path("client.enc.key"),
            "producer.override.ssl.key.password": CLIENT_KEY_PASSWORD,
        }),
    );
    let r = post(&api, "/connectors", &over);
    assert_eq!(r.status, 201, "{r:?}\n{}", daemon.log());
    for name in ["sasl", "search", "mtls"] {
        wait_status(&api, name, "RUNNING", &["RUNNING"], T).await;
    }
    db.batch_execute(
        "INSERT INTO items SELECT g, 'row ' || g FROM generate_series(1001, 3000) g;
         INSERT INTO certs SELECT g, 'cert ' || g FROM generate_series(501, 800) g",
    )
    .await
    .unwrap();

    assert_exactly_once(&broker, &pki, &daemon.registry, "cdc.public.items", 3000);
    assert_exactly_once(&broker, &pki, &daemon.registry, "mt.public.certs", 800);
    wait_docs(&daemon, "public.items", 3000).await;
    let consumed = get(&api, &path("search", "/offsets")).json();
    assert_eq!(
        consumed["offsets"][0]["offset"]["kafka_offset"], 3000,
        "the job committed through SASL_SSL: {consumed}"
    );

    // The mTLS listener refuses a client without a certificate: a 400 naming what to set.
    let config = over["config"].as_object_mut().unwrap();
    config.remove("producer.override.ssl.certificate.location");
    config.remove("producer.override.ssl.key.location");
    config.remove("producer.override.ssl.key.password");
    config.insert("slot.name".into(), json!("nocert_slot"));
    over["name"] = json!("nocert");
    let r = post(&api, "/connectors", &over);
    let message = assert_error(&r, 400);
    assert!(
        message.contains("producer.override.ssl.certificate.location"),
        "{message}"
    );

    let shown = get(&api, &path("mtls", "/config")).json();
    assert_eq!(shown["producer.override.ssl.key.password"], "********");
    assert_no_secret(
        &daemon,
        &["sasl", "search", "mtls"],
        &[PASSWORD, CLIENT_KEY_PASSWORD],
    );
}

/// Creates `name` with `overrides` and expects a 400 naming `field`.
fn refused(api: &str, pg: &PgCluster, name: &str, overrides: Value, field: &str) -> String {
    let mut config = json!({"snapshot.mode": "no_data"});
    for (k, v) in overrides.as_object().unwrap() {
        config[k] = v.clone();
    }
    let r = post(api, "/connectors", &pg.connector(name, "app", config));
    let message = assert_error(&r, 400);
    assert!(message.contains(field), "{name}: {message}");
    assert_eq!(
        get(api, &path(name, "")).status,
        404,
        "{name} was not created"
    );
    message
}

/// A daemon whose `[kafka]` section carries `kafka_toml`, running one source and one sink
/// job; returns the source's and the job's traces once both failed.
async fn daemon_traces(
    dir: &Path,
    broker: &Broker,
    pg: &PgCluster,
    kafka_toml: String,
) -> (String, String, Daemon) {
    let daemon = Daemon::start_with(
        dir,
        DaemonOptions {
            kafka_toml,
            log_toml: "level = \"debug\"".into(),
            ..DaemonOptions::new(&broker.bootstrap)
        },
    );
    let source = pg.connector("bad", "app", json!({"snapshot.mode": "no_data"}));
    assert_eq!(
        post(&daemon.api, "/connectors", &source).status,
        201,
        "{}",
        daemon.log()
    );
    let job = json!({"name": "badjob", "config": {
        "connector.class": "SearchSinkConnector", "topics": "cdc.public.items"}});
    assert_eq!(
        post(&daemon.api, "/connectors", &job).status,
        201,
        "{}",
        daemon.log()
    );
    let mut traces = Vec::new();
    for name in ["bad", "badjob"] {
        let s = wait_status(&daemon.api, name, "RUNNING", &["FAILED"], T).await;
        traces.push(
            s["tasks"][0]["trace"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
    }
    (traces.remove(0), traces.remove(0), daemon)
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_password_untrusted_ca_and_plaintext_on_tls_are_named_by_the_property_to_fix() {
    let work = tempfile::tempdir().unwrap();
    let pki = Pki::create(&work.path().join("pki"));
    let broker = secure_broker(&pki, free_port());
    let pg = PgCluster::start();
    let _db = items_db(&pg, "items", 10).await;
    let ca = pki.path("ca.pem");
    let wrong = "not-the-Pa55word";

    // In a connector's overrides: a 400 on create, naming the override.
    let good = Daemon::start_with(
        &work.path().join("good"),
        DaemonOptions {
            kafka_toml: sasl_toml(PASSWORD, &ca),
            log_toml: "level = \"debug\"".into(),
            ..DaemonOptions::new(&broker.bootstrap)
        },
    );
    let started = Instant::now();
    refused(
        &good.api,
        &pg,
        "pw",
        json!({"producer.override.sasl.password": wrong}),
        "producer.override.sasl.password",
    );
    refused(
        &good.api,
        &pg,
        "ca",
        json!({"producer.override.ssl.ca.location": pki.path("other-ca.pem")}),
        "producer.override.ssl.ca.location",
    );
    refused(
        &good.api,
        &pg,
        "plain",
        json!({"producer.override.security.protocol": "PLAINTEXT"}),
        "producer.override.security.protocol",
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the checks took {:?}; they should not wait for a timeout",
        started.elapsed()
    );
    assert_no_secret(&good, &[], &[PASSWORD, wrong]);

    // In the daemon's [kafka] section: the connector and the job fail, their traces name
    // the property.
    for (what, toml, property) in [
        ("password", sasl_toml(wrong, &ca), "sasl.password"),
        (
            "ca",
            sasl_toml(PASSWORD, &pki.path("other-ca.pem")),
            "ssl.ca.location",
        ),
        (
            "plaintext",
            "\"security.protocol\" = \"PLAINTEXT\"\n".to_string(),
            "security.protocol",
        ),
    ] {
        let (source, job, daemon) =
            daemon_traces(&work.path().join(what), &broker, &pg, toml).await;
        assert!(source.contains(property), "{what}: source trace: {source}");
        assert!(job.contains(property), "{what}: job trace: {job}");
        assert_no_secret(&daemon, &["bad", "badjob"], &[PASSWORD, wrong]);
    }
}
