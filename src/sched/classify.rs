//! Which scheduling object resource a calendar object is for its owner (RFC 6638 §3.1).

use super::address::{Address, is_owner};
use super::object::Object;
use super::{Message, Plan, Role, SchedError, attendee_change, attendee_delete, organizer_change, organizer_delete};

/// The owner's role in `object` (RFC 6638 §3.1):
///
/// - `Organizer`: ORGANIZER is one of the owner's addresses;
/// - `Attendee`: ORGANIZER is someone else and one of the owner's addresses is an ATTENDEE;
/// - `None`: no ORGANIZER, or neither; also an object whose only ATTENDEE is the organizer
///   (or that has none): nobody to schedule with, so it is an ordinary calendar object.
///
/// Errors: `Data` if the text does not parse, `SameOrganizer` if the components disagree on
/// ORGANIZER (RFC 6638 §3.2.4.2).
pub fn classify(object: &str, owner: &[Address]) -> Result<Role, SchedError> {
    let obj = Object::parse(object)?;
    role_of(&obj, owner)
}

pub(crate) fn role_of(obj: &Object, owner: &[Address]) -> Result<Role, SchedError> {
    let Some(organizer) = obj.organizer()?.map(|p| Address::new(p.value())) else {
        return Ok(Role::None);
    };
    let attendees = obj.attendees();
    if attendees.iter().all(|a| *a == organizer) {
        return Ok(Role::None);
    }
    if owner.contains(&organizer) {
        return Ok(Role::Organizer);
    }
    if attendees.iter().any(|a| is_owner(owner, a.as_str())) {
        return Ok(Role::Attendee { organizer });
    }
    Ok(Role::None)
}

/// A PUT of a calendar object (RFC 6638 §3.2.3.1), routed by the owner's role before and after:
/// `None` when neither text is a scheduling object resource (store the client's text as it is);
/// otherwise the plan of `organizer_change` or `attendee_change`. Changing who organizes is
/// refused by either.
pub fn schedule_write(old: Option<&str>, new: &str, owner: &[Address], now: i64) -> Result<Option<Plan>, SchedError> {
    let before = old.map(|o| classify(o, owner)).transpose()?.unwrap_or(Role::None);
    let after = classify(new, owner)?;
    match (before, after) {
        (Role::Organizer, _) | (_, Role::Organizer) => organizer_change(old, new, owner, now).map(Some),
        (Role::Attendee { .. }, _) | (_, Role::Attendee { .. }) => attendee_change(old, new, owner, now).map(Some),
        (Role::None, Role::None) => Ok(None),
    }
}

/// A DELETE of a calendar object (RFC 6638 §3.2.3.2): the organizer's CANCELs or the
/// attendee's REPLY, nothing for an ordinary object.
pub fn schedule_delete(old: &str, owner: &[Address], now: i64) -> Result<Vec<Message>, SchedError> {
    match classify(old, owner)? {
        Role::Organizer => organizer_delete(old, owner, now),
        Role::Attendee { .. } => attendee_delete(old, owner, now),
        Role::None => Ok(Vec::new()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn event(lines: &str) -> String {
        format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:u\r\nDTSTART:20240105T100000Z\r\n{lines}END:VEVENT\r\nEND:VCALENDAR\r\n")
    }

    #[test]
    fn roles() {
        let me = [Address::new("mailto:me@x"), Address::new("urn:uuid:me")];
        let cases = [
            ("", Role::None),
            ("ORGANIZER:mailto:me@x\r\n", Role::None),
            ("ORGANIZER:mailto:me@x\r\nATTENDEE:mailto:me@x\r\n", Role::None),
            ("ORGANIZER:MAILTO:ME@X\r\nATTENDEE:mailto:b@x\r\n", Role::Organizer),
            ("ORGANIZER:urn:uuid:ME\r\nATTENDEE:mailto:b@x\r\n", Role::Organizer),
            ("ORGANIZER:mailto:o@x\r\nATTENDEE:mailto:Me@x\r\n", Role::Attendee { organizer: Address::new("mailto:o@x") }),
            ("ORGANIZER:mailto:o@x\r\nATTENDEE:mailto:b@x\r\n", Role::None),
            ("ATTENDEE:mailto:me@x\r\nATTENDEE:mailto:b@x\r\n", Role::None),
        ];
        for (lines, role) in cases {
            assert_eq!(classify(&event(lines), &me).unwrap(), role, "{lines}");
        }
    }

    #[test]
    fn writes_are_routed_by_role() {
        let me = [Address::new("mailto:me@x")];
        let plain = event("");
        let mine = event("ORGANIZER:mailto:me@x\r\nATTENDEE:mailto:b@x\r\n");
        let theirs = event("ORGANIZER:mailto:o@x\r\nATTENDEE:mailto:me@x\r\n");
        assert_eq!(schedule_write(None, &plain, &me, 0).unwrap(), None);
        assert_eq!(schedule_write(None, &mine, &me, 0).unwrap().map(|p| p.messages.len()), Some(1));
        assert_eq!(schedule_write(Some(&mine), &plain, &me, 0).unwrap().map(|p| p.messages[0].method), Some(super::super::Method::Cancel));
        assert!(schedule_write(Some(&theirs), &theirs, &me, 0).unwrap().is_some_and(|p| p.messages.is_empty()));
        assert!(matches!(schedule_write(Some(&theirs), &mine, &me, 0), Err(SchedError::ValidOrganizer(_))));
        assert!(matches!(schedule_write(Some(&mine), &theirs, &me, 0), Err(SchedError::ValidOrganizer(_))));
        assert_eq!(schedule_delete(&mine, &me, 0).unwrap().len(), 1);
        assert!(schedule_delete(&plain, &me, 0).unwrap().is_empty());
    }

    #[test]
    fn organizer_must_agree_across_components() {
        let text = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:u\r\nORGANIZER:mailto:me@x\r\nATTENDEE:mailto:b@x\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:u\r\nRECURRENCE-ID:20240105T100000Z\r\nORGANIZER:mailto:o@x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        assert_eq!(classify(text, &[Address::new("mailto:me@x")]), Err(SchedError::SameOrganizer));
        assert!(matches!(classify("nonsense", &[]), Err(SchedError::Data(_))));
    }
}
