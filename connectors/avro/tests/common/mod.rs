//! Shared setup of the registry HTTP tests: schemas, a started registry, raw HTTP calls.
#![allow(dead_code)]

use serde_json::Value;
use tributary_avro::registry::{EmbeddedRegistry, RegistryAuth, RegistryClient, RegistryHandle};

pub const CT: &str = "application/vnd.schemaregistry.v1+json";

pub fn value_schema(extra_fields: &str) -> String {
    format!(
        r#"{{"type":"record","name":"Value","namespace":"cdc.public.orders","fields":[{{"name":"id","type":"int"}}{extra_fields}]}}"#
    )
}

pub fn v1() -> String {
    value_schema("")
}

pub fn v2() -> String {
    value_schema(r#",{"name":"note","type":["null","string"],"default":null}"#)
}

pub fn breaking() -> String {
    value_schema(r#",{"name":"required","type":"string"}"#)
}

pub async fn start(dir: &std::path::Path) -> RegistryHandle {
    EmbeddedRegistry::open(dir)
        .unwrap()
        .start("127.0.0.1:0")
        .await
        .unwrap()
}

pub fn client(handle: &RegistryHandle) -> RegistryClient {
    RegistryClient::new(&handle.url(), RegistryAuth::None).unwrap()
}

/// A plain HTTP client for raw requests (reqwest is built without a bundled provider).
pub fn raw() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// Sends a request and returns the status, the content type and the JSON body.
pub async fn call(
    method: reqwest::Method,
    url: String,
    body: Option<Value>,
) -> (u16, String, Value) {
    let mut req = raw().request(method, url);
    if let Some(body) = body {
        req = req
            .header("Content-Type", CT)
            .body(serde_json::to_vec(&body).unwrap());
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = resp.bytes().await.unwrap();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)));
    (status, ct, value)
}

pub async fn get(base: &str, path: &str) -> (u16, Value) {
    let (s, _, v) = call(reqwest::Method::GET, format!("{base}{path}"), None).await;
    (s, v)
}

pub async fn post(base: &str, path: &str, body: Value) -> (u16, Value) {
    let (s, _, v) = call(reqwest::Method::POST, format!("{base}{path}"), Some(body)).await;
    (s, v)
}

pub async fn put(base: &str, path: &str, body: Value) -> (u16, Value) {
    let (s, _, v) = call(reqwest::Method::PUT, format!("{base}{path}"), Some(body)).await;
    (s, v)
}

pub async fn delete(base: &str, path: &str) -> (u16, Value) {
    let (s, _, v) = call(reqwest::Method::DELETE, format!("{base}{path}"), None).await;
    (s, v)
}
