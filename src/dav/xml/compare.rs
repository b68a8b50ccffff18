//! Compares two XML documents as trees, for tests: XML produced by Kalends is checked this way,
//! never byte for byte, so prefixes, attribute order, indentation and sibling order are free to
//! change without breaking tests.

use super::reader::{Element, Node, is_xml_space, parse};

/// `Ok` when both documents parse to the same tree: same namespace + local names, the same
/// attributes (as sets), the same text (ignoring leading/trailing whitespace) and the same child
/// elements in any order. Otherwise the error names the first difference and where it is.
pub fn xml_tree_eq(a: &[u8], b: &[u8]) -> Result<(), String> {
    let left = parse(a).map_err(|e| format!("left document does not parse: {e}"))?;
    let right = parse(b).map_err(|e| format!("right document does not parse: {e}"))?;
    let path = format!("/{}", left.name);
    compare(&left, &right, &path)
}

fn compare(left: &Element, right: &Element, path: &str) -> Result<(), String> {
    if left.name != right.name {
        return Err(format!(
            "at {path}: element {} on the left, {} on the right",
            left.name, right.name
        ));
    }
    compare_attrs(left, right, path)?;
    let (lt, rt) = (own_text(left), own_text(right));
    if lt != rt {
        return Err(format!(
            "at {path}: text {lt:?} on the left, {rt:?} on the right"
        ));
    }
    compare_children(left, right, path)
}

fn compare_attrs(left: &Element, right: &Element, path: &str) -> Result<(), String> {
    for (key, value) in &left.attrs {
        match right.attr(&key.ns, &key.local) {
            Some(v) if v == value => {}
            Some(v) => {
                return Err(format!(
                    "at {path}: attribute {key}={value:?} on the left, {v:?} on the right"
                ));
            }
            None => return Err(format!("at {path}: attribute {key} only on the left")),
        }
    }
    match right
        .attrs
        .iter()
        .find(|(k, _)| left.attr(&k.ns, &k.local).is_none())
    {
        Some((key, _)) => Err(format!("at {path}: attribute {key} only on the right")),
        None => Ok(()),
    }
}

/// The element's own text (not its descendants'), trimmed; indentation is not content.
fn own_text(element: &Element) -> String {
    let mut text = String::new();
    for node in &element.children {
        if let Node::Text(t) = node {
            text.push_str(t);
        }
    }
    if is_xml_space(&text) {
        return String::new();
    }
    text.trim_matches([' ', '\t', '\r', '\n']).to_owned()
}

/// Pairs each left child with an equal, not yet paired right child of the same name.
fn compare_children(left: &Element, right: &Element, path: &str) -> Result<(), String> {
    let rights: Vec<&Element> = right.children().collect();
    let mut paired = vec![false; rights.len()];
    for (nth, child) in left.children().enumerate() {
        let child_path = format!("{path}/{}[{nth}]", child.name);
        let candidates: Vec<usize> = (0..rights.len())
            .filter(|&i| !paired[i] && rights[i].name == child.name)
            .collect();
        let mut first_error = None;
        for &i in &candidates {
            match compare(child, rights[i], &child_path) {
                Ok(()) => {
                    paired[i] = true;
                    first_error = None;
                    break;
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match (candidates.is_empty(), first_error) {
            (true, _) => return Err(format!("at {child_path}: element only on the left")),
            (false, Some(e)) if candidates.len() == 1 => return Err(e),
            (false, Some(e)) => {
                let n = candidates.len();
                return Err(format!(
                    "at {child_path}: none of {n} candidates on the right match; against the first: {e}"
                ));
            }
            (false, None) => {}
        }
    }
    match paired.iter().position(|p| !p) {
        Some(i) => Err(format!(
            "at {path}: child {} only on the right",
            rights[i].name
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_order_and_indentation_do_not_matter() {
        let a = br#"<D:multistatus xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
            <D:response><D:href>/a</D:href></D:response>
            <D:response><D:href>/b</D:href><C:x y="1" z="2"/></D:response>
        </D:multistatus>"#;
        let b = br#"<multistatus xmlns="DAV:"><response><href>/b</href>
            <q:x xmlns:q="urn:ietf:params:xml:ns:caldav" z="2" y="1"/></response>
            <response><href> /a </href></response></multistatus>"#;
        assert_eq!(xml_tree_eq(a, b), Ok(()));
    }

    #[test]
    fn differences_are_located() {
        let a = br#"<D:a xmlns:D="DAV:"><D:b><D:c>1</D:c></D:b></D:a>"#;
        let b = br#"<D:a xmlns:D="DAV:"><D:b><D:c>2</D:c></D:b></D:a>"#;
        let err = xml_tree_eq(a, b).unwrap_err();
        assert!(err.contains("/DAV:a/DAV:b[0]/DAV:c[0]"), "{err}");
        assert!(err.contains("\"1\""), "{err}");
    }

    #[test]
    fn namespaces_attributes_and_extra_children_count() {
        let cases: [(&[u8], &[u8], &str); 5] = [
            (
                br#"<a xmlns="urn:x"/>"#,
                br#"<a xmlns="urn:y"/>"#,
                "element",
            ),
            (br#"<a b="1"/>"#, br#"<a/>"#, "only on the left"),
            (br#"<a/>"#, br#"<a b="1"/>"#, "only on the right"),
            (
                br#"<a><b/></a>"#,
                br#"<a><b/><b/></a>"#,
                "child b only on the right",
            ),
            (
                br#"<a><b/><b/></a>"#,
                br#"<a><b/><c/></a>"#,
                "element only on the left",
            ),
        ];
        for (a, b, expected) in cases {
            let err = xml_tree_eq(a, b).unwrap_err();
            assert!(err.contains(expected), "{err}");
        }
    }

    #[test]
    fn unparsable_input_is_reported_as_such() {
        let err = xml_tree_eq(b"<a>", b"<a/>").unwrap_err();
        assert!(err.starts_with("left document does not parse"), "{err}");
    }
}
