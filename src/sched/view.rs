//! What one recipient sees of an object (RFC 6638 §3.2.6), and the iTIP message text built from
//! it (RFC 5546 §3): METHOD, the VTIMEZONEs used, no server-only parameters, no private state.

use std::collections::{BTreeMap, BTreeSet};

use super::Method;
use super::address::Address;
use super::object::{Object, Rid, When, attendee, cancelled};
use super::text::{self, Comp, Prop};
use crate::calendar::time::utc_date_time;

pub(crate) const PRODID: &str = "-//Kalends//Kalends//EN";

/// A client's own state, never sent: Thunderbird's X-MOZ-* (invitation flags, alarm
/// acknowledgement, snooze, generation), Apple's travel time, default-alarm and needs-reply
/// flags.
pub(crate) fn is_private(name: &str) -> bool {
    name.starts_with("X-MOZ-")
        || name.starts_with("X-APPLE-TRAVEL-")
        || matches!(name, "X-APPLE-DEFAULT-ALARM" | "X-APPLE-NEEDS-REPLY")
}

/// What an attendee keeps of their own copy when the organizer's update replaces it: the
/// properties RFC 6638 §3.2.2.1 lets them change (TRANSP, COMPLETED, PERCENT-COMPLETE) and
/// their client's private state. VALARMs are kept too (by `apply`).
pub(crate) fn is_per_attendee(name: &str) -> bool {
    matches!(name, "TRANSP" | "COMPLETED" | "PERCENT-COMPLETE") || is_private(name)
}

/// Whether a component is a VTODO whose STATUS is progress (RFC 5545 §3.8.1.11: NEEDS-ACTION,
/// IN-PROCESS, COMPLETED, or none): the assignee's to report, like COMPLETED and
/// PERCENT-COMPLETE (RFC 6638 §3.2.2.1 items 3–4); jtx Board and Thunderbird set STATUS:COMPLETED
/// when an assignee ticks a task off. CANCELLED stays the organizer's.
pub(crate) fn is_progress(c: &Comp) -> bool {
    let progress = |s: &str| matches!(s.trim().to_ascii_uppercase().as_str(), "NEEDS-ACTION" | "IN-PROCESS" | "COMPLETED");
    c.name == "VTODO" && c.value("STATUS").is_none_or(progress)
}

/// RFC 6638 §7.1–§7.3: parameters that never leave the server.
pub(crate) fn is_server_param(name: &str) -> bool {
    matches!(name, "SCHEDULE-AGENT" | "SCHEDULE-STATUS" | "SCHEDULE-FORCE-SEND")
}

pub(crate) fn invited(c: &Comp, who: &Address) -> bool {
    attendee(c, who).is_some()
}

/// The components `who` is sent (RFC 6638 §3.2.6): the master if they are in it, with an
/// EXDATE for each instance overridden without them or cancelled, and the live overrides that
/// list them. Empty when they are in no component.
pub(crate) fn view_of(obj: &Object, who: &Address) -> Vec<Comp> {
    let overrides: Vec<&Comp> = obj.items().filter(|c| c.prop("RECURRENCE-ID").is_some()).collect();
    let keep = |c: &&Comp| invited(c, who) && !cancelled(c);
    let mut out = Vec::new();
    if let Some(master) = obj.master().filter(|m| invited(m, who)) {
        let mut master = master.clone();
        for c in overrides.iter().filter(|c| !keep(c)) {
            master.props.extend(c.prop("RECURRENCE-ID").map(exdate_for));
        }
        out.push(master);
    }
    out.extend(overrides.into_iter().filter(keep).cloned());
    out
}

/// The EXDATE that removes the instance a RECURRENCE-ID names (RANGE dropped).
pub(crate) fn exdate_for(rid: &Prop) -> Prop {
    let mut p = Prop::new("EXDATE", rid.value());
    copy_time_params(rid, &mut p);
    p
}

/// The RECURRENCE-ID of the instance one EXDATE value removes.
pub(crate) fn rid_for(exdate: &Prop, value: &str) -> Prop {
    let mut p = Prop::new("RECURRENCE-ID", value);
    copy_time_params(exdate, &mut p);
    p
}

fn copy_time_params(from: &Prop, to: &mut Prop) {
    for name in ["TZID", "VALUE"] {
        if let Some(v) = from.param(name).filter(|v| !v.eq_ignore_ascii_case("PERIOD")) {
            to.set_param(name, v);
        }
    }
}

/// A line without the server-only parameters.
pub(crate) fn public(p: &Prop) -> Prop {
    p.with_params(|n| !is_server_param(n))
}

/// Prepares a component for sending: no VALARM, no private property, no server-only parameter,
/// DTSTAMP set to when the message is made (RFC 6638 §3.2.5).
pub(crate) fn outgoing(c: &mut Comp, now: i64) {
    c.children.retain(|child| child.name != "VALARM");
    c.props.retain(|p| !is_private(&p.name));
    for p in c.props.iter_mut().filter(|p| p.name == "ATTENDEE" || p.name == "ORGANIZER") {
        *p = public(p);
    }
    c.set("DTSTAMP", &utc_date_time(now));
}

/// The iCalendar stream of a message: `comps` (prepared here) with the VTIMEZONEs they name,
/// taken from the first of `sources` that has each.
pub(crate) fn compose(method: Method, sources: &[&Object], mut comps: Vec<Comp>, now: i64) -> String {
    let mut cal = Comp::new("VCALENDAR");
    cal.props.push(Prop::new("VERSION", "2.0"));
    cal.props.push(Prop::new("PRODID", PRODID));
    if let Some(scale) = sources.iter().find_map(|s| s.cal.prop("CALSCALE")) {
        cal.props.push(scale.clone());
    }
    cal.props.push(Prop::new("METHOD", method.as_str()));
    // RFC 5546 §3.2: every component of a message names the ORGANIZER, while RFC 6638 §3.2.4.2
    // lets an override of a stored object leave it out (it has the series'). Found by fuzzing.
    // A message of overrides alone takes it from the objects it was made from.
    let organizer = comps.iter().find_map(|c| c.prop("ORGANIZER")).or_else(|| sources.iter().flat_map(|s| s.items()).find_map(|c| c.prop("ORGANIZER")));
    if let Some(organizer) = organizer.cloned() {
        for c in comps.iter_mut().filter(|c| c.prop("ORGANIZER").is_none()) {
            c.props.push(organizer.clone());
        }
    }
    for c in comps.iter_mut() {
        outgoing(c, now);
    }
    cal.children = timezones(sources, &comps);
    cal.children.extend(comps);
    text::write(&cal, false)
}

/// The VTIMEZONEs whose TZID a property of `comps` names (RFC 5546 §3.2.2), each once.
pub(crate) fn timezones(sources: &[&Object], comps: &[Comp]) -> Vec<Comp> {
    let mut used = BTreeSet::new();
    for c in comps {
        collect_tzids(c, &mut used);
    }
    let mut out = Vec::new();
    for tz in sources.iter().flat_map(|s| s.cal.children.iter()).filter(|c| c.name == "VTIMEZONE") {
        if let Some(id) = tz.value("TZID").map(|id| id.trim().to_owned())
            && used.remove(&id)
        {
            out.push(tz.clone());
        }
    }
    out
}

fn collect_tzids(c: &Comp, used: &mut BTreeSet<String>) {
    used.extend(c.props.iter().filter_map(|p| p.param("TZID")).map(|t| t.trim().to_owned()));
    c.children.iter().for_each(|child| collect_tzids(child, used));
}

/// What a recipient's copy says, for telling whether an update changes it: per instance, its
/// properties (order, DTSTAMP, SEQUENCE and server-only parameters aside) and its EXDATEs as
/// instants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fingerprint(BTreeMap<Rid, (Vec<String>, BTreeSet<When>)>);

pub(crate) fn fingerprint(obj: &Object, comps: &[Comp]) -> Fingerprint {
    let mut map = BTreeMap::new();
    for c in comps {
        let mut lines = Vec::new();
        let mut exdates = BTreeSet::new();
        for p in c.props.iter().filter(|p| !matches!(p.name.as_str(), "DTSTAMP" | "SEQUENCE") && !is_private(&p.name)) {
            if p.name == "EXDATE" {
                exdates.extend(obj.whens(p));
                continue;
            }
            let mut params: Vec<String> = p
                .params()
                .iter()
                .filter(|q| !is_server_param(&q.name) && !is_default(&q.name, q.value()))
                .map(|q| format!("{}={}", q.name, q.value()))
                .collect();
            params.sort();
            lines.push(format!("{};{}:{}", p.name, params.join(";"), p.value()));
        }
        lines.sort();
        map.insert(obj.rid(c), (lines, exdates));
    }
    Fingerprint(map)
}

/// Parameters that say what their absence says (RFC 5545 §3.2.12, §3.2.17).
fn is_default(name: &str, value: &str) -> bool {
    matches!((name, value.to_ascii_uppercase().as_str()), ("PARTSTAT", "NEEDS-ACTION") | ("RSVP", "FALSE"))
}

impl Fingerprint {
    /// The copy once these instances are cancelled: overrides gone, EXDATEs on the master.
    pub fn without(mut self, rids: &[When]) -> Fingerprint {
        for rid in rids {
            self.0.remove(&Some(rid.clone()));
            if let Some((_, exdates)) = self.0.get_mut(&None) {
                exdates.insert(rid.clone());
            }
        }
        self
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const SERIES: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nEND:VTIMEZONE\r\n\
BEGIN:VTIMEZONE\r\nTZID:Unused\r\nEND:VTIMEZONE\r\nBEGIN:VEVENT\r\nUID:s\r\nDTSTART;TZID=Europe/Berlin:20240101T100000\r\n\
RRULE:FREQ=DAILY;COUNT=5\r\nORGANIZER;SCHEDULE-STATUS=1.2:mailto:o@x\r\nATTENDEE;SCHEDULE-STATUS=1.2:mailto:a@x\r\n\
ATTENDEE;SCHEDULE-AGENT=CLIENT:mailto:b@x\r\nX-MOZ-GENERATION:3\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT5M\r\nEND:VALARM\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:s\r\nRECURRENCE-ID;TZID=Europe/Berlin:20240102T100000\r\nDTSTART;TZID=Europe/Berlin:20240102T120000\r\n\
ORGANIZER:mailto:o@x\r\nATTENDEE:mailto:b@x\r\nATTENDEE:mailto:c@x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

    #[test]
    fn views_follow_the_instances_each_attendee_is_in() {
        let obj = Object::parse(SERIES).unwrap();
        let a = view_of(&obj, &Address::new("mailto:a@x"));
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].prop("EXDATE").unwrap().line(), "EXDATE;TZID=Europe/Berlin:20240102T100000");
        let b = view_of(&obj, &Address::new("mailto:b@x"));
        assert_eq!((b.len(), b[0].prop("EXDATE")), (2, None));
        let c = view_of(&obj, &Address::new("mailto:c@x"));
        assert_eq!((c.len(), c[0].value("RECURRENCE-ID")), (1, Some("20240102T100000")));
        assert!(view_of(&obj, &Address::new("mailto:z@x")).is_empty());
    }

    #[test]
    fn messages_carry_method_zones_and_nothing_private() {
        let obj = Object::parse(SERIES).unwrap();
        let text = compose(Method::Request, &[&obj], view_of(&obj, &Address::new("mailto:a@x")), 1_704_067_200);
        for needle in ["METHOD:REQUEST\r\n", "TZID:Europe/Berlin\r\n", "DTSTAMP:20240101T000000Z\r\n", "ORGANIZER:mailto:o@x\r\n"] {
            assert!(text.contains(needle), "{needle} in {text}");
        }
        for absent in ["Unused", "SCHEDULE-", "VALARM", "X-MOZ"] {
            assert!(!text.contains(absent), "{absent} in {text}");
        }
    }

    #[test]
    fn fingerprints_ignore_order_stamps_and_server_state() {
        let obj = Object::parse(SERIES).unwrap();
        let again = SERIES.replace("ATTENDEE;SCHEDULE-STATUS=1.2:mailto:a@x\r\n", "").replace("X-MOZ-GENERATION:3\r\n", "X-MOZ-GENERATION:4\r\nATTENDEE:mailto:a@x\r\nDTSTAMP:20240101T000000Z\r\n");
        let other = Object::parse(&again).unwrap();
        let all = |o: &Object| o.items().cloned().collect::<Vec<_>>();
        assert_eq!(fingerprint(&obj, &all(&obj)), fingerprint(&other, &all(&other)));
        let moved = Object::parse(&SERIES.replace("20240102T120000", "20240102T130000")).unwrap();
        assert_ne!(fingerprint(&obj, &all(&obj)), fingerprint(&moved, &all(&moved)));
    }
}
