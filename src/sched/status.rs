//! SCHEDULE-STATUS (RFC 6638 §7.3): what the server records on an ORGANIZER or ATTENDEE line
//! once it has tried to deliver a scheduling message to that calendar user.

use super::address::Address;
use super::text::{self, Comp};

/// The delivery statuses the server writes (RFC 6638 §3.2.9) and the iTIP ones it takes from
/// replies (RFC 5546 §3.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleStatus {
    /// 1.0: delivery is pending (queued, e.g. iMIP not sent yet).
    Pending,
    /// 1.1: sent, delivery unknown (store and forward, e.g. iMIP).
    Sent,
    /// 1.2: delivered into the recipient's inbox and calendar.
    Delivered,
    /// 2.0: success; what a processed REPLY without REQUEST-STATUS sets (RFC 6638 §4.2).
    Success,
    /// 2.3: success, an unknown SCHEDULE-FORCE-SEND value ignored (RFC 6638 §7.2).
    ParameterIgnored,
    /// 3.7: the address is not a calendar user the server knows (invalid calendar user).
    InvalidUser,
    /// 3.8: the recipient's privileges do not allow the delivery.
    NoPrivileges,
    /// 5.1: delivery failed for now; it may work later.
    TemporaryFailure,
    /// 5.2: no way to deliver to that address.
    PermanentFailure,
    /// 5.3: scheduling with that recipient is not allowed.
    Refused,
}

impl ScheduleStatus {
    pub fn code(self) -> &'static str {
        match self {
            ScheduleStatus::Pending => "1.0",
            ScheduleStatus::Sent => "1.1",
            ScheduleStatus::Delivered => "1.2",
            ScheduleStatus::Success => "2.0",
            ScheduleStatus::ParameterIgnored => "2.3",
            ScheduleStatus::InvalidUser => "3.7",
            ScheduleStatus::NoPrivileges => "3.8",
            ScheduleStatus::TemporaryFailure => "5.1",
            ScheduleStatus::PermanentFailure => "5.2",
            ScheduleStatus::Refused => "5.3",
        }
    }
}

/// Writes SCHEDULE-STATUS for each listed address, in every component: on the ORGANIZER line when
/// the address is the organizer's (an attendee's copy, after a REPLY), on its ATTENDEE line
/// otherwise (the organizer's copy, after REQUEST or CANCEL; the organizer's own ATTENDEE line,
/// if any, is left alone). Other lines stay as they were. Text that does not parse is returned
/// unchanged (it was validated when it was stored).
pub fn set_schedule_status(text: &str, statuses: &[(Address, ScheduleStatus)]) -> String {
    let Ok(mut cal) = text::parse(text) else {
        return text.to_owned();
    };
    for c in cal.children.iter_mut() {
        mark(c, statuses);
    }
    text::write(&cal, true)
}

fn mark(c: &mut Comp, statuses: &[(Address, ScheduleStatus)]) {
    let organizer = c.value("ORGANIZER").map(Address::new);
    for p in c.props.iter_mut() {
        let Some((who, status)) = statuses.iter().find(|(a, _)| a.is(p.value())) else { continue };
        let on_organizer = organizer.as_ref() == Some(who);
        if (p.name == "ORGANIZER" && on_organizer) || (p.name == "ATTENDEE" && !on_organizer) {
            p.set_param("SCHEDULE-STATUS", status.code());
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn marks_the_listed_addresses_only() {
        let text = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:u\r\nORGANIZER:mailto:o@x\r\n\
ATTENDEE;PARTSTAT=ACCEPTED:mailto:o@x\r\nATTENDEE;SCHEDULE-STATUS=1.2:MAILTO:B@X\r\nATTENDEE:mailto:c@x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let out = set_schedule_status(text, &[(Address::new("mailto:b@x"), ScheduleStatus::Success), (Address::new("mailto:c@x"), ScheduleStatus::InvalidUser)]);
        assert!(out.contains("ATTENDEE;SCHEDULE-STATUS=2.0:MAILTO:B@X\r\n"), "{out}");
        assert!(out.contains("ATTENDEE;SCHEDULE-STATUS=3.7:mailto:c@x\r\n"), "{out}");
        assert!(out.contains("ORGANIZER:mailto:o@x\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:o@x\r\n"), "{out}");
        let reply = set_schedule_status(text, &[(Address::new("mailto:o@x"), ScheduleStatus::Delivered)]);
        assert!(reply.contains("ORGANIZER;SCHEDULE-STATUS=1.2:mailto:o@x\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:o@x\r\n"), "{reply}");
        assert_eq!(ScheduleStatus::TemporaryFailure.code(), "5.1");
    }
}
