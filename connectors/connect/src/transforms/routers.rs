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
    }
}
