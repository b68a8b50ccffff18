//! The VALARM schedule of one calendar object (RFC 5545 §3.6.6, §3.8.6; RFC 9074): which
//! alarms fire, when, and for which instance — what the server's reminder emails are made of.
//!
//! Pure and synchronous, like the rest of `calendar/`: bytes in, fire times out. Instances come
//! from the one listing (`ExactTimes::listing`, as `instances::expand_object` reads it), so
//! RRULE/RDATE/EXDATE, overrides and RANGE=THISANDFUTURE are those of CALDAV:expand.
//!
//! Choices where the RFCs leave room:
//! - An override is a whole component (RFC 5545 §3.8.4.4): its own VALARMs, possibly none,
//!   replace the master's for the instance it describes; the master's alarms never leak into it.
//! - An absolute trigger fires once, not once per instance; on a recurring master its fire
//!   carries no instance (on an override, the override's RECURRENCE-ID), and its occasion is
//!   the component as written (DTSTART, not a later instance).
//! - A relative trigger needs its anchor (RFC 5545 §3.8.6.3): RELATED=START needs DTSTART,
//!   RELATED=END needs DTEND or DURATION (events) or DUE or DURATION (to-dos); an implied end
//!   (an all-day event without DTEND) is not one, so such an alarm does not fire.
//! - Thunderbird writes X-MOZ-LASTACK on the master when an occurrence is dismissed (overrides
//!   are occurrences of the master to it), so an override's fires are covered by the later of
//!   its own and its master's LASTACK.
//! - Apple's default alarm (ACTION:NONE, TRIGGER 19760401T005545Z) never fires, nor does any
//!   absolute trigger before 1980, nor an ACTION other than EMAIL, DISPLAY or AUDIO.

mod schedule;
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;

use super::query::{QueryContext, QueryError, with_times, with_times_parsed};
use super::validate::Parsed;
use super::{ComponentKind, Timestamp};
use schedule::Schedule;

/// How one object's alarms are read.
#[derive(Debug, Clone, Copy)]
pub struct AlarmContext<'a> {
    /// Zone for floating times and DATEs (the calendar's calendar-timezone, else UTC; RFC 4791 §7.3).
    pub zone: chrono_tz::Tz,
    /// The owner's calendar user addresses ("mailto:a@b", compare case-insensitively, and also
    /// accept a bare "a@b"); may be empty (then nothing counts as declined by the owner).
    pub owner_addresses: &'a [String],
    /// At most this many instances expanded per call (e.g. 5_000); see next_due for what happens beyond.
    pub max_instances: usize,
}

/// RFC 5545 §3.8.6.1 ACTION values that fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlarmAction {
    Email,
    Display,
    Audio,
}

impl AlarmAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AlarmAction::Email => "EMAIL",
            AlarmAction::Display => "DISPLAY",
            AlarmAction::Audio => "AUDIO",
        }
    }

    /// The action of an ACTION value; `None` for NONE (RFC 9074's placeholder, Apple's default alarm),
    /// PROCEDURE (deprecated by RFC 5545 Appendix A.3) and x-names, which never fire here.
    pub fn parse(value: &str) -> Option<Self> {
        let value = value.trim();
        [AlarmAction::Email, AlarmAction::Display, AlarmAction::Audio]
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(value))
    }
}

/// The event (or to-do) an alarm belongs to, for the reminder's text: from the component that
/// describes the instance (the override where there is one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occasion {
    pub uid: String,
    /// Event or Todo.
    pub kind: ComponentKind,
    /// Unescaped TEXT (RFC 5545 §3.3.11).
    pub summary: Option<String>,
    pub location: Option<String>,
    pub description: Option<String>,
    /// The instance's start, UTC (a to-do may have none).
    pub start: Option<Timestamp>,
    /// End / DUE, UTC.
    pub end: Option<Timestamp>,
    /// DTSTART is a DATE.
    pub all_day: bool,
    /// IANA name of the zone the instance's start is written in ("Europe/Berlin"); the context zone
    /// for floating times and DATEs; "UTC" for UTC times. For showing the time in the event's zone.
    pub zone: String,
}

/// One alarm going off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fire {
    /// UTC seconds.
    pub at: Timestamp,
    pub action: AlarmAction,
    /// RECURRENCE-ID of the instance in UTC (what expand_object calls recurrence_id); None when the
    /// component does not recur, and for absolute triggers of a recurring master (they fire once).
    pub instance: Option<Timestamp>,
    /// Stable dedupe key of this fire within (object, instance): e.g. "DISPLAY@1733390000". Two
    /// alarms with the same action and the same fire time on one instance are ONE fire.
    pub key: String,
    /// The VALARM's SUMMARY (EMAIL alarms; subject), unescaped.
    pub summary: Option<String>,
    /// The VALARM's DESCRIPTION, unescaped.
    pub description: Option<String>,
    /// EMAIL alarms: the ATTENDEE values of the VALARM as written (mailto:…); empty otherwise.
    pub attendees: Vec<String>,
    pub occasion: Occasion,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextDue {
    /// The earliest fire after `after`.
    At(Timestamp),
    /// Nothing fires within the look-ahead cap, but something may fire later: look again then.
    Recheck(Timestamp),
    /// Nothing will ever fire after `after`.
    Never,
}

/// Why an object's alarms could not be scheduled.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum AlarmError {
    /// The stored bytes do not parse (they were validated on write: older data or a bug).
    #[error("the calendar object cannot be read: {0}")]
    Unreadable(String),
    /// More instances than `max_instances` even in the smallest window examined.
    #[error("more instances than the expansion cap")]
    TooManyInstances,
    /// A recurrence rule this server cannot expand (RFC 7529 RSCALE, SKIP or a leap month).
    #[error("unsupported: {0}")]
    Unsupported(String),
}

impl From<QueryError> for AlarmError {
    fn from(e: QueryError) -> Self {
        match e {
            QueryError::TooManyInstances => AlarmError::TooManyInstances,
            QueryError::Unsupported(why) => AlarmError::Unsupported(why),
            QueryError::Unreadable(why) => AlarmError::Unreadable(why),
        }
    }
}

/// Cheap byte scan, no parse: whether the object can have anything that fires (a "BEGIN:VALARM" or
/// an "X-MOZ-SNOOZE-TIME" line, ASCII case-insensitive). Writes skip everything else with it.
pub fn may_have_alarms(data: &[u8]) -> bool {
    contains_ignore_case(data, b"BEGIN:VALARM") || contains_ignore_case(data, b"X-MOZ-SNOOZE-TIME")
}

fn contains_ignore_case(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle))
}

/// Every fire with after < at <= until, sorted by (at, key), deduplicated, skips applied.
pub fn fires_between(
    data: &[u8],
    ctx: &AlarmContext,
    after: Timestamp,
    until: Timestamp,
) -> Result<Vec<Fire>, AlarmError> {
    if !may_have_alarms(data) || until <= after {
        return Ok(Vec::new());
    }
    with_schedule(data, ctx, |s| s.fires(after, Some(until)))
}

/// The first look-ahead windows of `next_due`, in seconds; the cap comes last. Small first, so
/// that a rule recurring every minute expands an hour of instances, not a month.
const STEPS: [i64; 3] = [3_600, 86_400, 7 * 86_400];

/// The smallest window `next_due` narrows to when even its first window holds too many instances.
const MIN_STEP: i64 = 60;

/// The earliest fire with at > after, looking at most `cap` seconds ahead (after+cap inclusive);
/// Recheck(after + cap) when none is found there but one may come later (a recurrence that goes on,
/// a single event/alarm beyond the cap); Never otherwise.
///
/// Windows widen progressively (an hour, a day, a week, then the cap), each expanding only its
/// own span, so a FREQ=MINUTELY rule or a daily rule started decades ago stays cheap. When a
/// window holds more than `max_instances` instances, the answer is Recheck at the end of what
/// was fully examined; when even the first window does, it is halved down to a minute, and past
/// that the object is refused with `TooManyInstances` (rule expansion starts at DTSTART, so a
/// per-minute rule started months ago costs its scan cap in every window).
pub fn next_due(
    data: &[u8],
    ctx: &AlarmContext,
    after: Timestamp,
    cap: i64,
) -> Result<NextDue, AlarmError> {
    if !may_have_alarms(data) {
        return Ok(NextDue::Never);
    }
    with_schedule(data, ctx, |s| next_in(s, after, cap))
}

/// `next_due` on the parse a write's validation made of the same text (`index_object_then`).
pub fn next_due_parsed(
    text: &str,
    parsed: &Parsed,
    ctx: &AlarmContext,
    after: Timestamp,
    cap: i64,
) -> Result<NextDue, AlarmError> {
    if !may_have_alarms(text.as_bytes()) {
        return Ok(NextDue::Never);
    }
    let query = QueryContext { zone: ctx.zone, max_instances: ctx.max_instances };
    with_times_parsed(text, parsed, query, |root, times| Ok(Schedule::new(root, times, ctx).and_then(|s| next_in(&s, after, cap))))?
}

/// What the sender asks of a due object, from one parse: `fires_between(after, until)` and
/// `next_due(until, cap)`, each with its own outcome (a crowded window of fires must not stop
/// the schedule from moving on). Err only when the object does not read at all.
#[allow(clippy::type_complexity)]
pub fn fires_and_next(
    data: &[u8],
    ctx: &AlarmContext,
    after: Timestamp,
    until: Timestamp,
    cap: i64,
) -> Result<(Result<Vec<Fire>, AlarmError>, Result<NextDue, AlarmError>), AlarmError> {
    if !may_have_alarms(data) {
        return Ok((Ok(Vec::new()), Ok(NextDue::Never)));
    }
    with_schedule(data, ctx, |s| {
        let fires = if until <= after { Ok(Vec::new()) } else { s.fires(after, Some(until)) };
        Ok((fires, next_in(s, until, cap)))
    })
}

/// `next_due` on a parsed schedule.
fn next_in(s: &Schedule<'_, '_>, after: Timestamp, cap: i64) -> Result<NextDue, AlarmError> {
    let horizon = after.saturating_add(cap.max(0));
    {
        let mut examined = after;
        for step in STEPS.into_iter().map(|s| after.saturating_add(s)).chain([horizon]) {
            let until = step.min(horizon);
            if until <= examined {
                continue;
            }
            match s.fires(examined, Some(until)) {
                Ok(found) => match found.first() {
                    Some(first) => return Ok(NextDue::At(first.at)),
                    None => examined = until,
                },
                Err(AlarmError::TooManyInstances) if examined > after => return Ok(NextDue::Recheck(examined)),
                Err(AlarmError::TooManyInstances) => return narrowed(s, after, until - after),
                Err(e) => return Err(e),
            }
        }
        // Nothing through the horizon: is there anything at all later?
        if s.endless() {
            return Ok(NextDue::Recheck(horizon));
        }
        match s.fires(horizon, None) {
            Ok(found) if found.is_empty() => Ok(NextDue::Never),
            Ok(_) | Err(AlarmError::TooManyInstances) => Ok(NextDue::Recheck(horizon)),
            Err(e) => Err(e),
        }
    }
}

/// The first window after `after` was too crowded: halve it until one can be examined.
fn narrowed(s: &Schedule<'_, '_>, after: Timestamp, mut step: i64) -> Result<NextDue, AlarmError> {
    while step > MIN_STEP {
        step = (step / 2).max(MIN_STEP);
        let until = after.saturating_add(step);
        match s.fires(after, Some(until)) {
            Ok(found) => return Ok(found.first().map_or(NextDue::Recheck(until), |f| NextDue::At(f.at))),
            Err(AlarmError::TooManyInstances) => {}
            Err(e) => return Err(e),
        }
    }
    Err(AlarmError::TooManyInstances)
}

/// Parses `data` once and hands `f` its alarm schedule.
fn with_schedule<R>(
    data: &[u8],
    ctx: &AlarmContext,
    f: impl FnOnce(&Schedule<'_, '_>) -> Result<R, AlarmError>,
) -> Result<R, AlarmError> {
    let query = QueryContext { zone: ctx.zone, max_instances: ctx.max_instances };
    with_times(data, query, |root, times| Ok(Schedule::new(root, times, ctx).and_then(|s| f(&s))))?
}
