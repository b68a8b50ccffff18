//! Busy time requests through the outbox (RFC 6638 §5; RFC 5546 §3.3.2 REQUEST, §3.3.3 REPLY):
//! the request read into what the service needs to look up, and the reply built from the busy
//! periods it found (calendar::freebusy computes and merges them).

use super::address::Address;
use super::message::read;
use super::object::When;
use super::text::{self, Comp, Prop};
use super::view::{PRODID, public};
use super::{Method, SchedError};
use crate::calendar::ComponentKind;
use crate::calendar::filter::TimeRange;
use crate::calendar::freebusy::{Busy, busy_lines, merge};
use crate::calendar::time::utc_date_time;

/// A VFREEBUSY REQUEST: whose busy time is asked, over which range (UTC seconds, `start <
/// end`), by whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreeBusyRequest {
    pub uid: String,
    pub organizer: Address,
    pub attendees: Vec<Address>,
    pub start: i64,
    pub end: i64,
    organizer_line: Prop,
    attendee_lines: Vec<Prop>,
}

fn invalid(why: &str) -> SchedError {
    SchedError::ValidSchedulingMessage(why.into())
}

/// Reads a busy time request (RFC 5546 §3.3.2: METHOD:REQUEST, one VFREEBUSY with ORGANIZER,
/// ATTENDEEs, DTSTART and DTEND). DTSTART and DTEND "must be in UTC"; a value with a TZID is
/// converted, and a floating one read as UTC, as the RFC's own example (§4.3.2) writes its
/// DTEND without the `Z`.
pub fn parse_freebusy_request(text: &str) -> Result<FreeBusyRequest, SchedError> {
    let (obj, incoming) = read(text)?;
    if (incoming.method, incoming.component) != (Method::Request, ComponentKind::FreeBusy) {
        return Err(invalid("a busy time request is a VFREEBUSY with METHOD:REQUEST (RFC 6638 §5)"));
    }
    let fb = obj.cal.children.iter().find(|c| c.name == "VFREEBUSY").ok_or_else(|| invalid("no VFREEBUSY"))?;
    let at = |name: &str| -> Result<i64, SchedError> {
        match fb.prop(name).map(|p| obj.when(p)) {
            Some(When::At(s) | When::Floating(s) | When::Day(s)) => Ok(s),
            _ => Err(invalid("DTSTART and DTEND of a busy time request are UTC date-times (RFC 5546 §3.3.2)")),
        }
    };
    let (start, end) = (at("DTSTART")?, at("DTEND")?);
    if end <= start {
        return Err(invalid("a busy time request's DTEND must be after its DTSTART"));
    }
    if incoming.attendees.is_empty() {
        return Err(invalid("a busy time request names at least one ATTENDEE (RFC 5546 §3.3.2)"));
    }
    Ok(FreeBusyRequest {
        uid: incoming.uid,
        organizer: incoming.organizer,
        attendees: incoming.attendees,
        start,
        end,
        organizer_line: fb.prop("ORGANIZER").map(public).unwrap_or_else(|| Prop::new("ORGANIZER", "")),
        attendee_lines: fb.props_named("ATTENDEE").map(public).collect(),
    })
}

/// The REPLY for one attendee of the request (RFC 5546 §3.3.3): their busy periods, clipped to
/// the range, merged and sorted (FREEBUSY lines in UTC, FBTYPE when not BUSY).
pub fn freebusy_reply(request: &FreeBusyRequest, attendee: &Address, busy: &[Busy], now: i64) -> String {
    let range = TimeRange { start: Some(request.start), end: Some(request.end) };
    let mut fb = Comp::new("VFREEBUSY");
    fb.props.push(Prop::new("UID", &request.uid));
    for (name, at) in [("DTSTAMP", now), ("DTSTART", request.start), ("DTEND", request.end)] {
        fb.props.push(Prop::new(name, &utc_date_time(at)));
    }
    fb.props.push(request.organizer_line.clone());
    let line = request.attendee_lines.iter().find(|p| attendee.is(p.value()));
    fb.props.push(line.cloned().unwrap_or_else(|| Prop::new("ATTENDEE", attendee.as_str())));
    for period in busy_lines(&merge(busy, &range)).split_terminator("\r\n") {
        if let Some((name_params, value)) = period.split_once(':') {
            let mut p = Prop::new("FREEBUSY", value);
            if let Some(kind) = name_params.strip_prefix("FREEBUSY;FBTYPE=") {
                p.set_param("FBTYPE", kind);
            }
            fb.props.push(p);
        }
    }
    let mut cal = Comp::new("VCALENDAR");
    cal.props.extend([Prop::new("VERSION", "2.0"), Prop::new("PRODID", PRODID), Prop::new("METHOD", "REPLY")]);
    cal.children.push(fb);
    text::write(&cal, false)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::calendar::model::BusyKind;

    const REQUEST: &str = include_str!("../../fixtures/itip/rfc6638/b.5-request.ics");

    #[test]
    fn answers_the_rfc_6638_example() {
        let request = parse_freebusy_request(REQUEST).unwrap();
        assert_eq!((request.start, request.end), (1_243_900_800, 1_244_073_600));
        assert_eq!(request.organizer.as_str(), "mailto:cyrus@example.com");
        assert_eq!(request.attendees.len(), 3);
        let wilfredo = Address::new("mailto:wilfredo@example.com");
        let busy = [
            Busy { start: 1_243_940_400, end: 1_243_944_000, kind: BusyKind::Busy },
            Busy { start: 1_244_048_400, end: 1_244_052_000, kind: BusyKind::BusyTentative },
            Busy { start: 1_244_070_000, end: 1_244_080_000, kind: BusyKind::Busy },
        ];
        let reply = freebusy_reply(&request, &wilfredo, &busy, 1_243_973_253);
        let expected = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Kalends//Kalends//EN\r\nMETHOD:REPLY\r\nBEGIN:VFREEBUSY\r\n\
UID:4FD3AD926350\r\nDTSTAMP:20090602T200733Z\r\nDTSTART:20090602T000000Z\r\nDTEND:20090604T000000Z\r\n\
ORGANIZER;CN=\"Cyrus Daboo\":mailto:cyrus@example.com\r\nATTENDEE;CN=\"Wilfredo Sanchez Vega\":mailto:wilfredo@example.com\r\n\
FREEBUSY:20090602T110000Z/20090602T120000Z\r\nFREEBUSY;FBTYPE=BUSY-TENTATIVE:20090603T170000Z/20090603T180000Z\r\n\
FREEBUSY:20090603T230000Z/20090604T000000Z\r\nEND:VFREEBUSY\r\nEND:VCALENDAR\r\n";
        assert_eq!(reply, expected);
        assert_eq!(super::super::parse_message(&reply).unwrap().method, Method::Reply);
    }

    #[test]
    fn reads_the_rfc_5546_example_and_refuses_bad_ranges() {
        let rfc = parse_freebusy_request(include_str!("../../fixtures/itip/rfc5546/4.3.2-request.ics")).unwrap();
        assert_eq!((rfc.start, rfc.end), (867_744_000, 867_787_200));
        let backwards = REQUEST.replace("DTEND:20090604T000000Z", "DTEND:20090601T000000Z");
        assert!(matches!(parse_freebusy_request(&backwards), Err(SchedError::ValidSchedulingMessage(_))));
        let event = include_str!("../../fixtures/itip/rfc5546/4.2.1-request.ics");
        assert!(matches!(parse_freebusy_request(event), Err(SchedError::ValidSchedulingMessage(_))));
    }
}
