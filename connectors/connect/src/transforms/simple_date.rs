//! The part of `java.text.SimpleDateFormat` Kafka's transforms use (`TimestampRouter`'s
//! `timestamp.format`, `TimestampConverter`'s `format`), in UTC: the letters
//! `y M d H m s S`, quoted text and literals, formatted and parsed as a lenient
//! `GregorianCalendar` does (Julian dates before 1582-10-15, years of the era).

use tributary_core::calendar::{java_date_from_days, java_days_from_date};

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

const DAY_MS: i64 = 86_400_000;

/// One piece of a pattern.
#[derive(Debug, Clone, PartialEq)]
enum Part {
    Literal(String),
    /// A field letter and how many times it is repeated.
    Field(char, usize),
}

/// A parsed `SimpleDateFormat` pattern.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DatePattern {
    parts: Vec<Part>,
    text: String,
}

impl DatePattern {
    /// Reads a pattern; a letter Tributary does not format is refused, naming it.
    pub fn parse(p: &str) -> Result<DatePattern, String> {
        let mut parts = Vec::new();
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
                parts.push(Part::Literal(if text.is_empty() {
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
                parts.push(Part::Field(c, n));
            } else {
                parts.push(Part::Literal(c.to_string()));
                i += 1;
            }
        }
        Ok(DatePattern {
            parts,
            text: p.to_owned(),
        })
    }

    /// `format(new Date(ms))` in UTC.
    pub fn format(&self, ms: i64) -> String {
        let (days, ms_of_day) = (ms.div_euclid(DAY_MS), ms.rem_euclid(DAY_MS));
        let (y, mo, d) = java_date_from_days(days);
        // The year of its era: 1 BC is year 0 counted astronomically.
        let y = if y <= 0 { 1 - y } else { y };
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Literal(t) => out.push_str(t),
                Part::Field(c, n) => {
                    let n = *n;
                    let v: i64 = match c {
                        'y' if n == 2 => y % 100,
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

    /// `parse(text)` in UTC, leniently as `SimpleDateFormat` parses: a field next to
    /// another number field takes as many digits as its letter is repeated, others every
    /// digit there is; values out of range carry over (month 13 is January of the next
    /// year); text after the pattern is ignored. `now_year` anchors two-digit years
    /// (`yy`: within 80 years before and 20 after it).
    pub fn parse_millis(&self, text: &str, now_year: i64) -> Result<i64, String> {
        let unparseable = || format!("Unparseable date: \"{text}\"");
        let (mut year, mut month, mut day) = (1970i64, 1i64, 1i64);
        let mut ms_of_day = 0i64;
        let mut rest = text;
        for (i, p) in self.parts.iter().enumerate() {
            match p {
                Part::Literal(t) => rest = rest.strip_prefix(t.as_str()).ok_or_else(unparseable)?,
                Part::Field('M', n) if *n >= 3 => {
                    let found = MONTHS.iter().enumerate().find_map(|(k, name)| {
                        [*name, &name[..3]].into_iter().find_map(|candidate| {
                            let head = rest.get(..candidate.len())?;
                            head.eq_ignore_ascii_case(candidate)
                                .then_some((k, candidate.len()))
                        })
                    });
                    let (k, len) = found.ok_or_else(unparseable)?;
                    month = k as i64 + 1;
                    rest = &rest[len..];
                }
                Part::Field(c, n) => {
                    let abutting = matches!(
                        self.parts.get(i + 1),
                        Some(Part::Field(next, m)) if !(*next == 'M' && *m >= 3)
                    );
                    let available = rest.bytes().take_while(u8::is_ascii_digit).count();
                    let take = if abutting {
                        available.min(*n)
                    } else {
                        available
                    };
                    if take == 0 {
                        return Err(unparseable());
                    }
                    let v: i64 = rest[..take].parse().map_err(|_| unparseable())?;
                    rest = &rest[take..];
                    match c {
                        'y' if *n <= 2 && take == 2 => {
                            // SimpleDateFormat's default century: from 80 years ago.
                            let start = now_year - 80;
                            let mut y = start - start.rem_euclid(100) + v;
                            if y < start {
                                y += 100;
                            }
                            year = y;
                        }
                        'y' => year = v,
                        'M' => month = v,
                        'd' => day = v,
                        'H' => ms_of_day += v * 3_600_000,
                        'm' => ms_of_day += v * 60_000,
                        's' => ms_of_day += v * 1000,
                        _ => ms_of_day += v,
                    }
                }
            }
        }
        // Lenient: the month carries into the year, the day into the month.
        year += (month - 1).div_euclid(12);
        let month = (month - 1).rem_euclid(12) as u32 + 1;
        let days = java_days_from_date(year, month, 1) + day - 1;
        Ok(days * DAY_MS + ms_of_day)
    }

    /// The pattern as configured.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_as_simple_date_format_in_utc() {
        let p = DatePattern::parse("yyyy-MM-dd'T'HH:mm:ss.SSS '' yy MMM").unwrap();
        assert_eq!(
            p.format(1_764_762_000_123),
            "2025-12-03T11:40:00.123 ' 25 Dec"
        );
        assert!(DatePattern::parse("yyyy-ww").is_err());
        // Before 1582-10-15: the Julian calendar, and the year of the era.
        let p = DatePattern::parse("yyyy-MM-dd").unwrap();
        assert_eq!(p.format(-12_219_292_800_000 - DAY_MS), "1582-10-04");
        // Proleptic Gregorian 0001-01-01 is Julian 0001-01-03; a year before it is 1 BC.
        assert_eq!(p.format(-62_135_596_800_000), "0001-01-03");
        assert_eq!(p.format(-62_135_596_800_000 - 365 * DAY_MS), "0001-01-04");
    }

    #[test]
    fn parses_leniently() {
        let p = DatePattern::parse("yyyy-MM-dd HH:mm:ss").unwrap();
        assert_eq!(
            p.parse_millis("2025-12-03 11:40:00 and more", 2026)
                .unwrap(),
            1_764_762_000_000
        );
        // Month 13 is January of the next year; hour 25 the next day.
        assert_eq!(
            p.parse_millis("2024-13-01 25:00:00", 2026).unwrap(),
            p.parse_millis("2025-01-02 01:00:00", 2026).unwrap()
        );
        assert!(p.parse_millis("2025/12/03", 2026).is_err());
        let abutting = DatePattern::parse("yyyyMMdd").unwrap();
        assert_eq!(
            abutting.parse_millis("20251203", 2026).unwrap(),
            1_764_720_000_000
        );
        let short = DatePattern::parse("dd MMM yy").unwrap();
        assert_eq!(
            short.parse_millis("03 dec 25", 2026).unwrap(),
            1_764_720_000_000
        );
        assert_eq!(
            short.parse_millis("03 December 47", 2026).unwrap(),
            short.parse_millis("03 Dec 1947", 2026).unwrap()
        );
    }
}
