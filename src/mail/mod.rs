//! Email composition, pure: iMIP (RFC 6047, an iTIP message's text in, a MIME message out) and
//! reminders (a due alarm's facts in). No SMTP and no store here; the workers send what this builds.

mod body;
pub mod compose;
pub mod reminder;
pub mod summary;

pub use compose::{ComposeError, Envelope, compose, mailto_address, message_id};
pub use body::escape_html;
pub use reminder::{ReminderMail, compose_reminder, reminder_message_id, reminder_subject};
pub use summary::{Action, Person, Summary, summarize};
