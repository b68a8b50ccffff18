//! Free/busy time (RFC 4791 §7.10, RFC 5545 §3.6.4): the busy periods of stored objects in a
//! range, merged into one VFREEBUSY. Pure: the service finds the objects and caches the result.

use super::filter::TimeRange;
use super::model::BusyKind;
use super::query::{QueryContext, QueryError, with_times};
use super::time::push_utc_date_time;
use super::{ComponentKind, Timestamp};

/// One busy period, UTC, `start < end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy {
    pub start: Timestamp,
    pub end: Timestamp,
    pub kind: BusyKind,
}

/// The busy time one stored object contributes to `range` (both ends given).
///
/// RFC 4791 §7.10: VEVENT instances count unless TRANSP:TRANSPARENT or STATUS:CANCELLED,
/// STATUS:TENTATIVE ones as BUSY-TENTATIVE; VFREEBUSY components count by their FREEBUSY
/// periods and FBTYPE; VTODO and VJOURNAL never. Each instance is judged by the component that
/// describes it, so a cancelled override frees just its own instance. All-day and floating
/// instances are read in the context's zone (the calendar's, §7.3).
pub fn object_busy(data: &[u8], range: &TimeRange, ctx: QueryContext) -> Result<Vec<Busy>, QueryError> {
    with_times(data, ctx, |_, times| {
        let mut out = Vec::new();
        for listed in times.listing(range)? {
            let (Some((ComponentKind::Event, timing)), Some(o)) = (times.member_facts(listed.member), listed.occurrence) else {
                continue;
            };
            if timing.transparent || timing.cancelled {
                continue;
            }
            let kind = if timing.tentative { BusyKind::BusyTentative } else { BusyKind::Busy };
            out.push(Busy { start: times.instant(&o.start), end: times.instant(&o.end), kind });
        }
        for index in 0..times.member_slots() {
            let Some((ComponentKind::FreeBusy, timing)) = times.member_facts(index) else { continue };
            for (start, end, kind) in &timing.freebusy {
                if *kind != BusyKind::Free {
                    let start_at = times.instant(start);
                    out.push(Busy { start: start_at, end: times.instant(&end.from(*start)), kind: *kind });
                }
            }
        }
        Ok(out)
    })
}

/// Clips the periods to `range`, coalesces overlapping and adjoining ones of a kind, and lets
/// the stronger kind win where kinds overlap (BUSY over BUSY-UNAVAILABLE over BUSY-TENTATIVE),
/// so each instant is reported once, as what it most is. Sorted by start.
pub fn merge(periods: &[Busy], range: &TimeRange) -> Vec<Busy> {
    let clip = |b: &Busy| Busy {
        start: range.start.map_or(b.start, |s| b.start.max(s)),
        end: range.end.map_or(b.end, |e| b.end.min(e)),
        kind: b.kind,
    };
    let mut taken: Vec<(Timestamp, Timestamp)> = Vec::new();
    let mut out = Vec::new();
    for kind in [BusyKind::Busy, BusyKind::BusyUnavailable, BusyKind::BusyTentative] {
        let mut spans: Vec<(Timestamp, Timestamp)> =
            periods.iter().filter(|b| b.kind == kind).map(clip).filter(|b| b.start < b.end).map(|b| (b.start, b.end)).collect();
        spans = coalesce(spans);
        let own: Vec<(Timestamp, Timestamp)> = spans.iter().flat_map(|s| subtract(*s, &taken)).collect();
        out.extend(own.iter().map(|&(start, end)| Busy { start, end, kind }));
        taken = coalesce(taken.into_iter().chain(spans).collect());
    }
    out.sort_by_key(|b| (b.start, b.kind));
    out
}

fn coalesce(mut spans: Vec<(Timestamp, Timestamp)>) -> Vec<(Timestamp, Timestamp)> {
    spans.sort_unstable();
    let mut out: Vec<(Timestamp, Timestamp)> = Vec::with_capacity(spans.len());
    for (start, end) in spans {
        match out.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => out.push((start, end)),
        }
    }
    out
}

/// `span` minus the sorted, disjoint `taken` spans.
fn subtract(span: (Timestamp, Timestamp), taken: &[(Timestamp, Timestamp)]) -> Vec<(Timestamp, Timestamp)> {
    let mut out = Vec::new();
    let mut from = span.0;
    for &(s, e) in taken {
        if e <= from || s >= span.1 {
            continue;
        }
        if s > from {
            out.push((from, s));
        }
        from = from.max(e);
    }
    if from < span.1 {
        out.push((from, span.1));
    }
    out
}

/// The VCALENDAR answering a free-busy-query (RFC 4791 §7.10): one VFREEBUSY with the range
/// as DTSTART/DTEND and `lines`, the FREEBUSY lines of `busy_lines`.
pub fn vfreebusy(range_start: Timestamp, range_end: Timestamp, lines: &str, now: Timestamp) -> String {
    const HEAD: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Kalends//Kalends//EN\r\nBEGIN:VFREEBUSY\r\n";
    const TAIL: &str = "END:VFREEBUSY\r\nEND:VCALENDAR\r\n";
    let mut out = String::with_capacity(HEAD.len() + 3 * 27 + lines.len() + TAIL.len());
    out.push_str(HEAD);
    for (name, at) in [("DTSTAMP", now), ("DTSTART", range_start), ("DTEND", range_end)] {
        out.push_str(name);
        out.push(':');
        push_utc_date_time(&mut out, at);
        out.push_str("\r\n");
    }
    out.push_str(lines);
    out.push_str(TAIL);
    out
}

/// A FREEBUSY line per period, each ending in CRLF: what the cache holds, so that a cached
/// answer is copied, not formatted again, and DTSTAMP is still fresh in every answer.
pub fn busy_lines(periods: &[Busy]) -> String {
    let mut out = String::with_capacity(periods.len() * 48);
    for b in periods {
        out.push_str("FREEBUSY");
        if b.kind != BusyKind::Busy {
            out.push_str(";FBTYPE=");
            out.push_str(b.kind.as_str());
        }
        out.push(':');
        push_utc_date_time(&mut out, b.start);
        out.push('/');
        push_utc_date_time(&mut out, b.end);
        out.push_str("\r\n");
    }
    out
}

/// `busy_lines` text back into periods (the outbox merges several calendars' cached answers);
/// None for text `busy_lines` did not write.
pub fn parse_busy_lines(lines: &str) -> Option<Vec<Busy>> {
    let mut out = Vec::new();
    for line in lines.split_terminator("\r\n") {
        let rest = line.strip_prefix("FREEBUSY")?;
        let (kind, periods) = match rest.strip_prefix(";FBTYPE=") {
            Some(typed) => {
                let (kind, periods) = typed.split_once(':')?;
                let kind = [BusyKind::BusyTentative, BusyKind::BusyUnavailable, BusyKind::Busy, BusyKind::Free]
                    .into_iter()
                    .find(|k| k.as_str() == kind)?;
                (kind, periods)
            }
            None => (BusyKind::Busy, rest.strip_prefix(':')?),
        };
        let (start, end) = periods.split_once('/')?;
        out.push(Busy { start: crate::config::parse_utc(start)?, end: crate::config::parse_utc(end)?, kind });
    }
    Some(out)
}

/// Cached lines back as text, if they are what `busy_lines` writes: a cache entry that is not
/// (another version's format, a damaged value) counts as a miss.
pub fn cached_lines(bytes: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(bytes).ok()?;
    let well_formed = text.split_terminator("\r\n").all(|line| line.starts_with("FREEBUSY") && !line.contains('\n'));
    (well_formed && (text.is_empty() || text.ends_with("\r\n"))).then_some(text)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::parse_utc;

    fn range(s: &str, e: &str) -> TimeRange {
        TimeRange { start: parse_utc(s), end: parse_utc(e) }
    }

    fn at(s: &str) -> Timestamp {
        parse_utc(s).unwrap()
    }

    fn ics(body: &str) -> String {
        format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n{body}END:VCALENDAR\r\n")
    }

    const CTX: QueryContext = QueryContext { zone: chrono_tz::UTC, max_instances: 1000 };

    #[test]
    fn busy_lines_read_back() {
        let periods = vec![
            Busy { start: at("20260105T100000Z"), end: at("20260105T110000Z"), kind: BusyKind::Busy },
            Busy { start: at("20260106T100000Z"), end: at("20260106T113000Z"), kind: BusyKind::BusyTentative },
        ];
        assert_eq!(parse_busy_lines(&busy_lines(&periods)), Some(periods));
        assert_eq!(parse_busy_lines(""), Some(vec![]));
        assert_eq!(parse_busy_lines("FREEBUSY:nonsense\r\n"), None);
        assert_eq!(parse_busy_lines("DTSTART:20260105T100000Z\r\n"), None);
    }

    #[test]
    fn events_count_by_status_and_transparency() {
        let data = ics("BEGIN:VEVENT\r\nUID:a\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240102T100000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=DAILY;COUNT=3\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:a\r\nDTSTAMP:20240101T000000Z\r\nRECURRENCE-ID:20240103T100000Z\r\nDTSTART:20240103T100000Z\r\nDURATION:PT1H\r\nSTATUS:CANCELLED\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:a\r\nDTSTAMP:20240101T000000Z\r\nRECURRENCE-ID:20240104T100000Z\r\nDTSTART:20240104T120000Z\r\nDURATION:PT1H\r\nSTATUS:TENTATIVE\r\nEND:VEVENT\r\n");
        let busy = object_busy(data.as_bytes(), &range("20240101T000000Z", "20240201T000000Z"), CTX).unwrap();
        let mut got: Vec<(Timestamp, BusyKind)> = busy.iter().map(|b| (b.start, b.kind)).collect();
        got.sort();
        assert_eq!(got, vec![(at("20240102T100000Z"), BusyKind::Busy), (at("20240104T120000Z"), BusyKind::BusyTentative)]);
        let transparent = ics("BEGIN:VEVENT\r\nUID:t\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240102T100000Z\r\nDURATION:PT1H\r\nTRANSP:TRANSPARENT\r\nEND:VEVENT\r\n");
        assert!(object_busy(transparent.as_bytes(), &range("20240101T000000Z", "20240201T000000Z"), CTX).unwrap().is_empty());
    }

    #[test]
    fn all_day_is_busy_in_the_calendar_zone_and_vfreebusy_counts() {
        let day = ics("BEGIN:VEVENT\r\nUID:d\r\nDTSTAMP:20240101T000000Z\r\nDTSTART;VALUE=DATE:20240105\r\nEND:VEVENT\r\n");
        let ctx = QueryContext { zone: chrono_tz::Europe::Berlin, max_instances: 1000 };
        let busy = object_busy(day.as_bytes(), &range("20240101T000000Z", "20240201T000000Z"), ctx).unwrap();
        assert_eq!(busy, vec![Busy { start: at("20240104T230000Z"), end: at("20240105T230000Z"), kind: BusyKind::Busy }]);
        let fb = ics("BEGIN:VFREEBUSY\r\nUID:f\r\nDTSTAMP:20240101T000000Z\r\nFREEBUSY;FBTYPE=BUSY-UNAVAILABLE:20240110T080000Z/PT2H\r\nFREEBUSY;FBTYPE=FREE:20240111T080000Z/PT2H\r\nEND:VFREEBUSY\r\n");
        let busy = object_busy(fb.as_bytes(), &range("20240101T000000Z", "20240201T000000Z"), CTX).unwrap();
        assert_eq!(busy, vec![Busy { start: at("20240110T080000Z"), end: at("20240110T100000Z"), kind: BusyKind::BusyUnavailable }]);
    }

    /// The fuzzer's find (query_recurrence, CI seed 1796545631016339022): a tentative override
    /// moved to span the series' own first instance. That hour is BUSY, so the tentative time
    /// splits around it: merging two periods rightly gives three.
    #[test]
    fn a_tentative_span_around_a_busy_instance_splits_in_two() {
        let text = ics(concat!(
            "BEGIN:VEVENT\r\nUID:t@k\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240101T100000Z\r\n",
            "DTEND:20240101T110000Z\r\nRRULE:FREQ=WEEKLY;COUNT=6\r\nEND:VEVENT\r\n",
            "BEGIN:VEVENT\r\nUID:t@k\r\nDTSTAMP:20240101T000000Z\r\nRECURRENCE-ID:20240108T100000Z\r\n",
            "DTSTART:20240101T000000Z\r\nDTEND:20240108T110000Z\r\nSTATUS:TENTATIVE\r\nEND:VEVENT\r\n",
        ));
        let range = range("20240101T000000Z", "20240109T000000Z");
        let periods = object_busy(text.as_bytes(), &range, CTX).unwrap();
        assert_eq!(periods.len(), 2, "{periods:?}");
        let b = |s: &str, e: &str, kind| Busy { start: at(s), end: at(e), kind };
        assert_eq!(
            merge(&periods, &range),
            vec![
                b("20240101T000000Z", "20240101T100000Z", BusyKind::BusyTentative),
                b("20240101T100000Z", "20240101T110000Z", BusyKind::Busy),
                b("20240101T110000Z", "20240108T110000Z", BusyKind::BusyTentative),
            ]
        );
    }

    #[test]
    fn merge_clips_coalesces_and_ranks_kinds() {
        let b = |s: &str, e: &str, kind| Busy { start: at(s), end: at(e), kind };
        let periods = [
            b("20240101T080000Z", "20240101T100000Z", BusyKind::Busy),
            b("20240101T100000Z", "20240101T110000Z", BusyKind::Busy),
            b("20240101T090000Z", "20240101T120000Z", BusyKind::BusyTentative),
            b("20231231T230000Z", "20240101T010000Z", BusyKind::Busy),
        ];
        let merged = merge(&periods, &range("20240101T000000Z", "20240102T000000Z"));
        assert_eq!(
            merged,
            vec![
                b("20240101T000000Z", "20240101T010000Z", BusyKind::Busy),
                b("20240101T080000Z", "20240101T110000Z", BusyKind::Busy),
                b("20240101T110000Z", "20240101T120000Z", BusyKind::BusyTentative),
            ]
        );
        let lines = busy_lines(&merged);
        assert_eq!(cached_lines(lines.as_bytes()), Some(lines.as_str()));
        assert_eq!(cached_lines(b""), Some(""));
        assert_eq!(cached_lines(b"1704096000 1704099600 BUSY\n"), None, "the old period format is a miss");
        assert_eq!(cached_lines(b"FREEBUSY:20240101T000000Z/20240101T010000Z"), None, "a cut value is a miss");
        let text = vfreebusy(at("20240101T000000Z"), at("20240102T000000Z"), &lines, at("20240101T000000Z"));
        assert!(text.starts_with("BEGIN:VCALENDAR\r\n") && text.ends_with("END:VFREEBUSY\r\nEND:VCALENDAR\r\n"), "{text}");
        assert!(text.contains("\r\nDTSTART:20240101T000000Z\r\nDTEND:20240102T000000Z\r\nFREEBUSY:"), "{text}");
        assert!(text.contains("FREEBUSY;FBTYPE=BUSY-TENTATIVE:20240101T110000Z/20240101T120000Z\r\n"), "{text}");
        assert!(text.contains("FREEBUSY:20240101T080000Z/20240101T110000Z\r\n"), "{text}");
    }
}
