//! Java's ISO-8601 offset date-times and times (`DateTimeFormatter.ISO_OFFSET_DATE_TIME`,
//! `ISO_OFFSET_TIME`), read and written as Debezium's `ZonedTimestamp` and `ZonedTime`
//! carry them.

use tributary_core::calendar::{civil_from_days, days_from_civil};

/// Seconds in a day.
const DAY: i64 = 86_400;

/// Reads `ISO_OFFSET_DATE_TIME` text: the wall-clock seconds (since the epoch of that
/// wall clock), the nanoseconds and the offset in seconds.
pub(super) fn parse_offset_date_time(text: &str) -> Result<(i64, u32, i64), String> {
    let bad = || format!("Text '{text}' could not be parsed as an offset date-time");
    let t = text.find('T').ok_or_else(bad)?;
    let (date, rest) = (&text[..t], &text[t + 1..]);
    let (sign, digits) = match date.as_bytes().first() {
        Some(b'-') => (-1, &date[1..]),
        Some(b'+') => (1, &date[1..]),
        _ => (1, date),
    };
    let mut parts = digits.splitn(3, '-');
    let mut next = |min: usize| {
        parts
            .next()
            .filter(|p| p.len() >= min && p.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|p| p.parse::<i64>().ok())
            .ok_or_else(bad)
    };
    let (y, m, d) = (sign * next(4)?, next(2)?, next(2)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    let (secs, nanos, offset) = parse_offset_time(rest).map_err(|_| bad())?;
    let days = days_from_civil(y, m as u32, d as u32);
    Ok((days * DAY + secs, nanos, offset))
}

/// Reads `ISO_OFFSET_TIME` text: seconds of the day, nanoseconds, offset in seconds.
pub(super) fn parse_offset_time(text: &str) -> Result<(i64, u32, i64), String> {
    let bad = || format!("Text '{text}' could not be parsed as an offset time");
    let split = text.find(['Z', '+', '-']).ok_or_else(bad)?;
    let (time, offset) = (&text[..split], &text[split..]);
    let (hms, fraction) = match time.split_once('.') {
        Some((hms, f)) if !f.is_empty() && f.len() <= 9 => (hms, f),
        Some(_) => return Err(bad()),
        None => (time, ""),
    };
    let nums: Vec<i64> = hms
        .split(':')
        .map(|p| {
            (p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit()))
                .then(|| p.parse().unwrap_or(0))
                .ok_or_else(bad)
        })
        .collect::<Result<_, _>>()?;
    let (h, mi, s) = match nums.as_slice() {
        [h, m] => (*h, *m, 0),
        [h, m, s] => (*h, *m, *s),
        _ => return Err(bad()),
    };
    if h > 23 || mi > 59 || s > 59 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let nanos = if fraction.is_empty() {
        0
    } else {
        format!("{fraction:0<9}")
            .parse::<u32>()
            .map_err(|_| bad())?
    };
    let offset = if offset == "Z" {
        0
    } else {
        let sign = if offset.starts_with('-') { -1 } else { 1 };
        let parts: Vec<i64> = offset[1..]
            .split(':')
            .map(|p| p.parse::<i64>().map_err(|_| bad()))
            .collect::<Result<_, _>>()?;
        let secs = match parts.as_slice() {
            [h, m] => h * 3600 + m * 60,
            [h, m, s] => h * 3600 + m * 60 + s,
            _ => return Err(bad()),
        };
        sign * secs
    };
    Ok((h * 3600 + mi * 60 + s, nanos, offset))
}

/// `ISO_OFFSET_DATE_TIME` of a wall-clock time and its offset.
pub(super) fn format_date_time(wall: i64, nanos: u32, offset: i64) -> String {
    let (days, secs) = (wall.div_euclid(DAY), wall.rem_euclid(DAY));
    let (y, m, d) = civil_from_days(days);
    let mut out = if y > 9999 {
        format!("+{y}")
    } else if y < 0 {
        format!("-{:04}", -y)
    } else {
        format!("{y:04}")
    };
    out.push_str(&format!("-{m:02}-{d:02}T"));
    push_time(&mut out, secs, nanos);
    push_offset(&mut out, offset);
    out
}

/// `ISO_LOCAL_TIME`: `HH:mm:ss`, and the fraction without trailing zeros.
pub(super) fn push_time(out: &mut String, secs: i64, nanos: u32) {
    out.push_str(&format!(
        "{:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    ));
    if nanos > 0 {
        let f = format!("{nanos:09}");
        out.push('.');
        out.push_str(f.trim_end_matches('0'));
    }
}

/// `appendOffsetId`: `Z`, or `+HH:MM` with `:ss` when there are seconds.
pub(super) fn push_offset(out: &mut String, offset: i64) {
    if offset == 0 {
        out.push('Z');
        return;
    }
    let sign = if offset < 0 { '-' } else { '+' };
    let a = offset.abs();
    out.push_str(&format!("{sign}{:02}:{:02}", a / 3600, a / 60 % 60));
    if a % 60 != 0 {
        out.push_str(&format!(":{:02}", a % 60));
    }
}
