//! Which scheduling object resource a calendar object is for its owner (RFC 6638 §3.1).

use super::address::{Address, is_owner};
use super::object::Object;
use super::{Role, SchedError};

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
    fn organizer_must_agree_across_components() {
        let text = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:u\r\nORGANIZER:mailto:me@x\r\nATTENDEE:mailto:b@x\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:u\r\nRECURRENCE-ID:20240105T100000Z\r\nORGANIZER:mailto:o@x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        assert_eq!(classify(text, &[Address::new("mailto:me@x")]), Err(SchedError::SameOrganizer));
        assert!(matches!(classify("nonsense", &[]), Err(SchedError::Data(_))));
    }
}
