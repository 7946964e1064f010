//! `/connector-plugins`: the one plugin this daemon runs, its property definitions and
//! Kafka Connect's config validation.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Map, Value, json};
use tributary_postgres::config::{CONNECTOR_CLASSES, PROPERTIES, PropertyDef};

use super::error::{Body, ErrorBody, Segment};
use super::{ApiError, ApiState};

/// Debezium's class name: the name the plugin is listed under.
pub const CLASS: &str = "io.debezium.connector.postgresql.PostgresConnector";

fn plugin(name: &str) -> Result<(), ApiError> {
    let known = CONNECTOR_CLASSES.contains(&name) || name.eq_ignore_ascii_case("postgres");
    if known {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "Failed to find any class that implements Connector and which name matches {name}; this daemon runs {CLASS}"
            ),
        ))
    }
}

/// The installed connector plugins.
#[utoipa::path(get, path = "/connector-plugins", tag = "plugins",
    responses((status = 200, description = "`[{class, type, version}]`")))]
pub async fn list() -> Json<Value> {
    Json(json!([{"class": CLASS, "type": "source", "version": tributary_core::VERSION}]))
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
    plugin(&name)?;
    let defs: Vec<Value> = PROPERTIES
        .iter()
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
    Body(config): Body<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    plugin(&name)?;
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
    let mut configs: Vec<Value> = PROPERTIES
        .iter()
        .enumerate()
        .map(|(i, p)| entry(definition(p, i + 1), p.name))
        .collect();
    // Problems with properties that have no definition (unknown keys, framework keys).
    for field in by_field.keys() {
        if !PROPERTIES.iter().any(|p| p.name == *field) {
            let def = json!({
                "name": field, "type": "STRING", "required": false, "default_value": null,
                "importance": "LOW", "documentation": "", "group": null, "width": "NONE",
                "display_name": field, "dependents": [], "order": -1,
            });
            configs.push(entry(def, field));
        }
    }
    let mut groups: Vec<&str> = Vec::new();
    for p in PROPERTIES {
        if !groups.contains(&p.group) {
            groups.push(p.group);
        }
    }
    Ok(Json(json!({
        "name": CLASS,
        "error_count": errors.len(),
        "groups": groups,
        "configs": configs,
    })))
}
