//! Parsing and validation of calendar object resources (RFC 4791 §4.1, §5.3.2; RFC 5545), and
//! the index facts (UID, kind, first/last instant) computed from them at write time.

use super::{CalendarIndex, Timestamp};

/// What the collection imposes on a PUT.
#[derive(Debug, Clone)]
pub struct ValidateOptions {
    /// RFC 4791 §5.2.6 / §5.2.7: instants outside [min, max] are refused. Unix seconds UTC.
    pub min_date_time: Timestamp,
    pub max_date_time: Timestamp,
}

/// Why a body is not an acceptable calendar object resource. Each variant maps to one RFC 4791
/// §5.3.2 precondition; the String is a one-line reason a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidObject {
    /// Not parseable iCalendar at all (CALDAV:valid-calendar-data).
    #[error("invalid iCalendar data: {0}")]
    Data(String),
    /// Parseable, but breaks the calendar object resource rules (CALDAV:valid-calendar-object-resource).
    #[error("invalid calendar object resource: {0}")]
    Resource(String),
    /// An instant before min-date-time (CALDAV:min-date-time).
    #[error("date before the server's minimum: {0}")]
    BeforeMin(String),
    /// An instant after max-date-time (CALDAV:max-date-time).
    #[error("date after the server's maximum: {0}")]
    AfterMax(String),
}

/// Parses and validates one calendar object resource and computes its index facts.
pub fn parse_object(data: &[u8], opts: &ValidateOptions) -> Result<CalendarIndex, InvalidObject> {
    let _ = (data, opts);
    todo!("calendar helper")
}
