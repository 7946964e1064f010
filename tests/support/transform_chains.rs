//! The transform chains `tests/transforms_diff.rs` runs through Kafka Connect's and
//! Debezium's Java implementations and through Tributary's: together they cover every
//! implemented class, option and predicate.

pub const UNWRAP: &str = "io.debezium.transforms.ExtractNewRecordState";
const ROUTER: &str = "io.debezium.transforms.outbox.EventRouter";
const DECODE: &str =
    "io.debezium.connector.postgresql.transforms.DecodeLogicalDecodingMessageContent";
pub const TOPIC_MATCHES: &str = "org.apache.kafka.connect.transforms.predicates.TopicNameMatches";
/// The chains both sides run, by name: Kafka Connect properties.
pub fn chains() -> Vec<(&'static str, Vec<(&'static str, &'static str)>)> {
    let mut chains = vec![
        // Every record of every scenario: tombstones and deletes dropped, updates skipped,
        // records that are not change events unchanged, other tables' rows refused.
        (
            "outbox_everywhere",
            vec![("transforms", "o"), ("transforms.o.type", ROUTER)],
        ),
        (
            "kafka_shapes",
            vec![
                ("transforms", "u,v2k,hoist,meta,mask"),
                ("transforms.u.type", UNWRAP),
                (
                    "transforms.v2k.type",
                    "org.apache.kafka.connect.transforms.ValueToKey",
                ),
                ("transforms.v2k.fields", "id"),
                (
                    "transforms.hoist.type",
                    "org.apache.kafka.connect.transforms.HoistField$Key",
                ),
                ("transforms.hoist.field", "wrapped"),
                (
                    "transforms.meta.type",
                    "org.apache.kafka.connect.transforms.SetSchemaMetadata$Value",
                ),
                ("transforms.meta.schema.name", "renamed.Row"),
                ("transforms.meta.schema.version", "7"),
                (
                    "transforms.mask.type",
                    "org.apache.kafka.connect.transforms.MaskField$Value",
                ),
                (
                    "transforms.mask.fields",
                    "c_int2,c_int4,c_int8,c_float4,c_float8,c_bool,c_text,c_varchar,c_date,c_ts,c_int_arr,c_numeric_big,c_default,c_text_default",
                ),
                ("predicates", "types"),
                ("transforms.u.predicate", "types"),
                ("transforms.v2k.predicate", "types"),
                ("predicates.types.type", TOPIC_MATCHES),
                ("predicates.types.pattern", "types\\..*"),
            ],
        ),
        (
            "mask_replacement",
            vec![
                ("transforms", "u,mask"),
                ("transforms.u.type", UNWRAP),
                (
                    "transforms.mask.type",
                    "org.apache.kafka.connect.transforms.MaskField$Value",
                ),
                (
                    "transforms.mask.fields",
                    "c_int4,c_int8,c_float8,c_text,c_numeric_big",
                ),
                ("transforms.mask.replacement", "12"),
                ("transforms.mask.predicate", "every"),
                ("predicates", "every"),
                ("predicates.every.type", TOPIC_MATCHES),
                ("predicates.every.pattern", "types\\.public\\.every"),
            ],
        ),
        (
            "kafka_headers",
            vec![
                ("transforms", "u,from,ins,n,drop,keyfrom"),
                ("transforms.u.type", UNWRAP),
                ("transforms.u.add.headers", "op,table"),
                (
                    "transforms.from.type",
                    "org.apache.kafka.connect.transforms.HeaderFrom$Value",
                ),
                ("transforms.from.fields", "id,c_text"),
                ("transforms.from.headers", "hid,htext"),
                ("transforms.from.operation", "move"),
                ("transforms.from.predicate", "every"),
                (
                    "transforms.ins.type",
                    "org.apache.kafka.connect.transforms.InsertHeader",
                ),
                ("transforms.ins.header", "origin"),
                ("transforms.ins.value.literal", "tributary"),
                (
                    "transforms.n.type",
                    "org.apache.kafka.connect.transforms.InsertHeader",
                ),
                ("transforms.n.header", "n"),
                ("transforms.n.value.literal", "42"),
                (
                    "transforms.drop.type",
                    "org.apache.kafka.connect.transforms.DropHeaders",
                ),
                ("transforms.drop.headers", "__table,n"),
                (
                    "transforms.keyfrom.type",
                    "org.apache.kafka.connect.transforms.HeaderFrom$Key",
                ),
                ("transforms.keyfrom.fields", "id"),
                ("transforms.keyfrom.headers", "kid"),
                ("transforms.keyfrom.operation", "copy"),
                ("transforms.keyfrom.predicate", "keyed"),
                ("predicates", "every,keyed"),
                ("predicates.every.type", TOPIC_MATCHES),
                ("predicates.every.pattern", "types\\.public\\.every"),
                ("predicates.keyed.type", TOPIC_MATCHES),
                ("predicates.keyed.pattern", "(types|changes)\\.public\\..*"),
            ],
        ),
        (
            "outbox_by_day",
            vec![
                ("transforms", "o,day"),
                ("transforms.o.type", ROUTER),
                ("transforms.o.predicate", "ob"),
                (
                    "transforms.day.type",
                    "org.apache.kafka.connect.transforms.TimestampRouter",
                ),
                ("transforms.day.topic.format", "${topic}_${timestamp}"),
                ("transforms.day.timestamp.format", "yyyy-MM-dd'T'HH.SSS"),
                ("transforms.day.predicate", "ob"),
                ("predicates", "ob"),
                ("predicates.ob.type", TOPIC_MATCHES),
                ("predicates.ob.pattern", "outbox\\.public\\.outboxevent"),
            ],
        ),
        (
            "flatten_envelope",
            vec![
                ("transforms", "flat"),
                (
                    "transforms.flat.type",
                    "org.apache.kafka.connect.transforms.Flatten$Value",
                ),
                ("transforms.flat.delimiter", "_"),
            ],
        ),
        (
            "unwrap_flatten_cast",
            vec![
                ("transforms", "u,flat,cast,keycast"),
                ("transforms.u.type", UNWRAP),
                (
                    "transforms.flat.type",
                    "org.apache.kafka.connect.transforms.Flatten$Value",
                ),
                (
                    "transforms.cast.type",
                    "org.apache.kafka.connect.transforms.Cast$Value",
                ),
                (
                    "transforms.cast.spec",
                    "c_int2:string,c_int4:float64,c_int8:int8,c_float4:int32,c_float8:string,c_bool:int16,c_numeric:float64,c_numeric_big:int64,c_text:boolean,c_date:string,c_ts:string,c_time:string,c_bytea:string,c_default:boolean,c_text_default:string",
                ),
                ("transforms.cast.predicate", "types"),
                (
                    "transforms.keycast.type",
                    "org.apache.kafka.connect.transforms.Cast$Key",
                ),
                ("transforms.keycast.spec", "id:string"),
                ("predicates", "types"),
                ("predicates.types.type", TOPIC_MATCHES),
                ("predicates.types.pattern", "types\\..*"),
            ],
        ),
        (
            "changed_state",
            vec![
                ("transforms", "c,u"),
                (
                    "transforms.c.type",
                    "io.debezium.transforms.ExtractChangedRecordState",
                ),
                ("transforms.c.header.changed.name", "changed"),
                ("transforms.c.header.unchanged.name", "same"),
                ("transforms.u.type", UNWRAP),
            ],
        ),
        (
            "bytes_value",
            vec![
                ("transforms", "u,b"),
                ("transforms.u.type", UNWRAP),
                (
                    "transforms.b.type",
                    "org.apache.kafka.connect.transforms.ExtractField$Value",
                ),
                ("transforms.b.field", "c_bytea"),
                ("transforms.b.predicate", "every"),
                ("predicates", "every"),
                ("predicates.every.type", TOPIC_MATCHES),
                ("predicates.every.pattern", "types\\.public\\.every"),
            ],
        ),
        (
            "outbox",
            vec![
                ("transforms", "o"),
                ("transforms.o.type", ROUTER),
                ("transforms.o.predicate", "ob"),
                ("predicates", "ob"),
                ("predicates.ob.type", TOPIC_MATCHES),
                ("predicates.ob.pattern", "outbox\\.public\\.outboxevent"),
            ],
        ),
        (
            "outbox_expand",
            vec![
                ("transforms", "o"),
                ("transforms.o.type", ROUTER),
                ("transforms.o.table.expand.json.payload", "true"),
                (
                    "transforms.o.table.fields.additional.placement",
                    "type:header:eventType,version:envelope,partition_no:partition,tenant:envelope:tenant_name",
                ),
                ("transforms.o.table.field.event.timestamp", "ts"),
                (
                    "transforms.o.route.topic.replacement",
                    "${routedByValue}.events",
                ),
                ("transforms.o.route.tombstone.on.empty.payload", "true"),
                ("transforms.o.table.op.invalid.behavior", "fatal"),
                (
                    "transforms.o.table.json.payload.null.behavior",
                    "optional_bytes",
                ),
                ("transforms.o.predicate", "ob"),
                ("predicates", "ob"),
                ("predicates.ob.type", TOPIC_MATCHES),
                ("predicates.ob.pattern", "outbox\\.public\\.outboxevent"),
            ],
        ),
        (
            "outbox_text",
            vec![
                ("transforms", "o"),
                ("transforms.o.type", ROUTER),
                ("transforms.o.route.topic.regex", "(?<routedByValue>[a-z]+)"),
                (
                    "transforms.o.route.topic.replacement",
                    "text.${routedByValue}",
                ),
                (
                    "transforms.o.table.fields.additional.placement",
                    "type:envelope:eventType,absent:header,v:header",
                ),
                ("transforms.o.table.field.additional.missing", "ignore"),
                ("transforms.o.table.field.event.schema.version", "v"),
                ("transforms.o.route.tombstone.on.empty.payload", "true"),
                ("transforms.o.predicate", "t"),
                ("predicates", "t"),
                ("predicates.t.type", TOPIC_MATCHES),
                ("predicates.t.pattern", "outbox\\.public\\.outbox_text"),
            ],
        ),
        (
            "outbox_message",
            vec![
                ("transforms", "decode,o"),
                ("transforms.decode.type", DECODE),
                ("transforms.decode.fields.null.include", "true"),
                ("transforms.decode.predicate", "m"),
                ("transforms.o.type", ROUTER),
                (
                    "transforms.o.table.fields.additional.placement",
                    "type:header",
                ),
                ("transforms.o.predicate", "m"),
                ("predicates", "m"),
                ("predicates.m.type", TOPIC_MATCHES),
                ("predicates.m.pattern", "outbox\\.message"),
            ],
        ),
        (
            "unwrap",
            vec![("transforms", "u"), ("transforms.u.type", UNWRAP)],
        ),
        (
            "unwrap_rewrite",
            vec![
                ("transforms", "u"),
                ("transforms.u.type", UNWRAP),
                ("transforms.u.delete.tombstone.handling.mode", "rewrite"),
                (
                    "transforms.u.add.fields",
                    "op,table,lsn,source.ts_ms,transaction.id,ts_ms:when,source.snapshot",
                ),
                ("transforms.u.add.headers", "op,db,source.txId:tx"),
                ("transforms.u.add.headers.prefix", "h_"),
            ],
        ),
        (
            "unwrap_drop",
            vec![
                ("transforms", "u"),
                ("transforms.u.type", UNWRAP),
                ("transforms.u.delete.tombstone.handling.mode", "drop"),
                ("transforms.u.add.fields.prefix", "meta_"),
                ("transforms.u.add.fields", "op,name"),
            ],
        ),
        (
            "unwrap_rewrite_with_tombstone",
            vec![
                ("transforms", "u"),
                ("transforms.u.type", UNWRAP),
                (
                    "transforms.u.delete.tombstone.handling.mode",
                    "rewrite-with-tombstone",
                ),
                ("transforms.u.add.headers", "op"),
                ("transforms.u.replace.null.with.default", "false"),
            ],
        ),
        (
            "unwrap_route_delete_to_tombstone",
            vec![
                ("transforms", "u"),
                ("transforms.u.type", UNWRAP),
                (
                    "transforms.u.delete.tombstone.handling.mode",
                    "delete-to-tombstone",
                ),
                ("transforms.u.route.by.field", "v"),
                ("transforms.u.predicate", "t"),
                ("predicates", "t"),
                (
                    "predicates.t.type",
                    "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
                ),
                ("predicates.t.pattern", "messages\\.public\\.t"),
            ],
        ),
        (
            "unwrap_then_fields",
            vec![
                ("transforms", "u,drop,ins,key"),
                ("transforms.u.type", UNWRAP),
                ("transforms.u.add.headers", "op"),
                (
                    "transforms.drop.type",
                    "org.apache.kafka.connect.transforms.ReplaceField$Value",
                ),
                ("transforms.drop.exclude", "body,c_text"),
                ("transforms.drop.renames", "title:headline,id:ident"),
                (
                    "transforms.ins.type",
                    "org.apache.kafka.connect.transforms.InsertField$Value",
                ),
                ("transforms.ins.topic.field", "from_topic!"),
                ("transforms.ins.static.field", "origin"),
                ("transforms.ins.static.value", "tributary"),
                ("transforms.ins.predicate", "op"),
                (
                    "transforms.key.type",
                    "org.apache.kafka.connect.transforms.ReplaceField$Key",
                ),
                ("transforms.key.renames", "id:pk"),
                ("predicates", "op"),
                (
                    "predicates.op.type",
                    "org.apache.kafka.connect.transforms.predicates.HasHeaderKey",
                ),
                ("predicates.op.name", "__op"),
            ],
        ),
        (
            "extract_and_route",
            vec![
                ("transforms", "k,src,route"),
                (
                    "transforms.k.type",
                    "org.apache.kafka.connect.transforms.ExtractField$Key",
                ),
                ("transforms.k.field", "id"),
                ("transforms.k.predicate", "keyed"),
                (
                    "transforms.src.type",
                    "org.apache.kafka.connect.transforms.ExtractField$Value",
                ),
                ("transforms.src.field", "source"),
                ("transforms.src.predicate", "tomb"),
                ("transforms.src.negate", "true"),
                (
                    "transforms.route.type",
                    "org.apache.kafka.connect.transforms.RegexRouter",
                ),
                ("transforms.route.regex", "([a-z]+)\\.public\\.(.*)"),
                ("transforms.route.replacement", "$2-from-$1"),
                ("predicates", "keyed,tomb"),
                (
                    "predicates.keyed.type",
                    "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
                ),
                (
                    "predicates.keyed.pattern",
                    "(changes\\.public\\.doc.*|types\\..*)",
                ),
                (
                    "predicates.tomb.type",
                    "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone",
                ),
            ],
        ),
        (
            "filter",
            vec![
                ("transforms", "f"),
                (
                    "transforms.f.type",
                    "org.apache.kafka.connect.transforms.Filter",
                ),
                ("transforms.f.predicate", "docs"),
                ("transforms.f.negate", "true"),
                ("predicates", "docs"),
                (
                    "predicates.docs.type",
                    "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
                ),
                ("predicates.docs.pattern", ".*\\.doc"),
            ],
        ),
    ];
    chains.extend(super::routing_time_chains::chains());
    chains
}
