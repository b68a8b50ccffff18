//! Scenario tests of the scheduling domain: the RFC examples, client-shaped objects, the rules
//! one by one, and a property test of organizer edits replayed on the attendees' copies.

#![allow(clippy::unwrap_used)]

mod apply;
mod attendee;
mod clients;
mod organizer;
mod property;
mod rfc;

use super::text::{self, Comp};
use super::{Address, Applied, Message, Method, Plan, parse_message};
use crate::calendar::validate::parse_vcalendar;

/// 2024-06-01T12:00:00Z.
pub(super) const NOW: i64 = 1_717_243_200;

pub(super) fn addr(s: &str) -> Address {
    Address::new(s)
}

/// The messages of a plan for one recipient, in order.
pub(super) fn to<'p>(messages: &'p [Message], who: &str) -> Vec<&'p Message> {
    messages.iter().filter(|m| m.recipient == addr(who)).collect()
}

pub(super) fn methods(messages: &[Message], who: &str) -> Vec<Method> {
    to(messages, who).iter().map(|m| m.method).collect()
}

pub(super) fn stored(applied: Applied) -> String {
    match applied {
        Applied::Store(text) => text,
        Applied::Ignored(why) => panic!("ignored: {why}"),
    }
}

/// The text with its folded lines joined, so tests can edit whole lines.
pub(super) fn unfolded(text: &str) -> String {
    text.replace("\r\n ", "")
}

/// The parsed VCALENDAR of some text.
pub(super) fn cal(text: &str) -> Comp {
    text::parse(text).unwrap()
}

/// The scheduling components of some text.
pub(super) fn items(text: &str) -> Vec<Comp> {
    cal(text).children.into_iter().filter(|c| c.name != "VTIMEZONE").collect()
}

/// A component's unfolded line for `name` (the first), or "".
pub(super) fn line(c: &Comp, name: &str) -> String {
    c.prop(name).map(|p| p.line()).unwrap_or_default()
}

/// The ATTENDEE line of `who` in a component.
pub(super) fn attendee_line(c: &Comp, who: &str) -> String {
    c.props_named("ATTENDEE").find(|p| addr(who).is(p.value())).map(|p| p.line()).unwrap_or_default()
}

/// PARTSTAT of `who` in a component ("" if not there).
pub(super) fn partstat_of(c: &Comp, who: &str) -> String {
    c.props_named("ATTENDEE")
        .find(|p| addr(who).is(p.value()))
        .map(|p| p.param("PARTSTAT").unwrap_or("NEEDS-ACTION").to_owned())
        .unwrap_or_default()
}

/// Everything RFC 5546 and RFC 6638 ask of a message the server sends.
pub(super) fn check_message(m: &Message) {
    let t = &m.text;
    assert!(t.ends_with("\r\n") && !t.replace("\r\n", "").contains(['\r', '\n']), "CRLF only:\n{t}");
    for physical in t.split("\r\n") {
        assert!(physical.len() <= 75, "a line longer than 75 octets: {physical:?}");
    }
    let incoming = parse_message(t).unwrap_or_else(|e| panic!("{e}:\n{t}"));
    assert_eq!(incoming.method, m.method, "{t}");
    assert_eq!(incoming.uid, m.uid);
    parse_vcalendar(t).unwrap_or_else(|e| panic!("calcard: {e}:\n{t}"));
    let parsed = cal(t);
    assert_eq!(parsed.value("METHOD"), Some(m.method.as_str()));
    let mut tzids = Vec::new();
    for c in parsed.children.iter().filter(|c| c.name != "VTIMEZONE") {
        assert!(c.children.iter().all(|a| a.name != "VALARM"), "no VALARM leaves the server:\n{t}");
        for p in &c.props {
            assert!(!p.name.starts_with("X-MOZ-"), "private {} sent:\n{t}", p.name);
            for q in p.params() {
                assert!(!q.name.starts_with("SCHEDULE-"), "{} sent (RFC 6638 §7):\n{t}", q.name);
            }
            tzids.extend(p.param("TZID").map(str::to_owned));
        }
        assert!(c.prop("DTSTAMP").is_some(), "DTSTAMP (RFC 6638 §3.2.5):\n{t}");
        match m.method {
            Method::Reply => assert!(m.recipient.is(c.value("ORGANIZER").unwrap_or_default()), "{t}"),
            _ => assert!(c.props_named("ATTENDEE").any(|p| m.recipient.is(p.value())), "recipient not in a component:\n{t}"),
        }
    }
    for tzid in tzids {
        assert!(parsed.children.iter().any(|z| z.name == "VTIMEZONE" && z.value("TZID") == Some(&tzid)), "no VTIMEZONE {tzid}:\n{t}");
    }
}

pub(super) fn check_plan(plan: &Plan) {
    plan.messages.iter().for_each(check_message);
    parse_vcalendar(&plan.store).unwrap_or_else(|e| panic!("stored text: {e}:\n{}", plan.store));
}

/// RECURRENCE-ID values (raw) of the components of some text.
pub(super) fn rids(text: &str) -> Vec<String> {
    items(text).iter().map(|c| c.value("RECURRENCE-ID").unwrap_or("").to_owned()).collect()
}

/// Found while fuzzing (issue 22): a message nested 60,000 components deep is refused before a
/// tree is built (dropping such a tree overflowed the stack), as `calendar::raw` refuses it for
/// stored objects.
#[test]
fn deeply_nested_messages_are_refused() {
    let depth = 60_000;
    let hostile = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:u\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240101T090000Z\r\n{}{}END:VEVENT\r\nEND:VCALENDAR\r\n",
        "BEGIN:X-A\r\n".repeat(depth),
        "END:X-A\r\n".repeat(depth)
    );
    assert!(parse_message(&hostile).is_err());
}
