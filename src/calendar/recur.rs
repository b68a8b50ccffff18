//! Recurrence sets (RFC 5545 §3.8.5): DTSTART + RRULE + RDATE − EXDATE, expanded inside a
//! window with a cap on the work done. Kalends' own interface; the rrule crate does the RRULE
//! arithmetic behind it.
//!
//! Rules are expanded on DTSTART's wall clock (the rrule crate is handed that wall clock as if it
//! were UTC) and every instance is then read in DTSTART's zone per RFC 5545 §3.3.5. This is how
//! RFC 5545 defines recurrence (a 09:00 weekly meeting stays at 09:00 across DST), and it
//! normalises DTSTARTs and instances inside a DST gap, which the rrule crate would reject.

use calcard::icalendar::{
    ICalendarFrequency, ICalendarRecurrenceRule, ICalendarSkip, ICalendarWeekday,
};
use chrono::{NaiveDateTime, TimeZone, Weekday};

use super::Timestamp;
use super::time::{CalTime, Length, MAX_OFFSET_EAST, MAX_OFFSET_WEST};

/// The rrule crate gives up after this many consecutive periods without an instance
/// (`MAX_ITER_LOOP` in rrule 0.14); a rule that ends sooner than that before its UNTIL may have
/// been cut short rather than finished.
const RRULE_GIVE_UP_PERIODS: i64 = 100_000;

/// One instance: when it starts and ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Occurrence {
    pub start: CalTime,
    pub end: CalTime,
}

/// A UTC time range; `None` ends are unbounded. Instances touching either end are included, so
/// the closed-boundary cases of RFC 4791 §9.9 are never lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: Option<Timestamp>,
    pub end: Option<Timestamp>,
}

impl Window {
    pub const ALL: Window = Window {
        start: None,
        end: None,
    };

    /// Whether the occurrence may overlap the window in whatever zone reads floating times.
    pub fn may_contain(&self, occurrence: &Occurrence) -> bool {
        let after_start = self.start.is_none_or(|s| {
            occurrence
                .end
                .span()
                .latest
                .max(occurrence.start.span().latest)
                >= s
        });
        let before_end = self.end.is_none_or(|e| {
            occurrence
                .start
                .span()
                .earliest
                .min(occurrence.end.span().earliest)
                <= e
        });
        after_start && before_end
    }
}

/// How much an expansion may do: rule instances generated (the CPU bound, since instances are
/// generated from DTSTART on even for a far window) and instances returned (the response bound,
/// e.g. RFC 4791 §5.2.8 max-instances).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_scanned: usize,
    pub max_instances: usize,
}

impl Limits {
    /// Scan at most `max_scanned` rule instances; return whatever that finds.
    pub fn scan(max_scanned: usize) -> Limits {
        Limits {
            max_scanned,
            max_instances: usize::MAX,
        }
    }
}

/// The instances found in a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expansion {
    /// Sorted by start; EXDATEs removed; duplicates merged.
    pub occurrences: Vec<Occurrence>,
    /// False when a limit was hit or a rule could not be followed to its end: instances in the
    /// window may be missing (or, past `max_instances`, cut off), and callers must fall back
    /// to a conservative answer.
    pub complete: bool,
}

/// One RRULE, checked against its DTSTART.
#[derive(Debug, Clone)]
pub struct Rule {
    kind: RuleKind,
    count: Option<u32>,
    /// UNTIL on DTSTART's wall clock (see `CalTime::wall_clock_in`).
    until: Option<NaiveDateTime>,
    /// How far past its last instance the rrule crate may have given up.
    give_up_seconds: i64,
}

#[derive(Debug, Clone)]
enum RuleKind {
    Expand(Box<rrule::RRule<rrule::Validated>>),
    /// Valid but beyond the rrule crate (RFC 7529 RSCALE, SKIP): accepted, never expanded.
    Opaque,
}

impl Rule {
    /// Checks an RRULE against DTSTART (RFC 5545 §3.3.10). `Ok(None)` means a rule with no
    /// instance besides DTSTART itself (UNTIL before DTSTART), which RFC 5545 does not forbid.
    pub fn new(rule: &ICalendarRecurrenceRule, start: &CalTime) -> Result<Option<Rule>, String> {
        if rule.interval == Some(0) {
            return Err("INTERVAL must be at least 1".into());
        }
        let until = match &rule.until {
            Some(value) => Some(until_wall_clock(value, start)?),
            None => None,
        };
        if until.is_some_and(|u| u < start.local) {
            return Ok(None);
        }
        let give_up_seconds = RRULE_GIVE_UP_PERIODS
            .saturating_mul(i64::from(rule.interval.unwrap_or(1)))
            .saturating_mul(shortest_period(rule.freq));
        let kind = if is_expandable(rule) {
            RuleKind::Expand(Box::new(to_rrule(rule, start, until)?))
        } else {
            RuleKind::Opaque
        };
        Ok(Some(Rule {
            kind,
            count: rule.count,
            until,
            give_up_seconds,
        }))
    }

    /// Whether the rule ends (COUNT or UNTIL, RFC 5545 §3.3.10); without either it is infinite.
    pub fn is_bounded(&self) -> bool {
        self.count.is_some() || self.until.is_some()
    }
}

/// The recurrence set of one component.
#[derive(Debug, Clone)]
pub struct RecurrenceSet {
    start: CalTime,
    /// Length of instances not given one by an RDATE PERIOD.
    length: Length,
    rules: Vec<Rule>,
    rdates: Vec<Occurrence>,
    exdates: Vec<CalTime>,
}

impl RecurrenceSet {
    /// A set with DTSTART only; add RRULEs, RDATEs and EXDATEs with the builders below.
    pub fn new(start: CalTime, length: Length) -> Self {
        RecurrenceSet {
            start,
            length,
            rules: Vec::new(),
            rdates: Vec::new(),
            exdates: Vec::new(),
        }
    }

    pub fn with_rule(mut self, rule: Rule) -> Self {
        self.rules.push(rule);
        self
    }

    /// An RDATE; `end` is given by a PERIOD value, otherwise the default length applies.
    pub fn with_rdate(mut self, start: CalTime, end: Option<CalTime>) -> Self {
        let end = end.unwrap_or_else(|| start.plus(self.length));
        self.rdates.push(Occurrence { start, end });
        self
    }

    pub fn with_exdate(mut self, exdate: CalTime) -> Self {
        self.exdates.push(exdate);
        self
    }

    pub fn start(&self) -> &CalTime {
        &self.start
    }

    pub fn length(&self) -> Length {
        self.length
    }

    /// Whether every rule ends, so that the set is finite.
    pub fn is_finite(&self) -> bool {
        self.rules.iter().all(Rule::is_bounded)
    }

    /// Whether every rule can be expanded: an incomplete expansion of a set that cannot (RFC 7529
    /// RSCALE, SKIP, leap months) is not a matter of limits, and no limit would complete it.
    pub(crate) fn is_expandable(&self) -> bool {
        self.rules
            .iter()
            .all(|r| matches!(r.kind, RuleKind::Expand(_)))
    }

    /// The latest instance the rules' UNTILs allow, when every rule has an UNTIL: the
    /// conservative answer when an expansion is incomplete (RDATEs are always expanded).
    pub fn until_bound(&self) -> Option<Occurrence> {
        let latest = self
            .rules
            .iter()
            .map(|r| r.until)
            .try_fold(self.start.local, |acc, u| u.map(|u| acc.max(u)))?;
        Some(self.occurrence_at(CalTime {
            local: latest,
            ..self.start
        }))
    }

    /// The instances that may overlap `window`, within `limits`. DTSTART always counts as the
    /// first instance (RFC 5545 §3.8.5.3), whether or not the rule matches it.
    pub fn expand(&self, window: Window, limits: Limits) -> Expansion {
        let mut occurrences = vec![self.occurrence_at(self.start)];
        occurrences.extend(self.rdates.iter().copied());
        let mut budget = limits.max_scanned;
        let mut complete = true;
        for rule in &self.rules {
            complete &= self.expand_rule(rule, window, &mut budget, &mut occurrences);
        }
        occurrences.retain(|o| {
            window.may_contain(o) && !self.exdates.iter().any(|x| x.same_instant(&o.start))
        });
        occurrences.sort_by_key(|o| (o.start.face(), o.end.face()));
        occurrences.dedup_by(|a, b| a.start.same_instant(&b.start) && a.end.same_instant(&b.end));
        if occurrences.len() > limits.max_instances {
            occurrences.truncate(limits.max_instances);
            complete = false;
        }
        Expansion {
            occurrences,
            complete,
        }
    }

    fn occurrence_at(&self, start: CalTime) -> Occurrence {
        Occurrence {
            start,
            end: start.plus(self.length),
        }
    }

    /// Appends the rule's instances; returns whether the rule was followed to its end or past
    /// the window.
    fn expand_rule(
        &self,
        rule: &Rule,
        window: Window,
        budget: &mut usize,
        out: &mut Vec<Occurrence>,
    ) -> bool {
        let RuleKind::Expand(rrule) = &rule.kind else {
            return false;
        };
        let set = rrule::RRuleSet::new(proxy(self.start.local))
            .rrule((**rrule).clone())
            .limit();
        let mut yielded = 0u32;
        let mut last = self.start.local;
        for instant in &set {
            let Some(left) = budget.checked_sub(1) else {
                return false;
            };
            *budget = left;
            last = instant.naive_utc();
            yielded = yielded.saturating_add(1);
            let occurrence = self.occurrence_at(CalTime {
                local: last,
                ..self.start
            });
            if window.end.is_some_and(|end| past_window(&occurrence, end)) {
                return true;
            }
            out.push(occurrence);
        }
        finished(rule, yielded, last)
    }
}

/// Instances come in wall-clock order, and a wall-clock reading is at most 14 h ahead of UTC in
/// any zone today (a day's margin covers historic local mean times), so once one starts that
/// far past the window's end, all later ones do too.
fn past_window(occurrence: &Occurrence, end: Timestamp) -> bool {
    occurrence.start.wall_seconds() - MAX_OFFSET_EAST - MAX_OFFSET_WEST > end
}

/// Whether an iteration that stopped by itself reached the rule's real end: its COUNT, or an
/// UNTIL close enough that the rrule crate cannot have given up before it.
fn finished(rule: &Rule, yielded: u32, last: NaiveDateTime) -> bool {
    if rule.count.is_some_and(|c| yielded >= c) {
        return true;
    }
    rule.until
        .is_some_and(|until| (until - last).num_seconds() < rule.give_up_seconds / 2)
}

fn shortest_period(freq: ICalendarFrequency) -> i64 {
    match freq {
        ICalendarFrequency::Yearly => 365 * 86_400,
        ICalendarFrequency::Monthly => 28 * 86_400,
        ICalendarFrequency::Weekly => 7 * 86_400,
        ICalendarFrequency::Daily => 86_400,
        ICalendarFrequency::Hourly => 3_600,
        ICalendarFrequency::Minutely => 60,
        ICalendarFrequency::Secondly => 1,
    }
}

/// RFC 7529 RSCALE other than Gregorian, leap months and SKIP other than OMIT change which
/// instances exist in ways the rrule crate does not model.
fn is_expandable(rule: &ICalendarRecurrenceRule) -> bool {
    let gregorian = rule
        .rscale
        .as_ref()
        .is_none_or(|s| *s == calcard::common::CalendarScale::Gregorian);
    let omit = rule.skip.is_none_or(|s| s == ICalendarSkip::Omit);
    gregorian && omit && !rule.bymonth.iter().any(|m| m.is_leap())
}

fn until_wall_clock(
    value: &calcard::common::PartialDateTime,
    start: &CalTime,
) -> Result<NaiveDateTime, String> {
    let until =
        super::model::time_value(value, None).ok_or("UNTIL is not a valid DATE or DATE-TIME")?;
    Ok(until.wall_clock_in(start))
}

/// The wall clock handed to the rrule crate as UTC, so that it never meets a DST gap.
fn proxy(wall: NaiveDateTime) -> chrono::DateTime<rrule::Tz> {
    rrule::Tz::UTC.from_utc_datetime(&wall)
}

fn to_rrule(
    rule: &ICalendarRecurrenceRule,
    start: &CalTime,
    until: Option<NaiveDateTime>,
) -> Result<rrule::RRule<rrule::Validated>, String> {
    let mut r = rrule::RRule::new(frequency(rule.freq)).interval(rule.interval.unwrap_or(1));
    if let Some(count) = rule.count {
        r = r.count(count);
    }
    if let Some(until) = until {
        r = r.until(proxy(until));
    }
    // RFC 5545 §3.3.10: BYSECOND, BYMINUTE and BYHOUR MUST be ignored with a DATE DTSTART.
    if !start.is_date {
        r = r
            .by_second(rule.bysecond.clone())
            .by_minute(rule.byminute.clone())
            .by_hour(rule.byhour.clone());
    }
    let months: Vec<chrono::Month> = rule
        .bymonth
        .iter()
        .filter_map(|m| chrono::Month::try_from(m.month()).ok())
        .collect();
    r = r
        .by_weekday(
            rule.byday
                .iter()
                .map(|d| rrule::NWeekday::new(d.ordwk, weekday(d.weekday)))
                .collect(),
        )
        .by_month_day(rule.bymonthday.clone())
        .by_year_day(rule.byyearday.clone())
        .by_week_no(rule.byweekno.clone())
        .by_month(&months)
        .by_set_pos(rule.bysetpos.clone());
    if let Some(wkst) = rule.wkst {
        r = r.week_start(weekday(wkst));
    }
    r.validate(proxy(start.local)).map_err(|e| e.to_string())
}

fn frequency(freq: ICalendarFrequency) -> rrule::Frequency {
    match freq {
        ICalendarFrequency::Yearly => rrule::Frequency::Yearly,
        ICalendarFrequency::Monthly => rrule::Frequency::Monthly,
        ICalendarFrequency::Weekly => rrule::Frequency::Weekly,
        ICalendarFrequency::Daily => rrule::Frequency::Daily,
        ICalendarFrequency::Hourly => rrule::Frequency::Hourly,
        ICalendarFrequency::Minutely => rrule::Frequency::Minutely,
        ICalendarFrequency::Secondly => rrule::Frequency::Secondly,
    }
}

fn weekday(day: ICalendarWeekday) -> Weekday {
    match day {
        ICalendarWeekday::Monday => Weekday::Mon,
        ICalendarWeekday::Tuesday => Weekday::Tue,
        ICalendarWeekday::Wednesday => Weekday::Wed,
        ICalendarWeekday::Thursday => Weekday::Thu,
        ICalendarWeekday::Friday => Weekday::Fri,
        ICalendarWeekday::Saturday => Weekday::Sat,
        ICalendarWeekday::Sunday => Weekday::Sun,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::calendar::time::Zone;

    fn parse_rule(text: &str) -> ICalendarRecurrenceRule {
        let ics = format!(
            "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nRRULE:{text}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        );
        let calcard::Entry::ICalendar(cal) = calcard::Parser::new(&ics).entry() else {
            panic!("not parsed")
        };
        match cal.components[1].entries[0].values.first() {
            Some(calcard::icalendar::ICalendarValue::RecurrenceRule(rule)) => (**rule).clone(),
            other => panic!("not a rule: {other:?}"),
        }
    }

    fn at(s: &str, zone: Zone) -> CalTime {
        CalTime {
            local: NaiveDateTime::parse_from_str(s, "%Y%m%dT%H%M%S").unwrap(),
            zone,
            is_date: false,
        }
    }

    fn set(start: CalTime, rule: &str) -> RecurrenceSet {
        let rule = Rule::new(&parse_rule(rule), &start).unwrap().unwrap();
        RecurrenceSet::new(start, Length::exact(3600)).with_rule(rule)
    }

    fn starts(e: &Expansion) -> Vec<String> {
        e.occurrences
            .iter()
            .map(|o| o.start.local.format("%Y%m%dT%H%M").to_string())
            .collect()
    }

    const NY: Zone = Zone::Iana(chrono_tz::America::New_York);

    #[test]
    fn weekly_rule_keeps_local_time_across_dst() {
        let weekly = set(at("20070304T090000", NY), "FREQ=WEEKLY;COUNT=3");
        assert!(weekly.is_expandable());
        let e = weekly.expand(Window::ALL, Limits::scan(100));
        assert!(e.complete);
        assert_eq!(
            starts(&e),
            ["20070304T0900", "20070311T0900", "20070318T0900"]
        );
        // 09:00 EST = 14:00Z, 09:00 EDT = 13:00Z.
        assert_eq!(e.occurrences[0].start.utc(), Some(1_173_016_800));
        assert_eq!(e.occurrences[1].start.utc(), Some(1_173_618_000));
    }

    #[test]
    fn dtstart_inside_dst_gap_is_normalised_not_rejected() {
        // 02:30 on 2007-03-11 does not exist: that instance is 03:30 EDT, the others stay 02:30.
        let e = set(at("20070311T023000", NY), "FREQ=DAILY;COUNT=2")
            .expand(Window::ALL, Limits::scan(100));
        assert!(e.complete);
        assert_eq!(e.occurrences[0].start.utc(), Some(1_173_598_200));
        assert_eq!(e.occurrences[1].start.utc(), Some(1_173_681_000)); // 2007-03-12 02:30 EDT
    }

    #[test]
    fn until_in_utc_is_compared_on_the_local_wall_clock() {
        // UNTIL 2006-01-04T17:00Z = 12:00 EST: the 12:00 instance on the 4th is the last.
        let e = set(
            at("20060102T120000", NY),
            "FREQ=DAILY;UNTIL=20060104T170000Z",
        )
        .expand(Window::ALL, Limits::scan(100));
        assert!(e.complete);
        assert_eq!(
            starts(&e),
            ["20060102T1200", "20060103T1200", "20060104T1200"]
        );
    }

    #[test]
    fn rdates_exdates_and_dtstart_off_rule() {
        let start = at("20240101T100000", Zone::Utc); // a Monday
        let rdate = at("20231225T080000", Zone::Utc);
        let s = set(start, "FREQ=WEEKLY;BYDAY=TU;COUNT=2")
            .with_rdate(rdate, Some(at("20231225T120000", Zone::Utc)))
            .with_exdate(at("20240102T100000", Zone::Utc));
        let e = s.expand(Window::ALL, Limits::scan(100));
        assert_eq!(
            starts(&e),
            ["20231225T0800", "20240101T1000", "20240109T1000"]
        );
        assert_eq!(e.occurrences[0].end.local.format("%H").to_string(), "12");
    }

    #[test]
    fn cap_marks_expansion_incomplete_and_until_bounds_it() {
        let s = set(
            at("20240101T000000", Zone::Utc),
            "FREQ=SECONDLY;UNTIL=20340101T000000Z",
        );
        let e = s.expand(Window::ALL, Limits::scan(50));
        assert!(!e.complete);
        assert_eq!(e.occurrences.len(), 50);
        let bound = s.until_bound().unwrap();
        assert_eq!(
            (bound.start.face(), bound.end.face()),
            (2_019_686_400, 2_019_686_400 + 3600)
        );
        let huge_count = set(
            at("20240101T000000", Zone::Utc),
            "FREQ=DAILY;COUNT=4000000000",
        );
        assert!(!huge_count.expand(Window::ALL, Limits::scan(50)).complete);
        assert_eq!(huge_count.until_bound(), None);
    }

    #[test]
    fn instance_limit_truncates_and_marks_incomplete() {
        let s = set(at("20240101T000000", Zone::Utc), "FREQ=DAILY;COUNT=10");
        let limits = Limits {
            max_scanned: 100,
            max_instances: 3,
        };
        let e = s.expand(Window::ALL, limits);
        assert!(!e.complete);
        assert_eq!(
            starts(&e),
            ["20240101T0000", "20240102T0000", "20240103T0000"]
        );
    }

    #[test]
    fn window_stops_iteration_early_and_filters() {
        let s = set(at("20240101T000000", Zone::Utc), "FREQ=DAILY");
        let window = Window {
            start: Some(1_704_326_400),
            end: Some(1_704_499_200),
        }; // Jan 4 – Jan 6
        let e = s.expand(window, Limits::scan(1000));
        assert!(e.complete);
        assert_eq!(
            starts(&e),
            ["20240104T0000", "20240105T0000", "20240106T0000"]
        );
    }

    #[test]
    fn rule_cut_short_by_rrule_give_up_is_incomplete() {
        // Every minute of June, from July: the next match is 11 months (480,000 minutes) away,
        // past the rrule crate's 100,000-period limit.
        let s = set(
            at("20240701T000000", Zone::Utc),
            "FREQ=MINUTELY;BYMONTH=6;UNTIL=20250630T000000Z",
        );
        assert!(!s.expand(Window::ALL, Limits::scan(10_000)).complete);
    }

    #[test]
    fn date_start_ignores_byhour_and_until_before_start_means_no_rule() {
        let date = CalTime::date(chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap());
        let rule = Rule::new(&parse_rule("FREQ=DAILY;COUNT=2;BYHOUR=10"), &date)
            .unwrap()
            .unwrap();
        let e = RecurrenceSet::new(date, Length::ONE_DAY)
            .with_rule(rule)
            .expand(Window::ALL, Limits::scan(10));
        assert_eq!(starts(&e), ["20240101T0000", "20240102T0000"]);
        assert!(
            Rule::new(
                &parse_rule("FREQ=DAILY;UNTIL=20231231T000000Z"),
                &at("20240101T000000", Zone::Utc)
            )
            .unwrap()
            .is_none()
        );
    }

    #[test]
    fn invalid_rules_are_reported() {
        let start = at("20240101T000000", Zone::Utc);
        let err = Rule::new(&parse_rule("FREQ=WEEKLY;BYMONTHDAY=3"), &start).unwrap_err();
        assert!(err.contains("BYMONTHDAY"), "{err}");
        // calcard already reads INTERVAL=0 as absent; a rule built elsewhere is still checked.
        let zero = ICalendarRecurrenceRule {
            interval: Some(0),
            ..parse_rule("FREQ=DAILY")
        };
        assert_eq!(
            Rule::new(&zero, &start).unwrap_err(),
            "INTERVAL must be at least 1"
        );
    }

    #[test]
    fn rscale_rules_are_accepted_but_opaque() {
        let start = at("20240101T000000", Zone::Utc);
        let rule = Rule::new(&parse_rule("RSCALE=CHINESE;FREQ=YEARLY;COUNT=3"), &start)
            .unwrap()
            .unwrap();
        let set = RecurrenceSet::new(start, Length::ZERO).with_rule(rule);
        assert!(!set.is_expandable());
        let e = set.expand(Window::ALL, Limits::scan(10));
        assert!(!e.complete);
        assert_eq!(e.occurrences.len(), 1);
    }
}
