//! Writer tests: prefixes and declarations, escaping, and round trips through the reader.

use super::*;
use crate::dav::xml::{parse, xml_tree_eq};

fn dav(local: &'static str) -> QName {
    QName::fixed(DAV, local)
}

fn utf8(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap()
}

#[test]
fn fixed_prefixes_are_declared_once_on_the_root() {
    let mut w = XmlWriter::new();
    w.start(&dav("multistatus"));
    w.start(&dav("response"));
    w.text_element(&dav("href"), "/cal/");
    w.empty(&QName::fixed(CS, "getctag"));
    w.text_element(&QName::fixed(APPLE, "calendar-color"), "#FF0000");
    w.end();
    w.end();
    let out = w.finish();
    let text = utf8(&out);
    assert!(text.starts_with(r#"<?xml version="1.0" encoding="utf-8"?><D:multistatus xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:CS="http://calendarserver.org/ns/" xmlns:ICAL="http://apple.com/ns/ical/">"#), "{text}");
    assert_eq!(text.matches("xmlns:D=").count(), 1, "{text}");
    assert!(
        text.contains(
            "<D:href>/cal/</D:href><CS:getctag/><ICAL:calendar-color>#FF0000</ICAL:calendar-color>"
        ),
        "{text}"
    );
    let expected = br#"<multistatus xmlns="DAV:"><response><href>/cal/</href>
        <getctag xmlns="http://calendarserver.org/ns/"/>
        <calendar-color xmlns="http://apple.com/ns/ical/">#FF0000</calendar-color></response></multistatus>"#;
    assert_eq!(xml_tree_eq(&out, expected), Ok(()));
}

#[test]
fn foreign_namespaces_get_generated_prefixes_where_used() {
    let foo = QName::new("urn:foo", "a");
    let bar = QName::new("urn:bar", "b");
    let mut w = XmlWriter::new();
    w.start(&dav("prop"));
    w.start(&foo);
    w.empty(&QName::new("urn:foo", "inner"));
    w.empty_with_attrs(
        &QName::new("urn:foo", "attr-user"),
        [(&QName::new("urn:bar", "k"), "v")],
    );
    w.end();
    w.start(&bar);
    w.empty(&QName::new("urn:foo", "again"));
    w.end();
    w.end();
    let out = w.finish();
    let text = utf8(&out);
    // Declared on the element that first uses it, inherited below it, re-declared (with the
    // same prefix) in a sibling subtree where it is out of scope.
    assert!(text.contains(r#"<x0:a xmlns:x0="urn:foo"><x0:inner/><x0:attr-user x1:k="v" xmlns:x1="urn:bar"/></x0:a>"#)
        || text.contains(r#"<x0:a xmlns:x0="urn:foo"><x0:inner/><x0:attr-user xmlns:x1="urn:bar" x1:k="v"/></x0:a>"#), "{text}");
    assert!(
        text.contains(r#"<x1:b xmlns:x1="urn:bar"><x0:again xmlns:x0="urn:foo"/></x1:b>"#),
        "{text}"
    );
    let tree = parse(&out).unwrap();
    let again = tree
        .child("urn:bar", "b")
        .unwrap()
        .child("urn:foo", "again");
    assert!(again.is_some());
    assert_eq!(
        tree.child("urn:foo", "a")
            .unwrap()
            .children()
            .nth(1)
            .unwrap()
            .attr("urn:bar", "k"),
        Some("v")
    );
}

#[test]
fn no_namespace_elements_stay_in_no_namespace() {
    let mut w = XmlWriter::new();
    w.start(&dav("prop"));
    w.text_element(&QName::fixed("", "plain"), "x");
    w.end();
    let tree = parse(&w.finish()).unwrap();
    assert!(tree.child("", "plain").is_some());
}

#[test]
fn text_and_attributes_are_escaped_and_round_trip_exactly() {
    let nasty = "a&b<c>d\"e'f\r\ng\th]]>";
    let mut w = XmlWriter::new();
    w.start_with_attrs(&dav("x"), [(&QName::fixed("", "v"), nasty)]);
    w.text(nasty);
    w.end();
    let out = w.finish();
    let text = utf8(&out);
    assert!(
        text.contains(r#"v="a&amp;b&lt;c&gt;d&quot;e'f&#13;&#10;g&#9;h]]&gt;""#),
        "{text}"
    );
    assert!(
        text.contains(">a&amp;b&lt;c&gt;d\"e'f&#13;\ng\th]]&gt;</D:x>"),
        "{text}"
    );
    let tree = parse(&out).unwrap();
    assert_eq!(tree.attr("", "v"), Some(nasty));
    assert_eq!(tree.text(), nasty);
}

#[test]
fn control_characters_are_replaced_not_written() {
    let mut w = XmlWriter::new();
    w.text_element(&dav("displayname"), "a\u{1}b\u{1F}");
    let out = w.finish();
    assert_eq!(parse(&out).unwrap().text(), "a\u{FFFD}b\u{FFFD}");
}

#[test]
fn dom_subtrees_round_trip_through_writer_and_reader() {
    let body =
        br#"<R:bigbox xmlns:R="http://ns.example.com/boxschema/" xmlns:D="DAV:" xml:lang="en">
        <R:BoxType R:size="large" colour="red">Box type &amp; A</R:BoxType><D:href>/x</D:href>
        <n0:deep xmlns:n0="urn:x"><plain>t</plain></n0:deep></R:bigbox>"#;
    let property = parse(body).unwrap();
    let mut w = XmlWriter::new();
    w.start(&dav("prop"));
    w.element(&property);
    w.element(&property);
    w.end();
    let tree = parse(&w.finish()).unwrap();
    let written: Vec<&Element> = tree.children().collect();
    assert_eq!(written, [&property, &property]);
}

#[test]
fn empty_text_element_and_unbalanced_finish() {
    let mut w = XmlWriter::new();
    w.start(&dav("multistatus"));
    w.start(&dav("response"));
    w.text_element(&dav("displayname"), "");
    let out = w.finish();
    assert!(utf8(&out).ends_with("<D:displayname/></D:response></D:multistatus>"));
    assert!(parse(&out).is_ok());
}

#[test]
fn fragments_declare_only_what_they_use() {
    let prop = Element::new(QName::fixed(APPLE, "calendar-order")).with_text("2");
    assert_eq!(
        prop.to_xml(),
        r#"<ICAL:calendar-order xmlns:ICAL="http://apple.com/ns/ical/">2</ICAL:calendar-order>"#
    );
    let bare = Element::new(QName::fixed("", "x")).with_attr(QName::fixed(XML_NS, "lang"), "de");
    assert_eq!(bare.to_xml(), r#"<x xml:lang="de"/>"#);
}

#[test]
fn a_large_multistatus_is_written_in_one_buffer() {
    let (href, etag, status) = (dav("href"), dav("getetag"), dav("status"));
    let mut w = XmlWriter::with_capacity(1 << 20);
    w.start(&dav("multistatus"));
    for i in 0..1_000 {
        w.start(&dav("response"));
        w.text_element(&href, &format!("/calendars/alice/work/{i}.ics"));
        w.start(&dav("propstat"));
        w.start(&dav("prop"));
        w.text_element(&etag, "\"abc\"");
        w.end();
        w.text_element(&status, "HTTP/1.1 200 OK");
        w.end();
        w.end();
    }
    let out = w.finish();
    assert_eq!(parse(&out).unwrap().children().count(), 1_000);
}
