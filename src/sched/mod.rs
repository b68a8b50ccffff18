//! Implicit scheduling (RFC 6638 on RFC 5546 iTIP): pure, synchronous functions from calendar
//! object text to the text to store and the iTIP messages to deliver. No I/O, no clock (`now`
//! is a parameter, UTC seconds), no store: the service layer finds the copies, delivers the
//! messages in the write's transaction and records the outcome with [`set_schedule_status`].
//!
//! # Roles
//! [`classify`] tells, for the owner of a calendar collection (all their calendar user
//! addresses, see [`Address`]), whether an object is theirs as ORGANIZER, as an ATTENDEE, or
//! no scheduling object at all (RFC 6638 §3.1).
//!
//! [`schedule_write`] and [`schedule_delete`] route a PUT or DELETE by the owner's role before
//! and after (RFC 6638 §3.2.3) to the functions below; the service can call them for every write
//! to a calendar collection.
//!
//! # A write by the organizer
//! `PUT` of an organizer object: [`organizer_change`]`(old, new, owner, now)` returns a [`Plan`]:
//! `store`, the text to store instead of the client's (SEQUENCE raised when the change needs
//! it, PARTSTAT reset, SCHEDULE-FORCE-SEND removed), and `messages`, one per recipient:
//! REQUEST (the instances that recipient is in, RFC 6638 §3.2.6) and CANCEL (an attendee or
//! instance removed, the event cancelled). `DELETE`: [`organizer_delete`] (a CANCEL to all).
//! An organizer object that stops being one (ORGANIZER or attendees removed) is a removal
//! (RFC 6638 §3.2.3.1): `organizer_change` cancels for the old attendees.
//!
//! # A write by an attendee
//! [`attendee_change`] refuses changes beyond the attendee's own participation
//! ([`SchedError::ValidAttendeeChange`], RFC 6638 §3.2.2.1) and returns a REPLY per changed
//! instance; [`attendee_delete`] declines each instance not cancelled or declined already.
//!
//! # Delivery
//! For each [`Message`] the service finds the recipient's copy (by UID) and applies it:
//! [`apply_request`] and [`apply_cancel`] on an attendee's copy, [`apply_reply`] on the
//! organizer's; each gives [`Applied`]. After a REPLY, [`refresh_others`] tells the other
//! attendees the new participation (RFC 6638 §4.2). Messages of one plan are delivered in their
//! order (a CANCEL for the whole series may come before the REQUEST for the instances an
//! attendee keeps). SCHEDULE-STATUS is then written on the sender's copy per recipient.
//!
//! # Outbox
//! [`parse_message`] validates an iTIP message ([`SchedError::ValidSchedulingMessage`], RFC 6638
//! §5.2.1); [`parse_freebusy_request`] and [`freebusy_reply`] answer a VFREEBUSY REQUEST (RFC 6638
//! §5, RFC 5546 §3.3.2) from busy periods the service computed. [`check_max_attendees`] is the
//! RFC 4791 §5.2.9 limit (the service checks it on the organizer's PUT, before planning).
//!
//! # Text
//! Work is done on content lines (the `text` module): values stay as the client wrote them, components
//! that are not changed are copied, stored text keeps untouched lines byte for byte, and
//! outgoing messages carry METHOD, the VTIMEZONEs they use, CRLF and lines folded at 75
//! octets. SCHEDULE-AGENT, SCHEDULE-STATUS and SCHEDULE-FORCE-SEND never leave the server
//! (RFC 6638 §7.1–§7.3), nor do VALARMs and a client's private state (X-MOZ-*, Apple's
//! travel time and default-alarm flags).

mod address;
mod apply;
mod attendee;
mod cancel;
mod change;
mod classify;
mod freebusy;
mod message;
mod object;
mod organizer;
mod status;
pub(crate) mod text;
mod view;

#[cfg(test)]
mod tests;


pub use address::Address;
pub use apply::{apply_cancel, apply_reply, apply_request, refresh_for, refresh_others};
pub use attendee::{attendee_change, attendee_delete};
pub use classify::{classify, schedule_delete, schedule_write};
pub use freebusy::{FreeBusyRequest, freebusy_reply, parse_freebusy_request};
pub use message::{Incoming, check_max_attendees, parse_message};
pub use organizer::{organizer_change, organizer_delete};
pub use status::{ScheduleStatus, set_schedule_status};

/// The owner's part in a calendar object (RFC 6638 §3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// Not a scheduling object resource: no ORGANIZER, nobody but the organizer invited, or the
    /// owner is neither organizer nor attendee.
    None,
    /// An organizer scheduling object resource.
    Organizer,
    /// An attendee scheduling object resource of `organizer`'s event.
    Attendee { organizer: Address },
}

/// iTIP methods (RFC 5546 §1.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Publish,
    Request,
    Reply,
    Add,
    Cancel,
    Refresh,
    Counter,
    DeclineCounter,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Publish => "PUBLISH",
            Method::Request => "REQUEST",
            Method::Reply => "REPLY",
            Method::Add => "ADD",
            Method::Cancel => "CANCEL",
            Method::Refresh => "REFRESH",
            Method::Counter => "COUNTER",
            Method::DeclineCounter => "DECLINECOUNTER",
        }
    }

    pub fn parse(text: &str) -> Option<Method> {
        let all = [
            Method::Publish,
            Method::Request,
            Method::Reply,
            Method::Add,
            Method::Cancel,
            Method::Refresh,
            Method::Counter,
            Method::DeclineCounter,
        ];
        all.into_iter().find(|m| m.as_str().eq_ignore_ascii_case(text.trim()))
    }
}

/// One iTIP message for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub method: Method,
    /// The UID of the event or to-do.
    pub uid: String,
    /// The ORGANIZER (REQUEST, CANCEL) or the replying ATTENDEE (REPLY).
    pub originator: Address,
    pub recipient: Address,
    /// A whole iCalendar stream with METHOD (RFC 5546 §3), ready to deliver or mail.
    pub text: String,
}

/// What a write to a scheduling object resource does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The text to store for the written resource.
    pub store: String,
    /// The messages to deliver, in order.
    pub messages: Vec<Message>,
}

/// What processing an incoming message does to the recipient's copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// Store this text as the recipient's copy (a new resource when there was none).
    Store(String),
    /// Leave the copy as it is; why (an older SEQUENCE, nothing to apply it to, …).
    Ignored(String),
}

/// Why a scheduling operation is refused. Each variant names the precondition the service
/// answers with (RFC 6638 §3.2.4, §5.2; RFC 4791 §5.3.2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchedError {
    /// The text is not iCalendar (CALDAV:valid-calendar-data).
    #[error("invalid iCalendar data: {0}")]
    Data(String),
    /// Components disagree on ORGANIZER (CALDAV:same-organizer-in-all-components, §3.2.4.2).
    #[error("every component must have the same ORGANIZER (RFC 6638 §3.2.4.2)")]
    SameOrganizer,
    /// The ORGANIZER of an existing scheduling object changed, or a message's ORGANIZER is not
    /// the sender's (CALDAV:allowed-organizer-scheduling-object-change for PUT,
    /// CALDAV:valid-organizer for POST, §5.2.2).
    #[error("{0}")]
    ValidOrganizer(String),
    /// An attendee changed more than their participation
    /// (CALDAV:allowed-attendee-scheduling-object-change, §3.2.4.4).
    #[error("{0}")]
    ValidAttendeeChange(String),
    /// Not a valid iTIP message (CALDAV:valid-scheduling-message, §5.2.1).
    #[error("{0}")]
    ValidSchedulingMessage(String),
    /// More attendees in one instance than the server accepts (CALDAV:max-attendees-per-instance,
    /// RFC 4791 §5.2.9).
    #[error("{found} attendees in one instance; the limit is {limit} (RFC 4791 §5.2.9)")]
    MaxAttendees { limit: usize, found: usize },
}
