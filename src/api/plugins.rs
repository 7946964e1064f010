//! `/connector-plugins`: the plugins this daemon runs (the Postgres source and the sink
//! jobs), their property definitions and Kafka Connect's config validation.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Map, Value, json};
use tributary_core::config::PropertyDef;

use super::error::{Body, ErrorBody, Segment};
use super::{ApiError, ApiState};
use crate::kinds::{self, Kind};

fn plugin(name: &str) -> Result<&'static dyn Kind, ApiError> {
    kinds::named(name).ok_or_else(|| {
        let all = kinds::listed();
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "Failed to find any class that implements Connector and which name matches {name}; this daemon runs {}",
                all.join(", ")
            ),
        )
    })
}

/// The installed connector plugins.
#[utoipa::path(get, path = "/connector-plugins", tag = "plugins",
    responses((status = 200, description = "`[{class, type, version}]`")))]
pub async fn list() -> Json<Value> {
    let all: Vec<Value> = kinds::KINDS
        .iter()
        .map(|k| json!({"class": k.class(), "type": k.plugin_type(), "version": tributary_core::VERSION}))
        .collect();
    Json(Value::Array(all))
}

fn definition(p: &PropertyDef, order: usize) -> Value {
    json!({
        "name": p.name,
        "type": p.kind.as_str(),
        "required": p.required,
        "default_value": p.default,
        "importance": p.importance.as_str(),
        "documentation": p.documentation,
        "group": p.group,
        "width": "MEDIUM",
        "display_name": p.name,
        "dependents": [],
        "order": order,
    })
}

/// The plugin's property definitions.
#[utoipa::path(get, path = "/connector-plugins/{plugin}/config", tag = "plugins",
    params(("plugin" = String, Path)),
    responses((status = 200, description = "property definitions"), (status = 404, body = ErrorBody)))]
pub async fn config(Segment(name): Segment) -> Result<Json<Value>, ApiError> {
    let plugin = plugin(&name)?;
    let defs: Vec<Value> = plugin
        .properties()
        .into_iter()
        .enumerate()
        .map(|(i, p)| definition(p, i + 1))
        .collect();
    Ok(Json(Value::Array(defs)))
}

/// Checks a config as creating the connector would, database connection included, and
/// answers with every property and its errors.
#[utoipa::path(put, path = "/connector-plugins/{plugin}/config/validate", tag = "plugins",
    params(("plugin" = String, Path)), request_body(content = Object, description = "the config map"),
    responses((status = 200, description = "`{name, error_count, groups, configs}`"),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn validate(
    State(api): State<Arc<ApiState>>,
    Segment(name): Segment,
    Body(mut config): Body<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    let plugin = plugin(&name)?;
    let properties = plugin.properties();
    config
        .entry("connector.class")
        .or_insert_with(|| Value::String(plugin.class().to_string()));
    let connector = config
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("validate")
        .to_string();
    let errors = match api.manager.check(&connector, &config).await {
        Ok(_) => Vec::new(),
        Err(errors) => errors,
    };
    let mut by_field: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for e in &errors {
        by_field
            .entry(e.field.as_str())
            .or_default()
            .push(e.message.clone());
    }
    let shown = crate::secrets::masked(&config);
    let entry = |def: Value, field: &str| {
        json!({
            "definition": def,
            "value": {
                "name": field,
                "value": shown.get(field).map(|v| match v {
                    Value::String(s) => Value::String(s.clone()),
                    Value::Null => Value::Null,
                    other => Value::String(other.to_string()),
                }),
                "recommended_values": [],
                "errors": by_field.get(field).cloned().unwrap_or_default(),
                "visible": true,
            }
        })
    };
    let mut configs: Vec<Value> = properties
        .iter()
        .enumerate()
        .map(|(i, p)| entry(definition(p, i + 1), p.name))
        .collect();
    // Problems with properties that have no definition (unknown keys, framework keys).
    for field in by_field.keys() {
        if !properties.iter().any(|p| p.name == *field) {
            let def = json!({
                "name": field, "type": "STRING", "required": false, "default_value": null,
                "importance": "LOW", "documentation": "", "group": null, "width": "NONE",
                "display_name": field, "dependents": [], "order": -1,
            });
            configs.push(entry(def, field));
        }
    }
    let mut groups: Vec<&str> = Vec::new();
    for p in &properties {
        if !groups.contains(&p.group) {
            groups.push(p.group);
        }
    }
    Ok(Json(json!({
        "name": plugin.class(),
        "error_count": errors.len(),
        "groups": groups,
        "configs": configs,
    })))
}
