//! The UTC range an object's instances and alarms may touch, computed at write time so that a
//! time-range query (RFC 4791 §9.9) can select candidates by index. The range is a superset:
//! exact evaluation filters the candidates later, so every doubt widens it.

use super::model::{Alarm, Timing, Trigger};
use super::recur::{Limits, Occurrence, RecurrenceSet, Rule, Window};
use super::time::{CalTime, Length, MAX_OFFSET_EAST, MAX_OFFSET_WEST};
use super::validate::InvalidObject;
use super::{ComponentKind, Timestamp};

/// Rule-generated instances examined per object at write time; beyond it the range falls back
/// to UNTIL or to unbounded, so a huge COUNT or a far UNTIL cannot make a PUT slow.
pub const INDEX_SCAN_CAP: usize = 10_000;

/// A day-based (nominal) alarm offset follows the wall clock of an IANA zone, so its distance in
/// UTC can differ by the zone's offset change between the two instants; no offset can change by
/// more than the full span. (UTC has no such change, and floating times are widened already.)
const NOMINAL_SLACK: i64 = MAX_OFFSET_EAST + MAX_OFFSET_WEST;

/// A UTC range; `None` ends are unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub lo: Option<Timestamp>,
    pub hi: Option<Timestamp>,
}

impl Range {
    pub const ALL: Range = Range { lo: None, hi: None };

    fn point(lo: Timestamp, hi: Timestamp) -> Range {
        Range {
            lo: Some(lo.min(hi)),
            hi: Some(lo.max(hi)),
        }
    }

    fn union(self, other: Range) -> Range {
        Range {
            lo: self.lo.zip(other.lo).map(|(a, b)| a.min(b)),
            hi: self.hi.zip(other.hi).map(|(a, b)| a.max(b)),
        }
    }

    fn shift(self, lo: i64, hi: i64) -> Range {
        Range {
            lo: self.lo.map(|t| t.saturating_add(lo)),
            hi: self.hi.map(|t| t.saturating_add(hi)),
        }
    }
}

/// What the index stores, plus what the min/max-date-time check needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    /// Every instance and alarm lies inside; floating times widened to every offset.
    pub range: Range,
    /// Earliest and latest instance as stated (floating at face value); `None` when the object
    /// has no dated instance to check.
    pub face: Option<Range>,
}

/// Instance bounds of one group of instances (one component, or the instances a
/// THISANDFUTURE override moves).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Spread {
    starts: Range,
    ends: Range,
    face: Range,
}

impl Spread {
    fn of(o: &Occurrence) -> Spread {
        let (s, e) = (o.start.span(), o.end.span());
        Spread {
            starts: Range::point(s.earliest, s.latest),
            ends: Range::point(e.earliest, e.latest),
            face: Range::point(o.start.face(), o.end.face()),
        }
    }

    fn union(self, other: Spread) -> Spread {
        Spread {
            starts: self.starts.union(other.starts),
            ends: self.ends.union(other.ends),
            face: self.face.union(other.face),
        }
    }

    fn unbounded_after(self) -> Spread {
        let open = |r: Range| Range { lo: r.lo, hi: None };
        Spread {
            starts: open(self.starts),
            ends: open(self.ends),
            face: open(self.face),
        }
    }

    fn range(&self) -> Range {
        Range {
            lo: self.starts.lo.zip(self.ends.lo).map(|(a, b)| a.min(b)),
            hi: self.starts.hi.zip(self.ends.hi).map(|(a, b)| a.max(b)),
        }
    }
}

/// What one group contributes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Coverage {
    /// No usable date: matches every range (RFC 4791 §9.9, e.g. a VTODO with none of its dates).
    All,
    Instances(Spread),
    /// Every instance was excluded.
    Empty,
}

/// One component's instances, kept for THISANDFUTURE overrides to move.
struct Group {
    coverage: Coverage,
    occurrences: Vec<Occurrence>,
}

/// Computes the index facts of an object whose components passed validation.
pub fn compute(kind: ComponentKind, timings: &[Timing<'_>]) -> Result<Facts, InvalidObject> {
    let overridden: Vec<CalTime> = timings.iter().filter_map(|t| t.recurrence_id).collect();
    let mut acc = Accumulator::default();
    let mut master_occurrences = Vec::new();
    for timing in timings {
        let exclude = if timing.recurrence_id.is_none() {
            overridden.as_slice()
        } else {
            &[]
        };
        let group = group(kind, timing, exclude)?;
        acc.add(&group.coverage, &timing.alarms, nominal_slack(timing));
        if timing.recurrence_id.is_none() {
            master_occurrences = group.occurrences;
        }
    }
    for timing in timings.iter().filter(|t| t.this_and_future) {
        acc.add(
            &moved_by(timing, kind, &master_occurrences),
            &timing.alarms,
            nominal_slack(timing),
        );
    }
    Ok(acc.facts())
}

/// Unions group ranges, alarm ranges and face ranges.
#[derive(Default)]
struct Accumulator {
    range: Option<Range>,
    face: Option<Range>,
}

impl Accumulator {
    fn add(&mut self, coverage: &Coverage, alarms: &[Alarm], slack: i64) {
        match coverage {
            Coverage::All => self.range = Some(Range::ALL),
            Coverage::Empty => {}
            Coverage::Instances(spread) => {
                let mut range = spread.range();
                for alarm in alarms {
                    range = range.union(alarm_range(alarm, spread, slack));
                }
                self.range = Some(self.range.map_or(range, |r| r.union(range)));
                self.face = Some(self.face.map_or(spread.face, |f| f.union(spread.face)));
            }
        }
    }

    /// An object without any instance matches nothing, but "unbounded" is the safe superset.
    fn facts(self) -> Facts {
        Facts {
            range: self.range.unwrap_or(Range::ALL),
            face: self.face,
        }
    }
}

fn group(kind: ComponentKind, t: &Timing<'_>, exclude: &[CalTime]) -> Result<Group, InvalidObject> {
    let (start, length) = match (kind, t.dtstart) {
        (ComponentKind::FreeBusy, _) => return Ok(fixed(freebusy_occurrences(t))),
        (ComponentKind::Todo, None) => return Ok(todo_without_start(t)),
        (_, None) => {
            return Ok(Group {
                coverage: Coverage::All,
                occurrences: Vec::new(),
            });
        }
        (ComponentKind::Event, Some(start)) => (start, event_length(t, &start)),
        (ComponentKind::Todo, Some(start)) => (start, todo_length(t, &start)),
        (ComponentKind::Journal, Some(start)) => (start, default_length(&start)),
    };
    let set = recurrence_set(t, start, length, exclude)?;
    Ok(expanded(&set))
}

/// RFC 5545 §3.6.1: DTEND, else DURATION, else one day for a DATE and zero for a DATE-TIME.
pub(crate) fn event_length(t: &Timing<'_>, start: &CalTime) -> Length {
    match (t.dtend, t.duration) {
        (Some(end), _) => between(start, &end),
        (None, Some(duration)) => duration,
        (None, None) => default_length(start),
    }
}

/// RFC 4791 §9.9: DTSTART with DURATION or DUE, else DTSTART alone.
pub(crate) fn todo_length(t: &Timing<'_>, start: &CalTime) -> Length {
    match (t.duration, t.due) {
        (Some(duration), _) => duration,
        (None, Some(due)) => between(start, &due),
        (None, None) => default_length(start),
    }
}

pub(crate) fn default_length(start: &CalTime) -> Length {
    if start.is_date {
        Length::ONE_DAY
    } else {
        Length::ZERO
    }
}

/// The exact length from `start` to `end` (RFC 5545 §3.8.5.3: instances keep it). When one end
/// floats and the other does not, the longest length any reading gives. A zero-length DATE
/// event (DTEND = DTSTART) is read as the one day clients mean by it.
fn between(start: &CalTime, end: &CalTime) -> Length {
    let seconds = if start.is_floating() == end.is_floating() {
        end.face() - start.face()
    } else {
        end.span().latest - start.span().earliest
    };
    if seconds == 0 && start.is_date {
        Length::ONE_DAY
    } else {
        Length::exact(seconds)
    }
}

pub(crate) fn recurrence_set(
    t: &Timing<'_>,
    start: CalTime,
    length: Length,
    exclude: &[CalTime],
) -> Result<RecurrenceSet, InvalidObject> {
    let mut set = RecurrenceSet::new(start, length);
    for rule in &t.rrules {
        let checked = Rule::new(rule, &start).map_err(|why| {
            // Not valid iCalendar, so valid-calendar-data (RFC 4791 §5.3.2.1).
            InvalidObject::Data(format!("invalid RRULE: {why} (RFC 5545 §3.3.10)"))
        })?;
        if let Some(rule) = checked {
            set = set.with_rule(rule);
        }
    }
    for (rdate, end) in &t.rdates {
        set = set.with_rdate(*rdate, end.map(|e| e.from(*rdate)));
    }
    for exdate in t.exdates.iter().chain(exclude) {
        set = set.with_exdate(*exdate);
    }
    Ok(set)
}

/// Expands a finite set up to the cap; an infinite one is not expanded, since its range is
/// unbounded anyway and DTSTART (the earliest rule instance) and the RDATEs give its start.
fn expanded(set: &RecurrenceSet) -> Group {
    let cap = if set.is_finite() { INDEX_SCAN_CAP } else { 0 };
    let expansion = set.expand(Window::ALL, Limits::scan(cap));
    let occurrences = expansion.occurrences;
    let mut coverage = spread_of(&occurrences);
    if !expansion.complete {
        // Rule instances never start before DTSTART, so DTSTART bounds what was not seen.
        let first = Spread::of(&Occurrence {
            start: *set.start(),
            end: set.start().plus(set.length()),
        });
        let seen = spread(&coverage).map_or(first, |s| s.union(first));
        coverage = Coverage::Instances(match set.until_bound() {
            Some(last) => seen.union(Spread::of(&last)),
            None => seen.unbounded_after(),
        });
    }
    Group {
        coverage,
        occurrences,
    }
}

fn spread(coverage: &Coverage) -> Option<Spread> {
    match coverage {
        Coverage::Instances(s) => Some(*s),
        _ => None,
    }
}

fn spread_of(occurrences: &[Occurrence]) -> Coverage {
    occurrences
        .iter()
        .map(Spread::of)
        .reduce(Spread::union)
        .map_or(Coverage::Empty, Coverage::Instances)
}

fn fixed(occurrences: Vec<Occurrence>) -> Group {
    let coverage = if occurrences.is_empty() {
        Coverage::All
    } else {
        spread_of(&occurrences)
    };
    Group {
        coverage,
        occurrences,
    }
}

/// RFC 4791 §9.9 VFREEBUSY: DTSTART/DTEND and every FREEBUSY period.
fn freebusy_occurrences(t: &Timing<'_>) -> Vec<Occurrence> {
    let span = match (t.dtstart, t.dtend) {
        (Some(start), Some(end)) => Some(Occurrence { start, end }),
        (Some(only), None) | (None, Some(only)) => Some(Occurrence {
            start: only,
            end: only,
        }),
        (None, None) => None,
    };
    let periods = t.freebusy.iter().map(|(start, end, _)| Occurrence {
        start: *start,
        end: end.from(*start),
    });
    span.into_iter().chain(periods).collect()
}

/// RFC 4791 §9.9 VTODO rows without DTSTART: DUE; else COMPLETED and/or CREATED (CREATED alone
/// matches every range ending after it); else everything. A recurrence without DTSTART cannot
/// be expanded, so it matches everything too.
fn todo_without_start(t: &Timing<'_>) -> Group {
    if !t.rrules.is_empty() || !t.rdates.is_empty() {
        return Group {
            coverage: Coverage::All,
            occurrences: Vec::new(),
        };
    }
    let occurrence = match (t.due, t.completed, t.created) {
        (Some(due), _, _) => Occurrence {
            start: due,
            end: due,
        },
        (None, Some(done), Some(created)) => Occurrence {
            start: created,
            end: done,
        },
        (None, Some(done), None) => Occurrence {
            start: done,
            end: done,
        },
        (None, None, Some(created)) => {
            let open = Spread::of(&Occurrence {
                start: created,
                end: created,
            })
            .unbounded_after();
            return Group {
                coverage: Coverage::Instances(open),
                occurrences: Vec::new(),
            };
        }
        (None, None, None) => {
            return Group {
                coverage: Coverage::All,
                occurrences: Vec::new(),
            };
        }
    };
    fixed(vec![occurrence])
}

/// RFC 5545 §3.8.4.4 RANGE=THISANDFUTURE: the master instances from RECURRENCE-ID on move by
/// the override's shift and take its length. Kept in addition to the originals (superset).
fn moved_by(o: &Timing<'_>, kind: ComponentKind, master: &[Occurrence]) -> Coverage {
    let (Some(rid), Some(start)) = (o.recurrence_id, o.dtstart) else {
        return Coverage::Empty;
    };
    let same_basis = rid.is_floating() == start.is_floating();
    let slack = if same_basis {
        0
    } else {
        MAX_OFFSET_EAST + MAX_OFFSET_WEST
    };
    let shift = start.face() - rid.face();
    let length = match kind {
        ComponentKind::Todo => todo_length(o, &start),
        _ => event_length(o, &start),
    }
    .approx_seconds();
    let moved = master
        .iter()
        .filter(|m| m.start.span().latest >= rid.span().earliest)
        .map(|m| {
            let s = m.start.span();
            let starts = Range::point(s.earliest, s.latest).shift(shift - slack, shift + slack);
            let ends = starts.shift(length.min(0), length.max(0));
            Spread {
                starts,
                ends,
                face: starts.union(ends),
            }
        })
        .reduce(Spread::union);
    moved.map_or(Coverage::Empty, Coverage::Instances)
}

/// The slack nominal alarm offsets need for this component's times (see `NOMINAL_SLACK`).
fn nominal_slack(t: &Timing<'_>) -> i64 {
    let zoned = [t.dtstart, t.dtend, t.due, t.recurrence_id]
        .iter()
        .flatten()
        .any(|c| matches!(c.zone, super::time::Zone::Iana(_)) && !c.is_date);
    if zoned { NOMINAL_SLACK } else { 0 }
}

/// When an alarm may fire for the instances of `spread` (RFC 5545 §3.8.6.3), REPEAT included.
/// An absolute trigger is UTC (or floating, hence widened), so its nominal repeats are exact.
fn alarm_range(alarm: &Alarm, spread: &Spread, zone_slack: i64) -> Range {
    let repeats = alarm
        .interval
        .approx_seconds()
        .saturating_mul(i64::from(alarm.repeat));
    match alarm.trigger {
        Trigger::Relative { offset, from_end } => {
            let first = offset.approx_seconds();
            let last = first.saturating_add(repeats);
            let nominal = offset.days != 0 || (alarm.repeat > 0 && alarm.interval.days != 0);
            let slack = if nominal { zone_slack } else { 0 };
            let anchor = if from_end { spread.ends } else { spread.starts };
            anchor.shift(first.min(last) - slack, first.max(last) + slack)
        }
        Trigger::Absolute(at) => {
            let span = at.span();
            Range::point(span.earliest, span.latest).shift(repeats.min(0), repeats.max(0))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::{CalendarIndex, ValidateOptions, parse_object};
    use super::*;

    const H: i64 = 3600;
    const DAY: i64 = 86_400;
    /// The widening of a floating time or DATE: UTC+14 … UTC−12.
    const EAST: i64 = 14 * H;
    const WEST: i64 = 12 * H;

    /// A UTC instant written `YYYYMMDDTHHMMSS` (a notation, not the code under test).
    fn ts(s: &str) -> Timestamp {
        chrono::NaiveDateTime::parse_from_str(s, "%Y%m%dT%H%M%S")
            .unwrap()
            .and_utc()
            .timestamp()
    }

    fn index(text: &str) -> CalendarIndex {
        let opts = ValidateOptions {
            min_date_time: i64::MIN,
            max_date_time: i64::MAX,
        };
        parse_object(text.as_bytes(), &opts).unwrap()
    }

    fn range(text: &str) -> (Option<Timestamp>, Option<Timestamp>) {
        let i = index(text);
        (i.first_start, i.last_end)
    }

    fn cal(body: &str) -> String {
        format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\n{}\r\nEND:VCALENDAR\r\n",
            body.replace('\n', "\r\n")
        )
    }

    fn event(props: &str) -> String {
        cal(&format!("BEGIN:VEVENT\nUID:e\n{props}\nEND:VEVENT"))
    }

    fn todo(props: &str) -> String {
        cal(&format!("BEGIN:VTODO\nUID:t\n{props}\nEND:VTODO"))
    }

    fn span(lo: Timestamp, hi: Timestamp) -> (Option<Timestamp>, Option<Timestamp>) {
        (Some(lo), Some(hi))
    }

    #[test]
    fn rfc4791_appendix_b_objects() {
        let cases: [(&str, _); 8] = [
            (
                include_str!("../../fixtures/ical/rfc4791/abcd1.ics"),
                span(ts("20060102T150000"), ts("20060102T160000")),
            ),
            (
                include_str!("../../fixtures/ical/rfc4791/abcd2.ics"),
                span(ts("20060102T170000"), ts("20060106T180000")),
            ),
            (
                include_str!("../../fixtures/ical/rfc4791/abcd3.ics"),
                span(ts("20060104T150000"), ts("20060104T160000")),
            ),
            // DUE;VALUE=DATE only, alarm 10 minutes before (anchored on DUE, there is no DTSTART).
            (
                include_str!("../../fixtures/ical/rfc4791/abcd4.ics"),
                span(
                    ts("20060104T000000") - EAST - 600,
                    ts("20060104T000000") + WEST,
                ),
            ),
            (
                include_str!("../../fixtures/ical/rfc4791/abcd5.ics"),
                span(
                    ts("20060106T000000") - EAST - 600,
                    ts("20060106T000000") + WEST,
                ),
            ),
            // DUE wins over COMPLETED (RFC 4791 §9.9 row N N Y * *).
            (
                include_str!("../../fixtures/ical/rfc4791/abcd6.ics"),
                span(ts("20051225T000000") - EAST, ts("20051225T000000") + WEST),
            ),
            (
                include_str!("../../fixtures/ical/rfc4791/abcd7.ics"),
                span(ts("20060101T000000") - EAST, ts("20060101T000000") + WEST),
            ),
            // A FREEBUSY period before DTSTART widens the range.
            (
                include_str!("../../fixtures/ical/rfc4791/abcd8.ics"),
                span(ts("20050531T230000"), ts("20060108T000000")),
            ),
        ];
        for (i, (text, expected)) in cases.into_iter().enumerate() {
            assert_eq!(range(text), expected, "abcd{}.ics", i + 1);
        }
        let uid = index(include_str!("../../fixtures/ical/rfc4791/abcd2.ics")).uid;
        assert_eq!(uid, "00959BC664CA650E933C892C@example.com");
    }

    #[test]
    fn rfc5545_examples() {
        let cases = [
            (
                include_str!("../../fixtures/ical/rfc5545/3.6.1-event-review.ics"),
                span(ts("19970903T163000"), ts("19970903T190000")),
            ),
            // Yearly without end: unbounded.
            (
                include_str!("../../fixtures/ical/rfc5545/3.6.1-event-anniversary.ics"),
                (Some(ts("19971102T000000") - EAST), None),
            ),
            (
                include_str!("../../fixtures/ical/rfc5545/3.6.1-event-jazz.ics"),
                span(ts("20070628T000000") - EAST, ts("20070709T000000") + WEST),
            ),
            (
                include_str!("../../fixtures/ical/rfc5545/3.6.2-todo-completed.ics"),
                span(ts("20070514T110000"), ts("20070709T130000")),
            ),
            (
                include_str!("../../fixtures/ical/rfc5545/3.6.3-journal.ics"),
                span(ts("19970317T000000") - EAST, ts("19970318T000000") + WEST),
            ),
            (
                include_str!("../../fixtures/ical/rfc5545/3.6.4-freebusy-published.ics"),
                span(ts("19980313T141711"), ts("19980410T141711")),
            ),
            (
                include_str!("../../fixtures/ical/rfc5545/4-event-networld.ics"),
                span(ts("19960918T143000"), ts("19960920T220000")),
            ),
            // America/New_York, still EST on 1998-03-12.
            (
                include_str!("../../fixtures/ical/rfc5545/4-event-xyz-review.ics"),
                span(ts("19980312T133000"), ts("19980312T143000")),
            ),
            // Floating DUE, and an absolute alarm at 12:00Z repeated 4 times an hour apart.
            (
                include_str!("../../fixtures/ical/rfc5545/4-todo-taxes.ics"),
                span(ts("19980403T120000"), ts("19980415T000000") + WEST),
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(
                range(text),
                expected,
                "{}",
                text.lines()
                    .find(|l| l.starts_with("UID"))
                    .unwrap_or_default()
            );
        }
    }

    #[test]
    fn rfc5545_examples_that_are_not_storable() {
        let opts = ValidateOptions {
            min_date_time: i64::MIN,
            max_date_time: i64::MAX,
        };
        let method = include_str!("../../fixtures/ical/rfc5545/4-event-method-xyz.ics");
        assert_eq!(
            parse_object(method.as_bytes(), &opts),
            Err(InvalidObject::Resource("METHOD:xyz marks an iTIP message; a stored calendar object must not have METHOD (RFC 4791 §4.1)".into()))
        );
        let no_uid = include_str!("../../fixtures/ical/rfc5545/4-freebusy-no-uid.ics");
        assert_eq!(
            parse_object(no_uid.as_bytes(), &opts),
            Err(InvalidObject::Resource(
                "a VFREEBUSY has no UID (RFC 5545 §3.8.4.7)".into()
            ))
        );
    }

    #[test]
    fn event_without_dtend_lasts_a_day_or_nothing_rfc5545_3_6_1() {
        assert_eq!(
            range(&event("DTSTART:20240101T100000Z")),
            span(ts("20240101T100000"), ts("20240101T100000"))
        );
        assert_eq!(
            range(&event("DTSTART;VALUE=DATE:20240101")),
            span(ts("20240101T000000") - EAST, ts("20240102T000000") + WEST)
        );
        assert_eq!(
            range(&event("DTSTART:20240101T100000Z\nDURATION:PT90M")),
            span(ts("20240101T100000"), ts("20240101T113000"))
        );
    }

    #[test]
    fn floating_times_are_widened_by_every_offset() {
        let r = range(&event("DTSTART:20240101T100000\nDTEND:20240101T110000"));
        assert_eq!(
            r,
            span(ts("20240101T100000") - EAST, ts("20240101T110000") + WEST)
        );
    }

    #[test]
    fn tzid_without_vtimezone_resolves_iana_and_windows_names() {
        let iana = event("DTSTART;TZID=Europe/Berlin:20240701T100000\nDURATION:PT1H");
        assert_eq!(
            range(&iana),
            span(ts("20240701T080000"), ts("20240701T090000"))
        );
        let windows = event("DTSTART;TZID=W. Europe Standard Time:20240101T100000\nDURATION:PT1H");
        assert_eq!(
            range(&windows),
            span(ts("20240101T090000"), ts("20240101T100000"))
        );
        let unknown = event("DTSTART;TZID=Nowhere/Special:20240101T100000\nDURATION:PT1H");
        assert_eq!(
            range(&unknown),
            span(ts("20240101T100000") - EAST, ts("20240101T110000") + WEST)
        );
    }

    #[test]
    fn every_instance_counts_rrule_rdate_exdate() {
        // Daily ×5 from Jan 2 10:00Z; the last instance (Jan 6) is excluded; an RDATE before
        // DTSTART and a PERIOD RDATE after the rule widen the range.
        let r = range(&event(
            "DTSTART:20240102T100000Z\nDURATION:PT1H\nRRULE:FREQ=DAILY;COUNT=5\nEXDATE:20240106T100000Z\n\
RDATE:20231225T080000Z\nRDATE;VALUE=PERIOD:20240110T100000Z/20240110T180000Z",
        ));
        assert_eq!(r, span(ts("20231225T080000"), ts("20240110T180000")));
        let without_rdates = range(&event(
            "DTSTART:20240102T100000Z\nDURATION:PT1H\nRRULE:FREQ=DAILY;COUNT=5\nEXDATE:20240106T100000Z",
        ));
        assert_eq!(
            without_rdates,
            span(ts("20240102T100000"), ts("20240105T110000"))
        );
        let date_rdate = range(&event(
            "DTSTART;VALUE=DATE:20240102\nRDATE;VALUE=DATE:20240301",
        ));
        assert_eq!(
            date_rdate,
            span(ts("20240102T000000") - EAST, ts("20240302T000000") + WEST)
        );
    }

    #[test]
    fn overrides_may_move_instances_far_away() {
        let master = "BEGIN:VEVENT\nUID:e\nDTSTART:20240102T100000Z\nDURATION:PT1H\nRRULE:FREQ=DAILY;COUNT=3\nEND:VEVENT";
        let later = format!(
            "{master}\nBEGIN:VEVENT\nUID:e\nRECURRENCE-ID:20240103T100000Z\nDTSTART:20240601T100000Z\nDTEND:20240601T120000Z\nEND:VEVENT"
        );
        assert_eq!(
            range(&cal(&later)),
            span(ts("20240102T100000"), ts("20240601T120000"))
        );
        // Moving the last instance earlier shrinks the range: the original is replaced.
        let earlier = format!(
            "{master}\nBEGIN:VEVENT\nUID:e\nRECURRENCE-ID:20240104T100000Z\nDTSTART:20231201T100000Z\nEND:VEVENT"
        );
        assert_eq!(
            range(&cal(&earlier)),
            span(ts("20231201T100000"), ts("20240103T110000"))
        );
    }

    #[test]
    fn this_and_future_override_moves_later_instances() {
        let text = cal(
            "BEGIN:VEVENT\nUID:e\nDTSTART:20240101T100000Z\nDURATION:PT1H\nRRULE:FREQ=DAILY;COUNT=5\nEND:VEVENT\n\
BEGIN:VEVENT\nUID:e\nRECURRENCE-ID;RANGE=THISANDFUTURE:20240103T100000Z\nDTSTART:20240103T150000Z\nDURATION:PT2H\nEND:VEVENT",
        );
        // Jan 5 10:00 moves by +5 h and lasts 2 h: ends 17:00.
        assert_eq!(
            range(&text),
            span(ts("20240101T100000"), ts("20240105T170000"))
        );
    }

    #[test]
    fn infinite_rules_are_unbounded_and_start_at_dtstart() {
        assert_eq!(
            range(&event("DTSTART:20240101T100000Z\nRRULE:FREQ=WEEKLY")),
            (Some(ts("20240101T100000")), None)
        );
        // Even when DTSTART itself is excluded, no later instance can start before it.
        let excluded =
            event("DTSTART:20240101T100000Z\nRRULE:FREQ=WEEKLY\nEXDATE:20240101T100000Z");
        assert_eq!(range(&excluded), (Some(ts("20240101T100000")), None));
    }

    #[test]
    fn capped_expansions_fall_back_to_until_or_unbounded() {
        let huge_count = event("DTSTART:20240101T100000Z\nRRULE:FREQ=SECONDLY;COUNT=2000000000");
        assert_eq!(range(&huge_count), (Some(ts("20240101T100000")), None));
        let far_until =
            event("DTSTART:20240101T100000Z\nRRULE:FREQ=MINUTELY;UNTIL=29991231T000000Z");
        assert_eq!(
            range(&far_until),
            span(ts("20240101T100000"), ts("29991231T000000"))
        );
    }

    #[test]
    fn capped_expansions_stay_fast() {
        let worst = [
            "DTSTART:20240101T100000Z\nRRULE:FREQ=SECONDLY;COUNT=2000000000",
            "DTSTART:20240101T100000Z\nRRULE:FREQ=SECONDLY;UNTIL=99991231T000000Z",
            "DTSTART:20240101T100000Z\nRRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30;COUNT=3",
            "DTSTART:20240101T100000Z\nRRULE:FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30;COUNT=3",
        ];
        for props in worst {
            let started = std::time::Instant::now();
            let _ = range(&event(props));
            // Generous for a debug build on a shared machine; uncapped, these take hours.
            assert!(
                started.elapsed() < std::time::Duration::from_secs(5),
                "{props}: {:?}",
                started.elapsed()
            );
        }
    }

    #[test]
    fn extreme_values_neither_panic_nor_shrink_the_range() {
        let extremes = [
            "DTSTART;TZID=America/New_York:99991231T230000\nDURATION:P4294967295W",
            "DTSTART;TZID=America/New_York:00010101T000000\nDURATION:-P4294967295W",
            "DTSTART:99991231T235959Z\nRRULE:FREQ=SECONDLY;COUNT=100",
            "DTSTART:20240101T000000Z\nBEGIN:VALARM\nTRIGGER:-P4294967295W\nREPEAT:4294967295\nDURATION:P4294967295W\nEND:VALARM",
            "DTSTART;TZID=America/New_York:20240101T000000\nRDATE;VALUE=PERIOD:20240101T000000Z/P4294967295W",
        ];
        for props in extremes {
            let (first, last) = range(&event(props));
            let (first, last) = (first.unwrap(), last.unwrap());
            assert!(first <= last, "{props}: {first} > {last}");
        }
        // Samoa skipped 2011-12-30: 10:00 that day means 10:00 on the 31st (+14), 20:00Z.
        let samoa = event("DTSTART;TZID=Pacific/Apia:20111230T100000");
        assert_eq!(
            range(&samoa),
            span(ts("20111230T200000"), ts("20111230T200000"))
        );
    }

    #[test]
    fn dtstart_in_a_dst_gap_is_normalised() {
        // 02:30 does not exist in New York on 2007-03-11: it means 03:30 EDT (07:30Z).
        let text = event(
            "DTSTART;TZID=America/New_York:20070311T023000\nDURATION:PT1H\nRRULE:FREQ=DAILY;COUNT=2",
        );
        assert_eq!(
            range(&text),
            span(ts("20070311T073000"), ts("20070312T073000"))
        );
    }

    #[test]
    fn alarms_widen_the_range() {
        let base = "DTSTART:20240110T100000Z\nDTEND:20240110T110000Z";
        let alarm = |a: &str| {
            event(&format!(
                "{base}\nBEGIN:VALARM\nACTION:DISPLAY\nDESCRIPTION:x\n{a}\nEND:VALARM"
            ))
        };
        assert_eq!(
            range(&alarm("TRIGGER:-P1D")),
            span(ts("20240109T100000"), ts("20240110T110000"))
        );
        assert_eq!(
            range(&alarm("TRIGGER;RELATED=END:PT30M")),
            span(ts("20240110T100000"), ts("20240110T113000"))
        );
        assert_eq!(
            range(&alarm("TRIGGER;VALUE=DATE-TIME:20240101T090000Z")),
            span(ts("20240101T090000"), ts("20240110T110000"))
        );
        assert_eq!(
            range(&alarm("TRIGGER:PT2H\nREPEAT:3\nDURATION:PT15M")),
            span(ts("20240110T100000"), ts("20240110T124500"))
        );
        assert_eq!(
            range(&alarm("TRIGGER:-PT1H\nREPEAT:2\nDURATION:-P1D")),
            span(ts("20240108T090000"), ts("20240110T110000"))
        );
        // A day before a New York time is a wall-clock day: its UTC distance depends on DST,
        // so the range keeps a full offset span of slack around it.
        let zoned = event(
            "DTSTART;TZID=America/New_York:20240310T100000
BEGIN:VALARM
ACTION:DISPLAY
TRIGGER:-P1D
END:VALARM",
        );
        assert_eq!(
            range(&zoned),
            span(
                ts("20240310T140000") - DAY - 26 * H,
                ts("20240310T140000") + 2 * H
            )
        );
    }

    #[test]
    fn alarms_apply_to_every_instance_and_overrides_bring_their_own() {
        let text = cal(
            "BEGIN:VEVENT\nUID:e\nDTSTART:20240101T100000Z\nRRULE:FREQ=DAILY;COUNT=3\n\
BEGIN:VALARM\nACTION:DISPLAY\nTRIGGER:PT5H\nEND:VALARM\nEND:VEVENT\n\
BEGIN:VEVENT\nUID:e\nRECURRENCE-ID:20240102T100000Z\nDTSTART:20240102T100000Z\n\
BEGIN:VALARM\nACTION:DISPLAY\nTRIGGER:-PT20H\nEND:VALARM\nEND:VEVENT",
        );
        // Master alarm after the last instance (Jan 3 15:00); override alarm on Jan 1 14:00.
        assert_eq!(
            range(&text),
            span(ts("20240101T100000"), ts("20240103T150000"))
        );
        let early = text.replace("-PT20H", "-PT30H");
        assert_eq!(
            range(&early),
            span(ts("20240101T040000"), ts("20240103T150000"))
        );
    }

    #[test]
    fn vtodo_follows_the_rfc4791_9_9_table() {
        let cases = [
            (
                "DTSTART:20240101T100000Z\nDURATION:PT2H",
                span(ts("20240101T100000"), ts("20240101T120000")),
            ),
            (
                "DTSTART:20240101T100000Z\nDUE:20240103T100000Z",
                span(ts("20240101T100000"), ts("20240103T100000")),
            ),
            (
                "DTSTART:20240101T100000Z",
                span(ts("20240101T100000"), ts("20240101T100000")),
            ),
            (
                "DUE:20240103T100000Z",
                span(ts("20240103T100000"), ts("20240103T100000")),
            ),
            (
                "COMPLETED:20240105T100000Z\nCREATED:20231201T100000Z",
                span(ts("20231201T100000"), ts("20240105T100000")),
            ),
            (
                "COMPLETED:20240105T100000Z",
                span(ts("20240105T100000"), ts("20240105T100000")),
            ),
            (
                "CREATED:20231201T100000Z",
                (Some(ts("20231201T100000")), None),
            ),
            ("SUMMARY:someday", (None, None)),
        ];
        for (props, expected) in cases {
            assert_eq!(range(&todo(props)), expected, "{props}");
        }
        let recurring =
            todo("DTSTART:20240101T100000Z\nDUE:20240101T120000Z\nRRULE:FREQ=WEEKLY;COUNT=2");
        assert_eq!(
            range(&recurring),
            span(ts("20240101T100000"), ts("20240108T120000"))
        );
    }

    #[test]
    fn vjournal_is_its_dtstart_or_everything() {
        let journal = |p: &str| cal(&format!("BEGIN:VJOURNAL\nUID:j\n{p}\nEND:VJOURNAL"));
        assert_eq!(
            range(&journal("DTSTART:20240101T100000Z")),
            span(ts("20240101T100000"), ts("20240101T100000"))
        );
        assert_eq!(
            range(&journal("DTSTART;VALUE=DATE:20240101")),
            span(ts("20240101T000000") - EAST, ts("20240102T000000") + WEST)
        );
        assert_eq!(range(&journal("SUMMARY:undated")), (None, None));
    }

    #[test]
    fn vfreebusy_covers_dtstart_dtend_and_periods() {
        let fb = |p: &str| cal(&format!("BEGIN:VFREEBUSY\nUID:f\n{p}\nEND:VFREEBUSY"));
        let r = range(&fb(
            "DTSTART:20240101T000000Z\nDTEND:20240108T000000Z\nFREEBUSY:20240109T100000Z/PT1H,20231231T100000Z/20231231T110000Z",
        ));
        assert_eq!(r, span(ts("20231231T100000"), ts("20240109T110000")));
        assert_eq!(range(&fb("ORGANIZER:mailto:a@b")), (None, None));
    }

    #[test]
    fn may_overlap_uses_closed_bounds() {
        let zero = index(&event("DTSTART:20240101T100000Z"));
        let at = ts("20240101T100000");
        assert!(zero.may_overlap(Some(at), Some(at + H)));
        assert!(zero.may_overlap(Some(at - H), Some(at)));
        assert!(!zero.may_overlap(Some(at + 1), Some(at + H)));
        assert!(!zero.may_overlap(Some(at - H), Some(at - 1)));
        let open = index(&todo("SUMMARY:x"));
        assert!(open.may_overlap(Some(0), Some(1)) && open.may_overlap(None, None));
    }
}
