//! Parses every request body under `fixtures/dav/requests` with its typed parser and checks the
//! result against what the client asked for (names, hrefs, tokens), so fixtures cannot rot: a
//! fixture without a check, or a check without its fixture, fails the suite.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use super::*;
use crate::dav::xml::{APPLE, CALDAV, Element, XML_NS};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/dav/requests");

type Check = fn(&[u8]);

fn apple_post_share(body: &[u8]) {
    use crate::service::shares::Invite;
    use crate::store::Access;
    assert_eq!(
        parse_share(body).unwrap(),
        vec![
            Invite::Set { address: "mailto:bob@example.org".into(), access: Access::ReadWrite },
            Invite::Set { address: "/principals/carol/".into(), access: Access::Read },
            Invite::Remove { address: "mailto:dave@example.org".into() },
        ]
    );
}

/// Fixture path (relative to ROOT) and what it must parse to.
const CHECKS: &[(&str, Check)] = &[
    ("apple/propfind-root-depth0.xml", apple_propfind_root),
    (
        "apple/propfind-principal-depth0.xml",
        apple_propfind_principal,
    ),
    ("apple/propfind-home-depth1.xml", apple_propfind_home),
    ("apple/mkcalendar.xml", apple_mkcalendar),
    ("apple/proppatch-calendar-order.xml", apple_proppatch_order),
    ("apple/proppatch-calendar-color.xml", apple_proppatch_color),
    ("apple/sync-collection.xml", apple_sync_collection),
    ("apple/calendar-multiget.xml", apple_multiget),
    ("apple/post-share.xml", apple_post_share),
    (
        "thunderbird/propfind-calendar-depth0.xml",
        thunderbird_propfind_calendar,
    ),
    (
        "thunderbird/propfind-principal-depth0.xml",
        thunderbird_propfind_principal,
    ),
    (
        "thunderbird/propfind-getctag-depth0.xml",
        thunderbird_propfind_getctag,
    ),
    (
        "thunderbird/propfind-getetag-depth1.xml",
        thunderbird_propfind_getetag,
    ),
    (
        "thunderbird/sync-collection-initial.xml",
        thunderbird_sync_initial,
    ),
    (
        "thunderbird/sync-collection-token.xml",
        thunderbird_sync_token,
    ),
    ("thunderbird/calendar-multiget.xml", thunderbird_multiget),
    (
        "davx5/propfind-base-url-depth0.xml",
        davx5_propfind_base_url,
    ),
    (
        "davx5/propfind-principal-depth0.xml",
        davx5_propfind_principal,
    ),
    ("davx5/propfind-home-depth1.xml", davx5_propfind_home),
    ("davx5/sync-collection-initial.xml", davx5_sync_initial),
    ("davx5/calendar-multiget.xml", davx5_multiget),
    ("davx5/mkcalendar.xml", davx5_mkcalendar),
    ("rfc/rfc4918-9.1.3-propfind-prop.xml", rfc4918_propfind_prop),
    ("rfc/rfc4918-9.1.4-propname.xml", rfc4918_propname),
    ("rfc/rfc4918-9.1.5-allprop.xml", rfc4918_allprop),
    (
        "rfc/rfc4918-9.1.6-allprop-include.xml",
        rfc4918_allprop_include,
    ),
    ("rfc/rfc4918-9.2.2-proppatch.xml", rfc4918_proppatch),
    ("rfc/rfc5689-5-mkcol.xml", rfc5689_mkcol),
    ("rfc/rfc4791-5.3.1.2-mkcalendar.xml", rfc4791_mkcalendar),
    (
        "rfc/rfc4791-7.8.1-calendar-query.xml",
        rfc4791_query_partial,
    ),
    (
        "rfc/rfc4791-7.8.3-calendar-query-expand.xml",
        rfc4791_query_expand,
    ),
    ("rfc/rfc4791-7.9.1-calendar-multiget.xml", rfc4791_multiget),
    ("rfc/rfc4791-7.10.1-free-busy-query.xml", rfc4791_free_busy),
    (
        "rfc/rfc6578-3.8-sync-collection-initial.xml",
        rfc6578_initial,
    ),
    ("rfc/rfc6578-3.9-sync-collection-token.xml", rfc6578_token),
    ("rfc/rfc6578-3.11-sync-collection-limit.xml", rfc6578_limit),
    (
        "rfc/rfc3253-3.8.1-expand-property.xml",
        rfc3253_expand_property,
    ),
];

#[test]
fn every_fixture_has_a_check_and_every_check_a_fixture() {
    let mut on_disk = Vec::new();
    collect_xml(Path::new(ROOT), &mut on_disk);
    let checked: Vec<&str> = CHECKS.iter().map(|(path, _)| *path).collect();
    let unchecked: Vec<&String> = on_disk
        .iter()
        .filter(|p| !checked.contains(&p.as_str()))
        .collect();
    let missing: Vec<&&str> = checked
        .iter()
        .filter(|p| !on_disk.iter().any(|d| d == **p))
        .collect();
    assert!(
        unchecked.is_empty(),
        "fixtures without an entry in CHECKS: {unchecked:?}"
    );
    assert!(
        missing.is_empty(),
        "checks whose fixture file is missing: {missing:?}"
    );
}

#[test]
fn fixtures_parse_to_what_the_client_asked_for() {
    let mut failed = Vec::new();
    for &(path, check) in CHECKS {
        let body =
            std::fs::read(Path::new(ROOT).join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        if std::panic::catch_unwind(|| check(&body)).is_err() {
            failed.push(path);
        }
    }
    assert!(
        failed.is_empty(),
        "fixtures not parsing as expected (panics above): {failed:?}"
    );
}

fn collect_xml(dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_xml(&path, out);
        } else if path.extension().is_some_and(|e| e == "xml") {
            let relative = path.strip_prefix(ROOT).unwrap();
            out.push(relative.to_string_lossy().replace('\\', "/"));
        }
    }
}

// --- helpers: names rendered as the RFCs write them (DAV:x, CALDAV:x, CS:x, ICAL:x, {ns}x) ---

fn names(selection: &PropSelection) -> Vec<String> {
    match selection {
        PropSelection::Prop(names) => names.iter().map(ToString::to_string).collect(),
        other => panic!("expected DAV:prop, got {other:?}"),
    }
}

fn propfind_names(body: &[u8]) -> Vec<String> {
    names(&parse_propfind(body).unwrap())
}

fn sync(body: &[u8]) -> (Option<String>, SyncLevel, Option<u32>, Vec<String>) {
    match parse_report(body).unwrap() {
        ReportBody::SyncCollection {
            token,
            level,
            limit,
            props,
            ..
        } => (token, level, limit, names(&props)),
        other => panic!("expected sync-collection, got {other:?}"),
    }
}

fn multiget(body: &[u8]) -> (Vec<String>, Vec<String>, ReportBody) {
    let report = parse_report(body).unwrap();
    match &report {
        ReportBody::CalendarMultiget { props, hrefs, .. } => {
            (names(props), hrefs.clone(), report.clone())
        }
        other => panic!("expected calendar-multiget, got {other:?}"),
    }
}

fn set_ops(body: &[u8]) -> Vec<Element> {
    parse_proppatch(body)
        .unwrap()
        .into_iter()
        .map(|op| match op {
            PatchOp::Set(e) => e,
            PatchOp::Remove(n) => panic!("unexpected remove of {n}"),
        })
        .collect()
}

fn summary(properties: &[Element]) -> Vec<(String, String)> {
    properties
        .iter()
        .map(|p| (p.name.to_string(), p.text()))
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
        .collect()
}

fn comps(set: &Element) -> Vec<&str> {
    set.children_named(CALDAV, "comp")
        .filter_map(|c| c.attr("", "name"))
        .collect()
}

// --- Apple Calendar (macOS CalendarAgent) ---

fn apple_propfind_root(body: &[u8]) {
    assert_eq!(
        propfind_names(body),
        [
            "DAV:current-user-principal",
            "DAV:principal-URL",
            "DAV:resourcetype"
        ]
    );
}

fn apple_propfind_principal(body: &[u8]) {
    let names = propfind_names(body);
    assert_eq!(names.len(), 13);
    assert_eq!(
        &names[..3],
        [
            "CALDAV:calendar-home-set",
            "CALDAV:calendar-user-address-set",
            "DAV:current-user-principal"
        ]
    );
    assert!(names.contains(&"CS:email-address-set".to_owned()));
    assert_eq!(names.last().unwrap(), "DAV:supported-report-set");
}

fn apple_propfind_home(body: &[u8]) {
    let names = propfind_names(body);
    assert_eq!(names.len(), 38);
    for expected in [
        "{http://me.com/_namespace/}bulk-requests",
        "ICAL:calendar-color",
        "ICAL:calendar-order",
        "CS:getctag",
        "CALDAV:supported-calendar-component-set",
    ] {
        assert!(
            names.contains(&expected.to_owned()),
            "{expected} missing from {names:?}"
        );
    }
    assert_eq!(
        (names[0].as_str(), names[37].as_str()),
        ("DAV:add-member", "DAV:sync-token")
    );
}

fn apple_mkcalendar(body: &[u8]) {
    let props = parse_mkcalendar(body).unwrap();
    let names: Vec<String> = props.iter().map(|p| p.name.to_string()).collect();
    assert_eq!(
        names,
        [
            "DAV:displayname",
            "ICAL:calendar-color",
            "ICAL:calendar-order",
            "CALDAV:supported-calendar-component-set",
            "CALDAV:calendar-timezone"
        ]
    );
    assert_eq!(
        (props[0].text(), props[1].text(), props[2].text()),
        ("Untitled".into(), "#711A76FF".into(), "3".into())
    );
    assert_eq!(comps(&props[3]), ["VEVENT"]);
    let tz = props[4].text();
    assert!(
        tz.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n") && tz.ends_with("END:VCALENDAR\r\n"),
        "{tz:?}"
    );
    assert!(tz.contains("TZID:Europe/Berlin\r\n"));
    // Stored as a dead property and read back, the color keeps its namespace.
    assert_eq!(
        crate::dav::xml::parse(props[1].to_xml().as_bytes()).unwrap(),
        props[1]
    );
}

fn apple_proppatch_order(body: &[u8]) {
    assert_eq!(
        summary(&set_ops(body)),
        pairs(&[("ICAL:calendar-order", "1")])
    );
}

fn apple_proppatch_color(body: &[u8]) {
    let expected = [
        ("ICAL:calendar-color", "#FF2968FF"),
        ("DAV:displayname", "Family & Friends"),
    ];
    assert_eq!(summary(&set_ops(body)), pairs(&expected));
}

fn apple_sync_collection(body: &[u8]) {
    let (token, level, limit, names) = sync(body);
    assert_eq!(
        (token.as_deref(), level, limit),
        (Some("http://kalends.example/sync/41"), SyncLevel::One, None)
    );
    assert_eq!(names, ["DAV:getcontenttype", "DAV:getetag"]);
}

fn apple_multiget(body: &[u8]) {
    let (names, hrefs, _) = multiget(body);
    let expected = [
        "DAV:getcontenttype",
        "DAV:getetag",
        "CALDAV:calendar-data",
        "CS:created-by",
        "CS:updated-by",
        "CALDAV:schedule-tag",
    ];
    assert_eq!(names, expected);
    assert_eq!(hrefs.len(), 2);
    assert_eq!(
        hrefs[0],
        "/calendars/alice/work/0D2F1A3C-6B1E-4C45-9A2B-1F7E3C9D8A10.ics"
    );
}

// --- Thunderbird (Lightning CalDAV provider) ---

fn thunderbird_propfind_calendar(body: &[u8]) {
    let expected = [
        "DAV:resourcetype",
        "DAV:owner",
        "DAV:current-user-principal",
        "DAV:current-user-privilege-set",
        "DAV:supported-report-set",
        "CALDAV:supported-calendar-component-set",
        "CS:getctag",
    ];
    assert_eq!(propfind_names(body), expected);
}

fn thunderbird_propfind_principal(body: &[u8]) {
    let expected = [
        "CALDAV:calendar-home-set",
        "CALDAV:calendar-user-address-set",
        "CALDAV:schedule-inbox-URL",
        "CALDAV:schedule-outbox-URL",
    ];
    assert_eq!(propfind_names(body), expected);
}

fn thunderbird_propfind_getctag(body: &[u8]) {
    assert_eq!(propfind_names(body), ["CS:getctag"]);
}

fn thunderbird_propfind_getetag(body: &[u8]) {
    assert_eq!(
        propfind_names(body),
        ["DAV:getcontenttype", "DAV:resourcetype", "DAV:getetag"]
    );
}

fn thunderbird_sync_initial(body: &[u8]) {
    assert_eq!(
        sync(body),
        (
            None,
            SyncLevel::One,
            None,
            vec!["DAV:getcontenttype".into(), "DAV:getetag".into()]
        )
    );
}

fn thunderbird_sync_token(body: &[u8]) {
    assert_eq!(
        sync(body).0.as_deref(),
        Some("http://kalends.example/sync/7?v=2&x=1")
    );
}

fn thunderbird_multiget(body: &[u8]) {
    let (names, hrefs, report) = multiget(body);
    assert_eq!(names, ["DAV:getetag", "CALDAV:calendar-data"]);
    assert_eq!(hrefs.len(), 3);
    assert_eq!(
        hrefs[1],
        "/calendars/alice/work/Meeting%20notes%20%26%20plans.ics"
    );
    assert_eq!(hrefs[2], "/calendars/alice/work/a&b.ics");
    let data = report.requested_prop(CALDAV, "calendar-data").unwrap();
    assert!(data.children.is_empty() && data.attrs.is_empty());
}

// --- DAVx5 (dav4jvm: default DAV: namespace, CAL/CARD prefixes, kXML's n0, n1, …) ---

fn davx5_propfind_base_url(body: &[u8]) {
    let expected = [
        "DAV:resourcetype",
        "DAV:displayname",
        "ICAL:calendar-color",
        "CALDAV:calendar-description",
        "CALDAV:calendar-timezone",
        "DAV:current-user-privilege-set",
        "CALDAV:supported-calendar-component-set",
        "CALDAV:calendar-home-set",
        "DAV:current-user-principal",
    ];
    assert_eq!(propfind_names(body), expected);
}

fn davx5_propfind_principal(body: &[u8]) {
    assert_eq!(propfind_names(body), ["CALDAV:calendar-user-address-set"]);
}

fn davx5_propfind_home(body: &[u8]) {
    let expected = [
        "DAV:resourcetype",
        "DAV:current-user-privilege-set",
        "DAV:displayname",
        "DAV:owner",
        "{urn:ietf:params:xml:ns:carddav}addressbook-description",
        "{urn:ietf:params:xml:ns:carddav}supported-address-data",
        "CALDAV:calendar-description",
        "ICAL:calendar-color",
        "CALDAV:supported-calendar-component-set",
        "CS:source",
        "{https://bitfire.at/webdav-push}push-transports",
        "{https://bitfire.at/webdav-push}topic",
    ];
    assert_eq!(propfind_names(body), expected);
}

fn davx5_sync_initial(body: &[u8]) {
    assert_eq!(
        sync(body),
        (None, SyncLevel::One, None, vec!["DAV:getetag".into()])
    );
}

fn davx5_multiget(body: &[u8]) {
    let (names, hrefs, _) = multiget(body);
    assert_eq!(
        names,
        [
            "DAV:getcontenttype",
            "DAV:getetag",
            "CALDAV:schedule-tag",
            "CALDAV:calendar-data"
        ]
    );
    assert_eq!(hrefs.len(), 3);
    assert_eq!(hrefs[2], "/calendars/alice/work/Birthday%20party.ics");
}

fn davx5_mkcalendar(body: &[u8]) {
    let props = parse_mkcalendar(body).unwrap();
    let names: Vec<String> = props.iter().map(|p| p.name.to_string()).collect();
    assert_eq!(
        names,
        [
            "DAV:resourcetype",
            "DAV:displayname",
            "ICAL:calendar-color",
            "CALDAV:calendar-description",
            "CALDAV:supported-calendar-component-set"
        ]
    );
    assert!(
        props[0].child(DAV, "collection").is_some() && props[0].child(CALDAV, "calendar").is_some()
    );
    assert_eq!(props[1].text(), "Holidays");
    assert!(props[2].is(APPLE, "calendar-color"));
    assert_eq!(comps(&props[4]), ["VEVENT", "VTODO"]);
}

// --- RFC examples ---

fn rfc4918_propfind_prop(body: &[u8]) {
    let ns = "http://ns.example.com/boxschema/";
    let expected: Vec<String> = ["bigbox", "author", "DingALing", "Random"]
        .iter()
        .map(|l| format!("{{{ns}}}{l}"))
        .collect();
    assert_eq!(propfind_names(body), expected);
}

fn rfc4918_propname(body: &[u8]) {
    assert_eq!(parse_propfind(body).unwrap(), PropSelection::PropName);
}

fn rfc4918_allprop(body: &[u8]) {
    assert_eq!(
        parse_propfind(body).unwrap(),
        PropSelection::AllProp { include: vec![] }
    );
}

fn rfc4918_allprop_include(body: &[u8]) {
    let include = vec![
        QName::fixed(DAV, "supported-live-property-set"),
        QName::fixed(DAV, "supported-report-set"),
    ];
    assert_eq!(
        parse_propfind(body).unwrap(),
        PropSelection::AllProp { include }
    );
}

fn rfc4918_proppatch(body: &[u8]) {
    let z = "http://ns.example.com/standards/z39.50/";
    let ops = parse_proppatch(body).unwrap();
    assert_eq!(ops.len(), 2);
    let PatchOp::Set(authors) = &ops[0] else {
        panic!("{ops:?}")
    };
    assert!(authors.is(z, "Authors"));
    let each: Vec<String> = authors
        .children_named(z, "Author")
        .map(Element::text)
        .collect();
    assert_eq!(each, ["Jim Whitehead", "Roy Fielding"]);
    assert_eq!(ops[1], PatchOp::Remove(QName::new(z, "Copyright-Owner")));
}

fn rfc5689_mkcol(body: &[u8]) {
    let carddav = "urn:ietf:params:xml:ns:carddav";
    let props = parse_mkcol(body).unwrap();
    assert_eq!(props.len(), 3);
    assert!(
        props[0].child(DAV, "collection").is_some()
            && props[0].child(carddav, "addressbook").is_some()
    );
    assert_eq!(props[1].text(), "Lisa's Contacts");
    assert!(props[2].is(carddav, "addressbook-description"));
    assert_eq!(
        (props[2].text().as_str(), props[2].attr(XML_NS, "lang")),
        ("My primary address book.", Some("en"))
    );
}

fn rfc4791_mkcalendar(body: &[u8]) {
    let props = parse_mkcalendar(body).unwrap();
    let names: Vec<String> = props.iter().map(|p| p.name.to_string()).collect();
    assert_eq!(
        names,
        [
            "DAV:displayname",
            "CALDAV:calendar-description",
            "CALDAV:supported-calendar-component-set",
            "CALDAV:calendar-timezone"
        ]
    );
    assert_eq!(props[0].text(), "Lisa's Events");
    assert_eq!(props[1].attr(XML_NS, "lang"), Some("en"));
    assert_eq!(props[1].text(), "Calendar restricted to events.");
    assert_eq!(comps(&props[2]), ["VEVENT"]);
    let tz = props[3].text();
    assert!(
        tz.starts_with("BEGIN:VCALENDAR\nPRODID:-//Example Corp.//CalDAV Client//EN\n"),
        "{tz:?}"
    );
    assert!(tz.contains("TZNAME:Eastern Standard Time (US & Canada)\n"));
}

fn query(body: &[u8]) -> (Vec<String>, Element, Option<String>, ReportBody) {
    let report = parse_report(body).unwrap();
    match &report {
        ReportBody::CalendarQuery {
            props,
            filter,
            timezone,
            ..
        } => (
            names(props),
            filter.clone(),
            timezone.clone(),
            report.clone(),
        ),
        other => panic!("expected calendar-query, got {other:?}"),
    }
}

/// CALDAV:filter / comp-filter VCALENDAR / comp-filter VEVENT / time-range: (start, end).
fn vevent_range(filter: &Element) -> (Option<&str>, Option<&str>) {
    let vcalendar = filter.child(CALDAV, "comp-filter").unwrap();
    assert_eq!(vcalendar.attr("", "name"), Some("VCALENDAR"));
    let vevent = vcalendar.child(CALDAV, "comp-filter").unwrap();
    assert_eq!(vevent.attr("", "name"), Some("VEVENT"));
    let range = vevent.child(CALDAV, "time-range").unwrap();
    (range.attr("", "start"), range.attr("", "end"))
}

fn rfc4791_query_partial(body: &[u8]) {
    let (names, filter, timezone, report) = query(body);
    assert_eq!(names, ["DAV:getetag", "CALDAV:calendar-data"]);
    assert_eq!(
        vevent_range(&filter),
        (Some("20060104T000000Z"), Some("20060105T000000Z"))
    );
    assert_eq!(timezone, None);
    let data = report.requested_prop(CALDAV, "calendar-data").unwrap();
    let vcalendar = data.child(CALDAV, "comp").unwrap();
    let vevent = vcalendar
        .children_named(CALDAV, "comp")
        .find(|c| c.attr("", "name") == Some("VEVENT"))
        .unwrap();
    let wanted: Vec<&str> = vevent
        .children_named(CALDAV, "prop")
        .filter_map(|p| p.attr("", "name"))
        .collect();
    assert_eq!(wanted.len(), 10);
    assert_eq!((wanted[0], wanted[9]), ("SUMMARY", "RECURRENCE-ID"));
}

fn rfc4791_query_expand(body: &[u8]) {
    let (names, filter, _, report) = query(body);
    assert_eq!(names, ["CALDAV:calendar-data"]);
    assert_eq!(
        vevent_range(&filter),
        (Some("20060103T000000Z"), Some("20060105T000000Z"))
    );
    let expand = report
        .requested_prop(CALDAV, "calendar-data")
        .unwrap()
        .child(CALDAV, "expand")
        .unwrap();
    assert_eq!(
        (expand.attr("", "start"), expand.attr("", "end")),
        (Some("20060103T000000Z"), Some("20060105T000000Z"))
    );
}

fn rfc4791_multiget(body: &[u8]) {
    let (names, hrefs, _) = multiget(body);
    assert_eq!(names, ["DAV:getetag", "CALDAV:calendar-data"]);
    assert_eq!(hrefs, ["/bernard/work/abcd1.ics", "/bernard/work/mtg1.ics"]);
}

fn rfc4791_free_busy(body: &[u8]) {
    let expected = ReportBody::FreeBusyQuery {
        start: "20060104T140000Z".into(),
        end: "20060105T220000Z".into(),
    };
    assert_eq!(parse_report(body).unwrap(), expected);
}

fn rfc6578_initial(body: &[u8]) {
    let props = vec![
        "DAV:getetag".to_owned(),
        "{urn:ns.example.com:boxschema}bigbox".to_owned(),
    ];
    assert_eq!(sync(body), (None, SyncLevel::One, None, props));
}

fn rfc6578_token(body: &[u8]) {
    assert_eq!(
        sync(body).0.as_deref(),
        Some("http://example.com/ns/sync/1234")
    );
}

fn rfc6578_limit(body: &[u8]) {
    assert_eq!(
        sync(body),
        (None, SyncLevel::One, Some(1), vec!["DAV:getetag".into()])
    );
}

fn rfc3253_expand_property(body: &[u8]) {
    let ReportBody::ExpandProperty(root) = parse_report(body).unwrap() else {
        panic!("not expand-property")
    };
    let history = root.child(DAV, "property").unwrap();
    assert_eq!(history.attr("", "name"), Some("version-history"));
    let set = history.child(DAV, "property").unwrap();
    let inner: Vec<&str> = set
        .children_named(DAV, "property")
        .filter_map(|p| p.attr("", "name"))
        .collect();
    assert_eq!(inner, ["creator-displayname", "activity-set"]);
}
