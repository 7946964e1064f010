//! Kafka's `RegexRouter` (a new topic from the old one) and `Filter` (drops every record it
//! is applied to: used with a predicate).

use regex::Regex;

use super::{Built, Settings, Transform};
use crate::config::Findings;
use crate::record::Record;

const REGEX_ROUTER: &str = "org.apache.kafka.connect.transforms.RegexRouter";
const FILTER: &str = "org.apache.kafka.connect.transforms.Filter";

pub(super) fn build(class: &str, s: &Settings<'_>, found: &mut Findings) -> Option<Built> {
    Some(match class {
        REGEX_ROUTER => RegexRouter::configure(s, found)
            .map(|t| ("RegexRouter", Box::new(t) as Box<dyn Transform>)),
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
struct RegexRouter {
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
        let replacement = s.get("replacement").map(java_replacement);
        if replacement.is_none() {
            found.error(&s.field("replacement"), "is required");
        }
        match (regex, replacement) {
            (Some(regex), Some(replacement)) if ok => Ok(RegexRouter { regex, replacement }),
            _ => Err(()),
        }
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

/// Java's replacement syntax (`$1`, `\$`, `\\`) in the regex crate's (`${1}`, `$$`).
fn java_replacement(java: &str) -> String {
    let mut out = String::new();
    let mut chars = java.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('$') => out.push_str("$$"),
                Some(other) => out.push(other),
                None => {}
            },
            '$' => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                if digits.is_empty() {
                    out.push_str("$$");
                } else {
                    out.push_str(&format!("${{{digits}}}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_replacements_read_as_java_reads_them() {
        assert_eq!(java_replacement("$1a"), "${1}a");
        assert_eq!(java_replacement("x\\$y\\\\"), "x$$y\\");
        let re = full_match("cdc\\.(.*)\\.(.*)").unwrap();
        assert_eq!(
            re.replacen("cdc.public.items", 1, java_replacement("$2_$1").as_str()),
            "items_public"
        );
        assert!(!full_match("public").unwrap().is_match("cdc.public.items"));
    }
}
