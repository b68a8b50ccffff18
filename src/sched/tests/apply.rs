//! Processing delivered messages (RFC 6638 §4, RFC 5546 §2.1.5): what an attendee's copy keeps,
//! what ordering ignores, what a reply changes.

use super::organizer::{override_on, standup};
use super::*;
use crate::sched::{SchedError, apply_cancel, apply_reply, apply_request, organizer_change, refresh_others};

fn organizer() -> [Address; 1] {
    [addr("mailto:o@x.org")]
}

fn request_for(plan: &Plan, who: &str) -> String {
    to(&plan.messages, who).iter().find(|m| m.method == Method::Request).map(|m| m.text.clone()).unwrap()
}

/// The organizer's first version, and a's copy of it after a accepted, set an alarm, made it
/// transparent and their client added its private data.
fn accepted_copy() -> (Plan, String) {
    let plan = organizer_change(None, &standup("", ""), &organizer(), NOW).unwrap();
    let copy = stored(apply_request(&request_for(&plan, "mailto:a@x.org"), None, &addr("mailto:a@x.org"), NOW).unwrap());
    let mine = copy
        .replace("ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:a@x.org", "ATTENDEE;PARTSTAT=ACCEPTED:mailto:a@x.org")
        .replace("SUMMARY:Standup\r\n", "SUMMARY:Standup\r\nTRANSP:TRANSPARENT\r\nX-MOZ-LASTACK:20240601T130000Z\r\n")
        .replace("END:VEVENT", "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT1H\r\nDESCRIPTION:mine\r\nEND:VALARM\r\nEND:VEVENT");
    (plan, mine)
}

fn update(plan: &Plan, new: &str) -> Plan {
    let next = organizer_change(Some(&plan.store), new, &organizer(), NOW).unwrap();
    check_plan(&next);
    next
}

#[test]
fn an_update_keeps_the_attendees_alarms_transparency_private_data_and_answer() {
    let (plan, mine) = accepted_copy();
    let next = update(&plan, &standup("DESCRIPTION:agenda\r\n", ""));
    let copy = stored(apply_request(&request_for(&next, "mailto:a@x.org"), Some(&mine), &addr("mailto:a@x.org"), NOW).unwrap());
    let m = items(&copy).remove(0);
    assert_eq!(line(&m, "DESCRIPTION"), "DESCRIPTION:agenda");
    assert_eq!(partstat_of(&m, "mailto:a@x.org"), "ACCEPTED", "same SEQUENCE: the answer stands");
    assert_eq!((line(&m, "TRANSP"), line(&m, "X-MOZ-LASTACK")), ("TRANSP:TRANSPARENT".into(), "X-MOZ-LASTACK:20240601T130000Z".into()));
    let alarms: Vec<String> = m.children.iter().filter(|c| c.name == "VALARM").map(|a| line(a, "DESCRIPTION")).collect();
    assert_eq!(alarms, ["DESCRIPTION:mine"], "their alarm, not the organizer's");
    let moved = update(&next, &standup("DESCRIPTION:agenda\r\n", "").replace("T101500", "T104500"));
    let copy = stored(apply_request(&request_for(&moved, "mailto:a@x.org"), Some(&copy), &addr("mailto:a@x.org"), NOW).unwrap());
    let m = items(&copy).remove(0);
    assert_eq!(partstat_of(&m, "mailto:a@x.org"), "NEEDS-ACTION", "a reschedule asks again");
    assert_eq!(m.children.iter().filter(|c| c.name == "VALARM").count(), 1, "the alarm stays");
}

#[test]
fn ordering_is_by_sequence() {
    let (plan, mine) = accepted_copy();
    let moved = update(&plan, &standup("", "").replace("T101500", "T104500"));
    let a = addr("mailto:a@x.org");
    let newer = stored(apply_request(&request_for(&moved, "mailto:a@x.org"), Some(&mine), &a, NOW).unwrap());
    let stale = apply_request(&request_for(&plan, "mailto:a@x.org"), Some(&newer), &a, NOW).unwrap();
    assert!(matches!(stale, Applied::Ignored(ref why) if why.contains("older")), "{stale:?}");
    let cancel = organizer_change(Some(&moved.store), &moved.store.replace("ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:a@x.org\r\n", ""), &organizer(), NOW).unwrap();
    let cancelled = stored(apply_cancel(&to(&cancel.messages, "mailto:a@x.org")[0].text, Some(&newer)).unwrap());
    assert!(items(&cancelled).iter().all(|c| line(c, "STATUS") == "STATUS:CANCELLED"));
    assert!(matches!(apply_cancel(&to(&cancel.messages, "mailto:a@x.org")[0].text.replace("SEQUENCE:3", "SEQUENCE:0"), Some(&cancelled)).unwrap(), Applied::Ignored(_)));
    let again = stored(apply_request(&request_for(&plan, "mailto:a@x.org"), Some(&cancelled), &a, NOW).unwrap());
    assert!(items(&again).iter().all(|c| c.prop("STATUS").is_none()), "a cancelled copy is re-invited by any REQUEST");
    assert!(matches!(apply_request(&to(&cancel.messages, "mailto:a@x.org")[0].text, Some(&newer), &a, NOW), Err(SchedError::ValidSchedulingMessage(_))));
}

#[test]
fn declined_instances_and_own_overrides_survive_an_update() {
    let (plan, mine) = accepted_copy();
    let a = addr("mailto:a@x.org");
    let declined = mine.replace("RRULE:FREQ=DAILY;COUNT=5\r\n", "RRULE:FREQ=DAILY;COUNT=5\r\nEXDATE;TZID=Europe/Berlin:20240611T100000\r\n");
    let own = override_on("13", "", &["o", "a", "b"]).replace("PARTSTAT=ACCEPTED:mailto:a", "PARTSTAT=TENTATIVE:mailto:a");
    let declined = declined.replace("END:VCALENDAR", &format!("{own}END:VCALENDAR"));
    let next = update(&plan, &standup("DESCRIPTION:agenda\r\n", ""));
    let copy = stored(apply_request(&request_for(&next, "mailto:a@x.org"), Some(&declined), &a, NOW).unwrap());
    assert!(line(&items(&copy)[0], "EXDATE").contains("20240611T100000"), "{copy}");
    let kept = items(&copy).into_iter().find(|c| c.value("RECURRENCE-ID") == Some("20240613T100000")).unwrap();
    assert_eq!((partstat_of(&kept, "mailto:a@x.org"), line(&kept, "DESCRIPTION")), ("TENTATIVE".into(), "DESCRIPTION:agenda".into()));
    let moved = update(&next, &standup("DESCRIPTION:agenda\r\n", "").replace("T101500", "T104500"));
    let copy = stored(apply_request(&request_for(&moved, "mailto:a@x.org"), Some(&copy), &a, NOW).unwrap());
    assert_eq!((items(&copy).len(), line(&items(&copy)[0], "EXDATE")), (1, String::new()), "a reschedule asks about every instance again");
}

#[test]
fn cancelling_instances_on_the_copy() {
    let with = standup("", &override_on("12", "", &["o", "a"]));
    let plan = organizer_change(None, &with, &organizer(), NOW).unwrap();
    let a = addr("mailto:a@x.org");
    let copy = stored(apply_request(&request_for(&plan, "mailto:a@x.org"), None, &a, NOW).unwrap());
    let cancel = update(&plan, &standup("EXDATE;TZID=Europe/Berlin:20240613T100000\r\n", &override_on("12", "STATUS:CANCELLED\r\n", &["o", "a"])));
    let after = stored(apply_cancel(&to(&cancel.messages, "mailto:a@x.org")[0].text, Some(&copy)).unwrap());
    let over = items(&after).into_iter().find(|c| c.prop("RECURRENCE-ID").is_some()).unwrap();
    assert_eq!(line(&over, "STATUS"), "STATUS:CANCELLED", "the override the copy has is marked");
    assert_eq!(line(&items(&after)[0], "EXDATE"), "EXDATE;TZID=Europe/Berlin:20240613T100000", "another instance is excluded");
    check_plan(&Plan { store: after, messages: Vec::new() });
}

#[test]
fn replies_update_the_organizer_copy_per_instance() {
    let plan = organizer_change(None, &standup("", ""), &organizer(), NOW).unwrap();
    let reply = |partstat: &str, extra: &str| {
        format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:standup\r\nDTSTAMP:20240601T130000Z\r\n\
ORGANIZER:mailto:o@x.org\r\nATTENDEE;PARTSTAT={partstat}:mailto:A@X.ORG\r\n{extra}END:VEVENT\r\nEND:VCALENDAR\r\n"
        )
    };
    let after = stored(apply_reply(&reply("DECLINED", "SEQUENCE:1\r\nREQUEST-STATUS:2.0;Success\r\nREQUEST-STATUS:2.8;Ignored\r\n"), &plan.store, NOW).unwrap());
    let line = attendee_line(&items(&after)[0], "mailto:a@x.org");
    assert_eq!(line, "ATTENDEE;PARTSTAT=DECLINED;SCHEDULE-STATUS=\"2.0,2.8\":mailto:a@x.org");
    let older = stored(apply_reply(&reply("ACCEPTED", "SEQUENCE:0\r\n"), &after.replace("SEQUENCE:1", "SEQUENCE:2"), NOW).unwrap());
    assert_eq!(partstat_of(&items(&older)[0], "mailto:a@x.org"), "ACCEPTED", "an older SEQUENCE is still an answer (RFC 5546 §2.1.4)");
    let crasher = reply("ACCEPTED", "").replace("A@X.ORG", "z@x.org");
    assert!(matches!(apply_reply(&crasher, &plan.store, NOW).unwrap(), Applied::Ignored(_)), "party crashers are the organizer's call");
    let one = reply("TENTATIVE", "SEQUENCE:1\r\nRECURRENCE-ID;TZID=Europe/Berlin:20240612T100000\r\n");
    let after = stored(apply_reply(&one, &plan.store, NOW).unwrap());
    assert_eq!(rids(&after), ["", "20240612T100000"]);
    assert_eq!(partstat_of(&items(&after)[1], "mailto:a@x.org"), "TENTATIVE");
    assert_eq!(partstat_of(&items(&after)[0], "mailto:a@x.org"), "NEEDS-ACTION");
    check_plan(&Plan { store: after.clone(), messages: refresh_others(&after, &addr("mailto:a@x.org"), NOW) });
    let others: Vec<String> = refresh_others(&after, &addr("mailto:a@x.org"), NOW).iter().map(|m| m.recipient.to_string()).collect();
    assert_eq!(others, ["mailto:b@x.org"], "not the organizer, not the one who replied");
    assert!(matches!(apply_reply(&plan.messages[0].text, &plan.store, NOW), Err(SchedError::ValidSchedulingMessage(_))));
}
