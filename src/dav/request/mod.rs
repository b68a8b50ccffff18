//! Typed DAV request bodies, parsed from the XML DOM. Protocol XML becomes these values here and
//! goes no further in XML form, except dead property elements, which are stored verbatim.
//!
//! Parsing follows RFC 4918 §17 on extensibility: unknown elements are ignored wherever they
//! appear, so a client's private additions never make a request fail; what a method needs and
//! cannot find is an [`XmlError`] with a one-line reason naming the RFC rule.

pub mod calendar_data;
mod lockinfo;
mod mkcol;
mod propfind;
mod proppatch;
pub mod query;
mod report;
mod share;

#[cfg(test)]
mod fixtures;

pub use lockinfo::{LockInfo, parse_lockinfo};
pub use mkcol::{parse_mkcalendar, parse_mkcol};
pub use propfind::{PropSelection, parse_propfind};
pub use proppatch::{PatchOp, parse_proppatch};
pub use report::{MatchType, PropertySearch, ReportBody, SyncLevel, parse_report};
pub use share::parse_share;

use crate::dav::xml::{DAV, Element, QName, XML_NS, XmlError, parse};

/// No body, or nothing but whitespace: several methods give that a meaning of its own
/// (PROPFIND = allprop, MKCALENDAR = no properties).
pub fn is_blank(body: &[u8]) -> bool {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    body.iter()
        .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

/// Parses `body` and checks its root element is `{ns}local`.
fn parse_root(body: &[u8], ns: &'static str, local: &'static str) -> Result<Element, XmlError> {
    let root = parse(body)?;
    if root.is(ns, local) {
        Ok(root)
    } else {
        let expected = QName::fixed(ns, local);
        Err(XmlError::invalid(format!(
            "expected {expected} as the root element, found {}",
            root.name
        )))
    }
}

/// Text of hrefs, tokens and numbers, without the indentation a pretty-printing client adds
/// (none of these values can begin or end with XML whitespace).
fn trimmed(text: &str) -> &str {
    text.trim_matches([' ', '\t', '\r', '\n'])
}

/// The element's `xml:lang`, if it has one.
fn lang(element: &Element) -> Option<String> {
    element.attr(XML_NS, "lang").map(str::to_owned)
}

/// The property elements inside the DAV:prop children of a DAV:set or DAV:remove (RFC 4918
/// §14.23, §14.26), moved out of the tree. An `xml:lang` in scope from an ancestor is copied onto
/// a property that lacks one, because RFC 4918 §4.3 makes the language part of a dead property's
/// value and the property is stored apart from its ancestors.
fn property_elements(
    instruction: Element,
    inherited: Option<&str>,
) -> Result<Vec<Element>, XmlError> {
    let inherited = lang(&instruction).or_else(|| inherited.map(str::to_owned));
    let name = instruction.name.clone();
    let mut properties = Vec::new();
    let mut saw_prop = false;
    for prop in instruction.into_children().filter(|c| c.is(DAV, "prop")) {
        saw_prop = true;
        let in_scope = lang(&prop).or_else(|| inherited.clone());
        for mut property in prop.into_children() {
            if let Some(lang) = &in_scope
                && property.attr(XML_NS, "lang").is_none()
            {
                property
                    .attrs
                    .push((QName::fixed(XML_NS, "lang"), lang.clone()));
            }
            properties.push(property);
        }
    }
    if saw_prop {
        Ok(properties)
    } else {
        Err(XmlError::invalid(format!(
            "{name} must contain DAV:prop (RFC 4918 §14.23, §14.26)"
        )))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn blank_bodies() {
        assert!(is_blank(b""));
        assert!(is_blank(b" \r\n\t"));
        assert!(is_blank(b"\xEF\xBB\xBF\n"));
        assert!(!is_blank(b" <a/>"));
    }

    #[test]
    fn wrong_root_is_named() {
        let e = parse_root(
            br#"<C:calendar-query xmlns:C="urn:ietf:params:xml:ns:caldav"/>"#,
            DAV,
            "propfind",
        );
        assert_eq!(
            e.unwrap_err().0,
            "expected DAV:propfind as the root element, found CALDAV:calendar-query"
        );
    }

    #[test]
    fn xml_lang_is_inherited_by_property_elements() {
        let set = parse(br#"<D:set xmlns:D="DAV:" xml:lang="fr"><D:prop><x xmlns="urn:x">a</x><y xmlns="urn:x" xml:lang="de"/></D:prop></D:set>"#).unwrap();
        let properties = property_elements(set, Some("en")).unwrap();
        assert_eq!(properties[0].attr(XML_NS, "lang"), Some("fr"));
        assert_eq!(properties[1].attr(XML_NS, "lang"), Some("de"));
        let plain =
            parse(br#"<D:set xmlns:D="DAV:"><D:prop><x xmlns="urn:x"/></D:prop></D:set>"#).unwrap();
        assert!(property_elements(plain, None).unwrap()[0].attrs.is_empty());
    }
}
