//! Objects shaped like what Apple Calendar, Thunderbird and DAVx5/jtx write, through the flows.

use super::*;
use crate::sched::{Role, SchedError, apply_reply, apply_request, attendee_change, classify, organizer_change};

macro_rules! client {
    ($name:literal) => {
        include_str!(concat!("../../../fixtures/itip/clients/", $name))
    };
}

const APPLE: &str = client!("apple-organizer-series.ics");
const THUNDERBIRD: &str = client!("thunderbird-organizer.ics");
const THUNDERBIRD_BOB: &str = client!("thunderbird-attendee-accepted.ics");
const JTX: &str = client!("jtx-assigned-task.ics");
const DAVX5_BOB: &str = client!("davx5-attendee-declined-instance.ics");

fn olivia() -> [Address; 1] {
    [addr("mailto:olivia@example.com")]
}

fn bob() -> [Address; 1] {
    [addr("mailto:bob@example.com")]
}

/// Bob's copy, made from the organizer's object as the server would.
fn bobs_copy(organizer_text: &str) -> (Plan, String) {
    let plan = organizer_change(None, organizer_text, &olivia(), NOW).unwrap();
    check_plan(&plan);
    let request = &to(&plan.messages, "mailto:bob@example.com")[0].text;
    let copy = stored(apply_request(request, None, &bob()[0], NOW).unwrap());
    (plan, copy)
}

#[test]
fn apple_series_with_an_override_for_some_attendees() {
    assert_eq!(classify(APPLE, &olivia()).unwrap(), Role::Organizer);
    let (plan, copy) = bobs_copy(APPLE);
    assert_eq!(classify(&copy, &bob()).unwrap(), Role::Attendee { organizer: olivia()[0].clone() });
    // Bob is in both components; Carol only in the master, which excludes the moved instance.
    assert_eq!(rids(&copy), ["", "20240617T100000"]);
    let carol = &to(&plan.messages, "mailto:carol@example.com")[0].text;
    assert_eq!(rids(carol), [""]);
    assert_eq!(line(&items(carol)[0], "EXDATE"), "EXDATE;TZID=Europe/Berlin:20240617T100000");
    for m in &plan.messages {
        assert!(m.text.contains("X-APPLE-STRUCTURED-LOCATION"), "public X- properties travel");
        assert!(!m.text.contains("X-APPLE-TRAVEL") && !m.text.contains("X-WR-ALARMUID"), "private ones do not");
        assert!(m.text.contains("CALSCALE:GREGORIAN"));
    }
    // Carol's ACCEPTED in a new object is not the organizer's to give.
    assert_eq!(partstat_of(&items(&plan.store)[0], "mailto:carol@example.com"), "NEEDS-ACTION");
    // Moving the override again reschedules only that instance: Bob is asked again for it.
    let again = plan.store.replace("DTSTART;TZID=Europe/Berlin:20240617T140000", "DTSTART;TZID=Europe/Berlin:20240617T143000");
    let again = again.replace("DTEND;TZID=Europe/Berlin:20240617T150000", "DTEND;TZID=Europe/Berlin:20240617T153000");
    let next = organizer_change(Some(&plan.store), &again, &olivia(), NOW).unwrap();
    check_plan(&next);
    assert_eq!(methods(&next.messages, "mailto:bob@example.com"), [Method::Request]);
    assert!(to(&next.messages, "mailto:carol@example.com").is_empty(), "Carol is not in the moved instance");
    let sequences: Vec<String> = items(&next.store).iter().map(|c| line(c, "SEQUENCE")).collect();
    assert_eq!(sequences, ["SEQUENCE:1", "SEQUENCE:1"]);
    assert!(next.store.contains("X-APPLE-TRAVEL-ADVISORY-BEHAVIOR:AUTOMATIC"), "the organizer's own data is stored");
}

#[test]
fn davx5_upload_of_the_apple_series_accepting_and_declining_one_instance() {
    let (plan, copy) = bobs_copy(APPLE);
    let answer = attendee_change(Some(&copy), DAVX5_BOB, &bob(), NOW).unwrap();
    check_plan(&answer);
    let reply = &answer.messages[0].text;
    let answered: Vec<(String, String)> =
        items(reply).iter().map(|c| (c.value("RECURRENCE-ID").unwrap_or("").to_owned(), partstat_of(c, "mailto:bob@example.com"))).collect();
    assert_eq!(answered, [("".into(), "ACCEPTED".into()), ("20240617T100000".into(), "ACCEPTED".into()), ("20240624T100000".into(), "DECLINED".into())]);
    let organizer_copy = stored(apply_reply(reply, &plan.store, NOW).unwrap());
    let per_instance: Vec<(String, String)> = items(&organizer_copy)
        .iter()
        .map(|c| (c.value("RECURRENCE-ID").unwrap_or("").to_owned(), partstat_of(c, "mailto:bob@example.com")))
        .collect();
    assert_eq!(per_instance, answered, "the organizer's copy gets an override for the declined instance");
    assert_eq!(partstat_of(&items(&organizer_copy)[2], "mailto:carol@example.com"), "NEEDS-ACTION");
}

#[test]
fn thunderbird_organizer_and_attendee() {
    let (plan, copy) = bobs_copy(THUNDERBIRD);
    assert_eq!(plan.store, THUNDERBIRD, "nothing for the server to change");
    assert!(plan.messages.iter().all(|m| !m.text.contains("X-MOZ")), "X-MOZ-* stay home");
    assert_eq!(plan.messages.len(), 2, "Bob and Dave; Olivia is organizer and attendee");
    let answer = attendee_change(Some(&copy), THUNDERBIRD_BOB, &bob(), NOW).unwrap();
    check_plan(&answer);
    assert_eq!(partstat_of(&items(&answer.messages[0].text)[0], "mailto:bob@example.com"), "ACCEPTED");
    let organizer_copy = stored(apply_reply(&answer.messages[0].text, &plan.store, NOW).unwrap());
    // Olivia reschedules; Bob's Thunderbird data and alarm survive, his answer does not.
    let moved = organizer_copy.replace("20240612T153000", "20240612T160000");
    let next = organizer_change(Some(&organizer_copy), &moved, &olivia(), NOW).unwrap();
    check_plan(&next);
    let request = &to(&next.messages, "mailto:bob@example.com")[0].text;
    let updated = stored(apply_request(request, Some(&answer.store), &bob()[0], NOW).unwrap());
    let ev = items(&updated).remove(0);
    assert_eq!(line(&ev, "X-MOZ-RECEIVED-SEQUENCE"), "X-MOZ-RECEIVED-SEQUENCE:0");
    assert_eq!(line(&ev.children[0], "TRIGGER"), "TRIGGER;VALUE=DURATION:-PT30M");
    assert_eq!((line(&ev, "SEQUENCE"), partstat_of(&ev, "mailto:bob@example.com")), ("SEQUENCE:1".into(), "NEEDS-ACTION".into()));
}

#[test]
fn jtx_task_assignment() {
    let (_, copy) = bobs_copy(JTX);
    let copy = unfolded(&copy);
    assert_eq!(items(&copy)[0].name, "VTODO");
    let progress = copy
        .replace("PARTSTAT=NEEDS-ACTION;ROLE=REQ-PARTICIPANT;RSVP=TRUE", "PARTSTAT=IN-PROCESS;ROLE=REQ-PARTICIPANT")
        .replace("PERCENT-COMPLETE:0", "PERCENT-COMPLETE:40");
    let answer = attendee_change(Some(&copy), &progress, &bob(), NOW).unwrap();
    check_plan(&answer);
    let reply = items(&answer.messages[0].text).remove(0);
    assert_eq!((reply.name.as_str(), line(&reply, "PERCENT-COMPLETE")), ("VTODO", "PERCENT-COMPLETE:40".into()));
    assert_eq!(partstat_of(&reply, "mailto:bob@example.com"), "IN-PROCESS");
    let later = copy.replace("DUE;VALUE=DATE:20240607", "DUE;VALUE=DATE:20240614");
    assert!(matches!(attendee_change(Some(&copy), &later, &bob(), NOW), Err(SchedError::ValidAttendeeChange(why)) if why.contains("DUE")));
    // jtx ticks the task off: STATUS, COMPLETED and PERCENT-COMPLETE are Bob's progress to report.
    let done = progress
        .replace("STATUS:NEEDS-ACTION", "STATUS:COMPLETED\r\nCOMPLETED:20240605T160000Z")
        .replace("PERCENT-COMPLETE:40", "PERCENT-COMPLETE:100")
        .replace("PARTSTAT=IN-PROCESS", "PARTSTAT=COMPLETED");
    let finished = attendee_change(Some(&answer.store), &done, &bob(), NOW).unwrap();
    assert_eq!(partstat_of(&items(&finished.messages[0].text)[0], "mailto:bob@example.com"), "COMPLETED");
    let cancelled = progress.replace("STATUS:NEEDS-ACTION", "STATUS:CANCELLED");
    assert!(matches!(attendee_change(Some(&copy), &cancelled, &bob(), NOW), Err(SchedError::ValidAttendeeChange(why)) if why.contains("STATUS")));
    // Olivia renames the task: Bob's copy keeps his progress.
    let (plan, _) = bobs_copy(JTX);
    let renamed = organizer_change(Some(&plan.store), &plan.store.replace("SUMMARY:Prepare slides", "SUMMARY:Prepare the slides"), &olivia(), NOW).unwrap();
    let request = &to(&renamed.messages, "mailto:bob@example.com")[0].text;
    let updated = items(&stored(apply_request(request, Some(&finished.store), &bob()[0], NOW).unwrap())).remove(0);
    assert_eq!(line(&updated, "SUMMARY"), "SUMMARY:Prepare the slides for the review");
    assert_eq!((line(&updated, "STATUS"), line(&updated, "PERCENT-COMPLETE")), ("STATUS:COMPLETED".into(), "PERCENT-COMPLETE:100".into()));
    assert_eq!(partstat_of(&updated, "mailto:bob@example.com"), "COMPLETED");
}
