//! Extended MKCOL (RFC 5689 §5.1) and MKCALENDAR (RFC 4791 §5.3.1) bodies: the properties to set
//! on the new collection.

use super::{is_blank, lang, parse_root, property_elements};
use crate::dav::xml::{CALDAV, DAV, Element, XmlError};

/// Parses an extended MKCOL body (DAV:mkcol / DAV:set / DAV:prop) into the property elements to
/// set, DAV:resourcetype among them. No body means a plain MKCOL: no properties.
pub fn parse_mkcol(body: &[u8]) -> Result<Vec<Element>, XmlError> {
    parse_set_body(body, DAV, "mkcol")
}

/// Parses a MKCALENDAR body (CALDAV:mkcalendar / DAV:set / DAV:prop) into the property
/// elements to set. The body is optional (RFC 4791 §5.3.1): no body, no properties.
pub fn parse_mkcalendar(body: &[u8]) -> Result<Vec<Element>, XmlError> {
    parse_set_body(body, CALDAV, "mkcalendar")
}

/// A root holding DAV:set instructions only. A root with no DAV:set is read as "no properties",
/// the same as no body, rather than refused: it asks for nothing that could be misapplied.
fn parse_set_body(
    body: &[u8],
    ns: &'static str,
    local: &'static str,
) -> Result<Vec<Element>, XmlError> {
    if is_blank(body) {
        return Ok(Vec::new());
    }
    let root = parse_root(body, ns, local)?;
    let inherited = lang(&root);
    let mut properties = Vec::new();
    for set in root.into_children().filter(|c| c.is(DAV, "set")) {
        properties.extend(property_elements(set, inherited.as_deref())?);
    }
    Ok(properties)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn no_body_means_no_properties() {
        assert!(parse_mkcol(b"").unwrap().is_empty());
        assert!(parse_mkcalendar(b"  ").unwrap().is_empty());
        let bare = br#"<C:mkcalendar xmlns:C="urn:ietf:params:xml:ns:caldav"/>"#;
        assert!(parse_mkcalendar(bare).unwrap().is_empty());
    }

    #[test]
    fn properties_from_every_set() {
        let body = br#"<D:mkcol xmlns:D="DAV:"><D:set><D:prop><D:resourcetype><D:collection/></D:resourcetype></D:prop></D:set>
            <D:set><D:prop><D:displayname>x</D:displayname></D:prop></D:set></D:mkcol>"#;
        let props = parse_mkcol(body).unwrap();
        assert_eq!(props.len(), 2);
        assert!(props[0].is(DAV, "resourcetype") && props[0].child(DAV, "collection").is_some());
        assert_eq!(props[1].text(), "x");
    }

    #[test]
    fn wrong_root_or_missing_prop_is_refused() {
        let mkcol_as_mkcalendar = br#"<D:mkcol xmlns:D="DAV:"/>"#;
        let e = parse_mkcalendar(mkcol_as_mkcalendar).unwrap_err().0;
        assert_eq!(
            e,
            "expected CALDAV:mkcalendar as the root element, found DAV:mkcol"
        );
        let no_prop = br#"<D:mkcol xmlns:D="DAV:"><D:set/></D:mkcol>"#;
        assert!(
            parse_mkcol(no_prop)
                .unwrap_err()
                .0
                .contains("DAV:set must contain DAV:prop")
        );
    }
}
