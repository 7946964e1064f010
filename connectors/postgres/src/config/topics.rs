//! `topic.naming.strategy`: the topic of each table's change events, as the strategies
//! Debezium ships name it.
//!
//! Every strategy joins `topic.prefix` and the table's parts with `topic.delimiter` (the
//! `Schema…` strategies: the schema and the table; the `Default…` ones: the "database
//! parts", which for Postgres are the table alone) and makes the result a valid Kafka topic
//! name: a character outside `[A-Za-z0-9._-]` is
//! replaced by `_` (the `…Unicode…` strategies: by `_uXXXX`, the underscore included), and
//! a name is cut to 249 characters. The `…Regex…` strategies then route the name through
//! `topic.regex` / `topic.replacement`, and (by default) add a field naming the original
//! topic to each key, so rows of tables routed to one topic keep distinct keys.

use regex::Regex;
use tributary_core::config::PropertyReader;

use super::TableId;

const PACKAGE: &str = "io.debezium.schema.";
/// Kafka's longest topic name.
const MAX_NAME_LENGTH: usize = 249;

/// The topic naming of a connector.
#[derive(Debug, Clone)]
pub struct TopicNaming {
    prefix: String,
    /// `topic.delimiter` (default `.`).
    pub delimiter: String,
    /// The `Schema…` strategies name the schema; the `Default…` ones do not.
    schema_parts: bool,
    /// The `…UnicodeTopicNamingStrategy` replacement of invalid characters.
    unicode: bool,
    /// The `…RegexTopicNamingStrategy` routing.
    routing: Option<Routing>,
}

#[derive(Debug, Clone)]
struct Routing {
    /// `topic.regex`, matched against the whole (sanitized) topic name.
    regex: Regex,
    /// `topic.replacement`, in the regex crate's syntax.
    replacement: String,
    /// `topic.key.enforce.uniqueness` (default true): the key field added, and how its
    /// value is made from the original topic.
    key: Option<KeyField>,
}

#[derive(Debug, Clone)]
struct KeyField {
    /// `topic.key.field.name` (default `__dbz__physicalTableIdentifier`).
    name: String,
    /// `topic.key.field.regex` / `.replacement`.
    rewrite: Option<(Regex, String)>,
}

/// The properties only the regex strategies read.
const REGEX_PROPERTIES: &[&str] = &[
    "topic.regex",
    "topic.replacement",
    "topic.key.enforce.uniqueness",
    "topic.key.field.name",
    "topic.key.field.regex",
    "topic.key.field.replacement",
];

impl TopicNaming {
    /// Reads `topic.naming.strategy` and the properties of the chosen strategy; a property
    /// the strategy does not read is an error naming it.
    pub fn parse(prefix: &str, r: &mut PropertyReader<'_>) -> TopicNaming {
        let class = r
            .get("topic.naming.strategy")
            .unwrap_or("io.debezium.schema.SchemaTopicNamingStrategy")
            .to_string();
        let variant = class
            .strip_prefix(PACKAGE)
            .and_then(|c| c.strip_suffix("TopicNamingStrategy"))
            .and_then(|c| {
                let (schema_parts, rest) =
                    match (c.strip_prefix("Schema"), c.strip_prefix("Default")) {
                        (Some(rest), _) => (true, rest),
                        (None, Some(rest)) => (false, rest),
                        (None, None) => return None,
                    };
                match rest {
                    "" => Some((schema_parts, false, false)),
                    "Unicode" => Some((schema_parts, true, false)),
                    "Regex" => Some((schema_parts, false, true)),
                    _ => None,
                }
            });
        let (schema_parts, unicode, regex) = match variant {
            Some(v) => v,
            None => {
                r.error(
                    "topic.naming.strategy",
                    format!(
                        "{class:?} is a Java class, and Tributary runs no Java code; it names topics as the strategies Debezium ships do: io.debezium.schema.{{Schema,Default}}{{,Unicode,Regex}}TopicNamingStrategy"
                    ),
                );
                (true, false, false)
            }
        };
        let delimiter = r.string("topic.delimiter", ".");
        if delimiter.is_empty() || !delimiter.chars().all(valid_char) {
            r.error(
                "topic.delimiter",
                format!("{delimiter:?} is not valid in a topic name; use letters, digits, '.', '_' or '-'"),
            );
        }
        let routing = if regex {
            Routing::parse(r)
        } else {
            for key in REGEX_PROPERTIES {
                let default = super::property(key).and_then(|p| p.default);
                if r.get(key).is_some_and(|v| Some(v) != default) {
                    r.error(
                        key,
                        "is read only by the regex topic naming strategies; set topic.naming.strategy to io.debezium.schema.SchemaRegexTopicNamingStrategy, or remove it",
                    );
                }
            }
            None
        };
        TopicNaming {
            prefix: prefix.to_string(),
            delimiter,
            schema_parts,
            unicode,
            routing,
        }
    }

    /// The topic of `table`'s change events.
    pub fn data_change_topic(&self, table: &TableId) -> String {
        let topic = self.sanitized(&self.origin_topic(table));
        match &self.routing {
            Some(routing) => match routing.regex.captures(&topic) {
                Some(caps) => {
                    let mut routed = String::new();
                    caps.expand(&routing.replacement, &mut routed);
                    if routed.is_empty() {
                        tracing::warn!(
                            topic,
                            "topic.regex routed to an empty topic name; the original is used"
                        );
                        topic
                    } else {
                        routed
                    }
                }
                _ => topic,
            },
            None => topic,
        }
    }

    /// The key field the regex strategies add, and its value for `table` (the original
    /// topic name, or what `topic.key.field.regex` makes of it).
    pub fn key_field(&self, table: &TableId) -> Option<(&str, String)> {
        let key = self.routing.as_ref()?.key.as_ref()?;
        let origin = self.origin_topic(table);
        let value = match &key.rewrite {
            Some((regex, replacement)) => match regex.captures(&origin) {
                Some(caps) => {
                    let mut out = String::new();
                    caps.expand(replacement, &mut out);
                    out
                }
                _ => origin,
            },
            None => origin,
        };
        Some((key.name.as_str(), value))
    }

    /// `<prefix><delimiter><schema><delimiter><table>` (without the schema under the
    /// `Default…` strategies), before sanitizing.
    fn origin_topic(&self, table: &TableId) -> String {
        let schema = if self.schema_parts {
            table.schema.as_str()
        } else {
            ""
        };
        [self.prefix.as_str(), schema, &table.name]
            .into_iter()
            .filter(|p| !p.trim().is_empty())
            .collect::<Vec<_>>()
            .join(&self.delimiter)
    }

    /// Debezium's `sanitizedTopicName`: invalid characters replaced (per UTF-16 unit, as
    /// Java sees them), cut to 249 characters, and `.` / `..` replaced.
    pub fn sanitized(&self, name: &str) -> String {
        let mut out = String::with_capacity(name.len());
        let mut units = [0u16; 2];
        for c in name.chars() {
            let valid = if self.unicode {
                valid_char(c) && c != '_'
            } else {
                valid_char(c)
            };
            if valid {
                out.push(c);
                continue;
            }
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&self.replacement(*unit));
            }
        }
        if out.len() > MAX_NAME_LENGTH {
            // Only ASCII is left: bytes are characters.
            out.truncate(MAX_NAME_LENGTH);
        } else if out == "." || out == ".." {
            out = self.replacement(u16::from(b'.')).repeat(out.len());
        }
        out
    }

    fn replacement(&self, unit: u16) -> String {
        if !self.unicode {
            return "_".into();
        }
        // Java's Integer.toHexString, padded with "00" when it has at most two digits.
        let hex = format!("{unit:x}");
        if hex.len() <= 2 {
            format!("_u00{hex}")
        } else {
            format!("_u{hex}")
        }
    }
}

impl Routing {
    fn parse(r: &mut PropertyReader<'_>) -> Option<Routing> {
        let regex = required_regex(r, "topic.regex");
        let replacement = match r.get("topic.replacement").map(str::to_string) {
            Some(v) => java_replacement("topic.replacement", &v, r),
            None => {
                r.error("topic.replacement", "is required by the regex topic naming strategies: the replacement that makes the new topic name from topic.regex's match");
                String::new()
            }
        };
        let key = if r.parse("topic.key.enforce.uniqueness", true, "true or false") {
            let rewrite = match r.get("topic.key.field.regex") {
                None => None,
                Some(_) => {
                    let regex = required_regex(r, "topic.key.field.regex");
                    let replacement = match r.get("topic.key.field.replacement").map(str::to_string)
                    {
                        Some(v) => java_replacement("topic.key.field.replacement", &v, r),
                        None => {
                            r.error(
                                "topic.key.field.replacement",
                                "must be non-empty if topic.key.field.regex is set",
                            );
                            String::new()
                        }
                    };
                    regex.map(|re| (re, replacement))
                }
            };
            Some(KeyField {
                name: r.string("topic.key.field.name", "__dbz__physicalTableIdentifier"),
                rewrite,
            })
        } else {
            None
        };
        Some(Routing {
            regex: regex?,
            replacement,
            key,
        })
    }
}

fn required_regex(r: &mut PropertyReader<'_>, key: &str) -> Option<Regex> {
    let Some(spec) = r.get(key).map(str::to_string) else {
        r.error(
            key,
            "is required: the regular expression matched against the whole topic name",
        );
        return None;
    };
    // Anchored, as Java's `Matcher.matches()` matches the whole name.
    match Regex::new(&format!("^(?:{spec})$")) {
        Ok(re) => Some(re),
        Err(e) => {
            r.error(
                key,
                format!("{spec:?} is not a valid regular expression: {e}"),
            );
            None
        }
    }
}

/// A Java `Matcher.replaceFirst` replacement (`$1`, `${name}`, `\$`) in the regex crate's
/// syntax (`${1}`, `${name}`, `$$`).
fn java_replacement(key: &str, java: &str, r: &mut PropertyReader<'_>) -> String {
    let mut out = String::with_capacity(java.len() + 8);
    let mut chars = java.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('$') => out.push_str("$$"),
                Some(next) => out.push(next),
                None => r.error(key, "ends with a lone backslash"),
            },
            '$' if chars.peek() == Some(&'{') => {
                chars.next();
                let name: String = chars.by_ref().take_while(|&n| n != '}').collect();
                out.push_str(&format!("${{{name}}}"));
            }
            '$' if chars.peek().is_some_and(char::is_ascii_digit) => {
                let digit = chars.next().unwrap_or('0');
                out.push_str(&format!("${{{digit}}}"));
            }
            '$' => r.error(key, "has a '$' not followed by a group number or {name}"),
            _ => out.push(c),
        }
    }
    out
}

/// A character Kafka allows in a topic name.
fn valid_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}
