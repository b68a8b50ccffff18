//! Unit tests of calendar-query evaluation: structural filters, and every RFC 4791 §9.9 time
//! test with its boundaries, recurrence, overrides, zones, alarms and the instance cap.

use super::*;
use crate::calendar::filter::{Collation, PropFilter, TextMatch};

const H: i64 = 3600;
const UTC: QueryContext = QueryContext { zone: chrono_tz::UTC, max_instances: 1000 };
const BERLIN: QueryContext = QueryContext { zone: chrono_tz::Europe::Berlin, ..UTC };
const NEW_YORK: QueryContext = QueryContext { zone: chrono_tz::America::New_York, ..UTC };

/// A UTC instant written `YYYYMMDDTHHMMSS` (a notation, not the code under test).
fn ts(s: &str) -> Timestamp {
    chrono::NaiveDateTime::parse_from_str(s, "%Y%m%dT%H%M%S").unwrap().and_utc().timestamp()
}

/// [start, end) from two `YYYYMMDDTHHMMSS` UTC instants; "" leaves that side open.
fn range(start: &str, end: &str) -> TimeRange {
    let side = |s: &str| (!s.is_empty()).then(|| ts(s));
    TimeRange { start: side(start), end: side(end) }
}

/// [at, at + seconds).
fn from(at: &str, seconds: i64) -> TimeRange {
    TimeRange { start: Some(ts(at)), end: Some(ts(at) + seconds) }
}

fn cal(body: &str) -> String {
    format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\n{}\r\nEND:VCALENDAR\r\n", body.replace('\n', "\r\n"))
}

fn component(kind: &str, props: &str) -> String {
    cal(&format!("BEGIN:{kind}\nUID:x\nDTSTAMP:20240101T000000Z\n{props}\nEND:{kind}"))
}

fn comp(name: &str, time_range: Option<TimeRange>, props: Vec<PropFilter>, comps: Vec<CompFilter>) -> CompFilter {
    CompFilter { name: name.into(), is_not_defined: false, time_range, props, comps }
}

fn in_calendar(inner: CompFilter) -> CompFilter {
    comp("VCALENDAR", None, vec![], vec![inner])
}

/// VCALENDAR > `kind` with a time-range.
fn ranged(kind: &str, r: TimeRange) -> CompFilter {
    in_calendar(comp(kind, Some(r), vec![], vec![]))
}

/// VCALENDAR > `kind` > VALARM with a time-range.
fn alarm_in(kind: &str, r: TimeRange) -> CompFilter {
    in_calendar(comp(kind, None, vec![], vec![comp("VALARM", Some(r), vec![], vec![])]))
}

/// The exact answer, after checking that a stored timeline, where the object has one and it
/// decides, gives the same: so every case here is also a case of `timeline`.
fn eval(data: &str, filter: &CompFilter, ctx: QueryContext) -> Result<bool, QueryError> {
    let exact = object_matches(data.as_bytes(), filter, ctx);
    let timeline = crate::calendar::timeline_of(data.as_bytes(), ts("20400101T000000"));
    if let (Some(t), Ok(found)) = (&timeline, &exact) {
        let by_timeline = object_matches_with(data.as_bytes(), Some(t), filter, ctx);
        assert_eq!(by_timeline.as_ref(), Ok(found), "timeline and exact evaluation disagree on {filter:?} in {}", ctx.zone);
    }
    exact
}

/// Whether the single `kind` component of `data` overlaps `r`, read in UTC.
fn hits(data: &str, r: TimeRange) -> bool {
    let kind = ["VEVENT", "VTODO", "VJOURNAL", "VFREEBUSY"].into_iter().find(|k| data.contains(&format!("BEGIN:{k}"))).unwrap();
    eval(data, &ranged(kind, r), UTC).unwrap()
}

fn by_uid(uid: &str) -> CompFilter {
    let text = TextMatch { text: uid.into(), collation: Collation::Octet, negate: false };
    let prop = PropFilter { name: "UID".into(), is_not_defined: false, time_range: None, text_match: Some(text), params: vec![] };
    in_calendar(comp("VEVENT", None, vec![prop], vec![]))
}

#[test]
fn structural_filters_are_exact() {
    let data = b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:u-1\r\nDTSTART:20260101T000000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    assert_eq!(object_matches(data, &by_uid("u-1"), UTC), Ok(true));
    assert_eq!(object_matches(data, &by_uid("u-2"), UTC), Ok(false));
    assert!(matches!(object_matches(b"\xff", &by_uid("u"), UTC), Err(QueryError::Unreadable(_))));
}

#[test]
fn calcard_children_line_up_with_the_tree_vtimezone_and_x_components_included() {
    let text = cal(
        "BEGIN:VTIMEZONE\nTZID:Europe/Berlin\nBEGIN:DAYLIGHT\nDTSTART:19810329T020000\nTZOFFSETFROM:+0100\nTZOFFSETTO:+0200\nEND:DAYLIGHT\n\
BEGIN:STANDARD\nDTSTART:19961027T030000\nTZOFFSETFROM:+0200\nTZOFFSETTO:+0100\nEND:STANDARD\nEND:VTIMEZONE\n\
BEGIN:X-THING\nX-A:1\nEND:X-THING\n\
BEGIN:VEVENT\nUID:e\nDTSTART:20240101T100000Z\nBEGIN:X-INNER\nEND:X-INNER\nBEGIN:VALARM\nACTION:DISPLAY\nTRIGGER:-PT5M\nEND:VALARM\nEND:VEVENT\n\
BEGIN:VEVENT\nUID:e\nRECURRENCE-ID:20240102T100000Z\nDTSTART:20240102T120000Z\nEND:VEVENT",
    );
    let root = ical::parse(&text).unwrap().remove(0);
    let parsed = validate::parse_vcalendar(&text).unwrap();
    let names = |c: &ICalendarComponent| -> Vec<String> {
        c.component_ids.iter().map(|&id| parsed.component_by_id(id).unwrap().component_type.as_str().to_ascii_uppercase()).collect()
    };
    let tree = |c: &Component| -> Vec<String> { c.children.iter().map(|c| c.name.clone()).collect() };
    let top = &parsed.components[0];
    assert_eq!(top.component_type, ICalendarComponentType::VCalendar);
    assert_eq!(names(top), ["VTIMEZONE", "X-THING", "VEVENT", "VEVENT"]);
    assert_eq!(names(top), tree(&root));
    for (&id, child) in top.component_ids.iter().zip(&root.children) {
        assert_eq!(names(parsed.component_by_id(id).unwrap()), tree(child), "{}", child.name);
    }
    assert_eq!(tree(&root.children[0]), ["DAYLIGHT", "STANDARD"]);
    assert_eq!(tree(&root.children[2]), ["X-INNER", "VALARM"]);
    // The override is told apart from the master by position, not by content.
    let oracle = ExactTimes::new(&root, &parsed, UTC).unwrap();
    assert!(oracle.members[3].as_ref().unwrap().timing.recurrence_id.is_some());
    assert!(oracle.members[0].is_none() && oracle.members[1].is_none());
}

#[test]
fn parses_that_disagree_are_refused() {
    let text = component("VEVENT", "DTSTART:20240101T100000Z");
    let parsed = validate::parse_vcalendar(&text).unwrap();
    let mut root = ical::parse(&text).unwrap().remove(0);
    root.children[0].name = "VTODO".into();
    assert!(matches!(ExactTimes::new(&root, &parsed, UTC), Err(QueryError::Unreadable(_))));
    root.children.clear();
    assert!(matches!(ExactTimes::new(&root, &parsed, UTC), Err(QueryError::Unreadable(_))));
}

// ---- §9.9 VEVENT table ----

#[test]
fn vevent_with_dtend_y_n_n() {
    let e = component("VEVENT", "DTSTART:20240101T100000Z\nDTEND:20240101T110000Z");
    assert!(hits(&e, range("20240101T090000", "20240101T100001")));
    assert!(!hits(&e, range("20240101T090000", "20240101T100000")), "end > DTSTART");
    assert!(hits(&e, range("20240101T105959", "20240101T120000")));
    assert!(!hits(&e, range("20240101T110000", "20240101T120000")), "start < DTEND");
    assert!(hits(&e, range("", "20240101T100001")) && hits(&e, range("20240101T105959", "")));
}

#[test]
fn vevent_with_positive_duration_n_y_y() {
    let e = component("VEVENT", "DTSTART:20240101T100000Z\nDURATION:PT1H");
    assert!(hits(&e, range("20240101T105959", "20240101T120000")));
    assert!(!hits(&e, range("20240101T110000", "20240101T120000")));
    assert!(!hits(&e, range("20240101T090000", "20240101T100000")));
}

#[test]
fn zero_length_vevent_matches_at_range_start_n_y_n_and_n_n_n_y() {
    for props in ["DTSTART:20240101T100000Z\nDURATION:PT0S", "DTSTART:20240101T100000Z", "DTSTART:20240101T100000Z\nDTEND:20240101T100000Z"] {
        let e = component("VEVENT", props);
        assert!(hits(&e, range("20240101T100000", "20240101T110000")), "{props}: start <= DTSTART");
        assert!(!hits(&e, range("20240101T090000", "20240101T100000")), "{props}: end > DTSTART");
        assert!(!hits(&e, range("20240101T100001", "20240101T110000")), "{props}");
    }
}

#[test]
fn all_day_vevent_lasts_one_day_n_n_n_n() {
    let e = component("VEVENT", "DTSTART;VALUE=DATE:20240101");
    assert!(hits(&e, range("20240101T235959", "20240102T120000")));
    assert!(!hits(&e, range("20240102T000000", "20240102T120000")), "start < DTSTART+P1D");
    assert!(hits(&e, range("20231231T000000", "20240101T000001")));
    assert!(!hits(&e, range("20231231T000000", "20240101T000000")));
}

// ---- §9.9 VTODO table ----

#[test]
fn vtodo_dtstart_duration_y_y_n() {
    let t = component("VTODO", "DTSTART:20240101T100000Z\nDURATION:PT1H");
    assert!(hits(&t, range("20240101T110000", "20240101T120000")), "start <= DTSTART+DURATION");
    assert!(!hits(&t, range("20240101T110001", "20240101T120000")));
    assert!(!hits(&t, range("20240101T090000", "20240101T100000")));
    assert!(hits(&t, range("20240101T090000", "20240101T100001")));
}

#[test]
fn vtodo_dtstart_due_y_n_y() {
    let t = component("VTODO", "DTSTART:20240101T100000Z\nDUE:20240101T110000Z");
    assert!(!hits(&t, range("20240101T110000", "20240101T120000")), "start < DUE");
    assert!(hits(&t, range("20240101T105959", "20240101T120000")));
    assert!(!hits(&t, range("20240101T090000", "20240101T100000")));
    // With DUE = DTSTART the other halves of the ORs decide: start <= DTSTART, end >= DUE.
    let zero = component("VTODO", "DTSTART:20240101T100000Z\nDUE:20240101T100000Z");
    assert!(hits(&zero, range("20240101T100000", "20240101T110000")));
    assert!(hits(&zero, range("20240101T090000", "20240101T100000")));
    assert!(!hits(&zero, range("20240101T100001", "20240101T110000")));
}

#[test]
fn vtodo_dtstart_only_y_n_n() {
    let t = component("VTODO", "DTSTART:20240101T100000Z");
    assert!(hits(&t, range("20240101T100000", "20240101T110000")));
    assert!(!hits(&t, range("20240101T090000", "20240101T100000")));
}

#[test]
fn vtodo_due_only_n_n_y() {
    let t = component("VTODO", "DUE:20240101T110000Z");
    assert!(hits(&t, range("20240101T090000", "20240101T110000")), "end >= DUE");
    assert!(!hits(&t, range("20240101T110000", "20240101T120000")), "start < DUE");
    assert!(!hits(&t, range("20240101T090000", "20240101T105959")));
}

#[test]
fn vtodo_completed_and_created_n_n_n_y_y() {
    let t = component("VTODO", "COMPLETED:20240101T120000Z\nCREATED:20240101T080000Z");
    assert!(hits(&t, range("20240101T120000", "20240101T130000")));
    assert!(!hits(&t, range("20240101T120001", "20240101T130000")));
    assert!(hits(&t, range("20240101T070000", "20240101T080000")));
    assert!(!hits(&t, range("20240101T060000", "20240101T075959")));
}

#[test]
fn vtodo_completed_only_n_n_n_y_n() {
    let t = component("VTODO", "COMPLETED:20240101T120000Z");
    assert!(hits(&t, range("20240101T120000", "20240101T130000")));
    assert!(hits(&t, range("20240101T110000", "20240101T120000")));
    assert!(!hits(&t, range("20240101T120001", "20240101T130000")));
    assert!(!hits(&t, range("20240101T110000", "20240101T115959")));
}

#[test]
fn vtodo_created_only_n_n_n_n_y() {
    let t = component("VTODO", "CREATED:20240101T080000Z");
    assert!(!hits(&t, range("20240101T070000", "20240101T080000")), "end > CREATED");
    assert!(hits(&t, range("20240101T070000", "20240101T080001")));
    assert!(hits(&t, range("20540101T000000", "")));
}

#[test]
fn vtodo_without_dates_matches_everything_n_n_n_n_n() {
    let t = component("VTODO", "SUMMARY:someday");
    assert!(hits(&t, range("19000101T000000", "19000101T000001")));
    assert!(hits(&t, range("", "20240101T000000")));
}

// ---- §9.9 VJOURNAL and VFREEBUSY tables ----

#[test]
fn vjournal_date_time_date_and_none() {
    let at = component("VJOURNAL", "DTSTART:20240101T100000Z");
    assert!(hits(&at, range("20240101T100000", "20240101T110000")));
    assert!(!hits(&at, range("20240101T090000", "20240101T100000")));
    let day = component("VJOURNAL", "DTSTART;VALUE=DATE:20240101");
    assert!(hits(&day, range("20240101T235959", "20240102T000000")));
    assert!(!hits(&day, range("20240102T000000", "20240103T000000")));
    assert!(!hits(&component("VJOURNAL", "SUMMARY:undated"), range("", "20990101T000000")));
}

#[test]
fn vfreebusy_dtstart_dtend_win_over_periods() {
    let fb = component(
        "VFREEBUSY",
        "DTSTART:20060101T000000Z\nDTEND:20060108T000000Z\nFREEBUSY:20050531T230000Z/20050601T010000Z",
    );
    assert!(hits(&fb, range("20060108T000000", "20060109T000000")), "start <= DTEND");
    assert!(!hits(&fb, range("20051231T000000", "20060101T000000")), "end > DTSTART");
    assert!(!hits(&fb, range("20050601T000000", "20050602T000000")), "periods are not consulted");
}

#[test]
fn vfreebusy_periods_then_nothing() {
    let fb = component("VFREEBUSY", "FREEBUSY:20060102T100000Z/20060102T120000Z,20060103T100000Z/PT2H");
    assert!(hits(&fb, range("20060102T115959", "20060102T130000")));
    assert!(!hits(&fb, range("20060102T120000", "20060102T130000")), "start < period end");
    assert!(hits(&fb, range("20060103T090000", "20060103T100001")));
    assert!(!hits(&fb, range("20060103T090000", "20060103T100000")), "end > period start");
    assert!(!hits(&component("VFREEBUSY", "ORGANIZER:mailto:a@b"), range("", "20990101T000000")));
}

// ---- Recurrence ----

#[test]
fn weekly_berlin_event_stays_at_nine_across_dst() {
    let e = component("VEVENT", "DTSTART;TZID=Europe/Berlin:20240317T090000\nDURATION:PT1H\nRRULE:FREQ=WEEKLY");
    // 09:00 CET = 08:00Z before 2024-03-31; 09:00 CEST = 07:00Z from then on.
    assert!(hits(&e, from("20240324T080000", 1)));
    assert!(hits(&e, from("20240331T070000", 1)));
    assert!(!hits(&e, range("20240331T080000", "20240331T090000")), "not left at 08:00Z");
    assert!(!hits(&e, range("20240331T060000", "20240331T070000")));
    // 02:30 does not exist on 2024-03-31 in Berlin: it is 03:30 CEST, 01:30Z (RFC 5545 §3.3.5).
    let gap = component("VEVENT", "DTSTART;TZID=Europe/Berlin:20240324T023000\nRRULE:FREQ=WEEKLY");
    assert!(hits(&gap, from("20240331T013000", 1)));
    assert!(hits(&gap, from("20240407T003000", 1)));
}

const OVERRIDDEN: &str = "BEGIN:VEVENT\nUID:e\nDTSTART:20240101T100000Z\nDURATION:PT1H\nRRULE:FREQ=DAILY;COUNT=5\nEND:VEVENT\n\
BEGIN:VEVENT\nUID:e\nRECURRENCE-ID:20240103T100000Z\nDTSTART:20240110T100000Z\nDURATION:PT1H\nEND:VEVENT";

#[test]
fn overridden_instance_moves_out_of_and_into_windows() {
    let e = cal(OVERRIDDEN);
    assert!(!hits(&e, range("20240103T000000", "20240104T000000")), "moved away");
    assert!(hits(&e, range("20240110T000000", "20240111T000000")), "moved here");
    assert!(hits(&e, range("20240102T000000", "20240103T000000")));
    assert!(hits(&e, range("20240105T000000", "20240106T000000")));
    assert!(!hits(&e, range("20240106T000000", "20240110T000000")));
}

#[test]
fn exdate_removes_an_instance() {
    let e = component("VEVENT", "DTSTART:20240101T100000Z\nDURATION:PT1H\nRRULE:FREQ=DAILY;COUNT=5\nEXDATE:20240103T100000Z");
    assert!(!hits(&e, range("20240103T000000", "20240104T000000")));
    assert!(hits(&e, range("20240104T000000", "20240105T000000")));
}

#[test]
fn rdate_period_brings_its_own_length() {
    let e = component("VEVENT", "DTSTART:20240101T100000Z\nDURATION:PT1H\nRDATE;VALUE=PERIOD:20240110T100000Z/20240110T180000Z");
    assert!(hits(&e, range("20240110T175959", "20240110T190000")));
    assert!(!hits(&e, range("20240110T180000", "20240110T190000")));
    let plain = component("VEVENT", "DTSTART:20240101T100000Z\nDURATION:PT1H\nRDATE:20240110T100000Z");
    assert!(!hits(&plain, range("20240110T110000", "20240110T120000")), "an RDATE without PERIOD takes DURATION");
}

const THIS_AND_FUTURE: &str = "BEGIN:VEVENT\nUID:e\nDTSTART:20240101T100000Z\nDURATION:PT1H\nRRULE:FREQ=DAILY;COUNT=6\nEND:VEVENT\n\
BEGIN:VEVENT\nUID:e\nRECURRENCE-ID;RANGE=THISANDFUTURE:20240103T100000Z\nDTSTART:20240103T150000Z\nDURATION:PT2H\nEND:VEVENT";

#[test]
fn this_and_future_moves_later_instances() {
    let e = cal(THIS_AND_FUTURE);
    assert!(hits(&e, from("20240102T100000", 1)));
    assert!(!hits(&e, range("20240104T100000", "20240104T110000")), "Jan 4 moved away");
    assert!(hits(&e, from("20240104T165959", 1)), "to 15:00–17:00");
    assert!(!hits(&e, from("20240104T170000", H)));
    assert!(hits(&e, from("20240106T150000", 1)));
    assert!(!hits(&e, range("20240107T000000", "20240108T000000")), "COUNT still ends the set");
}

#[test]
fn moved_instances_belong_to_the_override() {
    let data = cal(THIS_AND_FUTURE);
    let rid = |is_not_defined| PropFilter { name: "RECURRENCE-ID".into(), is_not_defined, time_range: None, text_match: None, params: vec![] };
    let with = |defined: bool, r: TimeRange| in_calendar(comp("VEVENT", Some(r), vec![rid(!defined)], vec![]));
    assert_eq!(eval(&data, &with(true, from("20240104T160000", 1)), UTC), Ok(true));
    assert_eq!(eval(&data, &with(false, from("20240104T160000", 1)), UTC), Ok(false));
    assert_eq!(eval(&data, &with(false, from("20240102T100000", 1)), UTC), Ok(true));
    assert_eq!(eval(&data, &with(true, from("20240102T100000", 1)), UTC), Ok(false));
}

#[test]
fn a_later_this_and_future_override_takes_over() {
    let second = "\nBEGIN:VEVENT\nUID:e\nRECURRENCE-ID;RANGE=THISANDFUTURE:20240105T100000Z\nDTSTART:20240105T080000Z\nDURATION:PT1H\nEND:VEVENT";
    let e = cal(&format!("{THIS_AND_FUTURE}{second}"));
    assert!(hits(&e, from("20240104T150000", 1)), "moved by the first");
    assert!(hits(&e, from("20240106T080000", 1)), "moved by the second only");
    assert!(!hits(&e, range("20240106T100000", "20240107T000000")));
}

#[test]
fn infinite_rule_queried_thirty_years_ahead() {
    let e = component("VEVENT", "DTSTART:20240101T100000Z\nDURATION:PT1H\nRRULE:FREQ=WEEKLY");
    assert!(hits(&e, from("20540105T100000", 1)), "a Monday");
    assert!(!hits(&e, range("20540106T000000", "20540112T000000")), "Tuesday to Sunday");
}

// ---- Zones ----

#[test]
fn all_day_event_is_read_in_the_query_zone() {
    let e = component("VEVENT", "DTSTART;VALUE=DATE:20240101");
    let last_hour_of_2023_utc = ranged("VEVENT", range("20231231T230000", "20240101T000000"));
    assert_eq!(eval(&e, &last_hour_of_2023_utc, UTC), Ok(false));
    assert_eq!(eval(&e, &last_hour_of_2023_utc, BERLIN), Ok(true));
    let early_jan_2_utc = ranged("VEVENT", range("20240102T000000", "20240102T040000"));
    assert_eq!(eval(&e, &early_jan_2_utc, UTC), Ok(false));
    assert_eq!(eval(&e, &early_jan_2_utc, NEW_YORK), Ok(true));
}

#[test]
fn floating_time_is_read_in_the_query_zone() {
    let e = component("VEVENT", "DTSTART:20240101T100000\nDURATION:PT1H");
    let nine_utc = ranged("VEVENT", from("20240101T090000", 1800));
    assert_eq!(eval(&e, &nine_utc, UTC), Ok(false));
    assert_eq!(eval(&e, &nine_utc, BERLIN), Ok(true));
    let zoned = component("VEVENT", "DTSTART;TZID=America/New_York:20240101T100000\nDURATION:PT1H");
    assert_eq!(eval(&zoned, &ranged("VEVENT", from("20240101T150000", 1)), BERLIN), Ok(true), "TZID wins");
}

#[test]
fn a_fixed_due_after_a_floating_start_is_measured_in_the_query_zone() {
    // In Berlin the to-do runs from 2023-12-31 23:00Z to 12:00Z: 13 hours, not the 26 the
    // index allows for while the zone is unknown.
    let t = component("VTODO", "DTSTART;VALUE=DATE:20240101\nDUE:20240101T120000Z\nRRULE:FREQ=DAILY;COUNT=2");
    let check = |r: TimeRange| eval(&t, &ranged("VTODO", r), BERLIN).unwrap();
    assert!(check(range("20240101T110000", "20240101T120000")));
    assert!(!check(range("20240101T120000", "20240101T130000")), "start < DUE");
    assert!(check(from("20240102T115959", 1)), "the second instance keeps 13 hours");
    assert!(!check(from("20240102T120000", H)));
}

// ---- VALARM ----

fn with_alarm(alarm: &str) -> String {
    component("VEVENT", &format!("DTSTART:20240101T100000Z\nDTEND:20240101T110000Z\nBEGIN:VALARM\nACTION:DISPLAY\nDESCRIPTION:x\n{alarm}\nEND:VALARM"))
}

fn rings(data: &str, r: TimeRange) -> bool {
    eval(data, &alarm_in("VEVENT", r), UTC).unwrap()
}

#[test]
fn relative_alarms_follow_start_or_end() {
    let before = with_alarm("TRIGGER:-PT15M");
    assert!(rings(&before, from("20240101T094500", 1)));
    assert!(!rings(&before, range("20240101T094000", "20240101T094500")), "end > trigger");
    assert!(!rings(&before, from("20240101T094501", H)));
    let after_end = with_alarm("TRIGGER;RELATED=END:PT5M");
    assert!(rings(&after_end, from("20240101T110500", 1)));
    assert!(!rings(&after_end, from("20240101T100500", 1)));
}

#[test]
fn absolute_alarms_fire_once_even_for_recurring_events() {
    let e = component(
        "VEVENT",
        "DTSTART:20240101T100000Z\nRRULE:FREQ=DAILY\nBEGIN:VALARM\nACTION:DISPLAY\nTRIGGER;VALUE=DATE-TIME:20231231T090000Z\nEND:VALARM",
    );
    assert!(rings(&e, from("20231231T090000", 1)));
    assert!(!rings(&e, from("20240101T090000", 1)));
}

#[test]
fn repeated_alarms_fire_every_interval() {
    // -15 min, then three more 10 min apart: 09:45, 09:55, 10:05, 10:15.
    let e = with_alarm("TRIGGER:-PT15M\nREPEAT:3\nDURATION:PT10M");
    assert!(rings(&e, from("20240101T101500", 1)));
    assert!(rings(&e, from("20240101T100500", 1)));
    assert!(!rings(&e, range("20240101T100600", "20240101T101500")));
    assert!(!rings(&e, from("20240101T101501", H)));
    let backwards = with_alarm("TRIGGER:PT0S\nREPEAT:2\nDURATION:-PT1H");
    assert!(rings(&backwards, from("20240101T080000", 1)));
    assert!(!rings(&backwards, from("20240101T070000", H)));
    // A billion repeats are searched, not listed: minute 2,000,000 after 10:00 Jan 1 2024.
    let many = with_alarm("TRIGGER:PT0S\nREPEAT:1000000000\nDURATION:PT1M");
    let at = ts("20240101T100000") + 2_000_000 * 60;
    assert!(rings(&many, TimeRange { start: Some(at), end: Some(at + 1) }));
    assert!(!rings(&many, TimeRange { start: Some(at + 1), end: Some(at + 60) }));
}

#[test]
fn alarms_follow_each_instance_and_overrides_bring_their_own() {
    let data = OVERRIDDEN.replace(
        "RRULE:FREQ=DAILY;COUNT=5\n",
        "RRULE:FREQ=DAILY;COUNT=5\nBEGIN:VALARM\nACTION:DISPLAY\nTRIGGER:-PT15M\nEND:VALARM\n",
    );
    let e = cal(&data);
    assert!(rings(&e, from("20240104T094500", 1)), "fourth instance");
    assert!(!rings(&e, from("20240103T094500", 1)), "the overridden instance has no alarm");
    assert!(!rings(&e, from("20240110T094500", 1)), "nor has its override");
}

#[test]
fn todo_alarm_without_dtstart_is_anchored_on_due_rfc4791_7_8_5() {
    let abcd5 = component(
        "VTODO",
        "DUE;TZID=America/New_York:20060106T120000\nBEGIN:VALARM\nACTION:AUDIO\nTRIGGER;RELATED=START:-PT10M\nEND:VALARM",
    );
    let r = range("20060106T100000", "20060107T100000");
    assert_eq!(eval(&abcd5, &alarm_in("VTODO", r), UTC), Ok(true));
    assert_eq!(eval(&abcd5, &alarm_in("VTODO", from("20060106T165000", 1)), UTC), Ok(true));
    assert_eq!(eval(&abcd5, &alarm_in("VTODO", from("20060106T165001", H)), UTC), Ok(false));
}

// ---- Properties ----

fn prop_ranged(kind: &str, name: &str, r: TimeRange) -> CompFilter {
    let prop = PropFilter { name: name.into(), is_not_defined: false, time_range: Some(r), text_match: None, params: vec![] };
    in_calendar(comp(kind, None, vec![prop], vec![]))
}

#[test]
fn date_and_date_time_properties_fall_in_ranges() {
    let t = component(
        "VTODO",
        "DTSTAMP:20240101T100000Z\nDUE;TZID=Europe/Berlin:20240101T100000\nCOMPLETED:20240101T100000+0100\nCREATED;VALUE=DATE:20240101",
    );
    let check = |name: &str, r: TimeRange, ctx: QueryContext| eval(&t, &prop_ranged("VTODO", name, r), ctx).unwrap();
    assert!(check("DTSTAMP", from("20240101T100000", 1), UTC));
    assert!(!check("DTSTAMP", range("20240101T090000", "20240101T100000"), UTC));
    assert!(check("DUE", from("20240101T090000", 1), UTC), "TZID");
    assert!(check("COMPLETED", from("20240101T090000", 1), UTC), "numeric offset");
    assert!(check("CREATED", from("20240101T000000", 1), UTC), "DATE: its midnight");
    assert!(check("CREATED", from("20231231T230000", 1), BERLIN));
    assert!(!check("CREATED", from("20240101T000000", 1), BERLIN));
    assert!(!check("SUMMARY", range("", "20990101T000000"), UTC));
}

// ---- Limits and refusals ----

#[test]
fn the_scan_cap_refuses_rather_than_guesses() {
    let e = component("VEVENT", "DTSTART:20240101T100000Z\nRRULE:FREQ=MINUTELY");
    let far = ranged("VEVENT", range("20540101T000000", "20540102T000000"));
    assert_eq!(eval(&e, &far, UTC), Err(QueryError::TooManyInstances));
    let near = ranged("VEVENT", range("20240101T100000", "20240101T100001"));
    assert_eq!(eval(&e, &near, UTC), Ok(true));
}

#[test]
fn the_instance_cap_refuses_rather_than_answers_from_part_of_the_instances() {
    // Hourly; the alarm fires at :45. Deciding one hour needs the anchors of a day and more
    // around it (nominal offsets are given a day's slack), more than 10.
    let e = component("VEVENT", "DTSTART:20240101T000000Z\nRRULE:FREQ=HOURLY\nBEGIN:VALARM\nACTION:DISPLAY\nTRIGGER:-PT15M\nEND:VALARM");
    let filter = alarm_in("VEVENT", range("20240110T120000", "20240110T124500"));
    let few = QueryContext { max_instances: 10, ..UTC };
    assert_eq!(eval(&e, &filter, few), Err(QueryError::TooManyInstances));
    assert_eq!(eval(&e, &filter, UTC), Ok(false));
    assert_eq!(eval(&e, &alarm_in("VEVENT", from("20240110T124500", 1)), UTC), Ok(true));
}

#[test]
fn rules_beyond_the_expander_are_refused_honestly() {
    let e = component("VEVENT", "DTSTART:20240101T100000Z\nRRULE:RSCALE=CHINESE;FREQ=YEARLY");
    let later = ranged("VEVENT", range("20250101T000000", "20260101T000000"));
    assert!(matches!(eval(&e, &later, UTC), Err(QueryError::Unsupported(_))));
    assert_eq!(eval(&e, &ranged("VEVENT", from("20240101T100000", 1)), UTC), Ok(true), "DTSTART is an instance");
}

#[test]
fn an_undecided_test_does_not_spoil_a_match() {
    let data = cal(
        "BEGIN:VEVENT\nUID:e\nDTSTART:20240101T100000Z\nRRULE:RSCALE=CHINESE;FREQ=YEARLY\nEND:VEVENT\n\
BEGIN:VEVENT\nUID:e\nRECURRENCE-ID:20240101T100000Z\nDTSTART:20250601T100000Z\nEND:VEVENT",
    );
    assert_eq!(eval(&data, &ranged("VEVENT", from("20250601T100000", 1)), UTC), Ok(true));
    assert!(matches!(eval(&data, &ranged("VEVENT", from("20250602T100000", 1)), UTC), Err(QueryError::Unsupported(_))));
}

#[test]
fn time_ranges_on_other_components_are_refused() {
    let data = cal("BEGIN:VTIMEZONE\nTZID:Europe/Berlin\nEND:VTIMEZONE\nBEGIN:VEVENT\nUID:e\nDTSTART:20240101T100000Z\nEND:VEVENT");
    assert!(matches!(eval(&data, &ranged("VTIMEZONE", range("20240101T000000", "")), UTC), Err(QueryError::Unsupported(_))));
}
