//! When a schedule fires: standard 5-field cron (and `@daily`-style
//! presets) in an IANA time zone.
//!
//! The `cron` crate does the calendar arithmetic; this module gives it the
//! semantics people know from cron(8), which the crate alone does not have:
//! - 5 fields (`minute hour day-of-month month day-of-week`, Sunday = 0 or 7),
//!   validated with errors that name the bad field;
//! - when both day-of-month and day-of-week are restricted, a day matching
//!   *either* fires (the crate would require both);
//! - daylight-saving changes, for schedules at fixed hours: a time skipped
//!   when clocks spring forward runs as if the clocks had not changed yet
//!   (02:30 → 03:30 summer time) instead of not at all, and a time that
//!   happens twice when clocks fall back runs once, at its first occurrence.
//!   Schedules whose hour field is `*` or a step (`*/2`) follow real
//!   elapsed time instead, so an hourly backup runs every real hour.

use std::str::FromStr;

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::error::{CoreError, Result};

/// The zone name meaning "this computer's time zone".
pub const LOCAL_ZONE: &str = "local";

#[derive(Debug, Clone)]
pub struct CronSchedule {
    expression: String,
    fields: [String; 5],
    zone: Tz,
    /// Evaluated as alternatives (OR); one entry unless both day fields are
    /// restricted.
    schedules: Vec<cron::Schedule>,
    follows_real_time: bool,
}

struct FieldSpec {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const FIELDS: [FieldSpec; 5] = [
    FieldSpec {
        name: "minute",
        min: 0,
        max: 59,
        names: &[],
    },
    FieldSpec {
        name: "hour",
        min: 0,
        max: 23,
        names: &[],
    },
    FieldSpec {
        name: "day-of-month",
        min: 1,
        max: 31,
        names: &[],
    },
    FieldSpec {
        name: "month",
        min: 1,
        max: 12,
        names: &[
            "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
        ],
    },
    FieldSpec {
        name: "day-of-week",
        min: 0,
        max: 7,
        names: &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
    },
];

const DAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
const DAY_WORDS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const MONTH_WORDS: [&str; 12] = [
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

fn preset(expression: &str) -> Option<&'static str> {
    Some(match expression.to_ascii_lowercase().as_str() {
        "@hourly" => "0 * * * *",
        "@daily" | "@midnight" => "0 0 * * *",
        "@weekly" => "0 0 * * 0",
        "@monthly" => "0 0 1 * *",
        "@yearly" | "@annually" => "0 0 1 1 *",
        _ => return None,
    })
}

fn invalid(message: String) -> CoreError {
    CoreError::invalid("cron", message)
}

/// A value in a field: a number, or a name where the field has names.
fn parse_value(spec: &FieldSpec, raw: &str) -> Result<u32> {
    let upper = raw.to_ascii_uppercase();
    if let Some(i) = spec.names.iter().position(|n| *n == upper) {
        let offset = if spec.name == "month" { 1 } else { 0 };
        return Ok(i as u32 + offset);
    }
    let n: u32 = raw.parse().map_err(|_| {
        invalid(format!(
            "the {} field has \"{raw}\", which is not a number{}",
            spec.name,
            if spec.names.is_empty() {
                String::new()
            } else {
                format!(" or a name like {}", spec.names[0])
            }
        ))
    })?;
    if n < spec.min || n > spec.max {
        return Err(invalid(format!(
            "the {} field has {n}, out of range ({}–{})",
            spec.name, spec.min, spec.max
        )));
    }
    Ok(n)
}

/// Checks one field and returns it in the `cron` crate's dialect (day-of-
/// week numbers become names, since the crate counts Sunday as 1).
fn translate_field(spec: &FieldSpec, field: &str) -> Result<String> {
    let mut items = Vec::new();
    for item in field.split(',') {
        if item.is_empty() {
            return Err(invalid(format!(
                "the {} field \"{field}\" has an empty list item",
                spec.name
            )));
        }
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => {
                let step: u32 = s.parse().ok().filter(|s| *s >= 1).ok_or_else(|| {
                    invalid(format!(
                        "the {} field has step \"{s}\"; a step is a whole number from 1",
                        spec.name
                    ))
                })?;
                (r, Some(step))
            }
            None => (item, None),
        };
        let range_text = if range == "*" {
            "*".to_owned()
        } else {
            let (a, b) = match range.split_once('-') {
                Some((a, b)) => (parse_value(spec, a)?, Some(parse_value(spec, b)?)),
                None => (parse_value(spec, range)?, None),
            };
            if let Some(b) = b
                && b < a
            {
                return Err(invalid(format!(
                    "the {} field has the range \"{range}\", which runs backwards",
                    spec.name
                )));
            }
            let show = |v: u32| {
                if spec.name == "day-of-week" {
                    DAY_NAMES[(v % 7) as usize].to_owned()
                } else {
                    v.to_string()
                }
            };
            match b {
                // 5-7 (Friday to Sunday-as-7) cannot be written with names; split it.
                Some(7) if spec.name == "day-of-week" && a > 0 => format!("{}-SAT,SUN", show(a)),
                Some(b) => format!("{}-{}", show(a), show(b)),
                None => show(a),
            }
        };
        if step.is_some() && range_text.contains(',') {
            return Err(invalid(format!(
                "the {} field cannot step over a range that ends on 7; use 0",
                spec.name
            )));
        }
        items.push(match step {
            Some(s) => format!("{range_text}/{s}"),
            None => range_text,
        });
    }
    Ok(items.join(","))
}

impl CronSchedule {
    /// `zone` is an IANA name (`Europe/Paris`) or `local`.
    pub fn parse(expression: &str, zone: &str) -> Result<CronSchedule> {
        let zone = parse_zone(zone)?;
        let trimmed = expression.trim();
        let standard = preset(trimmed).unwrap_or(trimmed);
        if standard.starts_with('@') {
            return Err(invalid(format!(
                "\"{trimmed}\" is not a known preset (use @hourly, @daily, @weekly, @monthly or @yearly)"
            )));
        }
        let parts: Vec<&str> = standard.split_whitespace().collect();
        let fields: [String; 5] = match parts.as_slice() {
            [a, b, c, d, e] => [a, b, c, d, e].map(|s| (*s).to_owned()),
            _ => {
                return Err(invalid(format!(
                    "\"{trimmed}\" has {} fields; a cron expression has 5: minute hour day-of-month month day-of-week",
                    parts.len()
                )));
            }
        };
        let translated: Vec<String> = FIELDS
            .iter()
            .zip(&fields)
            .map(|(spec, field)| translate_field(spec, field))
            .collect::<Result<_>>()?;
        let [min, hour, dom, mon, dow] = [0, 1, 2, 3, 4].map(|i| translated[i].as_str());
        // cron(8): with both day fields restricted, either one matching fires.
        let variants = if dom != "*" && dow != "*" {
            vec![
                format!("0 {min} {hour} {dom} {mon} *"),
                format!("0 {min} {hour} * {mon} {dow}"),
            ]
        } else {
            vec![format!("0 {min} {hour} {dom} {mon} {dow}")]
        };
        let schedules = variants
            .iter()
            .map(|v| {
                cron::Schedule::from_str(v)
                    .map_err(|e| invalid(format!("\"{trimmed}\" is not a valid schedule: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        let follows_real_time = fields[1] == "*" || fields[1].starts_with("*/");
        let parsed = CronSchedule {
            expression: trimmed.to_owned(),
            fields,
            zone,
            schedules,
            follows_real_time,
        };
        // "0 0 30 2 *" parses but never fires; say so now, not never.
        if parsed.next_after(Utc::now()).is_none() {
            return Err(invalid(format!("\"{trimmed}\" never fires (no such date)")));
        }
        Ok(parsed)
    }

    pub fn expression(&self) -> &str {
        &self.expression
    }

    pub fn zone(&self) -> Tz {
        self.zone
    }

    /// The first fire time strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.follows_real_time {
            return self.next_in_real_time(after);
        }
        // Fixed-hour schedules are evaluated on the wall clock, then placed
        // on the time line with the DST rules in the module docs.
        let wall = after.with_timezone(&self.zone).naive_local();
        let mut from = Utc.from_utc_datetime(&(wall - chrono::Duration::hours(3)));
        for _ in 0..8 {
            let candidate = self
                .schedules
                .iter()
                .filter_map(|s| s.after(&from).next())
                .min()?;
            let instant = self.place(candidate.naive_utc());
            if instant > after {
                return Some(instant);
            }
            from = candidate;
        }
        None
    }

    /// Every instant whose wall-clock time matches fires, so a repeated
    /// hour fires twice and a skipped one not at all. The crate evaluates in
    /// one offset at a time: we use the offset in force and, when the
    /// candidate lies past a transition, restart from the transition.
    fn next_in_real_time(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let offset_at = |t: DateTime<Utc>| {
            chrono::Offset::fix(&self.zone.offset_from_utc_datetime(&t.naive_utc()))
        };
        let mut from = after;
        let mut offset = offset_at(after);
        // Each pass crosses one transition; a few cover any real zone.
        for _ in 0..8 {
            let local = from.with_timezone(&offset);
            let candidate = self
                .schedules
                .iter()
                .filter_map(|s| s.after(&local).next())
                .min()?
                .with_timezone(&Utc);
            if offset_at(candidate) == offset {
                return Some(candidate);
            }
            // Binary search for the first second with the new offset.
            let (mut lo, mut hi) = (from, candidate);
            while hi - lo > chrono::Duration::seconds(1) {
                let mid = lo + (hi - lo) / 2;
                if offset_at(mid) == offset {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            offset = offset_at(hi);
            from = hi - chrono::Duration::seconds(1);
        }
        None
    }

    /// The next `n` fire times after `after`.
    pub fn upcoming(&self, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        let mut out = Vec::with_capacity(n);
        let mut t = after;
        while out.len() < n {
            match self.next_after(t) {
                Some(next) => {
                    out.push(next);
                    t = next;
                }
                None => break,
            }
        }
        out
    }

    fn place(&self, wall: NaiveDateTime) -> DateTime<Utc> {
        match self.zone.from_local_datetime(&wall) {
            LocalResult::Single(t) => t.with_timezone(&Utc),
            LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
            LocalResult::None => {
                // In a spring-forward gap: use the offset in force before it.
                let before = self
                    .zone
                    .offset_from_utc_datetime(&(wall - chrono::Duration::hours(3)));
                let offset = chrono::Offset::fix(&before);
                Utc.from_utc_datetime(
                    &(wall - chrono::Duration::seconds(i64::from(offset.local_minus_utc()))),
                )
            }
        }
    }

    /// A sentence a person can check the schedule against, e.g. "At 02:00,
    /// Monday through Friday".
    pub fn describe(&self) -> String {
        let [min, hour, dom, mon, dow] = self.fields.each_ref().map(String::as_str);
        let time = match (min.parse::<u32>(), hour.parse::<u32>()) {
            (Ok(m), Ok(h)) => format!("At {h:02}:{m:02}"),
            (Ok(m), Err(_)) if hour == "*" => format!("At minute {m} of every hour"),
            (Ok(m), Err(_)) if hour.starts_with("*/") => {
                format!("At minute {m} of every {} hours", &hour[2..])
            }
            (Err(_), _) if min == "*" && hour == "*" => "Every minute".to_owned(),
            (Err(_), _) if min.starts_with("*/") && hour == "*" => {
                format!("Every {} minutes", &min[2..])
            }
            _ => format!("At minute {min} of hour {hour}"),
        };
        let day = |v: &str| -> String {
            parse_value(&FIELDS[4], v)
                .map(|d| DAY_WORDS[(d % 7) as usize].to_owned())
                .unwrap_or_else(|_| v.to_owned())
        };
        let days = match (dom, dow) {
            ("*", "*") => "every day".to_owned(),
            (_, "*") => format!("on day {dom} of the month"),
            ("*", _) => match dow.split_once('-') {
                Some((a, b)) if !dow.contains([',', '/']) => {
                    format!("{} through {}", day(a), day(b))
                }
                _ => format!(
                    "on {}",
                    dow.split(',').map(day).collect::<Vec<_>>().join(", ")
                ),
            },
            _ => format!(
                "on day {dom} of the month and on {}",
                dow.split(',').map(day).collect::<Vec<_>>().join(", ")
            ),
        };
        let months = if mon == "*" {
            String::new()
        } else {
            let words: Vec<String> = mon
                .split(',')
                .map(|m| {
                    parse_value(&FIELDS[3], m)
                        .map(|i| MONTH_WORDS[(i - 1) as usize].to_owned())
                        .unwrap_or_else(|_| m.to_owned())
                })
                .collect();
            format!(", in {}", words.join(", "))
        };
        format!("{time}, {days}{months}")
    }
}

/// An IANA zone name, or `local` for this computer's zone.
pub fn parse_zone(zone: &str) -> Result<Tz> {
    let name = zone.trim();
    let name = if name.is_empty() || name.eq_ignore_ascii_case(LOCAL_ZONE) {
        iana_time_zone::get_timezone().unwrap_or_else(|_| "UTC".to_owned())
    } else {
        name.to_owned()
    };
    name.parse::<Tz>().map_err(|_| {
        CoreError::invalid(
            "timezone",
            format!("\"{name}\" is not an IANA time zone such as Europe/Paris or America/New_York"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("rfc3339")
            .with_timezone(&Utc)
    }

    fn fires(expr: &str, zone: &str, from: &str, n: usize) -> Vec<String> {
        let s = CronSchedule::parse(expr, zone).expect(expr);
        s.upcoming(utc(from), n)
            .into_iter()
            .map(|t| {
                t.with_timezone(&s.zone())
                    .format("%Y-%m-%d %H:%M %Z")
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn next_fire_tables() {
        let table: &[(&str, &str, &str, &[&str])] = &[
            (
                "0 2 * * *",
                "Europe/Paris",
                "2026-11-26T12:00:00Z",
                &["2026-11-27 02:00 CET", "2026-11-28 02:00 CET"],
            ),
            (
                "@daily",
                "UTC",
                "2026-11-26T12:00:00Z",
                &["2026-11-27 00:00 UTC", "2026-11-28 00:00 UTC"],
            ),
            (
                "*/15 * * * *",
                "UTC",
                "2026-11-26T12:07:00Z",
                &["2026-11-26 12:15 UTC", "2026-11-26 12:30 UTC"],
            ),
            // Friday 27 Nov 2026 → next weekdays; Sunday may be 0 or 7.
            (
                "30 6 * * 1-5",
                "UTC",
                "2026-11-27T07:00:00Z",
                &["2026-11-30 06:30 UTC", "2026-12-01 06:30 UTC"],
            ),
            (
                "0 0 * * 7",
                "UTC",
                "2026-11-26T00:00:00Z",
                &["2026-11-29 00:00 UTC"],
            ),
            (
                "0 0 * * sun",
                "UTC",
                "2026-11-26T00:00:00Z",
                &["2026-11-29 00:00 UTC"],
            ),
            (
                "0 0 * * 5-7",
                "UTC",
                "2026-11-26T00:00:00Z",
                &[
                    "2026-11-27 00:00 UTC",
                    "2026-11-28 00:00 UTC",
                    "2026-11-29 00:00 UTC",
                    "2026-12-04 00:00 UTC",
                ],
            ),
            // Both day fields restricted: the 1st OR any Monday (cron(8)).
            (
                "0 0 1 * 1",
                "UTC",
                "2026-11-26T00:00:00Z",
                &[
                    "2026-11-30 00:00 UTC",
                    "2026-12-01 00:00 UTC",
                    "2026-12-07 00:00 UTC",
                ],
            ),
            (
                "0 12 1 jan,jul *",
                "UTC",
                "2026-11-26T00:00:00Z",
                &["2027-01-01 12:00 UTC", "2027-07-01 12:00 UTC"],
            ),
        ];
        for (expr, zone, from, want) in table {
            assert_eq!(
                fires(expr, zone, from, want.len()),
                *want,
                "{expr} in {zone}"
            );
        }
    }

    #[test]
    fn spring_forward_runs_the_skipped_time_once_after_the_gap() {
        // New York: 2026-03-08 02:00 EST → 03:00 EDT; 02:30 does not exist.
        assert_eq!(
            fires("30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", 3),
            [
                "2026-03-08 03:30 EDT",
                "2026-03-09 02:30 EDT",
                "2026-03-10 02:30 EDT"
            ]
        );
        // Paris: 2026-03-29 02:00 CET → 03:00 CEST.
        assert_eq!(
            fires("15 2 * * *", "Europe/Paris", "2026-03-28T12:00:00Z", 2),
            ["2026-03-29 03:15 CEST", "2026-03-30 02:15 CEST"]
        );
    }

    #[test]
    fn fall_back_runs_a_repeated_time_once() {
        // New York: 2026-11-01 02:00 EDT → 01:00 EST; 01:30 happens twice.
        assert_eq!(
            fires("30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", 3),
            [
                "2026-11-01 01:30 EDT",
                "2026-11-02 01:30 EST",
                "2026-11-03 01:30 EST"
            ]
        );
    }

    #[test]
    fn hourly_schedules_follow_real_time_across_dst() {
        // Fall back: the 01:00 hour happens twice, so does an hourly run.
        assert_eq!(
            fires("0 * * * *", "America/New_York", "2026-11-01T04:30:00Z", 3),
            [
                "2026-11-01 01:00 EDT",
                "2026-11-01 01:00 EST",
                "2026-11-01 02:00 EST"
            ]
        );
        // Spring forward: no real hour is lost, none is invented.
        assert_eq!(
            fires("0 * * * *", "America/New_York", "2026-03-08T05:30:00Z", 2),
            ["2026-03-08 01:00 EST", "2026-03-08 03:00 EDT"]
        );
    }

    #[test]
    fn invalid_expressions_name_the_bad_field() {
        let table = [
            ("61 * * * *", "minute field has 61, out of range (0–59)"),
            ("0 24 * * *", "hour field has 24"),
            ("0 0 0 * *", "day-of-month field has 0"),
            ("0 0 * 13 *", "month field has 13"),
            ("0 0 * * 8", "day-of-week field has 8"),
            ("0 0 * * MOX", "day-of-week field has \"MOX\""),
            ("*/0 * * * *", "minute field has step \"0\""),
            (
                "0 5-2 * * *",
                "hour field has the range \"5-2\", which runs backwards",
            ),
            ("0 0 * *", "has 4 fields"),
            ("0 0 0 * * * *", "has 7 fields"),
            ("@fortnightly", "not a known preset"),
            ("0 0 30 2 *", "never fires"),
            ("1,,2 * * * *", "empty list item"),
        ];
        for (expr, want) in table {
            let err = CronSchedule::parse(expr, "UTC").expect_err(expr);
            assert_eq!(err.code(), "invalid_cron", "{expr}");
            assert!(err.to_string().contains(want), "{expr}: {err}");
        }
        let err = CronSchedule::parse("0 0 * * *", "Mars/Olympus").expect_err("zone");
        assert!(err.to_string().contains("IANA"), "{err}");
        assert!(CronSchedule::parse("0 0 * * *", "local").is_ok());
    }

    #[test]
    fn descriptions_read_like_sentences() {
        let table = [
            ("0 2 * * *", "At 02:00, every day"),
            ("@daily", "At 00:00, every day"),
            ("30 6 * * 1-5", "At 06:30, Monday through Friday"),
            ("0 3 * * sat,sun", "At 03:00, on Saturday, Sunday"),
            ("*/15 * * * *", "Every 15 minutes, every day"),
            ("5 * * * *", "At minute 5 of every hour, every day"),
            ("0 4 1 * *", "At 04:00, on day 1 of the month"),
            (
                "0 12 1 jan,jul *",
                "At 12:00, on day 1 of the month, in January, July",
            ),
        ];
        for (expr, want) in table {
            assert_eq!(
                CronSchedule::parse(expr, "UTC").expect(expr).describe(),
                want,
                "{expr}"
            );
        }
    }
}
