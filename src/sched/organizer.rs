//! The organizer's writes (RFC 6638 §3.2.1): what to store and what to send to whom.
//!
//! Per attendee, what they are sent follows from what they see before and after the write
//! (`view::view_of`, RFC 6638 §3.2.6), so the per-instance rules come out of one comparison:
//! instances they lose get a CANCEL, a view that changes otherwise gets a REQUEST.

use std::collections::BTreeSet;

use super::address::{Address, is_owner};
use super::cancel::{self, Instance};
use super::change::{Change, compare};
use super::classify::role_of;
use super::object::{
    Object, Rid, When, attendee, cancelled, is_server_attendee, partstat, sequence, server_agent, server_attendees,
};
use super::text::{Comp, Prop};
use super::view::{compose, fingerprint, view_of};
use super::{Message, Method, Plan, Role, SchedError, ScheduleStatus};

/// An organizer's PUT (RFC 6638 §3.2.1.1 create, §3.2.1.2 modify; `old` is the stored text).
///
/// The text to store is the client's, with these server changes:
/// - PARTSTAT of a SERVER attendee can only be set back to NEEDS-ACTION by the organizer
///   (§3.2.1); another value is replaced by the one stored (a new attendee's by NEEDS-ACTION);
/// - a rescheduled instance (`change`) has its attendees reset to NEEDS-ACTION with RSVP=TRUE
///   (§3.2.8), and so has every attendee the organizer resets or newly invites;
/// - SEQUENCE never goes below the stored one, and goes one above the highest stored when the
///   change is significant and the client did not raise it (RFC 5546 §2.1.4, RFC 6638 §3.2.5);
/// - SCHEDULE-FORCE-SEND is removed (§7.2); an unknown value leaves SCHEDULE-STATUS=2.3.
///
/// When the new text is no longer an organizer object (ORGANIZER or attendees removed) the old
/// attendees are sent a CANCEL (§3.2.3.1). Changing ORGANIZER is refused: `ValidOrganizer`.
pub fn organizer_change(old: Option<&str>, new: &str, owner: &[Address], now: i64) -> Result<Plan, SchedError> {
    let old = old.map(Object::parse).transpose()?;
    let mut new = Object::parse(new)?;
    if let Some(old) = &old {
        same_organizer(old, &new, owner)?;
    }
    let old = match old {
        Some(o) if role_of(&o, owner)? == Role::Organizer => Some(o),
        _ => None,
    };
    if role_of(&new, owner)? != Role::Organizer {
        let messages = old.as_ref().map(|o| removal(o, owner, now)).unwrap_or_default();
        return Ok(Plan { store: new.write(true), messages });
    }
    let organizer = organizer_of(&new).ok_or(SchedError::SameOrganizer)?;
    let forced = take_force_send(&mut new);
    let mut bump = coerce_partstats(old.as_ref(), &mut new, owner);
    bump |= reset_rescheduled(old.as_ref(), &mut new, owner);
    let mut recipients = server_attendees(&new, &organizer);
    for who in old.as_ref().map(|o| server_attendees(o, &organizer)).unwrap_or_default() {
        if !recipients.contains(&who) {
            recipients.push(who);
        }
    }
    // RFC 6638 §3.2.1: never a message to the organizer, under any of their addresses.
    recipients.retain(|who| !owner.contains(who));
    let intents: Vec<Intent> = recipients.into_iter().map(|who| intent(old.as_ref(), &new, who, &forced)).collect();
    bump |= intents.iter().any(|i| i.whole.is_some() || !i.instances.is_empty());
    settle_sequence(old.as_ref(), &mut new, bump);
    let messages = intents.iter().flat_map(|i| i.messages(old.as_ref(), &new, now)).collect();
    Ok(Plan { store: new.write(true), messages })
}

/// An organizer's DELETE (RFC 6638 §3.2.1.3): a CANCEL to every attendee, SEQUENCE raised.
pub fn organizer_delete(old: &str, owner: &[Address], now: i64) -> Result<Vec<Message>, SchedError> {
    let old = Object::parse(old)?;
    match role_of(&old, owner)? {
        Role::Organizer => Ok(removal(&old, owner, now)),
        _ => Ok(Vec::new()),
    }
}

fn removal(old: &Object, owner: &[Address], now: i64) -> Vec<Message> {
    let Some(organizer) = organizer_of(old) else {
        return Vec::new();
    };
    let mut messages = cancel::for_everyone(old, &organizer, old.sequence() + 1, now);
    messages.retain(|m| !owner.contains(&m.recipient));
    messages
}

pub(crate) fn organizer_of(obj: &Object) -> Option<Address> {
    obj.organizer().ok().flatten().map(|p| Address::new(p.value()))
}

/// The ORGANIZER may be written with another of the owner's addresses (Apple switches between
/// `mailto:` and `urn:uuid:`), but not become someone else.
fn same_organizer(old: &Object, new: &Object, owner: &[Address]) -> Result<(), SchedError> {
    match (organizer_of(old), organizer_of(new)) {
        (Some(before), Some(after)) if before != after && !(owner.contains(&before) && owner.contains(&after)) => Err(SchedError::ValidOrganizer(format!(
            "the ORGANIZER of a scheduled event cannot change ({before} to {after}); create a new event instead (RFC 6638 §3.2.4.3)"
        ))),
        _ => Ok(()),
    }
}

/// RFC 6638 §7.2: collects the attendees the organizer forces a REQUEST to and removes the
/// parameter; a value other than REQUEST is ignored with SCHEDULE-STATUS=2.3.
fn take_force_send(new: &mut Object) -> Vec<Address> {
    let mut forced = Vec::new();
    for c in new.items_mut() {
        for p in c.props.iter_mut().filter(|p| p.name == "ATTENDEE" || p.name == "ORGANIZER") {
            let Some(value) = p.param("SCHEDULE-FORCE-SEND").map(str::to_ascii_uppercase) else { continue };
            p.remove_param("SCHEDULE-FORCE-SEND");
            match (p.name.as_str(), value.as_str()) {
                ("ATTENDEE", "REQUEST") if server_agent(p) => forced.push(Address::new(p.value())),
                _ => p.set_param("SCHEDULE-STATUS", ScheduleStatus::ParameterIgnored.code()),
            }
        }
    }
    forced
}

/// Keeps the organizer from answering for SERVER attendees (RFC 6638 §3.2.1): their PARTSTAT is
/// what was stored, unless set back to NEEDS-ACTION. Returns whether anyone was reset so.
fn coerce_partstats(old: Option<&Object>, new: &mut Object, owner: &[Address]) -> bool {
    let before: Vec<Option<&Comp>> =
        new.items().map(|c| old.and_then(|o| o.find(&new.rid(c)).or_else(|| o.master()))).collect();
    let mut reset = false;
    for (c, old_c) in new.items_mut().zip(before) {
        for p in c.props.iter_mut().filter(|p| p.name == "ATTENDEE" && server_agent(p) && !is_owner(owner, p.value())) {
            let who = Address::new(p.value());
            let stored = old_c.and_then(|o| attendee(o, &who));
            let was = stored.map_or_else(|| "NEEDS-ACTION".to_owned(), partstat);
            if partstat(p) != was && partstat(p) != "NEEDS-ACTION" {
                p.set_param("PARTSTAT", &was);
            }
            let asked_again = partstat(p) == "NEEDS-ACTION" && was != "NEEDS-ACTION";
            if asked_again || stored.is_none() && partstat(p) == "NEEDS-ACTION" {
                ask(p);
            }
            reset |= asked_again;
        }
    }
    reset
}

/// Asks for an answer (RFC 5545 §3.2.17 RSVP=TRUE), unless the organizer said not to (an FYI
/// attendee such as RFC 5546 §4.2.1's ROLE=NON-PARTICIPANT;RSVP=FALSE).
fn ask(p: &mut Prop) {
    if !p.param("RSVP").is_some_and(|v| v.eq_ignore_ascii_case("FALSE")) {
        p.set_param("RSVP", "TRUE");
    }
}

/// RFC 6638 §3.2.8: resets the attendees of each rescheduled component. Returns whether any
/// change calls for a new SEQUENCE (an override removed counts).
fn reset_rescheduled(old: Option<&Object>, new: &mut Object, owner: &[Address]) -> bool {
    let Some(old) = old else { return false };
    let changes: Vec<Change> = new
        .items()
        .map(|c| match old.find(&new.rid(c)).or_else(|| old.master()) {
            Some(before) => compare(old, before, new, c),
            None => Change::default(),
        })
        .collect();
    for (c, change) in new.items_mut().zip(&changes) {
        if change.reset {
            for p in c.props.iter_mut().filter(|p| p.name == "ATTENDEE" && server_agent(p) && !is_owner(owner, p.value())) {
                p.set_param("PARTSTAT", "NEEDS-ACTION");
                ask(p);
            }
        }
    }
    let removed = old.items().any(|c| new.find(&old.rid(c)).is_none());
    removed || changes.iter().any(|c| c.bump)
}

/// RFC 5546 §2.1.4, §2.1.5: SEQUENCE never goes down, and goes up on a significant change.
fn settle_sequence(old: Option<&Object>, new: &mut Object, bump: bool) {
    let Some(old) = old else { return };
    let stored = old.sequence();
    let floors: Vec<i64> = new.items().map(|c| old.find(&new.rid(c)).or_else(|| old.master()).map_or(0, sequence)).collect();
    let raised = new.sequence() > stored;
    let target = if bump && !raised { stored + 1 } else { 0 };
    for (c, floor) in new.items_mut().zip(floors) {
        let settled = sequence(c).max(floor).max(target);
        if settled != sequence(c) {
            c.set("SEQUENCE", &settled.to_string());
        }
    }
}

/// What one attendee is sent.
struct Intent {
    who: Address,
    /// A CANCEL of the whole event; `true` when the event itself is cancelled.
    whole: Option<bool>,
    instances: Vec<Instance>,
    request: bool,
}

/// The instances `who` takes part in: `None` for the master's, `Some` for overrides.
fn live(obj: &Object, who: &Address) -> BTreeSet<Rid> {
    if !is_server_attendee(obj, who) {
        return BTreeSet::new();
    }
    view_of(obj, who).iter().filter(|c| !cancelled(c)).map(|c| obj.rid(c)).collect()
}

fn intent(old: Option<&Object>, new: &Object, who: Address, forced: &[Address]) -> Intent {
    let before = old.map(|o| live(o, &who)).unwrap_or_default();
    let after = live(new, &who);
    let lost_master = before.contains(&None) && !after.contains(&None);
    let whole = lost_master.then(|| new.master().is_some_and(cancelled));
    let instances = match (old, lost_master) {
        (Some(old), false) => lost_instances(old, new, &who, &before, &after),
        _ => Vec::new(),
    };
    let request = !after.is_empty()
        && (before.is_empty() || lost_master || forced.contains(&who) || {
            let gone: Vec<When> = instances.iter().map(|i| i.when.clone()).collect();
            let was = old.map(|o| fingerprint(o, &view_of(o, &who)).without(&gone));
            was != Some(fingerprint(new, &view_of(new, &who)))
        });
    Intent { who, whole, instances, request }
}

/// Instances `who` had and no longer has: an override they were dropped from, cancelled, or
/// removed while they are not in the master; an instance their master now excludes (an EXDATE,
/// or an override without them or cancelled).
fn lost_instances(old: &Object, new: &Object, who: &Address, before: &BTreeSet<Rid>, after: &BTreeSet<Rid>) -> Vec<Instance> {
    let exdates = |obj: &Object, master: Option<&Comp>| -> BTreeSet<When> {
        master.map(|m| m.props_named("EXDATE").flat_map(|p| obj.whens(p)).collect()).unwrap_or_default()
    };
    let excluded = exdates(new, new.master());
    let called_off = |w: &When| excluded.contains(w) || new.find(&Some(w.clone())).is_some_and(cancelled);
    let mut out = Vec::new();
    for when in before.iter().flatten().filter(|w| !after.contains(&Some((*w).clone()))) {
        let reverts = new.find(&Some(when.clone())).is_none() && after.contains(&None) && !excluded.contains(when);
        let was = old.find(&Some(when.clone()));
        if !reverts && let Some(i) = was.and_then(|c| Instance::overridden(old, c, called_off(when))) {
            out.push(i);
        }
    }
    if before.contains(&None) && after.contains(&None) {
        let (old_view, new_view) = (view_of(old, who), view_of(new, who));
        let seen = exdates(old, old_view.first());
        let fresh = |w: &When| !seen.contains(w) && !before.contains(&Some(w.clone()));
        for p in new_view.first().into_iter().flat_map(|m| m.props_named("EXDATE")) {
            out.extend(Instance::excluded(new, p, fresh, called_off));
        }
    }
    out
}

impl Intent {
    fn messages(&self, old: Option<&Object>, new: &Object, now: i64) -> Vec<Message> {
        let sequence = new.sequence();
        let mut out = Vec::new();
        if let (Some(old), Some(called_off)) = (old, self.whole) {
            out.extend(cancel::whole(old, &self.who, sequence, called_off, now));
        }
        if let Some(old) = old {
            out.extend(cancel::instances(old, Some(new), &self.who, sequence, &self.instances, now));
        }
        if self.request {
            out.push(Message {
                method: Method::Request,
                uid: new.uid().unwrap_or_default().to_owned(),
                originator: organizer_of(new).unwrap_or_else(|| self.who.clone()),
                recipient: self.who.clone(),
                text: compose(Method::Request, &[new], view_of(new, &self.who), now),
            });
        }
        out
    }
}
