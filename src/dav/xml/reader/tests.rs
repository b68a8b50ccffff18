//! Reader tests: namespace patterns real clients use, refusal of DTDs and oversized documents,
//! text handling and the DOM helpers.

use super::*;
use crate::dav::xml::{CALDAV, DAV, XML_NS};

fn dav(local: &'static str) -> QName {
    QName::fixed(DAV, local)
}

fn err(body: &[u8]) -> String {
    match parse(body) {
        Ok(tree) => panic!("expected an error, parsed {tree:?}"),
        Err(e) => e.0,
    }
}

/// The same PROPFIND written with every prefix pattern seen from clients: all must resolve to
/// DAV:propfind / DAV:prop / {DAV:getetag, CALDAV:calendar-data}.
#[test]
fn namespace_prefix_patterns_resolve_alike() {
    let variants: [(&str, &str); 9] = [
        (
            "upper D",
            r#"<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/></D:prop></D:propfind>"#,
        ),
        (
            "lower d",
            r#"<d:propfind xmlns:d="DAV:" xmlns:cal="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/><cal:calendar-data/></d:prop></d:propfind>"#,
        ),
        (
            "default DAV",
            r#"<propfind xmlns="DAV:" xmlns:CAL="urn:ietf:params:xml:ns:caldav"><prop><getetag/><CAL:calendar-data/></prop></propfind>"#,
        ),
        (
            "Apple A/B per element",
            r#"<A:propfind xmlns:A="DAV:"><A:prop><A:getetag/><B:calendar-data xmlns:B="urn:ietf:params:xml:ns:caldav"/></A:prop></A:propfind>"#,
        ),
        (
            "default switched mid-tree",
            r#"<propfind xmlns="DAV:"><prop><getetag/><calendar-data xmlns="urn:ietf:params:xml:ns:caldav"/></prop></propfind>"#,
        ),
        (
            "kXML generated n0",
            r#"<propfind xmlns="DAV:"><prop><getetag /><n0:calendar-data xmlns:n0="urn:ietf:params:xml:ns:caldav" /></prop></propfind>"#,
        ),
        (
            "prefix rebound in child",
            r#"<x:propfind xmlns:x="DAV:"><x:prop><x:getetag/><x:calendar-data xmlns:x="urn:ietf:params:xml:ns:caldav"/></x:prop></x:propfind>"#,
        ),
        (
            "two prefixes, one namespace",
            r#"<D:propfind xmlns:D="DAV:" xmlns:W="DAV:"><W:prop><D:getetag/><C:calendar-data xmlns:C="urn:ietf:params:xml:ns:caldav"></C:calendar-data></W:prop></D:propfind>"#,
        ),
        (
            "declared late on prop",
            r#"<D:propfind xmlns:D="DAV:"><D:prop xmlns:C="urn:ietf:params:xml:ns:caldav"><D:getetag/><C:calendar-data/></D:prop></D:propfind>"#,
        ),
    ];
    let expected = Element::new(dav("propfind")).with_child(
        Element::new(dav("prop"))
            .with_child(Element::new(dav("getetag")))
            .with_child(Element::new(QName::fixed(CALDAV, "calendar-data"))),
    );
    for (label, body) in variants {
        let tree = parse(body.as_bytes()).unwrap_or_else(|e| panic!("{label}: {e}"));
        assert_eq!(tree, expected, "{label}");
    }
}

#[test]
fn undeclaring_the_default_namespace_leaves_no_namespace() {
    let tree = parse(br#"<propfind xmlns="DAV:"><prop><foo xmlns=""/></prop></propfind>"#).unwrap();
    let foo = tree.child(DAV, "prop").unwrap().children().next().unwrap();
    assert!(foo.is("", "foo"));
}

#[test]
fn unbound_prefix_is_an_error() {
    let e = err(br#"<D:propfind xmlns:D="DAV:"><D:prop><C:calendar-data/></D:prop></D:propfind>"#);
    assert!(e.starts_with("malformed XML at byte 35:"), "{e}");
    assert!(e.contains("prefix \"C\" is not bound"), "{e}");
    assert!(err(br#"<x:a/>"#).contains("not bound"));
    assert!(err(br#"<a x:b="1"/>"#).contains("not bound"));
}

#[test]
fn doctypes_are_refused_so_no_entity_is_ever_expanded() {
    let xxe = br#"<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><foo>&xxe;</foo>"#;
    let laughs = br#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<lolz>&lol4;</lolz>"#;
    let external =
        br#"<!DOCTYPE propfind SYSTEM "http://attacker.example/evil.dtd"><propfind xmlns="DAV:"/>"#;
    for body in [&xxe[..], &laughs[..], &external[..]] {
        assert!(err(body).contains("DOCTYPE declarations are not allowed"));
    }
}

#[test]
fn undefined_entities_are_errors() {
    assert!(err(b"<a>&xxe;</a>").contains("undefined entity &xxe;"));
    assert!(err(br#"<a b="&xxe;"/>"#).contains("xxe"));
}

#[test]
fn nesting_depth_is_bounded() {
    let nested = |depth: usize| "<a>".repeat(depth) + &"</a>".repeat(depth);
    assert!(parse(nested(64).as_bytes()).is_ok());
    let e = err(nested(65).as_bytes());
    assert!(e.contains("nested deeper than 64"), "{e}");
    assert!(e.starts_with("malformed XML at byte 192:"), "{e}");
}

#[test]
fn element_count_is_bounded() {
    let limits = Limits {
        max_depth: 64,
        max_elements: 3,
    };
    assert!(parse_with_limits(b"<a><b/><c/></a>", limits).is_ok());
    let e = parse_with_limits(b"<a><b/><c/><d/></a>", limits)
        .unwrap_err()
        .0;
    assert!(e.contains("more than 3 elements"), "{e}");
    let wide = format!("<a>{}</a>", "<b/>".repeat(Limits::DEFAULT.max_elements));
    assert!(err(wide.as_bytes()).contains("more than 10000 elements"));
}

#[test]
fn utf8_with_or_without_bom() {
    let tree = parse("\u{FEFF}<a>é</a>".as_bytes()).unwrap();
    assert_eq!(tree.text(), "é");
    let e = err(b"\xEF\xBB\xBF<a>\xE9</a>");
    assert!(
        e.starts_with("malformed XML at byte 6: the body is not UTF-8"),
        "{e}"
    );
    // Positions count from the client's first byte, BOM included.
    assert!(
        err(b"\xEF\xBB\xBF<a></b>").contains("byte 6"),
        "{}",
        err(b"\xEF\xBB\xBF<a></b>")
    );
}

#[test]
fn declared_encodings_are_honoured_or_refused() {
    assert!(parse(br#"<?xml version="1.0" encoding="UTF-8"?><a/>"#).is_ok());
    assert!(parse(br#"<?xml version="1.0" encoding="ISO-8859-1"?><a>plain</a>"#).is_ok());
    let e = err("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>é</a>".as_bytes());
    assert!(
        e.contains("encoding \"ISO-8859-1\" is not supported"),
        "{e}"
    );
}

#[test]
fn cdata_references_and_text_merge_into_one_text_node() {
    let tree = parse(b"<a>x<![CDATA[<y>&]]>z&amp;&#65;&#x42;&lt;&gt;&quot;&apos;</a>").unwrap();
    assert_eq!(tree.children, vec![Node::Text("x<y>&z&AB<>\"'".into())]);
}

#[test]
fn comments_and_processing_instructions_are_ignored() {
    let body = br#"<?xml version="1.0"?><?xml-stylesheet href="x"?><!-- hi --><a><!--c-->t<?pi x?>u</a><!-- bye -->"#;
    let tree = parse(body).unwrap();
    assert_eq!(tree.children, vec![Node::Text("tu".into())]);
}

#[test]
fn whitespace_between_elements_is_dropped_but_text_is_kept_exactly() {
    let tree = parse(b"<a>\n  <b> x </b>\n  <c>  </c>\n</a>").unwrap();
    assert_eq!(tree.children.len(), 2);
    assert_eq!(
        tree.child("", "b").unwrap().children,
        vec![Node::Text(" x ".into())]
    );
    assert_eq!(tree.child("", "c").unwrap().text(), "  ");
    let mixed = parse(b"<a> x <b/> </a>").unwrap();
    assert_eq!(mixed.children.len(), 2);
    assert_eq!(mixed.children[0], Node::Text(" x ".into()));
}

#[test]
fn line_ends_are_normalised_and_escaped_cr_survives() {
    let tree = parse(b"<a>1\r\n2\r3&#13;\n4</a>").unwrap();
    assert_eq!(tree.text(), "1\n2\n3\r\n4");
}

#[test]
fn attributes_resolve_and_unescape() {
    let body = br#"<C:comp xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:x="urn:x" name="VEVENT" x:k="a&amp;b&#10;c" xml:lang="en"/>"#;
    let tree = parse(body).unwrap();
    assert_eq!(tree.attr("", "name"), Some("VEVENT"));
    assert_eq!(tree.attr("urn:x", "k"), Some("a&b\nc"));
    assert_eq!(tree.attr(XML_NS, "lang"), Some("en"));
    assert_eq!(tree.attrs.len(), 3, "xmlns declarations are not attributes");
}

#[test]
fn malformed_documents_are_refused_with_one_line_reasons() {
    let cases: [(&[u8], &str); 11] = [
        (b"", "no root element"),
        (b"  \n ", "no root element"),
        (b"<a>", "end of body inside a"),
        (b"<a></b>", "expected `</a>`"),
        (b"<a/><b/>", "content after the root element"),
        (b"<a/>text", "text outside the root element"),
        (b"text<a/>", "text outside the root element"),
        (br#"<a b="1" b="2"/>"#, "b"),
        (
            br#"<a xmlns:p="urn:x" xmlns:q="urn:x" p:b="1" q:b="2"/>"#,
            "duplicate attribute {urn:x}b",
        ),
        (b"<a>&#1;</a>", "U+0001 is not allowed"),
        (b"<a>\x01</a>", "U+0001 is not allowed"),
    ];
    for (body, expected) in cases {
        let e = err(body);
        assert!(e.starts_with("malformed XML at byte "), "{e}");
        assert!(
            e.contains(expected),
            "{:?}: {e}",
            String::from_utf8_lossy(body)
        );
        assert!(!e.contains('\n'), "{e}");
    }
}

#[test]
fn error_messages_are_capped() {
    let body = format!("<{}:a/>", "p".repeat(10_000));
    let e = err(body.as_bytes());
    assert!(e.chars().count() <= MAX_MESSAGE + 1, "{}", e.len());
}

#[test]
fn helpers_find_children_text_and_names() {
    let tree = parse(br#"<D:multistatus xmlns:D="DAV:"> <D:response><D:href>/a</D:href></D:response>
        <D:response><D:href>/b</D:href></D:response> <D:sync-token>t<D:x>u</D:x>v</D:sync-token></D:multistatus>"#)
    .unwrap();
    assert!(tree.is(DAV, "multistatus"));
    assert_eq!(tree.children().count(), 3);
    let hrefs: Vec<String> = tree
        .children_named(DAV, "response")
        .map(|r| r.child(DAV, "href").unwrap().text())
        .collect();
    assert_eq!(hrefs, ["/a", "/b"]);
    assert_eq!(tree.child(DAV, "sync-token").unwrap().text(), "tuv");
    assert!(tree.child(DAV, "nope").is_none());
    assert_eq!(tree.into_children().count(), 3);
}

#[test]
fn dead_property_round_trips_through_to_xml() {
    let body = br#"<D:propertyupdate xmlns:D="DAV:" xmlns:Z="http://ns.example.com/z/" xmlns:I="http://apple.com/ns/ical/">
      <D:set><D:prop>
        <Z:Authors xml:lang="en" Z:kind="list" plain="a&quot;b">
          <Z:Author>Jim &amp; &lt;Roy&gt;&#13;</Z:Author>
          <Q:nested xmlns:Q="urn:other"><bare>no namespace</bare><D:href>/x</D:href><I:calendar-color>#FF0000</I:calendar-color></Q:nested>
        </Z:Authors>
      </D:prop></D:set></D:propertyupdate>"#;
    let tree = parse(body).unwrap();
    let property = tree
        .child(DAV, "set")
        .unwrap()
        .child(DAV, "prop")
        .unwrap()
        .children()
        .next()
        .unwrap();
    let stored = property.to_xml();
    assert!(!stored.starts_with("<?xml"), "{stored}");
    let reparsed = parse(stored.as_bytes()).unwrap_or_else(|e| panic!("{e}: {stored}"));
    assert_eq!(&reparsed, property, "{stored}");
    // The stored form is self-contained: all namespaces are declared on its root.
    let root_tag = &stored[..stored.find('>').unwrap()];
    for ns in [
        "http://ns.example.com/z/",
        "urn:other",
        "DAV:",
        "http://apple.com/ns/ical/",
    ] {
        assert!(root_tag.contains(ns), "{ns} not declared on root: {stored}");
    }
}

/// Found by fuzzing (issue 22): quick-xml bound the namespace to the declaration's raw bytes, so
/// `<`, `>` and a newline in it came back from `to_xml` as `&lt;`, `&gt;`, `&#10;`: a stored dead
/// property read back under another name. Names a URI cannot hold are refused.
#[test]
fn namespace_names_a_uri_cannot_hold_are_refused() {
    let found = b"<?xml version='1.0' encoding='UTF-8' ?><propfind xmlns=\"DAV:\" xmlns:CAL=\"urn:iss-set /></prop></propfind>\netf:params:xml:ns:caldav\" xmlns:CARD=\"urn:ietf:params:xml:ns:carddav\"><prop><CAL:calendar-user-address-set /></prop></propfind>";
    assert!(err(found).contains("a URI cannot hold"), "{}", err(found));
    for bad in ["a b", "x&amp;y", "x&gt;", "x\ty", "x&#10;y"] {
        let body = format!("<D:a xmlns:D=\"DAV:\" xmlns:x=\"{bad}\"/>");
        assert!(parse(body.as_bytes()).is_err(), "{bad}");
    }
    let ok = parse(b"<D:a xmlns:D=\"DAV:\" xmlns:x=\"http://example.com/ns?a='1'#f\"><x:b/></D:a>").unwrap();
    assert_eq!(parse(ok.to_xml().as_bytes()).unwrap(), ok);
    assert!(parse(b"<a xmlns=\"\"/>").is_ok());
}

/// Found by fuzzing (issue 22): `<xmlns:C="urn:…"getetag/>` was read as an element in the
/// xmlns namespace named `C="urn:…"getetag`, which the writer then echoed into XML that does
/// not parse. Names that are not XML names, and the xmlns prefix on an element, are refused.
#[test]
fn names_that_are_not_xml_names_are_refused() {
    let found = b"<D:sync-collection xmlns:D=\"DAV:\"><D:sync-token/><D:sync-level>1</D:sync-level><D:prop><D:getcontenttype/><xmlns:C=\"urn:ietf:params:xml:ns:caldav\"getetag/></D:prop></D:sync-collection>";
    assert!(err(found).contains("xmlns prefix") || err(found).contains("not an XML name"), "{}", err(found));
    for bad in ["<a\"b/>", "<1a/>", "<-a/>", "<a b\"=\"1\"/>"] {
        assert!(parse(bad.as_bytes()).is_err(), "{bad}");
    }
    for good in ["<a.b-c_d/>", "<_x/>", "<é1/>", "<D:a xmlns:D=\"DAV:\" D:x-y=\"1\"/>"] {
        let tree = parse(good.as_bytes()).unwrap();
        assert_eq!(parse(tree.to_xml().as_bytes()).unwrap(), tree, "{good}");
    }
}
