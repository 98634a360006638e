//! When to try again: exponential backoff with full jitter, unless the
//! receiver said when (`Retry-After`).
//!
//! The n-th retry (after n failed attempts) waits a uniformly random time in
//! `[0, min(cap, base × 2^(n−1))]` — "full jitter" (AWS Architecture Blog,
//! "Exponential Backoff And Jitter"): receivers coming back after an outage
//! are not hit by every sender at the same instant. With the defaults (base
//! 2 s, cap 15 min) the bounds run 2, 4, 8 … 512 s, then 15 min each.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// A receiver cannot park an event for longer than this with `Retry-After`.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60 * 60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Backoff {
    /// The wait before the next attempt after `failures` failed attempts (≥ 1).
    pub fn delay(&self, failures: u32) -> Duration {
        let bound = retry_delay_bound(failures, self.base, self.cap);
        let ms = u64::try_from(bound.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(fastrand::u64(0..=ms))
    }
}

/// The upper bound of the wait after `failures` failed attempts:
/// `min(cap, base × 2^(failures−1))`.
pub fn retry_delay_bound(failures: u32, base: Duration, cap: Duration) -> Duration {
    let exponent = failures.saturating_sub(1).min(31);
    base.saturating_mul(1u32 << exponent).min(cap)
}

/// Reads a `Retry-After` value: delay-seconds or an HTTP-date (IMF-fixdate,
/// e.g. `Wed, 21 Oct 2015 07:28:00 GMT`). A date in the past means "now";
/// the obsolete RFC 850 and asctime date forms are not understood (the
/// ordinary backoff applies). Capped at [`MAX_RETRY_AFTER`].
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    let delay = if let Ok(seconds) = value.parse::<u64>() {
        Duration::from_secs(seconds)
    } else {
        let at = DateTime::parse_from_rfc2822(value).ok()?;
        (at.with_timezone(&Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO)
    };
    Some(delay.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn bounds_double_up_to_the_cap() {
        let base = Duration::from_secs(2);
        let cap = Duration::from_secs(900);
        let bounds: Vec<u64> = (1..=12)
            .map(|n| retry_delay_bound(n, base, cap).as_secs())
            .collect();
        assert_eq!(bounds, [2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900]);
        assert_eq!(retry_delay_bound(u32::MAX, base, cap), cap);
    }

    #[test]
    fn delays_stay_within_their_bound_and_spread_out() {
        let b = Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
        };
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..500 {
            let d = b.delay(3);
            assert!(d <= Duration::from_millis(400), "{d:?}");
            seen.insert(d.as_millis() / 50);
        }
        assert!(seen.len() >= 6, "jitter covers the range: {seen:?}");
        assert!(b.delay(30) <= Duration::from_secs(1));
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = Utc
            .with_ymd_and_hms(2015, 10, 21, 7, 27, 0)
            .single()
            .expect("time");
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("999999", now), Some(MAX_RETRY_AFTER));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }
}
