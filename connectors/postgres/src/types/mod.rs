//! Postgres column types as Debezium represents them.
//!
//! This module owns two decisions for every captured column: which Kafka Connect schema
//! describes it (Debezium's PostgreSQL type mapping, with its semantic names such as
//! `io.debezium.time.MicroTimestamp`, its parameters and units, under the
//! `decimal.handling.mode`, `time.precision.mode`, `interval.handling.mode` and
//! `binary.handling.mode` settings), and how the Postgres *text* output of a value becomes a
//! [`tributary_core::Value`]. The same parser serves pgoutput text tuples and `COPY` text
//! rows (the caller undoes COPY's backslash escaping first).
//!
//! Parsing assumes the session settings every Tributary connection makes:
//! `DateStyle='ISO, YMD'`, `IntervalStyle='iso_8601'`, `TimeZone='UTC'`,
//! `extra_float_digits=3`, `bytea_output='hex'` and `lc_monetary='C'`.
//!
//! Where Debezium's behaviour is surprising (the values it gives `infinity` dates and
//! timestamps, `NAN` in string mode, content-sized `Bits`), we copy it on purpose and say so
//! next to the code: downstream engines must not be able to tell us apart.

mod array;
mod binary;
mod builtin;
mod defaults;
mod error;
mod extension;
mod jdbc;
mod mapping;
mod modes;
mod numeric;
mod parser;
mod registry;
mod temporal;

#[cfg(test)]
mod pg_tests;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_mapping;
#[cfg(test)]
mod tests_temporal;

pub use builtin::oid;
pub use defaults::column_default;
pub use error::TypeError;
pub use jdbc::{JdbcColumn, ShapeSource};
pub use mapping::{ColumnMapping, map_column, unavailable_value};
pub use modes::{
    BinaryHandling, ConvertingFailure, DecimalHandling, HstoreHandling, IntervalHandling,
    ModeParseError, ProcessingFailure, TimePrecision, TypeModes,
};
pub use parser::ValueParser;
pub(crate) use parser::binary;
pub use registry::{PgType, PgTypeKind, TypeRegistry};
