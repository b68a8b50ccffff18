//! PROPFIND bodies (RFC 4918 §9.1, §14.20) and the property selection REPORTs share with them.

use std::collections::HashSet;

use super::{is_blank, parse_root};
use crate::dav::xml::{DAV, Element, QName, XmlError};

/// Which properties a PROPFIND (or a REPORT) asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropSelection {
    /// All live properties the server defines for allprop, all dead properties, plus the
    /// DAV:include list (RFC 4918 §9.1, §14.8).
    AllProp { include: Vec<QName> },
    /// Names only, no values (RFC 4918 §14.21).
    PropName,
    /// These properties, in request order, without repeats. Options a client puts inside a
    /// property element (CALDAV:calendar-data's comp/prop/expand) are not here: REPORT bodies
    /// keep the raw elements beside the selection (`prop_elements`), so interpreting them later
    /// does not change this type.
    Prop(Vec<QName>),
}

impl Default for PropSelection {
    /// What an absent selection means: PROPFIND without a body is allprop (RFC 4918 §9.1).
    fn default() -> Self {
        PropSelection::AllProp {
            include: Vec::new(),
        }
    }
}

/// Parses a PROPFIND body. An empty body is allprop (RFC 4918 §9.1); so is a DAV:propfind with
/// none of prop/propname/allprop in it, which the DTD forbids but means the same thing.
pub fn parse_propfind(body: &[u8]) -> Result<PropSelection, XmlError> {
    if is_blank(body) {
        return Ok(PropSelection::default());
    }
    let root = parse_root(body, DAV, "propfind")?;
    Ok(prop_selection(&root)?
        .map(|(selection, _)| selection)
        .unwrap_or_default())
}

/// Reads the `(allprop, include?) | propname | prop` choice among `parent`'s children (RFC 4918
/// §14.20; RFC 4791 §9.5 and §9.10 and RFC 6578 §6.1 reuse it). Returns `None` when the parent
/// has none of them, and with a `prop` also its child elements, raw and in request order.
pub(crate) fn prop_selection(
    parent: &Element,
) -> Result<Option<(PropSelection, Vec<Element>)>, XmlError> {
    let mut found: Option<(PropSelection, Vec<Element>)> = None;
    let mut include = None;
    for child in parent.children().filter(|c| c.name.ns == DAV) {
        let selection = match &*child.name.local {
            "allprop" => (
                PropSelection::AllProp {
                    include: Vec::new(),
                },
                Vec::new(),
            ),
            "propname" => (PropSelection::PropName, Vec::new()),
            "prop" => (
                PropSelection::Prop(distinct_names(child)),
                child.children().cloned().collect(),
            ),
            "include" => {
                include = Some(distinct_names(child));
                continue;
            }
            _ => continue,
        };
        if found.is_some() {
            let reason = format!(
                "{} must contain only one of DAV:prop, DAV:propname or DAV:allprop",
                parent.name
            );
            return Err(XmlError::invalid(reason));
        }
        found = Some(selection);
    }
    match (found, include) {
        (Some((PropSelection::AllProp { .. }, raw)), Some(include)) => {
            Ok(Some((PropSelection::AllProp { include }, raw)))
        }
        (_, Some(_)) => Err(XmlError::invalid(
            "DAV:include is only allowed beside DAV:allprop (RFC 4918 §14.8)",
        )),
        (found, None) => Ok(found),
    }
}

/// The names of `element`'s children in order, each once (a multistatus must not list a property
/// twice). A set keeps this linear even for a hostile list of thousands.
fn distinct_names(element: &Element) -> Vec<QName> {
    let mut seen = HashSet::new();
    element
        .children()
        .map(|c| &c.name)
        .filter(|n| seen.insert(*n))
        .cloned()
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::dav::xml::{CALDAV, CS};

    #[test]
    fn empty_body_and_empty_propfind_are_allprop() {
        assert_eq!(parse_propfind(b"").unwrap(), PropSelection::default());
        assert_eq!(parse_propfind(b"\r\n").unwrap(), PropSelection::default());
        assert_eq!(
            parse_propfind(br#"<propfind xmlns="DAV:"/>"#).unwrap(),
            PropSelection::default()
        );
    }

    #[test]
    fn named_properties_keep_order_without_repeats() {
        let body = br#"<D:propfind xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/">
            <D:prop><CS:getctag/><D:displayname/><CS:getctag/><x:y xmlns:x="urn:x">ignored text</x:y></D:prop>
            <x:unknown xmlns:x="urn:x"/></D:propfind>"#;
        let expected = vec![
            QName::fixed(CS, "getctag"),
            QName::fixed(DAV, "displayname"),
            QName::new("urn:x", "y"),
        ];
        assert_eq!(parse_propfind(body).unwrap(), PropSelection::Prop(expected));
    }

    #[test]
    fn allprop_with_include_and_propname() {
        let body = br#"<propfind xmlns="DAV:"><allprop/><include><supported-report-set/></include></propfind>"#;
        let include = vec![QName::fixed(DAV, "supported-report-set")];
        assert_eq!(
            parse_propfind(body).unwrap(),
            PropSelection::AllProp { include }
        );
        assert_eq!(
            parse_propfind(br#"<propfind xmlns="DAV:"><propname/></propfind>"#).unwrap(),
            PropSelection::PropName
        );
    }

    #[test]
    fn contradictory_or_misplaced_selections_are_refused() {
        let two = br#"<propfind xmlns="DAV:"><propname/><prop><getetag/></prop></propfind>"#;
        assert_eq!(
            parse_propfind(two).unwrap_err().0,
            "DAV:propfind must contain only one of DAV:prop, DAV:propname or DAV:allprop"
        );
        let stray = br#"<propfind xmlns="DAV:"><prop/><include><getetag/></include></propfind>"#;
        assert!(parse_propfind(stray).unwrap_err().0.contains("DAV:include"));
        let wrong = br#"<C:calendar-query xmlns:C="urn:ietf:params:xml:ns:caldav"/>"#;
        assert!(
            parse_propfind(wrong)
                .unwrap_err()
                .0
                .contains("found CALDAV:calendar-query")
        );
        assert!(
            parse_propfind(b"<propfind")
                .unwrap_err()
                .0
                .starts_with("malformed XML")
        );
    }

    #[test]
    fn raw_prop_elements_are_kept_for_reports() {
        let body = br#"<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
            <D:prop><D:getetag/><C:calendar-data><C:expand start="20060103T000000Z" end="20060105T000000Z"/></C:calendar-data></D:prop>
            </C:calendar-query>"#;
        let root = crate::dav::xml::parse(body).unwrap();
        let (selection, raw) = prop_selection(&root).unwrap().unwrap();
        assert_eq!(
            selection,
            PropSelection::Prop(vec![
                QName::fixed(DAV, "getetag"),
                QName::fixed(CALDAV, "calendar-data")
            ])
        );
        assert!(raw[1].child(CALDAV, "expand").is_some());
    }
}
