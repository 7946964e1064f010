//! The scenarios of the differential test (`tests/debezium_diff.rs`): what each database
//! holds before both connectors start, the changes made once both stream, and the
//! properties both are given.

/// One database captured by both connectors with the same `config`.
pub struct Scenario {
    pub name: &'static str,
    /// Properties given to both connectors.
    pub config: &'static [(&'static str, &'static str)],
    /// Run before either connector starts: what the snapshot reads.
    pub setup: String,
    /// Run once both stream, each its own transaction.
    pub changes: Vec<String>,
}

const TYPES_DDL: &str = "
CREATE EXTENSION hstore; CREATE EXTENSION ltree; CREATE EXTENSION citext; CREATE EXTENSION postgis;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE TABLE every (
  id int PRIMARY KEY,
  c_int2 int2, c_int4 int4, c_int8 int8, c_float4 float4, c_float8 float8, c_bool bool,
  c_numeric numeric(20,5), c_numeric_big numeric(38,0), c_numeric_var numeric,
  c_text text, c_varchar varchar(10), c_char char(3), c_bytea bytea,
  c_date date, c_time time, c_time3 time(3), c_timetz timetz,
  c_ts timestamp, c_ts3 timestamp(3), c_tstz timestamptz, c_interval interval,
  c_uuid uuid, c_json json, c_jsonb jsonb, c_xml xml, c_mood mood,
  c_int_arr int[], c_text_arr text[], c_inet inet, c_cidr cidr, c_mac macaddr,
  c_money money, c_dom posint
);
CREATE TABLE more (
  id serial PRIMARY KEY,
  c_default int DEFAULT 42, c_text_default text NOT NULL DEFAULT 'none',
  c_mac8 macaddr8, c_bit1 bit(1), c_bit8 bit(8), c_varbit varbit(16),
  c_citext citext, c_ltree ltree, c_hstore hstore, c_tsvector tsvector,
  c_mood_arr mood[], c_uuid_arr uuid[], c_num_arr numeric[], c_date_arr date[],
  c_int4range int4range, c_int8range int8range, c_numrange numrange, c_tsrange tsrange,
  c_tstzrange tstzrange, c_daterange daterange,
  c_point point, c_box box, c_circle circle, c_oid oid, c_real_arr real[],
  c_geom geometry, c_geog geography, c_geom_plain geometry,
  c_time_arr time[], c_ts_arr timestamp[], c_date_def date DEFAULT '2024-01-01',
  c_time_def time(3) DEFAULT '12:30:00.5', c_ts_def timestamp DEFAULT now(),
  c_tstz_def timestamptz DEFAULT now(), c_date_now date DEFAULT current_date
);";

const EVERY_ROWS: &[&str] = &[
    "(1, 1, 2, 3, 1.5, 2.25, true, 12345.67891, 99999999999999999999999999999999999999, 0.000001,
      'héllo \"q\" \\ tab\there', 'short', 'ab', '\\x00ff10',
      '2024-02-29', '13:45:59.123456', '01:02:03.456', '10:00:00.5+02',
      '2024-02-29 13:45:59.123456', '1999-12-31 23:59:59.999', '2024-02-29 13:45:59.123456+05:30',
      '1 year 2 mons 3 days 04:05:06.789', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"a\": [1, 2]}',
      '{\"b\": {\"c\": null}}', '<a>x</a>', 'happy', '{1,NULL,3}', '{\"x,y\",\"\",NULL,\"q\\\"\"}',
      '192.168.0.1/24', '10.0.0.0/8', '08:00:2b:01:02:03', 1234.56, 7)",
    "(2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
      NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
    "(3, -32768, -2147483648, -9223372036854775808, 'NaN', '-Infinity', false, -0.00001,
      -12345678901234567890123456789012345678, -123456789012345678901234567890.123456789,
      '', '', ' ', '\\x',
      '0044-03-15 BC', '24:00:00', '00:00:00', '23:59:59-07',
      '0001-01-01 00:00:00 BC', '1970-01-01 00:00:00', '1900-06-30 12:00:00+00',
      '-3 days -00:00:01', '00000000-0000-0000-0000-000000000000', '[]', '[]', '<r/>', 'sad',
      '{}', '{}', '::1', '::/0', 'ff:ff:ff:ff:ff:ff', -0.01, 1)",
    "(4, 0, 0, 0, 'Infinity', 'NaN', true, 0, 0, 'NaN',
      'x', 'y', 'z', '\\x00', 'infinity', '00:00:00.000001', '23:59:59.999', '00:00:00+00',
      'infinity', '-infinity', 'infinity', '0', 'ffffffff-ffff-ffff-ffff-ffffffffffff', 'null', '0', '<a/>', 'ok',
      '{-1}', '{NULL}', '0.0.0.0', '0.0.0.0/32', '00:00:00:00:00:00', 0, 2147483647)",
];

const MORE_ROW: &str =
    "(DEFAULT, DEFAULT, DEFAULT, '08:00:2b:01:02:03:04:05', B'1', B'10100101', B'101',
  'MiXeD', 'top.science.astronomy', 'a=>1, b=>NULL, \"c d\"=>\"e\"', 'a fat cat:1 sat:2',
  '{sad,happy}', '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}', '{1.5,NaN,-2}', '{2024-02-29,infinity}',
  '[1,10)', '(,5]', '[1.5,2.5]', '[2024-01-01 00:00,2024-02-01 00:00)',
  '[2024-01-01 00:00+00,)', 'empty',
  '(1.5,-2)', '((0,0),(1,1))', '<(1,2),3>', 4000000000, '{1.25,-Infinity}',
  'SRID=4326;POINT(1 2)', 'SRID=4326;LINESTRING(0 0, 1 1)', 'POLYGON((0 0, 1 0, 1 1, 0 0))',
  '{12:00:00.25,NULL,24:00:00}', '{2024-02-29 13:45:59.123456,1999-12-31 23:59:59}')";

fn every_inserts(base: i32) -> String {
    EVERY_ROWS
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let row = row.replacen(
                &format!("({}", i + 1),
                &format!("({}", base + i as i32 + 1),
                1,
            );
            format!("INSERT INTO every VALUES {row};")
        })
        .collect()
}

/// The type tables with their rows, and changes to them while streaming.
fn types_scenario(name: &'static str, config: &'static [(&'static str, &'static str)]) -> Scenario {
    Scenario {
        name,
        config,
        setup: format!(
            "{TYPES_DDL}\n{}\nINSERT INTO more VALUES {MORE_ROW}; INSERT INTO more (id) VALUES (DEFAULT);",
            every_inserts(0)
        ),
        changes: vec![
            every_inserts(10),
            format!("INSERT INTO more VALUES {MORE_ROW}; INSERT INTO more (id) VALUES (DEFAULT);"),
            "INSERT INTO more (c_default, c_date_arr) VALUES (NULL, '{-infinity,infinity,2024-01-01}')".into(),
            "UPDATE every SET c_text = 'changed', c_int4 = c_int4 + 1 WHERE id IN (11, 13)".into(),
            "UPDATE more SET c_hstore = 'x=>y', c_point = '(0,0)' WHERE id = 3".into(),
            "DELETE FROM every WHERE id = 12".into(),
            "DELETE FROM more WHERE id = 4".into(),
            // Under each binary.handling.mode.
            "SELECT pg_logical_emit_message(true, 'types', '\\x01ff'::bytea)".into(),
        ],
    }
}

/// Row changes beyond single-row DML: TOAST under DEFAULT and FULL identity, key changes,
/// truncates, multi-statement transactions with metadata, heartbeats.
fn changes_scenario() -> Scenario {
    let big = "repeat('x', 20000) || md5(random()::text)";
    Scenario {
        name: "changes",
        config: &[
            ("skipped.operations", "none"),
            ("provide.transaction.metadata", "true"),
            ("heartbeat.interval.ms", "1000"),
            // Both connectors set these identities when they start.
            (
                "replica.identity.autoset.values",
                "public.docfull:FULL,public\\.NOKEY:full",
            ),
        ],
        setup: format!(
            "CREATE TABLE doc (id int PRIMARY KEY, title text, body text);
             CREATE TABLE docfull (id int PRIMARY KEY, title text, body text);
             CREATE TABLE nokey (a int, b text);
             INSERT INTO doc SELECT g, 't' || g, {big} FROM generate_series(1, 3) g;
             INSERT INTO docfull SELECT g, 't' || g, {big} FROM generate_series(1, 3) g;
             INSERT INTO nokey VALUES (1, 'one');"
        ),
        changes: vec![
            // An unchanged TOASTed column, under DEFAULT and FULL identity.
            "UPDATE doc SET title = 'renamed' WHERE id = 1".into(),
            "UPDATE docfull SET title = 'renamed' WHERE id = 1".into(),
            // Key changes.
            "UPDATE doc SET id = 10 WHERE id = 2".into(),
            "UPDATE docfull SET id = 10 WHERE id = 2".into(),
            // Several statements and tables in one transaction.
            format!(
                "INSERT INTO doc VALUES (20, 'new', {big}); UPDATE docfull SET body = 'short' WHERE id = 3;
                 DELETE FROM doc WHERE id = 3; INSERT INTO nokey VALUES (2, 'two')"
            ),
            "UPDATE nokey SET b = 'uno' WHERE a = 1".into(),
            "DELETE FROM nokey WHERE a = 2".into(),
            "TRUNCATE docfull".into(),
            "INSERT INTO docfull VALUES (99, 'after truncate', 'b')".into(),
        ],
    }
}

/// A partitioned table (a sub-partitioned partition among its partitions) and a plain one;
/// while streaming, rows change and move between partitions, a table is attached as a
/// partition and a partition created, and a partition truncated.
fn partitions_scenario(
    name: &'static str,
    config: &'static [(&'static str, &'static str)],
) -> Scenario {
    Scenario {
        name,
        config,
        setup: "CREATE TABLE meas (id int, region text NOT NULL DEFAULT 'x', v numeric(10,2), PRIMARY KEY (id, region))
                  PARTITION BY RANGE (id);
                CREATE TABLE meas_a PARTITION OF meas FOR VALUES FROM (1) TO (100);
                CREATE TABLE meas_b PARTITION OF meas FOR VALUES FROM (100) TO (200);
                CREATE TABLE meas_c PARTITION OF meas FOR VALUES FROM (200) TO (300)
                  PARTITION BY LIST (region);
                CREATE TABLE meas_c_x PARTITION OF meas_c FOR VALUES IN ('x');
                CREATE TABLE meas_c_other PARTITION OF meas_c DEFAULT;
                CREATE TABLE plain (id int PRIMARY KEY, t text);
                INSERT INTO meas VALUES (1, 'x', 1.5), (2, 'y', 2), (3, 'y', 2.5), (150, 'x', 3),
                  (160, 'x', 3.5), (250, 'x', 4), (251, 'z', 5);
                INSERT INTO plain VALUES (1, 'one');"
            .into(),
        changes: vec![
            "UPDATE meas SET v = v + 1 WHERE id IN (1, 250, 251)".into(),
            // A key change that moves the row to another partition.
            "UPDATE meas SET id = 120 WHERE id = 2".into(),
            "UPDATE meas SET region = 'w' WHERE id = 250".into(),
            "DELETE FROM meas WHERE id = 150".into(),
            "CREATE TABLE meas_d (LIKE meas INCLUDING DEFAULTS); ALTER TABLE meas_d ADD PRIMARY KEY (id, region);
             ALTER TABLE meas ATTACH PARTITION meas_d FOR VALUES FROM (300) TO (400);
             INSERT INTO meas VALUES (300, 'x', 6)"
                .into(),
            "CREATE TABLE meas_e PARTITION OF meas FOR VALUES FROM (400) TO (500);
             INSERT INTO meas VALUES (400, 'q', 7), (401, 'q', 8)"
                .into(),
            "UPDATE meas SET v = 0 WHERE id IN (300, 400)".into(),
            "TRUNCATE meas_b".into(),
            "INSERT INTO plain VALUES (2, 'two'); INSERT INTO meas VALUES (3000 - 2999, 'x', 9) ON CONFLICT (id, region) DO UPDATE SET v = 10".into(),
        ],
    }
}

/// Logical decoding messages, transactional (alone, and with rows) and not (alone, and
/// emitted inside a transaction), filtered by prefix, with transaction metadata.
fn messages_scenario() -> Scenario {
    let emit = |transactional: bool, prefix: &str, content: &str| {
        format!("SELECT pg_logical_emit_message({transactional}, '{prefix}', {content})")
    };
    Scenario {
        name: "messages",
        config: &[
            ("provide.transaction.metadata", "true"),
            // Matched regardless of case, as Debezium matches it.
            ("message.prefix.include.list", "keep\\..*,OUTBOX"),
        ],
        setup: "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (0, 'z')".into(),
        changes: vec![
            emit(true, "keep.a", "'hello'"),
            format!(
                "INSERT INTO t VALUES (1, 'a'); {}; INSERT INTO t VALUES (2, 'b')",
                emit(true, "outbox", "'\\x00ff10'::bytea")
            ),
            emit(false, "keep.b", "'on its own'"),
            emit(false, "skipped.alone", "'left out, and not transactional'"),
            "INSERT INTO t VALUES (5, 'e')".into(),
            format!(
                "INSERT INTO t VALUES (3, 'c'); {}; {}; UPDATE t SET v = 'cc' WHERE id = 3",
                emit(false, "keep.c", "'not transactional, inside one'"),
                emit(true, "skipped.prefix", "'left out'")
            ),
            format!(
                "{}; {}; INSERT INTO t VALUES (4, 'd')",
                emit(true, "keep.a", "''"),
                emit(true, "keep.d", "'two in one transaction'")
            ),
        ],
    }
}

/// Debezium's column reselector: unchanged TOASTed values (text, text[], jsonb, bytea) and
/// NULLs of created and updated rows read again by key, a column left out by the exclude
/// list, a key change, and a row deleted before its update could be re-read.
fn reselect_scenario() -> Scenario {
    Scenario {
        name: "reselect",
        config: &[
            ("post.processors", "reselector"),
            (
                "post.processors.reselector.type",
                "io.debezium.processors.reselect.ReselectColumnsPostProcessor",
            ),
            (
                "post.processors.reselector.reselect.columns.exclude.list",
                "PUBLIC\\.toasty:kept",
            ),
        ],
        setup: "CREATE TABLE toasty (id int PRIMARY KEY, big text, kept text, arr text[], js jsonb,
                  bin bytea, n int, note text);
                ALTER TABLE toasty ALTER big SET STORAGE EXTERNAL, ALTER kept SET STORAGE EXTERNAL,
                  ALTER arr SET STORAGE EXTERNAL, ALTER js SET STORAGE EXTERNAL,
                  ALTER bin SET STORAGE EXTERNAL;
                INSERT INTO toasty SELECT g, repeat('b', 5000) || g, repeat('k', 5000),
                  array[repeat('a', 5000), 'x'], jsonb_build_object('j', repeat('j', 5000)),
                  decode(repeat('ff', 5000), 'hex'), g, NULL FROM generate_series(1, 5) g"
            .into(),
        changes: vec![
            "UPDATE toasty SET n = 10 WHERE id = 1".into(),
            "UPDATE toasty SET id = 20 WHERE id = 2".into(),
            "UPDATE toasty SET note = 'set', n = 30 WHERE id = 3".into(),
            "UPDATE toasty SET n = 40 WHERE id = 4; DELETE FROM toasty WHERE id = 4".into(),
            "INSERT INTO toasty (id, n) VALUES (6, 6)".into(),
        ],
    }
}

/// Tables whose names are not valid in a topic name, and tables routed to one topic, under
/// `topic.naming.strategy` `config`.
fn topic_names_scenario(
    name: &'static str,
    config: &'static [(&'static str, &'static str)],
) -> Scenario {
    Scenario {
        name,
        config,
        setup: "CREATE TABLE \"Order Items\" (id int PRIMARY KEY, v text);
                CREATE TABLE \"café\" (id int PRIMARY KEY, v text);
                CREATE TABLE under_score (id int PRIMARY KEY, v text);
                CREATE TABLE shard_1 (id int PRIMARY KEY, v text);
                CREATE TABLE shard_2 (id int PRIMARY KEY, v text);
                CREATE TABLE nokey (v text); ALTER TABLE nokey REPLICA IDENTITY FULL;
                INSERT INTO \"Order Items\" VALUES (1, 'a'); INSERT INTO \"café\" VALUES (1, 'b');
                INSERT INTO under_score VALUES (1, 'c'); INSERT INTO shard_1 VALUES (1, 'd');
                INSERT INTO shard_2 VALUES (1, 'e'); INSERT INTO nokey VALUES ('f');"
            .into(),
        changes: vec![
            "INSERT INTO \"Order Items\" VALUES (2, 'x'); INSERT INTO \"café\" VALUES (2, 'y')"
                .into(),
            "INSERT INTO shard_1 VALUES (2, 'z'); INSERT INTO shard_2 VALUES (2, 'w')".into(),
            "UPDATE shard_2 SET v = 'ww' WHERE id = 1; DELETE FROM shard_1 WHERE id = 1".into(),
            "INSERT INTO under_score VALUES (2, 'u'); INSERT INTO nokey VALUES ('g')".into(),
        ],
    }
}

/// pgvector's types by their names, as Debezium recognises them, without pgvector: base
/// types with text's input and output, so any text is a value, well-formed or not.
pub const VECTOR_TYPES_DDL: &str = "
CREATE TYPE vector; CREATE TYPE halfvec; CREATE TYPE sparsevec;
CREATE FUNCTION vector_in(cstring) RETURNS vector AS 'textin' LANGUAGE internal IMMUTABLE STRICT;
CREATE FUNCTION vector_out(vector) RETURNS cstring AS 'textout' LANGUAGE internal IMMUTABLE STRICT;
CREATE TYPE vector (INPUT = vector_in, OUTPUT = vector_out, LIKE = text);
CREATE FUNCTION halfvec_in(cstring) RETURNS halfvec AS 'textin' LANGUAGE internal IMMUTABLE STRICT;
CREATE FUNCTION halfvec_out(halfvec) RETURNS cstring AS 'textout' LANGUAGE internal IMMUTABLE STRICT;
CREATE TYPE halfvec (INPUT = halfvec_in, OUTPUT = halfvec_out, LIKE = text);
CREATE FUNCTION sparsevec_in(cstring) RETURNS sparsevec AS 'textin' LANGUAGE internal IMMUTABLE STRICT;
CREATE FUNCTION sparsevec_out(sparsevec) RETURNS cstring AS 'textout' LANGUAGE internal IMMUTABLE STRICT;
CREATE TYPE sparsevec (INPUT = sparsevec_in, OUTPUT = sparsevec_out, LIKE = text);";

/// Rows of `vec` from `base`: pgvector's text forms, text Debezium's readers turn into NULL
/// (no brackets, a sparse vector without dimensions), elements Java does not read as numbers
/// (a conversion failure), and with `failing`, a NOT NULL column that does not convert (an
/// event that cannot be made).
fn vector_rows(base: i32, failing: bool) -> String {
    let r = |ok: &str| {
        if failing {
            "'oops'".to_string()
        } else {
            format!("'{ok}'")
        }
    };
    format!(
        "INSERT INTO vec VALUES
          ({}, '[1,2.5,-3]', '[0.1,1e3,-0.0]', '{{1:1.5,3:2,17:-1}}/20', '[1]'),
          ({}, 'no brackets', '[1,x]', '{{}}/3', '[2]'),
          ({}, '[1,2,]', '[]', '{{1:x}}/3', '[3]'),
          ({}, NULL, '[Infinity,-Infinity,NaN]', '{{5:1,2:2,5:3}}/9', {}),
          ({}, ' [ 4 , 5d ] ', NULL, '{{1:1}}', '[5]'),
          ({}, '[1e400]', '[1.5F]', 'x/2', '[6]')",
        base + 1,
        base + 2,
        base + 3,
        base + 4,
        r("[4]"),
        base + 5,
        base + 6,
    )
}

/// pgvector's types, and values that do not convert, under the failure handling modes.
fn vectors_scenario(
    name: &'static str,
    config: &'static [(&'static str, &'static str)],
    failing: bool,
) -> Scenario {
    Scenario {
        name,
        config,
        setup: format!(
            "{VECTOR_TYPES_DDL}
            CREATE TABLE vec (id int PRIMARY KEY, v vector, h halfvec, s sparsevec, r vector NOT NULL);
            {};",
            vector_rows(0, failing)
        ),
        changes: vec![
            vector_rows(10, failing),
            "UPDATE vec SET v = '[9]', h = '[1,y]' WHERE id = 1".into(),
            format!(
                "UPDATE vec SET s = '{{2:2}}/4' WHERE id = 11; UPDATE vec SET r = {} WHERE id = 12",
                if failing { "'[1,z]'" } else { "'[7]'" }
            ),
            "DELETE FROM vec WHERE id IN (3, 13)".into(),
        ],
    }
}

/// The outbox pattern: an outbox table (Debezium's layout, jsonb payloads of every JSON
/// shape), a text outbox (empty, blank and non-JSON payloads, a schema version), rows
/// inserted and deleted in one transaction, an update, and logical decoding messages whose
/// content is the outbox row as JSON (transactional or not, and one that is not JSON).
/// No array holds objects of different shapes: Java merges their schemas in an order that
/// changes from one JVM run to the next.
/// Not one of [`scenarios`]: the transforms' differential test and the outbox test use it.
pub fn outbox_scenario() -> Scenario {
    let row = |id: u32, agg: &str, agg_id: &str, payload: &str, tail: &str| {
        format!(
            "INSERT INTO outboxevent VALUES ('00000000-0000-0000-0000-{id:012}', '{agg}', '{agg_id}', 'Created', {payload}, {tail})"
        )
    };
    let text = |id: u32, agg: &str, payload: &str, v: &str| {
        format!("INSERT INTO outbox_text VALUES ({id}, '{agg}', 'k-{id}', 'Noted', {payload}, {v})")
    };
    let emit = |transactional: bool, content: &str| {
        format!("SELECT pg_logical_emit_message({transactional}, 'outbox', '{content}')")
    };
    Scenario {
        name: "outbox",
        config: &[],
        setup: format!(
            "CREATE TABLE outboxevent (id uuid PRIMARY KEY, aggregatetype varchar(255) NOT NULL, aggregateid varchar(255) NOT NULL, type varchar(255) NOT NULL, payload jsonb, ts timestamp(6), version int NOT NULL DEFAULT 1, partition_no int, tenant text);
             CREATE TABLE outbox_text (id bigint PRIMARY KEY, aggregatetype text, aggregateid text NOT NULL, type text, payload text, v int);
             {}",
            row(1, "order", "o-1", r#"'{"total": 10, "items": [{"sku": "a", "qty": 1}]}'"#, "'2026-01-02 03:04:05.123456', 1, 0, 'acme'")
        ),
        changes: vec![
            row(2, "order", "o-2", r#"'{"total": 25.5, "customer": {"id": 7, "vip": true}, "note": null}'"#, "'2026-01-02 03:04:06', 2, 1, NULL"),
            row(3, "customer", "c-1", r#"'{"big": 3000000000, "tags": ["x", "y"], "none": [], "nested": [[1, 2], [3]], "same": [{"a": 1, "b": "t"}, {"a": 2, "b": null}]}'"#, "NULL, 1, NULL, 'acme'"),
            format!(
                "{}; DELETE FROM outboxevent WHERE id = '00000000-0000-0000-0000-000000000004'",
                row(4, "order", "o-3", r#"'{"total": 1}'"#, "now(), 1, 0, 'acme'")
            ),
            "UPDATE outboxevent SET tenant = 'other' WHERE id = '00000000-0000-0000-0000-000000000002'".into(),
            row(5, "customer", "c-2", "NULL", "NULL, 3, NULL, NULL"),
            row(6, "customer", "c-3", "'[1, 2]'", "NULL, 1, NULL, NULL"),
            row(7, "order", "o-4", r#"'{"odd": [1, "x"]}'"#, "NULL, 1, NULL, NULL"),
            row(8, "order", "o-5", r#"'"just a string"'"#, "NULL, 1, NULL, NULL"),
            text(1, "note", "'{\"k\": \"v\", \"n\": 1.0}'", "1"),
            format!("{}; {}", text(2, "note", "''", "1"), text(3, "note", "'   '", "NULL")),
            text(4, "Shipping-Label", "'not json'", "2"),
            text(5, "note", "NULL", "2"),
            emit(true, r#"{"id": 7, "aggregatetype": "order", "aggregateid": "o-9", "type": "Paid", "payload": {"amount": 12.5, "note": null, "lines": [{"sku": "b"}]}}"#),
            emit(false, r#"{"id": "m-2", "aggregatetype": "customer", "aggregateid": 42, "type": "Renamed", "payload": "plain"}"#),
            emit(true, "plain text"),
            emit(true, r#"{"aggregatetype": "order"}"#),
        ],
    }
}

/// Every scenario of the differential test.
/// An incremental snapshot by a signal-table row, in windows of two rows: the signal
/// table's own events and the `op: r`, `source.snapshot: incremental` events of every row.
/// (Each connector also sees the other's watermark rows, which `eventdiff` leaves out.)
fn incremental_scenario() -> Scenario {
    Scenario {
        name: "incremental",
        config: &[
            ("signal.data.collection", "public.debezium_signal"),
            ("incremental.snapshot.chunk.size", "2"),
        ],
        setup: "CREATE TABLE debezium_signal (id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048));
                CREATE TABLE inc (id int PRIMARY KEY, v text, n numeric(10,2));
                INSERT INTO inc SELECT g, 'row ' || g, g * 1.5 FROM generate_series(1, 5) g"
            .into(),
        changes: vec![
            "INSERT INTO debezium_signal VALUES ('sig-1', 'execute-snapshot', '{\"data-collections\": [\"public.inc\"], \"type\": \"incremental\"}')".into(),
        ],
    }
}

/// A blocking snapshot by a signal-table row, of two tables, one through its
/// `additional-conditions` statement: the `op: r` events and their markers, as an initial
/// snapshot has them.
fn blocking_scenario() -> Scenario {
    Scenario {
        name: "blocking",
        config: &[("signal.data.collection", "public.debezium_signal")],
        setup: "CREATE TABLE debezium_signal (id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048));
                CREATE TABLE blk (id int PRIMARY KEY, v text, n numeric(10,2));
                INSERT INTO blk SELECT g, 'row ' || g, g * 1.5 FROM generate_series(1, 5) g;
                CREATE TABLE blk_some (id int PRIMARY KEY, v text);
                INSERT INTO blk_some SELECT g, 'some ' || g FROM generate_series(1, 6) g"
            .into(),
        changes: vec![
            "INSERT INTO debezium_signal VALUES ('sig-b', 'execute-snapshot', '{\"data-collections\": [\"public.blk\", \"public.blk_some\"], \"type\": \"blocking\", \"additional-conditions\": [{\"data-collection\": \"public.blk_some\", \"filter\": \"SELECT * FROM public.blk_some WHERE id > 3\"}]}')".into(),
        ],
    }
}

pub fn scenarios() -> Vec<Scenario> {
    vec![
        changes_scenario(),
        incremental_scenario(),
        blocking_scenario(),
        reselect_scenario(),
        messages_scenario(),
        // Without publish.via.partition.root: the root and every partition are tables of
        // their own, and Postgres publishes changes under the partitions' names.
        partitions_scenario("partitions", &[("skipped.operations", "none")]),
        partitions_scenario(
            "partition_root",
            &[
                ("skipped.operations", "none"),
                ("publish.via.partition.root", "true"),
                ("publication.autocreate.mode", "filtered"),
                // Matched regardless of case, as Debezium matches it.
                ("table.include.list", "PUBLIC.MEAS,public\\.Plain"),
            ],
        ),
        types_scenario("types", &[]),
        topic_names_scenario(
            "unicode",
            &[(
                "topic.naming.strategy",
                "io.debezium.schema.DefaultUnicodeTopicNamingStrategy",
            )],
        ),
        topic_names_scenario(
            "routed",
            &[
                (
                    "topic.naming.strategy",
                    "io.debezium.schema.SchemaRegexTopicNamingStrategy",
                ),
                ("topic.regex", "(routed\\.public)\\.shard_\\d+"),
                ("topic.replacement", "$1.shards"),
                ("topic.key.field.regex", "routed\\.public\\.(.*)"),
                ("topic.key.field.replacement", "table-$1"),
            ],
        ),
        vectors_scenario("vectors", &[], false),
        vectors_scenario(
            "failures",
            &[
                ("provide.transaction.metadata", "true"),
                ("event.converting.failure.handling.mode", "fail"),
                ("event.processing.failure.handling.mode", "warn"),
            ],
            true,
        ),
        types_scenario(
            "modes_a",
            &[
                ("time.precision.mode", "connect"),
                ("decimal.handling.mode", "string"),
                ("binary.handling.mode", "base64"),
                ("interval.handling.mode", "string"),
                ("hstore.handling.mode", "map"),
                ("include.unknown.datatypes", "true"),
            ],
        ),
        types_scenario(
            "modes_b",
            &[
                ("time.precision.mode", "adaptive_time_microseconds"),
                ("decimal.handling.mode", "double"),
                ("binary.handling.mode", "hex"),
                ("money.fraction.digits", "3"),
            ],
        ),
        types_scenario("time_iso", &[("time.precision.mode", "isostring")]),
        types_scenario("time_micros", &[("time.precision.mode", "microseconds")]),
        types_scenario("time_nanos", &[("time.precision.mode", "nanoseconds")]),
        types_scenario(
            "snapshot_scope",
            &[
                ("snapshot.include.collection.list", "public\\.EVERY"),
                ("snapshot.select.statement.overrides", "public.every"),
                (
                    "snapshot.select.statement.overrides.public.every",
                    "SELECT * FROM public.every WHERE id <> 2;",
                ),
            ],
        ),
        types_scenario(
            "columns",
            &[
                (
                    "column.truncate.to.4.chars",
                    "public.every.c_text,public.every.c_bytea,public.every.c_int4,public.every.c_text_arr",
                ),
                (
                    "column.mask.with.3.chars",
                    "public.every.c_char,public.every.c_mood,public.every.c_json",
                ),
                (
                    "column.mask.hash.SHA-256.with.salt.CzQMA0cB5K",
                    "public.more.c_text_default,public.every.c_uuid,PUBLIC.MORE.C_CITEXT",
                ),
                (
                    "column.mask.hash.v2.MD5.with.salt.pepper",
                    "public.every.c_varchar",
                ),
                ("column.propagate.source.type", "public\\.every\\..*"),
                (
                    "datatype.propagate.source.type",
                    ".+\\.int4,.+\\.serial,.+\\.varbit,.+\\._date,.+\\.numeric,.+\\.posint",
                ),
            ],
        ),
    ]
}
