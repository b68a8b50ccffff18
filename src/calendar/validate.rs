//! Parsing and validation of calendar object resources (RFC 4791 §4.1, §5.3.2; RFC 5545), and
//! the index facts (UID, kind, first/last instant) computed from them at write time.
//!
//! Liberal where RFC 5545 allows it (missing VERSION/PRODID/DTSTAMP, unknown TZIDs, DATE vs
//! DATE-TIME mixes in RDATE/EXDATE/RECURRENCE-ID, UNTIL before DTSTART), strict where it does
//! not; every refusal carries a one-line reason naming the rule.

use calcard::Entry;
use calcard::icalendar::{ICalendar, ICalendarComponentType, ICalendarProperty};

use super::model::{self, Timing};
use super::time::{CalTime, naive};
use super::tz::Zones;
use super::timeline::{self, Timeline};
use super::{CalendarIndex, ComponentKind, Timestamp, index, raw};

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
    validated(data, opts, |_, _, _| ()).map(|(index, ())| index)
}

/// What a write stores beside the bytes: the index facts and, for an event that has one, the
/// instance timeline laid out to `horizon` (see `timeline`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Indexed {
    pub index: CalendarIndex,
    pub timeline: Option<Timeline>,
}

/// `parse_object` plus the instance timeline, from the one parse.
pub fn index_object(data: &[u8], opts: &ValidateOptions, horizon: Timestamp) -> Result<Indexed, InvalidObject> {
    let (index, timeline) = validated(data, opts, |kind, timings, _| timeline::build(kind, timings, horizon))?;
    Ok(Indexed { index, timeline })
}

/// The calcard parse of an object, as validation made it.
pub type Parsed = ICalendar;

/// `index_object`, also handing its parse to `then`: a write's other reader of the same bytes
/// (the alarm schedule) needs no parse of its own.
pub fn index_object_then<R>(
    data: &[u8],
    opts: &ValidateOptions,
    horizon: Timestamp,
    then: impl FnOnce(&Parsed) -> R,
) -> Result<(Indexed, R), InvalidObject> {
    let (index, (timeline, more)) =
        validated(data, opts, |kind, timings, ical| (timeline::build(kind, timings, horizon), then(ical)))?;
    Ok((Indexed { index, timeline }, more))
}

/// The timeline of stored bytes, for laying it out again later; `None` also when the bytes no
/// longer validate (written by an older server), which leaves them to exact evaluation.
pub fn timeline_of(data: &[u8], horizon: Timestamp) -> Option<Timeline> {
    let any_time = ValidateOptions { min_date_time: Timestamp::MIN, max_date_time: Timestamp::MAX };
    index_object(data, &any_time, horizon).ok().and_then(|i| i.timeline)
}

/// Validates, computes the index facts and hands the checked components to `more`.
fn validated<R>(
    data: &[u8],
    opts: &ValidateOptions,
    more: impl FnOnce(ComponentKind, &[Timing<'_>], &ICalendar) -> R,
) -> Result<(CalendarIndex, R), InvalidObject> {
    let text = std::str::from_utf8(data).map_err(|e| {
        InvalidObject::Data(format!(
            "the body is not UTF-8 (bad byte at offset {}, RFC 5545 §3.1.4)",
            e.valid_up_to()
        ))
    })?;
    // RFC 5545 §3.1, §3.3.11: content lines carry no control characters but HTAB; a NUL is
    // not iCalendar (and PostgreSQL's TEXT could not hold a UID with one, where SQLite would:
    // the engines would disagree).
    if let Some(at) = data.iter().position(|b| *b == 0) {
        return Err(InvalidObject::Data(format!("the body holds a NUL character at offset {at} (RFC 5545 §3.1)")));
    }
    let ical = parse_vcalendar(text)?;
    check_calendar_properties(&ical)?;
    let (kind, ids) = calendar_components(&ical)?;
    let zones = Zones::of(&ical);
    let timings = ids
        .iter()
        .map(|&id| model::read(&ical, id, &zones))
        .collect::<Result<Vec<_>, _>>()?;
    let uid = single_uid(kind, &timings)?;
    check_overrides(kind, &timings)?;
    for timing in &timings {
        check_component(kind, timing)?;
    }
    let facts = index::compute(kind, &timings)?;
    check_limits(facts.face, opts)?;
    let index = CalendarIndex {
        uid,
        component: kind,
        first_start: facts.range.lo,
        last_end: facts.range.hi,
    };
    Ok((index, more(kind, &timings, &ical)))
}

/// Parses exactly one VCALENDAR, after checking the content-line syntax calcard forgives.
pub(crate) fn parse_vcalendar(text: &str) -> Result<ICalendar, InvalidObject> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    raw::check_syntax(text).map_err(InvalidObject::Data)?;
    let mut parser = calcard::Parser::new(text);
    let ical = match parser.entry() {
        Entry::ICalendar(ical) => ical,
        other => return Err(InvalidObject::Data(unparsed(other))),
    };
    if let Some(root) = ical
        .components
        .first()
        .filter(|c| c.component_type != ICalendarComponentType::VCalendar)
    {
        let name = root.component_type.as_str();
        return Err(InvalidObject::Data(format!(
            "the body is a bare {name}, not wrapped in a VCALENDAR (RFC 5545 §3.4)"
        )));
    }
    match parser.entry() {
        Entry::Eof => Ok(ical),
        Entry::ICalendar(_) => Err(InvalidObject::Data(
            "the body holds more than one VCALENDAR (RFC 4791 §4.1)".into(),
        )),
        other => Err(InvalidObject::Data(format!(
            "content after END:VCALENDAR: {}",
            unparsed(other)
        ))),
    }
}

fn unparsed(entry: Entry) -> String {
    match entry {
        Entry::Eof => "the body holds no VCALENDAR (RFC 5545 §3.4)".into(),
        Entry::VCard(_) => "the body is a vCard, not iCalendar".into(),
        Entry::InvalidLine(line) => {
            format!("unexpected line {line:?} outside any component (RFC 5545 §3.4)")
        }
        Entry::UnexpectedComponentEnd { expected, found } => {
            format!(
                "END:{} where END:{} was expected (RFC 5545 §3.4)",
                found.as_str(),
                expected.as_str()
            )
        }
        Entry::UnterminatedComponent(name) => {
            format!("BEGIN:{name} is never ended (RFC 5545 §3.4)")
        }
        Entry::TooManyComponents => "too many nested components".into(),
        _ => "not parseable as iCalendar (RFC 5545 §3.4)".into(),
    }
}

/// RFC 4791 §4.1: no METHOD in stored objects. A VERSION other than 2.0 is vCalendar or
/// unknown; a missing one is tolerated (common, and harmless).
fn check_calendar_properties(ical: &ICalendar) -> Result<(), InvalidObject> {
    let Some(root) = ical.components.first() else {
        return Ok(());
    };
    if let Some(method) = root.property(&ICalendarProperty::Method) {
        let value = method
            .values
            .first()
            .and_then(|v| v.as_text())
            .unwrap_or_default();
        return Err(InvalidObject::Resource(format!(
            "METHOD:{value} marks an iTIP message; a stored calendar object must not have METHOD (RFC 4791 §4.1)"
        )));
    }
    let version = root
        .property(&ICalendarProperty::Version)
        .and_then(|v| v.values.first())
        .and_then(|v| v.as_text());
    match version {
        Some(v) if v.trim() != "2.0" => Err(InvalidObject::Data(format!(
            "VERSION:{v} is not iCalendar 2.0 (RFC 5545 §3.7.4)"
        ))),
        _ => Ok(()),
    }
}

/// The one component kind of the object and the ids of its components (RFC 4791 §4.1);
/// VTIMEZONEs and unknown (X-) components are set aside.
fn calendar_components(ical: &ICalendar) -> Result<(ComponentKind, Vec<u32>), InvalidObject> {
    let children = ical
        .components
        .first()
        .map(|root| root.component_ids.as_slice())
        .unwrap_or_default();
    let mut kind: Option<ComponentKind> = None;
    let mut ids = Vec::new();
    for &id in children {
        let Some(this) = ical
            .component_by_id(id)
            .and_then(|c| ComponentKind::parse(c.component_type.as_str()))
        else {
            continue;
        };
        if let Some(first) = kind.filter(|k| *k != this) {
            return Err(InvalidObject::Resource(format!(
                "the object mixes {} and {}; a calendar object resource holds one component type (RFC 4791 §4.1)",
                first.as_str(),
                this.as_str()
            )));
        }
        kind = Some(this);
        ids.push(id);
    }
    let kind = kind.ok_or_else(|| {
        InvalidObject::Resource(
            "the object has no VEVENT, VTODO, VJOURNAL or VFREEBUSY (RFC 4791 §4.1)".into(),
        )
    })?;
    Ok((kind, ids))
}

/// RFC 4791 §4.1: every component has the same UID (RFC 5545 §3.8.4.7 makes it required).
fn single_uid(kind: ComponentKind, timings: &[Timing<'_>]) -> Result<String, InvalidObject> {
    let mut uid: Option<&str> = None;
    for timing in timings {
        let this = timing
            .uid
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .ok_or_else(|| {
                InvalidObject::Resource(format!(
                    "a {} has no UID (RFC 5545 §3.8.4.7)",
                    kind.as_str()
                ))
            })?;
        if let Some(first) = uid.filter(|u| *u != this) {
            return Err(InvalidObject::Resource(format!(
                "the components have different UIDs ({first:?}, {this:?}); each UID is its own resource (RFC 4791 §4.1)"
            )));
        }
        uid = Some(this);
    }
    Ok(uid.unwrap_or_default().to_string())
}

/// RFC 4791 §4.1: at most one master (a component without RECURRENCE-ID), and each override
/// names a different instance (RFC 5545 §3.8.4.4). Overrides without a master are allowed.
fn check_overrides(kind: ComponentKind, timings: &[Timing<'_>]) -> Result<(), InvalidObject> {
    if timings.iter().filter(|t| t.recurrence_id.is_none()).count() > 1 {
        return Err(InvalidObject::Resource(format!(
            "more than one {} without RECURRENCE-ID; only one master is allowed (RFC 4791 §4.1)",
            kind.as_str()
        )));
    }
    let rids: Vec<CalTime> = timings.iter().filter_map(|t| t.recurrence_id).collect();
    for (i, rid) in rids.iter().enumerate() {
        if let Some(twin) = rids[i + 1..].iter().find(|other| other.same_instant(rid)) {
            return Err(InvalidObject::Resource(format!(
                "two overrides name the same instance ({rid} and {twin}); each is overridden once (RFC 5545 §3.8.4.4)"
            )));
        }
    }
    Ok(())
}

fn check_component(kind: ComponentKind, t: &Timing<'_>) -> Result<(), InvalidObject> {
    match kind {
        ComponentKind::Event => check_event(t),
        ComponentKind::Todo => check_todo(t),
        ComponentKind::Journal | ComponentKind::FreeBusy => Ok(()),
    }
}

/// RFC 5545 §3.6.1 and §3.8.2.2.
fn check_event(t: &Timing<'_>) -> Result<(), InvalidObject> {
    let resource = |why: &str| Err(InvalidObject::Resource(why.to_string()));
    let Some(start) = t.dtstart else {
        return resource("a VEVENT has no DTSTART (required without METHOD, RFC 5545 §3.6.1)");
    };
    if t.dtend.is_some() && t.duration.is_some() {
        return resource(
            "a VEVENT has both DTEND and DURATION; only one may be given (RFC 5545 §3.6.1)",
        );
    }
    let Some(end) = t.dtend else {
        return Ok(());
    };
    if end.is_date != start.is_date {
        let (s, e) = (value_type(&start), value_type(&end));
        return Err(InvalidObject::Resource(format!(
            "DTSTART is a {s} but DTEND a {e}; they must have the same value type (RFC 5545 §3.8.2.2)"
        )));
    }
    if definitely_before(&end, &start) {
        return Err(InvalidObject::Resource(format!(
            "DTEND {end} is before DTSTART {start} (RFC 5545 §3.8.2.2)"
        )));
    }
    Ok(())
}

/// RFC 5545 §3.6.2: DUE and DURATION exclude each other, and DURATION needs DTSTART. DUE's value
/// type and order against DTSTART are left to clients: tasks apps disagree on them and RFC 4791
/// §9.9 evaluates every combination.
fn check_todo(t: &Timing<'_>) -> Result<(), InvalidObject> {
    let resource = |why: &str| Err(InvalidObject::Resource(why.to_string()));
    match (t.dtstart, t.due, t.duration) {
        (_, Some(_), Some(_)) => {
            resource("a VTODO has both DUE and DURATION; only one may be given (RFC 5545 §3.6.2)")
        }
        (None, _, Some(_)) => resource("a VTODO has DURATION but no DTSTART (RFC 5545 §3.6.2)"),
        _ => Ok(()),
    }
}

fn value_type(t: &CalTime) -> &'static str {
    if t.is_date { "DATE" } else { "DATE-TIME" }
}

/// Before in every reading: compared as stated when both float or both are fixed, and only
/// when no zone could reorder them otherwise.
fn definitely_before(a: &CalTime, b: &CalTime) -> bool {
    if a.is_floating() == b.is_floating() {
        a.face() < b.face()
    } else {
        a.span().latest < b.span().earliest
    }
}

/// RFC 4791 §5.2.6 / §5.2.7 against the instances as stated. An unbounded recurrence is not
/// refused for max-date-time: that would refuse every birthday, and queries expand it only
/// inside their window.
fn check_limits(face: Option<index::Range>, opts: &ValidateOptions) -> Result<(), InvalidObject> {
    let Some(face) = face else {
        return Ok(());
    };
    if let Some(lo) = face.lo.filter(|lo| *lo < opts.min_date_time) {
        return Err(InvalidObject::BeforeMin(format!(
            "an instance at {} is before min-date-time {} (RFC 4791 §5.2.6)",
            iso(lo),
            iso(opts.min_date_time)
        )));
    }
    if let Some(hi) = face.hi.filter(|hi| *hi > opts.max_date_time) {
        return Err(InvalidObject::AfterMax(format!(
            "an instance at {} is after max-date-time {} (RFC 4791 §5.2.7)",
            iso(hi),
            iso(opts.max_date_time)
        )));
    }
    Ok(())
}

fn iso(ts: Timestamp) -> String {
    naive(ts).format("%Y%m%dT%H%M%SZ").to_string()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const ANY_TIME: ValidateOptions = ValidateOptions {
        min_date_time: i64::MIN,
        max_date_time: i64::MAX,
    };

    fn cal(body: &str) -> String {
        format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\n{}\r\nEND:VCALENDAR\r\n",
            body.replace('\n', "\r\n")
        )
    }

    fn event(props: &str) -> String {
        cal(&format!(
            "BEGIN:VEVENT\nUID:u1\nDTSTAMP:20240101T000000Z\n{props}\nEND:VEVENT"
        ))
    }

    fn parse(text: &str) -> Result<CalendarIndex, InvalidObject> {
        parse_object(text.as_bytes(), &ANY_TIME)
    }

    fn data(text: &str) -> String {
        match parse(text) {
            Err(InvalidObject::Data(why)) => why,
            other => panic!("expected Data, got {other:?}"),
        }
    }

    fn resource(text: &str) -> String {
        match parse(text) {
            Err(InvalidObject::Resource(why)) => why,
            other => panic!("expected Resource, got {other:?}"),
        }
    }

    #[test]
    fn accepts_a_plain_event() {
        let index = parse(&event("DTSTART:20240101T100000Z\nDTEND:20240101T110000Z")).unwrap();
        let expected = CalendarIndex {
            uid: "u1".into(),
            component: ComponentKind::Event,
            first_start: Some(1_704_103_200),
            last_end: Some(1_704_106_800),
        };
        assert_eq!(index, expected);
    }

    #[test]
    fn not_utf8_is_invalid_data() {
        assert_eq!(
            parse_object(b"BEG\xffIN:VCALENDAR", &ANY_TIME),
            Err(InvalidObject::Data(
                "the body is not UTF-8 (bad byte at offset 3, RFC 5545 §3.1.4)".into()
            ))
        );
    }

    #[test]
    fn unparseable_bodies_are_invalid_data() {
        assert_eq!(data(""), "the body holds no VCALENDAR (RFC 5545 §3.4)");
        assert_eq!(
            data("hello world"),
            "line 1: no ':' between the property name and its value (RFC 5545 §3.1)"
        );
        assert_eq!(
            data("hello world: x"),
            "line 1: property name \"hello world\" contains ' ' (RFC 5545 §3.1)"
        );
        assert_eq!(
            data("SUMMARY:hi"),
            "unexpected line \"SUMMARY:hi\" outside any component (RFC 5545 §3.4)"
        );
        assert_eq!(
            data("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nEND:VCALENDAR\r\n"),
            "line 3: END:VCALENDAR closes BEGIN:VEVENT (RFC 5545 §3.6)"
        );
        assert_eq!(
            data("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"),
            "BEGIN:VCALENDAR is never ended (RFC 5545 §3.6)"
        );
        assert_eq!(
            data(&event("DTSTART;;VALUE=DATE-TIME:20140409T093000")),
            "line 7: empty parameter name (RFC 5545 §3.1)"
        );
        assert_eq!(
            data(&event("DTSTART:20240101T100000Z\nX")),
            "line 8: no ':' between the property name and its value (RFC 5545 §3.1)"
        );
    }

    #[test]
    fn exactly_one_vcalendar() {
        let one = event("DTSTART:20240101T100000Z");
        assert_eq!(
            data(&format!("{one}{one}")),
            "the body holds more than one VCALENDAR (RFC 4791 §4.1)"
        );
        assert_eq!(
            data("BEGIN:VEVENT\r\nUID:a\r\nDTSTART:20240101T100000Z\r\nEND:VEVENT\r\n"),
            "the body is a bare VEVENT, not wrapped in a VCALENDAR (RFC 5545 §3.4)"
        );
        assert_eq!(
            data("BEGIN:VCARD\r\nFN:x\r\nEND:VCARD\r\n"),
            "the body is a vCard, not iCalendar"
        );
    }

    #[test]
    fn malformed_values_are_invalid_data() {
        assert_eq!(
            data(&event("DTSTART:tomorrow")),
            "DTSTART value is not a DATE or DATE-TIME (RFC 5545 §3.3.4, §3.3.5)"
        );
        assert_eq!(
            data(&event("DTSTART:20240230T100000Z")),
            "DTSTART value is not a DATE or DATE-TIME (RFC 5545 §3.3.4, §3.3.5)"
        );
        assert_eq!(
            data(&event("DTSTART:20240101T100000Z\nDURATION:1 hour")),
            "DURATION value is not a DURATION (RFC 5545 §3.3.6)"
        );
        assert_eq!(
            data(&event("DTSTART:20240101T100000Z\nEXDATE:soon")),
            "EXDATE value is not a list of DATE, DATE-TIME or PERIOD values (RFC 5545 §3.8.5.2)"
        );
    }

    #[test]
    fn version_other_than_2_is_invalid_data_but_missing_version_is_fine() {
        let v1 = event("DTSTART:20240101T100000Z").replace("VERSION:2.0", "VERSION:1.0");
        assert_eq!(
            data(&v1),
            "VERSION:1.0 is not iCalendar 2.0 (RFC 5545 §3.7.4)"
        );
        let bare =
            event("DTSTART:20240101T100000Z").replace("VERSION:2.0\r\nPRODID:-//Test//EN\r\n", "");
        assert_eq!(parse(&bare).unwrap().first_start, Some(1_704_103_200));
    }

    #[test]
    fn method_is_refused() {
        let text = event("DTSTART:20240101T100000Z")
            .replace("VERSION:2.0", "VERSION:2.0\r\nMETHOD:REQUEST");
        assert_eq!(
            resource(&text),
            "METHOD:REQUEST marks an iTIP message; a stored calendar object must not have METHOD (RFC 4791 §4.1)"
        );
    }

    #[test]
    fn needs_a_calendar_component() {
        let why = "the object has no VEVENT, VTODO, VJOURNAL or VFREEBUSY (RFC 4791 §4.1)";
        assert_eq!(resource(&cal("X-NOTHING:here")), why);
        assert_eq!(
            resource(&cal("BEGIN:VTIMEZONE\nTZID:Europe/Paris\nEND:VTIMEZONE")),
            why
        );
    }

    #[test]
    fn mixed_kinds_are_refused_but_vtimezone_and_x_components_are_not() {
        let mixed = cal(
            "BEGIN:VEVENT\nUID:a\nDTSTART:20240101T100000Z\nEND:VEVENT\nBEGIN:VTODO\nUID:a\nEND:VTODO",
        );
        assert_eq!(
            resource(&mixed),
            "the object mixes VEVENT and VTODO; a calendar object resource holds one component type (RFC 4791 §4.1)"
        );
        let fine = cal(
            "BEGIN:VTIMEZONE\nTZID:Europe/Paris\nEND:VTIMEZONE\nBEGIN:X-THING\nUID:z\nEND:X-THING\nBEGIN:VEVENT\nUID:a\nDTSTART;TZID=Europe/Paris:20240101T100000\nEND:VEVENT",
        );
        assert_eq!(parse(&fine).unwrap().first_start, Some(1_704_099_600));
    }

    #[test]
    fn uids_are_required_and_equal() {
        assert_eq!(
            resource(&cal("BEGIN:VEVENT\nDTSTART:20240101T100000Z\nEND:VEVENT")),
            "a VEVENT has no UID (RFC 5545 §3.8.4.7)"
        );
        let two = cal(
            "BEGIN:VTODO\nUID:a\nEND:VTODO\nBEGIN:VTODO\nUID:b\nRECURRENCE-ID:20240101T000000Z\nEND:VTODO",
        );
        assert_eq!(
            resource(&two),
            "the components have different UIDs (\"a\", \"b\"); each UID is its own resource (RFC 4791 §4.1)"
        );
    }

    #[test]
    fn one_master_and_distinct_recurrence_ids() {
        let two_masters = cal(
            "BEGIN:VEVENT\nUID:a\nDTSTART:20240101T100000Z\nEND:VEVENT\nBEGIN:VEVENT\nUID:a\nDTSTART:20240102T100000Z\nEND:VEVENT",
        );
        assert_eq!(
            resource(&two_masters),
            "more than one VEVENT without RECURRENCE-ID; only one master is allowed (RFC 4791 §4.1)"
        );
        // The same instance named twice, once in UTC and once in New York time.
        let dup = cal(
            "BEGIN:VEVENT\nUID:a\nDTSTART:20240101T170000Z\nRRULE:FREQ=DAILY;COUNT=3\nEND:VEVENT\n\
BEGIN:VEVENT\nUID:a\nRECURRENCE-ID:20240102T170000Z\nDTSTART:20240102T180000Z\nEND:VEVENT\n\
BEGIN:VEVENT\nUID:a\nRECURRENCE-ID;TZID=America/New_York:20240102T120000\nDTSTART:20240102T190000Z\nEND:VEVENT",
        );
        assert_eq!(
            resource(&dup),
            "two overrides name the same instance (20240102T170000Z and TZID=America/New_York:20240102T120000); each is overridden once (RFC 5545 §3.8.4.4)"
        );
    }

    #[test]
    fn overrides_without_master_are_accepted() {
        let only = cal(
            "BEGIN:VEVENT\nUID:a\nRECURRENCE-ID:20240102T170000Z\nDTSTART:20240102T180000Z\nEND:VEVENT",
        );
        assert_eq!(parse(&only).unwrap().first_start, Some(1_704_218_400));
    }

    #[test]
    fn vevent_needs_dtstart() {
        assert_eq!(
            resource(&event("SUMMARY:when?")),
            "a VEVENT has no DTSTART (required without METHOD, RFC 5545 §3.6.1)"
        );
    }

    #[test]
    fn dtend_and_duration_exclude_each_other() {
        let both = event("DTSTART:20240101T100000Z\nDTEND:20240101T110000Z\nDURATION:PT1H");
        assert_eq!(
            resource(&both),
            "a VEVENT has both DTEND and DURATION; only one may be given (RFC 5545 §3.6.1)"
        );
    }

    #[test]
    fn dtend_before_dtstart_is_refused_but_equal_is_not() {
        let before = event("DTSTART:20240101T100000Z\nDTEND:20240101T090000Z");
        assert_eq!(
            resource(&before),
            "DTEND 20240101T090000Z is before DTSTART 20240101T100000Z (RFC 5545 §3.8.2.2)"
        );
        // Compared in UTC: 10:00 in Paris is 09:00Z, after 08:30Z.
        let zoned = event("DTSTART:20240101T083000Z\nDTEND;TZID=Europe/Paris:20240101T100000");
        assert_eq!(parse(&zoned).unwrap().last_end, Some(1_704_099_600));
        let equal = event("DTSTART:20240101T100000Z\nDTEND:20240101T100000Z");
        assert_eq!(parse(&equal).unwrap().last_end, Some(1_704_103_200));
    }

    #[test]
    fn dtend_value_type_must_match_dtstart() {
        let mixed = event("DTSTART;VALUE=DATE:20240101\nDTEND:20240102T000000Z");
        assert_eq!(
            resource(&mixed),
            "DTSTART is a DATE but DTEND a DATE-TIME; they must have the same value type (RFC 5545 §3.8.2.2)"
        );
    }

    #[test]
    fn vtodo_due_and_duration_rules() {
        let todo = |props: &str| cal(&format!("BEGIN:VTODO\nUID:t\n{props}\nEND:VTODO"));
        assert_eq!(
            resource(&todo(
                "DTSTART:20240101T100000Z\nDUE:20240102T100000Z\nDURATION:PT1H"
            )),
            "a VTODO has both DUE and DURATION; only one may be given (RFC 5545 §3.6.2)"
        );
        assert_eq!(
            resource(&todo("DURATION:PT1H")),
            "a VTODO has DURATION but no DTSTART (RFC 5545 §3.6.2)"
        );
        // Left to clients: DUE before DTSTART, and DUE of another value type.
        assert!(parse(&todo("DTSTART:20240102T100000Z\nDUE;VALUE=DATE:20240101")).is_ok());
    }

    #[test]
    fn a_nul_is_not_icalendar() {
        // SQLite would store a UID holding one and PostgreSQL would fail: refused for both.
        let why = data(&event("DTSTART:20240101T100000Z\nSUMMARY:a\u{0}b"));
        assert!(why.contains("NUL") && why.contains("RFC 5545 §3.1"), "{why}");
    }

    #[test]
    fn invalid_rrules_are_refused() {
        // Not valid iCalendar: valid-calendar-data (RFC 4791 §5.3.2.1).
        assert_eq!(
            data(&event("DTSTART:20240101T100000Z\nRRULE:FREQ=FORTNIGHTLY")),
            "RRULE \"FREQ=FORTNIGHTLY\" is not a valid recurrence rule (RFC 5545 §3.3.10)"
        );
        let why = data(&event(
            "DTSTART:20240101T100000Z\nRRULE:FREQ=WEEKLY;BYMONTHDAY=1",
        ));
        assert!(
            why.starts_with("invalid RRULE: ")
                && why.contains("BYMONTHDAY")
                && why.ends_with("(RFC 5545 §3.3.10)"),
            "{why}"
        );
    }

    #[test]
    fn instants_outside_min_and_max_date_time_are_refused() {
        let opts = ValidateOptions {
            min_date_time: 1_704_067_200,
            max_date_time: 1_735_689_600,
        }; // 2024
        let early = event("DTSTART:20231231T230000Z\nDTEND:20240101T010000Z");
        assert_eq!(
            parse_object(early.as_bytes(), &opts),
            Err(InvalidObject::BeforeMin("an instance at 20231231T230000Z is before min-date-time 20240101T000000Z (RFC 4791 §5.2.6)".into()))
        );
        // The last instance of a finite rule counts, not only DTSTART.
        let late = event("DTSTART:20241230T100000Z\nRRULE:FREQ=DAILY;COUNT=3");
        assert_eq!(
            parse_object(late.as_bytes(), &opts),
            Err(InvalidObject::AfterMax("an instance at 20250101T100000Z is after max-date-time 20250101T000000Z (RFC 4791 §5.2.7)".into()))
        );
        let infinite = event("DTSTART:20241230T100000Z\nRRULE:FREQ=YEARLY");
        assert!(parse_object(infinite.as_bytes(), &opts).is_ok());
        // A floating time is compared as stated, not widened.
        let floating = event("DTSTART:20240101T000000");
        assert!(parse_object(floating.as_bytes(), &opts).is_ok());
    }

    #[test]
    fn liberal_where_rfc_5545_allows() {
        // Byte-order mark, LF line endings, no VERSION/PRODID/DTSTAMP, unknown TZID, DATE EXDATE
        // against DATE-TIME instances, UNTIL before DTSTART, empty RDATE.
        let text = "\u{feff}BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:x\nDTSTART;TZID=Mars/Olympus:20240101T100000\n\
RRULE:FREQ=DAILY;UNTIL=20231201T000000Z\nEXDATE;VALUE=DATE:20240101\nRDATE:\nEND:VEVENT\nEND:VCALENDAR\n";
        let index = parse(text).unwrap();
        assert_eq!(
            (index.first_start, index.last_end),
            (
                Some(1_704_103_200 - 14 * 3600),
                Some(1_704_103_200 + 12 * 3600)
            )
        );
    }
}
