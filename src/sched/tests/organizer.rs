//! The organizer's writes, rule by rule (RFC 6638 §3.2.1, §3.2.6–§3.2.8; RFC 5546 §2.1.4).

use super::*;
use crate::sched::{SchedError, organizer_change, organizer_delete};

pub(super) const ZONE: &str = "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\n\
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nBEGIN:DAYLIGHT\r\n\
DTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n";

/// A daily stand-up organized by o@x.org with a (accepted) and b (tentative), SEQUENCE 1.
pub(super) fn standup(master_extra: &str, overrides: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{ZONE}BEGIN:VEVENT\r\nUID:standup\r\nDTSTAMP:20240601T000000Z\r\n\
DTSTART;TZID=Europe/Berlin:20240610T100000\r\nDTEND;TZID=Europe/Berlin:20240610T101500\r\nRRULE:FREQ=DAILY;COUNT=5\r\n\
SUMMARY:Standup\r\nSEQUENCE:1\r\nORGANIZER;CN=Olga:mailto:o@x.org\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:o@x.org\r\n\
ATTENDEE;PARTSTAT=ACCEPTED:mailto:a@x.org\r\nATTENDEE;PARTSTAT=TENTATIVE;SCHEDULE-STATUS=2.0:mailto:b@x.org\r\n{master_extra}\
BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT5M\r\nEND:VALARM\r\nEND:VEVENT\r\n{overrides}END:VCALENDAR\r\n"
    )
}

/// An override of the 12 June instance with the given extra lines and attendees.
pub(super) fn override_on(day: &str, lines: &str, attendees: &[&str]) -> String {
    let people: String = attendees.iter().map(|a| format!("ATTENDEE;PARTSTAT=ACCEPTED:mailto:{a}@x.org\r\n")).collect();
    format!(
        "BEGIN:VEVENT\r\nUID:standup\r\nDTSTAMP:20240601T000000Z\r\nRECURRENCE-ID;TZID=Europe/Berlin:202406{day}T100000\r\n\
DTSTART;TZID=Europe/Berlin:202406{day}T100000\r\nDTEND;TZID=Europe/Berlin:202406{day}T101500\r\nSUMMARY:Standup\r\n\
SEQUENCE:1\r\nORGANIZER;CN=Olga:mailto:o@x.org\r\n{people}{lines}END:VEVENT\r\n"
    )
}

fn owner() -> [Address; 1] {
    [addr("mailto:o@x.org")]
}

fn change(old: &str, new: &str) -> Plan {
    let plan = organizer_change(Some(old), new, &owner(), NOW).unwrap();
    check_plan(&plan);
    plan
}

fn master(text: &str) -> Comp {
    items(text).remove(0)
}

#[test]
fn creating_invites_everyone_but_the_organizer_and_answers_for_nobody() {
    let plan = organizer_change(None, &standup("", ""), &owner(), NOW).unwrap();
    check_plan(&plan);
    assert_eq!(methods(&plan.messages, "mailto:a@x.org"), [Method::Request]);
    assert_eq!(methods(&plan.messages, "mailto:b@x.org"), [Method::Request]);
    assert!(to(&plan.messages, "mailto:o@x.org").is_empty(), "never to the organizer (RFC 6638 §3.2.1)");
    let m = master(&plan.store);
    assert_eq!(attendee_line(&m, "mailto:a@x.org"), "ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:a@x.org");
    assert_eq!(partstat_of(&m, "mailto:o@x.org"), "ACCEPTED");
    let request = &to(&plan.messages, "mailto:b@x.org")[0].text;
    assert!(request.contains("ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:b@x.org\r\n"), "{request}");
    assert!(plan.store.contains("SCHEDULE-STATUS=2.0"), "the stored copy keeps SCHEDULE-STATUS");
}

#[test]
fn insignificant_changes_update_without_asking_again() {
    let old = standup("", "");
    let plan = change(&old, &standup("DESCRIPTION:bring coffee\r\n", ""));
    assert_eq!(methods(&plan.messages, "mailto:a@x.org"), [Method::Request]);
    let m = master(&plan.store);
    assert_eq!((line(&m, "SEQUENCE"), partstat_of(&m, "mailto:b@x.org")), ("SEQUENCE:1".into(), "TENTATIVE".into()));
    let same = change(&old, &old.replace("DTSTAMP:20240601T000000Z", "DTSTAMP:20240602T000000Z"));
    assert!(same.messages.is_empty(), "nothing the attendees see changed");
    let alarm = change(&old, &old.replace("TRIGGER:-PT5M", "TRIGGER:-PT10M"));
    assert!(alarm.messages.is_empty(), "the organizer's alarm is theirs alone");
}

#[test]
fn rescheduling_resets_answers_and_raises_sequence() {
    let old = standup("", "");
    let plan = change(&old, &old.replace("20240610T101500", "20240610T103000"));
    let m = master(&plan.store);
    assert_eq!(line(&m, "SEQUENCE"), "SEQUENCE:2");
    assert_eq!(attendee_line(&m, "mailto:a@x.org"), "ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:a@x.org");
    assert_eq!(partstat_of(&m, "mailto:o@x.org"), "ACCEPTED", "the organizer is not reset (RFC 6638 §3.2.8)");
    let request = items(&to(&plan.messages, "mailto:a@x.org")[0].text).remove(0);
    assert_eq!((line(&request, "SEQUENCE"), partstat_of(&request, "mailto:a@x.org")), ("SEQUENCE:2".into(), "NEEDS-ACTION".into()));
    let moved = old.replace("SEQUENCE:1", "SEQUENCE:7").replace("T100000", "T090000");
    assert_eq!(line(&master(&change(&old, &moved).store), "SEQUENCE"), "SEQUENCE:7", "a client that raised it keeps its value");
    let lowered = old.replace("SEQUENCE:1", "SEQUENCE:0").replace("SUMMARY:Standup", "SUMMARY:Daily");
    assert_eq!(line(&master(&change(&old, &lowered).store), "SEQUENCE"), "SEQUENCE:1", "SEQUENCE never goes down");
    let status = change(&old, &standup("STATUS:TENTATIVE\r\n", ""));
    let m = master(&status.store);
    assert_eq!((line(&m, "SEQUENCE"), partstat_of(&m, "mailto:a@x.org")), ("SEQUENCE:2".into(), "ACCEPTED".into()));
    let location = change(&old, &standup("LOCATION:Room 9\r\n", ""));
    let m = master(&location.store);
    assert_eq!((line(&m, "SEQUENCE"), partstat_of(&m, "mailto:a@x.org")), ("SEQUENCE:2".into(), "NEEDS-ACTION".into()));
}

#[test]
fn removed_and_added_attendees() {
    let old = standup("", "");
    let removed = change(&old, &old.replace("ATTENDEE;PARTSTAT=TENTATIVE;SCHEDULE-STATUS=2.0:mailto:b@x.org\r\n", ""));
    assert_eq!(methods(&removed.messages, "mailto:b@x.org"), [Method::Cancel]);
    let cancel = items(&to(&removed.messages, "mailto:b@x.org")[0].text).remove(0);
    assert_eq!((line(&cancel, "STATUS"), line(&cancel, "SEQUENCE")), (String::new(), "SEQUENCE:2".into()), "uninvited, not cancelled");
    assert_eq!(line(&master(&removed.store), "SEQUENCE"), "SEQUENCE:2", "a CANCEL raises SEQUENCE (RFC 5546 §3.2.5)");
    assert_eq!(methods(&removed.messages, "mailto:a@x.org"), [Method::Request]);
    let added = change(&old, &standup("ATTENDEE;CN=Cy:mailto:c@x.org\r\n", ""));
    assert_eq!(methods(&added.messages, "mailto:c@x.org"), [Method::Request]);
    assert_eq!(attendee_line(&master(&added.store), "mailto:c@x.org"), "ATTENDEE;CN=Cy;RSVP=TRUE:mailto:c@x.org");
    assert_eq!(line(&master(&added.store), "SEQUENCE"), "SEQUENCE:1");
}

#[test]
fn instances_removed_by_exdate_or_cancelled_override_are_cancelled() {
    let old = standup("", "");
    let plan = change(&old, &standup("EXDATE;TZID=Europe/Berlin:20240612T100000\r\n", ""));
    for who in ["mailto:a@x.org", "mailto:b@x.org"] {
        assert_eq!(methods(&plan.messages, who), [Method::Cancel], "only the CANCEL: nothing else changed");
        let c = items(&to(&plan.messages, who)[0].text).remove(0);
        assert_eq!(line(&c, "RECURRENCE-ID"), "RECURRENCE-ID;TZID=Europe/Berlin:20240612T100000");
        assert_eq!((line(&c, "STATUS"), line(&c, "SEQUENCE")), ("STATUS:CANCELLED".into(), "SEQUENCE:2".into()));
    }
    let with = standup("", &override_on("12", "", &["o", "a", "b"]));
    let cancelled = change(&with, &standup("", &override_on("12", "STATUS:CANCELLED\r\n", &["o", "a", "b"])));
    assert_eq!(methods(&cancelled.messages, "mailto:a@x.org"), [Method::Cancel]);
    assert!(cancelled.messages[0].text.contains("STATUS:CANCELLED"));
    let series = change(&old, &standup("STATUS:CANCELLED\r\n", ""));
    let whole = items(&to(&series.messages, "mailto:b@x.org")[0].text).remove(0);
    assert_eq!((line(&whole, "RECURRENCE-ID"), line(&whole, "STATUS")), (String::new(), "STATUS:CANCELLED".into()));
}

#[test]
fn attendees_only_get_the_instances_they_are_in() {
    let old = standup("", "");
    let plan = change(&old, &standup("", &override_on("12", "SUMMARY:Standup with Cy\r\n", &["o", "a", "c"])));
    // b was dropped from the 12 June instance: a CANCEL of it, without STATUS.
    assert_eq!(methods(&plan.messages, "mailto:b@x.org"), [Method::Cancel]);
    let c = items(&to(&plan.messages, "mailto:b@x.org")[0].text).remove(0);
    assert_eq!((line(&c, "RECURRENCE-ID").is_empty(), line(&c, "STATUS")), (false, String::new()));
    // c is only in that instance: the override alone (RFC 6638 §3.2.6).
    let request = &to(&plan.messages, "mailto:c@x.org")[0].text;
    assert_eq!(rids(request), ["20240612T100000"]);
    // a is in both; b's view excludes the instance.
    assert_eq!(rids(&to(&plan.messages, "mailto:a@x.org")[0].text), ["", "20240612T100000"]);
    let later = change(&plan.store, &plan.store.replacen("SUMMARY:Standup\r\n", "SUMMARY:Standup\r\nDESCRIPTION:x\r\n", 1));
    let for_b = items(&to(&later.messages, "mailto:b@x.org")[0].text);
    assert_eq!(line(&for_b[0], "EXDATE"), "EXDATE;TZID=Europe/Berlin:20240612T100000");
    assert!(to(&later.messages, "mailto:c@x.org").is_empty(), "c's instance did not change");
    // The override goes away: the instance is the master's again, nobody loses it.
    let cut = later.store.rfind("BEGIN:VEVENT").unwrap();
    let reverted = change(&later.store, &format!("{}END:VCALENDAR\r\n", &later.store[..cut]));
    assert_eq!(methods(&reverted.messages, "mailto:a@x.org"), [Method::Request]);
    assert_eq!(methods(&reverted.messages, "mailto:b@x.org"), [Method::Request]);
    assert_eq!(methods(&reverted.messages, "mailto:c@x.org"), [Method::Cancel]);
}

#[test]
fn schedule_agent_and_force_send() {
    let client = |s: &str| s.replace("ATTENDEE;PARTSTAT=TENTATIVE;", "ATTENDEE;SCHEDULE-AGENT=CLIENT;PARTSTAT=TENTATIVE;");
    let created = organizer_change(None, &client(&standup("", "")), &owner(), NOW).unwrap();
    assert!(to(&created.messages, "mailto:b@x.org").is_empty(), "SCHEDULE-AGENT=CLIENT: the client sends");
    assert_eq!(partstat_of(&master(&created.store), "mailto:b@x.org"), "TENTATIVE", "nor is its PARTSTAT the server's");
    let old = standup("", "");
    assert_eq!(methods(&change(&old, &client(&old)).messages, "mailto:b@x.org"), [Method::Cancel]);
    assert_eq!(methods(&change(&client(&old), &old).messages, "mailto:b@x.org"), [Method::Request]);
    let unknown = old.replace("SCHEDULE-STATUS=2.0", "SCHEDULE-AGENT=X-OTHER");
    assert!(to(&organizer_change(None, &unknown, &owner(), NOW).unwrap().messages, "mailto:b@x.org").is_empty());
    let forced = old.replace("ATTENDEE;PARTSTAT=ACCEPTED:mailto:a", "ATTENDEE;SCHEDULE-FORCE-SEND=REQUEST;PARTSTAT=ACCEPTED:mailto:a");
    let plan = change(&old, &forced);
    let who: Vec<&str> = plan.messages.iter().map(|m| m.recipient.as_str()).collect();
    assert_eq!(who, ["mailto:a@x.org"], "forced to a alone, nothing else changed");
    assert!(!plan.store.contains("SCHEDULE-FORCE-SEND"), "never stored (RFC 6638 §7.2)");
    let odd = change(&old, &old.replace("ATTENDEE;PARTSTAT=ACCEPTED:mailto:a", "ATTENDEE;SCHEDULE-FORCE-SEND=FOO;PARTSTAT=ACCEPTED:mailto:a"));
    assert!(odd.messages.is_empty());
    assert_eq!(attendee_line(&master(&odd.store), "mailto:a@x.org"), "ATTENDEE;PARTSTAT=ACCEPTED;SCHEDULE-STATUS=2.3:mailto:a@x.org");
}

#[test]
fn the_organizer_cannot_answer_for_attendees_but_can_ask_again() {
    let old = standup("", "");
    let answered = change(&old, &old.replace("PARTSTAT=TENTATIVE", "PARTSTAT=ACCEPTED"));
    assert_eq!(partstat_of(&master(&answered.store), "mailto:b@x.org"), "TENTATIVE");
    assert!(answered.messages.is_empty());
    let asked = change(&old, &old.replace("PARTSTAT=TENTATIVE", "PARTSTAT=NEEDS-ACTION"));
    let m = master(&asked.store);
    assert_eq!(attendee_line(&m, "mailto:b@x.org"), "ATTENDEE;PARTSTAT=NEEDS-ACTION;SCHEDULE-STATUS=2.0;RSVP=TRUE:mailto:b@x.org");
    assert_eq!(line(&m, "SEQUENCE"), "SEQUENCE:2", "so the attendee's copy takes the reset");
    assert_eq!(methods(&asked.messages, "mailto:b@x.org"), [Method::Request]);
}

#[test]
fn deleting_or_unscheduling_cancels_for_everyone() {
    let old = standup("", &override_on("12", "", &["o", "c"]));
    let messages = organizer_delete(&old, &owner(), NOW).unwrap();
    messages.iter().for_each(check_message);
    for who in ["mailto:a@x.org", "mailto:b@x.org", "mailto:c@x.org"] {
        assert_eq!(methods(&messages, who), [Method::Cancel], "{who}");
        let c = items(&to(&messages, who)[0].text).remove(0);
        assert_eq!((line(&c, "STATUS"), line(&c, "SEQUENCE")), ("STATUS:CANCELLED".into(), "SEQUENCE:2".into()));
    }
    assert_eq!(rids(&to(&messages, "mailto:c@x.org")[0].text), ["20240612T100000"], "c only had that instance");
    assert!(organizer_delete(&old, &[addr("mailto:a@x.org")], NOW).unwrap().is_empty(), "not the organizer's copy");
    let private = old.replace("ORGANIZER;CN=Olga:mailto:o@x.org\r\n", "");
    let plan = organizer_change(Some(&old), &private, &owner(), NOW).unwrap();
    assert_eq!(plan.messages.len(), 3);
    assert!(plan.messages.iter().all(|m| m.method == Method::Cancel));
}

#[test]
fn the_organizer_under_another_address_is_still_the_organizer() {
    let both = [addr("mailto:o@x.org"), addr("urn:uuid:0b1c")];
    let old = standup("", "");
    let new = old.replace("ORGANIZER;CN=Olga:mailto:o@x.org", "ORGANIZER;CN=Olga:urn:uuid:0B1C").replace("ATTENDEE;PARTSTAT=ACCEPTED:mailto:o@x.org\r\n", "ATTENDEE;PARTSTAT=ACCEPTED:mailto:o@x.org\r\nATTENDEE:urn:uuid:0b1c\r\n");
    let plan = organizer_change(Some(&old), &new, &both, NOW).unwrap();
    check_plan(&plan);
    assert!(plan.messages.iter().all(|m| !both.contains(&m.recipient)), "nothing to the organizer's other address");
    assert_eq!(plan.messages.len(), 2);
    assert!(organizer_delete(&new, &both, NOW).unwrap().iter().all(|m| !both.contains(&m.recipient)));
}

#[test]
fn the_organizer_cannot_change() {
    let old = standup("", "");
    let new = old.replace("ORGANIZER;CN=Olga:mailto:o@x.org", "ORGANIZER:mailto:a@x.org");
    assert!(matches!(organizer_change(Some(&old), &new, &owner(), NOW), Err(SchedError::ValidOrganizer(_))));
    let mixed = standup("", &override_on("12", "", &["o", "a"]).replace("ORGANIZER;CN=Olga:mailto:o@x.org", "ORGANIZER:mailto:z@x.org"));
    assert_eq!(organizer_change(None, &mixed, &owner(), NOW), Err(SchedError::SameOrganizer));
}

/// Found by fuzzing (issue 22): an override without ORGANIZER (RFC 6638 §3.2.4.2 allows it: it
/// has the series') went out in a REQUEST as a VEVENT without ORGANIZER, which RFC 5546 §3.2
/// forbids and `parse_message` refused. Every component of a message now carries it.
#[test]
fn an_override_without_organizer_gets_the_series_organizer_in_messages() {
    let bare = override_on("12", "", &["a"]).replace("ORGANIZER;CN=Olga:mailto:o@x.org\r\n", "");
    let plan = organizer_change(None, &standup("", &bare), &owner(), NOW).unwrap();
    check_plan(&plan);
    let request = &to(&plan.messages, "mailto:a@x.org")[0].text;
    assert_eq!(request.matches("ORGANIZER;CN=Olga:mailto:o@x.org\r\n").count(), 2, "{request}");
    assert!(!plan.store.contains("RECURRENCE-ID;TZID=Europe/Berlin:20240612T100000\r\nDTSTART;TZID=Europe/Berlin:20240612T100000\r\nDTEND;TZID=Europe/Berlin:20240612T101500\r\nSUMMARY:Standup\r\nSEQUENCE:1\r\nORGANIZER"), "the stored copy is left as written");
}

/// Found by fuzzing (issue 22): a REQUEST of an override alone, where the override has no
/// ORGANIZER, still names the series' ORGANIZER (taken from the object).
#[test]
fn a_message_of_an_override_alone_names_the_organizer() {
    let only_c = override_on("12", "", &["a", "c"]).replace("ORGANIZER;CN=Olga:mailto:o@x.org\r\n", "");
    let plan = organizer_change(None, &standup("", &only_c), &owner(), NOW).unwrap();
    check_plan(&plan);
    let request = &to(&plan.messages, "mailto:c@x.org")[0].text;
    assert!(!request.contains("RRULE:FREQ=DAILY"), "c is invited to the one instance only: {request}");
    assert!(request.contains("ORGANIZER;CN=Olga:mailto:o@x.org\r\n"), "{request}");
}
