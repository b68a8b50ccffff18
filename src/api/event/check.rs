//! An [`EventInput`] checked and brought into the form `to_json` reads back (lower-cased
//! tokens, whole-second local times, canonical zone names), so that a write compares each field
//! with the stored one and touches only those that differ.

use chrono::{NaiveDate, NaiveDateTime, TimeZone};

use super::time::{Stated, is_duration, json_date, json_local, json_utc, parse_stated};
use super::{Alarm, AlarmRelated, Attendee, EventError, EventInput, EventStatus, Person, Transparency};
use crate::calendar::time::{naive, resolve_local};
use crate::calendar::{Timestamp, ValidateOptions, parse_object};
use crate::sched::text::{self, Prop};

/// The input, checked.
pub(super) struct Wanted {
    pub uid: Option<String>,
    pub title: String,
    pub description: Option<String>,
    pub location: Option<String>,
    pub status: Option<EventStatus>,
    pub transparency: Transparency,
    pub times: Times,
    /// The recurrence lines as properties (folded again when written) and as compared.
    pub recurrence: Vec<Prop>,
    pub recurrence_lines: Vec<String>,
    pub organizer: Option<Person>,
    pub attendees: Vec<Attendee>,
    pub alarms: Option<Vec<Alarm>>,
    pub sequence: Option<i64>,
}

/// The zone the times are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Frame {
    Floating,
    Utc,
    Iana(chrono_tz::Tz),
}

/// A start or end to write: a DATE or a wall clock in the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Value {
    Date(NaiveDate),
    Local(NaiveDateTime),
}

pub(super) struct Times {
    pub frame: Frame,
    pub start: Value,
    pub end: Option<Value>,
    /// The JSON `to_json` will read back: compared with the stored event's.
    pub all_day: bool,
    pub json_start: String,
    pub json_end: Option<String>,
    pub json_zone: Option<String>,
}

pub(super) fn check(input: &EventInput) -> Result<Wanted, EventError> {
    let times = times(input)?;
    let recurrence = input.recurrence.iter().map(|line| recurrence_line(line, &times)).collect::<Result<Vec<_>, _>>()?;
    let attendees = input.attendees.iter().enumerate().map(|(i, a)| checked_attendee(i, a)).collect::<Result<Vec<_>, _>>()?;
    let alarms = match &input.alarms {
        Some(list) => Some(list.iter().enumerate().map(|(i, a)| checked_alarm(i, a)).collect::<Result<Vec<_>, _>>()?),
        None => None,
    };
    if let Some(uid) = &input.uid {
        check_uid(uid)?;
    }
    let organizer = match &input.organizer {
        Some(p) => Some(Person { email: p.email.trim().to_owned(), name: optional_text("organizer.name", &p.name)? }),
        None => None,
    };
    Ok(Wanted {
        uid: input.uid.as_ref().map(|u| u.trim().to_owned()),
        title: text("title", &input.title)?,
        description: optional_text("description", &input.description)?,
        location: optional_text("location", &input.location)?,
        status: input.status,
        transparency: input.transparency,
        recurrence_lines: recurrence.iter().map(Prop::line).collect(),
        recurrence,
        times,
        organizer,
        attendees,
        alarms,
        sequence: input.sequence,
    })
}

/// TEXT (RFC 5545 §3.3.11) carries line breaks as `\n` but no other control character; a CR
/// is dropped, as the escaping does.
fn text(field: &str, value: &str) -> Result<String, EventError> {
    if let Some(bad) = value.chars().find(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(EventError::BadValue { field: field.into(), value: value.into(), reason: format!("the control character U+{:04X} cannot be stored (RFC 5545 §3.3.11)", u32::from(bad)) });
    }
    Ok(value.replace('\r', ""))
}

fn optional_text(field: &str, value: &Option<String>) -> Result<Option<String>, EventError> {
    value.as_deref().map(|v| text(field, v)).transpose()
}

/// A UID is TEXT (RFC 5545 §3.8.4.7); these are refused rather than escaped, since a UID is also
/// matched and shown unescaped everywhere else (URLs, CalDAV UID conflicts).
fn check_uid(uid: &str) -> Result<(), EventError> {
    let bad = |reason: &str| Err(EventError::BadValue { field: "uid".into(), value: uid.into(), reason: reason.into() });
    if uid.trim().is_empty() {
        return bad("a UID cannot be empty (RFC 5545 §3.8.4.7)");
    }
    if uid.chars().any(|c| c.is_control() || matches!(c, '\\' | ';' | ',')) {
        return bad("a UID here holds no control characters, backslashes, semicolons or commas");
    }
    Ok(())
}

fn times(input: &EventInput) -> Result<Times, EventError> {
    let stated = |field: &'static str, value: &str| {
        let parsed = parse_stated(value).ok_or_else(|| EventError::BadTime {
            field,
            value: value.into(),
            expected: "a date (YYYY-MM-DD) or date-time (YYYY-MM-DDTHH:MM[:SS], optionally with Z or ±hh:mm)",
        })?;
        match (input.all_day, parsed) {
            (true, Stated::Date(_)) | (false, Stated::Local(_) | Stated::Instant(_)) => Ok(parsed),
            (true, _) => Err(EventError::AllDayWithTime { field, value: value.into() }),
            (false, _) => Err(EventError::TimedWithDate { field, value: value.into() }),
        }
    };
    let start = stated("start", &input.start)?;
    let end = input.end.as_deref().map(|e| stated("end", e)).transpose()?;
    let zone = input.time_zone.as_deref().map(str::trim);
    if input.all_day {
        if let Some(zone) = zone {
            return Err(EventError::ZoneOnAllDay(zone.into()));
        }
        let date = |s: Stated| match s {
            Stated::Date(d) => d,
            // Refused above: an all-day event only takes dates.
            Stated::Local(t) => t.date(),
            Stated::Instant(ts) => naive(ts).date(),
        };
        let (start, end) = (date(start), end.map(date));
        if let Some(end) = end.filter(|&e| e <= start) {
            let (start, end) = (json_date(start), json_date(end));
            return Err(if end < start { EventError::EndBeforeStart { start, end } } else { EventError::EmptyAllDay { start, end } });
        }
        return Ok(Times {
            frame: Frame::Floating,
            start: Value::Date(start),
            end: end.map(Value::Date),
            all_day: true,
            json_start: json_date(start),
            json_end: end.map(json_date),
            json_zone: None,
        });
    }
    let frame = match zone {
        None => match (start, end) {
            (Stated::Instant(_), None | Some(Stated::Instant(_))) => Frame::Utc,
            (Stated::Local(_), None | Some(Stated::Local(_))) => Frame::Floating,
            _ => return Err(EventError::MixedOffsets),
        },
        Some(z) if z.eq_ignore_ascii_case("UTC") || z.eq_ignore_ascii_case("Z") => Frame::Utc,
        Some(z) => Frame::Iana(iana(z)?),
    };
    let local = |s: Stated| match (s, frame) {
        (Stated::Instant(ts), Frame::Iana(tz)) => tz.from_utc_datetime(&naive(ts)).naive_local(),
        (Stated::Instant(ts), _) => naive(ts),
        (Stated::Local(t), _) => t,
        (Stated::Date(d), _) => d.and_time(chrono::NaiveTime::MIN),
    };
    let (start, end) = (local(start), end.map(local));
    if let Some(end) = end.filter(|&e| instant(e, frame) < instant(start, frame)) {
        return Err(EventError::EndBeforeStart { start: json_local(start), end: json_local(end) });
    }
    Ok(Times {
        frame,
        start: Value::Local(start),
        end: end.map(Value::Local),
        all_day: false,
        json_start: json_local(start),
        json_end: end.map(json_local),
        json_zone: match frame {
            Frame::Floating => None,
            Frame::Utc => Some("UTC".into()),
            Frame::Iana(tz) => Some(tz.name().into()),
        },
    })
}

/// An IANA zone by name, exactly or ignoring case.
pub(super) fn iana(name: &str) -> Result<chrono_tz::Tz, EventError> {
    name.parse::<chrono_tz::Tz>()
        .ok()
        .or_else(|| chrono_tz::TZ_VARIANTS.iter().copied().find(|z| z.name().eq_ignore_ascii_case(name)))
        .ok_or_else(|| EventError::UnknownTimeZone(name.into()))
}

/// A wall clock's instant for ordering (a floating one compared as written).
fn instant(t: NaiveDateTime, frame: Frame) -> Timestamp {
    match frame {
        Frame::Iana(tz) => resolve_local(tz, t).timestamp(),
        Frame::Utc | Frame::Floating => t.and_utc().timestamp(),
    }
}

/// DTSTART as written for these times.
pub(super) fn dtstart(times: &Times) -> Prop {
    time_prop("DTSTART", times.start, times.frame)
}

pub(super) fn time_prop(name: &str, value: Value, frame: Frame) -> Prop {
    use super::time::{ical_date, ical_local};
    match (value, frame) {
        (Value::Date(d), _) => {
            let mut p = Prop::new(name, &ical_date(d));
            p.set_param("VALUE", "DATE");
            p
        }
        (Value::Local(t), Frame::Floating) => Prop::new(name, &ical_local(t)),
        (Value::Local(t), Frame::Utc) => Prop::new(name, &format!("{}Z", ical_local(t))),
        (Value::Local(t), Frame::Iana(tz)) => {
            let mut p = Prop::new(name, &ical_local(t));
            p.set_param("TZID", tz.name());
            p
        }
    }
}

/// One `recurrence` entry: a content line naming RRULE, RDATE or EXDATE (or a stored EXRULE),
/// TZIDs that are IANA names, and a value Kalends' validation accepts beside this DTSTART.
fn recurrence_line(line: &str, times: &Times) -> Result<Prop, EventError> {
    let bad = |reason: String| EventError::BadRecurrence { line: line.into(), reason };
    if line.contains(['\r', '\n']) {
        return Err(bad("one content line per entry, without line breaks".into()));
    }
    let holder = text::parse(&format!("BEGIN:VCALENDAR\r\n{}\r\nEND:VCALENDAR\r\n", line.trim())).map_err(bad)?;
    let prop = holder.props.first().ok_or_else(|| bad("not a content line (RFC 5545 §3.1)".into()))?;
    if !super::read::RECURRENCE.contains(&prop.name.as_str()) {
        return Err(bad(format!("a recurrence line is RRULE, RDATE or EXDATE (RFC 5545 §3.8.5), not {}", prop.name)));
    }
    if let Some(tzid) = prop.param("TZID") {
        iana(tzid).map_err(|_| bad(format!("TZID {tzid:?} is not an IANA time zone name")))?;
    }
    // The line in a minimal event with this DTSTART, through the validation every write meets:
    // the rule's syntax, its values, DATE against DATE-TIME (RFC 5545 §3.3.10).
    let probe = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Kalends//probe//EN\r\nBEGIN:VEVENT\r\nUID:probe\r\nDTSTAMP:20000101T000000Z\r\n{}\r\n{}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        dtstart(times).line(),
        prop.line()
    );
    let any_time = ValidateOptions { min_date_time: Timestamp::MIN, max_date_time: Timestamp::MAX };
    parse_object(probe.as_bytes(), &any_time).map_err(|e| bad(e.to_string()))?;
    // A fresh copy, so that a long line is folded when written.
    Ok(prop.with_params(|_| true))
}

/// An iana-token or x-name (RFC 5545 §3.1), as PARTSTAT, ROLE and ACTION values are.
fn token(field: String, value: &str) -> Result<String, EventError> {
    let value = value.trim();
    if value.is_empty() || !value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(EventError::BadValue { field, value: value.into(), reason: "not a token of letters, digits and '-' (RFC 5545 §3.1)".into() });
    }
    Ok(value.to_ascii_lowercase())
}

fn checked_attendee(i: usize, a: &Attendee) -> Result<Attendee, EventError> {
    Ok(Attendee {
        email: a.email.trim().to_owned(),
        name: optional_text(&format!("attendees[{i}].name"), &a.name)?,
        partstat: token(format!("attendees[{i}].partstat"), &a.partstat)?,
        role: token(format!("attendees[{i}].role"), &a.role)?,
        rsvp: a.rsvp,
    })
}

fn checked_alarm(index: usize, a: &Alarm) -> Result<Alarm, EventError> {
    let bad = |reason: &str| EventError::BadAlarm { index, reason: reason.into() };
    let action = token(format!("alarms[{index}].action"), &a.action)?;
    let (trigger, at) = match (&a.trigger, &a.at) {
        (Some(t), None) => {
            let t = t.trim();
            if !is_duration(t) {
                return Err(bad(&format!("`trigger` {t:?} is not a duration such as -PT15M (RFC 5545 §3.3.6)")));
            }
            (Some(t.to_owned()), None)
        }
        (None, Some(at)) => match parse_stated(at) {
            Some(Stated::Instant(ts)) if a.related.is_none() => (None, Some(json_utc(ts))),
            Some(Stated::Instant(_)) => return Err(bad("`related` applies to a `trigger`, not to `at`")),
            _ => return Err(bad(&format!("`at` {at:?} is not a date-time in UTC such as 2026-12-10T09:00:00Z (RFC 5545 §3.8.6.3)"))),
        },
        (Some(_), Some(_)) => return Err(bad("give `trigger` or `at`, not both")),
        (None, None) => return Err(bad("give `trigger` (a duration such as -PT15M) or `at` (a UTC date-time)")),
    };
    Ok(Alarm {
        action,
        trigger,
        // RELATED=START is the default (RFC 5545 §3.2.14), read back as absent.
        related: a.related.filter(|r| *r == AlarmRelated::End),
        at,
        description: optional_text(&format!("alarms[{index}].description"), &a.description)?,
    })
}

/// A mail address as an ATTENDEE or ORGANIZER `mailto:` takes it: one `@` with something on
/// each side, no spaces and nothing that would need quoting in a URI.
pub(super) fn is_email(value: &str) -> bool {
    let Some((local, domain)) = value.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !value.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '(' | ')' | ',' | ':' | ';' | '<' | '>' | '[' | ']' | '\\'))
        && value.matches('@').count() == 1
}
