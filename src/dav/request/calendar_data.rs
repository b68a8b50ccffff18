//! The options of a CALDAV:calendar-data element in a REPORT's DAV:prop (RFC 4791 §9.6) into
//! the domain's `DataRequest`: comp/prop selection, expand, limit-recurrence-set and
//! limit-freebusy-set.

use crate::calendar::data::{CompSelect, DataRequest, PropSelect, RecurrenceMode, Selection};
use crate::calendar::filter::TimeRange;
use crate::config::parse_utc;
use crate::dav::xml::{CALDAV, Element};

/// Why a calendar-data element cannot be served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataError {
    /// §9.6: a media type or version other than text/calendar 2.0 (CALDAV:supported-calendar-data).
    UnsupportedType(String),
    /// A malformed option; the reason says which.
    Invalid(String),
}

/// Reads `element` (a CALDAV:calendar-data inside DAV:prop).
pub fn parse_calendar_data(element: &Element) -> Result<DataRequest, DataError> {
    let content_type = element.attr("", "content-type").map(str::trim).unwrap_or("text/calendar");
    let version = element.attr("", "version").map(str::trim).unwrap_or("2.0");
    if !content_type.eq_ignore_ascii_case("text/calendar") || version != "2.0" {
        return Err(DataError::UnsupportedType(format!(
            "calendar data is served as text/calendar version 2.0, not {content_type} version {version}"
        )));
    }
    let select = element.child(CALDAV, "comp").map(|c| comp(c, 0)).transpose()?;
    if let Some(root) = &select
        && root.name != "VCALENDAR"
    {
        return Err(DataError::Invalid(format!("the outer CALDAV:comp must name VCALENDAR, not {}", root.name)));
    }
    let expand = element.child(CALDAV, "expand").map(|e| range(e, "expand")).transpose()?;
    let limit = element.child(CALDAV, "limit-recurrence-set").map(|e| range(e, "limit-recurrence-set")).transpose()?;
    let recurrence = match (expand, limit) {
        (Some(_), Some(_)) => {
            return Err(DataError::Invalid("CALDAV:expand and CALDAV:limit-recurrence-set exclude each other (RFC 4791 §9.6)".into()));
        }
        (Some(r), None) => RecurrenceMode::Expand(r),
        (None, Some(r)) => RecurrenceMode::LimitRecurrenceSet(r),
        (None, None) => RecurrenceMode::AsStored,
    };
    let limit_freebusy = element.child(CALDAV, "limit-freebusy-set").map(|e| range(e, "limit-freebusy-set")).transpose()?;
    Ok(DataRequest { select, recurrence, limit_freebusy })
}

/// §9.6.1 `comp ((allprop | prop*), (allcomp | comp*))`. An empty `<comp name="X"/>` keeps the
/// whole component, as the §7.8.1 example's `<C:comp name="VTIMEZONE"/>` does.
fn comp(e: &Element, depth: usize) -> Result<CompSelect, DataError> {
    if depth > 8 {
        return Err(DataError::Invalid("CALDAV:comp nested too deeply".into()));
    }
    let name = name(e, "comp")?;
    let mut props = Vec::new();
    let mut comps = Vec::new();
    let (mut all_props, mut all_comps, mut any) = (false, false, false);
    for child in e.children() {
        if child.is(CALDAV, "allprop") {
            (all_props, any) = (true, true);
        } else if child.is(CALDAV, "allcomp") {
            (all_comps, any) = (true, true);
        } else if child.is(CALDAV, "prop") {
            any = true;
            props.push(prop(child)?);
        } else if child.is(CALDAV, "comp") {
            any = true;
            comps.push(comp(child, depth + 1)?);
        }
    }
    if !any {
        return Ok(CompSelect { name, props: Selection::All, comps: Selection::All });
    }
    Ok(CompSelect {
        name,
        props: if all_props { Selection::All } else { Selection::Only(props) },
        comps: if all_comps { Selection::All } else { Selection::Only(comps) },
    })
}

/// §9.6.4: `name` required, `novalue` "yes" or "no" (default "no").
fn prop(e: &Element) -> Result<PropSelect, DataError> {
    let novalue = match e.attr("", "novalue").map(str::trim) {
        None | Some("no") => false,
        Some("yes") => true,
        Some(other) => return Err(DataError::Invalid(format!("CALDAV:prop novalue must be yes or no, not {other:?}"))),
    };
    Ok(PropSelect { name: name(e, "prop")?, novalue })
}

fn name(e: &Element, what: &str) -> Result<String, DataError> {
    e.attr("", "name")
        .map(|n| n.trim().to_ascii_uppercase())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| DataError::Invalid(format!("CALDAV:{what} needs a name attribute (RFC 4791 §9.6)")))
}

/// §9.6.5–§9.6.7: `start` and `end`, both required, UTC date-times, end after start.
fn range(e: &Element, what: &str) -> Result<TimeRange, DataError> {
    let attr = |attr: &str| -> Result<i64, DataError> {
        let value = e
            .attr("", attr)
            .ok_or_else(|| DataError::Invalid(format!("CALDAV:{what} needs start and end attributes (RFC 4791 §9.6)")))?;
        parse_utc(value.trim()).ok_or_else(|| DataError::Invalid(format!("CALDAV:{what} {attr}={value:?} is not a UTC date-time")))
    };
    let (start, end) = (attr("start")?, attr("end")?);
    if end <= start {
        return Err(DataError::Invalid(format!("CALDAV:{what} end must be after start")));
    }
    Ok(TimeRange { start: Some(start), end: Some(end) })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::dav::xml::parse;

    fn data(inner: &str, attrs: &str) -> Result<DataRequest, DataError> {
        let xml = format!(r#"<C:calendar-data xmlns:C="urn:ietf:params:xml:ns:caldav" {attrs}>{inner}</C:calendar-data>"#);
        parse_calendar_data(&parse(xml.as_bytes()).unwrap())
    }

    #[test]
    fn empty_element_is_the_whole_object() {
        assert!(data("", r#"content-type="text/calendar" version="2.0""#).unwrap().is_whole_object());
    }

    #[test]
    fn rfc4791_7_8_1_selection() {
        let r = data(
            r#"<C:comp name="VCALENDAR"><C:prop name="VERSION"/><C:comp name="VEVENT"><C:prop name="SUMMARY"/><C:prop name="UID" novalue="yes"/></C:comp><C:comp name="VTIMEZONE"/></C:comp>"#,
            "",
        )
        .unwrap();
        let root = r.select.unwrap();
        assert_eq!(root.props, Selection::Only(vec![PropSelect { name: "VERSION".into(), novalue: false }]));
        let Selection::Only(comps) = &root.comps else { panic!("comps") };
        assert_eq!(comps[0].comps, Selection::Only(vec![]));
        assert_eq!(comps[0].props, Selection::Only(vec![
            PropSelect { name: "SUMMARY".into(), novalue: false },
            PropSelect { name: "UID".into(), novalue: true },
        ]));
        assert_eq!((comps[1].props.clone(), comps[1].comps.clone()), (Selection::All, Selection::All));
    }

    #[test]
    fn expand_and_refusals() {
        let r = data(r#"<C:expand start="20060103T000000Z" end="20060105T000000Z"/>"#, "").unwrap();
        assert_eq!(r.recurrence, RecurrenceMode::Expand(TimeRange { start: Some(1_136_246_400), end: Some(1_136_419_200) }));
        assert!(matches!(data(r#"<C:expand start="20060103T000000Z"/>"#, ""), Err(DataError::Invalid(_))));
        assert!(matches!(data(r#"<C:expand start="20060105T000000Z" end="20060103T000000Z"/>"#, ""), Err(DataError::Invalid(_))));
        assert!(matches!(
            data(r#"<C:expand start="20060103T000000Z" end="20060105T000000Z"/><C:limit-recurrence-set start="20060103T000000Z" end="20060105T000000Z"/>"#, ""),
            Err(DataError::Invalid(_))
        ));
        assert!(matches!(data("", r#"content-type="application/calendar+json""#), Err(DataError::UnsupportedType(_))));
        assert!(matches!(data(r#"<C:comp name="VEVENT"/>"#, ""), Err(DataError::Invalid(_))));
    }
}
