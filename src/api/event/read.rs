//! Stored iCalendar → JSON: the master VEVENT of an object ([`to_json`]) and one expanded
//! instance ([`instance_json`]). Time facts come from `calendar::model` (what validation,
//! indexing and queries read), everything else from `sched::text`'s content-line tree.

use calcard::icalendar::ICalendar;
use chrono::{NaiveDateTime, TimeZone};

use super::time::{json_date, json_local, json_utc, utc_value_json};
use super::{Alarm, AlarmRelated, ApiEvent, Attendee, EventError, EventStatus, Person, Transparency};
use crate::calendar::ComponentKind;
use crate::calendar::ical::unescape_text;
use crate::calendar::instances::Instance;
use crate::calendar::model::{self, Timing};
use crate::calendar::time::{CalTime, Zone, naive};
use crate::calendar::tz::Zones;
use crate::calendar::validate::parse_vcalendar;
use crate::sched::text::{self, Comp, Prop};

/// The master component of a stored VEVENT object (the one without RECURRENCE-ID) as JSON.
/// Overrides of single instances are not part of it: `instance_json` shows them, and
/// `from_json` keeps them. `etag` is copied in.
pub fn to_json(ics: &str, etag: &str) -> Result<ApiEvent, EventError> {
    let stored = Stored::parse(ics)?;
    let master = stored.master()?;
    stored.event(master, etag)
}

/// One instance of `expand_object`'s listing as JSON: the fields of the component that
/// describes it (the override's, when one replaced it), its RECURRENCE-ID as `recurrenceId`, and
/// its start and end in UTC (timeZone "UTC"). An all-day instance keeps `allDay: true`, with the
/// day's bounds in the zone the listing read it in. `recurrence` is empty: an instance does not
/// recur (the series is at `to_json` of the same UID). It is for reading only: written back
/// through `from_json` it would become the series with UTC times.
pub fn instance_json(ics: &str, etag: &str, instance: &Instance) -> Result<ApiEvent, EventError> {
    instances_json(ics, etag, std::slice::from_ref(instance))?.pop().ok_or(EventError::NotAnEvent(instance.component))
}

/// `instance_json` for each of `instances` (of this one object), parsing the object once and
/// each component once: an expanded listing shows a series many times.
pub fn instances_json(ics: &str, etag: &str, instances: &[Instance]) -> Result<Vec<ApiEvent>, EventError> {
    let stored = Stored::parse(ics)?;
    let mut read: Vec<(usize, ApiEvent)> = Vec::new();
    let mut out = Vec::with_capacity(instances.len());
    for instance in instances {
        let (kind, position) = (instance.kind, instance.component);
        let start = instance.start.filter(|_| kind == ComponentKind::Event).ok_or(EventError::NotAnEvent(position))?;
        let mut event = match read.iter().find(|(p, _)| *p == position) {
            Some((_, event)) => event.clone(),
            None => {
                let event = stored.event(position, etag)?;
                read.push((position, event.clone()));
                event
            }
        };
        event.start = json_utc(start);
        event.end = instance.end.map(json_utc);
        event.time_zone = Some("UTC".into());
        event.all_day = instance.all_day;
        event.recurrence = Vec::new();
        event.recurrence_id = instance.recurrence_id.map(json_utc);
        out.push(event);
    }
    Ok(out)
}

/// A stored object parsed twice: the content-line tree (text, parameters, order) and calcard's
/// tree for the time facts, with the object's own time zones.
pub(super) struct Stored {
    pub cal: Comp,
    ical: ICalendar,
    zones: Zones,
}

impl Stored {
    pub fn parse(ics: &str) -> Result<Stored, EventError> {
        let cal = text::parse(ics).map_err(EventError::Stored)?;
        let ical = parse_vcalendar(ics).map_err(|e| EventError::Stored(e.to_string()))?;
        let zones = Zones::of(&ical);
        // `timing` maps positions from one tree to the other, as calendar::query does.
        let ids = ical.components.first().map_or(0, |root| root.component_ids.len());
        if ids != cal.children.len() {
            return Err(EventError::Stored(format!("the two parsers count {} and {ids} components", cal.children.len())));
        }
        Ok(Stored { cal, ical, zones })
    }

    /// The position among the VCALENDAR's children of the VEVENT without RECURRENCE-ID.
    pub fn master(&self) -> Result<usize, EventError> {
        self.cal
            .children
            .iter()
            .position(|c| c.name == "VEVENT" && c.prop("RECURRENCE-ID").is_none())
            .ok_or(EventError::NoEvent)
    }

    /// The time facts of the child at `position`: calcard keeps the VCALENDAR's children in
    /// source order too, so the n-th child of one tree is the n-th of the other.
    pub fn timing(&self, position: usize) -> Result<Timing<'_>, EventError> {
        let id = self
            .ical
            .components
            .first()
            .and_then(|root| root.component_ids.get(position))
            .copied()
            .ok_or(EventError::NotAnEvent(position))?;
        let same = self.ical.component_by_id(id).is_some_and(|c| {
            self.cal.children.get(position).is_some_and(|child| c.component_type.as_str().eq_ignore_ascii_case(&child.name))
        });
        if !same {
            return Err(EventError::Stored(format!("the two parsers disagree on component {position}")));
        }
        model::read(&self.ical, id, &self.zones).map_err(|e| EventError::Stored(e.to_string()))
    }

    /// The VEVENT at `position` as JSON.
    pub fn event(&self, position: usize, etag: &str) -> Result<ApiEvent, EventError> {
        let comp = self.cal.children.get(position).filter(|c| c.name == "VEVENT").ok_or(EventError::NotAnEvent(position))?;
        let times = read_times(&self.timing(position)?)?;
        let text = |name: &str| comp.value(name).map(unescape_text);
        Ok(ApiEvent {
            uid: comp.value("UID").map(str::trim).unwrap_or_default().to_owned(),
            etag: etag.to_owned(),
            title: text("SUMMARY").unwrap_or_default(),
            description: text("DESCRIPTION"),
            location: text("LOCATION"),
            status: comp.value("STATUS").and_then(status),
            transparency: match comp.value("TRANSP") {
                Some(t) if t.trim().eq_ignore_ascii_case("TRANSPARENT") => Transparency::Transparent,
                _ => Transparency::Opaque,
            },
            all_day: times.all_day,
            start: times.start,
            end: times.end,
            time_zone: times.time_zone,
            recurrence: recurrence_lines(comp),
            recurrence_id: None,
            organizer: comp.prop("ORGANIZER").map(person),
            attendees: comp.props_named("ATTENDEE").map(attendee).collect(),
            alarms: comp.children.iter().filter(|c| c.name == "VALARM").map(alarm).collect(),
            sequence: comp.value("SEQUENCE").and_then(|s| s.trim().parse().ok()).unwrap_or(0),
            created: comp.value("CREATED").and_then(utc_value_json),
            last_modified: comp.value("LAST-MODIFIED").and_then(utc_value_json),
        })
    }
}

/// The names of the recurrence lines the JSON carries (RFC 5545 §3.8.5; EXRULE is RFC 2445's).
pub(super) const RECURRENCE: [&str; 4] = ["RRULE", "RDATE", "EXDATE", "EXRULE"];

fn recurrence_lines(comp: &Comp) -> Vec<String> {
    comp.props.iter().filter(|p| RECURRENCE.contains(&p.name.as_str())).map(Prop::line).collect()
}

fn status(value: &str) -> Option<EventStatus> {
    match value.trim().to_ascii_uppercase().as_str() {
        "CONFIRMED" => Some(EventStatus::Confirmed),
        "TENTATIVE" => Some(EventStatus::Tentative),
        "CANCELLED" => Some(EventStatus::Cancelled),
        _ => None,
    }
}

pub(super) struct Times {
    pub all_day: bool,
    pub start: String,
    pub end: Option<String>,
    pub time_zone: Option<String>,
}

/// DTSTART and DTEND (or DTSTART + DURATION) as JSON, the end in the start's zone.
fn read_times(t: &Timing<'_>) -> Result<Times, EventError> {
    let start = t.dtstart.ok_or_else(|| EventError::Stored("the VEVENT has no DTSTART (RFC 5545 §3.6.1)".into()))?;
    let end = t.dtend.or_else(|| t.duration.map(|d| start.plus(d)));
    if start.is_date {
        return Ok(Times { all_day: true, start: json_date(start.local.date()), end: end.map(|e| json_date(e.local.date())), time_zone: None });
    }
    // A value with a numeric offset (`+0100`, not RFC 5545 but honoured) is shown in UTC.
    let (frame, time_zone) = match start.zone {
        Zone::Utc | Zone::Fixed(_) => (Zone::Utc, Some("UTC".to_owned())),
        Zone::Iana(tz) => (Zone::Iana(tz), Some(tz.name().to_owned())),
        Zone::Floating => (Zone::Floating, None),
    };
    Ok(Times {
        all_day: false,
        start: json_local(in_frame(&start, frame)),
        end: end.map(|e| json_local(in_frame(&e, frame))),
        time_zone,
    })
}

/// The wall clock of `t` in `frame`: as written when it is already there (a local time inside
/// a DST gap stays as written), else its instant read in the frame; a floating value (or a
/// fixed one beside a floating start) keeps its wall clock.
fn in_frame(t: &CalTime, frame: Zone) -> NaiveDateTime {
    if t.zone == frame {
        return t.local;
    }
    match (t.utc(), frame) {
        (Some(ts), Zone::Utc) => naive(ts),
        (Some(ts), Zone::Iana(tz)) => tz.from_utc_datetime(&naive(ts)).naive_local(),
        _ => t.local,
    }
}

/// The address as JSON: the mail address of `mailto:`, else Apple's EMAIL parameter, else the
/// address itself.
pub(super) fn email_of(p: &Prop) -> String {
    let value = p.value().trim();
    match value.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("mailto:") => value[7..].trim().to_owned(),
        _ => p.param("EMAIL").map_or_else(|| value.to_owned(), str::to_owned),
    }
}

/// A parameter value with RFC 6868's `^n`, `^'` and `^^` decoded.
pub(super) fn param_text(p: &Prop, name: &str) -> Option<String> {
    let raw = p.param(name)?;
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match (c, chars.clone().next()) {
            ('^', Some('n')) => out.push('\n'),
            ('^', Some('\'')) => out.push('"'),
            ('^', Some('^')) => out.push('^'),
            _ => {
                out.push(c);
                continue;
            }
        }
        chars.next();
    }
    Some(out)
}

pub(super) fn person(p: &Prop) -> Person {
    Person { email: email_of(p), name: param_text(p, "CN") }
}

pub(super) fn attendee(p: &Prop) -> Attendee {
    let lower = |name: &str, absent: &str| p.param(name).unwrap_or(absent).trim().to_ascii_lowercase();
    Attendee {
        email: email_of(p),
        name: param_text(p, "CN"),
        // RFC 5545 §3.2.12, §3.2.16, §3.2.17: the defaults when absent.
        partstat: lower("PARTSTAT", "NEEDS-ACTION"),
        role: lower("ROLE", "REQ-PARTICIPANT"),
        rsvp: p.param("RSVP").is_some_and(|r| r.trim().eq_ignore_ascii_case("TRUE")),
    }
}

pub(super) fn alarm(c: &Comp) -> Alarm {
    let trigger = c.prop("TRIGGER");
    let absolute = trigger.is_some_and(|t| t.param("VALUE").is_some_and(|v| v.eq_ignore_ascii_case("DATE-TIME")));
    let value = trigger.map(|t| t.value().trim().to_owned());
    Alarm {
        action: c.value("ACTION").unwrap_or("DISPLAY").trim().to_ascii_lowercase(),
        trigger: if absolute { None } else { value.clone() },
        related: trigger
            .and_then(|t| t.param("RELATED"))
            .filter(|r| !absolute && r.eq_ignore_ascii_case("END"))
            .map(|_| AlarmRelated::End),
        at: if absolute { value.map(|v| utc_value_json(&v).unwrap_or(v)) } else { None },
        description: c.value("DESCRIPTION").map(unescape_text),
    }
}
