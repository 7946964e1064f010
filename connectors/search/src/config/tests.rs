use serde_json::json;

use super::*;

fn parse(config: Json) -> Result<SearchSinkConfig, ConfigErrors> {
    SearchSinkConfig::parse(
        "search-job",
        config.as_object().unwrap(),
        &["fields.include", "sink.*"],
    )
}

fn fields(err: &ConfigErrors) -> Vec<&str> {
    err.0.iter().map(|e| e.field.as_str()).collect()
}

#[test]
fn an_empty_config_is_an_embedded_tantivy_sink_with_defaults() {
    let c = parse(json!({})).unwrap();
    assert_eq!(c.backend, Backend::Tantivy);
    assert_eq!(c.index_name, "{schema}.{table}");
    assert_eq!(c.index_dir, None);
    assert_eq!(c.writer_memory_bytes, 50_000_000);
    assert_eq!(c.connection, None);
    assert_eq!(c.request_timeout, Duration::from_secs(30));
}

#[test]
fn framework_and_shared_keys_are_accepted_and_unknown_keys_named() {
    let c = parse(json!({
        "name": "search-job",
        "connector.class": "whatever",
        "tasks.max": 1,
        "topics.regex": "cdc\\..*",
        "value.converter.schema.registry.url": "http://r",
        "transforms": "unwrap",
        "transforms.unwrap.type": "x",
        "errors.tolerance": "none",
        "consumer.override.max.poll.records": "500",
        "fields.include": "a,b",
        "sink.batch.ms": "100",
        "index.dir": "/tmp/x",
    }))
    .unwrap();
    assert_eq!(c.index_dir, Some(PathBuf::from("/tmp/x")));
    let err =
        parse(json!({"index.nmae": "x", "fields.exclude": "y", "tasks.max": [1]})).unwrap_err();
    assert_eq!(fields(&err), ["tasks.max", "fields.exclude", "index.nmae"]);
    assert!(
        err.to_string()
            .contains("index.nmae: is not a property of the search sink"),
        "{err}"
    );
}

#[test]
fn remote_backends_need_a_connection_url_and_name_it() {
    for backend in ["elasticsearch", "opensearch", "meilisearch"] {
        let err = parse(json!({"search.backend": backend})).unwrap_err();
        assert_eq!(fields(&err), ["connection.url"], "{backend}");
        assert!(err.to_string().contains("is required"), "{err}");
    }
    for (url, reason) in [
        ("localhost:9200", "http"),
        ("not a url", "not a URL"),
        ("http://me:hunter2@es:9200", "credentials"),
        ("http://es:9200/?pretty", "query"),
    ] {
        let err =
            parse(json!({"search.backend": "elasticsearch", "connection.url": url})).unwrap_err();
        assert_eq!(fields(&err), ["connection.url"]);
        let text = err.to_string();
        assert!(text.contains(reason), "{url}: {text}");
        assert!(!text.contains("hunter2"), "{text}");
    }
}

#[test]
fn elasticsearch_reads_credentials_and_keeps_the_password_secret() {
    let c = parse(json!({
        "search.backend": "ElasticSearch",
        "connection.url": "https://es.example.com:9200/prefix",
        "connection.username": "elastic",
        "connection.password": "hunter2",
        "request.timeout.ms": "5000",
    }))
    .unwrap();
    assert_eq!(c.backend, Backend::Elasticsearch);
    let conn = c.connection.as_ref().unwrap();
    assert_eq!(conn.url.as_str(), "https://es.example.com:9200/prefix");
    assert_eq!(conn.username.as_deref(), Some("elastic"));
    assert_eq!(conn.password.expose(), "hunter2");
    assert!(!format!("{c:?}").contains("hunter2"));
    assert_eq!(c.request_timeout, Duration::from_secs(5));

    let err = parse(json!({
        "search.backend": "opensearch",
        "connection.url": "http://os:9200",
        "connection.password": "p",
        "request.timeout.ms": "0",
    }))
    .unwrap_err();
    assert_eq!(fields(&err), ["request.timeout.ms", "connection.username"]);
    let err = parse(json!({
        "search.backend": "opensearch",
        "connection.url": "http://os:9200",
        "connection.username": "u",
        "api.key": "k",
    }))
    .unwrap_err();
    assert_eq!(fields(&err), ["api.key"]);
}

#[test]
fn meilisearch_defaults_to_underscore_names_and_refuses_dots() {
    let c = parse(
        json!({"search.backend": "meilisearch", "connection.url": "http://m:7700", "api.key": "k"}),
    )
    .unwrap();
    assert_eq!(c.index_name, "{schema}_{table}");
    assert_eq!(c.connection.unwrap().api_key.expose(), "k");
    let err = parse(json!({
        "search.backend": "meilisearch",
        "connection.url": "http://m:7700",
        "index.name": "{schema}.{table}",
        "connection.username": "u",
    }))
    .unwrap_err();
    assert_eq!(fields(&err), ["index.name", "connection.username"]);
}

#[test]
fn index_templates_name_their_problem() {
    for (backend, template, reason) in [
        ("tantivy", "{schema}.{pk}", "{pk} is not a placeholder"),
        ("tantivy", "{schema}.{tabel}", "{tabel}"),
        ("tantivy", "{schema", "unclosed"),
        ("elasticsearch", "cdc/{table}", "'/'"),
        ("elasticsearch", "_{table}", "must not start"),
    ] {
        let err = parse(json!({
            "search.backend": backend,
            "connection.url": "http://es:9200",
            "index.name": template,
        }));
        let err = match (backend, err) {
            ("tantivy", Err(e)) => {
                e.0.into_iter()
                    .filter(|e| e.field == "index.name")
                    .collect()
            }
            (_, Err(e)) => e.0,
            (_, Ok(_)) => panic!("{template:?} accepted"),
        };
        assert_eq!(err.len(), 1, "{template:?}: {err:?}");
        assert_eq!(err[0].field, "index.name");
        assert!(
            err[0].message.contains(reason),
            "{template:?}: {}",
            err[0].message
        );
    }
}

#[test]
fn properties_of_another_backend_are_errors() {
    let err = parse(
        json!({"connection.url": "http://es:9200", "api.key": "k", "index.writer.memory.mb": 10}),
    )
    .unwrap_err();
    assert_eq!(
        fields(&err),
        ["connection.url", "api.key", "index.writer.memory.mb"]
    );
    let err = parse(json!({
        "search.backend": "elasticsearch",
        "connection.url": "http://es:9200",
        "index.dir": "/x",
    }))
    .unwrap_err();
    assert_eq!(fields(&err), ["index.dir"]);
    assert!(err.to_string().contains("only read by tantivy"), "{err}");
}

#[test]
fn every_property_is_documented_and_defaults_parse() {
    for p in PROPERTIES {
        assert!(!p.documentation.is_empty(), "{}", p.name);
        if let Some(default) = p.default {
            let key = p.name;
            let mut config = serde_json::Map::new();
            if key == "request.timeout.ms" {
                config.insert("search.backend".into(), json!("meilisearch"));
                config.insert("connection.url".into(), json!("http://m:7700"));
            }
            config.insert(key.into(), json!(default));
            SearchSinkConfig::parse("job", &config, &[]).unwrap_or_else(|e| panic!("{key}: {e}"));
        }
    }
}
