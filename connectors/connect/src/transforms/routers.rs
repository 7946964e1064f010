//! Kafka's `RegexRouter` (a new topic from the old one) and `Filter` (drops every record it
//! is applied to: used with a predicate).

use regex::Regex;

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
/// (Java's `Matcher.replaceFirst`, `$n` naming groups).
pub(super) struct RegexRouter {
    regex: Regex,
    replacement: String,
}

impl RegexRouter {
    fn configure(s: &Settings<'_>, found: &mut Findings) -> Result<Self, ()> {
        let ok = s.only(found, &["regex", "replacement"]);
        let regex = s.required(found, "regex").and_then(|r| {
            full_match(r)
                .map_err(|e| found.error(&s.field("regex"), e))
                .ok()
        });
        let replacement = match s.get("replacement").map(java_replacement) {
            Some(Ok(r)) => Some(r),
            Some(Err(e)) => {
                found.error(&s.field("replacement"), e);
                None
            }
            None => {
                found.error(&s.field("replacement"), "is required");
                None
            }
        };
        match (regex, replacement) {
            (Some(regex), Some(replacement)) if ok => Ok(RegexRouter { regex, replacement }),
            _ => Err(()),
        }
    }

    /// A router from a Java regex and replacement (`$1`, `${name}`).
    pub(super) fn new(regex: &str, replacement: &str) -> Result<Self, String> {
        Ok(RegexRouter {
            regex: full_match(regex)?,
            replacement: java_replacement(replacement)?,
        })
    }
}

impl Transform for RegexRouter {
    fn apply(&mut self, mut r: Record) -> Result<Option<Record>, String> {
        if self.regex.is_match(&r.topic) {
            r.topic = self
                .regex
                .replacen(&r.topic, 1, self.replacement.as_str())
                .into_owned();
        }
        Ok(Some(r))
    }
}

/// `TimestampRouter`: the topic becomes `topic.format` with `${topic}` and `${timestamp}`
/// (the record's timestamp in UTC, formatted by `timestamp.format`, a
/// `java.text.SimpleDateFormat` pattern) replaced.
struct TimestampRouter {
    topic_format: String,
    pattern: Vec<DatePart>,
}

/// One piece of a `SimpleDateFormat` pattern.
#[derive(Debug, Clone, PartialEq)]
enum DatePart {
    Literal(String),
    /// A field letter and how many times it is repeated.
    Field(char, usize),
}

/// Parses the `SimpleDateFormat` letters Tributary formats: `y M d H m s S` (and `'…'`
/// quoted text); any other letter is refused.
fn date_pattern(p: &str) -> Result<Vec<DatePart>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = p.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            let mut text = String::new();
            i += 1;
            while i < chars.len() {
                if chars[i] == '\'' {
                    if chars.get(i + 1) == Some(&'\'') {
                        text.push('\'');
                        i += 2;
                        continue;
                    }
                    break;
                }
                text.push(chars[i]);
                i += 1;
            }
            // '' alone is a quote.
            out.push(DatePart::Literal(if text.is_empty() {
                "'".into()
            } else {
                text
            }));
            i += 1;
        } else if c.is_ascii_alphabetic() {
            if !"yMdHmsS".contains(c) {
                return Err(format!(
                    "uses the letter {c:?}, which Tributary does not format (it formats y, M, d, H, m, s and S)"
                ));
            }
            let mut n = 0;
            while i < chars.len() && chars[i] == c {
                n += 1;
                i += 1;
            }
            out.push(DatePart::Field(c, n));
        } else {
            out.push(DatePart::Literal(c.to_string()));
            i += 1;
        }
    }
    Ok(out)
}

fn format_date(parts: &[DatePart], ms: i64) -> String {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let (days, ms_of_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (y, mo, d) = tributary_core::calendar::civil_from_days(days);
    let mut out = String::new();
    for p in parts {
        match p {
            DatePart::Literal(t) => out.push_str(t),
            DatePart::Field(c, n) => {
                let n = *n;
                let v: i64 = match c {
                    'y' if n == 2 => y.rem_euclid(100),
                    'y' => y,
                    'M' if n >= 4 => {
                        out.push_str(MONTHS[(mo - 1) as usize]);
                        continue;
                    }
                    'M' if n == 3 => {
                        out.push_str(&MONTHS[(mo - 1) as usize][..3]);
                        continue;
                    }
                    'M' => i64::from(mo),
                    'd' => i64::from(d),
                    'H' => ms_of_day / 3_600_000,
                    'm' => ms_of_day / 60_000 % 60,
                    's' => ms_of_day / 1000 % 60,
                    _ => ms_of_day % 1000,
                };
                let width = if *c == 'y' && n == 2 { 2 } else { n };
                out.push_str(&format!("{v:0width$}"));
            }
        }
    }
    out
}

impl TimestampRouter {
    fn configure(s: &Settings<'_>, found: &mut Findings) -> Result<Self, ()> {
        let ok = s.only(found, &["topic.format", "timestamp.format"]);
        let format = s.get("timestamp.format").unwrap_or("yyyyMMdd");
        let pattern =
            date_pattern(format).map_err(|e| found.error(&s.field("timestamp.format"), e))?;
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
        let stamp = format_date(&self.pattern, ts);
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
        let p = date_pattern("yyyy-MM-dd'T'HH:mm:ss.SSS '' yy MMM").unwrap();
        assert_eq!(
            format_date(&p, 1_764_762_000_123),
            "2025-12-03T11:40:00.123 ' 25 Dec"
        );
        assert!(date_pattern("yyyy-ww").is_err());
    }
}
