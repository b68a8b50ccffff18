//! Updates of client-written objects: what the JSON model does not know stays byte for byte,
//! and SEQUENCE moves by RFC 5546 §2.1.4.

use serde_json::json;

use super::{NOW, checked_over, has_line, lines};
use crate::api::event::{EventError, EventInput, from_json, to_json};
use crate::sched::text;

const APPLE: &str = include_str!("../../../../fixtures/itip/clients/apple-organizer-series.ics");
const THUNDERBIRD: &str = include_str!("../../../../fixtures/itip/clients/thunderbird-organizer.ics");
const IPHONE: &str = include_str!(
    "../../../../fixtures/ics-corpus/ical4j__src__test__resources__net__fortuna__ical4j__data__apple-iphone-os-26-structured-location.ics"
);

/// The stored event as input, edited by `edit`, written over `stored`.
fn rewrite(stored: &str, edit: impl FnOnce(&mut EventInput)) -> String {
    let mut input = EventInput::from(to_json(stored, "e").unwrap());
    edit(&mut input);
    let out = from_json(&input, Some(stored), NOW).unwrap();
    checked_over(Some(stored), &out);
    out
}

/// `after` equals `before` but for the master's properties named: every other line of every
/// component as it was written (folding included), in its place; CRLF throughout.
fn assert_only_changed(before: &str, after: &str, names: &[&str]) {
    let strip = |text: &str| {
        let mut cal = text::parse(text).unwrap();
        let master = cal.children.iter_mut().find(|c| c.name == "VEVENT" && c.prop("RECURRENCE-ID").is_none()).unwrap();
        master.props.retain(|p| !names.contains(&p.name.as_str()));
        text::write(&cal, true)
    };
    assert_eq!(strip(before), strip(after));
}

fn sequence(text: &str) -> i64 {
    to_json(text, "e").unwrap().sequence
}

#[test]
fn fixtures_are_written_back_verbatim_by_the_tree() {
    // What makes `assert_only_changed` a byte-for-byte comparison: the untouched tree is the file.
    for fixture in [APPLE, THUNDERBIRD] {
        assert_eq!(text::write(&text::parse(fixture).unwrap(), true), fixture);
    }
    // Stored with LF: the tree writes CRLF (RFC 5545 §3.1) and changes nothing else.
    assert_eq!(text::write(&text::parse(IPHONE).unwrap(), true), IPHONE.replace('\n', "\r\n"));
}

#[test]
fn unchanged_input_returns_the_stored_text() {
    for fixture in [APPLE, THUNDERBIRD, IPHONE] {
        let input = EventInput::from(to_json(fixture, "e").unwrap());
        assert_eq!(from_json(&input, Some(fixture), NOW).unwrap(), fixture);
    }
}

#[test]
fn apple_title_change_rewrites_three_lines_of_the_master() {
    let out = rewrite(APPLE, |i| i.title = "Weekly sync, renamed".into());
    let expected = APPLE
        .replacen("SUMMARY:Weekly sync\r\n", "SUMMARY:Weekly sync\\, renamed\r\n", 1)
        .replacen("DTSTAMP:20240601T100000Z\r\n", "DTSTAMP:20261205T170000Z\r\n", 1)
        .replacen("LAST-MODIFIED:20240601T100000Z\r\n", "LAST-MODIFIED:20261205T170000Z\r\n", 1);
    assert_ne!(expected, APPLE);
    assert_eq!(out, expected);
    assert_eq!(sequence(&out), 0, "a title is not a significant change");
}

#[test]
fn thunderbird_reschedule_keeps_its_x_moz_lines_attendees_and_alarm() {
    let out = rewrite(THUNDERBIRD, |i| {
        i.start = "2024-06-13T09:00:00".into();
        i.end = Some("2024-06-13T10:30:00".into());
    });
    assert!(has_line(&out, "DTSTART;TZID=Europe/Berlin:20240613T090000") && has_line(&out, "DTEND;TZID=Europe/Berlin:20240613T103000"), "{out}");
    assert_only_changed(THUNDERBIRD, &out, &["DTSTART", "DTEND", "SEQUENCE", "DTSTAMP", "LAST-MODIFIED"]);
    assert_eq!(sequence(&out), 1);
    assert_eq!(out.matches("BEGIN:VTIMEZONE").count(), 1, "its own VTIMEZONE serves the new times");
    for kept in ["X-MOZ-SEND-INVITATIONS:TRUE", "X-MOZ-GENERATION:2", "TRIGGER;VALUE=DURATION:-PT15M"] {
        assert!(has_line(&out, kept), "{kept}: {out}");
    }
    // A new zone gets a VTIMEZONE after the stored one, which stays.
    let moved = rewrite(&out, |i| i.time_zone = Some("America/New_York".into()));
    assert!(moved.contains("TZID:Europe/Berlin\r\nX-LIC-LOCATION:Europe/Berlin\r\n") && moved.contains("TZID:America/New_York\r\n"), "{moved}");
    assert!(moved.find("TZID:America/New_York") < moved.find("BEGIN:VEVENT"), "{moved}");
    assert_eq!(sequence(&moved), 2);
}

#[test]
fn apple_attendee_edits_touch_only_their_lines() {
    let out = rewrite(APPLE, |i| {
        i.attendees[1].partstat = "accepted".into();
        i.attendees.remove(2);
        i.attendees.push(serde_json::from_value(json!({"email": "dave@example.org", "name": "Dave"})).unwrap());
    });
    let attendees: Vec<String> = lines(&out).into_iter().filter(|l| l.starts_with("ATTENDEE")).collect();
    assert_eq!(attendees.len(), 3 + 2, "the override keeps its two: {out}");
    assert_eq!(
        attendees[1],
        "ATTENDEE;CN=\"Bob Builder\";CUTYPE=INDIVIDUAL;EMAIL=\"bob@example.com\";PARTSTAT=ACCEPTED;ROLE=REQ-PARTICIPANT;RSVP=TRUE;SCHEDULE-STATUS=1.2:mailto:bob@example.com"
    );
    assert_eq!(attendees[2], "ATTENDEE;CN=Dave;PARTSTAT=NEEDS-ACTION;ROLE=REQ-PARTICIPANT:mailto:dave@example.org");
    // Olivia's folded line is the client's, byte for byte.
    assert!(out.contains("ATTENDEE;CN=\"Olivia Organizer\";CUTYPE=INDIVIDUAL;EMAIL=\"olivia@example.com\"\r\n ;PARTSTAT=ACCEPTED;ROLE=CHAIR:mailto:olivia@example.com\r\n"), "{out}");
    assert_only_changed(APPLE, &out, &["ATTENDEE", "DTSTAMP", "LAST-MODIFIED"]);
    assert_eq!(sequence(&out), 0);
}

#[test]
fn alarms_absent_kept_equal_kept_present_replaced() {
    let apple_alarm = "BEGIN:VALARM\r\nX-WR-ALARMUID:0E8A3E5C-77B4-4F2B-8B8B-6E1E2B0C9D11\r\n";
    let out = rewrite(APPLE, |i| {
        i.alarms = None;
        i.location = Some("Room 5".into());
    });
    assert!(out.contains(apple_alarm), "{out}");
    assert_only_changed(APPLE, &out, &["LOCATION", "DTSTAMP", "LAST-MODIFIED"]);
    // The same alarm plus a new one: Apple's is kept whole, the new one follows.
    let out = rewrite(APPLE, |i| {
        let alarms = i.alarms.as_mut().unwrap();
        alarms.push(serde_json::from_value(json!({"trigger": "-P1D", "description": "Tomorrow"})).unwrap());
    });
    assert!(out.contains(apple_alarm) && out.contains("ACTION:DISPLAY\r\nTRIGGER:-P1D\r\nDESCRIPTION:Tomorrow\r\n"), "{out}");
    assert!(out.find("X-APPLE-DEFAULT-ALARM") < out.find("TRIGGER:-P1D"), "{out}");
    let out = rewrite(APPLE, |i| i.alarms = Some(Vec::new()));
    assert!(!out.contains("VALARM"), "{out}");
    // A stored email alarm survives a round trip; a new one is refused (no recipients here).
    let email = THUNDERBIRD.replace("ACTION:DISPLAY", "ACTION:EMAIL\nSUMMARY:s\nATTENDEE:mailto:o@example.com");
    let input = EventInput::from(to_json(&email, "e").unwrap());
    assert_eq!(input.alarms.as_ref().unwrap()[0].action, "email");
    assert_eq!(from_json(&input, Some(&email), NOW).unwrap(), email);
    let mut other = input.clone();
    other.alarms.as_mut().unwrap()[0].trigger = Some("-PT30M".into());
    assert!(matches!(from_json(&other, Some(&email), NOW), Err(EventError::BadAlarm { index: 0, .. })));
}

#[test]
fn iphone_structured_location_and_escapes_survive_a_description_edit() {
    let out = rewrite(IPHONE, |i| i.description = None);
    assert!(!out.contains("DESCRIPTION"), "{out}");
    assert_only_changed(IPHONE, &out, &["DESCRIPTION", "DTSTAMP", "LAST-MODIFIED"]);
    assert_eq!(to_json(&out, "e").unwrap().location.as_deref(), Some("Hauptstraße 1-5; 4041 Linz"));
}

#[test]
fn sequence_goes_up_for_time_and_recurrence_changes_only() {
    let base = rewrite(THUNDERBIRD, |_| {});
    assert_eq!(base, THUNDERBIRD);
    type Edit = Box<dyn Fn(&mut EventInput)>;
    let cases: [(&str, Edit, i64); 7] = [
        ("title", Box::new(|i| i.title = "x".into()), 0),
        ("attendees", Box::new(|i| i.attendees.truncate(1)), 0),
        ("status", Box::new(|i| i.status = Some(crate::api::event::EventStatus::Tentative)), 0),
        ("start", Box::new(|i| i.start = "2024-06-12T13:00:00".into()), 1),
        ("end", Box::new(|i| i.end = None), 1),
        ("recurrence", Box::new(|i| i.recurrence = vec!["RRULE:FREQ=DAILY;COUNT=2".into()]), 1),
        ("a larger SEQUENCE given", Box::new(|i| i.sequence = Some(7)), 7),
    ];
    for (what, edit, expected) in cases {
        assert_eq!(sequence(&rewrite(THUNDERBIRD, edit)), expected, "{what}");
    }
    // A smaller one given does not lower it; a second reschedule raises it again.
    let once = rewrite(THUNDERBIRD, |i| i.start = "2024-06-12T13:00:00".into());
    let twice = rewrite(&once, |i| {
        i.start = "2024-06-12T15:00:00".into();
        i.sequence = Some(0);
    });
    assert_eq!(sequence(&twice), 2);
}

#[test]
fn the_uid_of_a_stored_event_does_not_change() {
    let mut input = EventInput::from(to_json(APPLE, "e").unwrap());
    input.uid = Some("other".into());
    assert!(matches!(from_json(&input, Some(APPLE), NOW), Err(EventError::UidChanged { .. })));
    input.uid = None;
    input.title = "t".into();
    assert_eq!(to_json(&from_json(&input, Some(APPLE), NOW).unwrap(), "e").unwrap().uid, "6A1D6C2E-4B7F-4C1A-9E55-3D2F0A9B8C71");
}

#[test]
fn a_private_tzid_reads_as_its_iana_zone_and_is_replaced_only_when_the_times_change() {
    let custom = include_str!("../../../../fixtures/recurrence/cases/corpus-custom-tzid-newyork.ics");
    let back = to_json(custom, "e").unwrap();
    assert_eq!((back.time_zone.as_deref(), back.start.as_str()), (Some("America/New_York"), "2014-08-29T08:00:00"));
    assert_eq!(rewrite(custom, |_| {}), custom);
    let out = rewrite(custom, |i| i.title = "renamed".into());
    assert!(has_line(&out, "DTSTART;TZID=custom_America/New_York;VALUE=DATE-TIME:20140829T080000"), "{out}");
    let out = rewrite(custom, |i| i.start = "2014-08-29T07:00:00".into());
    assert!(has_line(&out, "DTSTART;TZID=America/New_York:20140829T070000") && has_line(&out, "DTEND;TZID=America/New_York:20140829T100000"), "{out}");
    // The client's VTIMEZONE stays (an override might use it); the IANA one joins it.
    assert!(out.contains("TZID:custom_America/New_York\r\n") && out.contains("BEGIN:VTIMEZONE\r\nTZID:America/New_York\r\n"), "{out}");
    assert_eq!(to_json(&out, "e").unwrap().start, "2014-08-29T07:00:00");
}
