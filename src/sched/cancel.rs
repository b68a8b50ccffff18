//! CANCEL messages (RFC 5546 §3.2.5): for a whole event, or for instances, to one attendee.
//!
//! A CANCEL carries UID, SEQUENCE, DTSTAMP, ORGANIZER and the attendee it is for, plus SUMMARY
//! and the instance's times so a client can say what was cancelled. STATUS:CANCELLED is set
//! when the event or instance itself is called off, and left out when only this attendee is
//! uninvited (the table of §3.2.5: "If uninviting specific Attendees, then MUST NOT be
//! included").

use super::address::Address;
use super::object::{Object, When, attendee, server_attendees};
use super::text::{Comp, Prop};
use super::view::{compose, public, rid_for};
use super::{Message, Method};

/// One instance to cancel.
#[derive(Debug, Clone)]
pub(crate) struct Instance {
    pub when: When,
    /// The RECURRENCE-ID line to send.
    pub rid: Prop,
    /// The override that described the instance, if it had one.
    pub component: Option<Comp>,
    /// The instance itself is cancelled (not just this attendee uninvited).
    pub called_off: bool,
}

impl Instance {
    /// An instance that had its own override `c` in `obj`.
    pub fn overridden(obj: &Object, c: &Comp, called_off: bool) -> Option<Instance> {
        let rid = c.prop("RECURRENCE-ID")?;
        Some(Instance { when: obj.when(rid), rid: rid.clone(), component: Some(c.clone()), called_off })
    }

    /// The instances an EXDATE line of `obj` removes that `wanted` selects; `called_off` tells
    /// which of them are cancelled rather than just not the recipient's any more.
    pub fn excluded(obj: &Object, exdate: &Prop, wanted: impl Fn(&When) -> bool, called_off: impl Fn(&When) -> bool) -> Vec<Instance> {
        let values = exdate.value().split(',');
        values
            .zip(obj.whens(exdate))
            .filter(|(_, w)| wanted(w))
            .map(|(v, when)| Instance { called_off: called_off(&when), when, rid: rid_for(exdate, v.trim()), component: None })
            .collect()
    }
}

/// The CANCEL of the whole event for `who`, from the master of `old`.
pub(crate) fn whole(old: &Object, who: &Address, sequence: i64, called_off: bool, now: i64) -> Option<Message> {
    let master = old.master()?;
    let comp = component(master, master, who, sequence, called_off, None);
    Some(message(&[old], who, vec![comp], now))
}

/// The CANCEL of some instances for `who`; `new` lends the VTIMEZONEs of EXDATEs it added.
pub(crate) fn instances(
    old: &Object,
    new: Option<&Object>,
    who: &Address,
    sequence: i64,
    list: &[Instance],
    now: i64,
) -> Option<Message> {
    let fallback = old.master().or_else(|| old.items().next())?;
    let comps: Vec<Comp> = list
        .iter()
        .map(|i| {
            let from = i.component.as_ref().unwrap_or(fallback);
            let mut c = component(from, fallback, who, sequence, i.called_off, Some(&i.rid));
            if i.component.is_none() {
                // An instance of the master: it starts at its RECURRENCE-ID.
                let mut start = i.rid.clone();
                start.name = "DTSTART".into();
                c.remove("DTSTART");
                c.remove("DTEND");
                c.props.push(start);
            }
            c
        })
        .collect();
    let sources: Vec<&Object> = std::iter::once(old).chain(new).collect();
    (!comps.is_empty()).then(|| message(&sources, who, comps, now))
}

/// The CANCELs for deleting the organizer's copy (RFC 6638 §3.2.1.3): the whole event for
/// those in the master, their instances for those only in overrides.
pub(crate) fn for_everyone(old: &Object, organizer: &Address, sequence: i64, now: i64) -> Vec<Message> {
    let mut out = Vec::new();
    for who in server_attendees(old, organizer) {
        let in_master = old.master().is_some_and(|m| attendee(m, &who).is_some());
        let message = match in_master {
            true => whole(old, &who, sequence, true, now),
            false => {
                let list: Vec<Instance> = old
                    .items()
                    .filter(|c| attendee(c, &who).is_some())
                    .filter_map(|c| Instance::overridden(old, c, true))
                    .collect();
                instances(old, None, &who, sequence, &list, now)
            }
        };
        out.extend(message);
    }
    out
}

fn component(from: &Comp, master: &Comp, who: &Address, sequence: i64, called_off: bool, rid: Option<&Prop>) -> Comp {
    let mut c = Comp::new(&from.name);
    let pick = |name: &str| from.prop(name).or_else(|| master.prop(name)).cloned();
    c.props.extend(pick("UID"));
    c.props.extend(rid.cloned());
    c.props.push(Prop::new("SEQUENCE", &sequence.to_string()));
    c.props.extend(pick("ORGANIZER").map(|p| public(&p)));
    let line = attendee(from, who).or_else(|| attendee(master, who));
    c.props.push(line.map(public).unwrap_or_else(|| Prop::new("ATTENDEE", who.as_str())));
    for name in ["SUMMARY", "DTSTART", "DTEND", "DURATION", "DUE"] {
        c.props.extend(pick(name));
    }
    if called_off {
        c.props.push(Prop::new("STATUS", "CANCELLED"));
    }
    c
}

fn message(sources: &[&Object], who: &Address, comps: Vec<Comp>, now: i64) -> Message {
    let source = sources[0];
    let originator = source.organizer().ok().flatten().map(|p| Address::new(p.value())).unwrap_or_else(|| who.clone());
    Message {
        method: Method::Cancel,
        uid: source.uid().unwrap_or_default().to_owned(),
        originator,
        recipient: who.clone(),
        text: compose(Method::Cancel, sources, comps, now),
    }
}
