//! Public iCalendar feeds (issue 18, docs/decisions/0022-feeds.md): one calendar rendered as a
//! subscribable VCALENDAR in one of three modes. Pure and synchronous like `calendar/`: the
//! service finds the link and the objects, caches the text and serves it.
//!
//! What a feed hides, in every mode: events with a CLASS:PRIVATE component (the whole object),
//! the details of CLASS:CONFIDENTIAL components (shown masked), ORGANIZER and ATTENDEE (unless
//! the link includes attendees), VALARM (unless it includes alarms) and X- properties.

mod strip;

use std::collections::HashSet;

use crate::calendar::Timestamp;
use crate::calendar::filter::TimeRange;
use crate::calendar::freebusy::{self, Busy};
use crate::calendar::model::BusyKind;
use crate::calendar::query::{QueryContext, QueryError};
use crate::calendar::raw;
use crate::calendar::time::push_utc_date_time;

pub use strip::{Shown, event_text};

/// How much of each event a link shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FeedMode {
    /// The events as stored, minus what every feed hides.
    Full,
    /// Times and recurrence only; SUMMARY "Busy".
    Masked,
    /// One opaque VEVENT per busy period, as free/busy computes them (RFC 4791 §7.10).
    Busy,
}

impl FeedMode {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedMode::Full => "full",
            FeedMode::Masked => "masked",
            FeedMode::Busy => "busy",
        }
    }

    pub fn parse(s: &str) -> Option<FeedMode> {
        match s {
            "full" => Some(FeedMode::Full),
            "masked" => Some(FeedMode::Masked),
            "busy" => Some(FeedMode::Busy),
            _ => None,
        }
    }
}

/// A link's rendering settings: everything besides the calendar that its output depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FeedSettings {
    pub mode: FeedMode,
    /// Keep VALARM components (full mode only: an alarm's text may repeat the title).
    pub alarms: bool,
    /// Keep ORGANIZER and ATTENDEE (full mode only).
    pub attendees: bool,
}

/// How far back a feed reaches.
pub const DAYS_BACK: i64 = 90;
/// How far ahead a feed reaches.
pub const DAYS_AHEAD: i64 = 2 * 365;
/// RFC 7986 §5.7 REFRESH-INTERVAL and its older spelling X-PUBLISHED-TTL: how often
/// subscribers should poll. An hour: feeds change rarely and every poll is cheap to answer.
pub const REFRESH: &str = "PT1H";

const DAY: i64 = 86_400;

/// The window a feed covers at `now`: its ends move once a day (at midnight UTC), so the output,
/// and with it the ETag, stays the same all day when nothing is written.
pub fn window(now: Timestamp) -> TimeRange {
    let today = now.div_euclid(DAY) * DAY;
    TimeRange { start: Some(today - DAYS_BACK * DAY), end: Some(today + DAYS_AHEAD * DAY) }
}

/// What to render.
#[derive(Debug, Clone, Copy)]
pub struct FeedInput<'a> {
    /// X-WR-CALNAME and NAME (RFC 7986 §5.1).
    pub name: &'a str,
    pub settings: FeedSettings,
    pub window: TimeRange,
    /// All-day and floating times are read in the calendar's zone (busy mode, RFC 4791 §7.3).
    pub ctx: QueryContext,
    /// The size cap: components that would take the text beyond it are left out.
    pub max_bytes: usize,
}

/// A rendered feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feed {
    pub text: String,
    /// Events left out because of the size cap.
    pub truncated: usize,
    /// Objects left out of busy time because they no longer read or recur too often (beyond
    /// the context's max_instances): one bad object must not take the whole feed down.
    pub skipped: usize,
}

/// Renders the stored objects (each one VCALENDAR; given in the order to show them, the
/// soonest first, so the size cap drops the farthest future).
pub fn render(input: &FeedInput<'_>, objects: &[&[u8]]) -> Feed {
    let head = header(input.name);
    let mut body = String::new();
    let mut timezones = String::new();
    let mut truncated = 0;
    let mut skipped = 0;
    let budget = input.max_bytes.saturating_sub(head.len() + TAIL.len());
    match input.settings.mode {
        FeedMode::Busy => {
            let mut periods = Vec::new();
            for data in objects {
                if strip::is_private(&String::from_utf8_lossy(data)) {
                    continue;
                }
                match freebusy::object_busy(data, &input.window, input.ctx) {
                    Ok(found) => periods.extend(found),
                    Err(QueryError::TooManyInstances | QueryError::Unreadable(_) | QueryError::Unsupported(_)) => skipped += 1,
                }
            }
            for period in freebusy::merge(&periods, &input.window) {
                let event = busy_event(&period);
                if body.len() + event.len() > budget {
                    truncated += 1;
                    continue;
                }
                body.push_str(&event);
            }
        }
        FeedMode::Full | FeedMode::Masked => {
            let mut seen = HashSet::new();
            for data in objects {
                let text = String::from_utf8_lossy(data);
                let Some(shown) = event_text(&text, input.settings) else { continue };
                let fresh: Vec<_> = shown.timezones.iter().filter(|(tzid, _)| !seen.contains(tzid)).collect();
                let zones_len: usize = fresh.iter().map(|(_, t)| t.len()).sum();
                if timezones.len() + body.len() + zones_len + shown.events.len() > budget {
                    truncated += 1;
                    continue;
                }
                for (tzid, zone) in fresh {
                    seen.insert(tzid.clone());
                    timezones.push_str(zone);
                }
                body.push_str(&shown.events);
            }
        }
    }
    let mut text = head;
    text.push_str(&timezones);
    text.push_str(&body);
    text.push_str(TAIL);
    Feed { text, truncated, skipped }
}

const TAIL: &str = "END:VCALENDAR\r\n";

fn header(name: &str) -> String {
    let mut out = String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Kalends//Kalends Feed//EN\r\nCALSCALE:GREGORIAN\r\nMETHOD:PUBLISH\r\n");
    let name = raw::escape_text(name);
    // RFC 7986 §5.1 NAME, and X-WR-CALNAME, which Apple, Google and Outlook read instead.
    raw::push_folded(&format!("NAME:{name}"), &mut out);
    raw::push_folded(&format!("X-WR-CALNAME:{name}"), &mut out);
    // RFC 7986 §5.7; X-PUBLISHED-TTL is what Outlook and Apple read.
    out.push_str("REFRESH-INTERVAL;VALUE=DURATION:");
    out.push_str(REFRESH);
    out.push_str("\r\nX-PUBLISHED-TTL:");
    out.push_str(REFRESH);
    out.push_str("\r\n");
    out
}

/// One opaque VEVENT for a busy period. Every value derives from the period, so the same
/// periods always give the same text (and ETag); DTSTAMP (RFC 5545 §3.8.7.2, required) is the
/// period's start for that reason.
fn busy_event(b: &Busy) -> String {
    let mut out = String::with_capacity(200);
    out.push_str("BEGIN:VEVENT\r\nUID:busy-");
    out.push_str(&b.start.to_string());
    out.push('-');
    out.push_str(&b.end.to_string());
    out.push_str("@kalends\r\n");
    for (name, at) in [("DTSTAMP", b.start), ("DTSTART", b.start), ("DTEND", b.end)] {
        out.push_str(name);
        out.push(':');
        push_utc_date_time(&mut out, at);
        out.push_str("\r\n");
    }
    out.push_str("SUMMARY:Busy\r\nTRANSP:OPAQUE\r\n");
    if b.kind == BusyKind::BusyTentative {
        out.push_str("STATUS:TENTATIVE\r\n");
    }
    out.push_str("END:VEVENT\r\n");
    out
}

#[cfg(test)]
mod tests;
