//! Dates and times between the JSON forms (`2026-12-10T10:00:00`, `2026-12-10`, `…Z`) and the
//! iCalendar ones (`20261210T100000`, `20261210`, `…Z`; RFC 5545 §3.3.4, §3.3.5), and the
//! DURATION syntax of alarm triggers (§3.3.6).

use chrono::{NaiveDate, NaiveDateTime};

use crate::calendar::Timestamp;
use crate::calendar::time::naive;

const JSON_LOCAL: &str = "%Y-%m-%dT%H:%M:%S";
const JSON_DATE: &str = "%Y-%m-%d";

pub(super) fn json_local(t: NaiveDateTime) -> String {
    t.format(JSON_LOCAL).to_string()
}

pub(super) fn json_date(d: NaiveDate) -> String {
    d.format(JSON_DATE).to_string()
}

pub(super) fn json_utc(ts: Timestamp) -> String {
    format!("{}Z", json_local(naive(ts)))
}

pub(super) fn ical_local(t: NaiveDateTime) -> String {
    t.format("%Y%m%dT%H%M%S").to_string()
}

pub(super) fn ical_date(d: NaiveDate) -> String {
    d.format("%Y%m%d").to_string()
}

pub(super) fn ical_utc(ts: Timestamp) -> String {
    format!("{}Z", ical_local(naive(ts)))
}

/// A UTC DATE-TIME value (CREATED, LAST-MODIFIED, an absolute TRIGGER: RFC 5545 §3.8.7.1,
/// §3.8.6.3) as JSON. A value without the `Z` that RFC 5545 requires is read as UTC anyway.
pub(super) fn utc_value_json(value: &str) -> Option<String> {
    let value = value.trim();
    let local = value.strip_suffix(['Z', 'z']).unwrap_or(value);
    NaiveDateTime::parse_from_str(local, "%Y%m%dT%H%M%S").ok().map(|t| format!("{}Z", json_local(t)))
}

/// A JSON time as stated: a wall clock, or an instant when it carries a UTC offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stated {
    Date(NaiveDate),
    Local(NaiveDateTime),
    Instant(Timestamp),
}

/// Parses `2026-12-10`, `2026-12-10T10:00[:00]`, optionally followed by `Z` or `±hh:mm`.
pub(super) fn parse_stated(text: &str) -> Option<Stated> {
    let text = text.trim();
    if text.len() == 10 {
        return NaiveDate::parse_from_str(text, JSON_DATE).ok().map(Stated::Date);
    }
    let (local, offset) = split_offset(text)?;
    let local = NaiveDateTime::parse_from_str(local, JSON_LOCAL)
        .or_else(|_| NaiveDateTime::parse_from_str(local, "%Y-%m-%dT%H:%M"))
        .ok()?;
    Some(match offset {
        Some(seconds) => Stated::Instant(local.and_utc().timestamp() - i64::from(seconds)),
        None => Stated::Local(local),
    })
}

/// The local part and the offset east of UTC in seconds, if the text ends with one.
fn split_offset(text: &str) -> Option<(&str, Option<i32>)> {
    if let Some(local) = text.strip_suffix(['Z', 'z']) {
        return Some((local, Some(0)));
    }
    let bytes = text.as_bytes();
    let n = bytes.len();
    // `±hh:mm` after the time (the date's own `-`s sit at positions 4 and 7).
    if n > 16 && matches!(bytes[n - 6], b'+' | b'-') && bytes[n - 3] == b':' {
        let hours: i32 = text.get(n - 5..n - 3)?.parse().ok()?;
        let minutes: i32 = text.get(n - 2..)?.parse().ok()?;
        if hours > 23 || minutes > 59 {
            return None;
        }
        let sign = if bytes[n - 6] == b'-' { -1 } else { 1 };
        return Some((text.get(..n - 6)?, Some(sign * (hours * 3600 + minutes * 60))));
    }
    Some((text, None))
}

/// Whether `text` is a DURATION (RFC 5545 §3.3.6):
/// `["+"/"-"] "P" (n"W" / n"D" ["T" time] / "T" time)`, time = `n"H" [n"M" [n"S"]]` /
/// `n"M" [n"S"]` / `n"S"`.
pub(super) fn is_duration(text: &str) -> bool {
    let rest = text.strip_prefix(['+', '-']).unwrap_or(text);
    let Some(rest) = rest.strip_prefix('P') else {
        return false;
    };
    let (date, time) = match rest.split_once('T') {
        Some((date, time)) => (date, Some(time)),
        None => (rest, None),
    };
    let units = |part: &str, allowed: &[char]| -> Option<usize> {
        // Each unit once, in order, each after at least one digit.
        let (mut next, mut digits, mut count) = (0usize, 0usize, 0usize);
        for c in part.chars() {
            if c.is_ascii_digit() {
                digits += 1;
                continue;
            }
            let at = allowed.iter().skip(next).position(|&u| u == c)? + next;
            if digits == 0 {
                return None;
            }
            (next, digits, count) = (at + 1, 0, count + 1);
        }
        (digits == 0).then_some(count)
    };
    match (date, time) {
        (date, None) if date.ends_with('W') => units(date, &['W']) == Some(1),
        (date, None) => units(date, &['D']) == Some(1),
        (date, Some(time)) => {
            let date_ok = date.is_empty() || units(date, &['D']) == Some(1);
            // The hour, minute, second units must be contiguous (no `1H1S`, §3.3.6's grammar).
            let time_ok = matches!(units(time, &['H', 'M', 'S']), Some(1..)) && !(time.contains('H') && time.contains('S') && !time.contains('M'));
            date_ok && time_ok
        }
    }
}
