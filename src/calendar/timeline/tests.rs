//! Unit tests of stored timelines: which objects get one, what they decide (always checked
//! against exact evaluation), where they stop at the horizon, and unreadable encodings.

use super::*;
use crate::calendar::filter::CompFilter;
use crate::calendar::query::{QueryContext, object_matches, object_matches_with};
use crate::calendar::{ValidateOptions, index_object, timeline_of};
use chrono_tz::Tz;

const BERLIN: Tz = chrono_tz::Europe::Berlin;
const NEW_YORK: Tz = chrono_tz::America::New_York;
const KIRITIMATI: Tz = chrono_tz::Pacific::Kiritimati;
const UTC: Tz = chrono_tz::UTC;

/// A UTC instant written `YYYYMMDDTHHMMSS`.
fn ts(s: &str) -> Timestamp {
    chrono::NaiveDateTime::parse_from_str(s, "%Y%m%dT%H%M%S").unwrap().and_utc().timestamp()
}

/// [start, end) from two `YYYYMMDDTHHMMSS` UTC instants; "" leaves that side open.
fn range(start: &str, end: &str) -> TimeRange {
    let side = |s: &str| (!s.is_empty()).then(|| ts(s));
    TimeRange { start: side(start), end: side(end) }
}

fn event(props: &str) -> String {
    events(&[props])
}

/// One VCALENDAR holding a VEVENT with each of `components`' properties, all of UID x.
fn events(components: &[&str]) -> String {
    let mut text = String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\n");
    for props in components {
        text.push_str("BEGIN:VEVENT\r\nUID:x\r\nDTSTAMP:20240101T000000Z\r\n");
        text.push_str(&props.trim().replace('\n', "\r\n"));
        text.push_str("\r\nEND:VEVENT\r\n");
    }
    text.push_str("END:VCALENDAR\r\n");
    text
}

fn filter(r: TimeRange) -> CompFilter {
    let event = CompFilter { name: "VEVENT".into(), is_not_defined: false, time_range: Some(r), props: vec![], comps: vec![] };
    CompFilter { name: "VCALENDAR".into(), is_not_defined: false, time_range: None, props: vec![], comps: vec![event] }
}

fn ctx(zone: Tz) -> QueryContext {
    QueryContext { zone, max_instances: 10_000 }
}

/// Horizon of the objects below: the rules run on past it.
fn horizon() -> Timestamp {
    ts("20280101T000000")
}

/// The timeline's decision for `r` read in `zone`, after checking it against exact evaluation
/// whenever it decides; and that the combined answer is the exact one either way.
fn decide(data: &str, r: TimeRange, zone: Tz) -> Option<bool> {
    let timeline = timeline_of(data.as_bytes(), horizon()).expect("the object has a timeline");
    let exact = object_matches(data.as_bytes(), &filter(r), ctx(zone)).unwrap();
    let decided = timeline.overlaps(&r, zone);
    if let Some(found) = decided {
        assert_eq!(found, exact, "timeline and exact evaluation disagree on {r:?} in {zone}");
    }
    assert_eq!(object_matches_with(data.as_bytes(), Some(&timeline), &filter(r), ctx(zone)), Ok(exact));
    decided
}

#[test]
fn a_plain_event_is_decided_both_ways_with_the_rfc_boundaries() {
    let data = event("DTSTART:20260303T100000Z\nDTEND:20260303T110000Z");
    assert_eq!(decide(&data, range("20260303T103000", "20260303T103100"), UTC), Some(true));
    assert_eq!(decide(&data, range("20260302T000000", "20260303T000000"), UTC), Some(false));
    // RFC 4791 §9.9: start < END and end > START, so touching either edge is no overlap.
    assert_eq!(decide(&data, range("20260303T110000", "20260303T120000"), UTC), Some(false));
    assert_eq!(decide(&data, range("20260303T090000", "20260303T100000"), UTC), Some(false));
    assert_eq!(decide(&data, range("", "20260303T100001"), BERLIN), Some(true));
}

#[test]
fn an_event_without_length_is_a_point() {
    let data = event("DTSTART:20260303T100000Z");
    assert_eq!(decide(&data, range("20260303T100000", "20260303T110000"), UTC), Some(true));
    assert_eq!(decide(&data, range("20260303T090000", "20260303T100000"), UTC), Some(false));
}

#[test]
fn a_weekly_rule_keeps_its_exdates_overrides_and_wall_clock_across_dst() {
    let data = events(&[
        "DTSTART;TZID=Europe/Berlin:20260302T090000\nDTEND;TZID=Europe/Berlin:20260302T100000\n\
         RRULE:FREQ=WEEKLY\nEXDATE;TZID=Europe/Berlin:20260309T090000",
        "RECURRENCE-ID;TZID=Europe/Berlin:20260316T090000\nDTSTART;TZID=Europe/Berlin:20260317T150000\n\
         DTEND;TZID=Europe/Berlin:20260317T160000",
    ]);
    assert_eq!(decide(&data, range("20260302T080000", "20260302T081500"), UTC), Some(true));
    assert_eq!(decide(&data, range("20260309T000000", "20260310T000000"), UTC), Some(false), "EXDATE");
    assert_eq!(decide(&data, range("20260316T000000", "20260317T000000"), UTC), Some(false), "moved away");
    assert_eq!(decide(&data, range("20260317T140000", "20260317T141500"), UTC), Some(true), "moved here");
    // 09:00 in Berlin is 08:00Z before 29 March 2026 and 07:00Z after it.
    assert_eq!(decide(&data, range("20260330T070000", "20260330T073000"), UTC), Some(true));
    assert_eq!(decide(&data, range("20260330T083000", "20260330T090000"), UTC), Some(false));
    assert_eq!(decide(&data, range("20270103T000000", "20270104T000000"), NEW_YORK), Some(false), "a Sunday");
    assert_eq!(decide(&data, range("20270101T000000", ""), UTC), Some(true));
}

#[test]
fn past_the_horizon_an_unbounded_rule_is_left_to_exact_evaluation() {
    let data = event("DTSTART:20260302T090000Z\nDTEND:20260302T100000Z\nRRULE:FREQ=DAILY");
    let timeline = timeline_of(data.as_bytes(), horizon()).unwrap();
    assert_eq!(timeline.until, Some(horizon()));
    // A match there is found by exact evaluation (decide checks the combined answer).
    assert_eq!(decide(&data, range("20290301T000000", "20290302T000000"), UTC), None);
    assert_eq!(decide(&data, range("20290301T120000", "20290301T130000"), UTC), None);
    assert_eq!(decide(&data, range("20290301T000000", ""), UTC), None);
    // Up to the horizon the stored instances tell, and any stored match tells anywhere.
    assert_eq!(decide(&data, range("20271231T120000", "20280101T000000"), UTC), Some(false));
    assert_eq!(decide(&data, range("20271231T000000", "20290101T000000"), UTC), Some(true));
}

#[test]
fn a_finite_rule_is_stored_whole_beyond_the_horizon() {
    let data = event("DTSTART:20260302T090000Z\nDTEND:20260302T100000Z\nRRULE:FREQ=WEEKLY;COUNT=300");
    let timeline = timeline_of(data.as_bytes(), horizon()).unwrap();
    assert_eq!(timeline.until, None);
    // The 300th instance is 299 weeks after the first: 2031-11-24.
    assert_eq!(decide(&data, range("20311124T000000", "20311125T000000"), UTC), Some(true));
    assert_eq!(decide(&data, range("20311124T100000", ""), UTC), Some(false));
}

#[test]
fn all_day_dates_are_read_in_the_query_zone() {
    let data = event("DTSTART;VALUE=DATE:20260305\nDTEND;VALUE=DATE:20260306\nRRULE:FREQ=YEARLY");
    let late_on_the_4th = range("20260304T230000", "20260305T000000");
    // The day 5 March starts at 10:00Z on the 4th at UTC+14, at 00:00Z in UTC, 05:00Z in New York.
    assert_eq!(decide(&data, late_on_the_4th, KIRITIMATI), Some(true));
    assert_eq!(decide(&data, late_on_the_4th, UTC), Some(false));
    assert_eq!(decide(&data, late_on_the_4th, NEW_YORK), Some(false));
    let early_on_the_6th = range("20260306T020000", "20260306T030000");
    assert_eq!(decide(&data, early_on_the_6th, NEW_YORK), Some(true));
    assert_eq!(decide(&data, early_on_the_6th, UTC), Some(false));
    assert_eq!(decide(&data, range("20270305T120000", "20270305T130000"), BERLIN), Some(true));
}

#[test]
fn objects_whose_instances_move_with_the_zone_or_are_too_many_get_none() {
    let none = |data: String, why: &str| {
        // A valid object, so `None` says "no timeline", not "refused".
        let any_time = ValidateOptions { min_date_time: Timestamp::MIN, max_date_time: Timestamp::MAX };
        let indexed = index_object(data.as_bytes(), &any_time, horizon()).unwrap_or_else(|e| panic!("{why}: {e}"));
        assert_eq!(indexed.timeline, None, "{why}");
    };
    none(event("DTSTART:20260302T090000\nDTEND:20260302T100000"), "floating DATE-TIME");
    none(
        events(&[
            "DTSTART:20260302T090000Z\nRRULE:FREQ=WEEKLY",
            "RECURRENCE-ID;RANGE=THISANDFUTURE:20260316T090000Z\nDTSTART:20260316T100000Z",
        ]),
        "RANGE=THISANDFUTURE",
    );
    none(event("DTSTART:20260302T090000Z\nRRULE:FREQ=HOURLY"), "hourly to the horizon");
    none(event("DTSTART:20260302T090000Z\nRRULE:FREQ=MINUTELY;COUNT=5000"), "more than the cap");
    let todo = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nBEGIN:VTODO\r\nUID:t\r\n\
                DTSTAMP:20240101T000000Z\r\nDTSTART:20260302T090000Z\r\nEND:VTODO\r\nEND:VCALENDAR\r\n";
    none(todo.to_owned(), "a VTODO");
}

#[test]
fn an_unreadable_encoding_decides_nothing() {
    let r = range("20260302T000000", "20260303T000000");
    let unreadable = [vec![], vec![VERSION + 1, 0, 0], vec![VERSION, 0x80], vec![VERSION, 0x02, 0x00]];
    for encoded in unreadable {
        assert_eq!(Timeline { encoded: encoded.clone(), until: None }.overlaps(&r, UTC), None, "{encoded:?}");
    }
}

#[test]
fn a_regular_rule_is_stored_as_a_few_runs() {
    // Daily at 09:00 Berlin: one run between each two DST changes.
    let daily = event("DTSTART;TZID=Europe/Berlin:20260302T090000\nDTEND;TZID=Europe/Berlin:20260302T100000\nRRULE:FREQ=DAILY");
    let timeline = timeline_of(daily.as_bytes(), horizon()).unwrap();
    assert!(timeline.encoded.len() <= 64, "{} bytes for a daily rule", timeline.encoded.len());
    assert_eq!(decide(&daily, range("20271029T070000", "20271029T073000"), UTC), Some(true), "summer time");
    assert_eq!(decide(&daily, range("20271101T080000", "20271101T083000"), UTC), Some(true), "winter time");
    assert_eq!(decide(&daily, range("20271101T070000", "20271101T080000"), UTC), Some(false));
    // Mondays and Wednesdays: the steps alternate, so no run is longer than one.
    let twice = event("DTSTART:20260302T090000Z\nDTEND:20260302T100000Z\nRRULE:FREQ=WEEKLY;BYDAY=MO,WE;COUNT=200");
    let timeline = timeline_of(twice.as_bytes(), horizon()).unwrap();
    assert!(timeline.encoded.len() <= 200 * 5 + 8, "{} bytes for 200 instances", timeline.encoded.len());
    assert_eq!(decide(&twice, range("20260304T093000", "20260304T094500"), UTC), Some(true));
    assert_eq!(decide(&twice, range("20260305T000000", "20260309T000000"), UTC), Some(false));
    assert_eq!(decide(&twice, range("20271231T000000", "20280102T000000"), UTC), Some(false));
}
