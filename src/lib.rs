//! Kalends: a CalDAV/iCalendar server.
//!
//! Crate map (imports point inward: http → dav → service → calendar/store):
//! - [`calendar`]: pure iCalendar domain (validate, index, export, time zones).
//! - [`store`]: storage ports and the SQLite / PostgreSQL engines.
//! - [`dav`]: WebDAV/CalDAV wire format and methods.

pub mod calendar;
pub mod dav;
pub mod store;
