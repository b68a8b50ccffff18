//! REPORT body tests beyond the fixtures: each report's required parts and edge values.

use super::*;

fn err(body: &[u8]) -> String {
    match parse_report(body) {
        Ok(report) => panic!("expected an error, parsed {report:?}"),
        Err(e) => e.0,
    }
}

#[test]
fn multiget_hrefs_are_trimmed_and_required() {
    let body = br#"<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
        <D:prop><D:getetag/><C:calendar-data content-type="text/calendar" version="2.0"/></D:prop>
        <D:href>
            /cal/a%20b.ics
        </D:href><D:href>/cal/x&amp;y.ics</D:href></C:calendar-multiget>"#;
    let report = parse_report(body).unwrap();
    let data = report.requested_prop(CALDAV, "calendar-data").unwrap();
    assert_eq!(data.attr("", "content-type"), Some("text/calendar"));
    let ReportBody::CalendarMultiget { props, hrefs, .. } = report else {
        panic!()
    };
    assert_eq!(hrefs, ["/cal/a%20b.ics", "/cal/x&y.ics"]);
    assert!(matches!(props, PropSelection::Prop(names) if names.len() == 2));
    let none = br#"<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop></C:calendar-multiget>"#;
    assert!(err(none).contains("at least one DAV:href"));
}

#[test]
fn multiget_without_prop_is_allprop() {
    let body = br#"<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:href>/a.ics</D:href></C:calendar-multiget>"#;
    let ReportBody::CalendarMultiget {
        props,
        prop_elements,
        ..
    } = parse_report(body).unwrap()
    else {
        panic!()
    };
    assert_eq!(props, PropSelection::default());
    assert!(prop_elements.is_empty());
}

fn sync(inner: &str) -> String {
    format!(r#"<sync-collection xmlns="DAV:">{inner}<prop><getetag/></prop></sync-collection>"#)
}

#[test]
fn sync_collection_tokens_levels_and_limits() {
    let ok = |inner: &str| match parse_report(sync(inner).as_bytes()).unwrap() {
        ReportBody::SyncCollection {
            token,
            level,
            limit,
            ..
        } => (token, level, limit),
        other => panic!("{other:?}"),
    };
    let initial = (None, SyncLevel::One, None);
    assert_eq!(ok("<sync-token/><sync-level>1</sync-level>"), initial);
    assert_eq!(
        ok("<sync-token>  </sync-token><sync-level>1</sync-level>"),
        initial
    );
    let token = "<sync-token>\n http://k/sync/7 </sync-token>";
    let limited =
        format!("{token}<sync-level>infinite</sync-level><limit><nresults>50</nresults></limit>");
    assert_eq!(
        ok(&limited),
        (
            Some("http://k/sync/7".into()),
            SyncLevel::Infinite,
            Some(50)
        )
    );
    assert_eq!(
        ok("<sync-token/><sync-level>Infinity</sync-level>").1,
        SyncLevel::Infinite
    );
    assert_eq!(
        ok("<sync-token/>").1,
        SyncLevel::One,
        "pre-RFC clients omit sync-level"
    );
}

#[test]
fn sync_collection_refuses_missing_or_bad_parts() {
    let refused = |inner: &str, expected: &str| {
        let e = parse_report(sync(inner).as_bytes()).unwrap_err().0;
        assert!(e.contains(expected), "{inner}: {e}");
    };
    refused("<sync-level>1</sync-level>", "needs DAV:sync-token");
    refused(
        "<sync-token/><sync-level>2</sync-level>",
        "DAV:sync-level must be",
    );
    for bad in ["0", "-1", "+5", "x", "", "99999999999"] {
        let limit = format!("<limit><nresults>{bad}</nresults></limit>");
        refused(
            &format!("<sync-token/><sync-level>1</sync-level>{limit}"),
            "DAV:nresults",
        );
    }
    refused(
        "<sync-token/><sync-level>1</sync-level><limit/>",
        "DAV:nresults",
    );
    let no_prop = br#"<sync-collection xmlns="DAV:"><sync-token/><sync-level>1</sync-level></sync-collection>"#;
    assert!(err(no_prop).contains("needs DAV:prop"));
}

#[test]
fn calendar_query_keeps_filter_and_timezone() {
    let body = br#"<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
        <D:prop><D:getetag/></D:prop>
        <C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VTODO"/></C:comp-filter></C:filter>
        <C:timezone>BEGIN:VCALENDAR&#13;
END:VCALENDAR&#13;
</C:timezone></C:calendar-query>"#;
    let ReportBody::CalendarQuery {
        props,
        filter,
        timezone,
        ..
    } = parse_report(body).unwrap()
    else {
        panic!()
    };
    assert_eq!(
        props,
        PropSelection::Prop(vec![QName::fixed(DAV, "getetag")])
    );
    assert!(filter.is(CALDAV, "filter"));
    let inner = filter
        .child(CALDAV, "comp-filter")
        .unwrap()
        .child(CALDAV, "comp-filter")
        .unwrap();
    assert_eq!(inner.attr("", "name"), Some("VTODO"));
    assert_eq!(
        timezone.as_deref(),
        Some("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")
    );
    let no_filter = br#"<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop></C:calendar-query>"#;
    assert!(err(no_filter).contains("needs CALDAV:filter"));
}

#[test]
fn free_busy_needs_a_closed_range() {
    let fb = |range: &str| {
        format!(
            r#"<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav">{range}</C:free-busy-query>"#
        )
    };
    let report = parse_report(
        fb(r#"<C:time-range start="20060104T140000Z" end="20060105T220000Z"/>"#).as_bytes(),
    );
    assert_eq!(
        report.unwrap(),
        ReportBody::FreeBusyQuery {
            start: "20060104T140000Z".into(),
            end: "20060105T220000Z".into()
        }
    );
    assert!(
        err(fb(r#"<C:time-range start="20060104T140000Z"/>"#).as_bytes())
            .contains("needs start and end")
    );
    assert!(err(fb("").as_bytes()).contains("needs CALDAV:time-range"));
}

#[test]
fn other_reports_are_named_not_refused() {
    let body = br#"<D:acl-principal-prop-set xmlns:D="DAV:"><D:prop><D:displayname/></D:prop></D:acl-principal-prop-set>"#;
    assert_eq!(
        parse_report(body).unwrap(),
        ReportBody::Unsupported(QName::fixed(DAV, "acl-principal-prop-set"))
    );
    let cs = br#"<CS:calendarserver-principal-search xmlns:CS="http://calendarserver.org/ns/"/>"#;
    assert!(
        matches!(parse_report(cs).unwrap(), ReportBody::Unsupported(n) if n.local == "calendarserver-principal-search")
    );
    // A CalDAV report name in the wrong namespace is not the CalDAV report.
    let wrong_ns = br#"<calendar-multiget xmlns="DAV:"><href>/a</href></calendar-multiget>"#;
    assert!(matches!(
        parse_report(wrong_ns).unwrap(),
        ReportBody::Unsupported(_)
    ));
}

#[test]
fn empty_or_malformed_bodies_are_errors() {
    assert!(err(b"").contains("REPORT needs a body"));
    assert!(err(b"<sync-collection xmlns=\"DAV:\">").starts_with("malformed XML"));
}

#[test]
fn principal_property_search_rfc3744_9_4() {
    let body = br#"<D:principal-property-search xmlns:D="DAV:" test="anyof"><D:property-search><D:prop><D:displayname/></D:prop><D:match match-type="starts-with">doE</D:match></D:property-search><D:prop><D:displayname/></D:prop></D:principal-property-search>"#;
    let ReportBody::PrincipalPropertySearch { searches, any_of, props } = parse_report(body).unwrap() else {
        panic!("not parsed as principal-property-search")
    };
    assert!(any_of);
    assert_eq!(searches, vec![PropertySearch { props: vec![QName::fixed(DAV, "displayname")], text: "doE".into(), match_type: MatchType::StartsWith }]);
    assert_eq!(props, PropSelection::Prop(vec![QName::fixed(DAV, "displayname")]));
    let empty = br#"<D:principal-property-search xmlns:D="DAV:"><D:property-search/></D:principal-property-search>"#;
    assert!(parse_report(empty).is_err(), "a property-search needs prop and match");
    // What the caldav library 3.x sends: no search (list all), the properties after an empty prop.
    let library = br#"<D:principal-property-search xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop/><C:calendar-home-set/><D:displayname/></D:principal-property-search>"#;
    let ReportBody::PrincipalPropertySearch { searches, props, .. } = parse_report(library).unwrap() else {
        panic!("not parsed as principal-property-search")
    };
    assert!(searches.is_empty());
    assert_eq!(props, PropSelection::Prop(vec![QName::fixed(CALDAV, "calendar-home-set"), QName::fixed(DAV, "displayname")]));
}
