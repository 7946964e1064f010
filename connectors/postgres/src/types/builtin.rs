//! Postgres's built-in types, known without asking the server.
//!
//! Built-in OIDs are fixed in Postgres's catalog (`pg_type.dat`) and never change between
//! releases, so a replication stream full of `int4` and `text` columns needs no catalog
//! query. The table lists the user-facing types of `pg_catalog` (internal ones such as
//! `pg_node_tree` are left out) with the OID of their array type; the array entries are
//! derived from it. It was taken from a PostgreSQL 15 catalog.

use super::registry::{PgType, PgTypeKind};

/// OIDs of the built-in types the mapping treats specially.
pub mod oid {
    pub const BOOL: u32 = 16;
    pub const BYTEA: u32 = 17;
    pub const CHAR: u32 = 18;
    pub const NAME: u32 = 19;
    pub const INT8: u32 = 20;
    pub const INT2: u32 = 21;
    pub const INT4: u32 = 23;
    pub const TEXT: u32 = 25;
    pub const OID: u32 = 26;
    pub const JSON: u32 = 114;
    pub const POINT: u32 = 600;
    pub const TSVECTOR: u32 = 3614;
    pub const XML: u32 = 142;
    pub const CIDR: u32 = 650;
    pub const FLOAT4: u32 = 700;
    pub const FLOAT8: u32 = 701;
    pub const MACADDR8: u32 = 774;
    pub const MONEY: u32 = 790;
    pub const MACADDR: u32 = 829;
    pub const INET: u32 = 869;
    pub const BPCHAR: u32 = 1042;
    pub const VARCHAR: u32 = 1043;
    pub const DATE: u32 = 1082;
    pub const TIME: u32 = 1083;
    pub const TIMESTAMP: u32 = 1114;
    pub const TIMESTAMPTZ: u32 = 1184;
    pub const INTERVAL: u32 = 1186;
    pub const TIMETZ: u32 = 1266;
    pub const BIT: u32 = 1560;
    pub const VARBIT: u32 = 1562;
    pub const NUMERIC: u32 = 1700;
    pub const UUID: u32 = 2950;
    pub const JSONB: u32 = 3802;
    pub const INT4RANGE: u32 = 3904;
    pub const NUMRANGE: u32 = 3906;
    pub const TSRANGE: u32 = 3908;
    pub const TSTZRANGE: u32 = 3910;
    pub const DATERANGE: u32 = 3912;
    pub const INT8RANGE: u32 = 3926;
    /// Array types of the above that tests and callers use often.
    pub const INT4_ARRAY: u32 = 1007;
    pub const TEXT_ARRAY: u32 = 1009;
    pub const NUMERIC_ARRAY: u32 = 1231;
    /// Below this OID every type is built in (`FirstNormalObjectId`).
    pub const FIRST_NORMAL_OBJECT_ID: u32 = 16384;
}

#[derive(Clone, Copy)]
enum K {
    Base,
    Range,
    Multirange,
}

/// (oid, name, kind, array oid) of every built-in type we know.
const BUILTINS: &[(u32, &str, K, u32)] = &[
    (16, "bool", K::Base, 1000),
    (17, "bytea", K::Base, 1001),
    (18, "char", K::Base, 1002),
    (19, "name", K::Base, 1003),
    (20, "int8", K::Base, 1016),
    (21, "int2", K::Base, 1005),
    (23, "int4", K::Base, 1007),
    (24, "regproc", K::Base, 1008),
    (25, "text", K::Base, 1009),
    (26, "oid", K::Base, 1028),
    (27, "tid", K::Base, 1010),
    (28, "xid", K::Base, 1011),
    (29, "cid", K::Base, 1012),
    (114, "json", K::Base, 199),
    (142, "xml", K::Base, 143),
    (600, "point", K::Base, 1017),
    (601, "lseg", K::Base, 1018),
    (602, "path", K::Base, 1019),
    (603, "box", K::Base, 1020),
    (604, "polygon", K::Base, 1027),
    (628, "line", K::Base, 629),
    (650, "cidr", K::Base, 651),
    (700, "float4", K::Base, 1021),
    (701, "float8", K::Base, 1022),
    (718, "circle", K::Base, 719),
    (774, "macaddr8", K::Base, 775),
    (790, "money", K::Base, 791),
    (829, "macaddr", K::Base, 1040),
    (869, "inet", K::Base, 1041),
    (1033, "aclitem", K::Base, 1034),
    (1042, "bpchar", K::Base, 1014),
    (1043, "varchar", K::Base, 1015),
    (1082, "date", K::Base, 1182),
    (1083, "time", K::Base, 1183),
    (1114, "timestamp", K::Base, 1115),
    (1184, "timestamptz", K::Base, 1185),
    (1186, "interval", K::Base, 1187),
    (1266, "timetz", K::Base, 1270),
    (1560, "bit", K::Base, 1561),
    (1562, "varbit", K::Base, 1563),
    (1700, "numeric", K::Base, 1231),
    (1790, "refcursor", K::Base, 2201),
    (2202, "regprocedure", K::Base, 2207),
    (2203, "regoper", K::Base, 2208),
    (2204, "regoperator", K::Base, 2209),
    (2205, "regclass", K::Base, 2210),
    (2206, "regtype", K::Base, 2211),
    (2950, "uuid", K::Base, 2951),
    (2970, "txid_snapshot", K::Base, 2949),
    (3220, "pg_lsn", K::Base, 3221),
    (3614, "tsvector", K::Base, 3643),
    (3615, "tsquery", K::Base, 3645),
    (3642, "gtsvector", K::Base, 3644),
    (3734, "regconfig", K::Base, 3735),
    (3769, "regdictionary", K::Base, 3770),
    (3802, "jsonb", K::Base, 3807),
    (3904, "int4range", K::Range, 3905),
    (3906, "numrange", K::Range, 3907),
    (3908, "tsrange", K::Range, 3909),
    (3910, "tstzrange", K::Range, 3911),
    (3912, "daterange", K::Range, 3913),
    (3926, "int8range", K::Range, 3927),
    (4072, "jsonpath", K::Base, 4073),
    (4089, "regnamespace", K::Base, 4090),
    (4096, "regrole", K::Base, 4097),
    (4191, "regcollation", K::Base, 4192),
    (4451, "int4multirange", K::Multirange, 6150),
    (4532, "nummultirange", K::Multirange, 6151),
    (4533, "tsmultirange", K::Multirange, 6152),
    (4534, "tstzmultirange", K::Multirange, 6153),
    (4535, "datemultirange", K::Multirange, 6155),
    (4536, "int8multirange", K::Multirange, 6157),
    (5038, "pg_snapshot", K::Base, 5039),
    (5069, "xid8", K::Base, 271),
];

/// Every built-in type of [`BUILTINS`] and its array type.
pub(crate) fn builtin_types() -> impl Iterator<Item = PgType> {
    BUILTINS.iter().flat_map(|&(oid, name, kind, array)| {
        let kind = match kind {
            K::Base => PgTypeKind::Base,
            K::Range => PgTypeKind::Range,
            K::Multirange => PgTypeKind::Other,
        };
        let element = PgType {
            oid,
            name: name.to_string(),
            namespace: "pg_catalog".to_string(),
            kind,
        };
        let array = PgType {
            oid: array,
            name: format!("_{name}"),
            namespace: "pg_catalog".to_string(),
            kind: PgTypeKind::Array { element: oid },
        };
        [element, array]
    })
}
