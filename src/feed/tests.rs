//! Unit tests of the feed rendering: what each mode keeps and hides, the busy periods, the cap.
#![allow(clippy::unwrap_used)]

use super::*;

const CTX: QueryContext = QueryContext { zone: chrono_tz::UTC, max_instances: 10_000 };

fn object(body: &str) -> String {
    format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n{body}END:VCALENDAR\r\n")
}

fn meeting(uid: &str, class: &str, extra: &str) -> String {
    object(&format!(
        "BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T100000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=WEEKLY;COUNT=4\r\n\
         SUMMARY:Board meeting\r\nDESCRIPTION:Layoffs\r\nLOCATION:Room 1\r\n{class}ORGANIZER:mailto:a@example.org\r\n\
         ATTENDEE:mailto:b@example.org\r\nX-SECRET:1\r\n{extra}BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Board meeting\r\n\
         TRIGGER:-PT15M\r\nEND:VALARM\r\nEND:VEVENT\r\n"
    ))
}

fn input(mode: FeedMode, alarms: bool, attendees: bool) -> FeedInput<'static> {
    FeedInput {
        name: "Work, mine",
        settings: FeedSettings { mode, alarms, attendees },
        window: window(crate::config::parse_utc("20260101T120000Z").unwrap()),
        ctx: CTX,
        max_bytes: 1 << 20,
    }
}

fn render_all(i: &FeedInput<'_>, objects: &[String]) -> Feed {
    let bytes: Vec<&[u8]> = objects.iter().map(|o| o.as_bytes()).collect();
    render(i, &bytes)
}

#[test]
fn full_mode_strips_people_alarms_and_x_props_unless_asked() {
    let feed = render_all(&input(FeedMode::Full, false, false), &[meeting("m", "", "")]).text;
    assert!(feed.contains("SUMMARY:Board meeting\r\n") && feed.contains("RRULE:FREQ=WEEKLY;COUNT=4\r\n"), "{feed}");
    for gone in ["ORGANIZER", "ATTENDEE", "X-SECRET", "VALARM"] {
        assert!(!feed.contains(gone), "{gone} in {feed}");
    }
    assert!(feed.contains("X-WR-CALNAME:Work\\, mine\r\n") && feed.contains("REFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n"));
    let asked = render_all(&input(FeedMode::Full, true, true), &[meeting("m", "", "")]).text;
    assert!(asked.contains("ORGANIZER:") && asked.contains("ATTENDEE:") && asked.contains("BEGIN:VALARM\r\n"), "{asked}");
    assert!(!asked.contains("X-SECRET"));
}

#[test]
fn masked_keeps_times_and_recurrence_only() {
    let feed = render_all(&input(FeedMode::Masked, true, true), &[meeting("m", "", "")]).text;
    assert!(feed.contains("SUMMARY:Busy\r\n") && feed.contains("RRULE:FREQ=WEEKLY;COUNT=4\r\n") && feed.contains("DTSTART:20260105T100000Z"));
    for gone in ["Board", "Layoffs", "Room", "ORGANIZER", "ATTENDEE", "VALARM", "X-SECRET"] {
        assert!(!feed.contains(gone), "{gone} in {feed}");
    }
}

#[test]
fn private_is_left_out_and_confidential_masked_in_every_mode() {
    let objects = [meeting("p", "CLASS:PRIVATE\r\n", ""), meeting("x", "CLASS:X-UNKNOWN\r\n", ""), meeting("c", "CLASS:CONFIDENTIAL\r\n", "")];
    let full = render_all(&input(FeedMode::Full, true, true), &objects).text;
    assert!(!full.contains("UID:p\r\n") && !full.contains("UID:x\r\n"), "{full}");
    assert!(full.contains("UID:c\r\n") && !full.contains("Board") && full.contains("SUMMARY:Busy"), "{full}");
    let busy = render_all(&input(FeedMode::Busy, false, false), &objects[..2]).text;
    assert!(!busy.contains("BEGIN:VEVENT"), "private events make no busy time: {busy}");
}

#[test]
fn busy_mode_gives_one_opaque_event_per_period() {
    let transparent = object(
        "BEGIN:VEVENT\r\nUID:t\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260106T100000Z\r\nDURATION:PT1H\r\nTRANSP:TRANSPARENT\r\nSUMMARY:T\r\nEND:VEVENT\r\n",
    );
    let overlapping = object(
        "BEGIN:VEVENT\r\nUID:o\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T103000Z\r\nDURATION:PT1H\r\nSUMMARY:O\r\nEND:VEVENT\r\n",
    );
    let feed = render_all(&input(FeedMode::Busy, false, false), &[meeting("m", "", ""), transparent, overlapping]).text;
    assert_eq!(feed.matches("BEGIN:VEVENT").count(), 4, "four weekly instances, the first merged with its overlap: {feed}");
    assert!(feed.contains("DTSTART:20260105T100000Z\r\nDTEND:20260105T113000Z\r\n"), "{feed}");
    assert!(!feed.contains("Board") && !feed.contains("20260106T10"), "{feed}");
    assert_eq!(feed.matches("TRANSP:OPAQUE").count(), 4);
}

#[test]
fn output_is_deterministic_and_capped() {
    let objects: Vec<String> = (0..20).map(|i| meeting(&format!("u{i}"), "", "")).collect();
    let a = render_all(&input(FeedMode::Full, false, false), &objects);
    assert_eq!(a, render_all(&input(FeedMode::Full, false, false), &objects));
    let capped = render_all(&FeedInput { max_bytes: 2_000, ..input(FeedMode::Full, false, false) }, &objects);
    assert!(capped.text.len() <= 2_000 && capped.truncated > 0 && capped.text.ends_with("END:VCALENDAR\r\n"), "{}", capped.text.len());
}

#[test]
fn the_window_moves_once_a_day() {
    let morning = window(crate::config::parse_utc("20260101T010000Z").unwrap());
    let evening = window(crate::config::parse_utc("20260101T230000Z").unwrap());
    assert_eq!(morning, evening);
    assert_eq!(morning.start, crate::config::parse_utc("20251003T000000Z"));
}
