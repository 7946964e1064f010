//! Debezium's signals: a row of the signal table (`id`, `type`, `data`) or the same JSON
//! through REST, read into an [`Action`].

use regex::Regex;
use serde_json::Value as Json;

/// What a signal asks for.
#[derive(Debug, Clone)]
pub enum Action {
    /// `execute-snapshot` (of type `incremental` or `blocking`).
    Snapshot(SnapshotRequest),
    /// `stop-snapshot`: of these tables (regexes), or of every table when empty.
    Stop(Vec<String>),
    Pause,
    Resume,
    /// `log`: writes `message` to the log.
    Log(String),
    /// An incremental snapshot's watermarks (`snapshot-window-open` / `-close`), with the
    /// chunk id their `id` names.
    WindowOpen(String),
    WindowClose(String),
}

/// An `execute-snapshot` signal's data.
#[derive(Debug, Clone)]
pub struct SnapshotRequest {
    /// `"type": "blocking"`: streaming stops while the tables are read as an initial
    /// snapshot reads them. Otherwise the snapshot is incremental.
    pub blocking: bool,
    /// `data-collections`: regular expressions over `schema.table`, whole-name matches.
    pub collections: Vec<String>,
    /// `additional-conditions`: per table pattern (case-insensitive), an SQL filter: a
    /// `WHERE` condition for an incremental snapshot, a whole `SELECT` statement for a
    /// blocking one (as `snapshot.select.statement.overrides` has it).
    pub conditions: Vec<(Regex, String)>,
    /// `surrogate-key`: the column to chunk by instead of the primary key.
    pub surrogate_key: Option<String>,
}

/// One signal: its id and what it asks for.
#[derive(Debug, Clone)]
pub struct Signal {
    pub id: String,
    pub action: Action,
}

impl Signal {
    /// Reads a signal from its three parts. `data` is JSON text (or empty). An error says
    /// what is wrong and how to write it.
    pub fn parse(id: &str, kind: &str, data: Option<&str>) -> Result<Signal, String> {
        let data: Json = match data.map(str::trim).filter(|d| !d.is_empty()) {
            None => Json::Null,
            Some(text) => serde_json::from_str(text)
                .map_err(|e| format!("signal {id:?}: data is not JSON ({e})"))?,
        };
        let chunk = |suffix: &str| id.strip_suffix(suffix).unwrap_or(id).to_string();
        let action = match kind {
            "execute-snapshot" => Action::Snapshot(snapshot_request(id, &data)?),
            "stop-snapshot" => Action::Stop(collections(&data).unwrap_or_default()),
            "pause-snapshot" => Action::Pause,
            "resume-snapshot" => Action::Resume,
            "log" => Action::Log(
                data.get("message")
                    .and_then(Json::as_str)
                    .unwrap_or_default()
                    .to_string(),
            ),
            "snapshot-window-open" => Action::WindowOpen(chunk("-open")),
            "snapshot-window-close" => Action::WindowClose(chunk("-close")),
            other => {
                return Err(format!(
                    "signal {id:?}: unknown type {other:?}; the types are execute-snapshot, stop-snapshot, pause-snapshot, resume-snapshot and log"
                ));
            }
        };
        Ok(Signal {
            id: id.to_string(),
            action,
        })
    }

    /// Reads the REST body, `{"id": …, "type": …, "data": {…} or "…"}`.
    pub fn from_json(body: &Json) -> Result<Signal, String> {
        let id = body
            .get("id")
            .and_then(Json::as_str)
            .filter(|s| !s.is_empty())
            .ok_or("id is required: a string naming the signal")?;
        let kind = body
            .get("type")
            .and_then(Json::as_str)
            .ok_or("type is required: execute-snapshot, stop-snapshot, pause-snapshot, resume-snapshot or log")?;
        let data = match body.get("data") {
            None | Some(Json::Null) => None,
            Some(Json::String(s)) => Some(s.clone()),
            Some(other) => Some(other.to_string()),
        };
        Signal::parse(id, kind, data.as_deref())
    }
}

fn collections(data: &Json) -> Option<Vec<String>> {
    let list = data.get("data-collections")?.as_array()?;
    Some(
        list.iter()
            .filter_map(Json::as_str)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
    )
}

fn snapshot_request(id: &str, data: &Json) -> Result<SnapshotRequest, String> {
    let kind = data
        .get("type")
        .and_then(Json::as_str)
        .unwrap_or("incremental");
    let blocking = kind.eq_ignore_ascii_case("blocking");
    if !blocking && !kind.eq_ignore_ascii_case("incremental") {
        return Err(format!(
            "signal {id:?}: unknown snapshot type {kind:?}; use \"type\": \"incremental\" or \"blocking\""
        ));
    }
    let collections = collections(data).filter(|c| !c.is_empty()).ok_or_else(|| {
        format!("signal {id:?}: data-collections is required: a list of tables (schema.table, regular expressions)")
    })?;
    for c in &collections {
        Regex::new(&format!("^(?:{c})$"))
            .map_err(|e| format!("signal {id:?}: {c:?} is not a regular expression: {e}"))?;
    }
    let mut conditions = Vec::new();
    for cond in data
        .get("additional-conditions")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        let table = cond.get("data-collection").and_then(Json::as_str);
        let filter = cond.get("filter").and_then(Json::as_str);
        let (Some(table), Some(filter)) = (table, filter) else {
            return Err(format!(
                "signal {id:?}: each additional-conditions entry needs data-collection and filter"
            ));
        };
        let re = Regex::new(&format!("(?i)^(?:{table})$"))
            .map_err(|e| format!("signal {id:?}: {table:?} is not a regular expression: {e}"))?;
        conditions.push((re, filter.to_string()));
    }
    let surrogate_key = data
        .get("surrogate-key")
        .and_then(Json::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    if blocking && surrogate_key.is_some() {
        return Err(format!(
            "signal {id:?}: surrogate-key applies to incremental snapshots only; a blocking snapshot reads whole tables"
        ));
    }
    Ok(SnapshotRequest {
        blocking,
        collections,
        conditions,
        surrogate_key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_debeziums_signals() {
        let s = Signal::parse(
            "ad-hoc-1",
            "execute-snapshot",
            Some(r#"{"data-collections": ["public\\.orders", "inv.*"], "type": "incremental", "additional-conditions": [{"data-collection": "public.orders", "filter": "id > 10"}]}"#),
        )
        .unwrap();
        let Action::Snapshot(r) = s.action else {
            panic!("{s:?}")
        };
        assert_eq!(r.collections, ["public\\.orders", "inv.*"]);
        assert!(r.conditions[0].0.is_match("PUBLIC.ORDERS"));
        assert_eq!(r.conditions[0].1, "id > 10");
        let open = Signal::parse("c1-open", "snapshot-window-open", Some("{}")).unwrap();
        assert!(matches!(open.action, Action::WindowOpen(c) if c == "c1"));
        let err = Signal::parse("x", "execute-snapshot", Some("{}")).unwrap_err();
        assert!(err.contains("data-collections is required"), "{err}");
        let blocking = Signal::parse(
            "b",
            "execute-snapshot",
            Some(r#"{"data-collections": ["a.b"], "type": "BLOCKING"}"#),
        )
        .unwrap();
        assert!(matches!(blocking.action, Action::Snapshot(r) if r.blocking));
        let err = Signal::parse(
            "x",
            "execute-snapshot",
            Some(r#"{"data-collections": ["a.b"], "type": "full"}"#),
        )
        .unwrap_err();
        assert!(err.contains("unknown snapshot type \"full\""), "{err}");
        let rest = Signal::from_json(
            &serde_json::json!({"id": "r", "type": "log", "data": {"message": "hi"}}),
        )
        .unwrap();
        assert!(matches!(rest.action, Action::Log(m) if m == "hi"));
    }
}
