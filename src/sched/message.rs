//! Incoming iTIP messages checked against RFC 5546 §3 before anything acts on them (RFC 6638
//! §5.2.1 CALDAV:valid-scheduling-message), and the attendee limit of RFC 4791 §5.2.9.

use super::address::Address;
use super::object::Object;
use super::text::Comp;
use super::{Method, SchedError};
use crate::calendar::ComponentKind;

/// What a valid iTIP message is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    pub method: Method,
    pub component: ComponentKind,
    pub uid: String,
    pub organizer: Address,
    /// Every ATTENDEE of any component, first appearance first; for a REPLY, the one replying.
    pub attendees: Vec<Address>,
    /// The highest SEQUENCE of its components.
    pub sequence: i64,
}

/// Checks an iTIP message: one VCALENDAR with a known METHOD; components of one kind with one
/// UID (RFC 5546 §3.2: "All components MUST have the same UID"); the same ORGANIZER in each;
/// a REPLY names exactly one ATTENDEE, the one replying (§3.2.3); a REQUEST invites someone
/// (§3.2.2); a VFREEBUSY REQUEST or REPLY has one VFREEBUSY with DTSTART and DTEND (§3.3.2).
pub fn parse_message(text: &str) -> Result<Incoming, SchedError> {
    read(text).map(|(_, incoming)| incoming)
}

fn invalid(why: impl Into<String>) -> SchedError {
    SchedError::ValidSchedulingMessage(why.into())
}

pub(crate) fn read(text: &str) -> Result<(Object, Incoming), SchedError> {
    let obj = Object::parse(text)?;
    let method = obj.cal.value("METHOD").ok_or_else(|| invalid("an iTIP message needs METHOD (RFC 5546 §3)"))?;
    let method = Method::parse(method).ok_or_else(|| invalid(format!("METHOD:{method} is not an iTIP method (RFC 5546 §1.4)")))?;
    let comps: Vec<&Comp> = obj.cal.children.iter().filter(|c| ComponentKind::parse(&c.name).is_some()).collect();
    let first = comps.first().ok_or_else(|| invalid("the message has no VEVENT, VTODO, VJOURNAL or VFREEBUSY"))?;
    let component = ComponentKind::parse(&first.name).ok_or_else(|| invalid("no component"))?;
    if let Some(other) = comps.iter().find(|c| c.name != first.name) {
        return Err(invalid(format!("the message mixes {} and {} (RFC 5546 §3.1)", first.name, other.name)));
    }
    let uid = one_uid(&comps)?;
    let organizer = one_organizer(&comps)?;
    let attendees = attendees(&comps);
    check_method(method, component, &comps, &attendees)?;
    let sequence = comps.iter().map(|c| super::object::sequence(c)).max().unwrap_or(0);
    Ok((obj, Incoming { method, component, uid, organizer, attendees, sequence }))
}

fn one_uid(comps: &[&Comp]) -> Result<String, SchedError> {
    let mut uid: Option<&str> = None;
    for c in comps {
        let this = c.value("UID").map(str::trim).filter(|u| !u.is_empty());
        let this = this.ok_or_else(|| invalid(format!("a {} without UID (RFC 5546 §3.2)", c.name)))?;
        if uid.is_some_and(|u| u != this) {
            return Err(invalid("the components of one message must have the same UID (RFC 5546 §3.2)"));
        }
        uid = Some(this);
    }
    Ok(uid.unwrap_or_default().to_owned())
}

fn one_organizer(comps: &[&Comp]) -> Result<Address, SchedError> {
    let mut organizer: Option<Address> = None;
    for c in comps {
        let this = c.value("ORGANIZER").map(Address::new);
        let this = this.ok_or_else(|| invalid(format!("a {} without ORGANIZER (RFC 5546 §3.2)", c.name)))?;
        if organizer.as_ref().is_some_and(|o| *o != this) {
            return Err(invalid("the components of one message must have the same ORGANIZER (RFC 6638 §3.2.4.2)"));
        }
        organizer = Some(this);
    }
    organizer.ok_or_else(|| invalid("the message has no ORGANIZER"))
}

fn attendees(comps: &[&Comp]) -> Vec<Address> {
    let mut out: Vec<Address> = Vec::new();
    for a in comps.iter().flat_map(|c| c.props_named("ATTENDEE")).map(|p| Address::new(p.value())) {
        if !out.contains(&a) {
            out.push(a);
        }
    }
    out
}

fn check_method(method: Method, kind: ComponentKind, comps: &[&Comp], attendees: &[Address]) -> Result<(), SchedError> {
    if method == Method::Reply {
        let each_one = comps.iter().all(|c| c.props_named("ATTENDEE").count() == 1);
        if !each_one || attendees.len() != 1 {
            return Err(invalid("a REPLY names exactly one ATTENDEE, the one replying (RFC 5546 §3.2.3)"));
        }
    }
    if kind == ComponentKind::FreeBusy {
        if !matches!(method, Method::Publish | Method::Request | Method::Reply) {
            return Err(invalid(format!("METHOD:{} is not defined for VFREEBUSY (RFC 5546 §3.3)", method.as_str())));
        }
        let bounded = comps.iter().all(|c| c.prop("DTSTART").is_some() && c.prop("DTEND").is_some());
        if method != Method::Publish && (comps.len() != 1 || !bounded) {
            return Err(invalid("a VFREEBUSY REQUEST or REPLY has one VFREEBUSY with DTSTART and DTEND (RFC 5546 §3.3.2)"));
        }
    }
    if method == Method::Request && attendees.is_empty() {
        return Err(invalid("a REQUEST needs at least one ATTENDEE (RFC 5546 §3.2.2)"));
    }
    Ok(())
}

/// RFC 4791 §5.2.9 CALDAV:max-attendees-per-instance: no component may list more than `limit`
/// distinct attendees.
pub fn check_max_attendees(text: &str, limit: usize) -> Result<(), SchedError> {
    let obj = Object::parse(text)?;
    let found = obj.items().map(|c| attendees(&[c]).len()).max().unwrap_or(0);
    match found > limit {
        true => Err(SchedError::MaxAttendees { limit, found }),
        false => Ok(()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn msg(method: &str, body: &str) -> String {
        format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:{method}\r\n{body}END:VCALENDAR\r\n")
    }

    const EV: &str = "BEGIN:VEVENT\r\nUID:u\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240105T100000Z\r\nORGANIZER:mailto:o@x\r\n";

    #[test]
    fn accepts_well_formed_messages() {
        let request = parse_message(&msg("REQUEST", &format!("{EV}ATTENDEE:mailto:a@x\r\nSEQUENCE:2\r\nEND:VEVENT\r\n"))).unwrap();
        assert_eq!((request.method, request.uid.as_str(), request.sequence), (Method::Request, "u", 2));
        assert_eq!((request.organizer.as_str(), request.attendees.len()), ("mailto:o@x", 1));
        let cancel = parse_message(&msg("cancel", &format!("{EV}END:VEVENT\r\n"))).unwrap();
        assert_eq!(cancel.method, Method::Cancel);
    }

    #[test]
    fn refuses_what_rfc_5546_forbids() {
        let cases = [
            (msg("REQUEST", "").replace("METHOD:REQUEST\r\n", ""), "needs METHOD"),
            (msg("FROB", &format!("{EV}END:VEVENT\r\n")), "not an iTIP method"),
            (msg("REQUEST", ""), "has no VEVENT"),
            (msg("REQUEST", &format!("{EV}END:VEVENT\r\n")), "at least one ATTENDEE"),
            (msg("REPLY", &format!("{EV}END:VEVENT\r\n")), "exactly one ATTENDEE"),
            (msg("REPLY", &format!("{EV}ATTENDEE:mailto:a@x\r\nATTENDEE:mailto:b@x\r\nEND:VEVENT\r\n")), "exactly one ATTENDEE"),
            (msg("CANCEL", &format!("{EV}END:VEVENT\r\n{}END:VEVENT\r\n", EV.replace("UID:u", "UID:v"))), "same UID"),
            (msg("CANCEL", &format!("{EV}END:VEVENT\r\n{}END:VEVENT\r\n", EV.replace("o@x", "p@x"))), "same ORGANIZER"),
            (msg("CANCEL", &EV.replace("ORGANIZER:mailto:o@x\r\n", "END:VEVENT\r\n")), "without ORGANIZER"),
            (msg("CANCEL", &format!("{EV}END:VEVENT\r\n{}END:VTODO\r\n", EV.replace("VEVENT", "VTODO"))), "mixes"),
            (msg("CANCEL", "BEGIN:VFREEBUSY\r\nUID:f\r\nORGANIZER:mailto:o@x\r\nEND:VFREEBUSY\r\n"), "not defined for VFREEBUSY"),
            (msg("REQUEST", "BEGIN:VFREEBUSY\r\nUID:f\r\nORGANIZER:mailto:o@x\r\nATTENDEE:mailto:a@x\r\nEND:VFREEBUSY\r\n"), "DTSTART and DTEND"),
        ];
        for (text, reason) in cases {
            match parse_message(&text) {
                Err(SchedError::ValidSchedulingMessage(why)) => assert!(why.contains(reason), "{why} / {reason}"),
                other => panic!("{reason}: {other:?}"),
            }
        }
    }

    #[test]
    fn limits_attendees_per_instance() {
        let text = format!(
            "BEGIN:VCALENDAR\r\n{EV}ATTENDEE:mailto:a@x\r\nATTENDEE:MAILTO:A@X\r\nATTENDEE:mailto:b@x\r\nEND:VEVENT\r\n\
{EV}RECURRENCE-ID:20240106T100000Z\r\nATTENDEE:mailto:a@x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        );
        assert_eq!(check_max_attendees(&text, 2), Ok(()));
        assert_eq!(check_max_attendees(&text, 1), Err(SchedError::MaxAttendees { limit: 1, found: 2 }));
    }
}
