//! A captured table's current shape and how its rows become event values.
//!
//! [`TableState`] is built from the columns of a Relation message (or, for the snapshot,
//! from the catalog) plus the catalog's primary key and nullability, and holds everything
//! needed per row: which columns go to the key and to the value, their schemas and their
//! parsers. It is immutable; a shape change builds a new one with a higher version.

use std::sync::Arc;

use tributary_core::envelope::envelope_schema;
use tributary_core::{Field, Schema, SchemaType, TableSchemas, Value};

use crate::catalog::{ReplicaIdentity, TableMeta};
use crate::config::{PostgresConnectorConfig, Reselector, TableId};
use crate::mappers::{Mapped, MappedColumn, ValueMapper, mark};
use crate::types::{
    ConvertingFailure, JdbcColumn, ProcessingFailure, ShapeSource, TypeError, TypeRegistry,
    ValueParser, map_column, unavailable_value,
};

/// One column value as it arrives, from pgoutput or from COPY.
#[derive(Debug, Clone, Copy)]
pub enum Cell<'a> {
    Null,
    /// An unchanged TOASTed value that pgoutput did not send.
    Unchanged,
    Text(&'a str),
}

/// A column of the wire tuple: its name, type and how it is parsed.
#[derive(Debug, Clone)]
pub struct WireColumn {
    pub name: String,
    pub type_oid: u32,
    pub typmod: i32,
}

impl From<&crate::pgoutput::RelationColumn> for WireColumn {
    fn from(c: &crate::pgoutput::RelationColumn) -> Self {
        WireColumn {
            name: c.name.clone(),
            type_oid: c.type_oid,
            typmod: c.type_modifier,
        }
    }
}

impl From<&crate::catalog::ColumnMeta> for WireColumn {
    fn from(c: &crate::catalog::ColumnMeta) -> Self {
        WireColumn {
            name: c.name.clone(),
            type_oid: c.type_oid,
            typmod: c.typmod,
        }
    }
}

#[derive(Debug, Clone)]
struct Slot {
    parser: ValueParser,
    /// The placeholder for an unchanged TOASTed value of this column.
    unavailable: Value,
    in_value: bool,
    /// Whether the key holds this column.
    in_key: bool,
    /// The value's field for this column requires a value (NOT NULL, no default fill).
    required: bool,
    /// A column mapper's rewrite of the value's field (never the key's).
    mapper: Option<ValueMapper>,
    /// What a NULL of a NOT NULL column is before a mapper sees it: its default, or a
    /// string's `""` (Debezium's converters fill those in first).
    required_fill: Option<Value>,
}

impl Slot {
    /// `v` through the column's mapper (a NOT NULL column's NULL filled in first, as
    /// Debezium's converters fill it); `v` itself without one.
    fn mapped(&self, v: Value) -> Value {
        let Some(mapper) = &self.mapper else {
            return v;
        };
        let value = match (v, &self.required_fill) {
            (Value::Null, Some(fill)) => fill.clone(),
            (value, _) => value,
        };
        mapper.apply(value)
    }
}

/// Whether `v` is the unavailable-value placeholder as Debezium's reselector recognises it
/// (`isUnavailableValueHolder`): the whole value, or one element of an array.
fn is_placeholder(v: &Value, schema: &Schema, placeholder: &Value) -> bool {
    if v == placeholder {
        return true;
    }
    let (Value::Array(items), Value::Array(ph)) = (v, placeholder) else {
        return false;
    };
    match (&schema.ty, ph.as_slice()) {
        (SchemaType::Array(item), [one])
            if matches!(item.ty, SchemaType::String | SchemaType::Bytes) =>
        {
            items.contains(one)
        }
        _ => false,
    }
}

/// The Connect default of a column, as Debezium reads it from the catalog.
fn default_of(
    registry: &TypeRegistry,
    type_oid: u32,
    cat: Option<&crate::catalog::ColumnMeta>,
    mapping: &crate::types::ColumnMapping,
) -> Option<Value> {
    let expr = cat?.default_expr.as_deref()?;
    let ty = registry.get(type_oid)?;
    let is_enum = matches!(ty.kind, crate::types::PgTypeKind::Enum { .. });
    crate::types::column_default(&ty.name, is_enum, expr, mapping)
}

/// The column mapper (`column.truncate.*`, `column.mask.*`, `*.propagate.source.type`) of
/// a column, if one matches: the schema parameters it adds and its value rewrite.
fn column_mapper(
    meta: &TableMeta,
    col: &WireColumn,
    cat: Option<&crate::catalog::ColumnMeta>,
    source: ShapeSource,
    config: &PostgresConnectorConfig,
    registry: &TypeRegistry,
) -> Option<Mapped> {
    if config.column_mappers.is_empty() {
        return None;
    }
    let jdbc = JdbcColumn::of(registry, col.type_oid, col.typmod, source);
    let mut type_name = registry.get(col.type_oid).map_or("", |t| t.name.as_str());
    // pgjdbc's `getColumns` names an integer column that defaults to a sequence `serial`.
    let sequence = cat
        .and_then(|c| c.default_expr.as_deref())
        .is_some_and(|d| d.contains("nextval("));
    if source == ShapeSource::Jdbc && sequence {
        type_name = match type_name {
            "int4" => "serial",
            "int8" => "bigserial",
            "int2" => "smallserial",
            other => other,
        };
    }
    config.column_mappers.for_column(&MappedColumn {
        table: &meta.id,
        name: &col.name,
        type_name,
        jdbc: &jdbc,
    })
}

/// Error turning a tuple into event values.
#[derive(Debug, thiserror::Error)]
pub enum RowError {
    #[error("table {table}: column {column}: {source}")]
    Value {
        table: TableId,
        column: String,
        #[source]
        source: TypeError,
    },
    #[error(
        "table {table}: column {column}: its value converted to NULL (a warning before may say why), but its field requires a value\nHINT: set event.processing.failure.handling.mode=warn to skip such events"
    )]
    Required { table: TableId, column: String },
    #[error(
        "table {table}: {message}\nHINT: reselect.error.handling.mode=warn leaves the values as they were, with a warning"
    )]
    Reselect { table: TableId, message: String },
    #[error(
        "table {table}: tuple has {got} columns but the table has {expected}\nHINT: this is a bug or a protocol mismatch; please report it"
    )]
    Arity {
        table: TableId,
        got: usize,
        expected: usize,
    },
}

impl RowError {
    /// Applies `event.processing.failure.handling.mode` to the event at `at` that this
    /// error kept from being made, as Debezium's `EventDispatcher` does: `Ok` when the
    /// event is left out (the offset moves past it all the same), the error under `fail`.
    pub fn handle(
        self,
        mode: ProcessingFailure,
        at: impl std::fmt::Display,
    ) -> Result<(), crate::error::SourceError> {
        match mode {
            ProcessingFailure::Fail => Err(crate::error::SourceError::Event {
                at: at.to_string(),
                source: self,
            }),
            ProcessingFailure::Warn => {
                tracing::warn!(%at, error = %self, "error while processing an event; it is skipped (event.processing.failure.handling.mode=warn)");
                Ok(())
            }
            ProcessingFailure::Skip | ProcessingFailure::Ignore => {
                tracing::debug!(%at, error = %self, "error while processing an event; it is skipped");
                Ok(())
            }
        }
    }
}

/// The current shape of a captured table.
#[derive(Debug)]
pub struct TableState {
    pub id: TableId,
    pub oid: u32,
    pub schemas: Arc<TableSchemas>,
    pub schema_name: Arc<str>,
    pub table_name: Arc<str>,
    pub replica_identity: ReplicaIdentity,
    /// Column names in wire order.
    pub columns: Vec<String>,
    slots: Vec<Slot>,
    /// Wire indexes of the key columns, in key order.
    key: Vec<usize>,
    /// Wire indexes of the primary key's columns (whatever `message.key.columns` says).
    primary_key: Vec<usize>,
    /// A last key field's value, the same in every key (`topic.key.field.name`).
    key_extra: Option<Value>,
    /// Columns whose type has no mapping (left out unless `include.unknown.datatypes`).
    pub unknown_columns: Vec<String>,
    /// `event.converting.failure.handling.mode`.
    converting: ConvertingFailure,
}

impl TableState {
    /// Builds the state of `meta` for tuples laid out as `wire` (wire order), learned
    /// from `source` (the catalog for a snapshot, a Relation message for the stream).
    pub fn build(
        meta: &TableMeta,
        wire: &[WireColumn],
        source: ShapeSource,
        config: &PostgresConnectorConfig,
        registry: &TypeRegistry,
        version: u64,
    ) -> Result<TableState, String> {
        let topic: Arc<str> = config.topic_for(&meta.id).into();
        let mut slots = Vec::with_capacity(wire.len());
        let mut value_fields = Vec::new();
        let mut unknown_columns = Vec::new();
        for col in wire {
            let cat = meta.columns.iter().find(|c| c.name == col.name);
            let not_null = cat.is_some_and(|c| c.not_null);
            let mut mapping = map_column(
                registry,
                col.type_oid,
                col.typmod,
                !not_null,
                &config.type_modes,
            );
            mapping.schema.default = default_of(registry, col.type_oid, cat, &mapping);
            if mapping.unknown {
                unknown_columns.push(col.name.clone());
            }
            let in_value = config.filters.accepts_column(&meta.id, &col.name)
                && (!mapping.unknown || config.type_modes.include_unknown);
            let unavailable =
                unavailable_value(&mapping.schema, &config.unavailable_value_placeholder);
            let required_fill = match (&mapping.schema.default, mapping.schema.optional) {
                (_, true) => None,
                (Some(default), false) => Some(default.clone()),
                (None, false) => {
                    (mapping.schema.ty == SchemaType::String).then(|| Value::String(String::new()))
                }
            };
            let (schema, mapper) = match column_mapper(meta, col, cat, source, config, registry) {
                Some(mapped) => (mark(mapping.schema, mapped.params), mapped.values),
                None => (mapping.schema, None),
            };
            let required = in_value && !schema.optional;
            if in_value {
                value_fields.push(Field::new(col.name.clone(), schema));
            }
            slots.push(Slot {
                unavailable,
                parser: mapping.parser,
                in_value,
                in_key: false,
                required,
                mapper,
                required_fill,
            });
        }
        let key_names: Vec<String> = match config.key_columns.for_table(&meta.id) {
            Some(cols) => cols.to_vec(),
            None => meta.primary_key().into_iter().map(str::to_string).collect(),
        };
        let mut key = Vec::with_capacity(key_names.len());
        let mut key_fields = Vec::with_capacity(key_names.len());
        for name in &key_names {
            let Some(i) = wire.iter().position(|c| &c.name == name) else {
                return Err(format!(
                    "key column {name:?} of table {} does not exist; check message.key.columns",
                    meta.id
                ));
            };
            let col = &wire[i];
            let mut mapping = map_column(
                registry,
                col.type_oid,
                col.typmod,
                false,
                &config.type_modes,
            );
            let cat = meta.columns.iter().find(|c| &c.name == name);
            mapping.schema.default = default_of(registry, col.type_oid, cat, &mapping);
            key.push(i);
            slots[i].in_key = true;
            key_fields.push(Field::new(name.clone(), mapping.schema));
        }
        // The regex topic naming strategies name the original topic in every key.
        let key_extra = config.topics.key_field(&meta.id).map(|(name, value)| {
            key_fields.push(Field::new(name, Schema::string()));
            Value::String(value)
        });
        let value = Schema::structure(format!("{topic}.Value"), value_fields);
        let key_schema =
            (!key_fields.is_empty()).then(|| Schema::structure(format!("{topic}.Key"), key_fields));
        let envelope = envelope_schema(&topic, &value);
        Ok(TableState {
            id: meta.id.clone(),
            oid: meta.oid,
            schemas: Arc::new(TableSchemas {
                topic,
                key: key_schema,
                value,
                envelope,
                version,
            }),
            schema_name: meta.id.schema.as_str().into(),
            table_name: meta.id.name.as_str().into(),
            replica_identity: meta.replica_identity,
            columns: wire.iter().map(|c| c.name.clone()).collect(),
            slots,
            key,
            primary_key: meta
                .primary_key()
                .into_iter()
                .filter_map(|name| wire.iter().position(|c| c.name == name))
                .collect(),
            key_extra,
            unknown_columns,
            converting: config.converting_failure,
        })
    }

    /// Parses a tuple into its key (when the table has one) and value struct.
    pub fn convert<'a>(
        &self,
        cells: impl ExactSizeIterator<Item = Cell<'a>>,
    ) -> Result<(Option<Value>, Value), RowError> {
        self.convert_with(cells, false)
    }

    /// [`TableState::convert`] for a snapshot row (see `ValueParser::parse_snapshot`).
    pub fn convert_snapshot<'a>(
        &self,
        cells: impl ExactSizeIterator<Item = Cell<'a>>,
    ) -> Result<(Option<Value>, Value), RowError> {
        self.convert_with(cells, true)
    }

    fn convert_with<'a>(
        &self,
        cells: impl ExactSizeIterator<Item = Cell<'a>>,
        snapshot: bool,
    ) -> Result<(Option<Value>, Value), RowError> {
        if cells.len() != self.slots.len() {
            return Err(RowError::Arity {
                table: self.id.clone(),
                got: cells.len(),
                expected: self.slots.len(),
            });
        }
        let mut all = Vec::with_capacity(self.slots.len());
        for ((cell, slot), name) in cells.zip(&self.slots).zip(&self.columns) {
            all.push(self.cell_value(slot, name, cell, snapshot)?);
        }
        let key = (!self.key.is_empty() || self.key_extra.is_some()).then(|| {
            let fields = self.key.iter().map(|&i| all[i].clone());
            Value::Struct(fields.chain(self.key_extra.clone()).collect())
        });
        for (v, slot) in all.iter_mut().zip(&self.slots) {
            if slot.mapper.is_some() {
                *v = slot.mapped(std::mem::replace(v, Value::Null));
            }
        }
        let value = if self.slots.iter().all(|s| s.in_value) {
            Value::Struct(all)
        } else {
            Value::Struct(
                all.into_iter()
                    .zip(&self.slots)
                    .filter_map(|(v, s)| s.in_value.then_some(v))
                    .collect(),
            )
        };
        Ok((key, value))
    }

    /// One column's value before its mapper.
    fn cell_value(
        &self,
        slot: &Slot,
        name: &str,
        cell: Cell<'_>,
        snapshot: bool,
    ) -> Result<Value, RowError> {
        let t = match cell {
            Cell::Null => return Ok(Value::Null),
            Cell::Unchanged => return Ok(slot.unavailable.clone()),
            Cell::Text(_) if !slot.in_value && !slot.in_key => return Ok(Value::Null),
            Cell::Text(t) => t,
        };
        let parsed = if snapshot {
            slot.parser.parse_snapshot(t)
        } else {
            slot.parser.parse(t)
        };
        let v = match parsed {
            Ok(v) => v,
            Err(source) => self.conversion_failed(slot, name, source)?,
        };
        // Debezium's vector readers turn text they cannot read into NULL.
        if v == Value::Null && (slot.required || slot.in_key) {
            return Err(RowError::Required {
                table: self.id.clone(),
                column: name.to_string(),
            });
        }
        Ok(v)
    }

    /// The value columns a reselector reads again in `after` (a created or updated row's
    /// value struct): `(wire index, position in the value, column name)` of each whose value
    /// is NULL or the unavailable-value placeholder, as `reselector` asks, and whose
    /// `schema.table:column` its column lists select.
    pub fn reselect_targets(
        &self,
        after: &Value,
        reselector: &Reselector,
    ) -> Vec<(usize, usize, &str)> {
        let Value::Struct(values) = after else {
            return Vec::new();
        };
        let fields = self.schemas.value.fields();
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.in_value)
            .zip(values.iter().zip(fields).enumerate())
            .filter(|((_, slot), (_, (v, field)))| {
                if **v == Value::Null {
                    reselector.null_values
                } else {
                    reselector.unavailable_values
                        && is_placeholder(v, &field.schema, &slot.unavailable)
                }
            })
            .map(|((wire, _), (at, _))| (wire, at, self.columns[wire].as_str()))
            .filter(|(_, _, column)| {
                reselector
                    .columns
                    .accepts(&format!("{}.{}:{column}", self.id.schema, self.id.name))
            })
            .collect()
    }

    /// The wire indexes of the columns a reselector looks a row up by: the event's key
    /// columns, or the table's primary key.
    pub fn lookup_columns(&self, event_key: bool) -> &[usize] {
        if event_key {
            &self.key
        } else {
            &self.primary_key
        }
    }

    /// A re-read column's value (`text` as a query returns it), converted as a snapshot
    /// row's and mapped as any value.
    pub fn reselected_value(&self, wire: usize, text: Option<&str>) -> Result<Value, RowError> {
        let slot = &self.slots[wire];
        let cell = text.map_or(Cell::Null, Cell::Text);
        let v = self.cell_value(slot, &self.columns[wire], cell, true)?;
        Ok(slot.mapped(v))
    }

    /// A column value that did not convert: NULL under `event.converting.failure.handling.mode`
    /// `warn` or `skip`, as Debezium's `TableSchemaBuilder` leaves the field unset; an error
    /// of the event under `fail`, or for a key column (whose converter Debezium runs
    /// outside that handling).
    fn conversion_failed(
        &self,
        slot: &Slot,
        column: &str,
        source: TypeError,
    ) -> Result<Value, RowError> {
        let error = || RowError::Value {
            table: self.id.clone(),
            column: column.to_string(),
            source: source.clone(),
        };
        match self.converting {
            _ if slot.in_key => Err(error()),
            ConvertingFailure::Fail => Err(error()),
            ConvertingFailure::Warn => {
                tracing::warn!(table = %self.id, column, error = %source, "failed to convert a column value; its field is null (event.converting.failure.handling.mode=warn)");
                Ok(Value::Null)
            }
            ConvertingFailure::Skip => {
                tracing::debug!(table = %self.id, column, error = %source, "failed to convert a column value; its field is null");
                Ok(Value::Null)
            }
        }
    }

    /// Whether the table can be captured: updates and deletes need a key or a full image.
    pub fn identity_problem(meta: &TableMeta, config: &PostgresConnectorConfig) -> Option<String> {
        let has_key =
            !meta.primary_key().is_empty() || config.key_columns.for_table(&meta.id).is_some();
        match meta.replica_identity {
            ReplicaIdentity::Full | ReplicaIdentity::Index => None,
            ReplicaIdentity::Default if !meta.primary_key().is_empty() => None,
            ReplicaIdentity::Nothing => Some(format!(
                "table {} has REPLICA IDENTITY NOTHING, so Postgres cannot send old rows of updates and deletes\nHINT: run ALTER TABLE {} REPLICA IDENTITY FULL (or DEFAULT with a primary key), or exclude it with table.exclude.list",
                meta.id,
                meta.id.quoted()
            )),
            _ => Some(format!(
                "table {} has no primary key and REPLICA IDENTITY DEFAULT, so its updates and deletes cannot be captured{}\nHINT: add a primary key, or run ALTER TABLE {} REPLICA IDENTITY FULL, or exclude it with table.exclude.list",
                meta.id,
                if has_key {
                    " (message.key.columns does not change what Postgres sends)"
                } else {
                    ""
                },
                meta.id.quoted()
            )),
        }
    }
}
