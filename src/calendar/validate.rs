//! Parsing and validation of calendar object resources (RFC 4791 §4.1, §5.3.2; RFC 5545), and
//! the index facts (UID, kind, first/last instant) computed from them at write time.
//!
//! The index is a SUPERSET: it selects candidates that exact evaluation filters later. Local
//! (TZID) and floating times are widened by the extreme UTC offsets instead of being resolved,
//! because the calendar's zone can change after the write; a recurrence whose end cannot be
//! bounded cheaply and safely is open-ended.

use chrono::{NaiveDate, NaiveDateTime};

use super::ical::{self, Component, Line};
use super::{CalendarIndex, ComponentKind, Timestamp};

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

/// UTC offsets range from −12:00 to +14:00: a local time is within this of its UTC instant.
const WIDEN: i64 = 14 * 3600;
const DAY: i64 = 86_400;

/// Parses and validates one calendar object resource and computes its index facts.
pub fn parse_object(data: &[u8], opts: &ValidateOptions) -> Result<CalendarIndex, InvalidObject> {
    let text = std::str::from_utf8(data).map_err(|e| InvalidObject::Data(format!("not UTF-8 ({e})")))?;
    let top = ical::parse(text).map_err(InvalidObject::Data)?;
    let [vcalendar] = top.as_slice() else {
        return Err(InvalidObject::Data(format!("expected exactly one VCALENDAR, found {} top-level components", top.len())));
    };
    if vcalendar.name != "VCALENDAR" {
        return Err(InvalidObject::Data(format!("the top-level component is {}, not VCALENDAR", vcalendar.name)));
    }
    // RFC 4791 §4.1: no METHOD in stored calendar object resources.
    if vcalendar.prop("METHOD").is_some() {
        return Err(InvalidObject::Resource("METHOD is not allowed in a calendar object resource (RFC 4791 §4.1)".into()));
    }
    let comps: Vec<&Component> = vcalendar.children.iter().filter(|c| c.name != "VTIMEZONE").collect();
    let kind = single_kind(&comps)?;
    let uid = single_uid(&comps)?;
    check_instances(&comps)?;
    let mut span = Span::default();
    for c in &comps {
        let s = component_span(kind, c)?;
        span.merge(s);
    }
    check_range(&comps, opts)?;
    Ok(CalendarIndex { uid, component: kind, first_start: span.first, last_end: span.last })
}

fn single_kind(comps: &[&Component]) -> Result<ComponentKind, InvalidObject> {
    let first = comps.first().ok_or_else(|| InvalidObject::Resource("no VEVENT, VTODO, VJOURNAL or VFREEBUSY".into()))?;
    let kind = ComponentKind::parse(&first.name)
        .ok_or_else(|| InvalidObject::Resource(format!("unsupported component {}", first.name)))?;
    if let Some(other) = comps.iter().find(|c| c.name != first.name) {
        return Err(InvalidObject::Resource(format!(
            "mixes {} and {} (RFC 4791 §4.1: one component type per resource)",
            first.name, other.name
        )));
    }
    Ok(kind)
}

fn single_uid(comps: &[&Component]) -> Result<String, InvalidObject> {
    let mut uid: Option<&str> = None;
    for c in comps {
        let this = c.prop("UID").map(|l| l.value.as_str()).filter(|v| !v.is_empty());
        let this = this.ok_or_else(|| InvalidObject::Resource(format!("{} without UID", c.name)))?;
        match uid {
            Some(u) if u != this => {
                return Err(InvalidObject::Resource(format!(
                    "components with different UIDs ({u:?} and {this:?}); RFC 4791 §4.1 allows one UID per resource"
                )));
            }
            _ => uid = Some(this),
        }
    }
    uid.map(str::to_owned).ok_or_else(|| InvalidObject::Resource("no UID".into()))
}

/// At most one master, and distinct RECURRENCE-IDs (RFC 5545 §3.8.4.4).
fn check_instances(comps: &[&Component]) -> Result<(), InvalidObject> {
    let masters = comps.iter().filter(|c| c.prop("RECURRENCE-ID").is_none()).count();
    if masters > 1 {
        return Err(InvalidObject::Resource(format!("{masters} components without RECURRENCE-ID share one UID")));
    }
    let mut ids: Vec<&str> = comps.iter().filter_map(|c| c.prop("RECURRENCE-ID")).map(|l| l.value.as_str()).collect();
    ids.sort_unstable();
    if let Some(w) = ids.windows(2).find(|w| w[0] == w[1]) {
        return Err(InvalidObject::Resource(format!("RECURRENCE-ID {} appears twice", w[0])));
    }
    Ok(())
}

/// A date or date-time value as the index sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Instant {
    /// UTC seconds for Z values; the naive local time read as UTC otherwise.
    pub secs: i64,
    pub is_date: bool,
    /// Local (TZID) or floating: the true instant is within ±WIDEN of `secs`.
    pub local: bool,
}

/// Parses a DATE or DATE-TIME value (RFC 5545 §3.3.4, §3.3.5).
pub fn parse_instant(line: &Line) -> Result<Instant, InvalidObject> {
    let v = line.value.trim();
    let bad = || InvalidObject::Resource(format!("{} has an invalid date or date-time {v:?}", line.name));
    if v.len() == 8 || line.param("VALUE").is_some_and(|t| t.eq_ignore_ascii_case("DATE")) {
        let d = NaiveDate::parse_from_str(v, "%Y%m%d").map_err(|_| bad())?;
        let secs = d.and_hms_opt(0, 0, 0).ok_or_else(bad)?.and_utc().timestamp();
        return Ok(Instant { secs, is_date: true, local: true });
    }
    let (body, utc) = match v.strip_suffix('Z') {
        Some(b) => (b, true),
        None => (v, false),
    };
    let dt = NaiveDateTime::parse_from_str(body, "%Y%m%dT%H%M%S").map_err(|_| bad())?;
    Ok(Instant { secs: dt.and_utc().timestamp(), is_date: false, local: !utc })
}

/// RFC 5545 §3.3.6 duration in seconds (weeks, days, hours, minutes, seconds; signed).
pub fn parse_duration(v: &str) -> Option<i64> {
    let v = v.trim();
    let (sign, rest) = match v.as_bytes().first()? {
        b'-' => (-1, &v[1..]),
        b'+' => (1, &v[1..]),
        _ => (1, v),
    };
    let rest = rest.strip_prefix('P')?;
    let (mut total, mut num, mut in_time, mut any) = (0i64, String::new(), false, false);
    for c in rest.chars() {
        match c {
            '0'..='9' => num.push(c),
            'T' if num.is_empty() => in_time = true,
            'W' | 'D' | 'H' | 'M' | 'S' => {
                let n: i64 = num.parse().ok()?;
                num.clear();
                any = true;
                total += n * match (c, in_time) {
                    ('W', false) => 7 * DAY,
                    ('D', false) => DAY,
                    ('H', true) => 3600,
                    ('M', true) => 60,
                    ('S', true) => 1,
                    _ => return None,
                };
            }
            _ => return None,
        }
    }
    (any && num.is_empty()).then_some(sign * total)
}

/// Earliest start and latest end of what a component covers (None = unbounded).
#[derive(Debug, Clone, Copy, Default)]
struct Span {
    first: Option<Timestamp>,
    last: Option<Timestamp>,
    /// Set once a side is known to be unbounded, so later merges keep it open.
    open_first: bool,
    open_last: bool,
    seen: bool,
}

impl Span {
    fn unbounded() -> Span {
        Span { first: None, last: None, open_first: true, open_last: true, seen: true }
    }
    fn of(first: i64, last: i64) -> Span {
        Span { first: Some(first), last: Some(last.max(first)), open_first: false, open_last: false, seen: true }
    }
    fn merge(&mut self, other: Span) {
        if !other.seen {
            return;
        }
        if !self.seen {
            *self = other;
            return;
        }
        self.open_first |= other.open_first;
        self.open_last |= other.open_last;
        self.first = if self.open_first { None } else { min_opt(self.first, other.first) };
        self.last = if self.open_last { None } else { max_opt(self.last, other.last) };
    }
}

fn min_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
fn max_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

fn lo(i: Instant) -> i64 {
    if i.local { i.secs - WIDEN } else { i.secs }
}
fn hi(i: Instant) -> i64 {
    if i.local { i.secs + WIDEN } else { i.secs }
}

fn component_span(kind: ComponentKind, c: &Component) -> Result<Span, InvalidObject> {
    let get = |name: &str| c.prop(name).map(parse_instant).transpose();
    let start = get("DTSTART")?;
    let end = get("DTEND")?;
    let duration = match c.prop("DURATION") {
        Some(l) => Some(parse_duration(&l.value).ok_or_else(|| InvalidObject::Resource(format!("invalid DURATION {:?}", l.value)))?),
        None => None,
    };
    if end.is_some() && duration.is_some() {
        return Err(InvalidObject::Resource(format!("{} has both DTEND and DURATION (RFC 5545 §3.6.1)", c.name)));
    }
    let mut span = match kind {
        ComponentKind::Event => event_span(c, start, end, duration)?,
        ComponentKind::Todo => todo_span(c, start, duration)?,
        ComponentKind::Journal => start.map_or_else(Span::unbounded, |s| Span::of(lo(s), hi(s) + if s.is_date { DAY } else { 0 })),
        ComponentKind::FreeBusy => match (start, end) {
            (Some(s), Some(e)) => Span::of(lo(s), hi(e)),
            _ => Span::unbounded(),
        },
    };
    if span.seen && !span.open_first {
        widen_for_recurrence(c, start, &mut span)?;
    }
    widen_for_alarms(c, &mut span)?;
    Ok(span)
}

fn event_span(c: &Component, start: Option<Instant>, end: Option<Instant>, duration: Option<i64>) -> Result<Span, InvalidObject> {
    let s = start.ok_or_else(|| InvalidObject::Resource("VEVENT without DTSTART".into()))?;
    let end_secs = match (end, duration) {
        (Some(e), _) => {
            if e.is_date != s.is_date {
                return Err(InvalidObject::Resource("DTEND and DTSTART must both be DATE or both DATE-TIME".into()));
            }
            if e.secs < s.secs && e.local == s.local {
                return Err(InvalidObject::Resource("DTEND is before DTSTART".into()));
            }
            hi(e)
        }
        (None, Some(d)) => hi(s) + d.max(0),
        // RFC 5545 §3.6.1: a DATE start without end lasts one day; a DATE-TIME start, no time.
        (None, None) => hi(s) + if s.is_date { DAY } else { 0 },
    };
    let _ = c;
    Ok(Span::of(lo(s), end_secs))
}

/// RFC 4791 §9.9: a VTODO covers DTSTART(+DURATION)/DUE, else COMPLETED/CREATED, else all time.
fn todo_span(c: &Component, start: Option<Instant>, duration: Option<i64>) -> Result<Span, InvalidObject> {
    let due = c.prop("DUE").map(parse_instant).transpose()?;
    let completed = c.prop("COMPLETED").map(parse_instant).transpose()?;
    let created = c.prop("CREATED").map(parse_instant).transpose()?;
    Ok(match (start, due) {
        (Some(s), Some(d)) => Span::of(lo(s).min(lo(d)), hi(d).max(hi(s))),
        (Some(s), None) => Span::of(lo(s), hi(s) + duration.unwrap_or(0).max(0)),
        (None, Some(d)) => Span::of(lo(d), hi(d)),
        (None, None) => match (completed, created) {
            (Some(a), Some(b)) => Span::of(lo(a).min(lo(b)), hi(a).max(hi(b))),
            (Some(a), None) | (None, Some(a)) => Span::of(lo(a), hi(a)),
            (None, None) => Span::unbounded(),
        },
    })
}

/// Extends the span over RRULE / RDATE instances (conservatively) and keeps it open-ended when
/// the rule has no bound that can be proven cheaply.
fn widen_for_recurrence(c: &Component, start: Option<Instant>, span: &mut Span) -> Result<(), InvalidObject> {
    let length = span.last.zip(span.first).map_or(0, |(l, f)| l - f);
    for rdate in c.props_named("RDATE") {
        for value in rdate.value.split(',').filter(|v| !v.trim().is_empty()) {
            // PERIOD values: start/end or start/duration.
            let (first, second) = value.split_once('/').unwrap_or((value, ""));
            let line = Line { name: "RDATE".into(), params: rdate.params.clone(), value: first.to_owned() };
            let s = parse_instant(&line)?;
            let end = if second.is_empty() {
                hi(s) + length
            } else if let Some(d) = parse_duration(second) {
                hi(s) + d
            } else {
                let e = Line { name: "RDATE".into(), params: rdate.params.clone(), value: second.to_owned() };
                hi(parse_instant(&e)?)
            };
            span.merge(Span::of(lo(s), end));
        }
    }
    let Some(rule) = c.prop("RRULE") else { return Ok(()) };
    let parts: Vec<(String, String)> = rule
        .value
        .split(';')
        .filter_map(|p| p.split_once('=').map(|(k, v)| (k.to_ascii_uppercase(), v.to_owned())))
        .collect();
    let get = |k: &str| parts.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let freq = get("FREQ").ok_or_else(|| InvalidObject::Resource(format!("RRULE without FREQ: {:?}", rule.value)))?;
    let period = match freq {
        "SECONDLY" => 1,
        "MINUTELY" => 60,
        "HOURLY" => 3600,
        "DAILY" => DAY,
        "WEEKLY" => 7 * DAY,
        "MONTHLY" => 31 * DAY,
        "YEARLY" => 366 * DAY,
        other => return Err(InvalidObject::Resource(format!("RRULE has an unknown FREQ {other:?}"))),
    };
    let interval: i64 = match get("INTERVAL") {
        Some(i) => i.parse().ok().filter(|n| *n > 0).ok_or_else(|| InvalidObject::Resource(format!("invalid INTERVAL {i:?}")))?,
        None => 1,
    };
    let has_by = parts.iter().any(|(k, _)| k.starts_with("BY"));
    let bound = if let Some(until) = get("UNTIL") {
        let line = Line { name: "UNTIL".into(), params: Vec::new(), value: until.to_owned() };
        Some(hi(parse_instant(&line)?) + length + WIDEN)
    } else if let (Some(count), false) = (get("COUNT"), has_by) {
        let n: i64 = count.parse().map_err(|_| InvalidObject::Resource(format!("invalid COUNT {count:?}")))?;
        // Without BY* parts every period holds one instance, except months and years that lack the
        // start's day (RFC 5545 §3.3.10 skips them): those stay open-ended.
        let s = start.map_or(0, |s| s.secs);
        let day = chrono::DateTime::from_timestamp(s, 0).map_or(1, |d| chrono::Datelike::day(&d));
        let skips = matches!(freq, "MONTHLY" | "YEARLY") && day > 28;
        (!skips).then(|| span.last.unwrap_or(s).saturating_add(n.saturating_mul(period).saturating_mul(interval)))
    } else {
        None
    };
    match bound {
        Some(b) => span.merge(Span::of(span.first.unwrap_or(b), b)),
        None => {
            span.open_last = true;
            span.last = None;
        }
    }
    Ok(())
}

/// VALARM triggers relative to the start or end, with REPEAT/DURATION, or absolute (RFC 5545
/// §3.8.6.3): the index covers them so alarm time-ranges find their objects.
fn widen_for_alarms(c: &Component, span: &mut Span) -> Result<(), InvalidObject> {
    for alarm in c.children.iter().filter(|a| a.name == "VALARM") {
        let Some(trigger) = alarm.prop("TRIGGER") else { continue };
        let repeat: i64 = alarm.prop("REPEAT").and_then(|r| r.value.trim().parse().ok()).unwrap_or(0);
        let every = alarm.prop("DURATION").and_then(|d| parse_duration(&d.value)).unwrap_or(0);
        let tail = repeat.max(0) * every.max(0);
        if trigger.param("VALUE").is_some_and(|v| v.eq_ignore_ascii_case("DATE-TIME")) {
            let t = parse_instant(trigger)?;
            span.merge(Span::of(lo(t), hi(t) + tail));
            continue;
        }
        let Some(offset) = parse_duration(&trigger.value) else {
            return Err(InvalidObject::Resource(format!("invalid TRIGGER {:?}", trigger.value)));
        };
        if let Some(first) = span.first.filter(|_| !span.open_first) {
            span.first = Some(first.min(first + offset));
        }
        if let Some(last) = span.last.filter(|_| !span.open_last) {
            span.last = Some(last.max(last + offset + tail));
        }
    }
    Ok(())
}

/// RFC 4791 §5.2.6/§5.2.7 on the start of every component.
fn check_range(comps: &[&Component], opts: &ValidateOptions) -> Result<(), InvalidObject> {
    for c in comps {
        for name in ["DTSTART", "DUE", "DTEND"] {
            if let Some(line) = c.prop(name) {
                let i = parse_instant(line)?;
                if hi(i) < opts.min_date_time {
                    return Err(InvalidObject::BeforeMin(format!("{name} {}", line.value)));
                }
                if lo(i) > opts.max_date_time {
                    return Err(InvalidObject::AfterMax(format!("{name} {}", line.value)));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const OPTS: ValidateOptions = ValidateOptions { min_date_time: -2_208_988_800, max_date_time: 4_133_980_799 };

    fn cal(body: &str) -> Vec<u8> {
        format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n{body}END:VCALENDAR\r\n").into_bytes()
    }
    fn ev(extra: &str) -> Vec<u8> {
        cal(&format!("BEGIN:VEVENT\r\nUID:u\r\nDTSTAMP:20260101T000000Z\r\n{extra}END:VEVENT\r\n"))
    }
    fn ts(s: &str) -> i64 {
        NaiveDateTime::parse_from_str(s, "%Y%m%dT%H%M%S").unwrap().and_utc().timestamp()
    }

    #[test]
    fn utc_event_is_exact() {
        let i = parse_object(&ev("DTSTART:20260105T100000Z\r\nDTEND:20260105T110000Z\r\n"), &OPTS).unwrap();
        assert_eq!((i.uid.as_str(), i.component), ("u", ComponentKind::Event));
        assert_eq!((i.first_start, i.last_end), (Some(ts("20260105T100000")), Some(ts("20260105T110000"))));
    }

    #[test]
    fn local_and_all_day_are_widened() {
        let i = parse_object(&ev("DTSTART;TZID=Europe/Berlin:20260105T100000\r\nDURATION:PT1H\r\n"), &OPTS).unwrap();
        assert_eq!(i.first_start, Some(ts("20260105T100000") - WIDEN));
        assert_eq!(i.last_end, Some(ts("20260105T110000") + WIDEN));
        let i = parse_object(&ev("DTSTART;VALUE=DATE:20260105\r\n"), &OPTS).unwrap();
        assert_eq!(i.last_end, Some(ts("20260106T000000") + WIDEN));
    }

    #[test]
    fn recurrence_bounds() {
        let infinite = parse_object(&ev("DTSTART:20260105T100000Z\r\nRRULE:FREQ=WEEKLY;BYDAY=MO,WE\r\n"), &OPTS).unwrap();
        assert_eq!((infinite.first_start.is_some(), infinite.last_end), (true, None));
        let until = parse_object(&ev("DTSTART:20260105T100000Z\r\nDTEND:20260105T110000Z\r\nRRULE:FREQ=DAILY;UNTIL=20260110T100000Z\r\n"), &OPTS).unwrap();
        assert_eq!(until.last_end, Some(ts("20260110T110000") + WIDEN));
        let count = parse_object(&ev("DTSTART:20260105T100000Z\r\nRRULE:FREQ=DAILY;COUNT=3\r\n"), &OPTS).unwrap();
        assert!(count.last_end.unwrap() >= ts("20260107T100000"));
        let override_moved = parse_object(
            &cal("BEGIN:VEVENT\r\nUID:r\r\nDTSTART:20260105T100000Z\r\nRRULE:FREQ=DAILY;COUNT=2\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:r\r\nRECURRENCE-ID:20260106T100000Z\r\nDTSTART:20270101T100000Z\r\nEND:VEVENT\r\n"),
            &OPTS,
        )
        .unwrap();
        assert_eq!(override_moved.last_end, Some(ts("20270101T100000")));
        let rdate = parse_object(&ev("DTSTART:20260105T100000Z\r\nRDATE:20260301T100000Z,20250101T100000Z\r\n"), &OPTS).unwrap();
        assert_eq!((rdate.first_start, rdate.last_end), (Some(ts("20250101T100000")), Some(ts("20260301T100000"))));
    }

    #[test]
    fn alarms_widen() {
        let i = parse_object(
            &ev("DTSTART:20260105T100000Z\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-P1D\r\nEND:VALARM\r\n"),
            &OPTS,
        )
        .unwrap();
        assert_eq!(i.first_start, Some(ts("20260104T100000")));
    }

    #[test]
    fn todos_per_rfc4791_9_9() {
        let t = |body: &str| parse_object(&cal(&format!("BEGIN:VTODO\r\nUID:t\r\n{body}END:VTODO\r\n")), &OPTS).unwrap();
        assert_eq!((t("").first_start, t("").last_end), (None, None));
        assert_eq!(t("DUE:20260105T100000Z\r\n").last_end, Some(ts("20260105T100000")));
    }

    #[test]
    fn refusals() {
        let res = |b: &[u8]| parse_object(b, &OPTS).unwrap_err();
        assert!(matches!(res(b"\xff\xfe"), InvalidObject::Data(_)));
        assert!(matches!(res(b"hello"), InvalidObject::Data(_)));
        assert!(matches!(res(&cal("METHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTART:20260101T000000Z\r\nEND:VEVENT\r\n")), InvalidObject::Resource(_)));
        assert!(matches!(res(&cal("")), InvalidObject::Resource(_)));
        assert!(matches!(res(&ev("")), InvalidObject::Resource(_)), "VEVENT without DTSTART");
        assert!(matches!(res(&ev("DTSTART:20260105T100000Z\r\nDTEND:20260104T100000Z\r\n")), InvalidObject::Resource(_)));
        assert!(matches!(res(&ev("DTSTART:20260105T100000Z\r\nDTEND:20260105T110000Z\r\nDURATION:PT1H\r\n")), InvalidObject::Resource(_)));
        assert!(matches!(res(&ev("DTSTART;VALUE=DATE:20260105\r\nDTEND:20260106T000000Z\r\n")), InvalidObject::Resource(_)));
        assert!(matches!(res(&ev("DTSTART:18000105T100000Z\r\n")), InvalidObject::BeforeMin(_)));
        assert!(matches!(res(&ev("DTSTART:22000105T100000Z\r\n")), InvalidObject::AfterMax(_)));
        let mixed = cal("BEGIN:VEVENT\r\nUID:a\r\nDTSTART:20260101T000000Z\r\nEND:VEVENT\r\nBEGIN:VTODO\r\nUID:a\r\nEND:VTODO\r\n");
        assert!(matches!(res(&mixed), InvalidObject::Resource(_)));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("PT1H30M"), Some(5400));
        assert_eq!(parse_duration("-P1W"), Some(-7 * DAY));
        assert_eq!(parse_duration("P1DT2H"), Some(DAY + 7200));
        assert_eq!(parse_duration("P"), None);
        assert_eq!(parse_duration("PT1D"), None);
    }
}
