//! Black-box tests of the core WebDAV/CalDAV surface, over HTTP, on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used)]

mod harness;
mod support;

use harness::*;

const PROPFIND_DISCOVERY: &str = r#"<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:current-user-principal/><c:calendar-home-set/><d:resourcetype/><d:displayname/></d:prop></d:propfind>"#;

async fn discovery_from_base_url(engine: Engine) {
    let s = start_server(engine).await;
    let r = send(s.anon("GET", "/.well-known/caldav")).await;
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location").as_deref(), Some("/"));

    let r = s.propfind("/", "0", PROPFIND_DISCOVERY).await;
    assert_eq!(r.status, 207, "{}", r.body);
    let root = r.response_for("/");
    let cup = prop(&root, DAV, "current-user-principal").unwrap();
    assert_eq!(cup.1.child(DAV, "href").unwrap().text(), "/principals/alice/");

    let r = s.propfind("/principals/alice/", "0", PROPFIND_DISCOVERY).await;
    let p = r.response_for("/principals/alice/");
    let home = prop(&p, CALDAV, "calendar-home-set").unwrap().1;
    let hrefs: Vec<String> = home.children().map(|h| h.text()).collect();
    assert_eq!(hrefs, vec!["/calendars/alice/"], "exactly one home (Apple)");

    let r = s.propfind("/calendars/alice/", "1", PROPFIND_DISCOVERY).await;
    let hrefs = r.hrefs();
    assert_eq!(
        hrefs,
        vec![
            "/calendars/alice/",
            "/calendars/alice/calendar/",
            "/calendars/alice/inbox/",
            "/calendars/alice/outbox/",
            "/calendars/alice/tasks/"
        ]
    );
    let cal = r.response_for("/calendars/alice/calendar/");
    let rt = prop(&cal, DAV, "resourcetype").unwrap().1;
    assert!(rt.child(CALDAV, "calendar").is_some() && rt.child(DAV, "collection").is_some());
    assert_eq!(prop_text(&cal, DAV, "displayname"), "Calendar");
    s.stop().await;
}

async fn authentication(engine: Engine) {
    let s = start_server(engine).await;
    let r = send(s.anon("PROPFIND", "/calendars/alice/").header("Depth", "0")).await;
    assert_eq!(r.status, 401);
    assert!(r.header("www-authenticate").unwrap().starts_with("Basic realm=\"Kalends\""));
    let r = send(s.req_as("alice", "wrong", "PROPFIND", "/").header("Depth", "0")).await;
    assert_eq!(r.status, 401);
    // Bob cannot see alice's home or objects, whatever exists there.
    s.put_ics("/calendars/alice/calendar/a.ics", &event("a", "private")).await;
    for path in ["/calendars/alice/", "/calendars/alice/calendar/a.ics", "/principals/alice/", "/calendars/nobody/"] {
        let r = send(s.req_as("bob", BOB_PW, "GET", path)).await;
        assert_eq!(r.status, 403, "{path}");
        assert!(!r.body.contains("private"));
    }
    let r = send(s.req_as("bob", BOB_PW, "PUT", "/calendars/alice/calendar/b.ics").body(event("b", "x"))).await;
    assert_eq!(r.status, 403);
    s.stop().await;
}

/// RFC 9112 §9.6: a 401 answered before the request body arrives either keeps reading (small
/// bodies: the client's retry with credentials reuses the connection) or says it closes.
async fn unauthenticated_body_keeps_or_closes_the_connection(engine: Engine) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = start_server(engine).await;
    let addr = s.base.trim_start_matches("http://").to_owned();
    let body = r#"<d:propfind xmlns:d="DAV:"><d:prop><d:resourcetype/></d:prop></d:propfind>"#;
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!("PROPFIND / HTTP/1.1\r\nHost: {addr}\r\nDepth: 0\r\nContent-Length: {}\r\n\r\n", body.len());
    conn.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    conn.write_all(body.as_bytes()).await.unwrap();
    let first = read_response(&mut conn).await;
    assert!(first.starts_with("HTTP/1.1 401"), "{first}");
    assert!(!first.to_ascii_lowercase().contains("connection: close"), "{first}");
    use base64::Engine as _;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("alice:{ALICE_PW}"));
    let retry = format!("PROPFIND / HTTP/1.1\r\nHost: {addr}\r\nDepth: 0\r\nAuthorization: Basic {auth}\r\nContent-Length: {}\r\n\r\n{body}", body.len());
    conn.write_all(retry.as_bytes()).await.unwrap();
    let second = read_response(&mut conn).await;
    assert!(second.starts_with("HTTP/1.1 207"), "the retry on the same connection: {second}");

    // A large unauthenticated body is not read: the 401 says the connection closes.
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!("PUT /calendars/alice/calendar/x.ics HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n\r\n", 5 * 1024 * 1024);
    conn.write_all(head.as_bytes()).await.unwrap();
    let refused = read_response(&mut conn).await;
    assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");
    assert!(refused.to_ascii_lowercase().contains("connection: close"), "{refused}");
    let mut rest = Vec::new();
    let _ = conn.read_to_end(&mut rest).await;
    s.stop().await;
}

/// One response head and its Content-Length body from a raw connection.
async fn read_response(conn: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        let n = conn.read(&mut byte).await.unwrap();
        assert_eq!(n, 1, "connection closed mid-head: {}", String::from_utf8_lossy(&buf));
        buf.push(byte[0]);
    }
    let head = String::from_utf8(buf).unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    conn.read_exact(&mut body).await.unwrap();
    head + &String::from_utf8_lossy(&body)
}

/// RFC 3744 §9.4/§9.5: principal search finds the user's own principal by name or address,
/// and nobody else's (a user sees only their own principal).
async fn principal_property_search(engine: Engine) {
    let s = start_server(engine).await;
    let search = |test: &str, searches: &str| {
        format!(r#"<D:principal-property-search xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" {test}>{searches}<D:prop><D:displayname/><C:calendar-home-set/></D:prop></D:principal-property-search>"#)
    };
    let by = |prop: &str, text: &str| format!("<D:property-search><D:prop>{prop}</D:prop><D:match>{text}</D:match></D:property-search>");
    for (path, body, found) in [
        ("/", search("", &by("<D:displayname/>", "ALI")), true),
        ("/principals/", search("", &by("<C:calendar-user-address-set/>", "alice@example")), true),
        ("/principals/alice/", search("", &by("<D:displayname/>", "bob")), false),
        ("/", search("", &format!("{}{}", by("<D:displayname/>", "alice"), by("<D:displayname/>", "zed"))), false),
        ("/", search(r#"test="anyof""#, &format!("{}{}", by("<D:displayname/>", "alice"), by("<D:displayname/>", "zed"))), true),
    ] {
        let r = send(s.req("REPORT", path).header("Depth", "0").body(body.clone())).await;
        assert_eq!(r.status, 207, "{body}: {}", r.body);
        if found {
            assert_eq!(r.hrefs(), vec!["/principals/alice/"], "{body}");
            let p = r.response_for("/principals/alice/");
            assert_eq!(prop_text(&p, DAV, "displayname"), "alice");
            assert_eq!(prop(&p, CALDAV, "calendar-home-set").unwrap().1.child(DAV, "href").unwrap().text(), "/calendars/alice/");
        } else {
            assert!(r.hrefs().is_empty(), "{body}: {}", r.body);
        }
    }
    // Bob's principal is never found by alice, though it exists.
    let r = send(s.req("REPORT", "/").header("Depth", "0").body(search("", &by("<D:displayname/>", "bob")))).await;
    assert!(r.hrefs().is_empty());
    let r = send(s.req("REPORT", "/").header("Depth", "1").body(search("", &by("<D:displayname/>", "a")))).await;
    assert_eq!(r.status, 400);
    // No property-search lists every principal the user may see: their own.
    let r = send(s.req("REPORT", "/").header("Depth", "0").body(r#"<D:principal-property-search xmlns:D="DAV:"><D:prop><D:displayname/></D:prop></D:principal-property-search>"#)).await;
    assert_eq!(r.hrefs(), vec!["/principals/alice/"], "{}", r.body);
    let r = send(s.req("REPORT", "/").header("Depth", "0").body(r#"<D:principal-property-search xmlns:D="DAV:"><D:property-search><D:match>x</D:match></D:property-search></D:principal-property-search>"#)).await;
    assert_eq!(r.status, 400, "a property-search needs a prop");
    let set = r#"<D:principal-search-property-set xmlns:D="DAV:"/>"#;
    let r = send(s.req("REPORT", "/principals/").header("Depth", "0").body(set)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let props: Vec<String> = r.xml().children().filter_map(|p| p.child(DAV, "prop")).flat_map(|p| p.children().map(|c| c.name.local.to_string()).collect::<Vec<_>>()).collect();
    assert_eq!(props, ["displayname", "calendar-user-address-set", "email-address-set"]);
    s.stop().await;
}

/// RFC 3253 §3.8 (required by RFC 4791 §2): href-valued properties expanded into responses
/// carrying the nested properties; unreachable hrefs are 404 inside the answer.
async fn expand_property_report(engine: Engine) {
    let s = start_server(engine).await;
    let body = r#"<D:expand-property xmlns:D="DAV:"><D:property name="calendar-user-address-set" namespace="urn:ietf:params:xml:ns:caldav"><D:property name="displayname"/></D:property><D:property name="calendar-home-set" namespace="urn:ietf:params:xml:ns:caldav"><D:property name="resourcetype"/><D:property name="owner"><D:property name="displayname"/></D:property></D:property><D:property name="displayname"/><D:property name="calendar-proxy-read-for" namespace="http://calendarserver.org/ns/"/></D:expand-property>"#;
    let r = send(s.req("REPORT", "/principals/alice/").header("Depth", "0").body(body)).await;
    assert_eq!(r.status, 207, "{}", r.body);
    assert_eq!(r.hrefs(), vec!["/principals/alice/"]);
    let me = r.response_for("/principals/alice/");
    assert_eq!(prop_text(&me, DAV, "displayname"), "alice");
    // calendar-user-address-set: the mailto: address cannot be expanded (404), the principal can.
    let cuas = prop(&me, CALDAV, "calendar-user-address-set").unwrap().1;
    let responses: Vec<&kalends::dav::xml::Element> = cuas.children().filter(|c| c.is(DAV, "response")).collect();
    assert_eq!(responses.len(), 2, "{}", r.body);
    assert_eq!(responses[0].child(DAV, "href").unwrap().text(), "mailto:alice@example.org");
    assert!(responses[0].child(DAV, "status").unwrap().text().contains("404"));
    assert_eq!(prop_text(responses[1], DAV, "displayname"), "alice");
    // Two levels: the home's owner, expanded again.
    let home = prop(&me, CALDAV, "calendar-home-set").unwrap().1;
    let home = home.child(DAV, "response").unwrap();
    assert_eq!(home.child(DAV, "href").unwrap().text(), "/calendars/alice/");
    let owner = prop(home, DAV, "owner").unwrap().1;
    assert_eq!(prop_text(owner.child(DAV, "response").unwrap(), DAV, "displayname"), "alice");
    // A property Kalends does not have is 404 in its propstat, as in PROPFIND.
    assert_eq!(prop(&me, "http://calendarserver.org/ns/", "calendar-proxy-read-for").unwrap().0, 404);
    let r = send(s.req("REPORT", "/principals/bob/").header("Depth", "0").body(body)).await;
    assert_eq!(r.status, 403);
    s.stop().await;
}

async fn options_and_unknown_methods(engine: Engine) {
    let s = start_server(engine).await;
    let r = send(s.anon("OPTIONS", "/calendars/alice/calendar/")).await;
    assert_eq!(r.status, 200);
    let dav = r.header("dav").unwrap();
    assert!(dav.contains("calendar-access") && dav.contains("extended-mkcol") && dav.starts_with("1"));
    assert!(r.header("allow").unwrap().contains("MKCALENDAR"));
    let r = send(s.req("BREW", "/calendars/alice/")).await;
    assert_eq!(r.status, 405);
    assert!(r.header("allow").unwrap().contains("PROPFIND"));
    s.stop().await;
}

async fn put_get_etags_and_conditions(engine: Engine) {
    let s = start_server(engine).await;
    let path = "/calendars/alice/calendar/ev%201.ics";
    let body = event("uid-1", "Zürich café");
    let r = send(s.req("PUT", path).header("Content-Type", "text/calendar").header("If-None-Match", "*").body(body.clone())).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let etag = r.header("etag").unwrap();

    let r = send(s.req("GET", path)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, body, "bytes served back unchanged");
    assert_eq!(r.header("etag").unwrap(), etag);
    assert!(r.header("content-type").unwrap().starts_with("text/calendar"));
    assert!(r.header("last-modified").is_some());

    let r = send(s.req("GET", path).header("If-None-Match", etag.as_str())).await;
    assert_eq!(r.status, 304);
    let r = send(s.req("HEAD", path)).await;
    assert_eq!((r.status.as_u16(), r.body.as_str()), (200, ""));
    assert_eq!(r.header("content-length").unwrap(), body.len().to_string());

    // If-None-Match: * on an existing resource, stale If-Match: 412, nothing changed.
    let r = send(s.req("PUT", path).header("If-None-Match", "*").body(event("uid-1", "other"))).await;
    assert_eq!(r.status, 412);
    let r = send(s.req("PUT", path).header("If-Match", "\"stale\"").body(event("uid-1", "other"))).await;
    assert_eq!(r.status, 412);
    assert_eq!(send(s.req("GET", path)).await.body, body);

    let r = send(s.req("PUT", path).header("If-Match", etag.as_str()).body(event("uid-1", "edited"))).await;
    assert_eq!(r.status, 204);
    let new_etag = r.header("etag").unwrap();
    assert_ne!(new_etag, etag);
    assert!(send(s.req("GET", path)).await.body.contains("SUMMARY:edited"));
    s.stop().await;
}

async fn invalid_calendar_data_is_refused_and_nothing_stored(engine: Engine) {
    let s = start_server(engine).await;
    let ctag = |r: &Response| prop_text(&r.response_for("/calendars/alice/calendar/"), "http://calendarserver.org/ns/", "getctag");
    let ctag_body = r#"<d:propfind xmlns:d="DAV:" xmlns:cs="http://calendarserver.org/ns/"><d:prop><cs:getctag/></d:prop></d:propfind>"#;
    let before = ctag(&s.propfind("/calendars/alice/calendar/", "0", ctag_body).await);
    let path = "/calendars/alice/calendar/bad.ics";
    let r = s.put_ics(path, "BEGIN:VCALENDAR\r\nthis is not icalendar\r\n").await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.condition(), (CALDAV.into(), "valid-calendar-data".into()));
    // Two UIDs in one resource: valid iCalendar, invalid calendar object resource.
    let two = event("a", "x").replace("END:VCALENDAR\r\n", "") + "BEGIN:VEVENT\r\nUID:b\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let r = s.put_ics(path, &two).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.condition(), (CALDAV.into(), "valid-calendar-object-resource".into()));
    // A journal into the calendar, which takes events and tasks.
    let journal = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//T//EN\r\nBEGIN:VJOURNAL\r\nUID:j\r\nDTSTAMP:20260101T000000Z\r\nEND:VJOURNAL\r\nEND:VCALENDAR\r\n";
    let r = s.put_ics(path, journal).await;
    assert_eq!(r.condition(), (CALDAV.into(), "supported-calendar-component".into()));
    // Wrong media type.
    let r = send(s.req("PUT", path).header("Content-Type", "text/plain").body(event("p", "x"))).await;
    assert_eq!(r.condition(), (CALDAV.into(), "supported-calendar-data".into()));
    assert_eq!(send(s.req("GET", path)).await.status, 404);
    assert_eq!(ctag(&s.propfind("/calendars/alice/calendar/", "0", ctag_body).await), before);
    s.stop().await;
}

async fn uid_conflict_names_the_existing_href(engine: Engine) {
    let s = start_server(engine).await;
    assert_eq!(s.put_ics("/calendars/alice/calendar/one.ics", &event("same", "1")).await.status, 201);
    let r = s.put_ics("/calendars/alice/calendar/two.ics", &event("same", "2")).await;
    assert_eq!(r.status, 403);
    let root = r.xml();
    let c = root.child(CALDAV, "no-uid-conflict").unwrap();
    assert_eq!(c.child(DAV, "href").unwrap().text(), "/calendars/alice/calendar/one.ics");
    assert_eq!(send(s.req("GET", "/calendars/alice/calendar/two.ics")).await.status, 404);
    s.stop().await;
}

async fn limits_and_bad_requests(engine: Engine) {
    let s = start_with(engine, |c| {
        c.limits.max_request_body = 64 * 1024;
        c.limits.max_resource_size = 2048;
    })
    .await;
    let r = s.propfind("/calendars/alice/", "0", "<d:propfind xmlns:d=\"DAV:\"><d:prop>").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body.lines().count(), 1, "one-line reason: {}", r.body);
    let r = s.propfind("/calendars/alice/", "infinity", PROPFIND_DISCOVERY).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.condition(), (DAV.into(), "propfind-finite-depth".into()));
    let big = event("big", &"x".repeat(70 * 1024));
    let r = s.put_ics("/calendars/alice/calendar/big.ics", &big).await;
    assert_eq!(r.status, 413);
    let medium = event("medium", &"x".repeat(4000));
    let r = s.put_ics("/calendars/alice/calendar/medium.ics", &medium).await;
    assert_eq!(r.condition(), (CALDAV.into(), "max-resource-size".into()));
    let r = send(s.req("PROPFIND", "/calendars/alice/").header("Depth", "2")).await;
    assert_eq!(r.status, 400);
    // An XML bomb is refused, not expanded.
    let bomb = r#"<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa">]><d:propfind xmlns:d="DAV:"><d:prop>&a;</d:prop></d:propfind>"#;
    assert_eq!(s.propfind("/", "0", bomb).await.status, 400);
    s.stop().await;
}

async fn mkcalendar_with_properties(engine: Engine) {
    let s = start_server(engine).await;
    let body = r#"<?xml version="1.0" encoding="utf-8"?>
<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:A="http://apple.com/ns/ical/">
  <D:set><D:prop>
    <D:displayname>Work ✓</D:displayname>
    <C:calendar-description>Meetings</C:calendar-description>
    <C:supported-calendar-component-set><C:comp name="VEVENT"/><C:comp name="VTODO"/></C:supported-calendar-component-set>
    <A:calendar-color>#FF2968FF</A:calendar-color>
    <A:calendar-order>3</A:calendar-order>
    <X:custom xmlns:X="urn:example:x">kept <X:b>as is</X:b></X:custom>
  </D:prop></D:set>
</C:mkcalendar>"#;
    let r = send(s.req("MKCALENDAR", "/calendars/alice/work/").body(body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let q = r#"<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:a="http://apple.com/ns/ical/" xmlns:x="urn:example:x"><d:prop><d:displayname/><c:calendar-description/><a:calendar-color/><a:calendar-order/><c:supported-calendar-component-set/><x:custom/><d:getetag/></d:prop></d:propfind>"#;
    let r = s.propfind("/calendars/alice/work/", "0", q).await;
    let w = r.response_for("/calendars/alice/work/");
    assert_eq!(prop_text(&w, DAV, "displayname"), "Work ✓");
    assert_eq!(prop_text(&w, CALDAV, "calendar-description"), "Meetings");
    assert_eq!(prop_text(&w, "http://apple.com/ns/ical/", "calendar-color"), "#FF2968FF");
    assert_eq!(prop_text(&w, "http://apple.com/ns/ical/", "calendar-order"), "3");
    let comps = prop(&w, CALDAV, "supported-calendar-component-set").unwrap().1;
    let names: Vec<String> = comps.children().map(|c| c.attr("", "name").unwrap().to_owned()).collect();
    assert_eq!(names, vec!["VEVENT", "VTODO"]);
    let custom = prop(&w, "urn:example:x", "custom").unwrap().1;
    assert_eq!(custom.child("urn:example:x", "b").unwrap().text(), "as is");
    assert_eq!(prop(&w, DAV, "getetag").unwrap().0, 404);
    // Again: the resource exists.
    let r = send(s.req("MKCALENDAR", "/calendars/alice/work/")).await;
    assert_eq!(r.condition(), (DAV.into(), "resource-must-be-null".into()));
    // Not inside another calendar.
    let r = send(s.req("MKCALENDAR", "/calendars/alice/work/inner/")).await;
    assert_eq!(r.condition(), (CALDAV.into(), "calendar-collection-location-ok".into()));
    s.stop().await;
}

async fn extended_mkcol(engine: Engine) {
    let s = start_server(engine).await;
    let cal = r#"<D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><D:resourcetype><D:collection/><C:calendar/></D:resourcetype><D:displayname>Via MKCOL</D:displayname></D:prop></D:set></D:mkcol>"#;
    let r = send(s.req("MKCOL", "/calendars/alice/viamkcol/").header("Content-Type", "application/xml").body(cal)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = s.propfind("/calendars/alice/viamkcol/", "0", PROPFIND_DISCOVERY).await;
    let rt = prop(&r.response_for("/calendars/alice/viamkcol/"), DAV, "resourcetype").unwrap().1;
    assert!(rt.child(CALDAV, "calendar").is_some());
    // A plain collection, then a file in it.
    assert_eq!(send(s.req("MKCOL", "/calendars/alice/files/")).await.status, 201);
    let r = send(s.req("PUT", "/calendars/alice/files/note.txt").header("Content-Type", "text/plain").body("hello")).await;
    assert_eq!(r.status, 201);
    assert_eq!(send(s.req("GET", "/calendars/alice/files/note.txt")).await.body, "hello");
    assert_eq!(send(s.req("MKCOL", "/calendars/alice/files/")).await.status, 405);
    assert_eq!(send(s.req("MKCOL", "/calendars/alice/none/sub/")).await.status, 409);
    let bad = r#"<D:mkcol xmlns:D="DAV:"><D:set><D:prop><D:resourcetype><D:collection/><D:weird/></D:resourcetype></D:prop></D:set></D:mkcol>"#;
    let r = send(s.req("MKCOL", "/calendars/alice/weird/").body(bad)).await;
    assert_eq!(r.status, 403);
    assert_eq!(send(s.req("PROPFIND", "/calendars/alice/weird/").header("Depth", "0")).await.status, 404);
    s.stop().await;
}

async fn proppatch_is_atomic(engine: Engine) {
    let s = start_server(engine).await;
    let path = "/calendars/alice/calendar/";
    let body = r#"<d:propertyupdate xmlns:d="DAV:"><d:set><d:prop><d:displayname>Renamed</d:displayname><d:getetag>"x"</d:getetag></d:prop></d:set></d:propertyupdate>"#;
    let r = send(s.req("PROPPATCH", path).body(body)).await;
    assert_eq!(r.status, 207, "{}", r.body);
    let resp = r.response_for(path);
    assert_eq!(prop(&resp, DAV, "displayname").unwrap().0, 424);
    assert_eq!(prop(&resp, DAV, "getetag").unwrap().0, 403);
    assert!(r.body.contains("cannot-modify-protected-property"));
    let r = s.propfind(path, "0", PROPFIND_DISCOVERY).await;
    assert_eq!(prop_text(&r.response_for(path), DAV, "displayname"), "Calendar", "nothing applied");

    let tz = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//EN\r\nBEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\nEND:VCALENDAR\r\n";
    let body = format!(
        r#"<d:propertyupdate xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:z="urn:z"><d:set><d:prop><d:displayname>Renamed</d:displayname><c:calendar-timezone>{tz}</c:calendar-timezone><z:note>dead</z:note></d:prop></d:set><d:remove><d:prop><c:calendar-description/></d:prop></d:remove></d:propertyupdate>"#
    );
    let r = send(s.req("PROPPATCH", path).body(body)).await;
    let resp = r.response_for(path);
    for (ns, local) in [(DAV, "displayname"), (CALDAV, "calendar-timezone"), ("urn:z", "note"), (CALDAV, "calendar-description")] {
        assert_eq!(prop(&resp, ns, local).unwrap().0, 200, "{local}: {}", r.body);
    }
    let q = r#"<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:z="urn:z"><d:prop><d:displayname/><c:calendar-timezone/><z:note/></d:prop></d:propfind>"#;
    let r = s.propfind(path, "0", q).await;
    let resp = r.response_for(path);
    assert_eq!(prop_text(&resp, DAV, "displayname"), "Renamed");
    assert!(prop_text(&resp, CALDAV, "calendar-timezone").contains("TZID:Europe/Berlin"));
    assert_eq!(prop_text(&resp, "urn:z", "note"), "dead");
    // An invalid time zone is refused and the rest not applied.
    let body = r#"<d:propertyupdate xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:set><d:prop><d:displayname>Again</d:displayname><c:calendar-timezone>nonsense</c:calendar-timezone></d:prop></d:set></d:propertyupdate>"#;
    let r = send(s.req("PROPPATCH", path).body(body)).await;
    let resp = r.response_for(path);
    assert_eq!(prop(&resp, CALDAV, "calendar-timezone").unwrap().0, 409);
    assert_eq!(prop(&resp, DAV, "displayname").unwrap().0, 424);
    s.stop().await;
}

async fn delete_objects_and_calendars(engine: Engine) {
    let s = start_server(engine).await;
    let path = "/calendars/alice/calendar/d.ics";
    let etag = s.put_ics(path, &event("d", "x")).await.header("etag").unwrap();
    assert_eq!(send(s.req("DELETE", path).header("If-Match", "\"nope\"")).await.status, 412);
    assert_eq!(send(s.req("DELETE", path).header("If-Match", etag.as_str())).await.status, 204);
    assert_eq!(send(s.req("GET", path)).await.status, 404);
    assert_eq!(send(s.req("DELETE", path)).await.status, 404);
    s.put_ics("/calendars/alice/calendar/e.ics", &event("e", "x")).await;
    assert_eq!(send(s.req("DELETE", "/calendars/alice/calendar/")).await.status, 204);
    assert_eq!(send(s.req("GET", "/calendars/alice/calendar/e.ics")).await.status, 404);
    assert_eq!(send(s.req("DELETE", "/calendars/alice/")).await.status, 403);
    s.stop().await;
}

async fn copy_and_move(engine: Engine) {
    let s = start_server(engine).await;
    send(s.req("MKCALENDAR", "/calendars/alice/other/")).await;
    let src = "/calendars/alice/calendar/c.ics";
    s.put_ics(src, &event("c", "copy me")).await;
    let dest = format!("{}/calendars/alice/other/c2.ics", s.base);
    let r = send(s.req("COPY", src).header("Destination", dest.as_str())).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(send(s.req("GET", "/calendars/alice/other/c2.ics")).await.body, event("c", "copy me"));
    // Overwrite: F onto an existing target.
    let r = send(s.req("COPY", src).header("Destination", dest.as_str()).header("Overwrite", "F")).await;
    assert_eq!(r.status, 412);
    let r = send(s.req("MOVE", src).header("Destination", "/calendars/alice/other/moved.ics")).await;
    assert_eq!(r.status, 403, "same UID already in target: {}", r.body);
    send(s.req("DELETE", "/calendars/alice/other/c2.ics")).await;
    let r = send(s.req("MOVE", src).header("Destination", "/calendars/alice/other/moved.ics")).await;
    assert_eq!(r.status, 201);
    assert_eq!(send(s.req("GET", src)).await.status, 404);
    assert_eq!(send(s.req("GET", "/calendars/alice/other/moved.ics")).await.status, 200);
    // An event cannot move into the tasks-only list.
    s.put_ics("/calendars/alice/calendar/e.ics", &event("e", "x")).await;
    let r = send(s.req("MOVE", "/calendars/alice/calendar/e.ics").header("Destination", "/calendars/alice/tasks/e.ics")).await;
    assert_eq!(r.condition(), (CALDAV.into(), "supported-calendar-component".into()));
    s.stop().await;
}

/// RFC 4918 §9.8 and §9.9 on whole collections: Depth, Overwrite, 201/204, 409, 412, 403, 502.
async fn copy_and_move_collections(engine: Engine) {
    let s = start_server(engine).await;
    let home = "/calendars/alice";
    let dest = |path: &str| format!("{}{home}/{path}", s.base);
    let status = |r: Response| r.status.as_u16();
    assert_eq!(status(send(s.req("MKCOL", &format!("{home}/src/"))).await), 201);
    assert_eq!(status(send(s.req("PUT", &format!("{home}/src/f.txt")).body("file f")).await), 201);
    assert_eq!(status(send(s.req("MKCOL", &format!("{home}/src/sub/"))).await), 201);
    assert_eq!(status(send(s.req("PUT", &format!("{home}/src/sub/g.txt")).body("file g")).await), 201);
    let note = r#"<d:propertyupdate xmlns:d="DAV:" xmlns:z="urn:z"><d:set><d:prop><z:note>kept</z:note></d:prop></d:set></d:propertyupdate>"#;
    assert_eq!(status(send(s.req("PROPPATCH", &format!("{home}/src/")).body(note)).await), 207);
    let note_of = |path: String| {
        let q = r#"<d:propfind xmlns:d="DAV:" xmlns:z="urn:z"><d:prop><z:note/></d:prop></d:propfind>"#;
        let s = &s;
        async move { prop_text(&s.propfind(&path, "0", q).await.response_for(&path), "urn:z", "note") }
    };

    // Depth: infinity (the default): members, sub-collections and dead properties.
    let copy = |from: &str, to: &str| send(s.req("COPY", &format!("{home}/{from}")).header("Destination", dest(to)));
    assert_eq!(status(copy("src/", "dst/").await), 201);
    assert_eq!(send(s.req("GET", &format!("{home}/dst/f.txt"))).await.body, "file f");
    assert_eq!(send(s.req("GET", &format!("{home}/dst/sub/g.txt"))).await.body, "file g");
    assert_eq!(note_of(format!("{home}/dst/")).await, "kept");
    // §9.8.4: an existing destination with Overwrite: F is 412, with T replaced (204).
    let r = send(s.req("COPY", &format!("{home}/src/")).header("Destination", dest("dst/")).header("Overwrite", "F")).await;
    assert_eq!(status(r), 412);
    assert_eq!(status(send(s.req("PUT", &format!("{home}/dst/extra.txt")).body("x")).await), 201);
    assert_eq!(status(copy("src/", "dst/").await), 204);
    assert_eq!(status(send(s.req("GET", &format!("{home}/dst/extra.txt"))).await), 404, "the old destination went first");
    // §9.8.3: Depth 0 copies the collection and its properties, not its members.
    let r = send(s.req("COPY", &format!("{home}/src/")).header("Destination", dest("shallow/")).header("Depth", "0")).await;
    assert_eq!(status(r), 201);
    assert_eq!(status(send(s.req("GET", &format!("{home}/shallow/f.txt"))).await), 404);
    assert_eq!(status(send(s.req("PROPFIND", &format!("{home}/shallow/sub/")).header("Depth", "0")).await), 404);
    assert_eq!(note_of(format!("{home}/shallow/")).await, "kept");
    let r = send(s.req("COPY", &format!("{home}/src/")).header("Destination", dest("one/")).header("Depth", "1")).await;
    assert_eq!(status(r), 400);

    // MOVE takes the subtree along; Depth other than infinity is refused (§9.9.2).
    let r = send(s.req("MOVE", &format!("{home}/src/")).header("Destination", dest("moved/")).header("Depth", "0")).await;
    assert_eq!(status(r), 400);
    let mv = |from: &str, to: &str| send(s.req("MOVE", &format!("{home}/{from}")).header("Destination", dest(to)));
    assert_eq!(status(mv("src/", "moved/").await), 201);
    assert_eq!(status(send(s.req("PROPFIND", &format!("{home}/src/")).header("Depth", "0")).await), 404);
    assert_eq!(send(s.req("GET", &format!("{home}/moved/sub/g.txt"))).await.body, "file g");
    assert_eq!(note_of(format!("{home}/moved/")).await, "kept");
    // Onto itself, into itself, over its own parent: 403. No parent at the destination: 409.
    assert_eq!(status(mv("moved/", "moved/").await), 403);
    assert_eq!(status(mv("moved/", "moved/sub/inner/").await), 403);
    assert_eq!(status(mv("moved/sub/", "moved/").await), 403);
    assert_eq!(status(mv("moved/", "nowhere/deeper/").await), 409);
    // Another user's space is 403, another server 502.
    let r = send(s.req("COPY", &format!("{home}/moved/")).header("Destination", format!("{}/calendars/bob/x/", s.base))).await;
    assert_eq!(status(r), 403);
    let r = send(s.req("COPY", &format!("{home}/moved/")).header("Destination", "http://elsewhere.example:1/calendars/alice/x/")).await;
    assert_eq!(status(r), 502);
    assert_eq!(status(send(s.req("COPY", &format!("{home}/moved/")).header("Destination", "x/")).await), 400);
    assert_eq!(status(send(s.req("PROPFIND", &format!("{home}/x/")).header("Depth", "0")).await), 404);

    // An object over a collection (Overwrite: T) takes its place; a collection over an object.
    assert_eq!(status(copy("moved/f.txt", "dst/sub/").await), 204);
    assert_eq!(send(s.req("GET", &format!("{home}/dst/sub"))).await.body, "file f");
    let r = send(s.req("MOVE", &format!("{home}/shallow/")).header("Destination", dest("dst/f.txt")).header("Overwrite", "F")).await;
    assert_eq!(status(r), 412);
    assert_eq!(status(mv("shallow/", "dst/f.txt").await), 204);
    assert_eq!(note_of(format!("{home}/dst/f.txt/")).await, "kept");

    // A calendar moves with its events, and keeps answering REPORTs at its new place.
    s.put_ics(&format!("{home}/calendar/ev.ics"), &event("moving", "Along")).await;
    assert_eq!(status(mv("calendar/", "renamed/").await), 201);
    let query = r#"<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"/></C:comp-filter></C:filter></C:calendar-query>"#;
    let r = send(s.req("REPORT", &format!("{home}/renamed/")).header("Depth", "1").body(query)).await;
    assert_eq!(r.hrefs(), vec![format!("{home}/renamed/ev.ics")]);
    // RFC 4791 §5.3.2.1: a calendar cannot land inside another calendar; nor can any collection.
    assert_eq!(status(send(s.req("MKCALENDAR", &format!("{home}/other/"))).await), 201);
    let r = mv("renamed/", "other/inner/").await;
    assert_eq!(r.condition(), (CALDAV.into(), "calendar-collection-location-ok".into()));
    assert_eq!(status(mv("moved/", "other/inner/").await), 403);
    assert_eq!(status(copy("renamed/", "other/").await), 204, "a calendar may replace a calendar");
    let r = send(s.req("REPORT", &format!("{home}/other/")).header("Depth", "1").body(query)).await;
    assert_eq!(r.hrefs(), vec![format!("{home}/other/ev.ics")]);
    s.stop().await;
}

/// A PUT reads the used bytes in its locate statement (decision 0033): the quota still holds,
/// for a new object and for an overwrite that grows, and counts what was written before.
async fn put_respects_quota(engine: Engine) {
    let s = start_with(engine, |c| c.limits.quota_bytes = 3000).await;
    assert_eq!(send(s.req("MKCOL", "/calendars/alice/files/")).await.status, 201);
    assert_eq!(send(s.req("PUT", "/calendars/alice/files/a").body("x".repeat(1500))).await.status, 201);
    let r = send(s.req("PUT", "/calendars/alice/files/b").body("x".repeat(1600))).await;
    assert_eq!(r.status, 507, "{}", r.body);
    assert_eq!(r.condition(), (DAV.into(), "quota-not-exceeded".into()));
    assert_eq!(send(s.req("PUT", "/calendars/alice/files/b").body("x".repeat(1400))).await.status, 201);
    assert_eq!(send(s.req("PUT", "/calendars/alice/files/a").body("x".repeat(1700))).await.status, 507);
    assert_eq!(send(s.req("GET", "/calendars/alice/files/b")).await.status, 200);
    s.stop().await;
}

async fn collection_copy_respects_quota(engine: Engine) {
    let s = start_with(engine, |c| c.limits.quota_bytes = 3000).await;
    assert_eq!(send(s.req("MKCOL", "/calendars/alice/big/")).await.status, 201);
    let r = send(s.req("PUT", "/calendars/alice/big/blob").body("x".repeat(2000))).await;
    assert_eq!(r.status, 201);
    let dest = format!("{}/calendars/alice/copy/", s.base);
    let r = send(s.req("COPY", "/calendars/alice/big/").header("Destination", dest.as_str())).await;
    assert_eq!(r.status, 507, "{}", r.body);
    assert_eq!(r.condition(), (DAV.into(), "quota-not-exceeded".into()));
    assert_eq!(send(s.req("PROPFIND", "/calendars/alice/copy/").header("Depth", "0")).await.status, 404);
    // A MOVE and a shallow COPY store nothing new.
    let r = send(s.req("COPY", "/calendars/alice/big/").header("Destination", dest.as_str()).header("Depth", "0")).await;
    assert_eq!(r.status, 201);
    let moved = format!("{}/calendars/alice/moved/", s.base);
    assert_eq!(send(s.req("MOVE", "/calendars/alice/big/").header("Destination", moved.as_str())).await.status, 201);
    s.stop().await;
}

/// RFC 4918 §9.2: PROPPATCH instructions are processed in document order.
async fn proppatch_follows_document_order(engine: Engine) {
    let s = start_server(engine).await;
    assert_eq!(send(s.req("MKCOL", "/calendars/alice/files/")).await.status, 201);
    assert_eq!(send(s.req("PUT", "/calendars/alice/files/p").body("x")).await.status, 201);
    let q = r#"<d:propfind xmlns:d="DAV:" xmlns:z="urn:z"><d:prop><z:a/></d:prop></d:propfind>"#;
    for path in ["/calendars/alice/files/p", "/calendars/alice/files/"] {
        let patch = |body: &'static str| send(s.req("PROPPATCH", path).body(body));
        let r = patch(r#"<d:propertyupdate xmlns:d="DAV:" xmlns:z="urn:z"><d:remove><d:prop><z:a/></d:prop></d:remove><d:set><d:prop><z:a>x</z:a></d:prop></d:set><d:set><d:prop><z:a>y</z:a></d:prop></d:set></d:propertyupdate>"#).await;
        assert_eq!(r.status, 207, "{}", r.body);
        assert_eq!(prop_text(&s.propfind(path, "0", q).await.response_for(path), "urn:z", "a"), "y", "{path}");
        let r = patch(r#"<d:propertyupdate xmlns:d="DAV:" xmlns:z="urn:z"><d:set><d:prop><z:a>x</z:a></d:prop></d:set><d:remove><d:prop><z:a/></d:prop></d:remove></d:propertyupdate>"#).await;
        assert_eq!(r.status, 207);
        assert_eq!(prop(&s.propfind(path, "0", q).await.response_for(path), "urn:z", "a").unwrap().0, 404, "{path}");
    }
    s.stop().await;
}

async fn export_calendar_collection(engine: Engine) {
    let s = start_server(engine).await;
    s.put_ics("/calendars/alice/calendar/1.ics", &event("u1", "First")).await;
    s.put_ics("/calendars/alice/calendar/2.ics", &event("u2", "Second")).await;
    let r = send(s.req("GET", "/calendars/alice/calendar/")).await;
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/calendar"));
    assert_eq!(r.body.matches("BEGIN:VCALENDAR").count(), 1);
    assert_eq!(r.body.matches("BEGIN:VEVENT").count(), 2);
    assert!(r.body.contains("SUMMARY:First") && r.body.contains("SUMMARY:Second"));
    s.stop().await;
}

async fn properties_on_demand(engine: Engine) {
    let s = start_server(engine).await;
    s.put_ics("/calendars/alice/calendar/p.ics", &event("p", "x")).await;
    let q = r#"<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:cs="http://calendarserver.org/ns/"><d:prop>
      <d:getetag/><d:getcontenttype/><d:getcontentlength/><d:getlastmodified/><d:creationdate/><d:owner/><d:sync-token/><cs:getctag/>
      <d:supported-report-set/><d:current-user-privilege-set/><c:supported-calendar-data/><c:max-resource-size/><c:min-date-time/>
      <c:max-date-time/><c:max-instances/><d:quota-used-bytes/><d:quota-available-bytes/><d:principal-collection-set/><d:no-such-prop/>
    </d:prop></d:propfind>"#;
    let r = s.propfind("/calendars/alice/calendar/", "1", q).await;
    let c = r.response_for("/calendars/alice/calendar/");
    assert!(prop_text(&c, DAV, "sync-token").starts_with("urn:"));
    let used: i64 = prop_text(&c, DAV, "quota-used-bytes").parse().unwrap();
    assert_eq!(used, event("p", "x").len() as i64);
    assert_eq!(prop(&c, DAV, "no-such-prop").unwrap().0, 404);
    assert_eq!(prop_text(&c, CALDAV, "min-date-time"), "19000101T000000Z");
    let reports = prop(&c, DAV, "supported-report-set").unwrap().1;
    assert!(reports.children().any(|sr| sr.child(DAV, "report").and_then(|r| r.child(CALDAV, "calendar-multiget")).is_some()));
    let o = r.response_for("/calendars/alice/calendar/p.ics");
    assert!(prop_text(&o, DAV, "getetag").starts_with('"'));
    assert_eq!(prop_text(&o, DAV, "getcontentlength"), event("p", "x").len().to_string());
    assert!(prop_text(&o, DAV, "getcontenttype").starts_with("text/calendar"));
    let q = r#"<d:propfind xmlns:d="DAV:"><d:propname/></d:propfind>"#;
    let r = s.propfind("/calendars/alice/calendar/p.ics", "0", q).await;
    assert!(prop(&r.response_for("/calendars/alice/calendar/p.ics"), DAV, "getetag").is_some());
    let r = s.propfind("/calendars/alice/calendar/p.ics", "0", "").await; // allprop
    let o = r.response_for("/calendars/alice/calendar/p.ics");
    assert!(prop(&o, DAV, "getetag").is_some() && prop(&o, CALDAV, "max-instances").is_none());
    s.stop().await;
}

async fn multiget_and_sync_collection(engine: Engine) {
    let s = start_server(engine).await;
    let coll = "/calendars/alice/calendar/";
    for i in 0..3 {
        s.put_ics(&format!("{coll}{i}.ics"), &event(&format!("u{i}"), "x")).await;
    }
    let mg = r#"<c:calendar-multiget xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/><c:calendar-data/></d:prop><d:href>/calendars/alice/calendar/0.ics</d:href><d:href>/calendars/alice/calendar/missing.ics</d:href></c:calendar-multiget>"#;
    let r = send(s.req("REPORT", coll).header("Depth", "1").body(mg)).await;
    assert_eq!(r.status, 207, "{}", r.body);
    assert!(prop_text(&r.response_for("/calendars/alice/calendar/0.ics"), CALDAV, "calendar-data").contains("UID:u0"));
    let missing = r.response_for("/calendars/alice/calendar/missing.ics");
    assert!(missing.child(DAV, "status").unwrap().text().contains("404"));

    let sync = |token: &str| {
        format!(r#"<d:sync-collection xmlns:d="DAV:"><d:sync-token>{token}</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>"#)
    };
    let r = send(s.req("REPORT", coll).header("Depth", "1").body(sync(""))).await;
    assert_eq!(r.status, 207, "{}", r.body);
    assert_eq!(r.hrefs().len(), 3);
    let token = r.xml().child(DAV, "sync-token").unwrap().text();
    // Nothing changed: empty delta, same token.
    let r = send(s.req("REPORT", coll).header("Depth", "0").body(sync(&token))).await;
    assert_eq!(r.hrefs().len(), 0);
    assert_eq!(r.xml().child(DAV, "sync-token").unwrap().text(), token);
    send(s.req("DELETE", &format!("{coll}1.ics"))).await;
    s.put_ics(&format!("{coll}2.ics"), &event("u2", "changed")).await;
    let r = send(s.req("REPORT", coll).header("Depth", "1").body(sync(&token))).await;
    assert_eq!(r.hrefs(), vec!["/calendars/alice/calendar/2.ics", "/calendars/alice/calendar/1.ics"]);
    assert!(r.response_for("/calendars/alice/calendar/1.ics").child(DAV, "status").unwrap().text().contains("404"));
    let r = send(s.req("REPORT", coll).header("Depth", "1").body(sync("urn:x-kalends:sync:999:1"))).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.condition(), (DAV.into(), "valid-sync-token".into()));
    let r = send(s.req("REPORT", coll).header("Depth", "1").body(sync("garbage"))).await;
    assert_eq!(r.condition(), (DAV.into(), "valid-sync-token".into()));
    // A real token of another of her calendars: refused here, and it lists nothing of it.
    assert_eq!(send(s.req("MKCALENDAR", "/calendars/alice/other/")).await.status, 201);
    s.put_ics("/calendars/alice/other/o.ics", &event("uo", "other")).await;
    let r = send(s.req("REPORT", "/calendars/alice/other/").header("Depth", "1").body(sync(""))).await;
    let other_token = r.xml().child(DAV, "sync-token").unwrap().text();
    let r = send(s.req("REPORT", coll).header("Depth", "1").body(sync(&other_token))).await;
    assert_eq!((r.status.as_u16(), r.condition()), (403, (DAV.into(), "valid-sync-token".into())), "{}", r.body);
    assert!(!r.body.contains("o.ics"), "{}", r.body);
    // A token ahead of the collection (its id, a seq it has not reached).
    let ahead = format!("{}:999999", token.rsplit_once(':').unwrap().0);
    let r = send(s.req("REPORT", coll).header("Depth", "1").body(sync(&ahead))).await;
    assert_eq!((r.status.as_u16(), r.condition()), (403, (DAV.into(), "valid-sync-token".into())), "{}", r.body);
    // A token sent to no collection, or to a member, which answers no sync-collection.
    let r = send(s.req("REPORT", "/calendars/alice/nowhere/").header("Depth", "1").body(sync(&token))).await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = send(s.req("REPORT", &format!("{coll}2.ics")).header("Depth", "0").body(sync(&token))).await;
    assert_eq!((r.status.as_u16(), r.condition()), (403, (DAV.into(), "supported-report".into())), "{}", r.body);
    s.stop().await;
}

async fn calendar_query_without_time_range(engine: Engine) {
    let s = start_server(engine).await;
    let coll = "/calendars/alice/calendar/";
    s.put_ics(&format!("{coll}a.ics"), &event("uid-a", "Alpha")).await;
    s.put_ics(&format!("{coll}b.ics"), &event("uid-b", "Beta")).await;
    let query = |inner: &str| {
        format!(r#"<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/></D:prop><C:filter><C:comp-filter name="VCALENDAR">{inner}</C:comp-filter></C:filter></C:calendar-query>"#)
    };
    let r = send(s.req("REPORT", coll).header("Depth", "1").body(query(r#"<C:comp-filter name="VEVENT"/>"#))).await;
    assert_eq!(r.status, 207, "{}", r.body);
    let mut hrefs = r.hrefs();
    hrefs.sort();
    assert_eq!(hrefs, vec!["/calendars/alice/calendar/a.ics", "/calendars/alice/calendar/b.ics"]);
    let by_uid = r#"<C:comp-filter name="VEVENT"><C:prop-filter name="UID"><C:text-match collation="i;octet">uid-b</C:text-match></C:prop-filter></C:comp-filter>"#;
    let r = send(s.req("REPORT", coll).header("Depth", "1").body(query(by_uid))).await;
    assert_eq!(r.hrefs(), vec!["/calendars/alice/calendar/b.ics"]);
    assert!(prop_text(&r.response_for("/calendars/alice/calendar/b.ics"), CALDAV, "calendar-data").contains("SUMMARY:Beta"));
    let summary = r#"<C:comp-filter name="VEVENT"><C:prop-filter name="SUMMARY"><C:text-match>ALPH</C:text-match></C:prop-filter></C:comp-filter>"#;
    assert_eq!(send(s.req("REPORT", coll).header("Depth", "1").body(query(summary))).await.hrefs(), vec!["/calendars/alice/calendar/a.ics"]);
    let todos = r#"<C:comp-filter name="VTODO"/>"#;
    assert!(send(s.req("REPORT", coll).header("Depth", "1").body(query(todos))).await.hrefs().is_empty());
    let klingon = r#"<C:comp-filter name="VEVENT"><C:prop-filter name="UID"><C:text-match collation="i;klingon">x</C:text-match></C:prop-filter></C:comp-filter>"#;
    let r = send(s.req("REPORT", coll).header("Depth", "1").body(query(klingon))).await;
    assert_eq!((r.status.as_u16(), r.condition()), (403, (CALDAV.into(), "supported-collation".into())));
    let r = send(s.req("REPORT", coll).header("Depth", "1").body(query(r#"<C:comp-filter/>"#))).await;
    assert_eq!(r.condition(), (CALDAV.into(), "valid-filter".into()));
    s.stop().await;
}

async fn calendar_query_time_range(engine: Engine) {
    let s = start_server(engine).await;
    let coll = "/calendars/alice/calendar/";
    // Every other Monday at 09:00 Berlin time; the Jan 19 instance moves to Wednesday Jan 14.
    let recurring = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\n\
BEGIN:VEVENT\r\nUID:biweekly\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;TZID=Europe/Berlin:20260105T090000\r\nDURATION:PT1H\r\nRRULE:FREQ=WEEKLY;INTERVAL=2\r\nSUMMARY:Sync\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:biweekly\r\nDTSTAMP:20260101T000000Z\r\nRECURRENCE-ID;TZID=Europe/Berlin:20260119T090000\r\nDTSTART;TZID=Europe/Berlin:20260114T150000\r\nDURATION:PT1H\r\nSUMMARY:Sync (moved)\r\nEND:VEVENT\r\n\
END:VCALENDAR\r\n";
    let single = |uid: &str, day: &str| {
        format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:{day}T100000Z\r\nDURATION:PT1H\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    };
    for (name, body) in [("r.ics", recurring.to_owned()), ("in.ics", single("in", "20260113")), ("march.ics", single("march", "20260302"))] {
        let r = s.put_ics(&format!("{coll}{name}"), &body).await;
        assert_eq!(r.status, 201, "{name}: {}", r.body);
    }
    let week = |start: &str, end: &str| {
        format!(r#"<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="{start}" end="{end}"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"#)
    };
    let hrefs = |r: Response| {
        assert_eq!(r.status, 207, "{}", r.body);
        let mut h = r.hrefs();
        h.sort();
        h
    };
    let query = |body: String| send(s.req("REPORT", coll).header("Depth", "1").body(body));
    let r = query(week("20260112T000000Z", "20260119T000000Z")).await;
    assert_eq!(hrefs(r), vec!["/calendars/alice/calendar/in.ics", "/calendars/alice/calendar/r.ics"], "the moved instance came in");
    let r = query(week("20260119T000000Z", "20260126T000000Z")).await;
    assert!(hrefs(r).is_empty(), "the Jan 19 instance moved out");
    let r = query(week("20260202T000000Z", "20260209T000000Z")).await;
    assert_eq!(hrefs(r), vec!["/calendars/alice/calendar/r.ics"]);
    // Past the stored timeline's horizon (two years after the write) the rule is expanded
    // exactly: any two weeks hold one instance, and an open end finds it too.
    let r = query(week("20350101T000000Z", "20350115T000000Z")).await;
    assert_eq!(hrefs(r), vec!["/calendars/alice/calendar/r.ics"]);
    let r = query(week("20350101T000000Z", "").replace(" end=\"\"", "")).await;
    assert_eq!(hrefs(r), vec!["/calendars/alice/calendar/r.ics"]);

    // RFC 4791 §7.8.1 verbatim, over the RFC's own objects: abcd2 (recurring, one instance on
    // Jan 4 overridden) and abcd3 match, abcd1 (Jan 2) does not.
    for i in 1..=3 {
        let body = match i {
            1 => include_str!("../fixtures/ical/rfc4791/abcd1.ics"),
            2 => include_str!("../fixtures/ical/rfc4791/abcd2.ics"),
            _ => include_str!("../fixtures/ical/rfc4791/abcd3.ics"),
        };
        let r = s.put_ics(&format!("{coll}abcd{i}.ics"), body).await;
        assert_eq!(r.status, 201, "abcd{i}: {}", r.body);
    }
    let rfc = include_str!("../fixtures/dav/requests/rfc/rfc4791-7.8.1-calendar-query.xml");
    let r = query(rfc.to_owned()).await;
    assert!(r.body.contains("00959BC664CA650E933C892C@example.com"), "calendar-data of abcd2: {}", r.body);
    assert_eq!(hrefs(r), vec!["/calendars/alice/calendar/abcd2.ics", "/calendars/alice/calendar/abcd3.ics"]);
    s.stop().await;
}

/// With one listing permit, concurrent whole-collection listings of every gated kind
/// (PROPFIND Depth 1, sync-collection, the calendar export) queue and all answer in full: no
/// handler holds a permit while waiting for another.
async fn listings_beyond_the_permits_wait_their_turn(engine: Engine) {
    let s = start_with(engine, |c| c.limits.concurrent_listings = Some(1)).await;
    for i in 0..20 {
        let r = s.put_ics(&format!("/calendars/alice/calendar/e{i}.ics"), &event(&format!("uid-{i}"), "listed")).await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let sync = r#"<?xml version="1.0"?><d:sync-collection xmlns:d="DAV:"><d:sync-token/><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>"#;
    let mut tasks = Vec::new();
    for round in 0..6 {
        let (propfind, report, export) = (
            s.req("PROPFIND", "/calendars/alice/calendar/")
                .header("Depth", "1")
                .body(r#"<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>"#),
            s.req("REPORT", "/calendars/alice/calendar/").header("Depth", "1").body(sync),
            s.req("GET", "/calendars/alice/calendar/"),
        );
        tasks.push(tokio::spawn(async move { (round, "propfind", send(propfind).await) }));
        tasks.push(tokio::spawn(async move { (round, "sync", send(report).await) }));
        tasks.push(tokio::spawn(async move { (round, "export", send(export).await) }));
    }
    let deadline = std::time::Duration::from_secs(60);
    for task in tasks {
        let (round, kind, r) = tokio::time::timeout(deadline, task).await.expect("a listing waited forever").unwrap();
        match kind {
            "export" => {
                assert_eq!(r.status, 200, "{kind} {round}");
                assert_eq!(r.body.matches("BEGIN:VEVENT").count(), 20, "{kind} {round}");
            }
            _ => {
                assert_eq!(r.status, 207, "{kind} {round}: {}", r.body);
                let members = r.hrefs().iter().filter(|h| h.ends_with(".ics")).count();
                assert_eq!(members, 20, "{kind} {round}");
            }
        }
    }
    s.stop().await;
}

on_both_engines!(
    calendar_query_time_range,
    calendar_query_without_time_range,
    discovery_from_base_url,
    authentication,
    options_and_unknown_methods,
    unauthenticated_body_keeps_or_closes_the_connection,
    principal_property_search,
    expand_property_report,
    put_get_etags_and_conditions,
    invalid_calendar_data_is_refused_and_nothing_stored,
    uid_conflict_names_the_existing_href,
    limits_and_bad_requests,
    mkcalendar_with_properties,
    extended_mkcol,
    proppatch_is_atomic,
    delete_objects_and_calendars,
    copy_and_move,
    copy_and_move_collections,
    collection_copy_respects_quota,
    put_respects_quota,
    proppatch_follows_document_order,
    export_calendar_collection,
    properties_on_demand,
    multiget_and_sync_collection,
    listings_beyond_the_permits_wait_their_turn,
);
