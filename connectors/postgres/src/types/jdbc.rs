//! A column's length, scale and JDBC type family as Debezium sees them through pgjdbc
//! (`TypeInfoCache.getPrecision`, `getScale`, `getDisplaySize`, `getSQLType`), for the
//! column mappers: `column.truncate.to.N.chars` truncates only where the length can exceed
//! N, a hash is cut to the column's length, and `column.propagate.source.type` writes the
//! length and scale into the schema.
//!
//! Debezium reads them two ways and we follow both: a snapshot's table comes from JDBC's
//! `DatabaseMetaData.getColumns` (an unbounded `numeric` has length 0 and no scale), a
//! streamed one from the Relation message's type modifier (`ColumnMetaData`: an unbounded
//! `numeric` has its display size, 131,089, and scale 0).

use super::builtin::oid;
use super::registry::{PgTypeKind, TypeRegistry};

/// pgjdbc's `unknownLength` (its default): the length of unbounded text types.
const UNKNOWN_LENGTH: i32 = i32::MAX;
/// A type without a modifier.
const NO_TYPMOD: i32 = -1;

/// Where Debezium learned the table's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShapeSource {
    /// JDBC metadata, for snapshot rows.
    Jdbc,
    /// A pgoutput Relation message, for streamed rows.
    Relation,
}

/// The facts Debezium's `Column` carries for a column of type `type_oid`/`typmod`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JdbcColumn {
    /// `Column.length()`.
    pub length: i32,
    /// `Column.scale()`.
    pub scale: Option<i32>,
    /// Whether the root type's JDBC type is a character type (`CHAR`, `VARCHAR`): the
    /// types `column.mask.*` rewrites. Enums count (pgjdbc reports them as `VARCHAR`).
    pub char_like: bool,
}

impl JdbcColumn {
    pub fn of(registry: &TypeRegistry, type_oid: u32, typmod: i32, source: ShapeSource) -> Self {
        let ty = registry.get(type_oid);
        let domain = ty.and_then(|t| match t.kind {
            PgTypeKind::Domain { base, base_typmod } => Some((base, base_typmod)),
            _ => None,
        });
        let (length, scale) = match (domain, source) {
            // Debezium replaces a domain's JDBC length and scale by its own
            // (`PostgresType.getDefaultLength`), walking up to the base type.
            (Some(_), ShapeSource::Jdbc) => (
                default_length(registry, type_oid, 0),
                Some(default_scale(registry, type_oid, 0)),
            ),
            (_, ShapeSource::Relation) if typmod != NO_TYPMOD => {
                (precision(type_oid, typmod), Some(scale(type_oid, typmod)))
            }
            (_, ShapeSource::Relation) => (
                default_length(registry, type_oid, 0),
                Some(default_scale(registry, type_oid, 0)),
            ),
            (None, ShapeSource::Jdbc) => {
                // JDBC's type of an array is ARRAY, whatever its elements.
                let numeric = type_oid == oid::NUMERIC;
                let mut size = precision(type_oid, typmod);
                if !numeric && size == 0 {
                    size = display_size(type_oid, typmod);
                }
                let scale = (!(numeric && typmod == NO_TYPMOD)).then(|| scale(type_oid, typmod));
                (size, scale)
            }
        };
        JdbcColumn {
            length,
            scale,
            char_like: char_like(registry, type_oid, 0),
        }
    }
}

/// Domains over domains… stop somewhere in case of a catalog cycle.
const MAX_DEPTH: u32 = 16;

/// `PostgresType.getDefaultLength`.
fn default_length(registry: &TypeRegistry, type_oid: u32, depth: u32) -> i32 {
    if let Some(PgTypeKind::Domain { base, base_typmod }) = registry.get(type_oid).map(|t| &t.kind)
        && depth < MAX_DEPTH
    {
        if *base_typmod == NO_TYPMOD {
            return default_length(registry, *base, depth + 1);
        }
        let mut size = precision(*base, *base_typmod);
        if size == 0 {
            size = display_size(*base, *base_typmod);
        }
        if size != 0 && size != UNKNOWN_LENGTH {
            return size;
        }
        // pgjdbc knows nothing of the domain itself: an unknown type's length.
        return UNKNOWN_LENGTH;
    }
    match precision(type_oid, NO_TYPMOD) {
        0 => display_size(type_oid, NO_TYPMOD),
        size => size,
    }
}

/// `PostgresType.getDefaultScale`.
fn default_scale(registry: &TypeRegistry, type_oid: u32, depth: u32) -> i32 {
    if let Some(PgTypeKind::Domain { base, base_typmod }) = registry.get(type_oid).map(|t| &t.kind)
        && depth < MAX_DEPTH
    {
        if *base_typmod == NO_TYPMOD {
            return default_scale(registry, *base, depth + 1);
        }
        return scale(*base, *base_typmod);
    }
    scale(type_oid, NO_TYPMOD)
}

/// Whether the root type (below domains) is one pgjdbc reports as `CHAR` or `VARCHAR`.
fn char_like(registry: &TypeRegistry, type_oid: u32, depth: u32) -> bool {
    match registry.get(type_oid).map(|t| &t.kind) {
        Some(PgTypeKind::Domain { base, .. }) if depth < MAX_DEPTH => {
            char_like(registry, *base, depth + 1)
        }
        Some(PgTypeKind::Enum { .. }) => true,
        _ => matches!(
            type_oid,
            oid::CHAR | oid::BPCHAR | oid::VARCHAR | oid::TEXT | oid::NAME
        ),
    }
}

/// pgjdbc's `convertArrayToBaseOid`: the element of a built-in array type it knows.
fn base_oid(type_oid: u32) -> u32 {
    match type_oid {
        1005 => oid::INT2,
        1007 => oid::INT4,
        1028 => oid::OID,
        1016 => oid::INT8,
        791 => oid::MONEY,
        1231 => oid::NUMERIC,
        1021 => oid::FLOAT4,
        1022 => oid::FLOAT8,
        1002 => oid::CHAR,
        1014 => oid::BPCHAR,
        1015 => oid::VARCHAR,
        1563 => oid::VARBIT,
        1009 => oid::TEXT,
        1003 => oid::NAME,
        1001 => oid::BYTEA,
        1000 => oid::BOOL,
        1561 => oid::BIT,
        1182 => oid::DATE,
        1183 => oid::TIME,
        1270 => oid::TIMETZ,
        1115 => oid::TIMESTAMP,
        1185 => oid::TIMESTAMPTZ,
        2201 => 1790, // refcursor
        199 => oid::JSON,
        3807 => oid::JSONB,
        1017 => oid::POINT,
        1020 => 603, // box
        other => other,
    }
}

/// `TypeInfoCache.getPrecision`.
fn precision(type_oid: u32, typmod: i32) -> i32 {
    let oid = base_oid(type_oid);
    match oid {
        oid::INT2 => 5,
        oid::OID | oid::INT4 => 10,
        oid::INT8 => 19,
        oid::FLOAT4 => 8,
        oid::FLOAT8 => 17,
        oid::NUMERIC if typmod == NO_TYPMOD => 0,
        oid::NUMERIC => ((typmod - 4) & 0xFFFF_0000_u32 as i32) >> 16,
        oid::CHAR | oid::BOOL => 1,
        oid::BPCHAR | oid::VARCHAR if typmod == NO_TYPMOD => UNKNOWN_LENGTH,
        oid::BPCHAR | oid::VARCHAR => typmod - 4,
        oid::DATE | oid::TIME | oid::TIMETZ | oid::INTERVAL | oid::TIMESTAMP | oid::TIMESTAMPTZ => {
            display_size(oid, typmod)
        }
        oid::BIT => typmod,
        oid::VARBIT if typmod == NO_TYPMOD => UNKNOWN_LENGTH,
        oid::VARBIT => typmod,
        _ => UNKNOWN_LENGTH,
    }
}

/// `TypeInfoCache.getScale`.
fn scale(type_oid: u32, typmod: i32) -> i32 {
    match base_oid(type_oid) {
        oid::FLOAT4 => 8,
        oid::FLOAT8 => 17,
        oid::NUMERIC if typmod == NO_TYPMOD => 0,
        oid::NUMERIC => (typmod - 4) & 0xFFFF,
        oid::TIME | oid::TIMETZ | oid::TIMESTAMP | oid::TIMESTAMPTZ if typmod == NO_TYPMOD => 6,
        oid::TIME | oid::TIMETZ | oid::TIMESTAMP | oid::TIMESTAMPTZ => typmod,
        oid::INTERVAL if typmod == NO_TYPMOD => 6,
        oid::INTERVAL => typmod & 0xFFFF,
        _ => 0,
    }
}

/// `TypeInfoCache.getDisplaySize`.
fn display_size(type_oid: u32, typmod: i32) -> i32 {
    let oid = base_oid(type_oid);
    match oid {
        oid::INT2 => 6,
        oid::INT4 => 11,
        oid::OID => 10,
        oid::INT8 => 20,
        oid::FLOAT4 => 15,
        oid::FLOAT8 => 25,
        oid::CHAR | oid::BOOL => 1,
        oid::DATE => 13,
        oid::TIME | oid::TIMETZ | oid::TIMESTAMP | oid::TIMESTAMPTZ => {
            let second = match typmod {
                NO_TYPMOD => 7,
                0 => 0,
                1 => 3,
                n => n + 1,
            };
            match oid {
                oid::TIME => 8 + second,
                oid::TIMETZ => 8 + second + 6,
                oid::TIMESTAMP => 13 + 1 + 8 + second,
                _ => 13 + 1 + 8 + second + 6,
            }
        }
        oid::INTERVAL => 49,
        oid::VARCHAR | oid::BPCHAR if typmod == NO_TYPMOD => UNKNOWN_LENGTH,
        oid::VARCHAR | oid::BPCHAR => typmod - 4,
        oid::NUMERIC if typmod == NO_TYPMOD => 131_089,
        oid::NUMERIC => {
            let precision = ((typmod - 4) >> 16) & 0xFFFF;
            let scale = (typmod - 4) & 0xFFFF;
            1 + precision + i32::from(scale != 0)
        }
        oid::BIT => typmod,
        oid::VARBIT if typmod == NO_TYPMOD => UNKNOWN_LENGTH,
        oid::VARBIT => typmod,
        _ => UNKNOWN_LENGTH,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_scales_are_pgjdbcs() {
        // varchar(10): typmod 14.
        assert_eq!(precision(oid::VARCHAR, 14), 10);
        assert_eq!(precision(oid::TEXT, NO_TYPMOD), UNKNOWN_LENGTH);
        // numeric(20,5): typmod ((20 << 16) | 5) + 4.
        let typmod = ((20 << 16) | 5) + 4;
        assert_eq!(
            (precision(oid::NUMERIC, typmod), scale(oid::NUMERIC, typmod)),
            (20, 5)
        );
        assert_eq!(display_size(oid::NUMERIC, typmod), 22);
        assert_eq!(display_size(oid::NUMERIC, NO_TYPMOD), 131_089);
        // timestamp(3) is 13 + 1 + 8 + 4 wide; time without a modifier 8 + 7.
        assert_eq!(precision(oid::TIMESTAMP, 3), 26);
        assert_eq!(precision(oid::TIME, NO_TYPMOD), 15);
        assert_eq!(scale(oid::TIME, NO_TYPMOD), 6);
        assert_eq!(precision(oid::DATE, NO_TYPMOD), 13);
        assert_eq!(precision(oid::INT4_ARRAY, NO_TYPMOD), 10);
    }
}
