//! REPORT bodies (RFC 3253 §3.6): the root element names the report; the ones Kalends serves
//! are parsed into typed values, any other comes back as `Unsupported` for the method to refuse
//! with DAV:supported-report.

use super::propfind::prop_selection;
use super::{PropSelection, is_blank, trimmed};
use crate::dav::xml::{CALDAV, DAV, Element, QName, XmlError, parse};

/// RFC 6578 §6.3: how deep a sync-collection report looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncLevel {
    One,
    Infinite,
}

/// A parsed REPORT request body.
///
/// Reports carrying a property selection also keep `prop_elements`: the DAV:prop children as
/// sent, so options inside them (CALDAV:calendar-data's comp/prop/expand, RFC 4791 §9.6) can be
/// interpreted later without changing [`PropSelection`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportBody {
    /// RFC 4791 §7.9. `hrefs` are as sent (trimmed, not percent-decoded).
    CalendarMultiget {
        props: PropSelection,
        prop_elements: Vec<Element>,
        hrefs: Vec<String>,
    },
    /// RFC 6578 §3.2. An empty DAV:sync-token (initial sync) is `token: None`.
    SyncCollection {
        token: Option<String>,
        level: SyncLevel,
        /// DAV:limit/DAV:nresults (RFC 6578 §6.1, RFC 5323 §5.17).
        limit: Option<u32>,
        props: PropSelection,
        prop_elements: Vec<Element>,
    },
    /// RFC 4791 §7.8. `filter` is the CALDAV:filter element; `timezone` the text of
    /// CALDAV:timezone (an iCalendar object with one VTIMEZONE), exactly as sent.
    CalendarQuery {
        props: PropSelection,
        prop_elements: Vec<Element>,
        filter: Element,
        timezone: Option<String>,
    },
    /// RFC 4791 §7.10: the CALDAV:time-range start and end, as sent (UTC date-times).
    FreeBusyQuery { start: String, end: String },
    /// RFC 3744 §9.4: principals whose properties contain the given texts.
    PrincipalPropertySearch {
        searches: Vec<PropertySearch>,
        /// `test="anyof"`: one search matching is enough; otherwise all must (`allof`).
        any_of: bool,
        props: PropSelection,
    },
    /// RFC 3744 §9.5: which properties principal-property-search can search.
    PrincipalSearchPropertySet,
    /// RFC 3253 §3.8: the DAV:expand-property element, interpreted by its method.
    ExpandProperty(Element),
    /// Any other report, by root element name.
    Unsupported(QName),
}

/// One DAV:property-search: the properties to look in and the text to find.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertySearch {
    pub props: Vec<QName>,
    pub text: String,
    pub match_type: MatchType,
}

/// How `match` compares: RFC 3744 §9.4 defines a case-insensitive substring match; the
/// `match-type` attribute (Apple's CalendarServer extension, sent by Apple clients) narrows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchType {
    Contains,
    StartsWith,
    Equals,
}

impl ReportBody {
    /// The requested property element with this name as the client sent it, e.g.
    /// CALDAV:calendar-data with its options.
    pub fn requested_prop(&self, ns: &str, local: &str) -> Option<&Element> {
        match self {
            ReportBody::CalendarMultiget { prop_elements, .. }
            | ReportBody::SyncCollection { prop_elements, .. }
            | ReportBody::CalendarQuery { prop_elements, .. } => {
                prop_elements.iter().find(|e| e.is(ns, local))
            }
            _ => None,
        }
    }
}

/// Parses a REPORT body, dispatching on its root element.
pub fn parse_report(body: &[u8]) -> Result<ReportBody, XmlError> {
    if is_blank(body) {
        return Err(XmlError::invalid(
            "REPORT needs a body naming the report (RFC 3253 §3.6)",
        ));
    }
    let root = parse(body)?;
    match (&*root.name.ns, &*root.name.local) {
        (CALDAV, "calendar-multiget") => calendar_multiget(&root),
        (CALDAV, "calendar-query") => calendar_query(root),
        (CALDAV, "free-busy-query") => free_busy_query(&root),
        (DAV, "sync-collection") => sync_collection(&root),
        (DAV, "expand-property") => Ok(ReportBody::ExpandProperty(root)),
        (DAV, "principal-property-search") => principal_property_search(&root),
        (DAV, "principal-search-property-set") => Ok(ReportBody::PrincipalSearchPropertySet),
        _ => Ok(ReportBody::Unsupported(root.name)),
    }
}

/// RFC 4791 §9.10: `((DAV:allprop | DAV:propname | DAV:prop)?, DAV:href+)`.
fn calendar_multiget(root: &Element) -> Result<ReportBody, XmlError> {
    let (props, prop_elements) = prop_selection(root)?.unwrap_or_default();
    let hrefs: Vec<String> = root
        .children_named(DAV, "href")
        .map(|h| trimmed(&h.text()).to_owned())
        .collect();
    if hrefs.is_empty() {
        return Err(XmlError::invalid(
            "CALDAV:calendar-multiget needs at least one DAV:href (RFC 4791 §9.10)",
        ));
    }
    Ok(ReportBody::CalendarMultiget {
        props,
        prop_elements,
        hrefs,
    })
}

/// RFC 4791 §9.5: `((DAV:allprop | DAV:propname | DAV:prop)?, filter, timezone?)`.
fn calendar_query(mut root: Element) -> Result<ReportBody, XmlError> {
    let (props, prop_elements) = prop_selection(&root)?.unwrap_or_default();
    let timezone = root.child(CALDAV, "timezone").map(Element::text);
    let filter = take_child(&mut root, CALDAV, "filter").ok_or_else(|| {
        XmlError::invalid("CALDAV:calendar-query needs CALDAV:filter (RFC 4791 §9.5)")
    })?;
    Ok(ReportBody::CalendarQuery {
        props,
        prop_elements,
        filter,
        timezone,
    })
}

/// RFC 4791 §9.11: `(time-range)`; a free-busy answer needs both ends of the range.
fn free_busy_query(root: &Element) -> Result<ReportBody, XmlError> {
    let range = root.child(CALDAV, "time-range").ok_or_else(|| {
        XmlError::invalid("CALDAV:free-busy-query needs CALDAV:time-range (RFC 4791 §9.11)")
    })?;
    match (range.attr("", "start"), range.attr("", "end")) {
        (Some(start), Some(end)) => Ok(ReportBody::FreeBusyQuery {
            start: trimmed(start).to_owned(),
            end: trimmed(end).to_owned(),
        }),
        _ => Err(XmlError::invalid(
            "CALDAV:time-range in CALDAV:free-busy-query needs start and end attributes",
        )),
    }
}

/// RFC 3744 §9.4: `((property-search)+, prop?, apply-to-principal-collection-set?)`.
fn principal_property_search(root: &Element) -> Result<ReportBody, XmlError> {
    let mut searches = Vec::new();
    for search in root.children_named(DAV, "property-search") {
        let props: Vec<QName> = search
            .child(DAV, "prop")
            .map(|p| p.children().map(|c| c.name.clone()).collect())
            .unwrap_or_default();
        let matched = search.child(DAV, "match").ok_or_else(|| {
            XmlError::invalid("DAV:property-search needs DAV:match (RFC 3744 §9.4)")
        })?;
        if props.is_empty() {
            return Err(XmlError::invalid(
                "DAV:property-search needs a DAV:prop naming what to search (RFC 3744 §9.4)",
            ));
        }
        let match_type = match matched.attr("", "match-type").map(str::trim) {
            None | Some("contains") => MatchType::Contains,
            Some("starts-with") => MatchType::StartsWith,
            Some("equals") => MatchType::Equals,
            Some(other) => {
                return Err(XmlError::invalid(format!(
                    "DAV:match match-type must be contains, starts-with or equals, not {other:?}"
                )));
            }
        };
        searches.push(PropertySearch { props, text: matched.text(), match_type });
    }
    // RFC 3744 §9.4 asks for at least one property-search; the caldav library (3.x) sends none
    // to list every principal it may see, and "no condition" has only that meaning.
    let any_of = match root.attr("", "test").map(str::trim) {
        None | Some("allof") => false,
        Some("anyof") => true,
        Some(other) => {
            return Err(XmlError::invalid(format!("test must be allof or anyof, not {other:?}")));
        }
    };
    let (mut props, _) = prop_selection(root)?.unwrap_or_default();
    // The caldav library (3.x) writes the wanted properties after an empty DAV:prop instead of
    // inside it (`<D:prop/><C:calendar-home-set/><D:displayname/>`). Elements directly under
    // the report that are not its own can only be those properties, so they are read as such.
    let stray: Vec<QName> = root
        .children()
        .filter(|c| !(c.name.ns == DAV && matches!(&*c.name.local, "property-search" | "prop" | "apply-to-principal-collection-set")))
        .map(|c| c.name.clone())
        .collect();
    if let PropSelection::Prop(names) = &mut props {
        names.extend(stray.into_iter().filter(|n| !names.contains(n)).collect::<Vec<_>>());
    }
    Ok(ReportBody::PrincipalPropertySearch { searches, any_of, props })
}

/// RFC 6578 §6.1: `(sync-token, sync-level, limit?, prop)`.
fn sync_collection(root: &Element) -> Result<ReportBody, XmlError> {
    let token = root.child(DAV, "sync-token").ok_or_else(|| {
        XmlError::invalid(
            "DAV:sync-collection needs DAV:sync-token, empty for an initial sync (RFC 6578 §6.1)",
        )
    })?;
    let token = Some(trimmed(&token.text()).to_owned()).filter(|t| !t.is_empty());
    // Drafts before RFC 6578 had no sync-level (Depth: 1 meant the same), so a missing one is
    // read as "1" rather than failing clients that never learned the element.
    let level = match root.child(DAV, "sync-level") {
        Some(level) => sync_level(&level.text())?,
        None => SyncLevel::One,
    };
    let limit = root.child(DAV, "limit").map(nresults).transpose()?;
    let (props, prop_elements) = prop_selection(root)?
        .ok_or_else(|| XmlError::invalid("DAV:sync-collection needs DAV:prop (RFC 6578 §6.1)"))?;
    Ok(ReportBody::SyncCollection {
        token,
        level,
        limit,
        props,
        prop_elements,
    })
}

fn sync_level(text: &str) -> Result<SyncLevel, XmlError> {
    match trimmed(text) {
        "1" => Ok(SyncLevel::One),
        // "infinity" is not in the RFC but is what some clients write, by analogy with Depth.
        level
            if level.eq_ignore_ascii_case("infinite") || level.eq_ignore_ascii_case("infinity") =>
        {
            Ok(SyncLevel::Infinite)
        }
        _ => Err(XmlError::invalid(
            "DAV:sync-level must be \"1\" or \"infinite\" (RFC 6578 §6.3)",
        )),
    }
}

/// RFC 5323 §5.17: `<limit><nresults>n</nresults></limit>`, n a positive integer.
fn nresults(limit: &Element) -> Result<u32, XmlError> {
    let refuse = || {
        XmlError::invalid(
            "DAV:limit needs DAV:nresults holding a positive integer (RFC 5323 §5.17)",
        )
    };
    let text = limit.child(DAV, "nresults").ok_or_else(refuse)?.text();
    let digits = trimmed(&text);
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(refuse());
    }
    digits
        .parse::<u32>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(refuse)
}

/// Moves the first child element with this name out of `parent`.
fn take_child(parent: &mut Element, ns: &str, local: &str) -> Option<Element> {
    use crate::dav::xml::Node;
    let index = parent
        .children
        .iter()
        .position(|n| matches!(n, Node::Element(e) if e.is(ns, local)))?;
    match parent.children.remove(index) {
        Node::Element(e) => Some(e),
        Node::Text(_) => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
