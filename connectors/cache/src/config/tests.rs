use std::time::Duration;

use serde_json::{Value as Json, json};
use tributary_core::config::{ConfigErrors, PropertyKind};

use super::*;

const JOB_KEYS: &[&str] = &["batch.size", "batch.max.wait.ms", "fields.include"];

fn parse(config: Json) -> Result<RedisSinkConfig, ConfigErrors> {
    RedisSinkConfig::parse("orders-cache", config.as_object().unwrap(), JOB_KEYS)
}

fn fields(err: ConfigErrors) -> Vec<String> {
    err.0.into_iter().map(|e| e.field).collect()
}

#[test]
fn an_empty_config_takes_every_default() {
    let c = parse(json!({})).unwrap();
    assert_eq!(c.connect, ConnectParams::local(6379));
    assert_eq!(c.key_pattern, "{schema}.{table}:{pk}");
    assert_eq!(c.value_format, ValueFormat::Json);
    assert_eq!(c.ttl_seconds, 0);
    assert_eq!(c.versions_prefix, "tributary:v:orders-cache");
    assert_eq!(c.tombstone_ttl_seconds, 86_400);
}

#[test]
fn framework_and_job_keys_are_accepted_and_redis_keys_read() {
    let c = parse(json!({
        "name": "orders-cache",
        "connector.class": "whatever.the.daemon.calls.it",
        "tasks.max": 1,
        "topics.regex": "cdc\\..*",
        "key.converter": "io.confluent.connect.avro.AvroConverter",
        "value.converter.schema.registry.url": "http://127.0.0.1:8081",
        "transforms": "unwrap",
        "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
        "errors.tolerance": "none",
        "consumer.override.max.poll.records": "500",
        "batch.size": 1000,
        "fields.include": "id,name",
        "redis.url": "redis://app:frompass@cache.internal:7000/2",
        "redis.password": "override",
        "redis.timeout.ms": "2500",
        "key.pattern": "c:{table}:{pk}",
        "value.format": "HASH",
        "ttl.seconds": 3600,
        "versions.prefix": " v:orders ",
        "tombstone.ttl.seconds": "600",
    }))
    .unwrap();
    assert_eq!(c.connect.hosts, [("cache.internal".to_string(), 7000)]);
    assert_eq!(c.connect.topology, Topology::Standalone);
    assert_eq!(c.connect.db, 2);
    assert_eq!(c.connect.username.as_deref(), Some("app"));
    assert_eq!(
        c.connect.password.as_ref().map(|p| p.expose()),
        Some("override")
    );
    assert_eq!(c.connect.timeout, Duration::from_millis(2500));
    assert_eq!(c.key_pattern, "c:{table}:{pk}");
    assert_eq!(c.value_format, ValueFormat::Hash);
    assert_eq!(c.ttl_seconds, 3600);
    assert_eq!(c.versions_prefix, "v:orders");
    assert_eq!(c.tombstone_ttl_seconds, 600);
}

#[test]
fn the_urls_password_is_used_when_no_password_property_is_set() {
    let c = parse(json!({"redis.url": "redis://:frompass@h/0", "redis.password": ""})).unwrap();
    assert_eq!(
        c.connect.password.as_ref().map(|p| p.expose()),
        Some("frompass")
    );
    let shown = format!("{c:?} {}", c.connect);
    assert!(!shown.contains("frompass"), "{shown}");
    assert_eq!(c.connect.to_string(), "redis://h:6379/0");
}

#[test]
fn unknown_and_malformed_properties_are_each_named() {
    let err = parse(json!({
        "redis.host": "x",
        "batch.max.wait.ms": 5,
        "redis.url": "redis://a:1,b:2",
        "redis.tls.ca.location": "/nonexistent/ca.pem",
        "redis.timeout.ms": "0",
        "key.pattern": "{schema}.{table}",
        "value.format": "msgpack",
        "ttl.seconds": "-1",
        "versions.key": "v",
        "versions.prefix": "{v}",
        "tombstone.ttl.seconds": "0",
        "ttl": {"nested": true},
    }))
    .unwrap_err();
    let mut names = fields(err.clone());
    names.sort();
    assert_eq!(
        names,
        [
            "key.pattern",
            "redis.host",
            "redis.timeout.ms",
            "redis.tls.ca.location",
            "redis.url",
            "tombstone.ttl.seconds",
            "ttl",
            "ttl",
            "ttl.seconds",
            "value.format",
            "versions.key",
            "versions.prefix"
        ]
    );
    let text = err.to_string();
    assert!(
        text.contains("redis.url: names several hosts: set redis.cluster=true"),
        "{text}"
    );
    assert!(
        text.contains("redis.tls.ca.location: is set but redis.url is not rediss://"),
        "{text}"
    );
    assert!(
        text.contains("versions.key: was replaced by versions.prefix"),
        "{text}"
    );
    assert!(text.contains("has no {pk} placeholder"), "{text}");
    assert!(text.contains("use one of: json, hash"), "{text}");
}

#[test]
fn a_job_key_is_an_error_when_the_caller_does_not_handle_it() {
    let map = json!({"batch.size": 10});
    let err = RedisSinkConfig::parse("c", map.as_object().unwrap(), &[]).unwrap_err();
    assert_eq!(fields(err), ["batch.size"]);
    let err = RedisSinkConfig::parse(" ", &Map::new(), &[]).unwrap_err();
    assert_eq!(fields(err), ["name"]);
}

#[test]
fn every_property_set_to_its_default_parses_as_if_unset() {
    let mut map = Map::new();
    for p in PROPERTIES {
        if let Some(d) = p.default {
            map.insert(p.name.into(), json!(d));
        }
    }
    let with = RedisSinkConfig::parse("c", &map, &[]).unwrap();
    let without = RedisSinkConfig::parse("c", &Map::new(), &[]).unwrap();
    assert_eq!(with, without);
}

#[test]
fn property_definitions_are_unique_and_documented() {
    let mut names: Vec<_> = PROPERTIES.iter().map(|p| p.name).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), PROPERTIES.len());
    for p in PROPERTIES {
        assert!(!p.documentation.is_empty(), "{}", p.name);
        assert!(!FRAMEWORK_NAMES.contains(&p.name), "{}", p.name);
    }
    assert_eq!(
        property("redis.password").map(|p| p.kind),
        Some(PropertyKind::Password)
    );
}

#[test]
fn clusters_sentinels_and_tls_are_read_from_the_url_and_properties() {
    let c = parse(json!({
        "redis.url": "redis://app:pw@n1:7000,n2:7001",
        "redis.cluster": "true",
    }))
    .unwrap();
    assert_eq!(c.connect.topology, Topology::Cluster);
    assert_eq!(c.connect.hosts.len(), 2);
    assert_eq!(
        c.connect.to_string(),
        "redis://app@n1:7000,n2:7001/0 (cluster)"
    );
    let err = parse(json!({"redis.url": "redis://n1:7000/2", "redis.cluster": true})).unwrap_err();
    assert!(err.to_string().contains("only database 0"), "{err}");
    let err = parse(json!({"redis.cluster": "yes"})).unwrap_err();
    assert_eq!(fields(err), ["redis.cluster"]);

    let s = parse(json!({"redis.url": "redis+sentinel://s1,s2:26380/cache/1"})).unwrap();
    assert_eq!(
        s.connect.topology,
        Topology::Sentinel {
            master: "cache".into()
        }
    );
    assert_eq!(s.connect.db, 1);
    let err =
        parse(json!({"redis.url": "redis+sentinel://s1/m", "redis.cluster": "true"})).unwrap_err();
    assert_eq!(fields(err), ["redis.cluster"]);

    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, "pem").unwrap();
    let t = parse(json!({
        "redis.url": "rediss://h:6380",
        "redis.tls.ca.location": ca.to_str().unwrap(),
    }))
    .unwrap();
    let tls = t.connect.tls.unwrap();
    assert_eq!(tls.ca.as_deref(), Some(ca.as_path()));
    assert_eq!(tls.certificate, None);
    let err = parse(json!({
        "redis.url": "rediss://h:6380",
        "redis.tls.certificate.location": ca.to_str().unwrap(),
    }))
    .unwrap_err();
    assert_eq!(fields(err), ["redis.tls.key.location"]);
    assert!(
        parse(json!({"redis.url": "rediss://h"}))
            .unwrap()
            .connect
            .tls
            .is_some()
    );
}
