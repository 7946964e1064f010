//! Decoder tests on messages captured from a real PostgreSQL 15 server (workloads and the
//! capture script are in `tests/pgoutput_fixtures/`). LSNs, xids and commit times differ
//! on every capture, so the tests check how they relate, not their values. Malformed input
//! is covered in `malformed_tests.rs`.

use std::sync::OnceLock;

use bytes::Bytes;
use tributary_core::Lsn;

use super::*;

const V1: &str = include_str!("../../tests/pgoutput_fixtures/v1.hex");
const V1_BINARY: &str = include_str!("../../tests/pgoutput_fixtures/v1_binary.hex");
const V2_STREAM: &str = include_str!("../../tests/pgoutput_fixtures/v2_stream.hex");

/// `2024-01-01 00:00:00+00`: the origin transaction's commit time, and a floor for the rest.
const JAN_2024_US: i64 = 1_704_067_200_000_000;

/// Collects the payloads of one `Message` variant.
macro_rules! all {
    ($messages:expr, $variant:ident) => {
        $messages
            .iter()
            .filter_map(|m| match m {
                Message::$variant(x) => Some(x),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
}

fn unhex(line: &str) -> Bytes {
    assert!(
        line.len().is_multiple_of(2),
        "odd-length hex line in fixture"
    );
    let bytes = (0..line.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&line[i..i + 2], 16).expect("fixture is hex"))
        .collect::<Vec<u8>>();
    Bytes::from(bytes)
}

/// Decodes a fixture the way the replication stream will: tracking Stream Start/Stop to
/// know when an xid leads. Returns each raw message, its `in_stream` flag and its decoding.
fn decode_fixture(fixture: &str) -> Vec<(Bytes, bool, Message)> {
    let mut in_stream = false;
    let lines = fixture
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    lines
        .map(|line| {
            let buf = unhex(line);
            let message = decode(&buf, in_stream)
                .unwrap_or_else(|e| panic!("fixture message {line} failed to decode: {e}"));
            let flag = in_stream;
            match message {
                Message::StreamStart(_) => in_stream = true,
                Message::StreamStop => in_stream = false,
                _ => {}
            }
            (buf, flag, message)
        })
        .collect()
}

fn messages(fixture: &str) -> Vec<Message> {
    decode_fixture(fixture)
        .into_iter()
        .map(|(_, _, m)| m)
        .collect()
}

/// Every real message of every fixture with its `in_stream` flag, decoded once.
pub(super) fn fixture_messages() -> &'static [(Bytes, bool)] {
    static ALL: OnceLock<Vec<(Bytes, bool)>> = OnceLock::new();
    ALL.get_or_init(|| {
        [V1, V1_BINARY, V2_STREAM]
            .into_iter()
            .flat_map(decode_fixture)
            .map(|(buf, in_stream, _)| (buf, in_stream))
            .collect()
    })
}

fn tag(m: &Message) -> char {
    match m {
        Message::Begin(_) => 'B',
        Message::Commit(_) => 'C',
        Message::Origin(_) => 'O',
        Message::Relation(_) => 'R',
        Message::Type(_) => 'Y',
        Message::Insert(_) => 'I',
        Message::Update(_) => 'U',
        Message::Delete(_) => 'D',
        Message::Truncate(_) => 'T',
        Message::LogicalMessage(_) => 'M',
        Message::StreamStart(_) => 'S',
        Message::StreamStop => 'E',
        Message::StreamCommit(_) => 'c',
        Message::StreamAbort(_) => 'A',
    }
}

fn text(s: &str) -> TupleValue {
    TupleValue::Text(Bytes::copy_from_slice(s.as_bytes()))
}

fn relation<'a>(messages: &'a [Message], name: &str) -> &'a Relation {
    all!(messages, Relation)
        .into_iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no relation message for {name}"))
}

#[test]
fn v1_fixture_decodes_into_the_expected_message_sequence() {
    let tags: String = messages(V1).iter().map(tag).collect();
    // insert; update; key update; delete; audit_log insert, update, delete; truncate;
    // transactional message; non-transactional message; insert from a replication origin.
    assert_eq!(tags, "BYRICBUCBUCBDCBRICBUCBDCBRTCBMCMBOIC");
    let binary: String = messages(V1_BINARY).iter().map(tag).collect();
    assert_eq!(binary, tags);
}

#[test]
fn begin_and_commit_agree_and_commit_lsns_only_move_forward() {
    let messages = messages(V1);
    let mut open: Option<&Begin> = None;
    let mut last_commit = Lsn::ZERO;
    let mut last_xid = 0;
    for m in &messages {
        match m {
            Message::Begin(b) => {
                assert!(open.replace(b).is_none(), "nested begin");
                assert!(
                    b.xid > last_xid,
                    "xids of these serial transactions increase"
                );
                assert!(
                    b.commit_ts_us >= JAN_2024_US,
                    "commit time {}",
                    b.commit_ts_us
                );
                last_xid = b.xid;
            }
            Message::Commit(c) => {
                let b = open.take().expect("commit without begin");
                assert_eq!(c.commit_lsn, b.final_lsn);
                assert_eq!(c.commit_ts_us, b.commit_ts_us);
                assert_eq!(c.flags, 0);
                assert!(c.end_lsn > c.commit_lsn);
                assert!(c.commit_lsn > last_commit, "commit LSNs move forward");
                last_commit = c.end_lsn;
            }
            _ => {}
        }
    }
    assert!(open.is_none());
    assert_eq!(all!(messages, Commit).len(), 10);
}

#[test]
fn relation_describes_composite_key_types_and_modifiers() {
    let messages = messages(V1);
    let orders = relation(&messages, "orders");
    assert_eq!(orders.xid, None);
    assert_eq!(orders.namespace, "public");
    assert_eq!(orders.replica_identity, ReplicaIdentity::Default);
    let columns: Vec<_> = orders
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.is_key, c.type_oid, c.type_modifier))
        .collect();
    let mood = columns[5].2;
    assert!(mood >= 16384, "user-defined enum oid, got {mood}");
    assert_eq!(
        columns,
        [
            ("tenant_id", true, 23, -1),                 // int4
            ("order_id", true, 20, -1),                  // int8
            ("sku", false, 1043, 20 + 4),                // varchar(20)
            ("amount", false, 1700, (10 << 16 | 2) + 4), // numeric(10, 2)
            ("placed_at", false, 1184, -1),              // timestamptz
            ("feeling", false, mood, -1),                // enum mood
            ("note", false, 25, -1),                     // text
        ]
    );
}

#[test]
fn type_message_precedes_the_relation_that_uses_the_enum() {
    let messages = messages(V1);
    let [ty] = all!(messages, Type)[..] else {
        panic!("expected one type message")
    };
    assert_eq!(
        (ty.namespace.as_str(), ty.name.as_str(), ty.xid),
        ("public", "mood", None)
    );
    assert_eq!(
        ty.type_oid,
        relation(&messages, "orders").columns[5].type_oid
    );
    let tags: String = messages.iter().map(tag).collect();
    assert!(tags.starts_with("BYR"));
}

#[test]
fn insert_sends_every_column_as_text_with_the_toasted_value_inline() {
    let messages = messages(V1);
    let orders = relation(&messages, "orders").rel_id;
    let insert = all!(messages, Insert)[0];
    assert_eq!((insert.rel_id, insert.xid), (orders, None));
    let note = "toast me ".repeat(1000);
    let expected = [
        "1",
        "100",
        "SKU-1",
        "12.50",
        "2024-05-06 07:08:09.123456+00",
        "happy",
        note.as_str(),
    ];
    assert_eq!(insert.new.0, expected.map(text));
}

#[test]
fn text_values_and_message_content_are_slices_of_the_input() {
    let within = |buf: &Bytes, part: &Bytes| {
        let range = buf.as_ptr_range();
        !part.is_empty() && range.contains(&part.as_ptr()) && part.as_ptr_range().end <= range.end
    };
    for (buf, in_stream) in fixture_messages() {
        match decode(buf, *in_stream).expect("fixture decodes") {
            Message::Insert(Insert { new, .. }) => {
                for value in new.0 {
                    if let TupleValue::Text(b) | TupleValue::Binary(b) = value {
                        assert!(
                            b.is_empty() || within(buf, &b),
                            "value copied out of the input"
                        );
                    }
                }
            }
            Message::LogicalMessage(m) => assert!(within(buf, &m.content)),
            _ => {}
        }
    }
}

#[test]
fn update_that_keeps_the_toasted_value_marks_it_unchanged_not_null() {
    let messages = messages(V1);
    let update = all!(messages, Update)[0];
    assert_eq!(update.old, None, "no old tuple when the key did not change");
    let new = &update.new.0;
    assert_eq!(new[3], text("13.75"));
    assert_eq!(new[6], TupleValue::UnchangedToast);
    assert_ne!(new[6], TupleValue::Null);
}

#[test]
fn update_of_the_key_sends_the_old_key_with_nulls_elsewhere() {
    let messages = messages(V1);
    let update = all!(messages, Update)[1];
    let mut old_key = vec![text("1"), text("100")];
    old_key.resize(7, TupleValue::Null);
    assert_eq!(update.old, Some(OldTuple::Key(TupleData(old_key))));
    assert_eq!(update.new.0[..3], ["1", "101", "SKU-1"].map(text));
    assert_eq!(update.new.0[6], TupleValue::UnchangedToast);
}

#[test]
fn delete_under_default_identity_sends_only_the_old_key() {
    let messages = messages(V1);
    let delete = all!(messages, Delete)[0];
    assert_eq!(delete.rel_id, relation(&messages, "orders").rel_id);
    let mut old_key = vec![text("1"), text("101")];
    old_key.resize(7, TupleValue::Null);
    assert_eq!(delete.old, OldTuple::Key(TupleData(old_key)));
}

#[test]
fn replica_identity_full_sends_whole_old_rows_on_update_and_delete() {
    let messages = messages(V1);
    let audit = relation(&messages, "audit_log");
    assert_eq!(audit.replica_identity, ReplicaIdentity::Full);
    assert!(
        audit.columns.iter().all(|c| c.is_key),
        "FULL makes every column part of the identity"
    );
    let before = TupleData(vec![text("1"), text("alice"), TupleValue::Null]);
    let after = TupleData(vec![text("1"), text("alice"), text("login")]);
    let update = all!(messages, Update)[2];
    assert_eq!(update.rel_id, audit.rel_id);
    assert_eq!(update.old, Some(OldTuple::Full(before)));
    assert_eq!(update.new, after);
    let delete = all!(messages, Delete)[1];
    assert_eq!(delete.old, OldTuple::Full(after));
}

#[test]
fn truncate_names_the_table_and_restart_identity() {
    let messages = messages(V1);
    let [truncate] = all!(messages, Truncate)[..] else {
        panic!("expected one truncate")
    };
    assert_eq!(truncate.rel_ids, [relation(&messages, "audit_log").rel_id]);
    assert_eq!(truncate.options, Truncate::RESTART_IDENTITY);
    assert_eq!(truncate.xid, None);
}

#[test]
fn logical_messages_keep_prefix_content_and_transactional_flag() {
    let messages = messages(V1);
    let [tx, non_tx] = all!(messages, LogicalMessage)[..] else {
        panic!("expected two messages")
    };
    assert!(tx.transactional);
    assert_eq!(
        (tx.prefix.as_str(), &tx.content[..]),
        ("tributary", &b"transactional hello"[..])
    );
    assert!(!non_tx.transactional);
    assert_eq!(&non_tx.content[..], b"non-transactional hello");
    assert!(non_tx.lsn > tx.lsn);

    // The transactional one sits inside its transaction; the other stands alone.
    let at = |m: &LogicalMessage| {
        messages
            .iter()
            .position(|x| matches!(x, Message::LogicalMessage(y) if y == m))
            .unwrap()
    };
    let (tx_at, non_tx_at) = (at(tx), at(non_tx));
    let Message::Commit(commit) = &messages[tx_at + 1] else {
        panic!("commit after message")
    };
    assert!(tx.lsn <= commit.commit_lsn);
    assert!(matches!(messages[non_tx_at - 1], Message::Commit(_)));
    assert!(matches!(messages[non_tx_at + 1], Message::Begin(_)));
}

#[test]
fn origin_message_carries_the_origin_name_and_its_commit_lsn() {
    let messages = messages(V1);
    let [origin] = all!(messages, Origin)[..] else {
        panic!("expected one origin message")
    };
    assert_eq!(origin.commit_lsn, Lsn(0xAB_CDEF));
    assert_eq!(origin.name, "upstream");
    let begin = all!(messages, Begin).pop().unwrap();
    assert_eq!(
        begin.commit_ts_us, JAN_2024_US,
        "commit time set by pg_replication_origin_xact_setup"
    );
    let insert = all!(messages, Insert).pop().unwrap();
    assert_eq!(
        insert.new.0[3..6],
        [TupleValue::Null, TupleValue::Null, TupleValue::Null]
    );
}

#[test]
fn binary_mode_sends_values_in_their_send_format() {
    let messages = messages(V1_BINARY);
    let bin = |b: &[u8]| TupleValue::Binary(Bytes::copy_from_slice(b));
    let insert = all!(messages, Insert)[0];
    let placed_at_us = 1_714_979_289_123_456 - PG_EPOCH_OFFSET_US;
    assert_eq!(insert.new.0[0], bin(&1i32.to_be_bytes()));
    assert_eq!(insert.new.0[1], bin(&100i64.to_be_bytes()));
    assert_eq!(insert.new.0[2], bin(b"SKU-1"));
    assert_eq!(insert.new.0[4], bin(&placed_at_us.to_be_bytes()));
    assert_eq!(insert.new.0[5], bin(b"happy"));
    assert_eq!(insert.new.0[6], bin("toast me ".repeat(1000).as_bytes()));
    let update = all!(messages, Update)[0];
    assert_eq!(update.new.0[6], TupleValue::UnchangedToast);
}

#[test]
fn streamed_transaction_arrives_in_segments_and_commits() {
    let messages = messages(V2_STREAM);
    let Message::StreamStart(first) = &messages[0] else {
        panic!("stream starts the fixture")
    };
    assert!(first.first_segment);
    let xid = first.xid;
    let end = messages
        .iter()
        .position(|m| matches!(m, Message::StreamCommit(_)))
        .unwrap();
    let segment = &messages[..=end];
    let starts = all!(segment, StreamStart);
    assert_eq!(
        starts.len(),
        4,
        "64kB of decoding memory splits 1500 rows into 4 segments"
    );
    assert!(
        starts
            .iter()
            .skip(1)
            .all(|s| s.xid == xid && !s.first_segment)
    );
    assert_eq!(all!(segment, Relation)[0].xid, Some(xid));
    assert!(all!(segment, Insert).iter().all(|i| i.xid == Some(xid)));
    let [message] = all!(segment, LogicalMessage)[..] else {
        panic!("one message in stream")
    };
    assert_eq!(
        (message.xid, &message.content[..]),
        (Some(xid), &b"inside a stream"[..])
    );
    let Message::StreamCommit(commit) = &messages[end] else {
        unreachable!()
    };
    assert_eq!((commit.xid, commit.flags), (xid, 0));
    assert!(commit.end_lsn > commit.commit_lsn && commit.commit_lsn >= message.lsn);
    assert!(commit.commit_ts_us >= JAN_2024_US);
    assert!(matches!(messages[end - 1], Message::StreamStop));
}

#[test]
fn rollback_and_rolled_back_savepoint_send_stream_abort() {
    let messages = messages(V2_STREAM);
    let [rollback, savepoint] = all!(messages, StreamAbort)[..] else {
        panic!("two aborts")
    };
    assert_eq!(
        rollback.xid, rollback.subxid,
        "a whole transaction aborts with subxid = xid"
    );
    assert_ne!(savepoint.xid, savepoint.subxid);
    let inserted = |row: &str| {
        let insert = all!(messages, Insert)
            .into_iter()
            .find(|i| i.new.0[1] == text(row));
        insert.unwrap_or_else(|| panic!("no insert of {row}")).xid
    };
    assert_eq!(inserted("row 2001"), Some(rollback.xid));
    assert_eq!(inserted("kept"), Some(savepoint.xid));
    assert_eq!(inserted("row 6001"), Some(savepoint.subxid));
    let commits = all!(messages, StreamCommit);
    assert!(commits.iter().all(|c| c.xid != rollback.xid));
    assert!(
        commits.iter().any(|c| c.xid == savepoint.xid),
        "the outer transaction commits"
    );
}

#[test]
fn in_stream_flag_decides_whether_an_xid_leads() {
    let streamed = fixture_messages()
        .iter()
        .find(|(buf, in_stream)| *in_stream && buf.first() == Some(&b'I'))
        .unwrap();
    assert!(decode(&streamed.0, false).is_err());
    let plain = fixture_messages()
        .iter()
        .find(|(buf, _)| buf.first() == Some(&b'I'))
        .unwrap();
    assert!(decode(&plain.0, true).is_err());
}
