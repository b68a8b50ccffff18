//! The instances of one calendar object inside a time range (RFC 4791 §9.6.5, §9.9): each
//! recurrence instance with its RECURRENCE-ID, overrides in place of the instances they
//! replace, THISANDFUTURE shifts applied. CALDAV:expand, free/busy and the golden recurrence
//! tests all read recurrence through this one listing.

use super::ComponentKind;
use super::Timestamp;
use super::filter::TimeRange;
use super::query::{QueryContext, QueryError, with_times};
use super::recur::Window;

/// One instance, in UTC (floating times and DATEs read in the query's zone, RFC 4791 §7.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub uid: String,
    pub kind: ComponentKind,
    /// Position, among the VCALENDAR's children, of the component that describes the instance:
    /// the master, or the override that replaced it.
    pub component: usize,
    /// The instance's start before any override moved it, when the component belongs to a
    /// recurrence set (RFC 5545 §3.8.4.4); `None` for a component that does not recur.
    pub recurrence_id: Option<Timestamp>,
    /// `None` only for a VTODO without DTSTART, which has no instance times (RFC 4791 §9.9).
    pub start: Option<Timestamp>,
    pub end: Option<Timestamp>,
    /// DTSTART is a DATE (an all-day instance).
    pub all_day: bool,
    /// STATUS:CANCELLED on the describing component: the instance exists but is called off.
    pub cancelled: bool,
}

/// The instances of the stored object `data` that overlap `window` by the §9.9 test of their
/// component type, at most `max_instances` of them (beyond that: `TooManyInstances`).
pub fn expand_object(
    data: &[u8],
    window: Window,
    zone: chrono_tz::Tz,
    max_instances: usize,
) -> Result<Vec<Instance>, QueryError> {
    let ctx = QueryContext { zone, max_instances };
    let range = TimeRange { start: window.start, end: window.end };
    with_times(data, ctx, |_, times| {
        let listing = times.listing(&range)?;
        Ok(listing
            .into_iter()
            .filter_map(|l| {
                let (kind, timing) = times.member_facts(l.member)?;
                Some(Instance {
                    uid: timing.uid.unwrap_or_default().to_owned(),
                    kind,
                    component: l.member,
                    recurrence_id: l.original.map(|t| times.instant(&t)),
                    start: l.occurrence.map(|o| times.instant(&o.start)),
                    end: l.occurrence.map(|o| times.instant(&o.end)),
                    all_day: l.occurrence.is_some_and(|o| o.start.is_date),
                    cancelled: timing.cancelled,
                })
            })
            .collect())
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        chrono::NaiveDateTime::parse_from_str(s, "%Y%m%dT%H%M%SZ").unwrap().and_utc().timestamp()
    }

    fn window(start: &str, end: &str) -> Window {
        Window { start: Some(ts(start)), end: Some(ts(end)) }
    }

    const WEEKLY_WITH_OVERRIDES: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n\
BEGIN:VEVENT\r\nUID:w\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240101T100000Z\r\nDURATION:PT1H\r\n\
RRULE:FREQ=WEEKLY;COUNT=4\r\nEXDATE:20240122T100000Z\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:w\r\nDTSTAMP:20240101T000000Z\r\nRECURRENCE-ID:20240108T100000Z\r\n\
DTSTART:20240301T100000Z\r\nDURATION:PT1H\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:w\r\nDTSTAMP:20240101T000000Z\r\nRECURRENCE-ID:20240129T100000Z\r\n\
DTSTART:20240116T120000Z\r\nDURATION:PT2H\r\nSTATUS:CANCELLED\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

    #[test]
    fn overrides_replace_the_instances_they_override() {
        let found = expand_object(WEEKLY_WITH_OVERRIDES.as_bytes(), window("20240101T000000Z", "20240201T000000Z"), chrono_tz::UTC, 100).unwrap();
        let got: Vec<(Option<i64>, Option<i64>, usize, bool)> =
            found.iter().map(|i| (i.recurrence_id, i.start, i.component, i.cancelled)).collect();
        // Jan 1 from the master; Jan 8 moved out to March (not listed); Jan 22 excluded; Jan 29
        // moved into the window on Jan 16, cancelled but still an instance.
        assert_eq!(
            got,
            vec![
                (Some(ts("20240101T100000Z")), Some(ts("20240101T100000Z")), 0, false),
                (Some(ts("20240115T100000Z")), Some(ts("20240115T100000Z")), 0, false),
                (Some(ts("20240129T100000Z")), Some(ts("20240116T120000Z")), 2, true),
            ]
        );
        assert_eq!(found[2].end, Some(ts("20240116T140000Z")));
    }

    #[test]
    fn moved_out_instance_is_found_where_it_went() {
        let found = expand_object(WEEKLY_WITH_OVERRIDES.as_bytes(), window("20240301T000000Z", "20240302T000000Z"), chrono_tz::UTC, 100).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].component, found[0].recurrence_id), (1, Some(ts("20240108T100000Z"))));
    }

    #[test]
    fn all_day_and_floating_read_in_the_query_zone() {
        let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:d\r\nDTSTAMP:20240101T000000Z\r\n\
DTSTART;VALUE=DATE:20240105\r\nRRULE:FREQ=DAILY;COUNT=2\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let auckland = chrono_tz::Pacific::Auckland; // UTC+13 in January
        let found = expand_object(ics.as_bytes(), window("20240104T000000Z", "20240107T000000Z"), auckland, 100).unwrap();
        assert_eq!(found.iter().map(|i| i.start).collect::<Vec<_>>(), vec![Some(ts("20240104T110000Z")), Some(ts("20240105T110000Z"))]);
        assert!(found.iter().all(|i| i.all_day));
        assert_eq!(found[0].end, Some(ts("20240105T110000Z")));
    }

    #[test]
    fn non_recurring_has_no_recurrence_id_and_cap_is_refused() {
        let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:n\r\nDTSTAMP:20240101T000000Z\r\n\
DTSTART:20240105T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let found = expand_object(ics.as_bytes(), window("20240105T100000Z", "20240106T000000Z"), chrono_tz::UTC, 100).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].recurrence_id, None);
        let err = expand_object(WEEKLY_WITH_OVERRIDES.as_bytes(), window("20240101T000000Z", "20240201T000000Z"), chrono_tz::UTC, 2);
        assert_eq!(err, Err(QueryError::TooManyInstances));
    }
}
