//! Processing delivered messages (RFC 6638 §4; RFC 5546 §3.2): REQUEST and CANCEL on an
//! attendee's copy, REPLY on the organizer's, and the refresh the other attendees get.
//!
//! Ordering (RFC 5546 §2.1.5) is by SEQUENCE alone: a message with a lower SEQUENCE than the
//! copy is ignored, an equal one applies. DTSTAMP is not compared, because the attendee's
//! client may rewrite it (RFC 6638 §3.2.2.1 item 9), so on their copy it says nothing about
//! the organizer's revision (Apple's server compares SEQUENCE only for the same reason).

use super::address::Address;
use super::message::read;
use super::object::{Object, Rid, When, attendee, attendee_mut, cancelled, is_server_attendee, partstat, server_attendees};
use super::organizer::organizer_of;
use super::text::{Comp, Prop};
use super::view::{compose, exdate_for, is_per_attendee, is_progress, view_of};
use super::{Applied, Message, Method, SchedError};
use crate::calendar::ComponentKind;
use crate::calendar::instances::expand_object;
use crate::calendar::recur::Window;
use crate::calendar::time::utc_date_time;

fn expect(method: Method, got: Method) -> Result<(), SchedError> {
    match method == got {
        true => Ok(()),
        false => Err(SchedError::ValidSchedulingMessage(format!("expected a {} message, not {}", method.as_str(), got.as_str()))),
    }
}

fn same_uid(copy: &Object, uid: &str) -> Result<(), SchedError> {
    match copy.uid() == Some(uid) {
        true => Ok(()),
        false => Err(SchedError::ValidSchedulingMessage(format!("the message is for UID {uid}, not for this copy"))),
    }
}

/// A REQUEST for `recipient` (RFC 5546 §3.2.2), on their copy if they have one.
///
/// The copy becomes the message (without METHOD), keeping what is the attendee's own: VALARMs,
/// TRANSP, COMPLETED, PERCENT-COMPLETE and their client's private properties, per instance.
/// Unless the message raises SEQUENCE (a reschedule, which asks them again), it also keeps
/// their PARTSTAT, the instances they declined with an EXDATE and the overrides they made.
/// A copy that is wholly cancelled is replaced by any REQUEST (the organizer re-invited).
pub fn apply_request(message: &str, existing: Option<&str>, recipient: &Address, now: i64) -> Result<Applied, SchedError> {
    let (msg, incoming) = read(message)?;
    expect(Method::Request, incoming.method)?;
    if incoming.component == ComponentKind::FreeBusy {
        return Err(SchedError::ValidSchedulingMessage("a VFREEBUSY REQUEST is answered, not stored (RFC 6638 §5)".into()));
    }
    if !incoming.attendees.contains(recipient) {
        return Ok(Applied::Ignored(format!("{recipient} is not an attendee of the REQUEST")));
    }
    let mut cal = msg.cal;
    cal.remove("METHOD");
    let mut copy = Object::new(cal);
    let Some(mut existing) = existing.map(Object::parse).transpose()? else {
        return Ok(Applied::Store(copy.write(true)));
    };
    same_uid(&existing, &incoming.uid)?;
    let all_cancelled = existing.items().all(cancelled);
    if !all_cancelled && incoming.sequence < existing.sequence() {
        return Ok(Applied::Ignored(format!("SEQUENCE {} is older than the copy's {}", incoming.sequence, existing.sequence())));
    }
    let keep_answers = !all_cancelled && incoming.sequence == existing.sequence();
    if copy.master().is_none() && existing.master().is_some_and(|m| !cancelled(m)) {
        // RFC 5546 §4.4.2: a REQUEST for instances updates just those (a cancelled series is
        // replaced: the attendee was dropped from it and keeps these instances only).
        update_instances(&mut existing, &copy, recipient, keep_answers);
        return Ok(Applied::Store(existing.write(true)));
    }
    merge(&existing, &mut copy, recipient, keep_answers, now);
    Ok(Applied::Store(copy.write(true)))
}

/// Puts the message's overrides into the copy, each keeping the attendee's own data, and
/// brings back an instance the copy had excluded.
fn update_instances(copy: &mut Object, msg: &Object, who: &Address, keep_answers: bool) {
    for c in msg.items() {
        let rid = msg.rid(c);
        let mut c = c.clone();
        if let Some(source) = copy.find(&rid).or_else(|| copy.master()) {
            transfer_personal(source, &mut c);
            let mine = attendee(source, who).map(partstat);
            if let (true, Some(mine), Some(line)) = (keep_answers, mine, attendee_mut(&mut c, who)) {
                line.set_param("PARTSTAT", &mine);
            }
        }
        match copy.position(&rid) {
            Some(at) => copy.cal.children[at] = c,
            None => copy.cal.children.push(c),
        }
        if let Some(when) = rid {
            drop_exdate(copy, &when);
        }
    }
    adopt_timezones(copy, msg);
}

/// Removes one instance from the master's EXDATEs.
fn drop_exdate(copy: &mut Object, when: &When) {
    let Some(at) = copy.position(&None) else { return };
    let kept: Vec<Option<String>> = copy.cal.children[at]
        .props
        .iter()
        .map(|p| {
            let values = || p.value().split(',').zip(copy.whens(p)).filter(|(_, w)| w != when).map(|(v, _)| v).collect::<Vec<_>>();
            (p.name == "EXDATE").then(|| values().join(","))
        })
        .collect();
    let master = &mut copy.cal.children[at];
    let mut kept = kept.into_iter();
    master.props.retain_mut(|p| match kept.next().flatten() {
        Some(values) if values.is_empty() => false,
        Some(values) => {
            p.set_value(&values);
            true
        }
        None => true,
    });
}

/// Carries the attendee's own data from their old copy into the new one.
fn merge(old: &Object, copy: &mut Object, who: &Address, keep_answers: bool, now: i64) {
    if keep_answers {
        keep_declined_instances(old, copy);
        keep_own_overrides(old, copy, now);
    }
    let sources: Vec<Option<Comp>> = copy.items().map(|c| old.find(&copy.rid(c)).or_else(|| old.master()).cloned()).collect();
    for (c, source) in copy.items_mut().zip(sources) {
        let Some(source) = source else { continue };
        transfer_personal(&source, c);
        let mine = attendee(&source, who).map(partstat);
        if let (true, Some(mine), Some(line)) = (keep_answers, mine, attendee_mut(c, who)) {
            line.set_param("PARTSTAT", &mine);
        }
    }
}

fn transfer_personal(from: &Comp, to: &mut Comp) {
    to.children.retain(|c| c.name != "VALARM");
    to.children.extend(from.children.iter().filter(|c| c.name == "VALARM").cloned());
    let progress = is_progress(from) && is_progress(to);
    let personal = |name: &str| is_per_attendee(name) || (progress && name == "STATUS");
    to.props.retain(|p| !personal(&p.name));
    to.props.extend(from.props.iter().filter(|p| personal(&p.name)).cloned());
}

/// EXDATEs the attendee added to decline instances (RFC 6638 §3.2.2.3).
fn keep_declined_instances(old: &Object, copy: &mut Object) {
    let (Some(old_master), Some(new_master)) = (old.master(), copy.master()) else { return };
    let known: Vec<When> = new_master.props_named("EXDATE").flat_map(|p| copy.whens(p)).collect();
    let overridden: Vec<Rid> = copy.items().map(|c| copy.rid(c)).collect();
    let declined: Vec<Prop> = old_master
        .props_named("EXDATE")
        .filter(|p| old.whens(p).iter().any(|w| !known.contains(w) && !overridden.contains(&Some(w.clone()))))
        .cloned()
        .collect();
    if let Some(at) = copy.position(&None) {
        copy.cal.children[at].props.extend(declined);
    }
}

/// Overrides the attendee made to answer for one instance, derived again from the new master
/// (their PARTSTAT and alarms follow in `merge`).
fn keep_own_overrides(old: &Object, copy: &mut Object, now: i64) {
    let Some(master) = copy.master().cloned() else { return };
    let excluded: Vec<When> = master.props_named("EXDATE").flat_map(|p| copy.whens(p)).collect();
    let mut made = Vec::new();
    for own in old.items().filter(|c| c.prop("RECURRENCE-ID").is_some()) {
        let rid = old.rid(own);
        let Some(when) = rid.clone() else { continue };
        if copy.find(&rid).is_some() || excluded.contains(&when) {
            continue;
        }
        made.extend(own.prop("RECURRENCE-ID").map(|p| derive(copy, &master, p, now)));
    }
    copy.cal.children.extend(made);
}

/// An override of the master for one instance: the master's properties without the rule, the
/// instance's start, and the master's length as DURATION (RFC 5545 §3.8.5.3: every instance is
/// as long as the master).
fn derive(obj: &Object, master: &Comp, rid: &Prop, now: i64) -> Comp {
    let (_, length) = obj.span(master);
    let mut c = master.clone();
    for name in ["RRULE", "RDATE", "EXDATE", "DTSTART", "DTEND", "DUE", "RECURRENCE-ID"] {
        c.remove(name);
    }
    let mut rid_line = rid.with_params(|n| n == "TZID" || n == "VALUE");
    rid_line.name = "RECURRENCE-ID".into();
    let mut start = rid_line.clone();
    start.name = "DTSTART".into();
    c.props.push(rid_line);
    c.props.push(start);
    if let Some(seconds) = length.filter(|_| master.prop("DURATION").is_none()) {
        c.props.push(Prop::new("DURATION", &format_duration(seconds)));
    }
    c.set("DTSTAMP", &utc_date_time(now));
    c
}

fn format_duration(seconds: i64) -> String {
    let sign = if seconds < 0 { "-" } else { "" };
    let s = seconds.unsigned_abs();
    match s % 86_400 {
        0 => format!("{sign}P{}D", s / 86_400),
        _ => format!("{sign}PT{s}S"),
    }
}

/// A CANCEL on the attendee's copy (RFC 5546 §3.2.5). For the whole event the copy is kept with
/// every component STATUS:CANCELLED, so the attendee sees what was called off and removes it
/// (what Apple's server and sabre/dav do; deleting it would make it vanish unexplained). For
/// instances: an override the copy has is marked STATUS:CANCELLED, any other instance gets an
/// EXDATE in the master. RANGE=THISANDFUTURE is read as that one instance.
pub fn apply_cancel(message: &str, existing: Option<&str>) -> Result<Applied, SchedError> {
    let (msg, incoming) = read(message)?;
    expect(Method::Cancel, incoming.method)?;
    let Some(existing) = existing else {
        return Ok(Applied::Ignored("no copy to cancel".into()));
    };
    let mut copy = Object::parse(existing)?;
    same_uid(&copy, &incoming.uid)?;
    if incoming.sequence < copy.sequence() {
        return Ok(Applied::Ignored(format!("SEQUENCE {} is older than the copy's {}", incoming.sequence, copy.sequence())));
    }
    let seq = incoming.sequence.to_string();
    if msg.items().any(|c| c.prop("RECURRENCE-ID").is_none()) {
        for c in copy.items_mut() {
            c.set("STATUS", "CANCELLED");
            c.set("SEQUENCE", &seq);
        }
        return Ok(Applied::Store(copy.write(true)));
    }
    for rid_line in msg.items().filter_map(|c| c.prop("RECURRENCE-ID")) {
        let rid = Some(msg.when(rid_line));
        if let Some(at) = copy.position(&rid) {
            copy.cal.children[at].set("STATUS", "CANCELLED");
            copy.cal.children[at].set("SEQUENCE", &seq);
        } else if let Some(at) = copy.position(&None) {
            copy.cal.children[at].props.push(exdate_for(rid_line));
        }
    }
    adopt_timezones(&mut copy, &msg);
    Ok(Applied::Store(copy.write(true)))
}

/// Copies the message's VTIMEZONEs the copy lacks (for the TZIDs of lines taken from it).
fn adopt_timezones(copy: &mut Object, msg: &Object) {
    let has = |id: &str| copy.cal.children.iter().any(|c| c.name == "VTIMEZONE" && c.value("TZID") == Some(id));
    let missing: Vec<Comp> =
        msg.cal.children.iter().filter(|c| c.name == "VTIMEZONE" && c.value("TZID").is_some_and(|id| !has(id))).cloned().collect();
    if !missing.is_empty() {
        copy.cal.children.splice(0..0, missing);
        *copy = Object::new(std::mem::take(&mut copy.cal));
    }
}

/// A REPLY on the organizer's copy (RFC 6638 §4.2): the replying attendee's PARTSTAT per
/// instance, SCHEDULE-STATUS set to the reply's REQUEST-STATUS codes (2.0 without one) and
/// RSVP=TRUE dropped (answered). An instance the copy has no override for gets one, derived from the master, if it
/// is an instance of the master. A reply from someone not invited to the instance ("party
/// crashers", RFC 5546 §3.2.3: the organizer decides on those, not the server) changes nothing.
///
/// A reply with a lower SEQUENCE is applied: RFC 5546 §2.1.4 leaves it to the organizer, and
/// here SEQUENCE is raised for the whole object, so an attendee whose instances did not change
/// holds an older one and still answers for the current times (an attendee's copy with old
/// times cannot be written: `attendee_change` refuses it).
pub fn apply_reply(reply: &str, organizer_copy: &str, now: i64) -> Result<Applied, SchedError> {
    let (msg, incoming) = read(reply)?;
    expect(Method::Reply, incoming.method)?;
    let mut copy = Object::parse(organizer_copy)?;
    same_uid(&copy, &incoming.uid)?;
    let who = incoming.attendees.first().cloned().ok_or_else(|| SchedError::ValidSchedulingMessage("no ATTENDEE".into()))?;
    let mut updated = 0;
    for c in msg.items() {
        let (Some(line), rid) = (attendee(c, &who), c.prop("RECURRENCE-ID")) else { continue };
        let Some(at) = target(&mut copy, rid.map(|p| (p, msg.when(p))), organizer_copy, now) else { continue };
        let Some(mine) = attendee_mut(&mut copy.cal.children[at], &who) else { continue };
        mine.set_param("PARTSTAT", &partstat(line));
        mine.set_param("SCHEDULE-STATUS", &request_status(c));
        if mine.param("RSVP").is_some_and(|v| v.eq_ignore_ascii_case("TRUE")) {
            mine.remove_param("RSVP");
        }
        updated += 1;
    }
    adopt_timezones(&mut copy, &msg);
    match updated {
        0 => Ok(Applied::Ignored(format!("the reply of {who} matches nothing it was invited to"))),
        _ => Ok(Applied::Store(copy.write(true))),
    }
}

/// The position of the component a reply instance answers, creating the override if needed.
fn target(copy: &mut Object, rid: Option<(&Prop, When)>, text: &str, now: i64) -> Option<usize> {
    let Some((rid_line, when)) = rid else { return copy.position(&None) };
    if let Some(at) = copy.position(&Some(when.clone())) {
        return Some(at);
    }
    let master = copy.master()?.clone();
    if !is_instance(text, &when) {
        return None;
    }
    let derived = derive(copy, &master, rid_line, now);
    copy.cal.children.push(derived);
    Some(copy.cal.children.len() - 1)
}

/// Whether the master's recurrence set has an instance starting (originally) at `when`.
fn is_instance(text: &str, when: &When) -> bool {
    let at = match when {
        When::At(s) | When::Floating(s) | When::Day(s) => *s,
        When::Text(_) => return false,
    };
    let window = Window { start: Some(at - 1), end: Some(at + 1) };
    let found = expand_object(text.as_bytes(), window, chrono_tz::UTC, 1000).unwrap_or_default();
    found.iter().any(|i| i.recurrence_id == Some(at))
}

/// RFC 6638 §4.2: the REQUEST-STATUS codes of a reply component, comma-separated; 2.0 if none.
fn request_status(c: &Comp) -> String {
    let codes: Vec<&str> =
        c.props_named("REQUEST-STATUS").map(|p| p.value().split(';').next().unwrap_or("").trim()).filter(|s| !s.is_empty()).collect();
    match codes.is_empty() {
        true => "2.0".into(),
        false => codes.join(","),
    }
}

/// After a REPLY: a REQUEST to every other attendee who shares an instance with `replied`,
/// so they see the new participation (RFC 6638 §4.2). The SEQUENCE is unchanged, so their own
/// answers stay as they are.
pub fn refresh_others(organizer_copy: &str, replied: &Address, now: i64) -> Vec<Message> {
    let Ok(obj) = Object::parse(organizer_copy) else { return Vec::new() };
    let Some(organizer) = organizer_of(&obj) else { return Vec::new() };
    let mut out = Vec::new();
    for who in server_attendees(&obj, &organizer).into_iter().filter(|a| a != replied) {
        let view = view_of(&obj, &who);
        if view.iter().any(|c| attendee(c, replied).is_some()) {
            out.push(Message {
                method: Method::Request,
                uid: obj.uid().unwrap_or_default().to_owned(),
                originator: organizer.clone(),
                recipient: who,
                text: compose(Method::Request, &[&obj], view, now),
            });
        }
    }
    out
}

/// RFC 5546 §3.2.6: the answer to a REFRESH from `who`, a REQUEST with the event as they are
/// invited to it now (their view, RFC 6638 §3.2.6); None when they are not invited (any more)
/// or the copy is not an organizer's.
pub fn refresh_for(organizer_copy: &str, who: &Address, now: i64) -> Option<Message> {
    let obj = Object::parse(organizer_copy).ok()?;
    let organizer = organizer_of(&obj)?;
    if !is_server_attendee(&obj, who) {
        return None;
    }
    let view = view_of(&obj, who);
    if view.is_empty() {
        return None;
    }
    Some(Message {
        method: Method::Request,
        uid: obj.uid().unwrap_or_default().to_owned(),
        originator: organizer,
        recipient: who.clone(),
        text: compose(Method::Request, &[&obj], view, now),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::sched::object::parse_duration;

    #[test]
    fn durations_are_written_in_days_or_seconds() {
        assert_eq!(format_duration(86_400 * 2), "P2D");
        assert_eq!(format_duration(5_400), "PT5400S");
        assert_eq!(parse_duration(&format_duration(-900)), Some(-900));
    }
}
