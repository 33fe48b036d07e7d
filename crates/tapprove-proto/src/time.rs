use std::cmp::Ordering;
use std::fmt;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::TIME_ERROR;

/// An RFC 3339 timestamp in UTC (`2026-11-21T10:03:12Z`, fractional seconds
/// allowed, as Step Functions writes them; the UTC offset may also be
/// written `+00:00`, as some emulators and libraries do).
///
/// The original text is kept, because statements are hashed as they were
/// written: re-formatting `10:03:12.000Z` as `10:03:12Z` would change the
/// challenge. Comparison uses the instant, not the text. Only the `Z` suffix
/// or `+00:00` is accepted (the protocol's times are UTC; RFC 3339's `-00:00`
/// means "offset unknown" and is refused); leap seconds are refused.
#[derive(Clone, Eq)]
pub struct UtcTime {
    text: String,
    seconds: i64,
    nanos: u32,
}

impl UtcTime {
    /// Parses RFC 3339 UTC text (`YYYY-MM-DDTHH:MM:SS[.fraction]Z`).
    pub fn parse(text: &str) -> Result<Self, String> {
        parse(text).ok_or_else(|| {
            format!(
                "{TIME_ERROR}: `{}`; write it as 2026-11-21T10:03:12Z",
                truncate(text)
            )
        })
    }

    /// The instant `seconds` after the Unix epoch, written without fraction.
    ///
    /// # Panics
    /// Never for years 0 to 9999; outside that range the year is clamped.
    pub fn from_unix(seconds: i64) -> Self {
        let days = seconds.div_euclid(86_400);
        let secs_of_day = seconds.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let y = y.clamp(0, 9999);
        let text = format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            secs_of_day / 3600,
            secs_of_day / 60 % 60,
            secs_of_day % 60
        );
        Self {
            text,
            seconds,
            nanos: 0,
        }
    }

    /// The system clock, to the millisecond (so events within one second
    /// keep their order, and every time written is in one form).
    pub fn now() -> Self {
        Self::at(std::time::SystemTime::now())
    }

    /// `time` to the millisecond (times before 1970 read as the epoch).
    pub fn at(time: std::time::SystemTime) -> Self {
        let since = time.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        Self::from_unix_millis(
            i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
            since.subsec_millis(),
        )
    }

    /// The instant `seconds` and `millis` after the Unix epoch, written with
    /// milliseconds (`…T10:03:12.250Z`), as Step Functions writes times.
    pub fn from_unix_millis(seconds: i64, millis: u32) -> Self {
        let millis = millis.min(999);
        let whole = Self::from_unix(seconds);
        let text = format!("{}.{millis:03}Z", whole.text.trim_end_matches('Z'));
        Self {
            text,
            seconds,
            nanos: millis * 1_000_000,
        }
    }

    /// Seconds since the Unix epoch (the fraction is dropped).
    pub fn unix_seconds(&self) -> i64 {
        self.seconds
    }

    /// Nanoseconds past [`Self::unix_seconds`].
    pub fn subsec_nanos(&self) -> u32 {
        self.nanos
    }

    /// The text this time was parsed from (or formatted as).
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

fn truncate(text: &str) -> String {
    text.chars().take(40).collect()
}

fn parse(text: &str) -> Option<UtcTime> {
    let b = text.as_bytes();
    if b.len() < 20 || b.len() > 45 {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(range)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(part.iter().fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0')))
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let rest = &b[19..];
    let (fraction, zone) = match rest.first()? {
        b'.' => {
            let digits = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
            if digits == 0 || digits > 9 {
                return None;
            }
            (&rest[1..1 + digits], &rest[1 + digits..])
        }
        _ => (&rest[..0], rest),
    };
    if zone != b"Z" && zone != b"+00:00" {
        return None;
    }
    let nanos = fraction
        .iter()
        .chain(std::iter::repeat(&b'0'))
        .take(9)
        .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
    let days = days_from_civil(year, month, day);
    Some(UtcTime {
        text: text.to_owned(),
        seconds: days * 86_400 + hour * 3600 + minute * 60 + second,
        nanos,
    })
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's `days_from_civil` and `civil_from_days`
// (http://howardhinnant.github.io/date_algorithms.html), proleptic Gregorian.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

impl PartialEq for UtcTime {
    fn eq(&self, other: &Self) -> bool {
        (self.seconds, self.nanos) == (other.seconds, other.nanos)
    }
}

impl PartialOrd for UtcTime {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for UtcTime {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.seconds, self.nanos).cmp(&(other.seconds, other.nanos))
    }
}

impl fmt::Debug for UtcTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UtcTime({})", self.text)
    }
}

impl fmt::Display for UtcTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for UtcTime {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for UtcTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for UtcTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_utc_with_and_without_fraction() {
        let t = UtcTime::parse("2026-11-21T10:03:12Z").unwrap();
        assert_eq!(t.unix_seconds(), 1_795_255_392);
        let f = UtcTime::parse("2026-11-21T10:03:12.250Z").unwrap();
        assert_eq!(f.unix_seconds(), t.unix_seconds());
        assert_eq!(f.subsec_nanos(), 250_000_000);
        assert!(f > t);
        assert_eq!(f.as_str(), "2026-11-21T10:03:12.250Z");
        assert_eq!(UtcTime::parse("1970-01-01T00:00:00Z").unwrap().unix_seconds(), 0);
        let offset = UtcTime::parse("2026-11-21T10:03:12.438960+00:00").unwrap();
        assert_eq!(
            (offset.unix_seconds(), offset.subsec_nanos()),
            (t.unix_seconds(), 438_960_000)
        );
        assert_eq!(offset.as_str(), "2026-11-21T10:03:12.438960+00:00");
        assert_eq!(
            UtcTime::parse("2024-02-29T23:59:59Z").unwrap().unix_seconds(),
            1_709_251_199
        );
    }

    #[test]
    fn refuses_what_is_not_rfc3339_utc() {
        for bad in [
            "2026-11-21T10:03:12",
            "2026-11-21T10:03:12+01:00",
            "2026-11-21T10:03:12-00:00",
            "2026-11-21 10:03:12Z",
            "2026-11-21t10:03:12z",
            "2026-02-30T10:03:12Z",
            "2025-02-29T10:03:12Z",
            "2026-13-01T10:03:12Z",
            "2026-11-21T24:00:00Z",
            "2026-11-21T23:59:60Z",
            "2026-11-21T10:03:12.Z",
            "2026-11-21T10:03:12.1234567890Z",
            "+2026-11-21T10:03:12Z",
            "",
        ] {
            assert!(UtcTime::parse(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn formats_unix_seconds_round_trip() {
        for secs in [0, 951_782_400, 1_709_251_199, 1_795_255_392, 4_102_444_800] {
            let t = UtcTime::from_unix(secs);
            assert_eq!(UtcTime::parse(t.as_str()).unwrap().unix_seconds(), secs, "{t}");
        }
        assert_eq!(UtcTime::from_unix(1_795_255_392).as_str(), "2026-11-21T10:03:12Z");
        let m = UtcTime::from_unix_millis(1_795_255_392, 7);
        assert_eq!(m.as_str(), "2026-11-21T10:03:12.007Z");
        assert_eq!(UtcTime::parse(m.as_str()).unwrap(), m);
    }
}

/// Where the time of day comes from. The engine and the app read wall-clock
/// time only through one `Clock`, so a test can set it; monotonic waits
/// (timeouts, backoff) use `Instant` and Tokio's timers.
pub trait Clock: Send + Sync + fmt::Debug {
    fn now(&self) -> std::time::SystemTime;

    /// [`Clock::now`] as the protocol's time, to the millisecond.
    fn utc(&self) -> UtcTime {
        UtcTime::at(self.now())
    }
}

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> std::time::SystemTime {
        std::time::SystemTime::now()
    }
}
