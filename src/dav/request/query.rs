//! CALDAV:filter (RFC 4791 §9.7) from the request DOM into the domain filter AST. Unknown
//! collations and malformed filters are refused here with their precondition (§7.8).

use crate::calendar::filter::{check_structure, Collation, CompFilter, ParamFilter, PropFilter, TextMatch, TimeRange};
use crate::config::parse_utc;
use crate::dav::xml::{CALDAV, Element};

/// Why a filter cannot be evaluated: each maps to one CalDAV precondition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterError {
    /// CALDAV:supported-collation (RFC 4791 §7.5.1).
    UnsupportedCollation(String),
    /// CALDAV:valid-filter (RFC 4791 §7.8): the reason says what is wrong.
    Invalid(String),
}

/// Converts the CALDAV:filter element.
pub fn parse_filter(filter: &Element) -> Result<CompFilter, FilterError> {
    let mut comps = filter.children().filter(|c| c.is(CALDAV, "comp-filter"));
    let root = comps.next().ok_or_else(|| FilterError::Invalid("CALDAV:filter needs one comp-filter".into()))?;
    if comps.next().is_some() {
        return Err(FilterError::Invalid("CALDAV:filter takes exactly one comp-filter".into()));
    }
    let root = comp_filter(root, 0)?;
    if root.name != "VCALENDAR" {
        return Err(FilterError::Invalid(format!("the outer comp-filter must name VCALENDAR, not {}", root.name)));
    }
    // RFC 4791 §9.9 gives time-range a meaning on components with times, never on the
    // VCALENDAR itself; ignoring one would answer a question the client did not ask.
    if root.time_range.is_some() {
        return Err(FilterError::Invalid("time-range on the VCALENDAR comp-filter: put it on VEVENT, VTODO, VJOURNAL or VFREEBUSY (RFC 4791 §9.9)".into()));
    }
    check_structure(&root).map_err(FilterError::Invalid)?;
    Ok(root)
}

fn name_attr(e: &Element) -> Result<String, FilterError> {
    e.attr("", "name")
        .map(|n| n.trim().to_ascii_uppercase())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| FilterError::Invalid(format!("{} needs a name attribute", e.name)))
}

fn comp_filter(e: &Element, depth: usize) -> Result<CompFilter, FilterError> {
    if depth > 8 {
        return Err(FilterError::Invalid("comp-filters nested too deeply".into()));
    }
    let mut f = CompFilter {
        name: name_attr(e)?,
        is_not_defined: e.child(CALDAV, "is-not-defined").is_some(),
        time_range: e.child(CALDAV, "time-range").map(time_range).transpose()?,
        props: Vec::new(),
        comps: Vec::new(),
    };
    for c in e.children() {
        if c.is(CALDAV, "prop-filter") {
            f.props.push(prop_filter(c)?);
        } else if c.is(CALDAV, "comp-filter") {
            f.comps.push(comp_filter(c, depth + 1)?);
        }
    }
    Ok(f)
}

fn prop_filter(e: &Element) -> Result<PropFilter, FilterError> {
    Ok(PropFilter {
        name: name_attr(e)?,
        is_not_defined: e.child(CALDAV, "is-not-defined").is_some(),
        time_range: e.child(CALDAV, "time-range").map(time_range).transpose()?,
        text_match: e.child(CALDAV, "text-match").map(text_match).transpose()?,
        params: e.children().filter(|c| c.is(CALDAV, "param-filter")).map(param_filter).collect::<Result<_, _>>()?,
    })
}

fn param_filter(e: &Element) -> Result<ParamFilter, FilterError> {
    Ok(ParamFilter {
        name: name_attr(e)?,
        is_not_defined: e.child(CALDAV, "is-not-defined").is_some(),
        text_match: e.child(CALDAV, "text-match").map(text_match).transpose()?,
    })
}

/// §9.7.5: collation defaults to i;ascii-casemap; negate-condition "yes"/"no".
fn text_match(e: &Element) -> Result<TextMatch, FilterError> {
    let collation = match e.attr("", "collation") {
        None => Collation::AsciiCasemap,
        Some(name) => Collation::parse(name).ok_or_else(|| FilterError::UnsupportedCollation(name.to_owned()))?,
    };
    let negate = match e.attr("", "negate-condition") {
        None | Some("no") => false,
        Some("yes") => true,
        Some(other) => return Err(FilterError::Invalid(format!("negate-condition must be yes or no, not {other:?}"))),
    };
    Ok(TextMatch { text: e.text(), collation, negate })
}

/// §9.9: start and/or end as UTC date-times; at least one.
fn time_range(e: &Element) -> Result<TimeRange, FilterError> {
    let attr = |name: &str| -> Result<Option<i64>, FilterError> {
        match e.attr("", name) {
            None => Ok(None),
            Some(v) => parse_utc(v.trim())
                .map(Some)
                .ok_or_else(|| FilterError::Invalid(format!("time-range {name}={v:?} is not a UTC date-time"))),
        }
    };
    let range = TimeRange { start: attr("start")?, end: attr("end")? };
    match (range.start, range.end) {
        (None, None) => Err(FilterError::Invalid("time-range needs start or end".into())),
        (Some(s), Some(e)) if e <= s => Err(FilterError::Invalid("time-range end must be after start".into())),
        _ => Ok(range),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::dav::xml::parse;

    fn filter(xml: &str) -> Result<CompFilter, FilterError> {
        let doc = format!(r#"<C:filter xmlns:C="urn:ietf:params:xml:ns:caldav">{xml}</C:filter>"#);
        parse_filter(&parse(doc.as_bytes()).unwrap())
    }

    #[test]
    fn rfc4791_7_8_1_example() {
        let f = filter(r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="20060104T000000Z" end="20060105T000000Z"/></C:comp-filter></C:comp-filter>"#).unwrap();
        let ev = &f.comps[0];
        assert_eq!(ev.name, "VEVENT");
        assert_eq!(ev.time_range, Some(TimeRange { start: Some(1_136_332_800), end: Some(1_136_419_200) }));
    }

    #[test]
    fn text_match_and_refusals() {
        let f = filter(r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VTODO"><C:prop-filter name="uid"><C:text-match collation="i;octet" negate-condition="yes">x</C:text-match></C:prop-filter></C:comp-filter></C:comp-filter>"#).unwrap();
        let p = &f.comps[0].props[0];
        assert_eq!(p.name, "UID");
        assert_eq!(p.text_match, Some(TextMatch { text: "x".into(), collation: Collation::Octet, negate: true }));
        let bad = filter(r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:prop-filter name="X"><C:text-match collation="i;klingon">x</C:text-match></C:prop-filter></C:comp-filter></C:comp-filter>"#);
        assert_eq!(bad, Err(FilterError::UnsupportedCollation("i;klingon".into())));
        assert!(matches!(filter(r#"<C:comp-filter name="VEVENT"/>"#), Err(FilterError::Invalid(_))));
        assert!(matches!(filter(""), Err(FilterError::Invalid(_))));
        assert!(matches!(filter(r#"<C:comp-filter name="VCALENDAR"><C:time-range start="20060104T000000Z"/></C:comp-filter>"#), Err(FilterError::Invalid(_))));
        assert!(matches!(filter(r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="bad"/></C:comp-filter></C:comp-filter>"#), Err(FilterError::Invalid(_))));
    }
}
