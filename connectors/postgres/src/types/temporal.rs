//! Dates, times, timestamps and intervals: Postgres ISO text in, Debezium's units out.
//!
//! Input is what Postgres prints under `DateStyle='ISO, YMD'`, `IntervalStyle='iso_8601'`
//! and `TimeZone='UTC'`: `2024-01-02`, `13:51:30.123456`, `2024-01-02 03:04:05.5+00`,
//! `0044-03-15 12:00:00 BC`, `P1Y2M3DT4H5M6.78S`. Calendar arithmetic is proleptic
//! Gregorian with year 0 = 1 BC, as both Postgres and `java.time` do, so BC values agree
//! with Debezium's.
//!
//! Output follows `java.time` formatting where Debezium emits text: `ZonedTimestamp` uses
//! ISO-8601 with `+` before years above 9999 and a sign before negative years, and pads the
//! fraction to the column's precision (Debezium 2.2+, DBZ-6163); `ZonedTime` uses
//! `ISO_OFFSET_TIME`, which trims trailing zeros of the fraction.

use super::numeric::parse_plain_decimal;

pub(crate) const USECS_PER_SEC: i64 = 1_000_000;
pub(crate) const USECS_PER_DAY: i64 = 86_400 * USECS_PER_SEC;

/// A value that may be one of Postgres's `infinity` / `-infinity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Special<T> {
    Value(T),
    PosInfinity,
    NegInfinity,
}

fn special(text: &str) -> Option<Special<()>> {
    match text {
        "infinity" | "+infinity" => Some(Special::PosInfinity),
        "-infinity" => Some(Special::NegInfinity),
        _ => None,
    }
}

pub(crate) use tributary_core::calendar::{civil_from_days, days_from_civil};

fn is_leap(year: i64) -> bool {
    year.rem_euclid(4) == 0 && (year.rem_euclid(100) != 0 || year.rem_euclid(400) == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A byte cursor over ASCII date/time text.
struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str) -> Self {
        Cursor {
            s: text.as_bytes(),
            i: 0,
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        let hit = self.s.get(self.i) == Some(&b);
        self.i += usize::from(hit);
        hit
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn at_end(&self) -> bool {
        self.i == self.s.len()
    }

    /// Between `min` and `max` digits, as a number and the count read.
    fn digits(&mut self, min: usize, max: usize) -> Result<(i64, usize), &'static str> {
        let start = self.i;
        let mut value: i64 = 0;
        while self.i - start < max
            && let Some(d @ b'0'..=b'9') = self.peek()
        {
            value = value * 10 + i64::from(d - b'0');
            self.i += 1;
        }
        let count = self.i - start;
        if count < min {
            return Err("expected digits");
        }
        Ok((value, count))
    }

    fn expect(&mut self, b: u8, what: &'static str) -> Result<(), &'static str> {
        if self.eat(b) { Ok(()) } else { Err(what) }
    }

    /// The ` BC` era suffix.
    fn bc(&mut self) -> bool {
        if self.s[self.i..].starts_with(b" BC") {
            self.i += 3;
            true
        } else {
            false
        }
    }
}

/// `YYYY-MM-DD`, validated, with the year as written (era not applied).
fn ymd(c: &mut Cursor<'_>) -> Result<(i64, u32, u32), &'static str> {
    let (year, _) = c.digits(4, 9)?;
    c.expect(b'-', "expected '-' after the year")?;
    let (month, _) = c.digits(2, 2)?;
    c.expect(b'-', "expected '-' after the month")?;
    let (day, _) = c.digits(2, 2)?;
    if !(1..=12).contains(&month) || day < 1 {
        return Err("month or day out of range");
    }
    Ok((year, month as u32, day as u32))
}

fn days_of(year: i64, month: u32, day: u32, bc: bool) -> Result<i64, &'static str> {
    let year = if bc { 1 - year } else { year };
    if day > days_in_month(year, month) {
        return Err("day out of range for the month");
    }
    Ok(days_from_civil(year, month, day))
}

/// `HH:MM:SS[.ffffff]` as microseconds past midnight; `24:00:00` is allowed.
fn hms(c: &mut Cursor<'_>) -> Result<i64, &'static str> {
    let (h, _) = c.digits(2, 2)?;
    c.expect(b':', "expected ':' after the hour")?;
    let (m, _) = c.digits(2, 2)?;
    c.expect(b':', "expected ':' after the minute")?;
    let (s, _) = c.digits(2, 2)?;
    let mut micros = 0;
    if c.eat(b'.') {
        let (fraction, count) = c.digits(1, 6)?;
        micros = fraction * 10i64.pow(6 - count as u32);
    }
    if h > 24 || m > 59 || s > 59 || (h == 24 && (m, s, micros) != (0, 0, 0)) {
        return Err("time of day out of range");
    }
    Ok(((h * 60 + m) * 60 + s) * USECS_PER_SEC + micros)
}

/// `+HH[:MM[:SS]]` as seconds east of UTC.
fn offset(c: &mut Cursor<'_>) -> Result<i64, &'static str> {
    let sign = match c.peek() {
        Some(b'+') => 1,
        Some(b'-') => -1,
        _ => return Err("expected a UTC offset"),
    };
    c.i += 1;
    let (h, _) = c.digits(2, 2)?;
    let mut seconds = h * 3600;
    if c.eat(b':') {
        seconds += c.digits(2, 2)?.0 * 60;
        if c.eat(b':') {
            seconds += c.digits(2, 2)?.0;
        }
    }
    Ok(sign * seconds)
}

/// A `date` as days since the epoch.
pub(crate) fn parse_date(text: &str) -> Result<Special<i64>, &'static str> {
    if let Some(s) = special(text) {
        return Ok(s.map(0));
    }
    let mut c = Cursor::new(text);
    let (y, m, d) = ymd(&mut c)?;
    let bc = c.bc();
    if !c.at_end() {
        return Err("unexpected text after the date");
    }
    days_of(y, m, d, bc).map(Special::Value)
}

/// A `time` as microseconds past midnight.
pub(crate) fn parse_time(text: &str) -> Result<i64, &'static str> {
    let mut c = Cursor::new(text);
    let micros = hms(&mut c)?;
    if !c.at_end() {
        return Err("unexpected text after the time");
    }
    Ok(micros)
}

/// A `timestamp` (or with `with_zone`, a `timestamptz`) as microseconds since the epoch,
/// in UTC.
pub(crate) fn parse_timestamp(text: &str, with_zone: bool) -> Result<Special<i64>, &'static str> {
    if let Some(s) = special(text) {
        return Ok(s.map(0));
    }
    let mut c = Cursor::new(text);
    let (y, m, d) = ymd(&mut c)?;
    if !(c.eat(b' ') || c.eat(b'T')) {
        return Err("expected a space between date and time");
    }
    let time = hms(&mut c)?;
    let zone = if with_zone { offset(&mut c)? } else { 0 };
    let bc = c.bc();
    if !c.at_end() {
        return Err(if with_zone {
            "unexpected text after the UTC offset"
        } else {
            "unexpected text after the time"
        });
    }
    let days = days_of(y, m, d, bc)?;
    let micros = i128::from(days) * i128::from(USECS_PER_DAY) + i128::from(time)
        - i128::from(zone) * i128::from(USECS_PER_SEC);
    i64::try_from(micros)
        .map(Special::Value)
        .map_err(|_| "timestamp out of range")
}

impl Special<()> {
    fn map<T>(self, value: T) -> Special<T> {
        match self {
            Special::Value(()) => Special::Value(value),
            Special::PosInfinity => Special::PosInfinity,
            Special::NegInfinity => Special::NegInfinity,
        }
    }
}

/// A `timetz` normalized to UTC and formatted like `OffsetTime` with `ISO_OFFSET_TIME`:
/// `11:51:30.123789Z`, `11:51:02Z`. The clock wraps around midnight as
/// `withOffsetSameInstant(UTC)` does; `24:00:00+00` stays `24:00:00Z` (Debezium's
/// end-of-day boundary).
pub(crate) fn format_timetz(text: &str) -> Result<String, &'static str> {
    let mut c = Cursor::new(text);
    let time = hms(&mut c)?;
    let zone = offset(&mut c)?;
    if !c.at_end() {
        return Err("unexpected text after the UTC offset");
    }
    if time == USECS_PER_DAY && zone == 0 {
        return Ok("24:00:00Z".to_string());
    }
    let utc = (time - zone * USECS_PER_SEC).rem_euclid(USECS_PER_DAY);
    let mut out = String::with_capacity(16);
    push_clock(&mut out, utc, None);
    out.push('Z');
    Ok(out)
}

/// A UTC instant as Debezium's `ZonedTimestamp` text, e.g. `2024-01-02T03:04:05.123456Z`.
/// `width` is the column's fractional precision: 1 to 6 digits exactly, or 0 for Java's
/// `ISO_OFFSET_DATE_TIME` (no fraction when it is zero, trailing zeros trimmed).
pub(crate) fn format_zoned_timestamp(micros: i64, width: u8) -> String {
    let mut out = String::with_capacity(32);
    push_date(&mut out, micros.div_euclid(USECS_PER_DAY));
    out.push('T');
    let time = micros.rem_euclid(USECS_PER_DAY);
    push_clock(&mut out, time, (width > 0).then_some(width.min(6)));
    out.push('Z');
    out
}

/// Days since the epoch as Debezium's `IsoDate` text (`ISO_OFFSET_DATE` in UTC), e.g.
/// `2024-01-02Z`.
pub(crate) fn format_iso_date(days: i64) -> String {
    let mut out = String::with_capacity(16);
    push_date(&mut out, days);
    out.push('Z');
    out
}

/// Microseconds past midnight as Debezium's `IsoTime` text (`ISO_OFFSET_TIME` in UTC),
/// e.g. `10:15:30.5Z`.
pub(crate) fn format_iso_time(micros: i64) -> String {
    let mut out = String::with_capacity(20);
    push_clock(&mut out, micros, None);
    out.push('Z');
    out
}

/// `yyyy-MM-dd` as Java's `ISO_LOCAL_DATE` writes it: a year past 9999 gets a `+`, a year
/// before 1 (year 0 is 1 BC) a `-`, and at least four digits either way.
fn push_date(out: &mut String, days: i64) {
    let (year, month, day) = civil_from_days(days);
    if year > 9999 {
        out.push('+');
        out.push_str(&year.to_string());
    } else if year >= 0 {
        push_digits(out, year as u64, 4);
    } else {
        out.push('-');
        push_digits(out, year.unsigned_abs(), 4);
    }
    out.push('-');
    push_digits(out, u64::from(month), 2);
    out.push('-');
    push_digits(out, u64::from(day), 2);
}

/// `HH:MM:SS` plus the fraction: exactly `width` digits, or trimmed when `None`.
fn push_clock(out: &mut String, micros: i64, width: Option<u8>) {
    let seconds = micros / USECS_PER_SEC;
    let fraction = (micros % USECS_PER_SEC).unsigned_abs();
    push_digits(out, (seconds / 3600).unsigned_abs(), 2);
    out.push(':');
    push_digits(out, (seconds / 60 % 60).unsigned_abs(), 2);
    out.push(':');
    push_digits(out, (seconds % 60).unsigned_abs(), 2);
    match width {
        Some(w) => {
            out.push('.');
            push_digits(out, fraction / 10u64.pow(6 - u32::from(w)), usize::from(w));
        }
        None if fraction != 0 => {
            out.push('.');
            let mut f = fraction;
            let mut w = 6;
            while f.is_multiple_of(10) {
                f /= 10;
                w -= 1;
            }
            push_digits(out, f, w);
        }
        None => {}
    }
}

/// Appends `value` in decimal, zero-padded to at least `width` digits, without the
/// formatting machinery (this runs for every timestamp of every row).
fn push_digits(out: &mut String, value: u64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut i = buf.len();
    let mut v = value;
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let start = i.min(buf.len() - width.min(buf.len()));
    // The buffer holds only ASCII digits.
    out.push_str(std::str::from_utf8(&buf[start..]).unwrap_or_default());
}

/// An interval's fields as pgjdbc's `PGInterval` holds them after parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct IntervalParts {
    pub years: i64,
    pub months: i64,
    pub days: i64,
    pub hours: i64,
    pub minutes: i64,
    pub seconds: i64,
    /// Microseconds of the seconds field, with the same sign.
    pub micros: i64,
}

/// An `iso_8601` interval: `P1Y2M3DT4H5M6.78S`, `P-1DT-2H-3M-4.5S`, `PT0S`.
pub(crate) fn parse_interval(text: &str) -> Result<Special<IntervalParts>, &'static str> {
    if let Some(s) = special(text) {
        return Ok(s.map(IntervalParts::default()));
    }
    let mut c = Cursor::new(text);
    c.expect(b'P', "expected an ISO-8601 interval starting with 'P'")?;
    let mut parts = IntervalParts::default();
    let mut in_time = false;
    let mut any = false;
    while !c.at_end() {
        if !in_time && c.eat(b'T') {
            in_time = true;
            continue;
        }
        let negative = c.eat(b'-');
        if !negative {
            c.eat(b'+');
        }
        let (whole, _) = c.digits(1, 18)?;
        let mut micros = 0;
        if c.eat(b'.') {
            let (fraction, count) = c.digits(1, 9)?;
            micros = if count <= 6 {
                fraction * 10i64.pow(6 - count as u32)
            } else {
                fraction / 10i64.pow(count as u32 - 6)
            };
        }
        let sign = if negative { -1 } else { 1 };
        let designator = c.peek().ok_or("expected a designator after a number")?;
        c.i += 1;
        if micros != 0 && !(in_time && designator == b'S') {
            return Err("only seconds may have a fraction");
        }
        let field = match (in_time, designator) {
            (false, b'Y') => &mut parts.years,
            (false, b'M') => &mut parts.months,
            (false, b'W') => {
                parts.days = parts.days.saturating_add(sign * whole.saturating_mul(7));
                any = true;
                continue;
            }
            (false, b'D') => &mut parts.days,
            (true, b'H') => &mut parts.hours,
            (true, b'M') => &mut parts.minutes,
            (true, b'S') => {
                parts.micros = parts.micros.saturating_add(sign * micros);
                &mut parts.seconds
            }
            _ => return Err("unexpected designator in an interval"),
        };
        *field = field.saturating_add(sign * whole);
        any = true;
    }
    if !any {
        return Err("empty interval");
    }
    Ok(Special::Value(parts))
}

impl IntervalParts {
    /// `PGInterval.getSeconds()`: whole seconds plus microseconds as a double.
    fn seconds_f64(&self) -> f64 {
        self.seconds as f64 + self.micros as f64 / 1_000_000.0
    }

    /// Debezium's `MicroDuration.durationMicros(…, DAYS_PER_MONTH_AVG)`, computed in
    /// doubles in the same order and truncated like Java's `(long)` cast, so values match
    /// Debezium's to the last microsecond (including its occasional rounding down).
    pub(crate) fn debezium_micros(&self) -> i64 {
        const DAYS_PER_MONTH_AVG: f64 = 365.25 / 12.0;
        // Java does this in int arithmetic; Postgres's limits keep it far from overflowing.
        let months = self.years.saturating_mul(12).saturating_add(self.months) as f64;
        let days = months * DAYS_PER_MONTH_AVG + self.days as f64;
        let seconds = ((days * 24.0 + self.hours as f64) * 60.0 + self.minutes as f64) * 60.0
            + self.seconds_f64();
        // `as` saturates and maps NaN to 0, exactly like Java's (long) conversion.
        (seconds * 1e6) as i64
    }

    /// Debezium's `Interval.toIsoString`: every field written, seconds from
    /// `BigDecimal.valueOf(getSeconds())` cut to 6 digits, trailing zeros stripped:
    /// `P1Y2M3DT4H5M6.78S`, `P0Y0M0DT0H0M0S`.
    pub(crate) fn debezium_iso(&self) -> String {
        let seconds = self.seconds_f64();
        // Rust prints the shortest decimal that round-trips, like Java's Double.toString.
        let text = if seconds == 0.0 {
            "0".to_string()
        } else {
            format!("{seconds}")
        };
        let seconds = parse_plain_decimal(&text)
            .map(|d| d.truncated(6).normalized().to_plain_string())
            .unwrap_or(text);
        format!(
            "P{}Y{}M{}DT{}H{}M{}S",
            self.years, self.months, self.days, self.hours, self.minutes, seconds
        )
    }
}
