//! The JSON event's tests: round trips JSON → iCalendar → JSON (this file), updates of client
//! objects and SEQUENCE (update.rs), expanded instances (instance.rs), refused inputs
//! (errors.rs) and the generated VTIMEZONEs (vtimezone.rs). Every text `from_json` writes
//! passes `checked`: Kalends' own validation and a second parser (the `icalendar` crate).

#![allow(clippy::unwrap_used)]

mod errors;
mod instance;
mod update;
mod vtimezone;

use serde_json::json;

use super::*;
use crate::calendar::{ValidateOptions, index_object};

/// 2026-12-05T17:00:00Z, the `now` of every write here.
const NOW: i64 = 1_796_490_000;

/// `text` as Kalends stores it: validated, indexed with its timeline; and readable by the
/// `icalendar` crate. Returns it for chaining.
fn checked(text: &str) -> &str {
    checked_over(None, text)
}

/// `checked`, for a rewrite of `stored`: the `icalendar` crate reads it if it read `stored`
/// (it refuses some client bytes that are kept as they are, like Apple's `\;` in a parameter).
fn checked_over<'t>(stored: Option<&str>, text: &'t str) -> &'t str {
    let any_time = ValidateOptions { min_date_time: i64::MIN, max_date_time: i64::MAX };
    if let Err(e) = index_object(text.as_bytes(), &any_time, NOW + 86_400 * 366) {
        panic!("not a valid object: {e}\n{text}");
    }
    if stored.is_none_or(|s| s.parse::<icalendar::Calendar>().is_ok()) {
        let parsed: icalendar::Calendar = text.parse().unwrap_or_else(|e| panic!("icalendar: {e}\n{text}"));
        assert!(!parsed.components.is_empty(), "{text}");
    }
    match stored {
        // A new object: CRLF, folded at 75 octets (RFC 5545 §3.1).
        None => assert!(text.ends_with("\r\n") && text.split("\r\n").all(|l| l.len() <= 75 && !l.contains('\n')), "{text}"),
        // A rewrite is written with CRLF; an unchanged one is the stored text itself.
        Some(s) if s != text => assert!(!text.replace("\r\n", "").contains('\n'), "{text}"),
        Some(_) => {}
    }
    text
}

fn input(value: serde_json::Value) -> EventInput {
    serde_json::from_value(value).unwrap()
}

/// A new object for `value`, checked, and read back.
fn create(value: serde_json::Value) -> (String, ApiEvent) {
    let text = from_json(&input(value), None, NOW).unwrap();
    checked(&text);
    let back = to_json(&text, "\"etag-1\"").unwrap();
    (text, back)
}

/// The unfolded content lines of `text`.
fn lines(text: &str) -> Vec<String> {
    text.replace("\r\n ", "").split("\r\n").filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

fn has_line(text: &str, line: &str) -> bool {
    lines(text).iter().any(|l| l == line)
}

/// The JSON given is what comes back, field for field (absent fields at their defaults).
fn assert_round_trip(value: serde_json::Value) -> (String, ApiEvent) {
    let (text, back) = create(value.clone());
    let mut expected = serde_json::to_value(&back).unwrap();
    for (k, v) in value.as_object().unwrap() {
        expected[k] = v.clone();
    }
    assert_eq!(serde_json::to_value(&back).unwrap(), expected, "{text}");
    (text, back)
}

#[test]
fn timed_event_in_a_zone_round_trips_with_its_vtimezone() {
    let (text, back) = assert_round_trip(json!({
        "uid": "standup@example.org", "title": "Standup, daily; \\ really", "description": "Line 1\nLine 2",
        "location": "Room 4", "status": "confirmed", "transparency": "transparent",
        "start": "2026-12-10T10:00:00", "end": "2026-12-10T10:30:00", "timeZone": "Europe/Berlin",
    }));
    assert!(has_line(&text, "DTSTART;TZID=Europe/Berlin:20261210T100000"), "{text}");
    assert!(has_line(&text, "DTEND;TZID=Europe/Berlin:20261210T103000"), "{text}");
    assert!(has_line(&text, "SUMMARY:Standup\\, daily\\; \\\\ really"), "{text}");
    assert!(has_line(&text, "DESCRIPTION:Line 1\\nLine 2"), "{text}");
    assert!(text.contains("BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\n"), "{text}");
    assert!(text.find("BEGIN:VTIMEZONE") < text.find("BEGIN:VEVENT"), "zones first: {text}");
    for stamp in ["DTSTAMP:20261205T170000Z", "CREATED:20261205T170000Z", "LAST-MODIFIED:20261205T170000Z", "SEQUENCE:0"] {
        assert!(has_line(&text, stamp), "{stamp}: {text}");
    }
    assert_eq!((back.etag.as_str(), back.created.as_deref()), ("\"etag-1\"", Some("2026-12-05T17:00:00Z")));
    // The wire shape: camelCase, no recurrenceId outside an expansion.
    let wire = serde_json::to_value(&back).unwrap();
    for key in ["allDay", "timeZone", "lastModified", "attendees", "alarms", "sequence"] {
        assert!(wire.get(key).is_some(), "{key}: {wire}");
    }
    assert!(wire.get("recurrenceId").is_none() && wire.get("all_day").is_none(), "{wire}");
}

#[test]
fn utc_times_by_name_or_by_offset() {
    let (text, back) = assert_round_trip(json!({"title": "u", "start": "2026-12-10T10:00:00", "end": "2026-12-10T11:00:00", "timeZone": "UTC"}));
    assert!(has_line(&text, "DTSTART:20261210T100000Z") && !text.contains("VTIMEZONE"), "{text}");
    assert_eq!(back.time_zone.as_deref(), Some("UTC"));
    // An offset without a zone names an instant, stored in UTC.
    let (text, back) = create(json!({"title": "o", "start": "2026-12-10T10:00+01:00", "end": "2026-12-10T10:30:00Z"}));
    assert!(has_line(&text, "DTSTART:20261210T090000Z") && has_line(&text, "DTEND:20261210T103000Z"), "{text}");
    assert_eq!((back.start.as_str(), back.time_zone.as_deref()), ("2026-12-10T09:00:00", Some("UTC")));
    // With a zone, the instant is read in it.
    let (text, _) = create(json!({"title": "z", "start": "2026-12-10T09:00:00Z", "timeZone": "europe/berlin"}));
    assert!(has_line(&text, "DTSTART;TZID=Europe/Berlin:20261210T100000"), "{text}");
}

#[test]
fn floating_times_have_no_zone() {
    let (text, back) = assert_round_trip(json!({"title": "f", "start": "2026-12-10T10:00:00", "end": "2026-12-10T12:00:00", "timeZone": null}));
    assert!(has_line(&text, "DTSTART:20261210T100000") && has_line(&text, "DTEND:20261210T120000"), "{text}");
    assert!(!text.contains("TZID") && !text.contains("VTIMEZONE"), "{text}");
    assert_eq!(back.time_zone, None);
    // Seconds are optional on input and always present on output.
    let (_, back) = create(json!({"title": "f", "start": "2026-12-10T10:00"}));
    assert_eq!((back.start.as_str(), back.end), ("2026-12-10T10:00:00", None));
}

#[test]
fn all_day_single_and_multi_day() {
    let (text, back) = assert_round_trip(json!({"title": "Holiday", "allDay": true, "start": "2026-12-24", "end": "2026-12-25"}));
    assert!(has_line(&text, "DTSTART;VALUE=DATE:20261224") && has_line(&text, "DTEND;VALUE=DATE:20261225"), "{text}");
    assert_eq!(back.time_zone, None);
    let (text, _) = assert_round_trip(json!({"title": "Trip", "allDay": true, "start": "2026-12-24", "end": "2027-01-02"}));
    assert!(has_line(&text, "DTEND;VALUE=DATE:20270102"), "{text}");
    // Without an end: one day (RFC 5545 §3.6.1), and no DTEND written.
    let (text, back) = assert_round_trip(json!({"title": "Day", "allDay": true, "start": "2026-12-24"}));
    assert!(!text.contains("DTEND") && back.end.is_none(), "{text}");
}

#[test]
fn recurrence_lines_round_trip_and_expand() {
    let recurrence = json!(["RRULE:FREQ=WEEKLY;BYDAY=TH;COUNT=4", "EXDATE;TZID=Europe/Berlin:20261217T100000", "RDATE;TZID=America/New_York:20270201T090000"]);
    let (text, back) = assert_round_trip(json!({
        "title": "Weekly", "start": "2026-12-10T10:00:00", "end": "2026-12-10T11:00:00", "timeZone": "Europe/Berlin",
        "recurrence": recurrence,
    }));
    // The RDATE's zone gets its VTIMEZONE too.
    assert!(text.contains("TZID:America/New_York\r\n") && text.contains("TZID:Europe/Berlin\r\n"), "{text}");
    let window = crate::calendar::recur::Window { start: Some(0), end: Some(NOW * 2) };
    let found = crate::calendar::instances::expand_object(text.as_bytes(), window, chrono_tz::UTC, 100).unwrap();
    let starts: Vec<String> = found.iter().map(|i| time::json_utc(i.start.unwrap())).collect();
    assert_eq!(starts, ["2026-12-10T09:00:00Z", "2026-12-24T09:00:00Z", "2026-12-31T09:00:00Z", "2027-02-01T14:00:00Z"]);
    assert_eq!(back.recurrence.len(), 3);
}

#[test]
fn organizer_and_attendees_round_trip() {
    let (text, back) = assert_round_trip(json!({
        "title": "Meeting", "start": "2026-12-10T10:00:00", "timeZone": "Europe/Berlin",
        "organizer": {"email": "alice@example.org", "name": "Alice \"Al\" Smith"},
        "attendees": [
            {"email": "alice@example.org", "name": "Alice \"Al\" Smith", "partstat": "accepted", "role": "chair", "rsvp": false},
            {"email": "bob@example.org", "name": "Doe, Bob", "partstat": "needs-action", "role": "req-participant", "rsvp": true},
            {"email": "carol@example.org", "name": null, "partstat": "tentative", "role": "opt-participant", "rsvp": false},
        ],
    }));
    // RFC 6868 for the quote, RFC 5545 §3.2 quoting for the comma.
    assert!(has_line(&text, "ORGANIZER;CN=Alice ^'Al^' Smith:mailto:alice@example.org"), "{text}");
    assert!(has_line(&text, "ATTENDEE;CN=\"Doe, Bob\";PARTSTAT=NEEDS-ACTION;ROLE=REQ-PARTICIPANT;RSVP=TRUE:mailto:bob@example.org"), "{text}");
    assert_eq!(back.attendees[2].name, None);
    // Defaults for what the input leaves out.
    let (_, back) = create(json!({"title": "m", "start": "2026-12-10T10:00:00", "attendees": [{"email": "d@example.org"}]}));
    assert_eq!(back.attendees, [Attendee { email: "d@example.org".into(), name: None, partstat: "needs-action".into(), role: "req-participant".into(), rsvp: false }]);
}

#[test]
fn alarms_relative_to_start_and_end_and_absolute() {
    let (text, back) = assert_round_trip(json!({
        "title": "Call", "start": "2026-12-10T10:00:00", "end": "2026-12-10T11:00:00", "timeZone": "Europe/Berlin",
        "alarms": [
            {"action": "display", "trigger": "-PT15M", "description": "Call soon"},
            {"action": "audio", "trigger": "-PT5M", "related": "end", "description": null},
            {"action": "display", "at": "2026-12-10T08:00:00Z", "description": "Prepare"},
        ],
    }));
    let alarms = text.split("BEGIN:VALARM").skip(1).collect::<Vec<_>>();
    assert_eq!(alarms.len(), 3, "{text}");
    assert!(alarms[0].contains("ACTION:DISPLAY\r\nTRIGGER:-PT15M\r\nDESCRIPTION:Call soon\r\n"), "{text}");
    assert!(alarms[1].contains("ACTION:AUDIO\r\nTRIGGER;RELATED=END:-PT5M\r\nEND:VALARM"), "{text}");
    assert!(alarms[2].contains("TRIGGER;VALUE=DATE-TIME:20261210T080000Z\r\n"), "{text}");
    let wire = serde_json::to_value(&back.alarms).unwrap();
    assert_eq!(wire[0], json!({"action": "display", "trigger": "-PT15M", "description": "Call soon"}));
    assert_eq!(wire[2], json!({"action": "display", "at": "2026-12-10T08:00:00Z", "description": "Prepare"}));
    // A display alarm needs DESCRIPTION (RFC 5545 §3.6.6): the title stands in; `related:
    // start` is the default and reads back absent.
    let (_, back) = create(json!({"title": "Call", "start": "2026-12-10T10:00:00", "alarms": [{"trigger": "PT0S", "related": "start"}]}));
    assert_eq!(back.alarms, [Alarm { action: "display".into(), trigger: Some("PT0S".into()), related: None, at: None, description: Some("Call".into()) }]);
}

#[test]
fn new_uids_are_random_uuids_and_empty_titles_are_allowed() {
    let (_, a) = create(json!({"title": "", "start": "2026-12-10T10:00:00"}));
    let (text, b) = create(json!({"start": "2026-12-10T10:00:00"}));
    assert_ne!(a.uid, b.uid);
    let shape: Vec<usize> = a.uid.split('-').map(str::len).collect();
    assert_eq!((shape, a.uid.chars().nth(14)), (vec![8, 4, 4, 4, 12], Some('4')));
    assert_eq!(b.title, "");
    assert!(!text.contains("SUMMARY"), "{text}");
}

#[test]
fn durations_x_components_and_overrides_read_as_json() {
    let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:X-THING\r\nUID:z\r\nEND:X-THING\r\nBEGIN:VEVENT\r\nUID:d\r\nDTSTAMP:20260101T000000Z\r\n\
DTSTART;TZID=America/New_York:20261101T010000\r\nDURATION:PT2H\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:d\r\n\
RECURRENCE-ID;TZID=America/New_York:20261101T010000\r\nDTSTART:20261101T050000Z\r\nSUMMARY:override\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let back = to_json(ics, "e").unwrap();
    // 01:00 EDT + 2 h is 02:00 EST: the end in the start's zone after the DST change.
    assert_eq!((back.start.as_str(), back.end.as_deref()), ("2026-11-01T01:00:00", Some("2026-11-01T02:00:00")));
    assert_eq!(back.title, "", "the override is not the event");
    let all_day = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTART;VALUE=DATE:20261224\r\nDURATION:P2D\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    assert_eq!(to_json(all_day, "e").unwrap().end.as_deref(), Some("2026-12-26"));
    let todo = all_day.replace("VEVENT", "VTODO");
    assert_eq!(to_json(&todo, "e"), Err(EventError::NoEvent));
}

#[test]
fn the_openapi_schemas_use_the_wire_names() {
    use utoipa::PartialSchema;
    let event = serde_json::to_value(ApiEvent::schema()).unwrap();
    for key in ["allDay", "timeZone", "lastModified", "recurrenceId", "attendees"] {
        assert!(event["properties"].get(key).is_some(), "{key}: {event}");
    }
    let input = serde_json::to_value(EventInput::schema()).unwrap();
    assert_eq!(input["required"], json!(["start"]), "{input}");
    assert!(input["properties"].get("etag").is_none(), "{input}");
}
