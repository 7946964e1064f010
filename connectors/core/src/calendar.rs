//! Proleptic Gregorian dates as day counts since 1970-01-01, and back (H. Hinnant's
//! algorithms), for the temporal types and the timestamps written as text.

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (i64::from(month) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date of a day count since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// 1582-10-15, the first day of the Gregorian calendar: Java's `Date` and
/// `SimpleDateFormat` (a `GregorianCalendar`) count the days before it in the Julian
/// calendar.
pub const GREGORIAN_CUTOVER: i64 = -141_427;

/// The Julian calendar date (astronomical year) of a day count since 1970-01-01.
pub fn julian_from_days(days: i64) -> (i64, u32, u32) {
    let c = days + 2_440_588 + 32_082;
    let d = (4 * c + 3).div_euclid(1461);
    let e = c - (1461 * d).div_euclid(4);
    let m = (5 * e + 2).div_euclid(153);
    let day = (e - (153 * m + 2).div_euclid(5) + 1) as u32;
    let month = (m + 3 - 12 * m.div_euclid(10)) as u32;
    (d - 4800 + m.div_euclid(10), month, day)
}

/// Days since 1970-01-01 of a Julian calendar date (astronomical year).
pub fn days_from_julian(year: i64, month: u32, day: u32) -> i64 {
    let a = (14 - i64::from(month)) / 12;
    let y = year + 4800 - a;
    let m = i64::from(month) + 12 * a - 3;
    i64::from(day) + (153 * m + 2) / 5 + 365 * y + y.div_euclid(4) - 32_083 - 2_440_588
}

/// The date Java's `GregorianCalendar` gives a day count: Julian before the cutover,
/// Gregorian from it (astronomical year: 1 BC is 0).
pub fn java_date_from_days(days: i64) -> (i64, u32, u32) {
    if days < GREGORIAN_CUTOVER {
        julian_from_days(days)
    } else {
        civil_from_days(days)
    }
}

/// The day count of a date as Java's `GregorianCalendar` reads it (Julian before the
/// cutover).
pub fn java_days_from_date(year: i64, month: u32, day: u32) -> i64 {
    let gregorian = days_from_civil(year, month, day);
    if gregorian < GREGORIAN_CUTOVER {
        days_from_julian(year, month, day)
    } else {
        gregorian
    }
}

/// A millisecond timestamp as `yyyy-MM-dd'T'HH:mm:ss.SSS'Z'` in UTC (Java's
/// `SimpleDateFormat("yyyy-MM-dd'T'HH:mm:ss.SSSXXX")` with the UTC zone).
pub fn iso_millis_utc(ms: i64) -> String {
    let (days, ms_of_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (y, m, d) = civil_from_days(days);
    let (h, rest) = (ms_of_day / 3_600_000, ms_of_day % 3_600_000);
    let (min, rest) = (rest / 60_000, rest % 60_000);
    format!(
        "{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{:02}.{:03}Z",
        rest / 1000,
        rest % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_print_as_java_prints_them_in_utc() {
        assert_eq!(iso_millis_utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            iso_millis_utc(1_764_762_000_123),
            "2025-12-03T11:40:00.123Z"
        );
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(11_017), (2000, 3, 1));
    }

    #[test]
    fn java_dates_are_julian_before_the_cutover() {
        assert_eq!(java_date_from_days(GREGORIAN_CUTOVER), (1582, 10, 15));
        assert_eq!(java_date_from_days(GREGORIAN_CUTOVER - 1), (1582, 10, 4));
        assert_eq!(java_days_from_date(1582, 10, 4), GREGORIAN_CUTOVER - 1);
        // 1 January of 1 BC (year 0), Julian: two days before the Gregorian one (the
        // Julian calendar's dates ran two days behind then).
        let d = java_days_from_date(0, 1, 1);
        assert_eq!(d, days_from_civil(0, 1, 1) - 2);
        for days in [-800_000, -141_428, -1, 0, 19_000] {
            let (y, m, dd) = java_date_from_days(days);
            assert_eq!(java_days_from_date(y, m, dd), days, "{days}");
        }
    }
}
