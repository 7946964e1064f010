//! Kafka Connect's JSON shapes for connectors, their status and tasks.

use serde_json::{Value, json};

use crate::connector::{State, Status};
use crate::manager::{InfoView, StatusView};
use crate::secrets::masked;

/// `{"name", "config", "tasks", "type"}`.
pub fn info(view: &InfoView) -> Value {
    let tasks = if view.stopped {
        json!([])
    } else {
        json!([{"connector": view.name, "task": 0}])
    };
    json!({
        "name": view.name,
        "config": masked(&view.config),
        "tasks": tasks,
        "type": view.kind.plugin_type(),
    })
}

fn state_text(s: State) -> Value {
    serde_json::to_value(s).unwrap_or(Value::Null)
}

/// One task's status: `{"id", "state", "worker_id", "trace"?, "snapshot"?}`.
pub fn task(status: &Status, worker_id: &str) -> Value {
    let mut t = json!({"id": 0, "state": state_text(status.state), "worker_id": worker_id});
    if let Some(trace) = &status.trace {
        t["trace"] = json!(trace);
    }
    if let Some(snapshot) = &status.snapshot {
        t["snapshot"] = snapshot.clone();
    }
    t
}

/// `{"name", "connector": {"state", "worker_id", "trace"?, "slot"?}, "tasks", "type"}`.
pub fn status(name: &str, view: &StatusView, worker_id: &str) -> Value {
    let mut connector = json!({"state": state_text(view.connector), "worker_id": worker_id});
    if let Some(trace) = &view.connector_trace {
        connector["trace"] = json!(trace);
    }
    if let Some(slot) = &view.slot {
        connector["slot"] = slot.clone();
    }
    let tasks: Vec<Value> = view.task.iter().map(|t| task(t, worker_id)).collect();
    json!({"name": name, "connector": connector, "tasks": tasks, "type": view.kind})
}

/// The task list: `[{"id": {"connector", "task"}, "config"}]`.
pub fn tasks(view: &InfoView) -> Value {
    if view.stopped {
        return json!([]);
    }
    let mut config = masked(&view.config);
    config.insert("task.class".into(), json!(view.kind.task_class()));
    json!([{"id": {"connector": view.name, "task": 0}, "config": config}])
}
