//! PROPPATCH bodies (RFC 4918 §9.2, §14.19): an ordered list of set and remove instructions.

use super::{lang, parse_root, property_elements};
use crate::dav::xml::{DAV, Element, QName, XmlError};

/// One instruction of a DAV:propertyupdate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatchOp {
    /// Set the property to this element (its name is the property, its content the value; a
    /// dead property is stored as `Element::to_xml` of it).
    Set(Element),
    Remove(QName),
}

/// Parses a PROPPATCH body into its instructions in document order, which RFC 4918 §9.2 requires
/// the server to apply in that order.
pub fn parse_proppatch(body: &[u8]) -> Result<Vec<PatchOp>, XmlError> {
    let root = parse_root(body, DAV, "propertyupdate")?;
    let inherited = lang(&root);
    let mut ops = Vec::new();
    let mut instructions = 0;
    for instruction in root.into_children() {
        let set = instruction.is(DAV, "set");
        if !set && !instruction.is(DAV, "remove") {
            continue;
        }
        instructions += 1;
        for property in property_elements(instruction, inherited.as_deref())? {
            ops.push(if set {
                PatchOp::Set(property)
            } else {
                PatchOp::Remove(property.name)
            });
        }
    }
    if instructions == 0 {
        return Err(XmlError::invalid(
            "DAV:propertyupdate must contain DAV:set or DAV:remove (RFC 4918 §14.19)",
        ));
    }
    Ok(ops)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::dav::xml::{APPLE, XML_NS};

    #[test]
    fn instructions_keep_document_order() {
        let body = br#"<A:propertyupdate xmlns:A="DAV:" xmlns:I="http://apple.com/ns/ical/">
            <A:remove><A:prop><I:calendar-color/></A:prop></A:remove>
            <A:set><A:prop><I:calendar-color>#FF2968FF</I:calendar-color><A:displayname>Work</A:displayname></A:prop></A:set>
            <A:remove><A:prop><A:displayname/></A:prop></A:remove>
        </A:propertyupdate>"#;
        let ops = parse_proppatch(body).unwrap();
        assert_eq!(ops.len(), 4);
        assert_eq!(
            ops[0],
            PatchOp::Remove(QName::fixed(APPLE, "calendar-color"))
        );
        let PatchOp::Set(color) = &ops[1] else {
            panic!("{ops:?}")
        };
        assert!(color.is(APPLE, "calendar-color"));
        assert_eq!(color.text(), "#FF2968FF");
        assert!(matches!(&ops[2], PatchOp::Set(e) if e.is(DAV, "displayname")));
        assert_eq!(ops[3], PatchOp::Remove(QName::fixed(DAV, "displayname")));
    }

    #[test]
    fn language_on_an_ancestor_travels_with_the_value() {
        let body = br#"<D:propertyupdate xmlns:D="DAV:" xml:lang="en"><D:set><D:prop><x:a xmlns:x="urn:x">hi</x:a></D:prop></D:set></D:propertyupdate>"#;
        let ops = parse_proppatch(body).unwrap();
        let PatchOp::Set(a) = &ops[0] else {
            panic!("{ops:?}")
        };
        assert_eq!(a.attr(XML_NS, "lang"), Some("en"));
    }

    #[test]
    fn required_structure_is_enforced() {
        let cases: [(&[u8], &str); 4] = [
            (b"", "no root element"),
            (
                br#"<propertyupdate xmlns="DAV:"/>"#,
                "must contain DAV:set or DAV:remove",
            ),
            (
                br#"<propertyupdate xmlns="DAV:"><set/></propertyupdate>"#,
                "DAV:set must contain DAV:prop",
            ),
            (
                br#"<propfind xmlns="DAV:"/>"#,
                "expected DAV:propertyupdate",
            ),
        ];
        for (body, expected) in cases {
            let e = parse_proppatch(body).unwrap_err().0;
            assert!(e.contains(expected), "{e}");
        }
    }
}
