use super::*;
use crate::config::parse_utc;

fn range(start: &str, end: &str) -> TimeRange {
    TimeRange { start: parse_utc(start), end: parse_utc(end) }
}

fn ctx() -> QueryContext {
    QueryContext { zone: chrono_tz::UTC, max_instances: 1000 }
}

fn rendered(data: &str, request: &DataRequest) -> String {
    String::from_utf8(render(data.as_bytes(), request, ctx()).unwrap().into_owned()).unwrap()
}

/// The unfolded lines of an iCalendar text.
fn lines(text: &str) -> Vec<String> {
    raw::content_lines(text).into_iter().map(|l| l.text.into_owned()).collect()
}

const NEW_YORK_WEEKLY: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n\
BEGIN:VTIMEZONE\r\nTZID:America/New_York\r\nBEGIN:STANDARD\r\nDTSTART:19701101T020000\r\n\
RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU\r\nTZOFFSETFROM:-0400\r\nTZOFFSETTO:-0500\r\nEND:STANDARD\r\n\
BEGIN:DAYLIGHT\r\nDTSTART:19700308T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU\r\n\
TZOFFSETFROM:-0500\r\nTZOFFSETTO:-0400\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n\
BEGIN:VEVENT\r\nUID:ny\r\nDTSTAMP:20240101T000000Z\r\nDTSTART;TZID=America/New_York:20240305T090000\r\n\
DTEND;TZID=America/New_York:20240305T100000\r\nSUMMARY:Standup with a summary long enough to be \r\n folded by its producer\r\n\
RRULE:FREQ=WEEKLY;COUNT=4\r\nEXDATE;TZID=America/New_York:20240319T090000\r\n\
BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:x\r\nTRIGGER:-PT5M\r\nEND:VALARM\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:ny\r\nDTSTAMP:20240101T000000Z\r\nRECURRENCE-ID;TZID=America/New_York:20240312T090000\r\n\
DTSTART;TZID=America/New_York:20240312T110000\r\nDTEND;TZID=America/New_York:20240312T120000\r\n\
SUMMARY:Moved\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

#[test]
fn the_whole_object_is_the_stored_bytes() {
    let out = render(NEW_YORK_WEEKLY.as_bytes(), &DataRequest::default(), ctx()).unwrap();
    assert!(matches!(out, Cow::Borrowed(_)));
}

#[test]
fn expand_gives_each_instance_in_utc_with_its_recurrence_id() {
    let request = DataRequest {
        recurrence: RecurrenceMode::Expand(range("20240301T000000Z", "20240401T000000Z")),
        ..DataRequest::default()
    };
    let out = rendered(NEW_YORK_WEEKLY, &request);
    let l = lines(&out);
    assert!(!out.contains("VTIMEZONE") && !out.contains("TZID") && !out.contains("RRULE") && !out.contains("EXDATE"), "{out}");
    assert_eq!(l.iter().filter(|l| *l == "BEGIN:VEVENT").count(), 3, "{out}");
    // 2024-03-05 09:00 EST = 14:00Z; after the DST change on the 10th, 09:00 EDT = 13:00Z.
    for want in [
        "DTSTART:20240305T140000Z",
        "RECURRENCE-ID:20240305T140000Z",
        "DTEND:20240305T150000Z",
        "RECURRENCE-ID:20240312T130000Z",
        "DTSTART:20240312T150000Z",
        "RECURRENCE-ID:20240326T130000Z",
        "DTSTART:20240326T130000Z",
    ] {
        assert!(l.iter().any(|x| x == want), "{want} missing from\n{out}");
    }
    assert!(!l.iter().any(|x| x.contains("20240319")), "the EXDATE'd instance is gone:\n{out}");
    // The moved instance is described by its override, the others by the master (VALARM kept).
    assert_eq!(l.iter().filter(|l| *l == "SUMMARY:Moved").count(), 1);
    assert_eq!(l.iter().filter(|l| l.starts_with("SUMMARY:Standup")).count(), 2);
    assert_eq!(l.iter().filter(|l| *l == "BEGIN:VALARM").count(), 2);
    // Lines passed through keep the producer's folding.
    assert!(out.contains("to be \r\n folded"), "{out}");
}

#[test]
fn expand_keeps_dates_as_dates_and_drops_instances_outside() {
    let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:d\r\nDTSTAMP:20240101T000000Z\r\n\
DTSTART;VALUE=DATE:20240101\r\nDTEND;VALUE=DATE:20240102\r\nRRULE:FREQ=YEARLY\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let request = DataRequest { recurrence: RecurrenceMode::Expand(range("20300101T000000Z", "20300102T000000Z")), ..DataRequest::default() };
    let l = lines(&rendered(ics, &request));
    assert!(l.contains(&"DTSTART;VALUE=DATE:20300101".to_owned()), "{l:?}");
    assert!(l.contains(&"DTEND;VALUE=DATE:20300102".to_owned()), "{l:?}");
    assert!(l.contains(&"RECURRENCE-ID;VALUE=DATE:20300101".to_owned()), "{l:?}");
    let none = DataRequest { recurrence: RecurrenceMode::Expand(range("20300601T000000Z", "20300602T000000Z")), ..DataRequest::default() };
    assert!(!rendered(ics, &none).contains("VEVENT"));
}

#[test]
fn limit_recurrence_set_keeps_master_and_impacting_overrides() {
    // The override of Mar 12 (moved to 11:00 the same day) impacts March 12, by either time.
    let march_12 = DataRequest {
        recurrence: RecurrenceMode::LimitRecurrenceSet(range("20240312T000000Z", "20240313T000000Z")),
        ..DataRequest::default()
    };
    let out = rendered(NEW_YORK_WEEKLY, &march_12);
    assert!(out.contains("SUMMARY:Moved") && out.contains("RRULE") && out.contains("VTIMEZONE"), "{out}");
    let april = DataRequest {
        recurrence: RecurrenceMode::LimitRecurrenceSet(range("20240401T000000Z", "20240402T000000Z")),
        ..DataRequest::default()
    };
    let out = rendered(NEW_YORK_WEEKLY, &april);
    assert!(!out.contains("SUMMARY:Moved") && out.contains("RRULE"), "{out}");
}

#[test]
fn selection_keeps_what_is_named_and_novalue_drops_values() {
    let select = CompSelect {
        name: "VCALENDAR".into(),
        props: Selection::Only(vec![PropSelect { name: "VERSION".into(), novalue: false }]),
        comps: Selection::Only(vec![CompSelect {
            name: "VEVENT".into(),
            props: Selection::Only(vec![
                PropSelect { name: "UID".into(), novalue: false },
                PropSelect { name: "DTSTART".into(), novalue: true },
            ]),
            comps: Selection::Only(vec![]),
        }]),
    };
    let out = rendered(NEW_YORK_WEEKLY, &DataRequest { select: Some(select), ..DataRequest::default() });
    assert_eq!(
        lines(&out),
        [
            "BEGIN:VCALENDAR", "VERSION:2.0",
            "BEGIN:VEVENT", "UID:ny", "DTSTART;TZID=America/New_York:", "END:VEVENT",
            "BEGIN:VEVENT", "UID:ny", "DTSTART;TZID=America/New_York:", "END:VEVENT",
            "END:VCALENDAR",
        ]
    );
}

#[test]
fn limit_freebusy_set_keeps_overlapping_periods() {
    let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VFREEBUSY\r\nUID:f\r\nDTSTAMP:20240101T000000Z\r\n\
FREEBUSY;FBTYPE=BUSY:20240101T100000Z/PT1H,20240105T100000Z/20240105T120000Z\r\n\
FREEBUSY:20240201T100000Z/P1D\r\nEND:VFREEBUSY\r\nEND:VCALENDAR\r\n";
    let request = DataRequest { limit_freebusy: Some(range("20240105T000000Z", "20240106T000000Z")), ..DataRequest::default() };
    let l = lines(&rendered(ics, &request));
    assert!(l.contains(&"FREEBUSY;FBTYPE=BUSY:20240105T100000Z/20240105T120000Z".to_owned()), "{l:?}");
    assert!(!l.iter().any(|x| x.contains("20240201")), "{l:?}");
}

#[test]
fn durations() {
    assert_eq!(duration_seconds("PT1H30M"), Some(5400));
    assert_eq!(duration_seconds("P1W"), Some(604_800));
    assert_eq!(duration_seconds("-P1DT1S"), Some(-86_401));
    assert_eq!(duration_seconds("P1H"), None);
    assert_eq!(duration_seconds("1H"), None);
}
