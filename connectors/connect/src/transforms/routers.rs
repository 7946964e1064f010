//! Kafka's `RegexRouter` (a new topic from the old one) and `Filter` (drops every record it
//! is applied to: used with a predicate).

use regex::Regex;

use super::simple_date::DatePattern;
use super::{Built, Settings, Transform};
use crate::config::Findings;
use crate::record::Record;

const REGEX_ROUTER: &str = "org.apache.kafka.connect.transforms.RegexRouter";
const FILTER: &str = "org.apache.kafka.connect.transforms.Filter";
const TIMESTAMP_ROUTER: &str = "org.apache.kafka.connect.transforms.TimestampRouter";

pub(super) fn build(class: &str, s: &Settings<'_>, found: &mut Findings) -> Option<Built> {
    Some(match class {
        REGEX_ROUTER => RegexRouter::configure(s, found)
            .map(|t| ("RegexRouter", Box::new(t) as Box<dyn Transform>)),
        TIMESTAMP_ROUTER => TimestampRouter::configure(s, found)
            .map(|t| ("TimestampRouter", Box::new(t) as Box<dyn Transform>)),
        FILTER => {
            if s.only(found, &[]) {
                Ok(("Filter", Box::new(Filter) as Box<dyn Transform>))
            } else {
                Err(())
            }
        }
        _ => return None,
    })
}

/// `RegexRouter`: when `regex` matches the whole topic, the topic becomes `replacement`
/// (Java's `Matcher.replaceFirst`, `$n` naming groups). As in Java, the replacement
/// applies to the first match found from the start, which need not be the whole topic
/// (`doc|docfull` on `docfull` replaces `doc`).
pub(super) struct RegexRouter {
    whole: Regex,
    first: Regex,
    replacement: String,
}

impl RegexRouter {
    fn configure(s: &Settings<'_>, found: &mut Findings) -> Result<Self, ()> {
        let ok = s.only(found, &["regex", "replacement"]);
        let regex = s.required(found, "regex");
        let replacement = s.get("replacement");
        if replacement.is_none() {
            found.error(&s.field("replacement"), "is required");
        }
        let (Some(regex), Some(replacement)) = (regex, replacement) else {
            return Err(());
        };
        let whole = full_match(regex).map_err(|e| found.error(&s.field("regex"), e));
        let replacement =
            java_replacement(replacement).map_err(|e| found.error(&s.field("replacement"), e));
        let first = Regex::new(regex).map_err(|_| ());
        match (whole, first, replacement) {
            (Ok(whole), Ok(first), Ok(replacement)) if ok => Ok(RegexRouter {
                whole,
                first,
                replacement,
            }),
            _ => Err(()),
        }
    }

    /// A router from a Java regex and replacement (`$1`, `${name}`).
    pub(super) fn new(regex: &str, replacement: &str) -> Result<Self, String> {
        Ok(RegexRouter {
            whole: full_match(regex)?,
            first: Regex::new(regex)
                .map_err(|e| format!("is not a valid regular expression: {e}"))?,
            replacement: java_replacement(replacement)?,
        })
    }

    /// The replacement of `text` when the regex matches all of it.
    pub(super) fn route(&self, text: &str) -> Option<String> {
        self.whole.is_match(text).then(|| {
            self.first
                .replacen(text, 1, self.replacement.as_str())
                .into_owned()
        })
    }
}

impl Transform for RegexRouter {
    fn apply(&mut self, mut r: Record) -> Result<Option<Record>, String> {
        if let Some(topic) = self.route(&r.topic) {
            r.topic = topic;
        }
        Ok(Some(r))
    }
}

/// `TimestampRouter`: the topic becomes `topic.format` with `${topic}` and `${timestamp}`
/// (the record's timestamp in UTC, formatted by `timestamp.format`, a
/// `java.text.SimpleDateFormat` pattern) replaced.
struct TimestampRouter {
    topic_format: String,
    pattern: DatePattern,
}

impl TimestampRouter {
    fn configure(s: &Settings<'_>, found: &mut Findings) -> Result<Self, ()> {
        let ok = s.only(found, &["topic.format", "timestamp.format"]);
        let format = s.get("timestamp.format").unwrap_or("yyyyMMdd");
        let pattern =
            DatePattern::parse(format).map_err(|e| found.error(&s.field("timestamp.format"), e))?;
        let t = TimestampRouter {
            topic_format: s
                .get("topic.format")
                .unwrap_or("${topic}-${timestamp}")
                .to_owned(),
            pattern,
        };
        if ok { Ok(t) } else { Err(()) }
    }
}

impl Transform for TimestampRouter {
    fn apply(&mut self, mut r: Record) -> Result<Option<Record>, String> {
        let Some(ts) = r.timestamp else {
            return Err(format!(
                "Timestamp missing on record of topic {} (Debezium's change events carry none; set one with the outbox EventRouter or route by something else)",
                r.topic
            ));
        };
        let stamp = self.pattern.format(ts);
        r.topic = self
            .topic_format
            .replace("${topic}", &r.topic)
            .replace("${timestamp}", &stamp);
        Ok(Some(r))
    }
}

/// `Filter`: drops the record.
struct Filter;

impl Transform for Filter {
    fn apply(&mut self, _: Record) -> Result<Option<Record>, String> {
        Ok(None)
    }
}

/// A regex that must match a whole string, as Java's `Matcher.matches()`.
pub(super) fn full_match(pattern: &str) -> Result<Regex, String> {
    Regex::new(&format!("^(?:{pattern})$"))
        .map_err(|e| format!("is not a valid regular expression: {e}"))
}

/// Java's replacement syntax (`$1`, `${name}`, `\\$`, `\\\\`) in the regex crate's (`${1}`,
/// `${name}`, `$$`); a `$` naming no group is refused, as Java refuses it.
fn java_replacement(java: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = java.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('$') => out.push_str("$$"),
                Some(other) => out.push(other),
                None => return Err("ends with a lone backslash (write \\\\ for one)".into()),
            },
            '$' if chars.peek() == Some(&'{') => {
                chars.next();
                let name: String = chars.by_ref().take_while(|c| *c != '}').collect();
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
                    return Err(format!("${{{name}}} is not a named-group reference"));
                }
                out.push_str(&format!("${{{name}}}"));
            }
            '$' => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                if digits.is_empty() {
                    return Err(
                        "has a $ that names no group (write \\$ for a literal dollar sign)".into(),
                    );
                }
                out.push_str(&format!("${{{digits}}}"));
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_replacements_read_as_java_reads_them() {
        assert_eq!(java_replacement("$1a").unwrap(), "${1}a");
        assert_eq!(java_replacement("x\\$y\\\\").unwrap(), "x$$y\\");
        assert_eq!(
            java_replacement("outbox.event.${routedByValue}").unwrap(),
            "outbox.event.${routedByValue}"
        );
        assert!(java_replacement("cost $").is_err());
        let re = full_match("cdc\\.(.*)\\.(.*)").unwrap();
        assert_eq!(
            re.replacen(
                "cdc.public.items",
                1,
                java_replacement("$2_$1").unwrap().as_str()
            ),
            "items_public"
        );
        assert!(!full_match("public").unwrap().is_match("cdc.public.items"));
        // Java replaces the first match found, not the whole topic the regex matched.
        let router =
            RegexRouter::new("(changes)\\.public\\.(doc|docfull)", "$1.public.docs").unwrap();
        assert_eq!(
            router.route("changes.public.docfull").as_deref(),
            Some("changes.public.docsfull")
        );
        assert_eq!(router.route("changes.public.docs"), None);
    }
}
