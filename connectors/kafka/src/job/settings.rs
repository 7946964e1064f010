//! Settings of a sink job's consuming side: what to subscribe to, how to batch, how to
//! retry, and which fields reach the sink.
//!
//! The daemon builds [`JobSettings`] from a sink connector's properties with
//! [`JobSettings::parse`] (the keys are in [`JOB_PROPERTIES`]), or fills it in itself.

use std::collections::BTreeMap;

use std::time::Duration;
use tributary_avro::decode::Format;
use tributary_connect::Converter;

use tributary_core::config::{PropertyDef, PropertyKind};
use tributary_core::unavailable::DEFAULT_PLACEHOLDER;
use tributary_core::{FieldMap, Unavailable};

use crate::settings::{SettingError, whole_number};

/// Which topics a job reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subscription {
    /// `topics`: these topics.
    Topics(Vec<String>),
    /// `topics.regex`: every topic whose whole name matches, including topics created
    /// later (found within `topic.metadata.refresh.interval.ms`).
    Regex(String),
}

impl Subscription {
    /// What librdkafka subscribes to: topic names, or the pattern anchored with `^` (its
    /// sign for a regex) and `$` (Kafka Connect matches whole names).
    pub fn patterns(&self) -> Vec<String> {
        match self {
            Subscription::Topics(t) => t.clone(),
            Subscription::Regex(r) => vec![anchored(r)],
        }
    }

    /// Whether `topic` belongs to the subscription.
    pub fn matches(&self, topic: &str) -> bool {
        self.matcher()(topic)
    }

    /// [`Subscription::matches`] with the regex compiled once, for many topics.
    pub fn matcher(&self) -> impl Fn(&str) -> bool + '_ {
        let re = match self {
            Subscription::Topics(_) => None,
            Subscription::Regex(r) => Some(regex::Regex::new(&anchored(r)).ok()),
        };
        move |topic| match (&re, self) {
            (None, Subscription::Topics(t)) => t.iter().any(|t| t == topic),
            (Some(Some(re)), _) => re.is_match(topic),
            _ => false,
        }
    }
}

fn anchored(r: &str) -> String {
    let r = r.strip_prefix('^').unwrap_or(r);
    let r = r.strip_suffix('$').unwrap_or(r);
    // librdkafka matches with POSIX extended regexes (no `(?:`); a plain group works in
    // both dialects.
    format!("^({r})$")
}

/// A sink job's consuming side.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSettings {
    /// The connector's name, for logs.
    pub name: String,
    /// Kafka Connect's default for a sink connector is `connect-<name>`.
    pub group_id: String,
    pub subscription: Subscription,
    /// A batch goes to the sink at this many records, when no more are waiting…
    pub batch_size: usize,
    /// …or this long after its first record, whichever comes first.
    pub batch_max_wait: Duration,
    /// Applied to every upsert's document and schema.
    pub fields: FieldMap,
    /// The source's `unavailable.value.placeholder`: fields holding it are unchanged
    /// TOASTed columns, which the target keeps as it has them.
    pub unavailable: Unavailable,
    /// Backoff after a transient sink or registry error: doubles from `retry_initial` up
    /// to `retry_max`, for as long as the job is not stopped.
    pub retry_initial: Duration,
    pub retry_max: Duration,
    /// On stop, how long a write already sent to the sink may still take to finish (and
    /// then be committed) before it is abandoned.
    pub stop_grace: Duration,
    /// Which converters wrote the keys and the values (`key.converter`, `value.converter`).
    pub formats: (Format, Format),
    /// Converter properties accepted without effect, each with why (logged at start).
    pub warnings: Vec<SettingError>,
}

pub const DEFAULT_BATCH_SIZE: usize = 2000;
pub const DEFAULT_BATCH_MAX_WAIT: Duration = Duration::from_millis(100);

impl JobSettings {
    /// Defaults for everything but the names and the subscription.
    pub fn new(name: &str, group_id: &str, subscription: Subscription) -> Self {
        JobSettings {
            name: name.to_string(),
            group_id: group_id.to_string(),
            subscription,
            batch_size: DEFAULT_BATCH_SIZE,
            batch_max_wait: DEFAULT_BATCH_MAX_WAIT,
            fields: FieldMap::default(),
            unavailable: Unavailable::default(),
            retry_initial: Duration::from_millis(100),
            retry_max: Duration::from_secs(10),
            stop_grace: Duration::from_secs(10),
            formats: (Format::Avro, Format::Avro),
            warnings: Vec::new(),
        }
    }

    /// Reads the job properties of a sink connector (strings, like Kafka Connect); the
    /// group is Kafka Connect's `connect-<name>`. Every problem is returned, each naming
    /// its property.
    /// `worker`: the daemon's `[connect]` converters, used where `props` names none.
    pub fn parse(
        name: &str,
        props: &BTreeMap<String, String>,
        worker: &BTreeMap<String, String>,
    ) -> Result<Self, Vec<SettingError>> {
        let mut errors = Vec::new();
        let get = |k: &str| {
            debug_assert!(
                JOB_PROPERTIES.iter().any(|p| p.name == k),
                "{k} is not in JOB_PROPERTIES"
            );
            props.get(k).map(|s| s.trim()).filter(|s| !s.is_empty())
        };
        let subscription = match (get("topics"), get("topics.regex")) {
            (Some(_), Some(_)) => {
                errors.push(SettingError::new(
                    "topics",
                    "and topics.regex are both set; set only one of them",
                ));
                None
            }
            (None, None) => {
                errors.push(SettingError::new(
                    "topics",
                    "is required (a comma-separated list), or topics.regex (e.g. cdc\\..*)",
                ));
                None
            }
            (Some(list), None) => Some(Subscription::Topics(FieldMap::parse_list(list))),
            (None, Some(re)) => match regex::Regex::new(&anchored(re)) {
                Ok(_) => Some(Subscription::Regex(re.to_string())),
                Err(e) => {
                    errors.push(SettingError::new(
                        "topics.regex",
                        format!("is not a valid regular expression: {e}"),
                    ));
                    None
                }
            },
        };
        let mut number =
            |k: &str, default: u64, min: u64| whole_number(get(k), k, default, min, &mut errors);
        let batch_size = number("batch.size", DEFAULT_BATCH_SIZE as u64, 1);
        let batch_ms = number(
            "batch.max.wait.ms",
            DEFAULT_BATCH_MAX_WAIT.as_millis() as u64,
            0,
        );
        let retry_max_ms = number("errors.retry.delay.max.ms", 10_000, 1);
        let rename = match get("fields.rename") {
            None => Vec::new(),
            Some(v) => FieldMap::parse_renames(v).unwrap_or_else(|e| {
                errors.push(SettingError::new("fields.rename", e));
                Vec::new()
            }),
        };
        let fields = FieldMap {
            include: get("fields.include")
                .map(FieldMap::parse_list)
                .unwrap_or_default(),
            exclude: get("fields.exclude")
                .map(FieldMap::parse_list)
                .unwrap_or_default(),
            rename,
        };
        // The converters say how keys and values are read; transforms are refused.
        let mut found = tributary_connect::config::Findings::default();
        let pipeline = tributary_connect::Pipeline::parse(props, worker, &mut found);
        let mut format = |side: &str, c: &Converter| match c {
            Converter::Avro => Format::Avro,
            Converter::Json(s) => Format::Json {
                schemas: s.schemas,
                replace_null_with_default: s.replace_null_with_default,
            },
            Converter::CloudEvents(s) => Format::CloudEvents {
                schemas: s.json.schemas,
                replace_null_with_default: s.json.replace_null_with_default,
            },
            Converter::String | Converter::ByteArray => {
                errors.push(SettingError::new(
                    &format!("{side}.converter"),
                    format!(
                        "{} cannot be read back into rows: a sink job reads change events\nHINT: have the source write them with the AvroConverter, the JsonConverter or the CloudEventsConverter, and name the same here",
                        c.class()
                    ),
                ));
                Format::Avro
            }
        };
        let formats = (
            format("key", &pipeline.key),
            format("value", &pipeline.value),
        );
        if !pipeline.transforms.is_empty() {
            errors.push(SettingError::new(
                "transforms",
                "sink jobs do not apply transforms yet (source connectors do)\nHINT: transform on the source connector, or remove transforms",
            ));
        }
        let warnings: Vec<SettingError> = found
            .warnings
            .iter()
            .map(|w| SettingError::new(&w.field, w.message.clone()))
            .collect();
        errors.extend(
            found
                .errors
                .into_iter()
                .map(|e| SettingError::new(&e.field, e.message)),
        );
        match subscription {
            Some(subscription) if errors.is_empty() => {
                let mut s = JobSettings::new(name, &format!("connect-{name}"), subscription);
                s.batch_size = batch_size as usize;
                s.batch_max_wait = Duration::from_millis(batch_ms);
                s.retry_max = Duration::from_millis(retry_max_ms).max(s.retry_initial);
                s.fields = fields;
                s.formats = formats;
                s.warnings = warnings;
                if let Some(p) = props
                    .get("unavailable.value.placeholder")
                    .filter(|p| !p.is_empty())
                {
                    s.unavailable = Unavailable::new(p);
                }
                Ok(s)
            }
            _ => Err(errors),
        }
    }
}

const GROUP: &str = "Job";

/// The properties [`JobSettings::parse`] reads.
pub const JOB_PROPERTIES: &[PropertyDef] = &[
    PropertyDef::new(
        "topics",
        PropertyKind::List,
        GROUP,
        "Topics to consume, comma separated. Set this or topics.regex.",
    )
    .high(),
    PropertyDef::new(
        "topics.regex",
        PropertyKind::String,
        GROUP,
        "Consume every topic whose whole name matches this regular expression, including topics created later, e.g. cdc\\..*. Set this or topics.",
    )
    .high(),
    PropertyDef::new(
        "batch.size",
        PropertyKind::Int,
        GROUP,
        "A batch goes to the target at this many records at most; sooner when no more records are waiting, or after batch.max.wait.ms.",
    )
    .default_value("2000"),
    PropertyDef::new(
        "batch.max.wait.ms",
        PropertyKind::Long,
        GROUP,
        "The longest a batch gathers records after its first one (it goes sooner when no more records are waiting).",
    )
    .default_value("100"),
    PropertyDef::new(
        "fields.include",
        PropertyKind::List,
        GROUP,
        "When set, only these row fields reach the target (Kafka Connect's ReplaceField include).",
    ),
    PropertyDef::new(
        "fields.exclude",
        PropertyKind::List,
        GROUP,
        "Row fields that never reach the target.",
    ),
    PropertyDef::new(
        "fields.rename",
        PropertyKind::List,
        GROUP,
        "Renamed row fields, as old:new pairs separated by commas.",
    ),
    PropertyDef::new(
        "unavailable.value.placeholder",
        PropertyKind::String,
        GROUP,
        "The source connector's unavailable.value.placeholder (Debezium's default unless it was changed there): a column holding it is a large (TOASTed) value an update left unchanged, and the target keeps the value it holds. A hex: prefix gives the placeholder's bytes in hexadecimal.",
    )
    .default_value(DEFAULT_PLACEHOLDER),
    PropertyDef::new(
        "errors.retry.delay.max.ms",
        PropertyKind::Long,
        GROUP,
        "The longest wait between retries of a batch the target could not take (transient errors are retried until the job is stopped).",
    )
    .default_value("10000")
    .low(),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<JobSettings, Vec<SettingError>> {
        let props = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        JobSettings::parse("search", &props, &BTreeMap::new())
    }

    #[test]
    fn defaults_follow_kafka_connect() {
        let s = parse(&[("topics", "cdc.public.a, cdc.public.b")]).unwrap();
        assert_eq!(s.group_id, "connect-search");
        assert_eq!(
            s.subscription,
            Subscription::Topics(vec!["cdc.public.a".into(), "cdc.public.b".into()])
        );
        assert_eq!(s.batch_size, DEFAULT_BATCH_SIZE);
        assert_eq!(s.retry_initial, Duration::from_millis(100));
        assert_eq!(s.retry_max, Duration::from_secs(10));
        assert!(s.fields.is_identity());
    }

    #[test]
    fn every_bad_value_is_reported_with_its_field() {
        let errors = parse(&[
            ("topics.regex", "cdc\\.(unclosed"),
            ("batch.size", "0"),
            ("fields.rename", "nocolon"),
        ])
        .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["topics.regex", "batch.size", "fields.rename"]);
        let both = parse(&[("topics", "a"), ("topics.regex", "b")]).unwrap_err();
        assert_eq!(both[0].field, "topics");
        assert_eq!(parse(&[]).unwrap_err()[0].field, "topics");
    }

    #[test]
    fn documented_defaults_are_the_ones_used() {
        let default = |name: &str| {
            let p = JOB_PROPERTIES.iter().find(|p| p.name == name).unwrap();
            p.default.unwrap().parse::<u64>().unwrap()
        };
        assert_eq!(default("batch.size"), DEFAULT_BATCH_SIZE as u64);
        assert_eq!(
            default("batch.max.wait.ms"),
            DEFAULT_BATCH_MAX_WAIT.as_millis() as u64
        );
        let s = JobSettings::new("n", "g", Subscription::Topics(vec![]));
        assert_eq!(
            default("errors.retry.delay.max.ms"),
            s.retry_max.as_millis() as u64
        );
    }

    #[test]
    fn regex_subscriptions_match_whole_names() {
        let s = parse(&[("topics.regex", "cdc\\..*"), ("fields.exclude", "secret")]).unwrap();
        assert_eq!(s.subscription.patterns(), ["^(cdc\\..*)$"]);
        assert!(s.subscription.matches("cdc.public.items"));
        assert!(!s.subscription.matches("xcdc.public.items"));
        assert_eq!(s.fields.exclude, ["secret"]);
    }

    #[test]
    fn the_placeholder_is_debeziums_unless_set_like_on_the_source() {
        let s = parse(&[("topics", "a")]).unwrap();
        assert_eq!(s.unavailable, Unavailable::new(DEFAULT_PLACEHOLDER));
        let s = parse(&[("topics", "a"), ("unavailable.value.placeholder", "~")]).unwrap();
        assert_eq!(s.unavailable, Unavailable::new("~"));
    }
}
