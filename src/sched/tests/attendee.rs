//! The attendee's writes (RFC 6638 §3.2.2): allowed changes, refusals, replies, deletion.

use super::organizer::{override_on, standup};
use super::*;
use crate::sched::{SchedError, apply_request, attendee_change, attendee_delete, organizer_change};

fn me() -> [Address; 1] {
    [addr("mailto:a@x.org")]
}

/// a's copy of `organizer_text` as the server would create it.
fn copy_of(organizer_text: &str) -> String {
    let plan = organizer_change(None, organizer_text, &[addr("mailto:o@x.org")], NOW).unwrap();
    let request = &to(&plan.messages, "mailto:a@x.org")[0].text;
    stored(apply_request(request, None, &addr("mailto:a@x.org"), NOW).unwrap())
}

fn answer(copy: &str, partstat: &str) -> String {
    copy.replace("ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:a@x.org", &format!("ATTENDEE;PARTSTAT={partstat}:mailto:a@x.org"))
}

fn refused(old: &str, new: &str) -> String {
    match attendee_change(Some(old), new, &me(), NOW) {
        Err(SchedError::ValidAttendeeChange(why)) => why,
        other => panic!("not refused: {other:?}"),
    }
}

#[test]
fn a_changed_answer_replies_to_the_organizer() {
    let copy = copy_of(&standup("", ""));
    let plan = attendee_change(Some(&copy), &answer(&copy, "ACCEPTED"), &me(), NOW).unwrap();
    check_plan(&plan);
    assert_eq!(methods(&plan.messages, "mailto:o@x.org"), [Method::Reply]);
    let reply = items(&plan.messages[0].text);
    assert_eq!(reply.len(), 1);
    assert_eq!(attendee_line(&reply[0], "mailto:a@x.org"), "ATTENDEE;PARTSTAT=ACCEPTED:mailto:a@x.org");
    assert_eq!(reply[0].props_named("ATTENDEE").count(), 1, "a REPLY names only the attendee replying");
    assert_eq!(plan.store, answer(&copy, "ACCEPTED"), "the client's text is stored");
}

#[test]
fn personal_changes_are_allowed_and_send_nothing() {
    let copy = copy_of(&standup("", ""));
    let personal = copy
        .replace("SUMMARY:Standup\r\n", "SUMMARY:Standup\r\nTRANSP:TRANSPARENT\r\nX-MOZ-LASTACK:20240601T120000Z\r\nLAST-MODIFIED:20240601T120000Z\r\n")
        .replace("END:VEVENT", "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT1H\r\nEND:VALARM\r\nEND:VEVENT")
        .replace("DTSTAMP:20240601T120000Z", "DTSTAMP:20240601T130000Z");
    let plan = attendee_change(Some(&copy), &personal, &me(), NOW).unwrap();
    assert!(plan.messages.is_empty());
    assert_eq!(plan.store, personal);
}

#[test]
fn changes_beyond_participation_are_refused() {
    let copy = copy_of(&standup("", &override_on("12", "", &["o", "a"])));
    let cases = [
        (copy.replace("SUMMARY:Standup", "SUMMARY:Mine now"), "SUMMARY"),
        (copy.replacen("DTSTART;TZID=Europe/Berlin:20240610T100000", "DTSTART;TZID=Europe/Berlin:20240610T090000", 1), "DTSTART"),
        (copy.replace("ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:b@x.org\r\n", ""), "attendee list"),
        (copy.replace("RRULE:FREQ=DAILY;COUNT=5", "RRULE:FREQ=DAILY;COUNT=9"), "RRULE"),
        (copy.replace("SEQUENCE:1", "SEQUENCE:4"), "SEQUENCE"),
        (copy.replacen("END:VEVENT", "LOCATION:Home\r\nEND:VEVENT", 1), "LOCATION"),
    ];
    for (new, what) in cases {
        let why = refused(&copy, &new);
        assert!(why.contains(what), "{what}: {why}");
    }
    let cut = copy.rfind("BEGIN:VEVENT").unwrap();
    let without_override = format!("{}END:VCALENDAR\r\n", &copy[..cut]);
    assert!(refused(&copy, &without_override).contains("cannot be removed"));
    let excluded = copy.contains("EXDATE");
    assert!(!excluded, "a is in the override, so its copy excludes nothing");
    let organizer = copy.replace("ORGANIZER;CN=Olga:mailto:o@x.org", "ORGANIZER:mailto:b@x.org");
    assert!(matches!(attendee_change(Some(&copy), &organizer, &me(), NOW), Err(SchedError::ValidOrganizer(_))));
}

#[test]
fn other_attendees_lines_are_the_stored_ones() {
    // b answered after a's client read the copy: a's write on that older copy (RFC 6638
    // §3.2.10.1, If-Schedule-Tag-Match) keeps b's answer.
    let read = copy_of(&standup("", ""));
    let current = read.replace("ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:b@x.org", "ATTENDEE;PARTSTAT=ACCEPTED:mailto:b@x.org");
    assert_ne!(current, read);
    let plan = attendee_change(Some(&current), &answer(&read, "TENTATIVE"), &me(), NOW).unwrap();
    assert_eq!(plan.store, answer(&current, "TENTATIVE"));
    assert_eq!(methods(&plan.messages, "mailto:o@x.org"), [Method::Reply]);
    // a answers only for a.
    let forged = answer(&current, "ACCEPTED").replace("PARTSTAT=ACCEPTED:mailto:b@x.org", "PARTSTAT=DECLINED:mailto:b@x.org");
    assert_eq!(attendee_change(Some(&current), &forged, &me(), NOW).unwrap().store, answer(&current, "ACCEPTED"));
}

#[test]
fn declining_one_instance_by_exdate_or_override() {
    let copy = answer(&copy_of(&standup("", "")), "ACCEPTED");
    let exdate = copy.replace("RRULE:FREQ=DAILY;COUNT=5\r\n", "RRULE:FREQ=DAILY;COUNT=5\r\nEXDATE;TZID=Europe/Berlin:20240613T100000\r\n");
    let plan = attendee_change(Some(&copy), &exdate, &me(), NOW).unwrap();
    check_plan(&plan);
    let reply = items(&plan.messages[0].text);
    assert_eq!(reply.len(), 1);
    assert_eq!(line(&reply[0], "RECURRENCE-ID"), "RECURRENCE-ID;TZID=Europe/Berlin:20240613T100000");
    assert_eq!(partstat_of(&reply[0], "mailto:a@x.org"), "DECLINED");
    assert!(refused(&exdate, &copy).contains("EXDATE"), "the organizer's instances cannot come back by the attendee");
    let own = items(&copy).remove(0);
    let mut over = text::write(&own, false).replace("RRULE:FREQ=DAILY;COUNT=5\r\n", "");
    over = over.replacen("DTSTART;", "RECURRENCE-ID;TZID=Europe/Berlin:20240614T100000\r\nDTSTART;", 1);
    over = over.replace("20240610T1", "20240614T1").replace("PARTSTAT=ACCEPTED:mailto:a", "PARTSTAT=TENTATIVE:mailto:a");
    let with_override = copy.replace("END:VCALENDAR\r\n", &format!("{over}END:VCALENDAR\r\n"));
    let plan = attendee_change(Some(&copy), &with_override, &me(), NOW).unwrap();
    let reply = items(&plan.messages[0].text);
    assert_eq!((reply.len(), partstat_of(&reply[0], "mailto:a@x.org")), (1, "TENTATIVE".into()));
    assert_eq!(line(&reply[0], "RECURRENCE-ID"), "RECURRENCE-ID;TZID=Europe/Berlin:20240614T100000");
    let moved = with_override.replace("DTSTART;TZID=Europe/Berlin:20240614T100000", "DTSTART;TZID=Europe/Berlin:20240614T120000");
    assert!(refused(&copy, &moved).contains("move"));
}

#[test]
fn schedule_agent_and_force_reply_on_the_organizer() {
    let copy = copy_of(&standup("", ""));
    let client = |s: &str| s.replace("ORGANIZER;CN=Olga:", "ORGANIZER;CN=Olga;SCHEDULE-AGENT=CLIENT:");
    let plan = attendee_change(Some(&client(&copy)), &client(&answer(&copy, "ACCEPTED")), &me(), NOW).unwrap();
    assert!(plan.messages.is_empty(), "the client replies itself");
    let forced = copy.replace("ORGANIZER;CN=Olga:", "ORGANIZER;CN=Olga;SCHEDULE-FORCE-SEND=REPLY:");
    let plan = attendee_change(Some(&copy), &forced, &me(), NOW).unwrap();
    assert_eq!(methods(&plan.messages, "mailto:o@x.org"), [Method::Reply]);
    assert!(!plan.store.contains("SCHEDULE-FORCE-SEND"));
    let created = attendee_change(None, &answer(&copy, "DECLINED"), &me(), NOW).unwrap();
    assert_eq!(methods(&created.messages, "mailto:o@x.org"), [Method::Reply], "a copy stored with an answer replies");
    assert!(attendee_change(None, &copy, &me(), NOW).unwrap().messages.is_empty(), "one without an answer does not");
}

#[test]
fn deleting_the_copy_declines_unless_declined_or_cancelled() {
    let copy = answer(&copy_of(&standup("", "")), "ACCEPTED");
    let messages = attendee_delete(&copy, &me(), NOW).unwrap();
    messages.iter().for_each(check_message);
    assert_eq!(methods(&messages, "mailto:o@x.org"), [Method::Reply]);
    assert_eq!(partstat_of(&items(&messages[0].text)[0], "mailto:a@x.org"), "DECLINED");
    assert!(attendee_delete(&copy.replace("ACCEPTED:mailto:a", "DECLINED:mailto:a"), &me(), NOW).unwrap().is_empty());
    let cancelled = copy.replace("SUMMARY:Standup\r\n", "SUMMARY:Standup\r\nSTATUS:CANCELLED\r\n");
    assert!(attendee_delete(&cancelled, &me(), NOW).unwrap().is_empty());
    assert!(attendee_delete(&copy, &[addr("mailto:z@x.org")], NOW).unwrap().is_empty());
}
