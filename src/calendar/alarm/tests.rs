//! The alarm schedule against hand-computed UTC times (RFC 5545 §3.6.6, §3.8.6; RFC 9074;
//! Thunderbird's X-MOZ properties), next_due's windows and caps, and the recurrence golden
//! corpus as an independent oracle (`golden.rs`).

use super::*;

mod golden;

const UTC: chrono_tz::Tz = chrono_tz::UTC;

fn ts(s: &str) -> Timestamp {
    chrono::NaiveDateTime::parse_from_str(s, "%Y%m%dT%H%M%SZ").unwrap().and_utc().timestamp()
}

fn ctx(zone: chrono_tz::Tz) -> AlarmContext<'static> {
    AlarmContext { zone, owner_addresses: &[], max_instances: 5_000 }
}

/// A VCALENDAR around `body`, whose lines are separated by `\n`.
fn cal(body: &str) -> Vec<u8> {
    format!("BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//t//t//EN\n{body}\nEND:VCALENDAR\n").replace('\n', "\r\n").into_bytes()
}

fn event(props: &str) -> String {
    format!("BEGIN:VEVENT\nUID:e1\nDTSTAMP:20240101T000000Z\n{props}\nEND:VEVENT")
}

fn valarm(action: &str, props: &str) -> String {
    format!("BEGIN:VALARM\nACTION:{action}\nDESCRIPTION:d\n{props}\nEND:VALARM")
}

/// Fires in a window wide enough for every case of 2024, as (time, action, instance).
fn fires(data: &[u8], ctx: &AlarmContext) -> Vec<(String, AlarmAction, Option<String>)> {
    let all = fires_between(data, ctx, ts("20231201T000000Z"), ts("20250101T000000Z")).unwrap();
    all.iter().map(|f| (utc(f.at), f.action, f.instance.map(utc))).collect()
}

fn times(data: &[u8], ctx: &AlarmContext) -> Vec<String> {
    fires(data, ctx).into_iter().map(|(at, _, _)| at).collect()
}

fn utc(t: Timestamp) -> String {
    chrono::DateTime::from_timestamp(t, 0).unwrap().format("%Y%m%dT%H%M%SZ").to_string()
}

use AlarmAction::{Audio, Display, Email};

const ONE_HOUR: &str = "DTSTART:20240110T100000Z\nDTEND:20240110T110000Z";

#[test]
fn relative_to_start_and_end_with_negative_and_positive_offsets() {
    let data = cal(&event(&format!(
        "{ONE_HOUR}\n{}\n{}\n{}",
        valarm("DISPLAY", "TRIGGER:-PT15M"),
        valarm("AUDIO", "TRIGGER;RELATED=END:PT5M"),
        valarm("DISPLAY", "TRIGGER;RELATED=START:PT10M")
    )));
    assert_eq!(
        fires(&data, &ctx(UTC)),
        vec![
            ("20240110T094500Z".into(), Display, None),
            ("20240110T101000Z".into(), Display, None),
            ("20240110T110500Z".into(), Audio, None),
        ]
    );
    // (after, until]: a fire at `after` is not included, one at `until` is.
    let got = fires_between(&data, &ctx(UTC), ts("20240110T094500Z"), ts("20240110T101000Z")).unwrap();
    assert_eq!(got.iter().map(|f| utc(f.at)).collect::<Vec<_>>(), vec!["20240110T101000Z"]);
    assert_eq!(got[0].key, format!("DISPLAY@{}", ts("20240110T101000Z")));
}

#[test]
fn related_end_needs_an_end_to_relate_to() {
    // RFC 5545 §3.8.6.3: RELATED=END needs DTEND or DURATION; an implied end is not one.
    let end_alarm = valarm("DISPLAY", "TRIGGER;RELATED=END:-PT5M");
    for start in ["DTSTART:20240110T100000Z", "DTSTART;VALUE=DATE:20240110"] {
        assert!(times(&cal(&event(&format!("{start}\n{end_alarm}"))), &ctx(UTC)).is_empty(), "{start}");
    }
    let with_duration = cal(&event(&format!("DTSTART:20240110T100000Z\nDURATION:PT2H\n{end_alarm}")));
    assert_eq!(times(&with_duration, &ctx(UTC)), vec!["20240110T115500Z"]);
    // A to-do with DTSTART only has no end either.
    assert!(times(&todo(&format!("DTSTART:20240110T100000Z\n{end_alarm}")), &ctx(UTC)).is_empty());
}

#[test]
fn absolute_trigger_fires_once_even_on_a_recurring_master() {
    let data = cal(&event(&format!(
        "{ONE_HOUR}\nRRULE:FREQ=DAILY;COUNT=3\n{}",
        valarm("DISPLAY", "TRIGGER;VALUE=DATE-TIME:20240109T080000Z")
    )));
    assert_eq!(fires(&data, &ctx(UTC)), vec![("20240109T080000Z".into(), Display, None)]);
}

#[test]
fn repeat_and_duration_fire_again() {
    let data = cal(&event(&format!("{ONE_HOUR}\n{}", valarm("DISPLAY", "TRIGGER:-PT30M\nREPEAT:2\nDURATION:PT10M"))));
    assert_eq!(times(&data, &ctx(UTC)), vec!["20240110T093000Z", "20240110T094000Z", "20240110T095000Z"]);
    let later = fires_between(&data, &ctx(UTC), ts("20240110T093500Z"), ts("20240110T120000Z")).unwrap();
    assert_eq!(later.iter().map(|f| utc(f.at)).collect::<Vec<_>>(), vec!["20240110T094000Z", "20240110T095000Z"]);
    // Each repeat is its own fire with its own key.
    assert_ne!(later[0].key, later[1].key);
}

#[test]
fn weekly_berlin_alarm_keeps_local_time_across_the_march_dst_change() {
    // Mondays 09:00 in Berlin: CET (UTC+1) on Mar 18 and 25, CEST (UTC+2) from Mar 31 2024.
    let data = cal(&event(&format!(
        "DTSTART;TZID=Europe/Berlin:20240318T090000\nDURATION:PT1H\nRRULE:FREQ=WEEKLY;COUNT=3\n{}",
        valarm("DISPLAY", "TRIGGER:-PT15M")
    )));
    assert_eq!(
        fires(&data, &ctx(UTC)),
        vec![
            ("20240318T074500Z".into(), Display, Some("20240318T080000Z".into())),
            ("20240325T074500Z".into(), Display, Some("20240325T080000Z".into())),
            ("20240401T064500Z".into(), Display, Some("20240401T070000Z".into())),
        ]
    );
}

#[test]
fn a_day_before_is_a_nominal_day_across_dst_but_24_hours_are_exact() {
    // Sunday Mar 31 2024 09:00 CEST = 07:00Z. -P1D: Saturday 09:00 CET = 08:00Z; -PT24H: 07:00Z.
    let data = cal(&event(&format!(
        "DTSTART;TZID=Europe/Berlin:20240331T090000\nDURATION:PT1H\n{}\n{}",
        valarm("DISPLAY", "TRIGGER:-P1D"),
        valarm("AUDIO", "TRIGGER:-PT24H")
    )));
    assert_eq!(
        fires(&data, &ctx(UTC)),
        vec![("20240330T070000Z".into(), Audio, None), ("20240330T080000Z".into(), Display, None)]
    );
    // A one-second window still finds the instance a nominal day away (25 hours here).
    let at = ts("20240330T080000Z");
    let point = cal(&event(&format!("DTSTART;TZID=Europe/Berlin:20240331T090000\n{}", valarm("DISPLAY", "TRIGGER:-P1D"))));
    let narrow = fires_between(&point, &ctx(UTC), at - 1, at).unwrap();
    assert_eq!(narrow.iter().map(|f| (f.at, f.action)).collect::<Vec<_>>(), vec![(at, Display)]);
}

#[test]
fn all_day_and_floating_times_are_read_in_the_context_zone() {
    let new_york = ctx(chrono_tz::America::New_York); // EST, UTC-5, in January
    let all_day = cal(&event(&format!(
        "DTSTART;VALUE=DATE:20240110\nDTEND;VALUE=DATE:20240111\n{}\n{}",
        valarm("DISPLAY", "TRIGGER:-PT15M"),
        valarm("AUDIO", "TRIGGER;RELATED=END:-PT1H")
    )));
    assert_eq!(
        fires(&all_day, &new_york),
        vec![("20240110T044500Z".into(), Display, None), ("20240111T040000Z".into(), Audio, None)]
    );
    assert_eq!(times(&all_day, &ctx(UTC)), vec!["20240109T234500Z", "20240110T230000Z"]);
    let floating = cal(&event(&format!("DTSTART:20240110T090000\nDURATION:PT1H\n{}", valarm("DISPLAY", "TRIGGER:-PT15M"))));
    assert_eq!(times(&floating, &new_york), vec!["20240110T134500Z"]);
    let f = &fires_between(&all_day, &new_york, ts("20240101T000000Z"), ts("20240110T050000Z")).unwrap()[0];
    assert!(f.occasion.all_day);
    assert_eq!((f.occasion.zone.as_str(), f.occasion.start, f.occasion.end), ("America/New_York", Some(ts("20240110T050000Z")), Some(ts("20240111T050000Z"))));
    let f = &fires_between(&floating, &new_york, ts("20240101T000000Z"), ts("20240111T000000Z")).unwrap()[0];
    assert!(!f.occasion.all_day);
    assert_eq!(f.occasion.zone, "America/New_York");
}

/// A daily master at 10:00Z on Jan 10, 11, 12 with a -PT15M DISPLAY alarm, plus `rest`.
fn daily_with(master_props: &str, rest: &str) -> Vec<u8> {
    let master = event(&format!("{ONE_HOUR}\nRRULE:FREQ=DAILY;COUNT=3\n{master_props}\n{}", valarm("DISPLAY", "TRIGGER:-PT15M")));
    cal(&format!("{master}\n{rest}"))
}

fn override_of(rid: &str, props: &str) -> String {
    event(&format!("RECURRENCE-ID:{rid}\n{props}"))
}

#[test]
fn an_override_with_its_own_alarm_replaces_the_masters() {
    let moved = override_of("20240111T100000Z", &format!("DTSTART:20240111T140000Z\nDURATION:PT1H\n{}", valarm("AUDIO", "TRIGGER:-PT30M")));
    assert_eq!(
        fires(&daily_with("", &moved), &ctx(UTC)),
        vec![
            ("20240110T094500Z".into(), Display, Some("20240110T100000Z".into())),
            ("20240111T133000Z".into(), Audio, Some("20240111T100000Z".into())),
            ("20240112T094500Z".into(), Display, Some("20240112T100000Z".into())),
        ]
    );
}

#[test]
fn an_override_without_alarm_has_no_fire() {
    let silent = override_of("20240111T100000Z", "DTSTART:20240111T140000Z\nDURATION:PT1H\nSUMMARY:moved");
    assert_eq!(times(&daily_with("", &silent), &ctx(UTC)), vec!["20240110T094500Z", "20240112T094500Z"]);
}

#[test]
fn this_and_future_moves_later_instances_with_the_overrides_alarm() {
    let master = event(&format!("{ONE_HOUR}\nRRULE:FREQ=DAILY;COUNT=4\n{}", valarm("DISPLAY", "TRIGGER:-PT15M")));
    let future = event(&format!(
        "RECURRENCE-ID;RANGE=THISANDFUTURE:20240112T100000Z\nDTSTART:20240112T120000Z\nDURATION:PT1H\n{}",
        valarm("DISPLAY", "TRIGGER:-PT5M")
    ));
    assert_eq!(
        fires(&cal(&format!("{master}\n{future}")), &ctx(UTC)),
        vec![
            ("20240110T094500Z".into(), Display, Some("20240110T100000Z".into())),
            ("20240111T094500Z".into(), Display, Some("20240111T100000Z".into())),
            ("20240112T115500Z".into(), Display, Some("20240112T100000Z".into())),
            ("20240113T115500Z".into(), Display, Some("20240113T100000Z".into())),
        ]
    );
}

#[test]
fn exdate_and_cancelled_instances_do_not_fire() {
    assert_eq!(times(&daily_with("EXDATE:20240111T100000Z", ""), &ctx(UTC)), vec!["20240110T094500Z", "20240112T094500Z"]);
    let cancelled = override_of("20240112T100000Z", &format!("{ONE_HOUR}\nSTATUS:CANCELLED\n{}", valarm("DISPLAY", "TRIGGER:-PT15M")));
    assert_eq!(times(&daily_with("", &cancelled), &ctx(UTC)), vec!["20240110T094500Z", "20240111T094500Z"]);
    assert!(times(&daily_with("STATUS:CANCELLED", ""), &ctx(UTC)).is_empty());
}

#[test]
fn declined_by_the_owner_only_when_the_owner_is_named() {
    let data = cal(&event(&format!(
        "{ONE_HOUR}\nORGANIZER:mailto:boss@example.com\nATTENDEE;PARTSTAT=DECLINED:mailto:Me@Example.com\nATTENDEE;PARTSTAT=ACCEPTED:mailto:you@example.com\n{}",
        valarm("DISPLAY", "TRIGGER:-PT15M")
    )));
    let with = |owners: &[String]| times(&data, &AlarmContext { owner_addresses: owners, ..ctx(UTC) }).len();
    assert_eq!(with(&[]), 1);
    assert_eq!(with(&["mailto:other@example.com".into()]), 1);
    assert_eq!(with(&["mailto:you@example.com".into()]), 1, "an attendee who accepted");
    assert_eq!(with(&["mailto:me@example.com".into()]), 0);
    assert_eq!(with(&["MAILTO:ME@example.com".into()]), 0);
    assert_eq!(with(&["me@example.com".into()]), 0, "a bare address");
}

#[test]
fn acknowledged_at_or_after_the_fire_suppresses_it() {
    let with_ack = |ack: &str| cal(&event(&format!("{ONE_HOUR}\n{}", valarm("DISPLAY", &format!("TRIGGER:-PT15M\nACKNOWLEDGED:{ack}")))));
    assert!(times(&with_ack("20240110T094500Z"), &ctx(UTC)).is_empty());
    assert!(times(&with_ack("20240110T100000Z"), &ctx(UTC)).is_empty());
    assert_eq!(times(&with_ack("20240110T094459Z"), &ctx(UTC)), vec!["20240110T094500Z"]);
    // On a recurring master it covers every instance's fire up to it.
    let master = event(&format!("{ONE_HOUR}\nRRULE:FREQ=DAILY;COUNT=3\n{}", valarm("DISPLAY", "TRIGGER:-PT15M\nACKNOWLEDGED:20240111T095000Z")));
    assert_eq!(times(&cal(&master), &ctx(UTC)), vec!["20240112T094500Z"]);
}

#[test]
fn thunderbird_lastack_covers_the_components_alarms() {
    assert_eq!(times(&daily_with("X-MOZ-LASTACK:20240111T094500Z", ""), &ctx(UTC)), vec!["20240112T094500Z"]);
    assert_eq!(times(&daily_with("X-MOZ-LASTACK:20240110T094459Z", ""), &ctx(UTC)).len(), 3);
    // An override's instance is an occurrence of the master to Thunderbird: its LASTACK counts.
    let own = override_of("20240112T100000Z", &format!("{ONE_HOUR}\n{}", valarm("AUDIO", "TRIGGER:-PT15M")));
    assert_eq!(times(&daily_with("X-MOZ-LASTACK:20240112T094500Z", &own), &ctx(UTC)), Vec::<String>::new());
}

#[test]
fn thunderbird_snoozes_fire_as_display() {
    let plain = cal(&event(&format!(
        "{ONE_HOUR}\nX-MOZ-LASTACK:20240110T094600Z\nX-MOZ-SNOOZE-TIME:20240110T095500Z\n{}",
        valarm("AUDIO", "TRIGGER:-PT15M")
    )));
    assert_eq!(fires(&plain, &ctx(UTC)), vec![("20240110T095500Z".into(), Display, None)]);
    // 1704967200 s is 2024-01-11T10:00:00Z: the second instance, in microseconds.
    let data = daily_with("X-MOZ-LASTACK:20240111T094600Z\nX-MOZ-SNOOZE-TIME-1704967200000000:20240111T095000Z", "");
    let got = fires_between(&data, &ctx(UTC), ts("20240101T000000Z"), ts("20240201T000000Z")).unwrap();
    let brief: Vec<_> = got.iter().map(|f| (utc(f.at), f.action, f.instance.map(utc))).collect();
    assert_eq!(
        brief,
        vec![
            ("20240111T095000Z".into(), Display, Some("20240111T100000Z".into())),
            ("20240112T094500Z".into(), Display, Some("20240112T100000Z".into())),
        ]
    );
    assert_eq!((got[0].occasion.start, got[0].occasion.end), (Some(ts("20240111T100000Z")), Some(ts("20240111T110000Z"))));
    // A snooze not after the last acknowledgement is over.
    let stale = daily_with("X-MOZ-LASTACK:20240111T095000Z\nX-MOZ-SNOOZE-TIME-1704967200000000:20240111T095000Z", "");
    assert_eq!(times(&stale, &ctx(UTC)), vec!["20240112T094500Z"]);
}

#[test]
fn rfc9074_snooze_alarm_fires_once_at_its_trigger() {
    let data = cal(&event(&format!(
        "{ONE_HOUR}\nRRULE:FREQ=DAILY;COUNT=2\n{}\n{}",
        valarm("DISPLAY", "UID:a1\nTRIGGER:-PT15M\nACKNOWLEDGED:20240110T094600Z"),
        valarm("DISPLAY", "UID:s1\nRELATED-TO;RELTYPE=SNOOZE:a1\nTRIGGER;VALUE=DATE-TIME:20240110T095000Z")
    )));
    assert_eq!(
        fires(&data, &ctx(UTC)),
        vec![("20240110T095000Z".into(), Display, None), ("20240111T094500Z".into(), Display, Some("20240111T100000Z".into()))]
    );
}

#[test]
fn apple_none_alarm_sentinels_and_other_actions_never_fire() {
    let data = cal(&event(&format!(
        "{ONE_HOUR}\n{}\n{}\n{}\n{}",
        valarm("NONE", "TRIGGER;VALUE=DATE-TIME:19760401T005545Z"),
        valarm("DISPLAY", "TRIGGER;VALUE=DATE-TIME:19760401T005545Z"),
        valarm("NONE", "TRIGGER:-PT15M"),
        valarm("PROCEDURE", "TRIGGER:-PT20M")
    )));
    let all = fires_between(&data, &ctx(UTC), i64::MIN / 4, ts("20300101T000000Z")).unwrap();
    assert!(all.is_empty(), "{all:?}");
    assert!(may_have_alarms(&data));
}

#[test]
fn the_same_action_at_the_same_time_is_one_fire_and_the_first_texts_win() {
    let data = cal(&event(&format!(
        "{ONE_HOUR}\n{}\n{}\n{}\n{}",
        valarm("DISPLAY", "TRIGGER:-PT15M\nSUMMARY:first"),
        valarm("DISPLAY", "TRIGGER;RELATED=END:-PT75M\nSUMMARY:second"),
        valarm("AUDIO", "TRIGGER:-PT15M"),
        valarm("DISPLAY", "TRIGGER:-PT15M\nSUMMARY:third")
    )));
    let got = fires_between(&data, &ctx(UTC), ts("20240101T000000Z"), ts("20240201T000000Z")).unwrap();
    assert_eq!(got.iter().map(|f| f.key.as_str()).collect::<Vec<_>>(), vec![format!("AUDIO@{}", ts("20240110T094500Z")), format!("DISPLAY@{}", ts("20240110T094500Z"))]);
    assert_eq!(got[1].summary.as_deref(), Some("first"));
}

fn todo(props: &str) -> Vec<u8> {
    cal(&format!("BEGIN:VTODO\nUID:t1\nDTSTAMP:20240101T000000Z\n{props}\nEND:VTODO"))
}

#[test]
fn todo_alarms_relate_to_due() {
    let data = todo(&format!("DTSTART:20240110T090000Z\nDUE:20240110T120000Z\n{}", valarm("DISPLAY", "TRIGGER;RELATED=END:-PT30M")));
    assert_eq!(times(&data, &ctx(UTC)), vec!["20240110T113000Z"]);
    let due_only = todo(&format!(
        "DUE:20240110T120000Z\nSUMMARY:file taxes\n{}\n{}",
        valarm("DISPLAY", "TRIGGER;RELATED=END:-PT10M"),
        valarm("AUDIO", "TRIGGER:-PT20M")
    ));
    let got = fires_between(&due_only, &ctx(UTC), ts("20240101T000000Z"), ts("20240201T000000Z")).unwrap();
    assert_eq!(got.iter().map(|f| (utc(f.at), f.action)).collect::<Vec<_>>(), vec![("20240110T115000Z".to_string(), Display)]);
    let o = &got[0].occasion;
    assert_eq!((o.kind, o.start, o.end, o.summary.as_deref()), (ComponentKind::Todo, None, Some(ts("20240110T120000Z")), Some("file taxes")));
}

#[test]
fn completed_or_cancelled_todos_do_not_fire() {
    let alarm = valarm("DISPLAY", "TRIGGER;RELATED=END:-PT30M");
    let open = todo(&format!("DUE:20240110T120000Z\nSTATUS:NEEDS-ACTION\n{alarm}"));
    assert_eq!(times(&open, &ctx(UTC)).len(), 1);
    for done in ["STATUS:COMPLETED", "COMPLETED:20240105T000000Z", "STATUS:CANCELLED"] {
        assert!(times(&todo(&format!("DUE:20240110T120000Z\n{done}\n{alarm}")), &ctx(UTC)).is_empty(), "{done}");
    }
}

#[test]
fn email_alarms_carry_attendees_summary_and_description() {
    let data = cal(&event(&format!(
        "{ONE_HOUR}\n{}\n{}",
        "BEGIN:VALARM\nACTION:EMAIL\nTRIGGER:-PT1H\nSUMMARY:Meeting\\, soon\nDESCRIPTION:Line one\\nLine two\nATTENDEE:mailto:a@example.com\nATTENDEE;CN=B:mailto:b@example.com\nEND:VALARM",
        valarm("DISPLAY", "TRIGGER:-PT5M\nATTENDEE:mailto:c@example.com")
    )));
    let got = fires_between(&data, &ctx(UTC), ts("20240101T000000Z"), ts("20240201T000000Z")).unwrap();
    assert_eq!((got[0].action, got[0].at), (Email, ts("20240110T090000Z")));
    assert_eq!(got[0].summary.as_deref(), Some("Meeting, soon"));
    assert_eq!(got[0].description.as_deref(), Some("Line one\nLine two"));
    assert_eq!(got[0].attendees, vec!["mailto:a@example.com", "mailto:b@example.com"]);
    assert_eq!((got[1].action, got[1].attendees.len()), (Display, 0));
}

#[test]
fn the_occasion_comes_from_the_describing_component() {
    let master = event(&format!(
        "DTSTART;TZID=Europe/Berlin:20240110T100000\nDTEND;TZID=Europe/Berlin:20240110T113000\nRRULE:FREQ=DAILY;COUNT=2\nSUMMARY:Stand-up\\, daily\nLOCATION:Room 1\\; east\nDESCRIPTION:a\\nb\n{}",
        valarm("DISPLAY", "TRIGGER:-PT15M")
    ));
    let moved = override_of(
        "TZID=Europe/Berlin:20240111T100000",
        &format!("DTSTART;TZID=Europe/Berlin:20240111T120000\nDTEND;TZID=Europe/Berlin:20240111T123000\nSUMMARY:Moved\n{}", valarm("DISPLAY", "TRIGGER:-PT15M")),
    )
    .replace("RECURRENCE-ID:TZID=Europe/Berlin:", "RECURRENCE-ID;TZID=Europe/Berlin:");
    let got = fires_between(&cal(&format!("{master}\n{moved}")), &ctx(UTC), ts("20240101T000000Z"), ts("20240201T000000Z")).unwrap();
    let first = &got[0].occasion;
    assert_eq!(
        first,
        &Occasion {
            uid: "e1".into(),
            kind: ComponentKind::Event,
            summary: Some("Stand-up, daily".into()),
            location: Some("Room 1; east".into()),
            description: Some("a\nb".into()),
            start: Some(ts("20240110T090000Z")),
            end: Some(ts("20240110T103000Z")),
            all_day: false,
            zone: "Europe/Berlin".into(),
        }
    );
    let second = &got[1].occasion;
    assert_eq!((second.summary.as_deref(), second.location.as_deref(), second.start), (Some("Moved"), None, Some(ts("20240111T110000Z"))));
    assert_eq!((got[1].at, got[1].instance), (ts("20240111T104500Z"), Some(ts("20240111T090000Z"))));
    let utc_event = cal(&event(&format!("{ONE_HOUR}\n{}", valarm("DISPLAY", "TRIGGER:-PT15M"))));
    assert_eq!(fires_between(&utc_event, &ctx(chrono_tz::Asia::Tokyo), 0, ts("20250101T000000Z")).unwrap()[0].occasion.zone, "UTC");
}

#[test]
fn may_have_alarms_is_a_case_insensitive_scan() {
    assert!(may_have_alarms(b"BEGIN:VCALENDAR\r\nbegin:valarm\r\n"));
    assert!(may_have_alarms(b"X-MOZ-SNOOZE-TIME-1704967200000000:20240111T095000Z"));
    assert!(!may_have_alarms(&cal(&event(ONE_HOUR))));
    assert!(!may_have_alarms(b""));
}

#[test]
fn unreadable_data_is_an_error() {
    let broken = b"BEGIN:VCALENDAR\r\nBEGIN:VALARM\r\n";
    assert!(matches!(fires_between(broken, &ctx(UTC), 0, 10), Err(AlarmError::Unreadable(_))));
    assert!(matches!(next_due(broken, &ctx(UTC), 0, 10), Err(AlarmError::Unreadable(_))));
}

const DAY: i64 = 86_400;

/// A write's schedule comes from its validation's parse (`next_due_parsed`): the same answer
/// as a parse of its own, for single, recurring and alarm-less objects at several moments.
#[test]
fn next_due_on_validations_parse_agrees() {
    let opts = crate::calendar::ValidateOptions { min_date_time: Timestamp::MIN, max_date_time: Timestamp::MAX };
    let objects = [
        cal(&event(&format!("{ONE_HOUR}\n{}", valarm("DISPLAY", "TRIGGER:-PT15M")))),
        cal(&event(&format!("{ONE_HOUR}\nRRULE:FREQ=YEARLY\n{}", valarm("DISPLAY", "TRIGGER:-PT15M")))),
        cal(&event(&format!("{ONE_HOUR}\nRRULE:FREQ=DAILY;COUNT=3\n{}", valarm("AUDIO", "TRIGGER;RELATED=END:PT5M")))),
        cal(&event(ONE_HOUR)),
    ];
    for data in &objects {
        for at in [ts("20240101T000000Z"), ts("20240110T094500Z"), ts("20240201T000000Z")] {
            let (_, parsed) = crate::calendar::validate::index_object_then(data, &opts, at, |p| {
                next_due_parsed(std::str::from_utf8(data).unwrap(), p, &ctx(UTC), at, 30 * DAY)
            })
            .unwrap();
            assert_eq!(parsed, next_due(data, &ctx(UTC), at, 30 * DAY), "{}", String::from_utf8_lossy(data));
        }
    }
}

#[test]
fn next_due_at_recheck_and_never() {
    let data = cal(&event(&format!("{ONE_HOUR}\n{}", valarm("DISPLAY", "TRIGGER:-PT15M"))));
    let jan1 = ts("20240101T000000Z");
    assert_eq!(next_due(&data, &ctx(UTC), jan1, 30 * DAY), Ok(NextDue::At(ts("20240110T094500Z"))));
    // The cap is inclusive, and a single event beyond it is looked at again at the cap.
    let to_fire = ts("20240110T094500Z") - jan1;
    assert_eq!(next_due(&data, &ctx(UTC), jan1, to_fire), Ok(NextDue::At(ts("20240110T094500Z"))));
    assert_eq!(next_due(&data, &ctx(UTC), jan1, to_fire - 1), Ok(NextDue::Recheck(ts("20240110T094459Z"))));
    assert_eq!(next_due(&data, &ctx(UTC), jan1, 3 * DAY), Ok(NextDue::Recheck(jan1 + 3 * DAY)));
    // Its only alarm passed: never again.
    assert_eq!(next_due(&data, &ctx(UTC), ts("20240110T094500Z"), 30 * DAY), Ok(NextDue::Never));
    assert_eq!(next_due(&cal(&event(ONE_HOUR)), &ctx(UTC), jan1, 30 * DAY), Ok(NextDue::Never));
    // An endless yearly rule has nothing in a month, but will fire later.
    let yearly = cal(&event(&format!("{ONE_HOUR}\nRRULE:FREQ=YEARLY\n{}", valarm("DISPLAY", "TRIGGER:-PT15M"))));
    assert_eq!(next_due(&yearly, &ctx(UTC), ts("20240201T000000Z"), 30 * DAY), Ok(NextDue::Recheck(ts("20240302T000000Z"))));
    assert_eq!(next_due(&yearly, &ctx(UTC), ts("20240201T000000Z"), 366 * DAY), Ok(NextDue::At(ts("20250110T094500Z"))));
}

#[test]
fn next_due_of_an_endless_minutely_event_is_fast_and_exact() {
    let data = cal(&event(&format!("DTSTART:20240110T100000Z\nDURATION:PT30S\nRRULE:FREQ=MINUTELY\n{}", valarm("DISPLAY", "TRIGGER:-PT1M"))));
    let started = std::time::Instant::now();
    assert_eq!(next_due(&data, &ctx(UTC), ts("20240115T120030Z"), 60 * DAY), Ok(NextDue::At(ts("20240115T120100Z"))));
    // With room for only 50 instances, the first window (an hour) is narrowed, not refused.
    let tight = AlarmContext { max_instances: 50, ..ctx(UTC) };
    assert_eq!(next_due(&data, &tight, ts("20240115T120030Z"), 60 * DAY), Ok(NextDue::At(ts("20240115T120100Z"))));
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
    let hour = fires_between(&data, &ctx(UTC), ts("20240115T120000Z"), ts("20240115T130000Z")).unwrap();
    assert_eq!(hour.len(), 60);
    assert_eq!((hour[0].at, hour[59].at), (ts("20240115T120100Z"), ts("20240115T130000Z")));
    assert_eq!(hour[0].instance, Some(ts("20240115T120200Z")));
}

#[test]
fn next_due_of_a_daily_event_from_2005_stays_within_max_instances() {
    let data = cal(&event(&format!("DTSTART:20050301T090000Z\nDURATION:PT1H\nRRULE:FREQ=DAILY\n{}", valarm("DISPLAY", "TRIGGER:-PT15M"))));
    let tight = AlarmContext { max_instances: 10, ..ctx(UTC) };
    assert_eq!(next_due(&data, &tight, ts("20260115T120000Z"), 60 * DAY), Ok(NextDue::At(ts("20260116T084500Z"))));
    // The same question over a whole month at once would need more than 10 instances.
    assert_eq!(
        fires_between(&data, &tight, ts("20260101T000000Z"), ts("20260201T000000Z")),
        Err(AlarmError::TooManyInstances)
    );
}

#[test]
fn next_due_when_windows_hold_too_many_instances() {
    // Every 48 minutes, 30 instances a day; at most 40 may be expanded per call.
    let every_48 = |alarm: &str| cal(&event(&format!("DTSTART:20240110T000000Z\nDURATION:PT10M\nRRULE:FREQ=MINUTELY;INTERVAL=48;UNTIL=20240301T000000Z\n{alarm}")));
    let tight = AlarmContext { max_instances: 40, ..ctx(UTC) };
    // Only an absolute alarm: no instance is listed at all.
    let absolute = every_48(&valarm("DISPLAY", "TRIGGER;VALUE=DATE-TIME:20300101T000000Z"));
    assert_eq!(next_due(&absolute, &tight, ts("20240115T000000Z"), 10_000 * DAY), Ok(NextDue::At(ts("20300101T000000Z"))));
    // PT10H: the instance of Jan 14 14:24 (k = 138, 6,624 minutes in) fires Jan 15 00:24.
    let relative = every_48(&valarm("DISPLAY", "TRIGGER:PT10H"));
    assert_eq!(next_due(&relative, &tight, ts("20240115T000100Z"), 30 * DAY), Ok(NextDue::At(ts("20240115T002400Z"))));
    // PT30D: nothing before Feb 9. The hour, the day and the week after Jan 11 are empty; the
    // cap's window holds a month of instances, so the week's end is where to look again.
    let quiet = every_48(&valarm("DISPLAY", "TRIGGER:PT30D"));
    assert_eq!(next_due(&quiet, &tight, ts("20240111T000000Z"), 60 * DAY), Ok(NextDue::Recheck(ts("20240118T000000Z"))));
    assert_eq!(next_due(&quiet, &ctx(UTC), ts("20240111T000000Z"), 60 * DAY), Ok(NextDue::At(ts("20240209T000000Z"))));
    // Room for one instance: the hour is halved down to a minute, which holds one.
    let minutely = cal(&event(&format!("DTSTART:20240110T100000Z\nRRULE:FREQ=MINUTELY\n{}", valarm("DISPLAY", "TRIGGER:-PT1M"))));
    let one = AlarmContext { max_instances: 1, ..ctx(UTC) };
    assert_eq!(next_due(&minutely, &one, ts("20240115T120030Z"), 60 * DAY), Ok(NextDue::At(ts("20240115T120100Z"))));
    // Six instances a minute: not even a minute can be examined; refused, not guessed.
    let secondly = cal(&event(&format!("DTSTART:20240115T100000Z\nRRULE:FREQ=SECONDLY;INTERVAL=10\n{}", valarm("DISPLAY", "TRIGGER:-PT1M"))));
    assert_eq!(next_due(&secondly, &AlarmContext { max_instances: 3, ..ctx(UTC) }, ts("20240115T120030Z"), 60 * DAY), Err(AlarmError::TooManyInstances));
}

#[test]
fn next_due_agrees_with_fires_between() {
    let objects = [
        daily_with("", &override_of("20240111T100000Z", &format!("DTSTART:20240111T140000Z\nDURATION:PT1H\n{}", valarm("AUDIO", "TRIGGER:-PT30M")))),
        cal(&event(&format!("DTSTART;TZID=Europe/Berlin:20240318T090000\nDURATION:PT1H\nRRULE:FREQ=WEEKLY\n{}", valarm("DISPLAY", "TRIGGER:-P1D\nREPEAT:3\nDURATION:PT2H")))),
        cal(&event(&format!("DTSTART;VALUE=DATE:20240110\nRRULE:FREQ=MONTHLY;COUNT=5\nX-MOZ-SNOOZE-TIME-1704844800000000:20240115T000000Z\n{}", valarm("EMAIL", "TRIGGER:-PT12H\nATTENDEE:mailto:a@b")))),
        todo(&format!("DTSTART:20240110T090000Z\nDUE:20240110T120000Z\nRRULE:FREQ=WEEKLY;COUNT=6\n{}", valarm("DISPLAY", "TRIGGER;RELATED=END:-PT30M"))),
    ];
    let zone = ctx(chrono_tz::America::Sao_Paulo);
    let mut compared = 0;
    for data in &objects {
        for day in [0, 3, 9, 10, 11, 20, 40, 80, 120, 200] {
            let after = ts("20240101T000000Z") + day * DAY + 1_234;
            let cap = 45 * DAY;
            let first = fires_between(data, &zone, after, after + cap).unwrap().first().map(|f| f.at);
            let due = next_due(data, &zone, after, cap).unwrap();
            match first {
                Some(at) => {
                    assert_eq!(due, NextDue::At(at), "after {}", utc(after));
                    compared += 1;
                }
                None => assert!(matches!(due, NextDue::Recheck(t) if t == after + cap) || due == NextDue::Never, "after {}: {due:?}", utc(after)),
            }
        }
    }
    assert!(compared >= 15, "{compared}");
}

#[test]
fn fires_and_next_answers_what_the_two_calls_do_from_one_parse() {
    let data = cal(&event(&format!("DTSTART:20240110T100000Z\nRRULE:FREQ=DAILY;COUNT=5\n{}", valarm("DISPLAY", "TRIGGER:-PT15M"))));
    let c = ctx(UTC);
    for (after, until) in [(ts("20240109T000000Z"), ts("20240111T000000Z")), (ts("20240112T000000Z"), ts("20240120T000000Z"))] {
        let (fires, next) = fires_and_next(&data, &c, after, until, 60 * 86_400).unwrap();
        assert_eq!(fires, fires_between(&data, &c, after, until));
        assert_eq!(next, next_due(&data, &c, until, 60 * 86_400));
    }
    assert_eq!(fires_and_next(b"not iCalendar BEGIN:VALARM", &c, 0, 10, 100).map(|_| ()).is_err(), fires_between(b"not iCalendar BEGIN:VALARM", &c, 0, 10).is_err());
}
