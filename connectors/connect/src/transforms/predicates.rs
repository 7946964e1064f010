//! Kafka's predicates: `TopicNameMatches`, `HasHeaderKey`, `RecordIsTombstone`.

use std::sync::Arc;

use regex::Regex;

use super::{Predicate, Settings};
use crate::config::Findings;
use crate::record::Record;

const PREFIX: &str = "org.apache.kafka.connect.transforms.predicates.";

/// The predicate `class` names: `None` when not implemented, `Some(Err)` when its settings
/// were refused.
pub(super) fn build(
    class: &str,
    s: &Settings<'_>,
    found: &mut Findings,
) -> Option<Result<Arc<dyn Predicate>, ()>> {
    Some(match class.strip_prefix(PREFIX)? {
        "TopicNameMatches" => {
            let ok = s.only(found, &["pattern"]);
            let pattern = s.required(found, "pattern").and_then(|p| {
                super::routers::full_match(p)
                    .map_err(|e| found.error(&s.field("pattern"), e))
                    .ok()
            });
            match pattern {
                Some(p) if ok => Ok(Arc::new(TopicNameMatches(p)) as Arc<dyn Predicate>),
                _ => Err(()),
            }
        }
        "HasHeaderKey" => {
            let ok = s.only(found, &["name"]);
            match s.required(found, "name") {
                Some(n) if ok => Ok(Arc::new(HasHeaderKey(n.to_owned())) as Arc<dyn Predicate>),
                _ => Err(()),
            }
        }
        "RecordIsTombstone" => {
            if s.only(found, &[]) {
                Ok(Arc::new(RecordIsTombstone) as Arc<dyn Predicate>)
            } else {
                Err(())
            }
        }
        _ => return None,
    })
}

/// The topic matches `pattern` as a whole.
struct TopicNameMatches(Regex);

impl Predicate for TopicNameMatches {
    fn test(&self, r: &Record) -> bool {
        self.0.is_match(&r.topic)
    }
}

/// The record has a header named so.
struct HasHeaderKey(String);

impl Predicate for HasHeaderKey {
    fn test(&self, r: &Record) -> bool {
        r.headers.iter().any(|h| h.key == self.0)
    }
}

/// The record's value is null.
struct RecordIsTombstone;

impl Predicate for RecordIsTombstone {
    fn test(&self, r: &Record) -> bool {
        r.value.is_none()
    }
}
