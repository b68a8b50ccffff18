//! `instance_json` over `calendar::instances::expand_object`, the listing CalDAV's expand uses.

use serde_json::json;

use super::{NOW, create};
use crate::api::event::{EventError, instance_json, instances_json};
use crate::calendar::instances::expand_object;
use crate::calendar::recur::Window;

const APPLE: &str = include_str!("../../../../fixtures/itip/clients/apple-organizer-series.ics");

fn ts(s: &str) -> i64 {
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%SZ").unwrap().and_utc().timestamp()
}

#[test]
fn an_override_gives_its_own_fields() {
    let window = Window { start: Some(ts("2024-06-10T00:00:00Z")), end: Some(ts("2024-06-25T00:00:00Z")) };
    let found = expand_object(APPLE.as_bytes(), window, chrono_tz::UTC, 100).unwrap();
    let mut events: Vec<_> = found.iter().map(|i| instance_json(APPLE, "\"t\"", i).unwrap()).collect();
    // The listing goes component by component; by time here.
    events.sort_by(|a, b| a.start.cmp(&b.start));
    let got: Vec<(&str, &str, Option<&str>, Option<&str>)> =
        events.iter().map(|e| (e.title.as_str(), e.start.as_str(), e.end.as_deref(), e.recurrence_id.as_deref())).collect();
    assert_eq!(
        got,
        [
            ("Weekly sync", "2024-06-10T08:00:00Z", Some("2024-06-10T09:00:00Z"), Some("2024-06-10T08:00:00Z")),
            // The override moved the 17th to 14:00-15:00 Berlin and renamed it.
            ("Weekly sync (moved)", "2024-06-17T12:00:00Z", Some("2024-06-17T13:00:00Z"), Some("2024-06-17T08:00:00Z")),
            ("Weekly sync", "2024-06-24T08:00:00Z", Some("2024-06-24T09:00:00Z"), Some("2024-06-24T08:00:00Z")),
        ]
    );
    for e in &events {
        assert_eq!((e.time_zone.as_deref(), e.recurrence.len(), e.etag.as_str()), (Some("UTC"), 0, "\"t\""));
        assert_eq!(e.uid, "6A1D6C2E-4B7F-4C1A-9E55-3D2F0A9B8C71");
    }
    assert_eq!((events[0].alarms.len(), events[1].alarms.len()), (1, 0), "the override has no VALARM");
    assert_eq!(events[1].attendees.len(), 2);
    let wire = serde_json::to_value(&events[1]).unwrap();
    assert_eq!(wire["recurrenceId"], json!("2024-06-17T08:00:00Z"));
    // The whole listing at once: the same events, in the listing's order.
    let mut all = instances_json(APPLE, "\"t\"", &found).unwrap();
    all.sort_by(|a, b| a.start.cmp(&b.start));
    assert_eq!(all, events);
}

#[test]
fn single_and_all_day_instances() {
    let (text, _) = create(json!({"title": "once", "start": "2026-12-10T10:00:00", "end": "2026-12-10T11:00:00", "timeZone": "Europe/Berlin"}));
    let all = Window { start: Some(0), end: Some(NOW * 2) };
    let found = expand_object(text.as_bytes(), all, chrono_tz::UTC, 10).unwrap();
    let e = instance_json(&text, "e", &found[0]).unwrap();
    assert_eq!((e.start.as_str(), e.recurrence_id), ("2026-12-10T09:00:00Z", None));
    let (text, _) = create(json!({"title": "days", "allDay": true, "start": "2026-12-24", "recurrence": ["RRULE:FREQ=DAILY;COUNT=2"]}));
    let found = expand_object(text.as_bytes(), all, chrono_tz::Europe::Berlin, 10).unwrap();
    let e = instance_json(&text, "e", &found[1]).unwrap();
    // The listing reads all-day instances in its zone: midnight in Berlin.
    assert_eq!((e.all_day, e.start.as_str(), e.end.as_deref()), (true, "2026-12-24T23:00:00Z", Some("2026-12-25T23:00:00Z")));
    // An index that is not a VEVENT is refused.
    let mut wrong = found[1].clone();
    wrong.component = 0;
    let with_zone = create(json!({"title": "z", "start": "2026-12-10T10:00:00", "timeZone": "Europe/Berlin"})).0;
    assert_eq!(instance_json(&with_zone, "e", &wrong), Err(EventError::NotAnEvent(0)));
}
