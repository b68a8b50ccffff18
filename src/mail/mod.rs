//! iMIP email composition (RFC 6047), pure: an iTIP message's text in, a MIME message out. No
//! SMTP and no store here; `worker::imip` sends what this builds.

pub mod compose;
pub mod summary;

pub use compose::{ComposeError, Envelope, compose, mailto_address, message_id};
pub use summary::{Action, Person, Summary, escape_html, summarize};
