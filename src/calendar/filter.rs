//! The calendar-query filter (RFC 4791 §9.7) as a domain AST, and its exact evaluation over a
//! parsed object. Time ranges are decided by the caller's oracle, which knows recurrence and
//! time zones (RFC 4791 §9.9); everything else is decided here.

use super::ical::{Component, Line, unescape_text};

/// RFC 4791 §9.7.1: the filter's root is a comp-filter on VCALENDAR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompFilter {
    /// Upper-case component name (VCALENDAR, VEVENT, VALARM, …).
    pub name: String,
    pub is_not_defined: bool,
    pub time_range: Option<TimeRange>,
    pub props: Vec<PropFilter>,
    pub comps: Vec<CompFilter>,
}

/// RFC 4791 §9.7.2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropFilter {
    pub name: String,
    pub is_not_defined: bool,
    pub time_range: Option<TimeRange>,
    pub text_match: Option<TextMatch>,
    pub params: Vec<ParamFilter>,
}

/// RFC 4791 §9.7.3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamFilter {
    pub name: String,
    pub is_not_defined: bool,
    pub text_match: Option<TextMatch>,
}

/// RFC 4791 §9.7.5: substring match under a collation, possibly negated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextMatch {
    pub text: String,
    pub collation: Collation,
    pub negate: bool,
}

/// RFC 4790 collations; RFC 4791 §7.5.1 requires the first two, RFC 5051 defines the third.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collation {
    AsciiCasemap,
    Octet,
    UnicodeCasemap,
}

impl Collation {
    pub fn parse(name: &str) -> Option<Collation> {
        match name {
            "i;ascii-casemap" => Some(Collation::AsciiCasemap),
            "i;octet" => Some(Collation::Octet),
            "i;unicode-casemap" => Some(Collation::UnicodeCasemap),
            _ => None,
        }
    }
}

/// RFC 4791 §9.9: [start, end) in UTC seconds; a missing side is unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    pub start: Option<i64>,
    pub end: Option<i64>,
}

/// Decides time ranges: `component` matches when any of its instances overlaps (§9.9), and a
/// property's value when it falls inside (§9.9, DATE/DATE-TIME properties).
///
/// Evaluation is monotone in the oracle's answers: a time test is only ever combined by "and"
/// and "any" (is-not-defined never consults it, negate-condition applies to text only), so an
/// answer turned from false to true can only turn the result from false to true. An oracle may
/// therefore answer false for a test it cannot decide and report that only when the result is
/// false. Keep it so.
pub trait TimeOracle {
    fn component_overlaps(&self, parent: &Component, component: &Component, range: &TimeRange) -> bool;
    fn property_in_range(&self, property: &Line, range: &TimeRange) -> bool;
}

/// Does the VCALENDAR `root` satisfy `filter`?
pub fn matches(filter: &CompFilter, root: &Component, oracle: &dyn TimeOracle) -> bool {
    if filter.name != root.name {
        return filter.is_not_defined;
    }
    if filter.is_not_defined {
        return false;
    }
    comp_body_matches(filter, None, root, oracle)
}

/// §9.7.1: a comp-filter on children named `filter.name` of `parent`.
fn comp_filter_matches(filter: &CompFilter, parent: &Component, oracle: &dyn TimeOracle) -> bool {
    let mut candidates = parent.children.iter().filter(|c| c.name == filter.name).peekable();
    if filter.is_not_defined {
        return candidates.peek().is_none();
    }
    candidates.any(|c| comp_body_matches(filter, Some(parent), c, oracle))
}

fn comp_body_matches(filter: &CompFilter, parent: Option<&Component>, c: &Component, oracle: &dyn TimeOracle) -> bool {
    if let (Some(range), Some(parent)) = (&filter.time_range, parent)
        && !oracle.component_overlaps(parent, c, range)
    {
        return false;
    }
    filter.props.iter().all(|p| prop_filter_matches(p, c, oracle))
        && filter.comps.iter().all(|f| comp_filter_matches(f, c, oracle))
}

/// §9.7.2: true when some property of that name passes every test (or, with is-not-defined,
/// when there is none).
fn prop_filter_matches(filter: &PropFilter, c: &Component, oracle: &dyn TimeOracle) -> bool {
    let mut props = c.props.iter().filter(|p| p.name == filter.name).peekable();
    if filter.is_not_defined {
        return props.peek().is_none();
    }
    props.any(|p| {
        filter.time_range.as_ref().is_none_or(|r| oracle.property_in_range(p, r))
            && filter.text_match.as_ref().is_none_or(|m| text_matches(m, &unescape_text(&p.value)))
            && filter.params.iter().all(|f| param_filter_matches(f, p))
    })
}

/// §9.7.3.
fn param_filter_matches(filter: &ParamFilter, p: &Line) -> bool {
    let mut values = p.params.iter().filter(|(n, _)| *n == filter.name).map(|(_, v)| v).peekable();
    if filter.is_not_defined {
        return values.peek().is_none();
    }
    values.any(|v| filter.text_match.as_ref().is_none_or(|m| text_matches(m, v)))
}

/// §9.7.5: substring match under the collation, then negation.
pub fn text_matches(m: &TextMatch, value: &str) -> bool {
    let found = match m.collation {
        Collation::Octet => value.contains(&m.text),
        Collation::AsciiCasemap => value.to_ascii_lowercase().contains(&m.text.to_ascii_lowercase()),
        // RFC 5051 titlecase folding approximated by full Unicode lowercase folding.
        Collation::UnicodeCasemap => value.to_lowercase().contains(&m.text.to_lowercase()),
    };
    found != m.negate
}

/// Checks the filter against RFC 5545's component grammar (RFC 4791 §9.7.1: a comp-filter names
/// a component that can appear where it stands) and the places where §9.9 gives time-range a
/// meaning. A filter that breaks them asks a question that has no answer, and §7.8 says so
/// with CALDAV:valid-filter rather than an empty result. Err is the one-line reason.
pub fn check_structure(root: &CompFilter) -> Result<(), String> {
    check_comp(root, None)
}

fn check_comp(f: &CompFilter, parent: Option<&str>) -> Result<(), String> {
    if let Some(parent) = parent
        && !may_contain(parent, &f.name)
    {
        return Err(format!("{} cannot appear inside {parent} (RFC 5545 §3.6)", f.name));
    }
    // RFC 4791 §9.9: time-range applies to these components only.
    if f.time_range.is_some() && !matches!(f.name.as_str(), "VEVENT" | "VTODO" | "VJOURNAL" | "VFREEBUSY" | "VALARM") {
        return Err(format!("time-range has no meaning on {} (RFC 4791 §9.9)", f.name));
    }
    for p in &f.props {
        if p.time_range.is_some() && !is_date_time_property(&p.name) {
            return Err(format!("time-range on {}, which is not a date or date-time property (RFC 4791 §9.7.2)", p.name));
        }
    }
    f.comps.iter().try_for_each(|c| check_comp(c, Some(&f.name)))
}

/// RFC 5545 §3.6 (with RFC 7953 availability, RFC 9073 participants/locations/resources and
/// RFC 9074 alarm locations). X- components may appear anywhere; another unknown (IANA) name
/// only directly in a VCALENDAR.
fn may_contain(parent: &str, child: &str) -> bool {
    if child.starts_with("X-") || parent.starts_with("X-") {
        return true;
    }
    const KNOWN: [&str; 14] = [
        "VCALENDAR", "VEVENT", "VTODO", "VJOURNAL", "VFREEBUSY", "VTIMEZONE", "STANDARD", "DAYLIGHT", "VALARM",
        "VAVAILABILITY", "AVAILABLE", "PARTICIPANT", "VLOCATION", "VRESOURCE",
    ];
    let allowed: &[&str] = match parent {
        "VCALENDAR" => return !KNOWN.contains(&child) || matches!(child, "VEVENT" | "VTODO" | "VJOURNAL" | "VFREEBUSY" | "VTIMEZONE" | "VAVAILABILITY"),
        "VEVENT" | "VTODO" => &["VALARM", "PARTICIPANT", "VLOCATION", "VRESOURCE"],
        "VJOURNAL" | "VFREEBUSY" => &["PARTICIPANT", "VLOCATION", "VRESOURCE"],
        "VTIMEZONE" => &["STANDARD", "DAYLIGHT"],
        "VALARM" => &["VLOCATION"],
        "VAVAILABILITY" => &["AVAILABLE"],
        "PARTICIPANT" => &["VLOCATION", "VRESOURCE"],
        _ => &[],
    };
    allowed.contains(&child)
}

/// Properties whose value is a DATE, DATE-TIME or PERIOD (RFC 5545 §3.8.2, §3.8.4.4, §3.8.5,
/// §3.8.6.3, §3.8.7; RFC 9074 ACKNOWLEDGED). X- properties may hold one, so they are allowed.
fn is_date_time_property(name: &str) -> bool {
    name.starts_with("X-")
        || matches!(
            name,
            "DTSTART" | "DTEND" | "DUE" | "DTSTAMP" | "CREATED" | "LAST-MODIFIED" | "RECURRENCE-ID" | "COMPLETED"
                | "EXDATE" | "RDATE" | "TRIGGER" | "ACKNOWLEDGED" | "FREEBUSY"
        )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::ical;
    use super::*;

    struct NoTime;
    impl TimeOracle for NoTime {
        fn component_overlaps(&self, _: &Component, _: &Component, _: &TimeRange) -> bool {
            false
        }
        fn property_in_range(&self, _: &Line, _: &TimeRange) -> bool {
            false
        }
    }

    fn root() -> Component {
        let t = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:abc-1\r\nSUMMARY:Caf\u{e9}\\, Z\u{fc}rich\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:a@b\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nEND:VALARM\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        ical::parse(t).unwrap().remove(0)
    }

    fn comp(name: &str, props: Vec<PropFilter>, comps: Vec<CompFilter>) -> CompFilter {
        CompFilter { name: name.into(), is_not_defined: false, time_range: None, props, comps }
    }

    fn text(name: &str, t: &str, collation: Collation, negate: bool) -> PropFilter {
        PropFilter {
            name: name.into(),
            is_not_defined: false,
            time_range: None,
            text_match: Some(TextMatch { text: t.into(), collation, negate }),
            params: vec![],
        }
    }

    fn q(props: Vec<PropFilter>) -> CompFilter {
        comp("VCALENDAR", vec![], vec![comp("VEVENT", props, vec![])])
    }

    #[test]
    fn component_and_text_filters() {
        let r = root();
        assert!(matches(&q(vec![]), &r, &NoTime));
        assert!(!matches(&comp("VCALENDAR", vec![], vec![comp("VTODO", vec![], vec![])]), &r, &NoTime));
        assert!(matches(&q(vec![text("UID", "abc-1", Collation::Octet, false)]), &r, &NoTime));
        assert!(!matches(&q(vec![text("UID", "ABC-1", Collation::Octet, false)]), &r, &NoTime));
        assert!(matches(&q(vec![text("UID", "ABC", Collation::AsciiCasemap, false)]), &r, &NoTime));
        assert!(matches(&q(vec![text("SUMMARY", "café, zü", Collation::UnicodeCasemap, false)]), &r, &NoTime));
        assert!(!matches(&q(vec![text("SUMMARY", "CAFÉ", Collation::AsciiCasemap, false)]), &r, &NoTime), "É is not ASCII-folded");
        assert!(matches(&q(vec![text("SUMMARY", "CAFÉ", Collation::UnicodeCasemap, false)]), &r, &NoTime));
        assert!(!matches(&q(vec![text("UID", "abc", Collation::Octet, true)]), &r, &NoTime));
        assert!(matches(&q(vec![text("UID", "zzz", Collation::Octet, true)]), &r, &NoTime));
    }

    #[test]
    fn is_not_defined_and_params() {
        let r = root();
        let undefined = |name: &str| PropFilter { name: name.into(), is_not_defined: true, time_range: None, text_match: None, params: vec![] };
        assert!(matches(&q(vec![undefined("COMPLETED")]), &r, &NoTime));
        assert!(!matches(&q(vec![undefined("UID")]), &r, &NoTime));
        let param = |t: &str| PropFilter {
            name: "ATTENDEE".into(),
            is_not_defined: false,
            time_range: None,
            text_match: None,
            params: vec![ParamFilter { name: "PARTSTAT".into(), is_not_defined: false, text_match: Some(TextMatch { text: t.into(), collation: Collation::AsciiCasemap, negate: false }) }],
        };
        assert!(matches(&q(vec![param("accepted")]), &r, &NoTime));
        assert!(!matches(&q(vec![param("DECLINED")]), &r, &NoTime));
        let alarm = comp("VCALENDAR", vec![], vec![comp("VEVENT", vec![], vec![comp("VALARM", vec![], vec![])])]);
        assert!(matches(&alarm, &r, &NoTime));
        let no_alarm = CompFilter { is_not_defined: true, ..comp("VALARM", vec![], vec![]) };
        assert!(!matches(&comp("VCALENDAR", vec![], vec![comp("VEVENT", vec![], vec![no_alarm])]), &r, &NoTime));
    }

    #[test]
    fn time_range_goes_to_the_oracle() {
        let r = root();
        let ranged = CompFilter { time_range: Some(TimeRange { start: Some(0), end: Some(1) }), ..comp("VEVENT", vec![], vec![]) };
        assert!(!matches(&comp("VCALENDAR", vec![], vec![ranged]), &r, &NoTime));
    }
    #[test]
    fn structure_follows_the_component_grammar() {
        let ok = |f: &CompFilter| check_structure(f).is_ok();
        let cal = |comps: Vec<CompFilter>| comp("VCALENDAR", vec![], comps);
        assert!(ok(&cal(vec![comp("VEVENT", vec![], vec![comp("VALARM", vec![], vec![])])])));
        assert!(ok(&cal(vec![comp("VTIMEZONE", vec![], vec![comp("STANDARD", vec![], vec![])])])));
        assert!(ok(&cal(vec![comp("X-THING", vec![], vec![comp("VEVENT", vec![], vec![])])])));
        assert!(!ok(&cal(vec![comp("VEVENT", vec![], vec![comp("VEVENT", vec![], vec![])])])), "VEVENT in VEVENT");
        assert!(!ok(&cal(vec![comp("VALARM", vec![], vec![])])), "VALARM directly under VCALENDAR");
        assert!(!ok(&cal(vec![comp("VJOURNAL", vec![], vec![comp("VALARM", vec![], vec![])])])), "VALARM in VJOURNAL");
        assert!(!ok(&cal(vec![comp("VEVENT", vec![], vec![comp("STANDARD", vec![], vec![])])])));
        let range = Some(TimeRange { start: Some(0), end: None });
        let tz = CompFilter { time_range: range, ..comp("VTIMEZONE", vec![], vec![]) };
        assert!(!ok(&cal(vec![tz])), "time-range inside VTIMEZONE");
        let alarm = CompFilter { time_range: range, ..comp("VALARM", vec![], vec![]) };
        assert!(ok(&cal(vec![comp("VEVENT", vec![], vec![alarm])])));
        let on = |name: &str| PropFilter { name: name.into(), is_not_defined: false, time_range: range, text_match: None, params: vec![] };
        assert!(!ok(&q(vec![on("SUMMARY")])), "time-range on SUMMARY");
        assert!(ok(&q(vec![on("DTSTAMP")])));
        assert!(ok(&q(vec![on("X-APPLE-SNOOZE")])));
    }
}
