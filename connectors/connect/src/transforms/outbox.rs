//! The outbox pattern: Debezium's `EventRouter` (`io.debezium.transforms.outbox.EventRouter`,
//! 3.6) turns the insert of an outbox row into an event on the aggregate's topic — the
//! payload as value, the aggregate id as key, the event id as header `id`. With
//! `DecodeLogicalDecodingMessageContent` (`decode_message.rs`) before it, a logical decoding
//! message whose content is the row as JSON is routed the same way.

use std::sync::Arc;

use tributary_core::{Field, Schema, SchemaType, Value};

use super::json_data::{Expansion, expand};
use super::routers::RegexRouter;
use super::util::{self, ByStructure, get, typed};
use super::{Built, Settings, Transform};
use crate::config::Findings;
use crate::record::{Header, Record};

const EVENT_ROUTER: &str = "io.debezium.transforms.outbox.EventRouter";

pub(super) fn build(class: &str, s: &Settings<'_>, found: &mut Findings) -> Option<Built> {
    Some(match class {
        EVENT_ROUTER => EventRouter::configure(s, found)
            .map(|t| ("EventRouter", Box::new(t) as Box<dyn Transform>)),
        _ => return None,
    })
}

/// `table.fields.additional.placement`: where an extra outbox column goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placement {
    Envelope,
    Header,
    Partition,
}

#[derive(Debug, Clone)]
struct Additional {
    field: String,
    placement: Placement,
    alias: String,
}

/// `table.op.invalid.behavior`: what an update of an outbox row does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnUpdate {
    Warn,
    Error,
    Fatal,
}

/// The additional fields placed in the envelope (index in the value schema, value), and the
/// partition.
type Placed = (Vec<(usize, Value)>, Option<i32>);

/// The schemas derived from one `after` schema: the header and key schemas.
struct AfterShape {
    after: Arc<Schema>,
    /// The payload field's schema, when the row has the field.
    payload: Option<Arc<Schema>>,
    id: Arc<Schema>,
    key: Arc<Schema>,
    headers: Vec<Option<Arc<Schema>>>,
}

pub(super) struct EventRouter {
    id: String,
    key: String,
    payload: String,
    timestamp: Option<String>,
    route_by: String,
    schema_version: Option<String>,
    additional: Vec<Additional>,
    missing_ignored: bool,
    on_update: OnUpdate,
    tombstone_on_empty: bool,
    expand: bool,
    null_as_bytes: bool,
    router: RegexRouter,
    /// `after` schemas by envelope schema (pointer), with what derives from them.
    shapes: Vec<(Arc<Schema>, Arc<AfterShape>)>,
    /// Value schemas by payload schema, as Java's `payloadSchemaCache`: the first record of
    /// a payload schema names it (after its `route.by.field` value).
    values: ByStructure<Schema>,
    /// Value schemas by `table.field.event.schema.version`.
    versioned: ByStructure<Option<i32>>,
    /// Expanded payloads' schemas, one shared copy per schema (what follows the transform
    /// caches by pointer).
    expanded: ByStructure<Schema>,
}

impl EventRouter {
    fn configure(s: &Settings<'_>, found: &mut Findings) -> Result<Self, ()> {
        let mut ok = s.only(
            found,
            &[
                "table.field.event.id",
                "table.field.event.key",
                "table.field.event.type",
                "table.field.event.payload",
                "table.field.event.timestamp",
                "table.fields.additional.placement",
                "table.field.additional.missing",
                "table.field.event.schema.version",
                "route.by.field",
                "route.topic.regex",
                "route.topic.replacement",
                "route.tombstone.on.empty.payload",
                "table.op.invalid.behavior",
                "table.expand.json.payload",
                "table.json.payload.null.behavior",
                "field.name.adjustment.mode",
            ],
        );
        if s.get("table.field.event.type").is_some() {
            found.warn(
                &s.field("table.field.event.type"),
                "has no effect, as in Debezium 3.6: the router does not read the event type; put it in a header with table.fields.additional.placement=type:header",
            );
        }
        let text = |key: &str, default: &str| s.get(key).unwrap_or(default).to_owned();
        let choice = |found: &mut Findings, key: &str, options: &[&str]| -> Option<usize> {
            let v = s.get(key)?.to_ascii_lowercase();
            let i = options.iter().position(|o| *o == v);
            if i.is_none() {
                found.error(
                    &s.field(key),
                    format!("{v:?} is not one of {}", options.join(", ")),
                );
            }
            i
        };
        let on_update = match choice(
            found,
            "table.op.invalid.behavior",
            &["warn", "error", "fatal"],
        ) {
            Some(1) => OnUpdate::Error,
            Some(2) => OnUpdate::Fatal,
            _ => OnUpdate::Warn,
        };
        let missing_ignored = choice(
            found,
            "table.field.additional.missing",
            &["error", "ignore"],
        ) == Some(1);
        let null_as_bytes = choice(
            found,
            "table.json.payload.null.behavior",
            &["ignore", "optional_bytes"],
        ) == Some(1);
        if s.get("field.name.adjustment.mode")
            .is_some_and(|m| !m.eq_ignore_ascii_case("none"))
        {
            found.error(
                &s.field("field.name.adjustment.mode"),
                "only none is implemented for the names of an expanded JSON payload",
            );
            ok = false;
        }
        let mut additional = Vec::new();
        for spec in s.list("table.fields.additional.placement") {
            let parts: Vec<&str> = spec.split(':').map(str::trim).collect();
            let placement = match parts.get(1).map(|p| p.to_ascii_lowercase()).as_deref() {
                Some("envelope") => Some(Placement::Envelope),
                Some("header") => Some(Placement::Header),
                Some("partition") => Some(Placement::Partition),
                _ => None,
            };
            match (parts.len(), placement) {
                (2 | 3, Some(placement)) => additional.push(Additional {
                    field: parts[0].to_owned(),
                    placement,
                    alias: parts.get(2).unwrap_or(&parts[0]).to_string(),
                }),
                _ => {
                    found.error(
                        &s.field("table.fields.additional.placement"),
                        format!(
                            "{spec:?} is not field:placement or field:placement:alias with a placement of envelope, header or partition"
                        ),
                    );
                    ok = false;
                }
            }
        }
        let router = RegexRouter::new(
            s.get("route.topic.regex").unwrap_or("(?<routedByValue>.*)"),
            s.get("route.topic.replacement")
                .unwrap_or("outbox.event.${routedByValue}"),
        )
        .map_err(|e| found.error(&s.field("route.topic.regex"), e));
        let t = EventRouter {
            id: text("table.field.event.id", "id"),
            key: text("table.field.event.key", "aggregateid"),
            payload: text("table.field.event.payload", "payload"),
            timestamp: s
                .get("table.field.event.timestamp")
                .filter(|t| !t.is_empty())
                .map(str::to_owned),
            route_by: text("route.by.field", "aggregatetype"),
            schema_version: s
                .get("table.field.event.schema.version")
                .filter(|t| !t.is_empty())
                .map(str::to_owned),
            additional,
            missing_ignored,
            on_update,
            tombstone_on_empty: s.boolean(found, "route.tombstone.on.empty.payload", false),
            expand: s.boolean(found, "table.expand.json.payload", false),
            null_as_bytes,
            router: router?,
            shapes: Vec::new(),
            values: ByStructure::default(),
            versioned: ByStructure::default(),
            expanded: ByStructure::default(),
        };
        if ok && found.errors.is_empty() {
            Ok(t)
        } else {
            Err(())
        }
    }

    /// Only headers: no additional field goes into the envelope, so the value is the
    /// payload itself.
    fn payload_only(&self) -> bool {
        !self
            .additional
            .iter()
            .any(|a| a.placement == Placement::Envelope)
    }

    /// The `after` schema of an envelope, and the schemas derived from it.
    fn shape(&mut self, envelope: &Arc<Schema>) -> Result<Arc<AfterShape>, String> {
        if let Some((_, s)) = self.shapes.iter().find(|(e, _)| Arc::ptr_eq(e, envelope)) {
            return Ok(s.clone());
        }
        let after = &envelope
            .fields()
            .iter()
            .find(|f| f.name == "after")
            .ok_or("Unknown field: after")?
            .schema;
        let field = |name: &str| {
            after
                .fields()
                .iter()
                .find(|f| f.name == name)
                .map(|f| Arc::new(f.schema.clone()))
        };
        let shape = Arc::new(AfterShape {
            id: field(&self.id).unwrap_or_else(|| Arc::new(Schema::string())),
            key: field(&self.key).unwrap_or_else(|| Arc::new(Schema::string())),
            headers: self.additional.iter().map(|a| field(&a.field)).collect(),
            payload: field(&self.payload),
            after: Arc::new(after.clone()),
        });
        if self.shapes.len() >= 16 {
            self.shapes.remove(0);
        }
        self.shapes.push((envelope.clone(), shape.clone()));
        Ok(shape)
    }

    /// The value schema: `payload`, then the additional fields placed in the envelope, named
    /// after the `after` schema with the routed value spliced in; built once per payload
    /// schema (or schema version).
    fn value_schema(
        &mut self,
        payload: &Schema,
        after: &Schema,
        routed: &str,
        version: Option<Option<i32>>,
    ) -> Result<Arc<Schema>, String> {
        let (additional, missing_ignored) = (&self.additional, self.missing_ignored);
        let build = || -> Result<Schema, String> {
            let name = match after.name.as_deref() {
                Some(n) => match n.rfind('.') {
                    Some(dot) => format!("{}{routed}.{}", &n[..=dot], &n[dot + 1..]),
                    None => format!("{routed}.{n}"),
                },
                None => routed.to_owned(),
            };
            let mut fields = vec![Field::new("payload", payload.clone())];
            for a in additional
                .iter()
                .filter(|a| a.placement == Placement::Envelope)
            {
                match after.fields().iter().find(|f| f.name == a.field) {
                    Some(f) => {
                        if fields.iter().any(|o| o.name == a.alias) {
                            return Err(format!(
                                "Cannot create field because of field name duplication {}",
                                a.alias
                            ));
                        }
                        fields.push(Field::new(a.alias.clone(), f.schema.clone()));
                    }
                    None if missing_ignored => {}
                    None => return Err(format!("Unable to find field {} in event", a.field)),
                }
            }
            let mut s = Schema::new(SchemaType::Struct(fields)).named(name);
            s.version = version.flatten();
            Ok(s)
        };
        match version {
            Some(v) => self.versioned.get_or(v, build),
            None => self.values.get_or_by(payload, build),
        }
    }
}

impl Transform for EventRouter {
    fn apply(&mut self, mut r: Record) -> Result<Option<Record>, String> {
        if r.value.is_none() {
            // A tombstone (the outbox row's delete) has nothing to route.
            return Ok(None);
        }
        let Some(envelope) = r
            .value_schema
            .clone()
            .filter(|s| util::is_envelope(Some(s)))
        else {
            // Heartbeats, transaction metadata, messages: not change events, unchanged.
            return Ok(Some(r));
        };
        let values = util::struct_values(
            r.value.take().unwrap_or(Value::Null),
            "Detect Debezium Operation",
        )?;
        if !self.routes(&envelope, &values, &r.key)? {
            return Ok(None);
        }
        let shape = self.shape(&envelope)?;
        let after_schema = &shape.after;
        let (_, after) = get(&envelope, &values, "after")?;
        let Value::Struct(row) = after else {
            return Err(format!(
                "Only Struct objects supported for [Read Outbox Event], found: {}",
                util::kind(&after)
            ));
        };
        let Some(mut payload_schema) = shape.payload.clone() else {
            return Err(format!(
                "Unable to find payload field {} in event",
                self.payload
            ));
        };
        let timestamp = self.timestamp(&envelope, &values, after_schema, &row)?;
        let (_, id) = get(after_schema, &row, &self.id)?;
        let (_, mut payload) = get(after_schema, &row, &self.payload)?;
        r.headers.push(Header {
            key: "id".into(),
            schema: Some(shape.id.clone()),
            value: Some(id).filter(|v| !v.is_null()),
        });
        if self.expand {
            (payload_schema, payload) = self.expand(payload_schema, payload, &r.key)?;
        }
        let (_, routed) = typed(after_schema, &row, &self.route_by, SchemaType::String)?;
        let Value::String(routed) = routed else {
            return Err(format!(
                "the {} of the outbox row is null: no topic to route to",
                self.route_by
            ));
        };
        let value_schema = if self.payload_only() {
            None
        } else {
            let version = match &self.schema_version {
                Some(field) => Some(
                    match typed(after_schema, &row, field, SchemaType::Int32)?.1 {
                        Value::Int32(v) => Some(v),
                        _ => None,
                    },
                ),
                None => None,
            };
            Some(self.value_schema(&payload_schema, after_schema, &routed, version)?)
        };
        let (placed, partition) =
            self.place(&shape, &row, value_schema.as_deref(), &mut r.headers)?;
        let (value_schema, value) = self.value(payload, payload_schema, value_schema, placed)?;
        let (_, key) = get(after_schema, &row, &self.key)?;
        let out = Record {
            topic: routed,
            partition,
            key_schema: Some(shape.key.clone()),
            key: Some(key).filter(|v| !v.is_null()),
            value_schema,
            value: value.filter(|v| !v.is_null()),
            timestamp,
            headers: std::mem::take(&mut r.headers),
        };
        self.router.apply(out)
    }
}

impl EventRouter {
    /// Whether the change event is an insert (or read) to route. A delete is dropped; an
    /// update is dropped or fails, as `table.op.invalid.behavior` says.
    fn routes(
        &self,
        envelope: &Schema,
        values: &[Value],
        key: &Option<Value>,
    ) -> Result<bool, String> {
        let (_, op) = typed(envelope, values, "op", SchemaType::String)?;
        match op.as_str() {
            Some("d") => Ok(false),
            Some("u") => {
                let key = format!("{key:?}");
                match self.on_update {
                    OnUpdate::Warn => {
                        tracing::warn!(key, "outbox row updated: the EventRouter skips it");
                        Ok(false)
                    }
                    OnUpdate::Error => {
                        tracing::error!(key, "outbox row updated: the EventRouter skips it");
                        Ok(false)
                    }
                    OnUpdate::Fatal => {
                        Err(format!("Unexpected update message received {key}, fail."))
                    }
                }
            }
            Some(_) => Ok(true),
            None => Err("the change event has no op".into()),
        }
    }

    /// `table.expand.json.payload`: a string payload parsed as JSON, with a schema inferred
    /// from it; what cannot be parsed stays a string.
    fn expand(
        &mut self,
        payload_schema: Arc<Schema>,
        payload: Value,
        key: &Option<Value>,
    ) -> Result<(Arc<Schema>, Value), String> {
        match &payload {
            Value::String(text) => match expand(text, &self.payload, self.null_as_bytes) {
                Ok((schema, value)) => {
                    let shared = self.expanded.get_or_by(&schema, || Ok(schema.clone()))?;
                    return Ok((shared, value));
                }
                // A JSON payload whose data does not fit its own schema: Java has
                // replaced the schema but not the payload, which then fails.
                Err(Expansion::Data(e)) => return Err(e),
                Err(Expansion::Schema(e)) => {
                    tracing::warn!(
                        error = e,
                        "JSON expansion failed: the payload stays a string"
                    );
                }
            },
            Value::Null => {}
            _ => tracing::warn!(
                key = format!("{key:?}"),
                "expand JSON payload is turned on but the payload is not a string"
            ),
        }
        Ok((payload_schema, payload))
    }

    /// `table.fields.additional.placement`: the envelope fields (index in the value schema,
    /// value), the headers (added to `headers`) and the partition.
    fn place(
        &self,
        shape: &AfterShape,
        row: &[Value],
        value_schema: Option<&Schema>,
        headers: &mut Vec<Header>,
    ) -> Result<Placed, String> {
        let after_schema = &shape.after;
        let mut placed: Vec<(usize, Value)> = Vec::new();
        let mut partition = None;
        for (a, header_schema) in self.additional.iter().zip(&shape.headers) {
            if self.missing_ignored && util::index(after_schema, &a.field).is_none() {
                continue;
            }
            match a.placement {
                Placement::Envelope => {
                    let (_, v) = get(after_schema, row, &a.field)?;
                    let schema = value_schema.unwrap_or(after_schema);
                    let i = util::index(schema, &a.alias)
                        .ok_or_else(|| format!("{} is not a valid field name", a.alias))?;
                    placed.push((i, v));
                }
                Placement::Header => {
                    let (_, v) = get(after_schema, row, &a.field)?;
                    headers.push(Header {
                        key: a.alias.clone(),
                        schema: header_schema.clone(),
                        value: Some(v).filter(|v| !v.is_null()),
                    });
                }
                Placement::Partition => {
                    partition = match typed(after_schema, row, &a.field, SchemaType::Int32)?.1 {
                        Value::Int32(p) => Some(p),
                        _ => None,
                    };
                }
            }
        }
        Ok((placed, partition))
    }

    /// The routed record's value: a tombstone for an empty payload
    /// (`route.tombstone.on.empty.payload`), the payload in the envelope with its placed
    /// fields, or the payload alone.
    fn value(
        &self,
        payload: Value,
        payload_schema: Arc<Schema>,
        value_schema: Option<Arc<Schema>>,
        placed: Vec<(usize, Value)>,
    ) -> Result<(Option<Arc<Schema>>, Option<Value>), String> {
        let empty = match &payload {
            Value::Null => true,
            Value::String(s) => s.trim_matches(|c: char| c <= ' ').is_empty(),
            _ => false,
        };
        Ok(if empty && self.tombstone_on_empty {
            (None, None)
        } else if let Some(schema) = value_schema {
            // `Struct.put` checks the payload against the (cached) value schema's.
            let expected = &schema.fields()[0].schema;
            let fits = match (&expected.ty, &payload_schema.ty) {
                (SchemaType::Struct(_), _) | (_, SchemaType::Struct(_)) => {
                    *expected == *payload_schema
                }
                (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
            };
            if !fits {
                return Err(format!(
                    "Invalid value: the payload's {} does not fit the value schema's {} (it was built for an earlier payload of the same schema version)",
                    payload_schema.type_name(),
                    expected.type_name()
                ));
            }
            let mut fields = vec![Value::Null; schema.fields().len()];
            fields[0] = payload;
            for (i, v) in placed {
                fields[i] = v;
            }
            (Some(schema), Some(Value::Struct(fields)))
        } else {
            (Some(payload_schema), Some(payload))
        })
    }
}

impl EventRouter {
    /// The record's timestamp: the envelope's `ts_ms`, or `table.field.event.timestamp`'s
    /// value in milliseconds.
    fn timestamp(
        &self,
        envelope: &Schema,
        values: &[Value],
        after: &Schema,
        row: &[Value],
    ) -> Result<Option<i64>, String> {
        let ts_ms = || -> Result<Option<i64>, String> {
            Ok(
                match typed(envelope, values, "ts_ms", SchemaType::Int64)?.1 {
                    Value::Int64(t) => Some(t),
                    _ => None,
                },
            )
        };
        let Some(field) = &self.timestamp else {
            return ts_ms();
        };
        let Some(f) = after.fields().iter().find(|f| f.name == *field) else {
            return Err(format!("Unable to find timestamp field {field} in event"));
        };
        let (_, v) = typed(after, row, field, SchemaType::Int64)?;
        let Value::Int64(t) = v else {
            return ts_ms();
        };
        match f.schema.name.as_deref() {
            // Connect's Timestamp is a java.util.Date, which Java reads as a Long and fails.
            Some("org.apache.kafka.connect.data.Timestamp") => Err(format!(
                "the timestamp field {field} is a Connect Timestamp, which Debezium's EventRouter cannot read as a number (use time.precision.mode=adaptive or adaptive_time_microseconds)"
            )),
            Some("io.debezium.time.Timestamp") => Ok(Some(t)),
            Some("io.debezium.time.MicroTimestamp") => Ok(Some(t / 1_000)),
            Some("io.debezium.time.NanoTimestamp") => Ok(Some(t / 1_000_000)),
            Some(other) => Err(format!(
                "Unsupported field type {other} for event timestamp"
            )),
            None => Err(
                "Unsupported field type INT64 (without logical schema name) for event timestamp"
                    .into(),
            ),
        }
    }
}
