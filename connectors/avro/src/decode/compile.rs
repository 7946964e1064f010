//! Avro schema JSON → a compiled tree the reader walks.
//!
//! A schema is compiled once per registry id; every record is then read by walking this
//! tree next to the bytes, with no name lookups and no intermediate Avro value. The JSON is
//! read with `serde_json` rather than `apache_avro`, because the Connect metadata the
//! reader needs (`connect.name` on primitives, Connect's `Decimal` scale) lives in custom
//! attributes that Avro libraries may drop.
//!
//! Named types (records, enums, fixed) live once in the node arena; a reference by name is
//! the same node id, so recursive records work.

use std::collections::HashMap;

use serde_json::{Map, Value as Json};

/// Index of a node in [`Compiled::nodes`].
pub(crate) type NodeId = u32;

/// Connect's decimal logical type (AvroData compares it case-insensitively).
const CONNECT_DECIMAL: &str = "org.apache.kafka.connect.data.Decimal";
/// Debezium's `numeric` without a fixed scale: a record `{scale: int, value: bytes}`.
const VARIABLE_SCALE_DECIMAL: &str = "io.debezium.data.VariableScaleDecimal";

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    /// `semantic`: the string carries a `connect.name` (JSON, UUID, zoned time, …), so it
    /// is a value with a format, not free text.
    String {
        semantic: bool,
    },
    Bytes,
    /// Connect's `Decimal` or Avro's `decimal` on bytes: a two's-complement unscaled integer.
    Decimal {
        scale: i32,
    },
    Fixed {
        size: usize,
        decimal: Option<i32>,
    },
    Enum {
        symbols: Vec<String>,
    },
    Array(NodeId),
    Map(NodeId),
    Union(Vec<NodeId>),
    Record(Record),
    /// Debezium's `VariableScaleDecimal` record, read as one decimal.
    VariableScaleDecimal,
    /// A named type whose definition is being compiled.
    Pending,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Record {
    /// Full Avro name.
    pub name: String,
    pub fields: Vec<FieldDef>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FieldDef {
    pub name: String,
    pub node: NodeId,
}

/// A compiled schema: the node arena and its root.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Compiled {
    pub nodes: Vec<Node>,
    pub root: NodeId,
}

impl Compiled {
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id as usize]
    }

    /// The record behind `id`, looking through a union with `null` (an optional field).
    pub fn record(&self, id: NodeId) -> Option<&Record> {
        match self.node(self.non_null(id)) {
            Node::Record(r) => Some(r),
            _ => None,
        }
    }

    /// `T` for `["null", T]` or `[T, "null"]`; `id` itself otherwise.
    pub fn non_null(&self, id: NodeId) -> NodeId {
        match self.node(id) {
            Node::Union(branches) if branches.len() == 2 => {
                match (self.node(branches[0]), self.node(branches[1])) {
                    (Node::Null, _) => branches[1],
                    (_, Node::Null) => branches[0],
                    _ => id,
                }
            }
            _ => id,
        }
    }
}

/// Compiles an Avro schema text.
pub(crate) fn compile(text: &str) -> Result<Compiled, String> {
    let json: Json =
        serde_json::from_str(text).map_err(|e| format!("the schema is not JSON: {e}"))?;
    let mut c = Compiler::default();
    let root = c.node(&json, None)?;
    if let Some(pending) = c.nodes.iter().position(|n| *n == Node::Pending) {
        return Err(format!("internal error: node {pending} was never defined"));
    }
    Ok(Compiled {
        nodes: c.nodes,
        root,
    })
}

#[derive(Default)]
struct Compiler {
    nodes: Vec<Node>,
    names: HashMap<String, NodeId>,
}

impl Compiler {
    fn push(&mut self, node: Node) -> NodeId {
        self.nodes.push(node);
        (self.nodes.len() - 1) as NodeId
    }

    fn node(&mut self, v: &Json, ns: Option<&str>) -> Result<NodeId, String> {
        match v {
            Json::String(name) => match primitive(name) {
                Some(node) => Ok(self.push(node)),
                None => self.reference(name, ns),
            },
            Json::Array(branches) => {
                let ids = branches
                    .iter()
                    .map(|b| self.node(b, ns))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(self.push(Node::Union(ids)))
            }
            Json::Object(o) => match o.get("type") {
                Some(Json::String(t)) => self.complex(t, o, ns),
                Some(other) => self.node(other, ns),
                None => Err(format!("a schema object has no \"type\": {}", excerpt(v))),
            },
            other => Err(format!("not a schema: {}", excerpt(other))),
        }
    }

    fn complex(
        &mut self,
        ty: &str,
        o: &Map<String, Json>,
        ns: Option<&str>,
    ) -> Result<NodeId, String> {
        match ty {
            "record" | "error" => self.record(o, ns),
            "enum" => {
                let symbols = o
                    .get("symbols")
                    .and_then(Json::as_array)
                    .ok_or("an enum has no \"symbols\" array")?
                    .iter()
                    .map(|s| {
                        s.as_str()
                            .map(str::to_owned)
                            .ok_or("an enum symbol is not a string")
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                self.named(o, ns, Node::Enum { symbols })
            }
            "fixed" => {
                let size = o
                    .get("size")
                    .and_then(Json::as_u64)
                    .ok_or("a fixed type has no numeric \"size\"")?
                    as usize;
                let decimal = (o.get("logicalType").and_then(Json::as_str) == Some("decimal"))
                    .then(|| scale_of(o));
                self.named(o, ns, Node::Fixed { size, decimal })
            }
            "array" => {
                let items = o.get("items").ok_or("an array has no \"items\"")?;
                let id = self.node(items, ns)?;
                Ok(self.push(Node::Array(id)))
            }
            "map" => {
                let values = o.get("values").ok_or("a map has no \"values\"")?;
                let id = self.node(values, ns)?;
                Ok(self.push(Node::Map(id)))
            }
            "bytes" if is_decimal(o) => Ok(self.push(Node::Decimal { scale: scale_of(o) })),
            "string" => Ok(self.push(Node::String {
                semantic: o.contains_key("connect.name"),
            })),
            other => match primitive(other) {
                Some(node) => Ok(self.push(node)),
                None => self.reference(other, ns),
            },
        }
    }

    fn record(&mut self, o: &Map<String, Json>, ns: Option<&str>) -> Result<NodeId, String> {
        let (full, own_ns) = full_name(o, ns)?;
        if self.names.contains_key(&full) {
            return Err(format!("{full} is defined twice"));
        }
        let id = self.push(Node::Pending);
        self.names.insert(full.clone(), id);
        let fields = o
            .get("fields")
            .and_then(Json::as_array)
            .ok_or_else(|| format!("record {full} has no \"fields\" array"))?;
        let mut defs = Vec::with_capacity(fields.len());
        for f in fields {
            let name = f
                .get("name")
                .and_then(Json::as_str)
                .ok_or_else(|| format!("a field of record {full} has no name"))?;
            let ty = f
                .get("type")
                .ok_or_else(|| format!("field {full}.{name} has no type"))?;
            let node = self
                .node(ty, own_ns.as_deref())
                .map_err(|e| format!("field {full}.{name}: {e}"))?;
            defs.push(FieldDef {
                name: name.to_owned(),
                node,
            });
        }
        let vsd = [full.as_str(), connect_name(o).unwrap_or("")].contains(&VARIABLE_SCALE_DECIMAL)
            && defs.len() == 2
            && defs[0].name == "scale"
            && self.nodes[defs[0].node as usize] == Node::Int
            && defs[1].name == "value"
            && self.nodes[defs[1].node as usize] == Node::Bytes;
        self.nodes[id as usize] = if vsd {
            Node::VariableScaleDecimal
        } else {
            Node::Record(Record {
                name: full,
                fields: defs,
            })
        };
        Ok(id)
    }

    fn named(
        &mut self,
        o: &Map<String, Json>,
        ns: Option<&str>,
        node: Node,
    ) -> Result<NodeId, String> {
        let (full, _) = full_name(o, ns)?;
        if self.names.contains_key(&full) {
            return Err(format!("{full} is defined twice"));
        }
        let id = self.push(node);
        self.names.insert(full, id);
        Ok(id)
    }

    fn reference(&mut self, name: &str, ns: Option<&str>) -> Result<NodeId, String> {
        let qualified = match ns {
            Some(ns) if !ns.is_empty() && !name.contains('.') => Some(format!("{ns}.{name}")),
            _ => None,
        };
        qualified
            .and_then(|q| self.names.get(&q))
            .or_else(|| self.names.get(name))
            .copied()
            .ok_or_else(|| format!("unknown type {name:?}"))
    }
}

fn primitive(name: &str) -> Option<Node> {
    Some(match name {
        "null" => Node::Null,
        "boolean" => Node::Boolean,
        "int" => Node::Int,
        "long" => Node::Long,
        "float" => Node::Float,
        "double" => Node::Double,
        "string" => Node::String { semantic: false },
        "bytes" => Node::Bytes,
        _ => return None,
    })
}

fn connect_name(o: &Map<String, Json>) -> Option<&str> {
    o.get("connect.name").and_then(Json::as_str)
}

fn is_decimal(o: &Map<String, Json>) -> bool {
    o.get("logicalType").and_then(Json::as_str) == Some("decimal")
        || connect_name(o).is_some_and(|n| n.eq_ignore_ascii_case(CONNECT_DECIMAL))
}

/// The `scale` attribute, else Connect's `scale` parameter, else 0 (Avro's default).
fn scale_of(o: &Map<String, Json>) -> i32 {
    o.get("scale")
        .and_then(Json::as_i64)
        .or_else(|| {
            o.get("connect.parameters")
                .and_then(|p| p.get("scale"))
                .and_then(Json::as_str)
                .and_then(|s| s.trim().parse().ok())
        })
        .and_then(|s| i32::try_from(s).ok())
        .unwrap_or(0)
}

/// The full name of a named type and the namespace its fields resolve names in.
fn full_name(o: &Map<String, Json>, ns: Option<&str>) -> Result<(String, Option<String>), String> {
    let name = o
        .get("name")
        .and_then(Json::as_str)
        .ok_or("a named type has no \"name\"")?;
    if let Some(dot) = name.rfind('.') {
        return Ok((name.to_owned(), Some(name[..dot].to_owned())));
    }
    let space = match o.get("namespace") {
        Some(Json::String(s)) => Some(s.as_str()),
        Some(Json::Null) => None,
        _ => ns,
    };
    Ok(match space {
        Some(s) if !s.is_empty() => (format!("{s}.{name}"), Some(s.to_owned())),
        _ => (name.to_owned(), None),
    })
}

fn excerpt(v: &Json) -> String {
    let text = v.to_string();
    match text.char_indices().nth(120) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}
