//! The transform chains of `tests/transforms_diff.rs` for Debezium's routing and time
//! transforms (ByLogicalTableRouter, PartitionRouting, TimezoneConverter, HeaderToValue)
//! and Kafka's TimestampConverter; [`super::transform_chains::chains`] runs them with the
//! others.

use super::transform_chains::{TOPIC_MATCHES, UNWRAP};

const LOGICAL: &str = "io.debezium.transforms.ByLogicalTableRouter";
const HEADER_TO_VALUE: &str = "io.debezium.transforms.HeaderToValue";
const PARTITIONS: &str = "io.debezium.transforms.partitions.PartitionRouting";
const TIMEZONE: &str = "io.debezium.transforms.TimezoneConverter";
const TIMESTAMP_VALUE: &str = "org.apache.kafka.connect.transforms.TimestampConverter$Value";
/// Columns of the types tables whose Java objects hash the same in every JVM (not byte
/// arrays, structs or maps).
const HASHED: &str = "change.c_text,change.c_int2,change.c_int8,change.c_float4,change.c_float8,change.c_bool,change.c_numeric,change.c_ts,change.c_date,change.c_time,change.c_int_arr,change.c_text_arr,after.c_varchar";

/// The chains, by name: Kafka Connect properties.
pub fn chains() -> Vec<(&'static str, Vec<(&'static str, &'static str)>)> {
    vec![
        // Shards to one logical topic: two tables of changes with the physical table in
        // the key, and every type table's records to one topic without it.
        (
            "logical_table",
            vec![
                ("transforms", "docs,types"),
                ("transforms.docs.type", LOGICAL),
                (
                    "transforms.docs.topic.regex",
                    "(changes)\\.public\\.(doc|docfull)",
                ),
                ("transforms.docs.topic.replacement", "$1.public.docs"),
                ("transforms.docs.key.field.regex", "changes\\.public\\.(.*)"),
                ("transforms.docs.key.field.replacement", "table_$1"),
                ("transforms.docs.key.field.name", "physical"),
                ("transforms.docs.schema.name.adjustment.mode", "none"),
                ("transforms.docs.logical.table.cache.size", "4"),
                ("transforms.types.type", LOGICAL),
                (
                    "transforms.types.topic.regex",
                    "(types|time_micros)\\.public\\..*",
                ),
                ("transforms.types.topic.replacement", "$1.all"),
                ("transforms.types.key.enforce.uniqueness", "false"),
            ],
        ),
        // Headers into the value: top level and a new struct (moved), and into the
        // envelope's existing source struct (copied).
        (
            "header_to_value",
            vec![
                ("transforms", "u,h"),
                ("transforms.u.type", UNWRAP),
                ("transforms.u.add.headers", "op,table,lsn"),
                ("transforms.h.type", HEADER_TO_VALUE),
                ("transforms.h.headers", "__op,__table,__lsn"),
                ("transforms.h.fields", "op,meta.table,meta.lsn"),
                ("transforms.h.operation", "move"),
            ],
        ),
        (
            "header_into_source",
            vec![
                ("transforms", "ins,h"),
                (
                    "transforms.ins.type",
                    "org.apache.kafka.connect.transforms.InsertHeader",
                ),
                ("transforms.ins.header", "origin"),
                ("transforms.ins.value.literal", "tributary"),
                ("transforms.h.type", HEADER_TO_VALUE),
                ("transforms.h.headers", "origin"),
                ("transforms.h.fields", "source.origin"),
                ("transforms.h.operation", "copy"),
            ],
        ),
        // Partitions by Java's hashCode and by Debezium's MurmurHash3; a field under a
        // null before or after fails the record on both sides.
        (
            "partition_routing",
            vec![
                ("transforms", "p"),
                ("transforms.p.type", PARTITIONS),
                (
                    "transforms.p.partition.payload.fields",
                    "change.id,change.title,source.table,op,missing,change.nothing",
                ),
                ("transforms.p.partition.topic.num", "7"),
            ],
        ),
        (
            "partition_types",
            vec![
                ("transforms", "java,murmur"),
                ("transforms.java.type", PARTITIONS),
                ("transforms.java.partition.payload.fields", HASHED),
                ("transforms.java.partition.topic.num", "5"),
                ("transforms.java.predicate", "types"),
                ("transforms.murmur.type", PARTITIONS),
                (
                    "transforms.murmur.partition.payload.fields",
                    "change.c_bytea,change.c_text,source.table,change.c_numeric,change.c_float8,change.c_int_arr",
                ),
                ("transforms.murmur.partition.topic.num", "11"),
                ("transforms.murmur.partition.hash.function", "murmur"),
                ("transforms.murmur.predicate", "not_types"),
                ("predicates", "types,not_types"),
                ("predicates.types.type", TOPIC_MATCHES),
                (
                    "predicates.types.pattern",
                    "(types|time_micros)\\.public\\.every",
                ),
                ("predicates.not_types.type", TOPIC_MATCHES),
                (
                    "predicates.not_types.pattern",
                    "(types|time_micros|changes)\\.public\\..*",
                ),
            ],
        ),
        // Every record's timestamps to New York time; the type tables' to +05:30 with an
        // include list (a source prefix carried to the items after it, a source epoch
        // field); to Kolkata with an exclude list.
        (
            "timezone",
            vec![
                ("transforms", "tz"),
                ("transforms.tz.type", TIMEZONE),
                ("transforms.tz.converted.timezone", "America/New_York"),
            ],
        ),
        (
            "timezone_lists",
            vec![
                ("transforms", "inc,exc"),
                ("transforms.inc.type", TIMEZONE),
                ("transforms.inc.converted.timezone", "+05:30"),
                (
                    "transforms.inc.include.list",
                    "source:every:c_tstz,every:source.ts_ms,more",
                ),
                ("transforms.exc.type", TIMEZONE),
                ("transforms.exc.converted.timezone", "Asia/Kolkata"),
                (
                    "transforms.exc.exclude.list",
                    "topic:types.public.every:c_ts",
                ),
            ],
        ),
        // Fields to text, Unix seconds, a Date and a Timestamp; text parsed; a key field;
        // a whole value.
        (
            "timestamp_converter",
            vec![
                ("transforms", "u,text,unix,date,time,parse,v2k,key"),
                ("transforms.u.type", UNWRAP),
                ("transforms.text.type", TIMESTAMP_VALUE),
                ("transforms.text.field", "c_ts"),
                ("transforms.text.target.type", "string"),
                ("transforms.text.format", "yyyy-MM-dd HH:mm:ss.SSS"),
                ("transforms.unix.type", TIMESTAMP_VALUE),
                ("transforms.unix.field", "c_date"),
                ("transforms.unix.target.type", "unix"),
                ("transforms.unix.unix.precision", "seconds"),
                ("transforms.date.type", TIMESTAMP_VALUE),
                ("transforms.date.field", "c_ts3"),
                ("transforms.date.target.type", "Date"),
                ("transforms.time.type", TIMESTAMP_VALUE),
                ("transforms.time.field", "c_time"),
                ("transforms.time.target.type", "Timestamp"),
                ("transforms.parse.type", TIMESTAMP_VALUE),
                ("transforms.parse.field", "c_tstz"),
                ("transforms.parse.target.type", "unix"),
                ("transforms.parse.unix.precision", "microseconds"),
                ("transforms.parse.format", "yyyy-MM-dd'T'HH:mm:ss"),
                (
                    "transforms.v2k.type",
                    "org.apache.kafka.connect.transforms.ValueToKey",
                ),
                ("transforms.v2k.fields", "id,c_date"),
                ("transforms.v2k.predicate", "every"),
                (
                    "transforms.key.type",
                    "org.apache.kafka.connect.transforms.TimestampConverter$Key",
                ),
                ("transforms.key.field", "c_date"),
                ("transforms.key.target.type", "Time"),
                ("transforms.key.replace.null.with.default", "false"),
                ("predicates", "every"),
                ("predicates.every.type", TOPIC_MATCHES),
                ("predicates.every.pattern", "types\\.public\\.every"),
            ],
        ),
        (
            "timestamp_whole",
            vec![
                ("transforms", "ts,text"),
                (
                    "transforms.ts.type",
                    "org.apache.kafka.connect.transforms.ExtractField$Value",
                ),
                ("transforms.ts.field", "ts_ms"),
                ("transforms.text.type", TIMESTAMP_VALUE),
                ("transforms.text.target.type", "string"),
                ("transforms.text.format", "dd MMM yyyy 'at' HH.mm.ss.S"),
            ],
        ),
    ]
}
