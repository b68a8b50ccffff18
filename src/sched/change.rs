//! How much an organizer's change to one component matters to its attendees.
//!
//! RFC 5546 §2.1.4: SEQUENCE goes up when DTSTART, DTEND, DURATION, DUE, RRULE, RDATE, EXDATE or
//! STATUS change, and when the organizer deems the change to jeopardise the attendees' answers
//! (the RFC's example: a distant LOCATION). RFC 6638 §3.2.8: PARTSTAT goes back to NEEDS-ACTION
//! when an instance is rescheduled: a time moved, instances added by RRULE or RDATE, instances
//! brought back by an EXDATE removed. So an EXDATE added, an RRULE only cut short or a STATUS
//! change raise SEQUENCE but keep the answers; a LOCATION change does both (as the brief and
//! RFC 5546 §2.1.4 suggest, and as RFC 6638 §3.2.8 allows).

use std::collections::BTreeSet;

use super::object::{Object, When};
use super::text::Comp;

/// What a change to a component calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Change {
    /// Attendees must answer again (PARTSTAT=NEEDS-ACTION, RSVP=TRUE).
    pub reset: bool,
    /// SEQUENCE must go up.
    pub bump: bool,
}

impl Change {
    fn both(reset: bool, bump: bool) -> Change {
        Change { reset, bump: bump || reset }
    }
}

/// Compares a component with what it was: the same instance in the old object, or, for an
/// override that is new, the old master it now departs from.
pub(crate) fn compare(old_obj: &Object, old: &Comp, new_obj: &Object, new: &Comp) -> Change {
    let same_instance = old.prop("RECURRENCE-ID").is_some() || new.prop("RECURRENCE-ID").is_none();
    if !same_instance {
        return compare_new_override(old_obj, old, new_obj, new);
    }
    let times = old_obj.span(old) != new_obj.span(new) || when_of(old_obj, old, "DUE") != when_of(new_obj, new, "DUE");
    let (rdate_old, rdate_new) = (set_of(old_obj, old, "RDATE"), set_of(new_obj, new, "RDATE"));
    let (ex_old, ex_new) = (set_of(old_obj, old, "EXDATE"), set_of(new_obj, new, "EXDATE"));
    let rule = rrule_change(old, new);
    let reset = times
        || rule == Some(true)
        || !rdate_new.is_subset(&rdate_old)
        || !ex_old.is_subset(&ex_new)
        || text_of(old, "LOCATION") != text_of(new, "LOCATION");
    let bump = rule.is_some() || rdate_old != rdate_new || ex_old != ex_new || text_of(old, "STATUS") != text_of(new, "STATUS");
    Change::both(reset, bump)
}

/// A new override moves its instance when its start is not its RECURRENCE-ID or its length is
/// not the master's.
fn compare_new_override(old_obj: &Object, master: &Comp, new_obj: &Object, over: &Comp) -> Change {
    let (start, length) = new_obj.span(over);
    let rid = over.prop("RECURRENCE-ID").map(|p| new_obj.when(p));
    let (_, master_length) = old_obj.span(master);
    let moved = start != rid || (length.is_some() && length != master_length);
    let reset = moved || text_of(master, "LOCATION") != text_of(over, "LOCATION");
    Change::both(reset, text_of(master, "STATUS") != text_of(over, "STATUS"))
}

fn when_of(obj: &Object, c: &Comp, name: &str) -> Option<When> {
    c.prop(name).map(|p| obj.when(p))
}

fn set_of(obj: &Object, c: &Comp, name: &str) -> BTreeSet<When> {
    c.props_named(name).flat_map(|p| obj.whens(p)).collect()
}

fn text_of(c: &Comp, name: &str) -> Option<String> {
    c.value(name).map(|v| v.trim().to_owned())
}

/// `None`: the same rule. `Some(false)`: only cut short (a COUNT or UNTIL added or lowered).
/// `Some(true)`: anything else, which may add or move instances.
fn rrule_change(old: &Comp, new: &Comp) -> Option<bool> {
    let (old, new) = (rule_parts(old), rule_parts(new));
    if old == new {
        return None;
    }
    let (Some(old), Some(new)) = (old, new) else {
        return Some(true);
    };
    let shape = |parts: &[(String, String)]| -> Vec<(String, String)> {
        parts.iter().filter(|(k, _)| k != "COUNT" && k != "UNTIL").cloned().collect()
    };
    if shape(&old) != shape(&new) {
        return Some(true);
    }
    let get = |parts: &[(String, String)], key: &str| parts.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    let shorter = match (get(&old, "COUNT"), get(&new, "COUNT"), get(&old, "UNTIL"), get(&new, "UNTIL")) {
        (old_count, Some(new_count), _, None) => {
            old_count.and_then(|c| c.parse::<u64>().ok()).is_none_or(|c| new_count.parse::<u64>().is_ok_and(|n| n <= c))
        }
        (None, None, old_until, Some(new_until)) => old_until.is_none_or(|u| new_until <= u),
        _ => false,
    };
    Some(!shorter)
}

/// The RRULE's parts, upper-cased and sorted, INTERVAL=1 (the default) left out.
pub(crate) fn rule_parts(c: &Comp) -> Option<Vec<(String, String)>> {
    let rule = c.value("RRULE")?;
    let mut parts: Vec<(String, String)> = rule
        .split(';')
        .filter_map(|part| part.split_once('='))
        .map(|(k, v)| (k.trim().to_ascii_uppercase(), v.trim().to_ascii_uppercase()))
        .filter(|(k, v)| !(k == "INTERVAL" && v == "1"))
        .collect();
    parts.sort();
    Some(parts)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn obj(lines: &str) -> Object {
        Object::parse(&format!(
            "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:u\r\nDTSTART:20240101T100000Z\r\nDTEND:20240101T110000Z\r\n{lines}END:VEVENT\r\nEND:VCALENDAR\r\n"
        ))
        .unwrap()
    }

    fn change(old: &str, new: &str) -> (bool, bool) {
        let (o, n) = (obj(old), obj(new));
        let c = compare(&o, o.master().unwrap(), &n, n.master().unwrap());
        (c.reset, c.bump)
    }

    #[test]
    fn classifies_changes() {
        let rule = "RRULE:FREQ=WEEKLY;COUNT=10\r\n";
        let cases = [
            ("SUMMARY:a\r\n", "SUMMARY:b\r\n", (false, false)),
            ("", "DESCRIPTION:x\r\n", (false, false)),
            ("LOCATION:a\r\n", "LOCATION:b\r\n", (true, true)),
            ("STATUS:CONFIRMED\r\n", "STATUS:TENTATIVE\r\n", (false, true)),
            (rule, "RRULE:FREQ=WEEKLY;COUNT=4\r\n", (false, true)),
            (rule, "RRULE:FREQ=WEEKLY;COUNT=12\r\n", (true, true)),
            (rule, "RRULE:COUNT=10;INTERVAL=1;FREQ=WEEKLY\r\n", (false, false)),
            (rule, "RRULE:FREQ=WEEKLY;UNTIL=20240301T000000Z\r\n", (true, true)),
            ("RRULE:FREQ=WEEKLY\r\n", "RRULE:FREQ=WEEKLY;UNTIL=20240301T000000Z\r\n", (false, true)),
            (rule, "RRULE:FREQ=DAILY;COUNT=10\r\n", (true, true)),
            (rule, "", (true, true)),
            ("", "EXDATE:20240108T100000Z\r\n", (false, true)),
            ("EXDATE:20240108T100000Z\r\n", "", (true, true)),
            ("", "RDATE:20240109T100000Z\r\n", (true, true)),
            ("RDATE:20240109T100000Z\r\n", "", (false, true)),
            ("EXDATE:20240108T100000Z\r\n", "EXDATE;TZID=Europe/Paris:20240108T110000\r\n", (false, false)),
        ];
        for (old, new, expected) in cases {
            assert_eq!(change(old, new), expected, "{old:?} -> {new:?}");
        }
        let (o, n) = (obj(""), obj("").write(false).replace("DTEND:20240101T110000Z", "DURATION:PT1H"));
        let n = Object::parse(&n).unwrap();
        assert_eq!(compare(&o, o.master().unwrap(), &n, n.master().unwrap()), Change::default());
        let later = Object::parse(&o.write(false).replace("T110000Z", "T113000Z")).unwrap();
        assert_eq!(compare(&o, o.master().unwrap(), &later, later.master().unwrap()), Change { reset: true, bump: true });
    }

    #[test]
    fn a_new_override_is_judged_against_the_master() {
        let o = obj("LOCATION:Room 1\r\n");
        let over = |lines: &str| {
            Object::parse(&format!(
                "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:u\r\nRECURRENCE-ID:20240108T100000Z\r\n{lines}END:VEVENT\r\nEND:VCALENDAR\r\n"
            ))
            .unwrap()
        };
        let judge = |n: &Object| compare(&o, o.master().unwrap(), n, n.items().next().unwrap());
        let same = over("DTSTART:20240108T100000Z\r\nDURATION:PT1H\r\nLOCATION:Room 1\r\nSUMMARY:other\r\n");
        assert_eq!(judge(&same), Change::default());
        let moved = over("DTSTART:20240108T120000Z\r\nDURATION:PT1H\r\nLOCATION:Room 1\r\n");
        assert_eq!(judge(&moved), Change { reset: true, bump: true });
        let cancelled = over("DTSTART:20240108T100000Z\r\nDURATION:PT1H\r\nLOCATION:Room 1\r\nSTATUS:CANCELLED\r\n");
        assert_eq!(judge(&cancelled), Change { reset: false, bump: true });
    }
}
