//! Per-user limits: the values as people write them (`--quota 10GiB`, `--rate 10MiB/s`,
//! `--expires 2027-01-31`, `none` to clear one), and the pacer that holds one user's `rate`
//! across all their sessions ([`SharedPacer`]; what sessions share is in
//! [`crate::user_shared`]).
//!
//! It never reads a clock but tokio's and the system's date, opens no file and never blocks.

use std::sync::Mutex;
use std::time::Duration;

use ftp_proto::units::{exact_bytes, parse_bytes};
use tokio::time::Instant;

/// The limits of one account, each optional (`None`: unlimited).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Bytes the user may store, unfinished uploads included.
    pub quota: Option<u64>,
    /// Files (and links) the user may store.
    pub max_files: Option<u64>,
    /// Bytes per second across all the user's sessions, each way.
    pub rate: Option<u64>,
    /// Sessions the user may have open at once.
    pub max_sessions: Option<u32>,
}

impl Limits {
    /// Whether uploads must be checked against the stored usage.
    pub fn counts_usage(&self) -> bool {
        self.quota.is_some() || self.max_files.is_some()
    }
}

/// The largest size or rate accepted: what the users file (TOML integers) can hold.
const MAX_VALUE: u64 = i64::MAX as u64;

/// A value given to `--quota`, `--rate` and the like: a new value, or `none` to clear it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting<T> {
    /// Set the limit to this.
    Set(T),
    /// Remove the limit.
    Clear,
}

impl<T> Setting<T> {
    /// The value to store: `None` when cleared.
    pub fn value(self) -> Option<T> {
        match self {
            Setting::Set(value) => Some(value),
            Setting::Clear => None,
        }
    }
}

/// Whether `text` clears a limit (`none`, `unlimited`, `off`).
fn is_none(text: &str) -> bool {
    matches!(
        text.trim().to_ascii_lowercase().as_str(),
        "none" | "unlimited" | "off"
    )
}

/// Parses a `--quota` SIZE: `10GiB`, `500M`, `1.5T`, `123456` (binary multiples), or `none`.
pub fn parse_size(text: &str) -> Result<Setting<u64>, String> {
    if is_none(text) {
        return Ok(Setting::Clear);
    }
    let bytes = parse_bytes(text)?;
    if bytes > MAX_VALUE {
        return Err(format!("{text:?} is too large"));
    }
    Ok(Setting::Set(bytes))
}

/// Parses a `--rate` RATE: `10MiB/s`, `10M`, `500K/s` (bytes per second, above 0), or `none`.
pub fn parse_rate(text: &str) -> Result<Setting<u64>, String> {
    if is_none(text) {
        return Ok(Setting::Clear);
    }
    let trimmed = text.trim();
    let lower = trimmed.to_ascii_lowercase();
    let number = lower
        .strip_suffix("/s")
        .or_else(|| lower.strip_suffix("ps"))
        .unwrap_or(&lower);
    let rate = parse_bytes(number)
        .map_err(|_| format!("{trimmed:?} is not a rate such as 500K, 10M or 10MiB/s"))?;
    if rate == 0 {
        return Err(format!(
            "{trimmed:?}: the rate must be above 0 (`none` removes the limit)"
        ));
    }
    if rate > MAX_VALUE {
        return Err(format!("{trimmed:?} is too large"));
    }
    Ok(Setting::Set(rate))
}

/// Parses a count (`--max-files`, `--max-sessions`), or `none`.
pub fn parse_count(text: &str) -> Result<Setting<u64>, String> {
    if is_none(text) {
        return Ok(Setting::Clear);
    }
    let count: u64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a whole number (or `none`)"))?;
    if count > MAX_VALUE {
        return Err(format!("{text:?} is too large"));
    }
    Ok(Setting::Set(count))
}

/// Parses a session count (`--max-sessions`, at least 1), or `none`.
pub fn parse_sessions(text: &str) -> Result<Setting<u32>, String> {
    match parse_count(text)? {
        Setting::Clear => Ok(Setting::Clear),
        Setting::Set(0) => Err(format!(
            "{text:?}: at least one session (remove the user to refuse them all)"
        )),
        Setting::Set(count) => u32::try_from(count)
            .map(Setting::Set)
            .map_err(|_| format!("{text:?} is too large")),
    }
}

/// Parses an `--expires` DATE, `YYYY-MM-DD` (the account is refused from the start of that
/// day, UTC), or `none`; the date is returned as written, checked.
pub fn parse_expiry(text: &str) -> Result<Setting<String>, String> {
    if is_none(text) {
        return Ok(Setting::Clear);
    }
    let trimmed = text.trim();
    date_days(trimmed)?;
    Ok(Setting::Set(trimmed.to_owned()))
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date (a real date of the proleptic Gregorian
/// calendar, years 1970 to 9999).
pub fn date_days(text: &str) -> Result<i64, String> {
    let bad = || format!("{text:?} is not a date such as 2027-01-31 (YYYY-MM-DD)");
    let parts: Vec<&str> = text.split('-').collect();
    let [year, month, day] = parts.as_slice() else {
        return Err(bad());
    };
    if year.len() != 4 || month.len() != 2 || day.len() != 2 {
        return Err(bad());
    }
    let digits = |part: &str| -> Result<i64, String> {
        if part.bytes().all(|b| b.is_ascii_digit()) {
            part.parse().map_err(|_| bad())
        } else {
            Err(bad())
        }
    };
    let (year, month, day) = (digits(year)?, digits(month)?, digits(day)?);
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err(bad()),
    };
    if year < 1970 || day < 1 || day > month_days {
        return Err(bad());
    }
    Ok(days_from_civil(year, month, day))
}

/// Days since the epoch of a civil date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Today, in days since 1970-01-01 (UTC).
pub fn today() -> i64 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    (secs / 86_400) as i64
}

/// Whether an account with `expires` (`YYYY-MM-DD`) is expired on day `today`. A date that
/// cannot be read counts as expired: the account is refused rather than let in for ever.
pub fn is_expired(expires: &str, today: i64) -> bool {
    date_days(expires).ok().is_none_or(|day| today >= day)
}

/// A rate for people: `10 MiB/s`.
pub fn shown_rate(rate: u64) -> String {
    format!("{}/s", exact_bytes(rate))
}

/// A size for people, to one decimal in its largest binary unit: `9.5 GiB`, `512 B`.
pub fn shown_size(bytes: u64) -> String {
    ftp_proto::units::approx_bytes(bytes)
}

/// Paces what one user moves one way, across all their sessions: each chunk reserves its share
/// of time after those reserved before it, so sessions together never go faster than the rate.
#[derive(Debug)]
pub struct SharedPacer {
    /// When the next chunk may go.
    next: Mutex<Instant>,
}

impl Default for SharedPacer {
    fn default() -> Self {
        SharedPacer {
            next: Mutex::new(Instant::now()),
        }
    }
}

/// Time the rate may run ahead of the clock: a burst of this much (at the rate) goes at once
/// after the user was idle, so chunks are not held back by rounding.
const PACER_BURST: Duration = Duration::from_millis(100);

impl SharedPacer {
    /// Waits until `bytes` may go at `rate` bytes per second, counting everything this user
    /// moved this way; how long it waited.
    pub async fn take(&self, bytes: u64, rate: u64) -> Duration {
        let now = Instant::now();
        let start = {
            let Ok(mut next) = self.next.lock() else {
                return Duration::ZERO;
            };
            let earliest = now.checked_sub(PACER_BURST).unwrap_or(now);
            let start = (*next).max(earliest);
            *next = start + Duration::from_secs_f64(bytes as f64 / rate.max(1) as f64);
            start
        };
        if start > now {
            tokio::time::sleep_until(start).await;
            start - now
        } else {
            Duration::ZERO
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn sizes_rates_counts_and_none() {
        assert_eq!(parse_size("10GiB"), Ok(Setting::Set(10 << 30)));
        assert_eq!(parse_size("500M"), Ok(Setting::Set(500 << 20)));
        assert_eq!(parse_size("0"), Ok(Setting::Set(0)));
        assert_eq!(parse_size("none"), Ok(Setting::Clear));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("9000000T").is_err());
        assert_eq!(parse_rate("10MiB/s"), Ok(Setting::Set(10 << 20)));
        assert_eq!(parse_rate("10M"), Ok(Setting::Set(10 << 20)));
        assert_eq!(parse_rate("500k/s"), Ok(Setting::Set(500 << 10)));
        assert_eq!(parse_rate("None"), Ok(Setting::Clear));
        assert!(parse_rate("0").is_err());
        assert!(parse_rate("fast").is_err());
        assert_eq!(parse_count("12"), Ok(Setting::Set(12)));
        assert!(parse_count("-1").is_err());
        assert!(parse_count("1.5").is_err());
        assert_eq!(parse_sessions("2"), Ok(Setting::Set(2)));
        assert!(parse_sessions("0").is_err());
        assert_eq!(parse_sessions("unlimited"), Ok(Setting::Clear));
    }

    #[test]
    fn dates_and_expiry() {
        assert_eq!(date_days("1970-01-01"), Ok(0));
        assert_eq!(date_days("1970-01-02"), Ok(1));
        assert_eq!(date_days("2000-03-01"), Ok(11_017));
        assert_eq!(date_days("2024-02-29"), Ok(19_782));
        assert_eq!(date_days("2027-01-31"), Ok(20_849));
        for bad in [
            "",
            "2027-1-31",
            "2027-02-29",
            "2023-13-01",
            "2027-00-10",
            "27-01-31",
            "2027/01/31",
            "1969-12-31",
            "2027-01-32",
            "+027-01-31",
        ] {
            assert!(date_days(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            parse_expiry(" 2027-01-31 "),
            Ok(Setting::Set("2027-01-31".into()))
        );
        assert_eq!(parse_expiry("none"), Ok(Setting::Clear));
        let day = date_days("2027-01-31").unwrap();
        assert!(!is_expired("2027-01-31", day - 1));
        assert!(is_expired("2027-01-31", day));
        assert!(is_expired("garbage", 0));
        assert!(today() > date_days("2026-01-01").unwrap());
    }

    #[test]
    fn sizes_for_people() {
        assert_eq!(shown_size(512), "512 B");
        assert_eq!(shown_size(10 << 30), "10 GiB");
        assert_eq!(shown_size((19 << 30) / 2), "9.5 GiB");
        assert_eq!(shown_size(1_288_490_189), "1.2 GiB");
        assert_eq!(shown_rate(10 << 20), "10 MiB/s");
    }

    #[tokio::test(start_paused = true)]
    async fn a_shared_pacer_holds_the_rate_across_takers() {
        let pacer = Arc::new(SharedPacer::default());
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..2 {
            let pacer = Arc::clone(&pacer);
            tasks.push(tokio::spawn(async move {
                for _ in 0..10 {
                    pacer.take(100, 1000).await;
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        // 2000 bytes at 1000 B/s: the last chunk may start after 1.9 s, less the burst.
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_millis(1800), "{elapsed:?}");
        assert!(elapsed <= Duration::from_millis(1900), "{elapsed:?}");
    }
}
