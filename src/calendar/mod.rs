//! The calendar domain: pure, synchronous iCalendar logic (validation, indexing, export, time
//! zones). It never sees HTTP, XML or SQL; `service/` feeds it bytes and stores what it returns.
//!
//! calcard parses (docs/decisions/0001-icalendar-parser.md); the client's bytes are what is
//! stored and served back, never a re-serialization.

pub mod alarm;
pub mod data;
pub mod export;
pub mod filter;
pub mod freebusy;
pub mod query;
pub mod ical;
pub mod instances;
mod index;
pub mod model;
pub mod raw;
pub mod recur;
pub mod time;
pub mod timeline;
pub mod tz;
pub mod validate;

pub use export::{UidObject, export_calendar, split_by_uid};
pub use index::INDEX_SCAN_CAP;
pub use tz::{CalendarTimezone, parse_calendar_timezone};
pub use timeline::Timeline;
pub use validate::{Indexed, InvalidObject, ValidateOptions, index_object, parse_object, timeline_of};

/// Seconds since the Unix epoch, UTC.
pub type Timestamp = i64;

/// Component types a calendar collection accepts (RFC 4791 §5.2.3), as a bit set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ComponentSet(pub u8);

impl ComponentSet {
    pub const VEVENT: u8 = 1;
    pub const VTODO: u8 = 2;
    pub const VJOURNAL: u8 = 4;
    pub const VFREEBUSY: u8 = 8;
    pub const ALL: ComponentSet = ComponentSet(1 | 2 | 4 | 8);

    pub fn contains(self, bit: u8) -> bool {
        self.0 & bit != 0
    }
}

/// The component kind of a calendar object resource (RFC 4791 §4.1: one kind per resource).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComponentKind {
    Event,
    Todo,
    Journal,
    FreeBusy,
}

impl ComponentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ComponentKind::Event => "VEVENT",
            ComponentKind::Todo => "VTODO",
            ComponentKind::Journal => "VJOURNAL",
            ComponentKind::FreeBusy => "VFREEBUSY",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().as_str() {
            "VEVENT" => Some(ComponentKind::Event),
            "VTODO" => Some(ComponentKind::Todo),
            "VJOURNAL" => Some(ComponentKind::Journal),
            "VFREEBUSY" => Some(ComponentKind::FreeBusy),
            _ => None,
        }
    }
    pub fn bit(self) -> u8 {
        match self {
            ComponentKind::Event => ComponentSet::VEVENT,
            ComponentKind::Todo => ComponentSet::VTODO,
            ComponentKind::Journal => ComponentSet::VJOURNAL,
            ComponentKind::FreeBusy => ComponentSet::VFREEBUSY,
        }
    }
}

/// Facts about a calendar object computed at write time, stored in indexed columns so that
/// time-range queries select candidates without parsing every object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarIndex {
    pub uid: String,
    pub component: ComponentKind,
    /// Earliest instant any instance covers, UTC seconds; None = unbounded in the past
    /// (e.g. a VTODO with neither DTSTART, DUE nor COMPLETED: it matches every range, RFC 4791 §9.9).
    pub first_start: Option<Timestamp>,
    /// Latest instant any instance covers, UTC seconds; None = unbounded (infinite recurrence).
    pub last_end: Option<Timestamp>,
}

impl CalendarIndex {
    /// Whether the object is a candidate for a time range [start, end) (`None` = unbounded).
    ///
    /// The comparisons are closed on purpose: RFC 4791 §9.9 matches a zero-length event or a
    /// DUE-only task at the range start (`start <= DTSTART`, `end >= DUE`), and such an object
    /// has `first_start == last_end`. SQL must mirror this: `(first_start IS NULL OR
    /// first_start <= :end) AND (last_end IS NULL OR last_end >= :start)`.
    pub fn may_overlap(&self, start: Option<Timestamp>, end: Option<Timestamp>) -> bool {
        let starts_in_time = self
            .first_start
            .zip(end)
            .is_none_or(|(first, end)| first <= end);
        let ends_in_time = self
            .last_end
            .zip(start)
            .is_none_or(|(last, start)| last >= start);
        starts_in_time && ends_in_time
    }
}
