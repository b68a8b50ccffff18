//! The RFC 5546 §4 examples as incoming messages, and the RFC 6638 Appendix B exchange replayed
//! through the domain.

use super::*;
use crate::sched::{
    SchedError, ScheduleStatus, apply_cancel, apply_reply, apply_request, attendee_change, organizer_change, refresh_others,
    set_schedule_status,
};

macro_rules! rfc5546 {
    ($($name:literal),* $(,)?) => {
        [$(($name, include_str!(concat!("../../../fixtures/itip/rfc5546/", $name)))),*]
    };
}

const RFC5546: [(&str, &str); 52] = rfc5546![
    "4.1.1-publish.ics", "4.1.2-publish.ics", "4.1.3-cancel.ics", "4.1.4-publish.ics", "4.1.5-publish.ics",
    "4.2.1-request.ics", "4.2.2-reply.ics", "4.2.3-request.ics", "4.2.4-1-request.ics", "4.2.4-2-counter.ics",
    "4.2.4-3-request.ics", "4.2.4-4-declinecounter.ics", "4.2.5-1-reply.ics", "4.2.5-2-request.ics", "4.2.6-reply.ics",
    "4.2.7-1-reply.ics", "4.2.7-2-request.ics", "4.2.9-cancel.ics", "4.2.10-1-cancel.ics", "4.2.10-2-request.ics",
    "4.2.11-request.ics", "4.3.1-publish.ics", "4.3.2-request.ics", "4.3.3-reply.ics", "4.4.1-request.ics",
    "4.4.2-1-request.ics", "4.4.2-2-request.ics", "4.4.3-cancel.ics", "4.4.4-cancel.ics", "4.4.5-request.ics",
    "4.4.6-add.ics", "4.4.7-1-request.ics", "4.4.7-2-request.ics", "4.4.8-1-request.ics", "4.4.8-2-request.ics",
    "4.4.8-3-add.ics", "4.4.8-4-request.ics", "4.4.9-counter.ics", "4.4.10-1-request.ics", "4.4.10-2-reply.ics",
    "4.5.1-request.ics", "4.5.2-reply.ics", "4.5.3-request.ics", "4.5.4-reply.ics", "4.5.5-reply.ics",
    "4.5.6-request.ics", "4.5.7.1-request.ics", "4.5.7.2-reply.ics", "4.6-publish.ics", "4.7.1-refresh.ics",
    "4.7.2-1-request.ics", "4.7.2-2-refresh.ics",
];

fn rfc(name: &str) -> &'static str {
    RFC5546.iter().find(|(n, _)| *n == name).map(|(_, t)| *t).unwrap()
}

#[test]
fn every_rfc_5546_example_is_read_or_refused_for_its_mistake() {
    let refused = [
        ("4.2.6-reply.ics", "exactly one ATTENDEE"),
        ("4.2.7-1-reply.ics", "exactly one ATTENDEE"),
        ("4.2.9-cancel.ics", "parameter without '='"),
        ("4.3.1-publish.ics", "without UID"),
        ("4.4.5-request.ics", "parameter without '='"),
        ("4.4.8-4-request.ics", "without ORGANIZER"),
        ("4.5.7.2-reply.ics", "without ORGANIZER"),
    ];
    for (name, text) in RFC5546 {
        let method = name.rsplit('-').next().unwrap().trim_end_matches(".ics").to_ascii_uppercase();
        match (parse_message(text), refused.iter().find(|(n, _)| *n == name)) {
            (Ok(m), None) => assert_eq!(m.method.as_str(), method, "{name}"),
            (Err(e), Some((_, why))) => assert!(e.to_string().contains(why), "{name}: {e}"),
            (other, _) => panic!("{name}: {other:?}"),
        }
    }
    let group = parse_message(rfc("4.2.1-request.ics")).unwrap();
    assert_eq!(group.attendees.len(), 6);
    assert!(group.attendees.contains(&addr("mailto:conf_big@example.com")), "a bare address reads as mailto:");
}

#[test]
fn rfc_5546_group_event_flow() {
    let b = addr("mailto:b@example.com");
    let copy = stored(apply_request(rfc("4.2.1-request.ics"), None, &b, NOW).unwrap());
    assert!(!copy.contains("METHOD"), "a stored copy has no METHOD (RFC 4791 §4.1)");
    let updated = stored(apply_request(rfc("4.2.3-request.ics"), Some(&copy), &b, NOW).unwrap());
    assert_eq!(line(&items(&updated)[0], "SUMMARY"), "SUMMARY:Phone Conference");
    let stale = apply_request(rfc("4.2.1-request.ics"), Some(&updated), &b, NOW).unwrap();
    assert!(matches!(stale, Applied::Ignored(why) if why.contains("older")), "SEQUENCE 0 after 1 is ignored (RFC 5546 §4.1.2)");
    // The organizer's side of §4.2.3: an FYI attendee is not asked to answer.
    let update = rfc("4.2.3-request.ics").replace("METHOD:REQUEST\r\n", "");
    let plan = organizer_change(None, &update, &[addr("mailto:a@example.com")], NOW).unwrap();
    check_plan(&plan);
    assert_eq!(plan.messages.len(), 5, "b, c, d, the room and e; not a");
    assert!(attendee_line(&items(&plan.store)[0], "mailto:e@example.com").contains("RSVP=FALSE"));
    let organizer = rfc("4.2.1-request.ics").replace("METHOD:REQUEST\r\n", "");
    let answered = stored(apply_reply(rfc("4.2.2-reply.ics"), &organizer, NOW).unwrap());
    let line = attendee_line(&items(&answered)[0], "mailto:b@example.com");
    assert!(line.contains("PARTSTAT=ACCEPTED") && line.contains("SCHEDULE-STATUS=2.0") && !line.contains("RSVP"), "{line}");
}

#[test]
fn rfc_5546_recurring_instance_flow() {
    let b = addr("mailto:b@example.com");
    let copy = stored(apply_request(rfc("4.4.2-1-request.ics"), None, &b, NOW).unwrap());
    // §4.4.2: a REQUEST for one instance updates that instance and keeps the series.
    let moved = stored(apply_request(rfc("4.4.2-2-request.ics"), Some(&copy), &b, NOW).unwrap());
    assert_eq!(rids(&moved), ["", "19970701T210000Z"]);
    assert_eq!(line(&items(&moved)[1], "DTSTART"), "DTSTART:19970703T210000Z");
    // §4.4.3: cancelling an instance that has no override excludes it.
    let cancelled = stored(apply_cancel(rfc("4.4.3-cancel.ics"), Some(&moved)).unwrap());
    assert!(items(&cancelled)[0].props_named("EXDATE").any(|p| p.value() == "19970801T210000Z"), "{cancelled}");
    // §4.4.4: cancelling the series cancels every component.
    let gone = stored(apply_cancel(rfc("4.4.4-cancel.ics"), Some(&cancelled)).unwrap());
    assert!(items(&gone).iter().all(|c| line(c, "STATUS") == "STATUS:CANCELLED" && line(c, "SEQUENCE") == "SEQUENCE:3"), "{gone}");
    assert!(matches!(apply_cancel(rfc("4.4.4-cancel.ics"), None).unwrap(), Applied::Ignored(_)));
}

macro_rules! b {
    ($name:literal) => {
        include_str!(concat!("../../../fixtures/itip/rfc6638/", $name))
    };
}

/// A component's lines, sorted, without DTSTAMP: what two versions must agree on.
fn content(c: &Comp) -> Vec<String> {
    let mut lines: Vec<String> = c.props.iter().filter(|p| p.name != "DTSTAMP").map(|p| p.line()).collect();
    lines.sort();
    lines
}

#[test]
fn rfc_6638_appendix_b_invitation_and_reply() {
    let cyrus = [addr("mailto:cyrus@example.com")];
    let wilfredo = addr("mailto:wilfredo@example.com");
    // B.1: the PUT needs no server change; one REQUEST per attendee, none to the organizer.
    let plan = organizer_change(None, b!("b.1-1-object.ics"), &cyrus, NOW).unwrap();
    check_plan(&plan);
    assert_eq!(plan.store, b!("b.1-1-object.ics"), "nothing to change, so the client's bytes are stored");
    let recipients: Vec<&str> = plan.messages.iter().map(|m| m.recipient.as_str()).collect();
    assert_eq!(recipients, ["mailto:wilfredo@example.com", "mailto:bernard@example.net", "mailto:mike@example.org"]);
    // B.2: the REQUEST is the object (no SCHEDULE-STATUS).
    let request = &to(&plan.messages, "mailto:wilfredo@example.com")[0].text;
    assert_eq!(content(&items(request)[0]), content(&items(b!("b.2-request.ics"))[0]));
    // B.1 stored result once delivery is recorded.
    let statuses = [
        (wilfredo.clone(), ScheduleStatus::Delivered),
        (addr("mailto:bernard@example.net"), ScheduleStatus::Pending),
        (addr("mailto:mike@example.org"), ScheduleStatus::InvalidUser),
    ];
    let organizer_copy = set_schedule_status(&plan.store, &statuses);
    assert_eq!(content(&items(&organizer_copy)[0]), content(&items(b!("b.1-2-object.ics"))[0]));
    // B.3: Wilfredo accepts and adds an alarm; B.4: the REPLY.
    let copy = stored(apply_request(request, None, &wilfredo, NOW).unwrap());
    let answer = attendee_change(Some(&copy), b!("b.3-1-object.ics"), std::slice::from_ref(&wilfredo), NOW).unwrap();
    check_plan(&answer);
    assert_eq!(methods(&answer.messages, "mailto:cyrus@example.com"), [Method::Reply]);
    let reply = items(&answer.messages[0].text).remove(0);
    let rfc_reply = items(b!("b.4-1-reply.ics")).remove(0);
    for name in ["UID", "SEQUENCE", "DTSTART", "DTEND", "ORGANIZER"] {
        assert_eq!(line(&reply, name), line(&rfc_reply, name), "{name}");
    }
    assert_eq!(partstat_of(&reply, "mailto:wilfredo@example.com"), "ACCEPTED");
    let attendee_copy = set_schedule_status(&answer.store, &[(addr("mailto:cyrus@example.com"), ScheduleStatus::Delivered)]);
    assert_eq!(content(&items(&attendee_copy)[0]), content(&items(b!("b.3-2-object.ics"))[0]));
    // B.4: the organizer's copy takes the answer, from our REPLY and from the RFC's alike.
    for reply in [answer.messages[0].text.as_str(), b!("b.4-1-reply.ics")] {
        let after = stored(apply_reply(reply, &organizer_copy, NOW).unwrap());
        let line = attendee_line(&items(&after)[0], "mailto:wilfredo@example.com");
        assert!(line.contains("PARTSTAT=ACCEPTED") && line.contains("SCHEDULE-STATUS=2.0"), "{line}");
        let refreshed = refresh_others(&after, &wilfredo, NOW);
        let who: Vec<&str> = refreshed.iter().map(|m| m.recipient.as_str()).collect();
        assert_eq!(who, ["mailto:bernard@example.net", "mailto:mike@example.org"]);
        refreshed.iter().for_each(check_message);
    }
}

#[test]
fn rfc_6638_appendix_b_declining_instances() {
    let bernard = [addr("mailto:bernard@example.net")];
    let series = b!("b.7-1-object.ics");
    let cut = series.find("BEGIN:VEVENT\r\nUID:9263504FD3AD\r\nSEQUENCE:0\r\nDTSTAMP:20090603T183823Z").unwrap();
    let before = format!("{}END:VCALENDAR\r\n", &series[..cut]);
    // B.7: an override the attendee adds declines that instance.
    let plan = attendee_change(Some(&before), series, &bernard, NOW).unwrap();
    check_plan(&plan);
    let reply = items(&plan.messages[0].text);
    let rfc_reply = items(b!("b.7-2-reply.ics"));
    assert_eq!(reply.len(), 1);
    for name in ["RECURRENCE-ID", "DTSTART", "DTEND", "SEQUENCE", "ORGANIZER"] {
        assert_eq!(line(&reply[0], name), line(&rfc_reply[0], name), "{name}");
    }
    assert_eq!(partstat_of(&reply[0], "mailto:bernard@example.net"), "DECLINED");
    // B.8: an EXDATE the attendee adds declines that instance.
    let plan = attendee_change(Some(series), b!("b.8-1-object.ics"), &bernard, NOW).unwrap();
    check_plan(&plan);
    let reply = items(&plan.messages[0].text);
    assert_eq!(reply.len(), 1);
    assert_eq!(line(&reply[0], "RECURRENCE-ID"), line(&items(b!("b.8-2-reply.ics"))[0], "RECURRENCE-ID"));
    assert_eq!(partstat_of(&reply[0], "mailto:bernard@example.net"), "DECLINED");
    // The organizer's copy gets an override for the declined instance, derived from the master.
    let organizer_copy = before.replace("ACCEPTED;ROLE=REQ-PARTICIPANT;RSVP=TRUE", "NEEDS-ACTION;ROLE=REQ-PARTICIPANT;RSVP=TRUE");
    let after = stored(apply_reply(b!("b.8-2-reply.ics"), &organizer_copy, NOW).unwrap());
    let over = items(&after).into_iter().find(|c| c.prop("RECURRENCE-ID").is_some()).unwrap();
    assert_eq!(line(&over, "DTSTART"), "DTSTART;TZID=America/Montreal:20090603T150000");
    assert_eq!((line(&over, "DURATION"), line(&over, "RRULE")), ("DURATION:PT3600S".into(), String::new()));
    assert_eq!(partstat_of(&over, "mailto:bernard@example.net"), "DECLINED");
    assert_eq!(partstat_of(&items(&after)[0], "mailto:bernard@example.net"), "NEEDS-ACTION");
    // A reply for a time that is no instance of the series changes nothing.
    let nowhere = b!("b.8-2-reply.ics").replace("20090603T150000", "20090603T170000");
    assert!(matches!(apply_reply(&nowhere, &organizer_copy, NOW).unwrap(), Applied::Ignored(_)));
    // A B.6-like object is no attendee's: the owner is the organizer there.
    let err = attendee_change(Some(series), &series.replace("cyrus@example.com", "wilfredo@example.com"), &bernard, NOW);
    assert!(matches!(err, Err(SchedError::ValidOrganizer(_))), "{err:?}");
}
