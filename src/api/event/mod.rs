//! The JSON event of the API (issue 20): one stored VEVENT object ↔ the JSON the API speaks.
//! Pure and synchronous like `calendar/` and `sched/`: text in, JSON out, and back.
//!
//! - [`to_json`]: the master component of a stored object (the VEVENT without RECURRENCE-ID).
//!   Overrides (RFC 5545 §3.8.4.4) are not part of the JSON event; [`instance_json`] shows them,
//!   one expanded instance at a time ([`instances_json`] for a whole listing, parsing once),
//!   and every write keeps them as they are.
//! - [`from_json`]: a new object, or the stored one with the fields this model knows replaced
//!   and every other line written back byte for byte (`sched::text`'s content-line tree).
//!
//! Times: `start`/`end` are wall-clock readings in `timeZone` (an IANA name, "UTC", or null for
//! floating, RFC 5545 §3.3.5); an all-day event has dates, and its `end` is exclusive like
//! DTEND (RFC 5545 §3.6.1: a one-day event on the 10th ends on the 11th).

mod check;
mod read;
mod time;
mod tz;
mod write;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use read::{instance_json, instances_json, to_json};
pub use write::from_json;
pub use tz::calendar_timezone;

/// An event as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiEvent {
    pub uid: String,
    /// The stored object's ETag, as the caller gave it (the same one CalDAV serves).
    pub etag: String,
    /// SUMMARY; "" when the event has none.
    pub title: String,
    pub description: Option<String>,
    pub location: Option<String>,
    pub status: Option<EventStatus>,
    pub transparency: Transparency,
    pub all_day: bool,
    /// `2026-12-10T10:00:00` in `timeZone`, `2026-12-10` when all-day; an expanded instance
    /// gives UTC (`…Z`).
    pub start: String,
    /// From DTEND, or DTSTART + DURATION; null when the event has neither.
    pub end: Option<String>,
    /// An IANA name, "UTC", or null for floating times and all-day events.
    pub time_zone: Option<String>,
    /// The master's RRULE, RDATE and EXDATE lines as written (RFC 5545 §3.8.5); empty for an
    /// expanded instance.
    pub recurrence: Vec<String>,
    /// Only on an expanded instance: the instance's original start in UTC (`…Z`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurrence_id: Option<String>,
    pub organizer: Option<Person>,
    pub attendees: Vec<Attendee>,
    pub alarms: Vec<Alarm>,
    pub sequence: i64,
    /// CREATED and LAST-MODIFIED in UTC (`…Z`).
    pub created: Option<String>,
    pub last_modified: Option<String>,
}

/// What a client writes: the fields of [`ApiEvent`] it may set. A write replaces every field
/// this model knows (an absent `description` removes DESCRIPTION), except `alarms`, which are
/// left as stored when absent. Other fields (`etag`, `created`…) are ignored, so an event read
/// can be edited and written back as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventInput {
    /// Generated on create when absent; on update it must be the stored UID if given.
    #[serde(default)]
    pub uid: Option<String>,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default)]
    pub status: Option<EventStatus>,
    #[serde(default)]
    pub transparency: Transparency,
    #[serde(default)]
    pub all_day: bool,
    /// A local date-time in `timeZone` (seconds optional), or a date when `allDay`. With a
    /// UTC offset (`…Z`, `+01:00`) it names an instant: read in `timeZone` when one is given,
    /// otherwise stored in UTC.
    pub start: String,
    #[serde(default)]
    pub end: Option<String>,
    #[serde(default)]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub recurrence: Vec<String>,
    #[serde(default)]
    pub organizer: Option<Person>,
    #[serde(default)]
    pub attendees: Vec<Attendee>,
    /// Absent: the stored VALARMs stay. Present: they are replaced (an unchanged alarm keeps
    /// its stored lines).
    #[serde(default)]
    pub alarms: Option<Vec<Alarm>>,
    /// SEQUENCE is the server's to keep (RFC 5546 §2.1.4); a larger value given here wins.
    #[serde(default)]
    pub sequence: Option<i64>,
}

impl From<ApiEvent> for EventInput {
    /// The input that writes `event` back unchanged: read, edit, write.
    fn from(event: ApiEvent) -> EventInput {
        EventInput {
            uid: Some(event.uid),
            title: event.title,
            description: event.description,
            location: event.location,
            status: event.status,
            transparency: event.transparency,
            all_day: event.all_day,
            start: event.start,
            end: event.end,
            time_zone: event.time_zone,
            recurrence: event.recurrence,
            organizer: event.organizer,
            attendees: event.attendees,
            alarms: Some(event.alarms),
            sequence: Some(event.sequence),
        }
    }
}

/// STATUS of a VEVENT (RFC 5545 §3.8.1.11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EventStatus {
    Confirmed,
    Tentative,
    Cancelled,
}

impl EventStatus {
    fn as_ical(self) -> &'static str {
        match self {
            EventStatus::Confirmed => "CONFIRMED",
            EventStatus::Tentative => "TENTATIVE",
            EventStatus::Cancelled => "CANCELLED",
        }
    }
}

/// TRANSP (RFC 5545 §3.8.2.7); absent means opaque.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Transparency {
    #[default]
    Opaque,
    Transparent,
}

/// An ORGANIZER (RFC 5545 §3.8.4.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Person {
    /// The mail address of a `mailto:` address; for other addresses Apple's EMAIL parameter,
    /// else the address itself (`urn:uuid:…`), which a write may give back unchanged.
    pub email: String,
    /// CN.
    #[serde(default)]
    pub name: Option<String>,
}

/// An ATTENDEE (RFC 5545 §3.8.4.1) with the parameters most clients show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Attendee {
    /// As for [`Person::email`].
    pub email: String,
    /// CN.
    #[serde(default)]
    pub name: Option<String>,
    /// PARTSTAT lower-cased (`needs-action`, `accepted`, `declined`, `tentative`, `delegated`).
    #[serde(default = "needs_action")]
    pub partstat: String,
    /// ROLE lower-cased (`req-participant`, `opt-participant`, `non-participant`, `chair`).
    #[serde(default = "req_participant")]
    pub role: String,
    #[serde(default)]
    pub rsvp: bool,
}

fn needs_action() -> String {
    "needs-action".into()
}

fn req_participant() -> String {
    "req-participant".into()
}

/// A VALARM (RFC 5545 §3.6.6): `trigger` (a duration before or after the start, or the end
/// with `related`) or `at` (an instant), never both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Alarm {
    /// ACTION lower-cased; a write creates `display` or `audio` alarms (an `email` alarm needs
    /// recipients this model does not carry, so only a stored one is kept).
    #[serde(default = "display")]
    pub action: String,
    /// A DURATION (RFC 5545 §3.3.6) such as `-PT15M`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
    /// `end` for RELATED=END; absent means the start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub related: Option<AlarmRelated>,
    /// An absolute trigger in UTC (`2026-12-10T09:00:00Z`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

fn display() -> String {
    "display".into()
}

/// RELATED (RFC 5545 §3.2.14).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AlarmRelated {
    Start,
    End,
}

/// Why an object cannot be shown as JSON, or an input cannot become iCalendar. Each message is
/// one sentence naming the field; [`EventError::field`] names it for a problem document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("the stored object cannot be read as iCalendar: {0}")]
    Stored(String),
    #[error("the stored object holds no VEVENT without RECURRENCE-ID (a single event or a series master)")]
    NoEvent,
    #[error("component {0} of the stored object is not a VEVENT")]
    NotAnEvent(usize),
    #[error("`{field}` is {value:?}, not {expected}")]
    BadTime { field: &'static str, value: String, expected: &'static str },
    #[error("`{field}` is {value:?}, a date-time, but `allDay` is true: an all-day event takes a date (YYYY-MM-DD)")]
    AllDayWithTime { field: &'static str, value: String },
    #[error("`{field}` is {value:?}, a date, but `allDay` is false: a timed event takes a date-time (YYYY-MM-DDTHH:MM:SS)")]
    TimedWithDate { field: &'static str, value: String },
    #[error("`timeZone` is {0:?} but an all-day event has no time zone (its dates float, RFC 5545 §3.3.4): give null")]
    ZoneOnAllDay(String),
    #[error("`timeZone` {0:?} is not an IANA time zone name (such as \"Europe/Berlin\") nor \"UTC\"")]
    UnknownTimeZone(String),
    #[error("`start` and `end` must both carry a UTC offset, or neither, when `timeZone` is null")]
    MixedOffsets,
    #[error("`end` {end} is before `start` {start} (RFC 5545 §3.8.2.2)")]
    EndBeforeStart { start: String, end: String },
    #[error("`end` {end} of an all-day event must be after `start` {start}: the end date is exclusive (RFC 5545 §3.6.1)")]
    EmptyAllDay { start: String, end: String },
    #[error("`recurrence` line {line:?}: {reason}")]
    BadRecurrence { line: String, reason: String },
    #[error("`{field}` is {value:?}, which is not an email address (give it without mailto:)")]
    BadEmail { field: String, value: String },
    #[error("`{field}` is {value:?}: {reason}")]
    BadValue { field: String, value: String, reason: String },
    #[error("`alarms[{index}]`: {reason}")]
    BadAlarm { index: usize, reason: String },
    #[error("`uid` is {given:?} but the stored event's UID is {stored:?}; an event keeps its UID")]
    UidChanged { stored: String, given: String },
    /// The iCalendar written does not pass Kalends' validation: a bug here, or an input
    /// (a recurrence rule) that only the full validation refuses.
    #[error("the event as iCalendar is not valid: {0}")]
    Invalid(String),
}

impl EventError {
    /// The JSON field the error is about, when it is about one.
    pub fn field(&self) -> Option<String> {
        match self {
            EventError::Stored(_) | EventError::NoEvent | EventError::NotAnEvent(_) | EventError::Invalid(_) => None,
            EventError::BadTime { field, .. }
            | EventError::AllDayWithTime { field, .. }
            | EventError::TimedWithDate { field, .. } => Some((*field).to_owned()),
            EventError::ZoneOnAllDay(_) | EventError::UnknownTimeZone(_) => Some("timeZone".into()),
            EventError::MixedOffsets | EventError::EndBeforeStart { .. } | EventError::EmptyAllDay { .. } => {
                Some("end".into())
            }
            EventError::BadRecurrence { .. } => Some("recurrence".into()),
            EventError::BadEmail { field, .. } | EventError::BadValue { field, .. } => Some(field.clone()),
            EventError::BadAlarm { index, .. } => Some(format!("alarms[{index}]")),
            EventError::UidChanged { .. } => Some("uid".into()),
        }
    }
}
