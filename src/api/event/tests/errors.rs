//! Inputs `from_json` refuses, each with the field named.

use serde_json::json;

use super::{NOW, input};
use crate::api::event::{EventError, from_json};

/// The error for `value` (a create) and the field it names.
fn refused(value: serde_json::Value) -> (EventError, Option<String>) {
    let err = from_json(&input(value.clone()), None, NOW).expect_err(&value.to_string());
    let field = err.field();
    (err, field)
}

fn timed(extra: serde_json::Value) -> serde_json::Value {
    let mut v = json!({"title": "t", "start": "2026-12-10T10:00:00", "end": "2026-12-10T11:00:00", "timeZone": "Europe/Berlin"});
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    v
}

#[test]
fn times_that_do_not_fit() {
    let (e, f) = refused(timed(json!({"end": "2026-12-10T09:00:00"})));
    assert_eq!(e, EventError::EndBeforeStart { start: "2026-12-10T10:00:00".into(), end: "2026-12-10T09:00:00".into() });
    assert_eq!(f.as_deref(), Some("end"));
    assert!(e.to_string().contains("before `start`"), "{e}");
    let (e, f) = refused(json!({"allDay": true, "start": "2026-12-10T10:00:00"}));
    assert!(matches!(e, EventError::AllDayWithTime { field: "start", .. }) && f.as_deref() == Some("start"), "{e}");
    assert!(matches!(refused(timed(json!({"start": "2026-12-10"}))).0, EventError::TimedWithDate { field: "start", .. }));
    assert!(matches!(refused(json!({"allDay": true, "start": "2026-12-10", "end": "2026-12-10"})).0, EventError::EmptyAllDay { .. }));
    assert!(matches!(refused(json!({"allDay": true, "start": "2026-12-10", "timeZone": "Europe/Berlin"})).0, EventError::ZoneOnAllDay(_)));
    let (e, f) = refused(timed(json!({"timeZone": "Mars/Olympus_Mons"})));
    assert_eq!((e.to_string().contains("\"Mars/Olympus_Mons\" is not an IANA"), f.as_deref()), (true, Some("timeZone")), "{e}");
    assert_eq!(refused(json!({"start": "2026-12-10T10:00:00Z", "end": "2026-12-10T11:00:00"})).0, EventError::MixedOffsets);
    for bad in ["2026-13-10T10:00:00", "10:00", "2026-12-10T10:00:00.5", "2026-12-10 10:00", ""] {
        assert!(matches!(refused(timed(json!({"start": bad}))).0, EventError::BadTime { field: "start", .. }), "{bad}");
    }
}

#[test]
fn recurrence_lines_that_do_not_parse() {
    for (line, says) in [
        ("FREQ=WEEKLY", "no ':'"),
        ("RRULE:FREQ=SOMETIMES", "RRULE"),
        ("RRULE:FREQ=WEEKLY;BYDAY=XX", "RRULE"),
        ("DTSTART:20261210T100000Z", "not DTSTART"),
        ("EXDATE;TZID=Nowhere/Town:20261217T100000", "not an IANA"),
        ("EXDATE:tomorrow", "EXDATE"),
        ("RRULE:FREQ=DAILY\r\nX-INJECTED:1", "line breaks"),
    ] {
        let (e, f) = refused(timed(json!({"recurrence": [line]})));
        assert!(matches!(&e, EventError::BadRecurrence { line: l, .. } if l == line), "{line}: {e}");
        assert!(e.to_string().contains(says), "{line}: {e}");
        assert_eq!(f.as_deref(), Some("recurrence"));
    }
}

#[test]
fn people_that_are_not_addresses() {
    let (e, f) = refused(timed(json!({"organizer": {"email": "mailto:a@example.org"}})));
    assert!(matches!(e, EventError::BadEmail { .. }) && f.as_deref() == Some("organizer.email"), "{e}");
    for bad in ["a", "a@", "@b", "a b@c.d", "a@b@c", "a@b;x=y"] {
        let (e, f) = refused(timed(json!({"attendees": [{"email": "ok@example.org"}, {"email": bad}]})));
        assert!(matches!(e, EventError::BadEmail { .. }), "{bad}: {e}");
        assert_eq!(f.as_deref(), Some("attendees[1].email"));
    }
    let (e, f) = refused(timed(json!({"attendees": [{"email": "a@example.org"}, {"email": "A@Example.org"}]})));
    assert!(e.to_string().contains("already listed") && f.as_deref() == Some("attendees[1].email"), "{e}");
    let (e, f) = refused(timed(json!({"attendees": [{"email": "a@example.org", "partstat": "yes please"}]})));
    assert!(matches!(e, EventError::BadValue { .. }) && f.as_deref() == Some("attendees[0].partstat"), "{e}");
}

#[test]
fn alarms_and_other_fields() {
    let alarm = |a: serde_json::Value| refused(timed(json!({"alarms": [{"trigger": "-PT5M"}, a]})));
    for (bad, says) in [
        (json!({"trigger": "15 minutes"}), "not a duration"),
        (json!({"trigger": "-PT15M", "at": "2026-12-10T08:00:00Z"}), "not both"),
        (json!({"description": "x"}), "give `trigger`"),
        (json!({"at": "2026-12-10T08:00:00"}), "in UTC"),
        (json!({"at": "2026-12-10T08:00:00Z", "related": "end"}), "`related`"),
        (json!({"action": "email", "trigger": "-PT5M"}), "display or audio"),
        (json!({"action": "procedure", "trigger": "-PT5M"}), "display or audio"),
    ] {
        let (e, f) = alarm(bad.clone());
        assert!(matches!(e, EventError::BadAlarm { index: 1, .. }) && e.to_string().contains(says), "{bad}: {e}");
        assert_eq!(f.as_deref(), Some("alarms[1]"));
    }
    for ok in ["P1W", "-P1D", "+PT1H30M", "PT0S", "-P1DT2H", "PT1M30S"] {
        assert!(from_json(&input(timed(json!({"alarms": [{"trigger": ok}]}))), None, NOW).is_ok(), "{ok}");
    }
    for bad in ["P", "PT", "P1H", "PT1H1S", "P1W2D", "-PT1M1H", "P1DT"] {
        assert!(matches!(alarm(json!({"trigger": bad})).0, EventError::BadAlarm { .. }), "{bad}");
    }
    let (e, f) = refused(timed(json!({"uid": "a,b"})));
    assert_eq!((matches!(e, EventError::BadValue { .. }), f.as_deref()), (true, Some("uid")), "{e}");
    assert!(matches!(refused(timed(json!({"title": "bell\u{7}"}))).0, EventError::BadValue { .. }));
    assert!(matches!(refused(timed(json!({"sequence": -1}))).0, EventError::BadValue { .. }));
    // Unreadable stored objects are not inputs: their own error.
    let stored = from_json(&input(timed(json!({}))), Some("BEGIN:VCALENDAR\r\n"), NOW);
    assert!(matches!(stored, Err(EventError::Stored(_))), "{stored:?}");
}
