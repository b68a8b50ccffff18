//! An attendee's writes (RFC 6638 §3.2.2): what they may change, and the REPLY their change of
//! participation sends to the organizer.

use std::collections::BTreeMap;

use super::address::{Address, is_owner};
use super::cancel::Instance;
use super::change::rule_parts;
use super::classify::role_of;
use super::object::{Object, When, attendee, cancelled, parse_duration, partstat, server_agent};
use super::organizer::organizer_of;
use super::text::{Comp, Prop};
use super::view::{compose, is_progress, public};
use super::{Message, Method, Plan, Role, SchedError, ScheduleStatus};

/// What RFC 6638 §3.2.2.1 lets an attendee change besides their own ATTENDEE line, VALARMs,
/// EXDATEs (declining instances) and X- properties (their client's own data).
const PERSONAL: [&str; 6] = ["TRANSP", "PERCENT-COMPLETE", "COMPLETED", "CREATED", "DTSTAMP", "LAST-MODIFIED"];

fn refuse(why: impl Into<String>) -> SchedError {
    SchedError::ValidAttendeeChange(why.into())
}

/// An attendee's PUT of their copy (RFC 6638 §3.2.2.2 create, §3.2.2.3 modify).
///
/// Refused (`ValidAttendeeChange`) when it changes more than the attendee's participation;
/// `ValidOrganizer` when it changes the ORGANIZER. Otherwise the client's text is stored
/// (SCHEDULE-FORCE-SEND removed, §7.2; the other attendees' ATTENDEE properties as stored,
/// §3.2.10.1) and a REPLY goes to the organizer with each instance
/// whose PARTSTAT changed: an EXDATE the attendee added declines that instance, an override they
/// added answers for that instance only. Nothing is sent when the ORGANIZER's SCHEDULE-AGENT is
/// not SERVER or the event is cancelled. A copy the attendee creates (`old` = None) replies for
/// the instances they have answered.
pub fn attendee_change(old: Option<&str>, new: &str, owner: &[Address], now: i64) -> Result<Plan, SchedError> {
    let old = old.map(Object::parse).transpose()?;
    let mut new = Object::parse(new)?;
    let old = match old {
        Some(o) if matches!(role_of(&o, owner)?, Role::Attendee { .. }) => Some(o),
        _ => None,
    };
    if let Some(old) = &old {
        let before = organizer_of(old);
        if organizer_of(&new).is_some_and(|after| Some(after) != before) {
            return Err(SchedError::ValidOrganizer("an attendee cannot change the ORGANIZER (RFC 6638 §3.2.4.3)".into()));
        }
    }
    let Role::Attendee { organizer } = role_of(&new, owner)? else {
        return match old {
            Some(_) => Err(refuse("an attendee cannot remove the ORGANIZER or themselves; decline instead (RFC 6638 §3.2.2.1)")),
            None => Ok(Plan { store: new.write(true), messages: Vec::new() }),
        };
    };
    let me = my_address(&new, owner).ok_or_else(|| refuse("the owner is not an attendee"))?;
    if let Some(old) = &old {
        check_allowed(old, &new, &me)?;
        keep_others(old, &mut new, owner);
    }
    let forced = take_force_reply(&mut new);
    let agent_is_server = new.organizer()?.is_some_and(server_agent);
    let called_off = new.items().all(cancelled);
    let mut messages = Vec::new();
    if agent_is_server && !called_off {
        let comps = answers(old.as_ref(), &new, &me, forced);
        if !comps.is_empty() {
            let sources: Vec<&Object> = std::iter::once(&new).chain(old.as_ref()).collect();
            messages.push(reply(&new, &me, &organizer, &sources, comps, now));
        }
    }
    Ok(Plan { store: new.write(true), messages })
}

/// An attendee's DELETE (RFC 6638 §3.2.2.4): DECLINED for every instance they had not
/// declined and that is not cancelled, unless the ORGANIZER's SCHEDULE-AGENT is not SERVER.
pub fn attendee_delete(old: &str, owner: &[Address], now: i64) -> Result<Vec<Message>, SchedError> {
    let obj = Object::parse(old)?;
    let Role::Attendee { organizer } = role_of(&obj, owner)? else { return Ok(Vec::new()) };
    let Some(me) = my_address(&obj, owner) else { return Ok(Vec::new()) };
    let agent_is_server = obj.organizer()?.is_some_and(server_agent);
    if !agent_is_server {
        return Ok(Vec::new());
    }
    let comps: Vec<Comp> = obj
        .items()
        .filter(|c| !cancelled(c) && attendee(c, &me).is_some_and(|p| partstat(p) != "DECLINED"))
        .map(|c| reply_component(c, obj.master().unwrap_or(c), &me, "DECLINED", None))
        .collect();
    match comps.is_empty() {
        true => Ok(Vec::new()),
        false => Ok(vec![reply(&obj, &me, &organizer, &[&obj], comps, now)]),
    }
}

fn my_address(obj: &Object, owner: &[Address]) -> Option<Address> {
    obj.attendees().into_iter().find(|a| is_owner(owner, a.as_str()))
}

/// RFC 6638 §7.2 on the ORGANIZER line: REPLY forces a reply; another value is ignored with
/// SCHEDULE-STATUS=2.3. The parameter is never stored.
fn take_force_reply(new: &mut Object) -> bool {
    let mut forced = false;
    for p in new.items_mut().flat_map(|c| c.props.iter_mut()).filter(|p| p.name == "ORGANIZER") {
        let Some(value) = p.param("SCHEDULE-FORCE-SEND").map(str::to_ascii_uppercase) else { continue };
        p.remove_param("SCHEDULE-FORCE-SEND");
        match value.as_str() {
            "REPLY" => forced = true,
            _ => p.set_param("SCHEDULE-STATUS", ScheduleStatus::ParameterIgnored.code()),
        }
    }
    forced
}

/// The REPLY components: each instance whose PARTSTAT for `me` changed (or all, when forced).
fn answers(old: Option<&Object>, new: &Object, me: &Address, forced: bool) -> Vec<Comp> {
    let master = new.master();
    let mut out = Vec::new();
    for c in new.items().filter(|c| !cancelled(c)) {
        let rid = new.rid(c);
        let Some(mine) = attendee(c, me).map(partstat) else { continue };
        let before = old.and_then(|o| o.find(&rid).or_else(|| rid.as_ref().and(o.master())));
        let was = before.and_then(|b| attendee(b, me)).map_or_else(|| "NEEDS-ACTION".to_owned(), partstat);
        if mine != was || forced {
            out.push(reply_component(c, master.unwrap_or(c), me, &mine, None));
        }
    }
    if let (Some(old), Some(master)) = (old, master.filter(|m| !cancelled(m))) {
        let master_declined = attendee(master, me).is_some_and(|p| partstat(p) == "DECLINED");
        for (rid, from) in excluded_by_attendee(old, new, me).into_iter().filter(|_| !master_declined) {
            out.push(reply_component(from.as_ref().unwrap_or(master), master, me, "DECLINED", Some(&rid)));
        }
    }
    out
}

/// Instances the attendee removed with an EXDATE (RFC 6638 §3.2.2.3), with the override that
/// described them if there was one; not those cancelled or declined already.
fn excluded_by_attendee(old: &Object, new: &Object, me: &Address) -> Vec<(Prop, Option<Comp>)> {
    let before: Vec<When> = old.master().map(|m| m.props_named("EXDATE").flat_map(|p| old.whens(p)).collect()).unwrap_or_default();
    let fresh = |w: &When| !before.contains(w);
    let mut out = Vec::new();
    for p in new.master().into_iter().flat_map(|m| m.props_named("EXDATE")) {
        for i in Instance::excluded(new, p, fresh, |_| false) {
            let had = old.find(&Some(i.when.clone()));
            let answered = had.is_some_and(|c| cancelled(c) || attendee(c, me).is_some_and(|a| partstat(a) == "DECLINED"));
            if !answered {
                out.push((had.and_then(|c| c.prop("RECURRENCE-ID")).cloned().unwrap_or(i.rid), had.cloned()));
            }
        }
    }
    out
}

/// One REPLY component (RFC 5546 §3.2.3): the instance's identity and times, the organizer and
/// the attendee's own line with their answer.
fn reply_component(from: &Comp, master: &Comp, me: &Address, answer: &str, rid: Option<&Prop>) -> Comp {
    let mut c = Comp::new(&from.name);
    let pick = |name: &str| from.prop(name).or_else(|| master.prop(name)).cloned();
    c.props.extend(pick("UID"));
    c.props.extend(rid.cloned().or_else(|| from.prop("RECURRENCE-ID").cloned()));
    c.props.extend(pick("SEQUENCE"));
    c.props.extend(pick("ORGANIZER").map(|p| public(&p)));
    let mut line = attendee(from, me).or_else(|| attendee(master, me)).map(public).unwrap_or_else(|| Prop::new("ATTENDEE", me.as_str()));
    line.set_param("PARTSTAT", answer);
    line.remove_param("RSVP");
    c.props.push(line);
    let times = ["DTSTART", "DTEND", "DURATION", "DUE", "SUMMARY", "PERCENT-COMPLETE", "COMPLETED"];
    c.props.extend(times.iter().filter_map(|n| from.prop(n)).cloned());
    if let (Some(rid), None) = (rid, from.prop("RECURRENCE-ID")) {
        let mut start = rid.clone();
        start.name = "DTSTART".into();
        c.remove("DTSTART");
        c.remove("DTEND");
        c.props.push(start);
    }
    c
}

fn reply(source: &Object, me: &Address, organizer: &Address, sources: &[&Object], comps: Vec<Comp>, now: i64) -> Message {
    Message {
        method: Method::Reply,
        uid: source.uid().unwrap_or_default().to_owned(),
        originator: me.clone(),
        recipient: organizer.clone(),
        text: compose(Method::Reply, sources, comps, now),
    }
}

/// RFC 6638 §3.2.2.1: the attendee may change their own ATTENDEE line, TRANSP,
/// PERCENT-COMPLETE, COMPLETED, VALARMs, CREATED/DTSTAMP/LAST-MODIFIED, add EXDATEs and
/// overrides that only carry such changes; Kalends also lets them keep X- properties (their
/// client's own data) and report a to-do's progress in STATUS (`view::is_progress`).
/// Everything else is the organizer's.
fn check_allowed(old: &Object, new: &Object, me: &Address) -> Result<(), SchedError> {
    if old.master().is_some() && new.master().is_none() {
        return Err(refuse("the master component cannot be removed; decline the event instead (RFC 6638 §3.2.2.1)"));
    }
    for c in new.items() {
        let rid = new.rid(c);
        match (old.find(&rid), old.master(), &rid) {
            (Some(o), _, _) => same_content(old, o, new, c, me)?,
            (None, Some(m), Some(_)) => new_override(old, m, new, c, me)?,
            _ => return Err(refuse("a component the organizer did not send (RFC 6638 §3.2.2.1)")),
        }
    }
    let excluded: Vec<When> = new.master().map(|m| m.props_named("EXDATE").flat_map(|p| new.whens(p)).collect()).unwrap_or_default();
    for o in old.items().filter(|o| o.prop("RECURRENCE-ID").is_some()) {
        let rid = old.rid(o);
        if new.find(&rid).is_none() && !rid.is_some_and(|w| excluded.contains(&w)) {
            return Err(refuse("an instance the organizer sent cannot be removed; decline it or add an EXDATE (RFC 6638 §3.2.2.1)"));
        }
    }
    Ok(())
}

/// RFC 6638 §3.2.10.1: the other attendees' ATTENDEE properties are taken from the stored copy.
/// A refresh after another attendee's REPLY keeps the Schedule-Tag (§3.2.10), so a client may
/// write on a copy older than their answers; it must not put the older answers back. An
/// attendee answers only for themselves (§3.2.2.1 item 1), as the organizer does (§3.2.1).
fn keep_others(old: &Object, new: &mut Object, owner: &[Address]) {
    let stored: Vec<Option<&Comp>> = new.items().map(|c| old.find(&new.rid(c)).or_else(|| old.master())).collect();
    for (c, before) in new.items_mut().zip(stored) {
        let Some(before) = before else { continue };
        for p in c.props.iter_mut().filter(|p| p.name == "ATTENDEE" && !is_owner(owner, p.value())) {
            if let Some(kept) = attendee(before, &Address::new(p.value())) {
                *p = kept.clone();
            }
        }
    }
}

fn same_content(old_obj: &Object, old: &Comp, new_obj: &Object, new: &Comp, me: &Address) -> Result<(), SchedError> {
    same_people(old, new, me)?;
    let (before, after) = (controlled(old_obj, old), controlled(new_obj, new));
    if let Some(name) = first_difference(&before, &after) {
        return Err(refuse(format!("{name} is the organizer's; an attendee may change only their participation (RFC 6638 §3.2.2.1)")));
    }
    let exdates = |obj: &Object, c: &Comp| c.props_named("EXDATE").flat_map(|p| obj.whens(p)).collect::<Vec<_>>();
    let after_ex = exdates(new_obj, new);
    if exdates(old_obj, old).iter().any(|w| !after_ex.contains(w)) {
        return Err(refuse("an EXDATE the organizer set cannot be removed (RFC 6638 §3.2.2.1)"));
    }
    Ok(())
}

/// An override the attendee adds must be the master's instance as it is (§3.2.2.1 item 11).
fn new_override(old_obj: &Object, master: &Comp, new_obj: &Object, over: &Comp, me: &Address) -> Result<(), SchedError> {
    same_people(master, over, me)?;
    let timing = ["DTSTART", "DTEND", "DURATION", "DUE", "RRULE", "RDATE", "RECURRENCE-ID", "SEQUENCE"];
    let strip = |mut m: BTreeMap<String, Vec<String>>| {
        m.retain(|k, _| !timing.contains(&k.as_str()));
        m
    };
    let (before, after) = (strip(controlled(old_obj, master)), strip(controlled(new_obj, over)));
    if let Some(name) = first_difference(&before, &after) {
        return Err(refuse(format!("an override an attendee adds may not change {name} (RFC 6638 §3.2.2.1)")));
    }
    let (start, length) = new_obj.span(over);
    let rid = over.prop("RECURRENCE-ID").map(|p| new_obj.when(p));
    let moved = start != rid || length.is_some_and(|l| Some(l) != old_obj.span(master).1);
    if moved || over.prop("RRULE").is_some() || over.prop("RDATE").is_some() {
        return Err(refuse("an override an attendee adds may not move the instance (RFC 6638 §3.2.2.1)"));
    }
    Ok(())
}

/// The same ORGANIZER and the same attendees, `me` among them.
fn same_people(old: &Comp, new: &Comp, me: &Address) -> Result<(), SchedError> {
    let people = |c: &Comp| {
        let mut v: Vec<Address> = c.props_named("ATTENDEE").map(|p| Address::new(p.value())).collect();
        v.sort();
        v.dedup();
        v
    };
    if attendee(new, me).is_none() || people(old) != people(new) {
        return Err(refuse("the attendee list is the organizer's (RFC 6638 §3.2.2.1)"));
    }
    let organizer = |c: &Comp| c.value("ORGANIZER").map(Address::new);
    if organizer(old) != organizer(new) {
        return Err(SchedError::ValidOrganizer("an attendee cannot change the ORGANIZER (RFC 6638 §3.2.4.3)".into()));
    }
    Ok(())
}

/// The organizer's properties of a component, each name with its values in a comparable form:
/// times as instants, DURATION in seconds, RRULE by its parts, other values trimmed.
fn controlled(obj: &Object, c: &Comp) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let progress = is_progress(c);
    let skip = |n: &str| {
        PERSONAL.contains(&n) || n.starts_with("X-") || matches!(n, "ATTENDEE" | "ORGANIZER" | "EXDATE") || (progress && n == "STATUS")
    };
    for p in c.props.iter().filter(|p| !skip(&p.name)) {
        let value = match p.name.as_str() {
            "DTSTART" | "DTEND" | "DUE" | "RECURRENCE-ID" | "RDATE" => format!("{:?}", obj.whens(p)),
            "DURATION" => format!("{:?}", parse_duration(p.value())),
            "RRULE" => format!("{:?}", rule_parts(c)),
            _ => p.value().trim().to_owned(),
        };
        out.entry(p.name.clone()).or_default().push(value);
    }
    out.values_mut().for_each(|v| v.sort());
    out
}

fn first_difference(a: &BTreeMap<String, Vec<String>>, b: &BTreeMap<String, Vec<String>>) -> Option<String> {
    a.keys().chain(b.keys()).find(|k| a.get(*k) != b.get(*k)).cloned()
}
