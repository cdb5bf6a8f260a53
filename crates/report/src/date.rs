//! A calendar date (UTC), for exception expiry. The crate never reads the clock: callers pass
//! "today" in, for example with [`Date::from_unix_seconds`].

use serde::{Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A valid proleptic Gregorian date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: i32,
    month: u8,
    day: u8,
}

fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

impl Date {
    /// The date, if it exists (`2026-02-29` does not).
    pub fn from_ymd(year: i32, month: u8, day: u8) -> Option<Date> {
        (day >= 1 && day <= days_in_month(year, month)).then_some(Date { year, month, day })
    }

    /// The UTC date `days` days after 1970-01-01 (negative before it).
    pub fn from_unix_days(days: i64) -> Date {
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Date { year, month, day }
    }

    /// The UTC date of a Unix timestamp in seconds.
    ///
    /// ```
    /// use aksid_report::Date;
    /// assert_eq!(Date::from_unix_seconds(1_767_225_599).to_string(), "2025-12-31");
    /// ```
    pub fn from_unix_seconds(seconds: i64) -> Date {
        Date::from_unix_days(seconds.div_euclid(86_400))
    }

    /// The year.
    pub fn year(self) -> i32 {
        self.year
    }

    /// The month, 1–12.
    pub fn month(self) -> u8 {
        self.month
    }

    /// The day of the month, 1–31.
    pub fn day(self) -> u8 {
        self.day
    }
}

/// Why a date did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a date in the form YYYY-MM-DD (for example 2026-12-31)")]
pub struct ParseDateError(pub String);

impl FromStr for Date {
    type Err = ParseDateError;

    /// `YYYY-MM-DD`.
    fn from_str(s: &str) -> Result<Date, ParseDateError> {
        let err = || ParseDateError(s.to_owned());
        let mut parts = s.trim().splitn(3, '-');
        let (y, m, d) = (parts.next(), parts.next(), parts.next());
        let (Some(y), Some(m), Some(d)) = (y, m, d) else {
            return Err(err());
        };
        if y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return Err(err());
        }
        let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
        if !digits(y) || !digits(m) || !digits(d) {
            return Err(err());
        }
        Date::from_ymd(
            y.parse().map_err(|_| err())?,
            m.parse().map_err(|_| err())?,
            d.parse().map_err(|_| err())?,
        )
        .ok_or_else(err)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_print() {
        let d: Date = "2026-12-31".parse().unwrap();
        assert_eq!((d.year(), d.month(), d.day()), (2026, 12, 31));
        assert_eq!(d.to_string(), "2026-12-31");
        assert!("2026-02-29".parse::<Date>().is_err());
        assert!("2024-02-29".parse::<Date>().is_ok());
        for bad in [
            "2026-1-31",
            "26-01-31",
            "2026/01/31",
            "2026-13-01",
            "tomorrow",
            "",
            "2026-01-3x",
        ] {
            assert!(bad.parse::<Date>().is_err(), "{bad}");
        }
    }

    #[test]
    fn unix_days() {
        assert_eq!(Date::from_unix_days(0).to_string(), "1970-01-01");
        assert_eq!(Date::from_unix_days(-1).to_string(), "1969-12-31");
        assert_eq!(Date::from_unix_days(19_782).to_string(), "2024-02-29");
        assert_eq!(
            Date::from_unix_seconds(1_798_761_600).to_string(),
            "2027-01-01"
        );
        assert!(Date::from_ymd(2026, 1, 31).unwrap() < Date::from_ymd(2026, 2, 1).unwrap());
    }
}
