//! Malformed input: synthetic bad messages, every truncation of the real fixture
//! messages, and properties that `decode` never panics on arbitrary or damaged bytes.

use bytes::Bytes;
use proptest::prelude::*;
use proptest::sample::{Index, select};

use super::tests::fixture_messages;
use super::*;

#[test]
fn stream_abort_skips_the_v4_abort_lsn_and_timestamp() {
    let (abort, _) = fixture_messages()
        .iter()
        .find(|(b, _)| b.first() == Some(&b'A'))
        .unwrap();
    let expected = decode(abort, true).unwrap();
    let mut v4 = abort.to_vec();
    v4.extend_from_slice(&[0x11; 16]);
    assert_eq!(decode(&Bytes::from(v4.clone()), true), Ok(expected));
    v4.truncate(abort.len() + 5);
    assert!(matches!(
        decode(&Bytes::from(v4), true),
        Err(DecodeError::Truncated { .. })
    ));
}

#[test]
fn trailing_bytes_after_a_complete_message_are_rejected() {
    let (commit, _) = fixture_messages()
        .iter()
        .find(|(b, _)| b.first() == Some(&b'C'))
        .unwrap();
    let mut long = commit.to_vec();
    long.push(0);
    let err = decode(&Bytes::from(long), false).unwrap_err();
    assert_eq!(
        err,
        DecodeError::TrailingBytes {
            message: "commit",
            count: 1
        }
    );
    assert_eq!(
        err.to_string(),
        "pgoutput commit message has 1 unexpected trailing bytes"
    );
}

#[test]
fn bad_bytes_are_errors_with_postgres_style_messages() {
    let err = |raw: &[u8]| decode(&Bytes::copy_from_slice(raw), false).unwrap_err();
    assert_eq!(
        err(b"").to_string(),
        "pgoutput message truncated while reading message type"
    );
    assert_eq!(
        err(b"Z").to_string(),
        "unknown pgoutput message type 'Z' (0x5a)"
    );
    assert_eq!(err(&[0]).to_string(), "unknown pgoutput message type 0x00");
    assert_eq!(
        err(b"I\0\0\0\x01N\0\x01x"),
        DecodeError::UnknownTupleKind(b'x')
    );
    assert_eq!(err(b"I\0\0\0\x01K\0\0"), DecodeError::ExpectedNewTuple);
    assert_eq!(err(b"D\0\0\0\x01N\0\0"), DecodeError::ExpectedOldTuple);
    assert_eq!(err(b"U\0\0\0\x01X"), DecodeError::UnknownTupleMarker(b'X'));
    assert_eq!(
        err(b"R\0\0\0\x01s\0t\0z\0\0"),
        DecodeError::UnknownReplicaIdentity(b'z')
    );
    assert_eq!(
        err(b"Y\0\0\0\x01s\0\xff\0"),
        DecodeError::InvalidUtf8 { what: "type name" }
    );
    assert_eq!(
        err(b"I\0\0\0\x01N\0\x01t\xff\xff\xff\xff").to_string(),
        "negative length -1 for column value"
    );
    assert!(
        err(b"O\0\0\0\0\0\0\0\x01no terminator")
            .to_string()
            .ends_with("origin name")
    );
    let mut begin = b"B\0\0\0\0\0\0\0\x01".to_vec();
    begin.extend_from_slice(&i64::MAX.to_be_bytes());
    begin.extend_from_slice(&[0, 0, 0, 1]);
    assert!(matches!(
        err(&begin),
        DecodeError::TimestampOutOfRange { .. }
    ));
    assert!(!err(b"Z").is_transient());
}

#[test]
fn huge_counts_fail_as_truncated_without_preallocating() {
    let truncated = |raw: &[u8]| {
        let result = decode(&Bytes::copy_from_slice(raw), false);
        assert!(
            matches!(result, Err(DecodeError::Truncated { .. })),
            "{result:?}"
        );
    };
    truncated(b"I\0\0\0\x01N\xff\xff");
    truncated(b"T\xff\xff\xff\xff\0\0\0\0\x01");
    truncated(b"R\0\0\0\x01s\0t\0d\xff\xff");
    truncated(b"M\x01\0\0\0\0\0\0\0\x01p\0\x7f\xff\xff\xff");
}

#[test]
fn every_proper_prefix_of_a_real_message_is_a_truncation_error() {
    for (buf, in_stream) in fixture_messages() {
        for len in 0..buf.len() {
            match decode(&buf.slice(..len), *in_stream) {
                Err(DecodeError::Truncated { .. }) => {}
                other => panic!("prefix {len} of {buf:x?} gave {other:?}"),
            }
        }
    }
}

const TAGS: &[u8] = b"BCORYIUDTMSEcA";

proptest! {
    #[test]
    fn decode_never_panics_on_arbitrary_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..512),
        in_stream: bool,
    ) {
        let _ = decode(&Bytes::from(bytes), in_stream);
    }

    #[test]
    fn decode_never_panics_after_a_known_message_type(
        tag in select(TAGS),
        rest in prop::collection::vec(any::<u8>(), 0..256),
        in_stream: bool,
    ) {
        let mut bytes = vec![tag];
        bytes.extend(rest);
        let _ = decode(&Bytes::from(bytes), in_stream);
    }

    #[test]
    fn damaged_real_messages_never_panic(
        pick: Index,
        edits in prop::collection::vec((any::<Index>(), any::<u8>()), 0..8),
        cut: Index,
        in_stream: bool,
    ) {
        let (buf, _) = pick.get(fixture_messages());
        let mut bytes = buf.to_vec();
        for (at, byte) in edits {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        bytes.truncate(cut.index(bytes.len() + 1));
        let _ = decode(&Bytes::from(bytes), in_stream);
    }
}
