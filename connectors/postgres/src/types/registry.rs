//! The types a connector has met, by OID.
//!
//! Built-in types are known from the start. Everything else (enums, domains, extension
//! types such as `citext` or `ltree`, arrays of those) is read from `pg_type` and `pg_enum`
//! the first time a relation uses it. [`TypeRegistry::load`] uses the simple query protocol
//! only, so it works on a `replication=database` connection too, where the extended
//! protocol is not available.

use std::collections::{BTreeSet, HashMap};

use tokio_postgres::{Client, SimpleQueryMessage};

use super::builtin::builtin_types;

/// A Postgres type as far as the mapping needs to know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgType {
    pub oid: u32,
    pub name: String,
    pub namespace: String,
    pub kind: PgTypeKind,
}

/// What kind of type a [`PgType`] is (`pg_type.typtype`, with arrays told apart).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PgTypeKind {
    Base,
    /// Labels in `enumsortorder` order.
    Enum {
        labels: Vec<String>,
    },
    /// A domain over `base`, with the type modifier the domain applies to it (-1 if none).
    Domain {
        base: u32,
        base_typmod: i32,
    },
    Array {
        element: u32,
    },
    Composite,
    Range,
    Pseudo,
    /// Multiranges and anything else.
    Other,
}

/// Known types by OID: built-in types are known without a query; others are loaded from
/// `pg_type`/`pg_enum`.
#[derive(Debug, Clone)]
pub struct TypeRegistry {
    types: HashMap<u32, PgType>,
}

impl Default for TypeRegistry {
    fn default() -> Self {
        Self::new()
    }
}

/// How many rounds of "load what the loaded types refer to" we do at most. Domains over
/// arrays of domains over enums need four; more means something is odd, and whatever is
/// still missing then maps as an unknown type.
const MAX_LOAD_ROUNDS: usize = 8;

impl TypeRegistry {
    /// A registry that knows the built-in types.
    pub fn new() -> Self {
        TypeRegistry {
            types: builtin_types().map(|t| (t.oid, t)).collect(),
        }
    }

    pub fn get(&self, oid: u32) -> Option<&PgType> {
        self.types.get(&oid)
    }

    pub fn contains(&self, oid: u32) -> bool {
        self.types.contains_key(&oid)
    }

    /// Adds or replaces a type (for example from a pgoutput `Type` message).
    pub fn insert(&mut self, ty: PgType) {
        self.types.insert(ty.oid, ty);
    }

    /// Forgets a type so that the next [`TypeRegistry::load`] reads it again, for example
    /// after `ALTER TYPE … ADD VALUE` changed an enum's labels.
    pub fn remove(&mut self, oid: u32) -> Option<PgType> {
        self.types.remove(&oid)
    }

    /// Loads every OID of `oids` that is not known yet, and then, recursively, the base
    /// types of domains and the element types of arrays it found. OIDs the server does not
    /// know stay unknown (their columns then pass as text).
    pub async fn load(
        &mut self,
        client: &Client,
        oids: &[u32],
    ) -> Result<(), tokio_postgres::Error> {
        let mut wanted: BTreeSet<u32> = oids
            .iter()
            .copied()
            .filter(|o| *o != 0 && !self.contains(*o))
            .collect();
        for _ in 0..MAX_LOAD_ROUNDS {
            if wanted.is_empty() {
                break;
            }
            let loaded = load_types(client, &wanted).await?;
            tracing::debug!(
                requested = wanted.len(),
                loaded = loaded.len(),
                "loaded postgres types"
            );
            let mut next = BTreeSet::new();
            for ty in loaded {
                match ty.kind {
                    PgTypeKind::Domain { base, .. } => next.insert(base),
                    PgTypeKind::Array { element } => next.insert(element),
                    _ => false,
                };
                self.types.insert(ty.oid, ty);
            }
            next.retain(|o| *o != 0 && !self.contains(*o));
            wanted = next;
        }
        Ok(())
    }
}

/// Reads the given types, with the labels of the enums among them.
async fn load_types(
    client: &Client,
    oids: &BTreeSet<u32>,
) -> Result<Vec<PgType>, tokio_postgres::Error> {
    let list = oids
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let sql = format!(
        "SELECT t.oid, t.typname, n.nspname, t.typtype, t.typcategory, t.typelem, \
                t.typbasetype, t.typtypmod \
         FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace \
         WHERE t.oid IN ({list})"
    );
    let mut types = Vec::new();
    let mut enums = Vec::new();
    for message in client.simple_query(&sql).await? {
        let SimpleQueryMessage::Row(row) = message else {
            continue;
        };
        let field = |i: usize| row.get(i).unwrap_or_default();
        let Ok(type_oid) = field(0).parse::<u32>() else {
            tracing::warn!(row = ?field(0), "skipping pg_type row with an unreadable oid");
            continue;
        };
        let element = field(5).parse::<u32>().unwrap_or(0);
        let kind = match field(3) {
            "b" if field(4) == "A" && element != 0 && !is_vector(type_oid) => {
                PgTypeKind::Array { element }
            }
            "b" => PgTypeKind::Base,
            "c" => PgTypeKind::Composite,
            "d" => PgTypeKind::Domain {
                base: field(6).parse().unwrap_or(0),
                base_typmod: field(7).parse().unwrap_or(-1),
            },
            "e" => {
                enums.push(type_oid);
                PgTypeKind::Enum { labels: Vec::new() }
            }
            "p" => PgTypeKind::Pseudo,
            "r" => PgTypeKind::Range,
            _ => PgTypeKind::Other,
        };
        types.push(PgType {
            oid: type_oid,
            name: field(1).to_string(),
            namespace: field(2).to_string(),
            kind,
        });
    }
    if !enums.is_empty() {
        let list = enums
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let sql = format!(
            "SELECT enumtypid, enumlabel FROM pg_catalog.pg_enum \
             WHERE enumtypid IN ({list}) ORDER BY enumtypid, enumsortorder"
        );
        let mut labels: HashMap<u32, Vec<String>> = HashMap::new();
        for message in client.simple_query(&sql).await? {
            if let SimpleQueryMessage::Row(row) = message
                && let (Some(Ok(type_oid)), Some(label)) =
                    (row.get(0).map(str::parse::<u32>), row.get(1))
            {
                labels.entry(type_oid).or_default().push(label.to_string());
            }
        }
        for ty in &mut types {
            if let PgTypeKind::Enum { labels: l } = &mut ty.kind {
                *l = labels.remove(&ty.oid).unwrap_or_default();
            }
        }
    }
    Ok(types)
}

/// `int2vector` and `oidvector` are array-like but print as space separated lists; they
/// are built in, so this only matters if someone asks to load them explicitly.
fn is_vector(type_oid: u32) -> bool {
    type_oid == 22 || type_oid == 30
}
