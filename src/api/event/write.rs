//! JSON → iCalendar: a new object, or the stored one with the fields of the JSON model replaced.
//! Edits go through `sched::text`'s content-line tree, which writes every line nobody touched
//! back as it was read (unknown properties, parameters, folding, overrides, VTIMEZONEs), and each
//! field is compared with the stored one first, so an unchanged field keeps its lines too.

use std::collections::BTreeSet;

use super::check::{self, Frame, Times, Value, Wanted, iana, is_email, time_prop};
use super::read::{RECURRENCE, Stored, alarm, attendee, email_of, param_text};
use super::time::{ical_utc, parse_stated, Stated};
use super::tz::{vtimezone, year_range};
use super::{Alarm, ApiEvent, Attendee, EventError, EventInput, Person, Transparency};
use crate::calendar::raw::escape_text;
use crate::calendar::{Timestamp, ValidateOptions, parse_object};
use crate::sched::text::{self, Comp, Prop};

const PRODID: &str = "-//Kalends//Kalends API//EN";

/// The iCalendar text for `input`: a new object when `existing` is None (UID generated when
/// absent, DTSTAMP/CREATED/LAST-MODIFIED at `now`, Unix seconds), else `existing` with the fields
/// the JSON model knows replaced and everything else kept byte for byte: unknown properties,
/// VALARMs when `input.alarms` is None, overrides, other VTIMEZONEs. An input that changes
/// nothing returns `existing` itself. SEQUENCE goes up when the start, end or recurrence changed
/// (RFC 5546 §2.1.4), and DTSTAMP and LAST-MODIFIED move to `now` on any change (RFC 5545
/// §3.8.7.2, §3.8.7.3). Overrides are kept even when the series moves; their RECURRENCE-IDs
/// are the client's to keep matching.
pub fn from_json(input: &EventInput, existing: Option<&str>, now: Timestamp) -> Result<String, EventError> {
    let want = check::check(input)?;
    if let Some(seq) = want.sequence.filter(|s| *s < 0) {
        return Err(EventError::BadValue { field: "sequence".into(), value: seq.to_string(), reason: "SEQUENCE is never negative (RFC 5545 §3.8.7.4)".into() });
    }
    match existing {
        None => create(&want, now),
        Some(text) => update(&want, text, now),
    }
}

fn create(want: &Wanted, now: Timestamp) -> Result<String, EventError> {
    let stamp = ical_utc(now);
    let mut event = Comp::new("VEVENT");
    event.set("UID", &want.uid.clone().unwrap_or_else(new_uid));
    event.set("DTSTAMP", &stamp);
    event.set("CREATED", &stamp);
    event.set("LAST-MODIFIED", &stamp);
    event.set("SEQUENCE", &want.sequence.unwrap_or(0).to_string());
    let mut edit = Edit::default();
    apply(&mut event, want, None, &mut edit)?;
    let mut cal = Comp::new("VCALENDAR");
    cal.set("VERSION", "2.0");
    cal.set("PRODID", PRODID);
    cal.children.push(event);
    add_timezones(&mut cal, &edit.zones, want, now)?;
    finish(cal)
}

fn update(want: &Wanted, existing: &str, now: Timestamp) -> Result<String, EventError> {
    let stored = Stored::parse(existing)?;
    let position = stored.master()?;
    let old = stored.event(position, "")?;
    if let Some(given) = want.uid.as_ref().filter(|u| **u != old.uid) {
        return Err(EventError::UidChanged { stored: old.uid, given: given.clone() });
    }
    let Stored { mut cal, .. } = stored;
    let before = cal.clone();
    let mut edit = Edit::default();
    {
        let master = cal.children.get_mut(position).ok_or(EventError::NoEvent)?;
        apply(master, want, Some(&old), &mut edit)?;
        let sequence = old.sequence.saturating_add(i64::from(edit.significant)).max(want.sequence.unwrap_or(0));
        if sequence != old.sequence {
            master.set("SEQUENCE", &sequence.to_string());
        }
    }
    if cal == before {
        return Ok(existing.to_owned());
    }
    let stamp = ical_utc(now);
    if let Some(master) = cal.children.get_mut(position) {
        for name in ["DTSTAMP", "LAST-MODIFIED"] {
            put(master, Prop::new(name, &stamp), &["UID"]);
        }
    }
    add_timezones(&mut cal, &edit.zones, want, now)?;
    finish(cal)
}

/// What the edits of one write found along the way.
#[derive(Default)]
struct Edit {
    /// The start, end or recurrence changed (RFC 5546 §2.1.4).
    significant: bool,
    /// The zones of the TZIDs written, each needing a VTIMEZONE.
    zones: BTreeSet<String>,
}

/// Writes each field of `want` that differs from `old` (every field when there is no `old`).
fn apply(comp: &mut Comp, want: &Wanted, old: Option<&ApiEvent>, edit: &mut Edit) -> Result<(), EventError> {
    let differs = |same: &dyn Fn(&ApiEvent) -> bool| old.is_none_or(|o| !same(o));
    if differs(&|o| o.title == want.title) {
        set_text(comp, "SUMMARY", Some(want.title.as_str()).filter(|t| !t.is_empty()));
    }
    if differs(&|o| o.description == want.description) {
        set_text(comp, "DESCRIPTION", want.description.as_deref());
    }
    if differs(&|o| o.location == want.location) {
        set_text(comp, "LOCATION", want.location.as_deref());
    }
    if differs(&|o| o.status == want.status) {
        match want.status {
            Some(s) => put(comp, Prop::new("STATUS", s.as_ical()), &[]),
            None => comp.remove("STATUS"),
        }
    }
    if differs(&|o| o.transparency == want.transparency) {
        let value = match want.transparency {
            Transparency::Opaque => "OPAQUE",
            Transparency::Transparent => "TRANSPARENT",
        };
        put(comp, Prop::new("TRANSP", value), &[]);
    }
    let t = &want.times;
    if differs(&|o| o.all_day == t.all_day && o.start == t.json_start && o.end == t.json_end && o.time_zone == t.json_zone) {
        write_times(comp, t);
        edit.significant = true;
        if let Frame::Iana(tz) = t.frame {
            edit.zones.insert(tz.name().to_owned());
        }
    }
    if differs(&|o| o.recurrence == want.recurrence_lines) {
        let position = comp.props.iter().position(|p| RECURRENCE.contains(&p.name.as_str()));
        comp.props.retain(|p| !RECURRENCE.contains(&p.name.as_str()));
        let at = position.or_else(|| after(comp, &["DTEND", "DURATION", "DTSTART"])).unwrap_or(comp.props.len());
        comp.props.splice(at..at, want.recurrence.iter().cloned());
        edit.significant = true;
        edit.zones.extend(want.recurrence.iter().filter_map(|p| p.param("TZID")).filter_map(|id| iana(id).ok()).map(|tz| tz.name().to_owned()));
    }
    if differs(&|o| o.organizer == want.organizer) {
        write_organizer(comp, want.organizer.as_ref())?;
    }
    if differs(&|o| o.attendees == want.attendees) {
        write_attendees(comp, &want.attendees)?;
    }
    if let Some(alarms) = &want.alarms
        && differs(&|o| o.alarms == *alarms)
    {
        write_alarms(comp, alarms, &want.title)?;
    }
    Ok(())
}

/// Sets a TEXT property (RFC 5545 §3.3.11) or removes it. A changed value loses ALTREP, which
/// pointed at a representation of the old text (§3.2.1).
fn set_text(comp: &mut Comp, name: &str, value: Option<&str>) {
    match (value, comp.prop_mut(name)) {
        (Some(v), Some(p)) => {
            p.set_value(&escape_text(v));
            p.remove_param("ALTREP");
        }
        (Some(v), None) => comp.props.push(Prop::new(name, &escape_text(v))),
        (None, _) => comp.remove(name),
    }
}

/// The index just after the first of `names` present (in the order given), if any.
fn after(comp: &Comp, names: &[&str]) -> Option<usize> {
    names.iter().find_map(|n| comp.props.iter().position(|p| p.name == *n)).map(|i| i + 1)
}

/// Replaces the first property of the same name, or inserts after the first of `near`, or
/// appends.
fn put(comp: &mut Comp, prop: Prop, near: &[&str]) {
    if let Some(slot) = comp.props.iter_mut().find(|p| p.name == prop.name) {
        if slot.line() != prop.line() {
            *slot = prop;
        }
        return;
    }
    let at = after(comp, near).unwrap_or(comp.props.len());
    comp.props.insert(at, prop);
}

/// DTSTART, and DTEND in place of DTEND or DURATION (none when `end` is null).
fn write_times(comp: &mut Comp, t: &Times) {
    put(comp, check::dtstart(t), &["DTSTAMP", "UID"]);
    let duration_at = comp.props.iter().position(|p| p.name == "DURATION");
    comp.remove("DURATION");
    match t.end {
        Some(end) => {
            let prop = time_prop("DTEND", end, t.frame);
            match (comp.prop("DTEND").is_some(), duration_at) {
                (false, Some(at)) => comp.props.insert(at, prop),
                _ => put(comp, prop, &["DTSTART"]),
            }
        }
        None => comp.remove("DTEND"),
    }
}

fn same_email(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
}

/// A parameter value with RFC 6868's caret encoding (`"` and line breaks cannot appear raw).
fn param_value(text: &str) -> String {
    text.replace('^', "^^").replace('\n', "^n").replace('"', "^'")
}

fn set_cn(p: &mut Prop, name: Option<&str>) {
    if param_text(p, "CN").as_deref() == name {
        return;
    }
    match name {
        Some(n) => p.set_param("CN", &param_value(n)),
        None => p.remove_param("CN"),
    }
}

/// A new ORGANIZER or ATTENDEE line for a mail address.
fn address_prop(name: &str, field: String, email: &str, cn: Option<&str>) -> Result<Prop, EventError> {
    if !is_email(email) {
        return Err(EventError::BadEmail { field, value: email.into() });
    }
    let mut p = Prop::new(name, &format!("mailto:{email}"));
    set_cn(&mut p, cn);
    Ok(p)
}

/// The ORGANIZER line: the stored one edited when it is the same address (keeping parameters
/// such as SCHEDULE-AGENT or SENT-BY), else a new one.
fn write_organizer(comp: &mut Comp, want: Option<&Person>) -> Result<(), EventError> {
    let Some(want) = want else {
        comp.remove("ORGANIZER");
        return Ok(());
    };
    let prop = match comp.prop("ORGANIZER").filter(|p| same_email(&email_of(p), &want.email)) {
        Some(stored) => {
            let mut p = stored.clone();
            set_cn(&mut p, want.name.as_deref());
            p
        }
        None => address_prop("ORGANIZER", "organizer.email".into(), &want.email, want.name.as_deref())?,
    };
    put(comp, prop, &["DTSTART"]);
    Ok(())
}

/// The ATTENDEE lines in the order given: each stored line of the same address kept, with only
/// the parameters that changed edited (SCHEDULE-STATUS, CUTYPE, EMAIL… stay); new addresses get
/// new lines; addresses no longer listed lose theirs.
fn write_attendees(comp: &mut Comp, want: &[Attendee]) -> Result<(), EventError> {
    let mut pool: Vec<Option<Prop>> = comp.props_named("ATTENDEE").cloned().map(Some).collect();
    let mut lines = Vec::with_capacity(want.len());
    for (i, a) in want.iter().enumerate() {
        if want[..i].iter().any(|b| same_email(&b.email, &a.email)) {
            return Err(EventError::BadValue { field: format!("attendees[{i}].email"), value: a.email.clone(), reason: "this attendee is already listed".into() });
        }
        let stored = pool.iter_mut().find(|s| s.as_ref().is_some_and(|p| same_email(&email_of(p), &a.email))).and_then(Option::take);
        let is_new = stored.is_none();
        let mut p = match stored {
            Some(p) => p,
            None => address_prop("ATTENDEE", format!("attendees[{i}].email"), &a.email, a.name.as_deref())?,
        };
        let now = attendee(&p);
        set_cn(&mut p, a.name.as_deref());
        // A new line states PARTSTAT and ROLE even at their defaults, as clients do.
        if now.partstat != a.partstat || is_new {
            p.set_param("PARTSTAT", &a.partstat.to_ascii_uppercase());
        }
        if now.role != a.role || is_new {
            p.set_param("ROLE", &a.role.to_ascii_uppercase());
        }
        match (now.rsvp, a.rsvp) {
            (false, true) => p.set_param("RSVP", "TRUE"),
            (true, false) => p.remove_param("RSVP"),
            _ => {}
        }
        lines.push(p);
    }
    let at = comp.props.iter().position(|p| p.name == "ATTENDEE").or_else(|| after(comp, &["ORGANIZER"]));
    comp.remove("ATTENDEE");
    let at = at.unwrap_or(comp.props.len()).min(comp.props.len());
    comp.props.splice(at..at, lines);
    Ok(())
}

/// The VALARMs in the order given: a stored VALARM that reads as the same alarm is kept whole
/// (its UID, ACKNOWLEDGED, X- properties), others are written new.
fn write_alarms(comp: &mut Comp, want: &[Alarm], title: &str) -> Result<(), EventError> {
    let mut pool: Vec<Option<Comp>> = comp.children.iter().filter(|c| c.name == "VALARM").cloned().map(Some).collect();
    let mut alarms = Vec::with_capacity(want.len());
    for (index, a) in want.iter().enumerate() {
        let stored = pool.iter_mut().find(|s| s.as_ref().is_some_and(|c| alarm(c) == *a)).and_then(Option::take);
        alarms.push(match stored {
            Some(c) => c,
            None => new_alarm(index, a, title)?,
        });
    }
    let at = comp.children.iter().position(|c| c.name == "VALARM").unwrap_or(comp.children.len());
    comp.children.retain(|c| c.name != "VALARM");
    let at = at.min(comp.children.len());
    comp.children.splice(at..at, alarms);
    Ok(())
}

/// A DISPLAY or AUDIO VALARM (RFC 5545 §3.6.6). DISPLAY requires DESCRIPTION: without one the
/// event's title is used (as Thunderbird does), so it reads back with that description.
fn new_alarm(index: usize, a: &Alarm, title: &str) -> Result<Comp, EventError> {
    let action = match a.action.as_str() {
        "display" => "DISPLAY",
        "audio" => "AUDIO",
        other => {
            return Err(EventError::BadAlarm { index, reason: format!("a new alarm is display or audio; {other:?} is not written (an email alarm needs recipients this model does not carry)") });
        }
    };
    let mut c = Comp::new("VALARM");
    c.set("ACTION", action);
    let mut trigger = match (&a.trigger, a.at.as_deref().and_then(parse_stated)) {
        (Some(duration), _) => Prop::new("TRIGGER", duration),
        (None, Some(Stated::Instant(ts))) => {
            let mut p = Prop::new("TRIGGER", &ical_utc(ts));
            p.set_param("VALUE", "DATE-TIME");
            p
        }
        // check_alarm gave every alarm a trigger or a UTC `at`.
        _ => return Err(EventError::BadAlarm { index, reason: "no trigger".into() }),
    };
    if a.related.is_some() {
        trigger.set_param("RELATED", "END");
    }
    c.props.push(trigger);
    let description = match (&a.description, action) {
        (Some(d), _) => Some(d.as_str()),
        (None, "DISPLAY") => Some(if title.is_empty() { "Reminder" } else { title }),
        (None, _) => None,
    };
    if let Some(d) = description {
        c.set("DESCRIPTION", &escape_text(d));
    }
    Ok(c)
}

/// A VTIMEZONE for each zone written that the object does not define yet, after the ones it
/// has (or first), covering the years the event's times and recurrence name.
fn add_timezones(cal: &mut Comp, zones: &BTreeSet<String>, want: &Wanted, now: Timestamp) -> Result<(), EventError> {
    let defined: BTreeSet<String> = cal.children.iter().filter(|c| c.name == "VTIMEZONE").filter_map(|c| c.value("TZID")).map(|id| id.trim().to_owned()).collect();
    let missing: Vec<&String> = zones.iter().filter(|z| !defined.contains(*z)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mut years: Vec<i32> = [Some(want.times.start), want.times.end].into_iter().flatten().map(|v| match v {
        Value::Date(d) => chrono::Datelike::year(&d),
        Value::Local(t) => chrono::Datelike::year(&t),
    }).collect();
    for p in &want.recurrence {
        years.extend(years_in(p.value()));
        if p.name == "RRULE" && !p.value().to_ascii_uppercase().contains("UNTIL=") {
            // COUNT or no end: the instances run past every year the line names.
            years.extend(chrono::DateTime::from_timestamp(now, 0).map(|t| chrono::Datelike::year(&t)));
        }
    }
    let (from, to) = year_range(years).unwrap_or((1970, 1972));
    let made = missing.into_iter().map(|name| vtimezone(iana(name)?, from, to)).collect::<Result<Vec<_>, _>>()?;
    let at = cal.children.iter().rposition(|c| c.name == "VTIMEZONE").map_or(0, |i| i + 1);
    cal.children.splice(at..at, made);
    Ok(())
}

/// The years of the DATE and DATE-TIME values in a recurrence line (`20261217T100000`,
/// `UNTIL=20271231`).
fn years_in(value: &str) -> impl Iterator<Item = i32> + '_ {
    value
        .split([',', ';', '=', '/'])
        .filter(|v| v.len() >= 8 && v.bytes().take(8).all(|b| b.is_ascii_digit()))
        .filter_map(|v| v.get(..4)?.parse().ok())
}

/// The text, checked by the validation every stored object meets.
fn finish(cal: Comp) -> Result<String, EventError> {
    let out = text::write(&cal, true);
    let any_time = ValidateOptions { min_date_time: Timestamp::MIN, max_date_time: Timestamp::MAX };
    parse_object(out.as_bytes(), &any_time).map_err(|e| EventError::Invalid(e.to_string()))?;
    Ok(out)
}

/// A random UUID (version 4, RFC 9562 §5.4) as the UID of a new event (RFC 5545 §3.8.4.7).
fn new_uid() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}
