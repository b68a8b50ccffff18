//! Black-box tests of the RFC deviations found in review (issue 14), each on SQLite and
//! PostgreSQL: the answer the RFC section requires, and storage unchanged where a write is
//! refused.
#![allow(clippy::unwrap_used)]

mod harness;
mod support;

use harness::*;

const CAL: &str = "/calendars/alice/calendar/";

fn query(filter: &str) -> String {
    format!(
        r#"<?xml version="1.0"?><C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop><C:filter>{filter}</C:filter></C:calendar-query>"#
    )
}

async fn report(s: &TestServer, path: &str, depth: &str, body: &str) -> Response {
    send(s.req("REPORT", path).header("Depth", depth).header("Content-Type", "application/xml").body(body.to_owned())).await
}

/// RFC 4791 §5.3.2.1: an object is never replaced by one with another UID, by PUT, COPY or MOVE.
async fn no_uid_change_by_put_copy_or_move(engine: Engine) {
    let s = start_server(engine).await;
    s.put_ics(&format!("{CAL}1.ics"), &event("uid-1", "first")).await;
    s.put_ics(&format!("{CAL}2.ics"), &event("uid-2", "second")).await;
    let r = send(s.req("PUT", &format!("{CAL}1.ics")).header("Content-Type", "text/calendar").body(event("uid-other", "x"))).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.condition(), (CALDAV.to_owned(), "no-uid-conflict".to_owned()));
    assert_eq!(r.xml().children().next().unwrap().child(DAV, "href").unwrap().text(), format!("{CAL}1.ics"));
    let get = send(s.req("GET", &format!("{CAL}1.ics"))).await;
    assert!(get.body.contains("UID:uid-1") && get.body.contains("SUMMARY:first"), "unchanged: {}", get.body);
    // The same UID may of course be written again.
    let r = send(s.req("PUT", &format!("{CAL}1.ics")).header("Content-Type", "text/calendar").body(event("uid-1", "again"))).await;
    assert_eq!(r.status, 204, "{}", r.body);

    s.put_ics("/calendars/alice/tasks/t.ics", &todo("uid-t", "task")).await;
    for method in ["COPY", "MOVE"] {
        let r = send(
            s.req(method, &format!("{CAL}2.ics")).header("Destination", format!("{CAL}1.ics")).header("Overwrite", "T"),
        )
        .await;
        assert_eq!(r.status, 403, "{method}: {}", r.body);
        assert_eq!(r.condition().1, "no-uid-conflict", "{method}");
    }
    for (path, uid) in [("1.ics", "uid-1"), ("2.ics", "uid-2")] {
        let get = send(s.req("GET", &format!("{CAL}{path}"))).await;
        assert_eq!(get.status, 200, "{path} still there");
        assert!(get.body.contains(&format!("UID:{uid}")), "{path}: {}", get.body);
    }
    s.stop().await;
}

/// RFC 4791 §7.8 / §9.7: a filter that breaks RFC 5545's component grammar is valid-filter.
async fn invalid_filters_are_refused(engine: Engine) {
    let s = start_server(engine).await;
    s.put_ics(&format!("{CAL}a.ics"), &event("a", "meeting")).await;
    let range = r#"<C:time-range start="20260101T000000Z" end="20270101T000000Z"/>"#;
    let bad = [
        r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:comp-filter name="VEVENT"/></C:comp-filter></C:comp-filter>"#.to_owned(),
        r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VALARM"/></C:comp-filter>"#.to_owned(),
        format!(r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:prop-filter name="SUMMARY">{range}</C:prop-filter></C:comp-filter></C:comp-filter>"#),
        format!(r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VTIMEZONE">{range}</C:comp-filter></C:comp-filter>"#),
        r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VJOURNAL"><C:comp-filter name="VALARM"/></C:comp-filter></C:comp-filter>"#.to_owned(),
    ];
    for filter in &bad {
        let r = report(&s, CAL, "1", &query(filter)).await;
        assert_eq!(r.status, 403, "{filter}: {}", r.body);
        assert_eq!(r.condition(), (CALDAV.to_owned(), "valid-filter".to_owned()), "{filter}");
    }
    let good = format!(r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:prop-filter name="DTSTART">{range}</C:prop-filter></C:comp-filter></C:comp-filter>"#);
    let r = report(&s, CAL, "1", &query(&good)).await;
    assert_eq!(r.status, 207, "{}", r.body);
    assert_eq!(r.hrefs(), vec![format!("{CAL}a.ics")]);
    s.stop().await;
}

/// A leading UTF-8 byte-order mark is not iCalendar: the object is stored without it, so it is
/// found by queries like any other, and the PUT returns no ETag (RFC 4791 §5.3.4).
async fn byte_order_mark_is_dropped(engine: Engine) {
    let s = start_server(engine).await;
    let body = format!("\u{feff}{}", event("bom-1", "Lunch with BOM"));
    let r = send(s.req("PUT", &format!("{CAL}bom.ics")).header("Content-Type", "text/calendar").body(body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.header("etag"), None, "stored bytes differ from the sent ones");
    let get = send(s.req("GET", &format!("{CAL}bom.ics"))).await;
    assert!(get.body.starts_with("BEGIN:VCALENDAR"), "{:?}", &get.body[..20]);
    let filter = r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:prop-filter name="SUMMARY"><C:text-match>lunch</C:text-match></C:prop-filter></C:comp-filter></C:comp-filter>"#;
    let r = report(&s, CAL, "1", &query(filter)).await;
    assert_eq!(r.hrefs(), vec![format!("{CAL}bom.ics")], "{}", r.body);
    // Without a BOM the ETag comes back as before.
    let r = s.put_ics(&format!("{CAL}plain.ics"), &event("plain", "x")).await;
    assert!(r.header("etag").is_some());
    s.stop().await;
}

/// RFC 4791 §5.2.3: without supported-calendar-component-set a calendar takes every type.
async fn mkcalendar_defaults_to_every_component(engine: Engine) {
    let s = start_server(engine).await;
    let r = send(s.req("MKCALENDAR", "/calendars/alice/all/")).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.header("cache-control").as_deref(), Some("no-cache"), "RFC 4791 §5.3.1");
    let fb = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//T//EN\r\nBEGIN:VFREEBUSY\r\nUID:fb-1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T000000Z\r\nDTEND:20260106T000000Z\r\nFREEBUSY:20260105T100000Z/20260105T110000Z\r\nEND:VFREEBUSY\r\nEND:VCALENDAR\r\n";
    let r = s.put_ics("/calendars/alice/all/fb.ics", fb).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let body = r#"<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:supported-calendar-component-set/></D:prop></D:propfind>"#;
    let r = s.propfind("/calendars/alice/all/", "0", body).await;
    let set = prop(&r.response_for("/calendars/alice/all/"), CALDAV, "supported-calendar-component-set").unwrap().1;
    let mut names: Vec<String> = set.children().map(|c| c.attr("", "name").unwrap().to_owned()).collect();
    names.sort();
    assert_eq!(names, ["VEVENT", "VFREEBUSY", "VJOURNAL", "VTODO"]);
    s.stop().await;
}

/// RFC 9110 §15.3.2: a COPY or MOVE that creates its target names it in Location.
async fn copy_and_move_send_location(engine: Engine) {
    let s = start_server(engine).await;
    s.put_ics(&format!("{CAL}a.ics"), &event("a", "x")).await;
    let dest = format!("{}{CAL}b.ics", s.base);
    let r = send(s.req("MOVE", &format!("{CAL}a.ics")).header("Destination", &dest)).await;
    assert_eq!(r.status, 201);
    assert_eq!(r.header("location").as_deref(), Some(dest.as_str()));
    let r = send(s.req("COPY", "/calendars/alice/calendar/").header("Destination", "/calendars/alice/copy/")).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.header("location").as_deref(), Some("/calendars/alice/copy/"));
    // Replacing answers 204 without Location.
    let r = send(s.req("COPY", &format!("{CAL}b.ics")).header("Destination", "/calendars/alice/copy/b.ics")).await;
    assert_eq!(r.status, 204);
    assert_eq!(r.header("location"), None);
    s.stop().await;
}

/// RFC 4791 §7.8, §7.9: calendar-query and calendar-multiget on a calendar object resource.
async fn reports_on_an_object(engine: Engine) {
    let s = start_server(engine).await;
    s.put_ics(&format!("{CAL}a.ics"), &event("a", "alpha")).await;
    s.put_ics(&format!("{CAL}b.ics"), &event("b", "beta")).await;
    let href = format!("{CAL}a.ics");
    let multiget = format!(
        r#"<?xml version="1.0"?><C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/></D:prop><D:href>{href}</D:href><D:href>{CAL}b.ics</D:href></C:calendar-multiget>"#
    );
    let r = report(&s, &href, "0", &multiget).await;
    assert_eq!(r.status, 207, "{}", r.body);
    assert!(prop_text(&r.response_for(&href), CALDAV, "calendar-data").contains("SUMMARY:alpha"));
    let other = r.response_for(&format!("{CAL}b.ics"));
    assert!(other.child(DAV, "status").unwrap().text().contains("404"), "only the object itself");

    let matching = r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:prop-filter name="SUMMARY"><C:text-match>alp</C:text-match></C:prop-filter></C:comp-filter></C:comp-filter>"#;
    let r = report(&s, &href, "0", &query(matching)).await;
    assert_eq!(r.hrefs(), vec![href.clone()], "{}", r.body);
    let r = report(&s, &format!("{CAL}b.ics"), "0", &query(matching)).await;
    assert_eq!(r.status, 207);
    assert!(r.hrefs().is_empty(), "{}", r.body);

    let body = r#"<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:supported-report-set/></D:prop></D:propfind>"#;
    let r = s.propfind(&href, "0", body).await;
    let set = prop(&r.response_for(&href), DAV, "supported-report-set").unwrap().1;
    let reports: Vec<String> = set
        .children()
        .filter_map(|sr| sr.child(DAV, "report").and_then(|rep| rep.children().next()).map(|e| e.name.local.to_string()))
        .collect();
    assert!(reports.contains(&"calendar-query".to_owned()) && reports.contains(&"calendar-multiget".to_owned()), "{reports:?}");
    s.stop().await;
}

/// RFC 4918 §15.4: getcontentlength is what GET answers, on collections too.
async fn content_length_on_collections(engine: Engine) {
    let s = start_server(engine).await;
    s.put_ics(&format!("{CAL}a.ics"), &event("a", "x")).await;
    send(s.req("MKCOL", "/calendars/alice/files/")).await;
    let body = r#"<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:getcontentlength/></D:prop></D:propfind>"#;
    for path in [CAL, "/calendars/alice/files/", "/calendars/alice/"] {
        let r = s.propfind(path, "0", body).await;
        let length: usize = prop_text(&r.response_for(path), DAV, "getcontentlength").parse().unwrap();
        let get = send(s.req("GET", path)).await;
        assert_eq!(get.status, 200);
        assert_eq!(length, get.body.len(), "{path}");
    }
    s.stop().await;
}

/// RFC 4791 §4.2, RFC 4918 §9.3.1: MKCOL inside a calendar is 403 (409 means no parent).
async fn mkcol_inside_a_calendar(engine: Engine) {
    let s = start_server(engine).await;
    let r = send(s.req("MKCOL", &format!("{CAL}sub/"))).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("calendar"), "{}", r.body);
    let r = send(s.req("MKCOL", "/calendars/alice/nowhere/sub/")).await;
    assert_eq!(r.status, 409);
    s.stop().await;
}

/// RFC 4791 §5.3.2.1: an RRULE or DTEND that is not valid iCalendar is valid-calendar-data.
async fn malformed_values_are_invalid_data(engine: Engine) {
    let s = start_server(engine).await;
    let base = event("m", "x");
    let cases = [
        base.replace("DTEND:20260105T110000Z\r\n", "DTEND:20260105T110000Z\r\nRRULE:FREQ=MONTHLY;BYDAY=+1,3MO\r\n"),
        base.replace("DTEND:20260105T110000Z", "DTEND:2026-01-05 11:00"),
        base.replace("DTEND:20260105T110000Z", "DTEND:20261305T110000Z"),
    ];
    for ics in cases {
        let r = send(s.req("PUT", &format!("{CAL}m.ics")).header("Content-Type", "text/calendar").body(ics.clone())).await;
        assert_eq!(r.status, 403, "{ics}: {}", r.body);
        assert_eq!(r.condition().1, "valid-calendar-data", "{ics}: {}", r.body);
    }
    assert_eq!(send(s.req("GET", &format!("{CAL}m.ics"))).await.status, 404);
    s.stop().await;
}

/// RFC 4791 §7.8: a CALDAV:timezone that is not one valid VCALENDAR with one VTIMEZONE.
async fn query_timezone_is_validated(engine: Engine) {
    let s = start_server(engine).await;
    let tz = "BEGIN:VTIMEZONE\r\nTZID:Europe/Paris\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n";
    let filter = r#"<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"/></C:comp-filter></C:filter>"#;
    let with_tz = |text: &str| {
        format!(
            r#"<?xml version="1.0"?><C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop>{filter}<C:timezone>{text}</C:timezone></C:calendar-query>"#
        )
    };
    let bare_cr = format!("BEGIN:VCALENDAR&#13;{}END:VCALENDAR&#13;", tz.replace("\r\n", "&#13;"));
    let no_version = format!("BEGIN:VCALENDAR\r\n{tz}END:VCALENDAR\r\n");
    for bad in [bare_cr, no_version, "not a calendar".to_owned()] {
        let r = report(&s, CAL, "1", &with_tz(&bad)).await;
        assert_eq!(r.status, 403, "{bad:?}: {}", r.body);
        assert_eq!(r.condition().1, "valid-calendar-data", "{bad:?}");
    }
    let good = format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//T//EN\r\n{tz}END:VCALENDAR\r\n");
    let r = report(&s, CAL, "1", &with_tz(&good)).await;
    assert_eq!(r.status, 207, "{}", r.body);
    s.stop().await;
}

/// RFC 5689 §3: a failed extended MKCOL answers a mkcol-response, a failed MKCALENDAR a
/// mkcalendar-response (RFC 4791 §5.3.1), each listing the properties with their status.
async fn failed_mkcol_bodies(engine: Engine) {
    let s = start_server(engine).await;
    let mkcol = r#"<?xml version="1.0"?><D:mkcol xmlns:D="DAV:"><D:set><D:prop><D:resourcetype><D:collection/><D:unknown-type/></D:resourcetype><D:displayname>x</D:displayname></D:prop></D:set></D:mkcol>"#;
    let r = send(s.req("MKCOL", "/calendars/alice/x/").header("Content-Type", "application/xml").body(mkcol)).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let root = r.xml();
    assert!(root.is(DAV, "mkcol-response"), "{}", r.body);
    assert_eq!(prop(&root, DAV, "resourcetype").unwrap().0, 403);
    assert_eq!(prop(&root, DAV, "displayname").unwrap().0, 424);
    assert!(!r.body.contains("<D:href") && !r.body.contains(":href"), "{}", r.body);

    let mkcal = r#"<?xml version="1.0"?><C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><D:getetag>x</D:getetag><D:displayname>y</D:displayname></D:prop></D:set></C:mkcalendar>"#;
    let r = send(s.req("MKCALENDAR", "/calendars/alice/y/").body(mkcal)).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let root = r.xml();
    assert!(root.is(CALDAV, "mkcalendar-response"), "{}", r.body);
    assert_eq!(prop(&root, DAV, "getetag").unwrap().0, 403);
    assert_eq!(prop(&root, DAV, "displayname").unwrap().0, 424);
    assert_eq!(send(s.req("GET", "/calendars/alice/y/")).await.status, 404, "nothing created");
    s.stop().await;
}

/// RFC 9110 §15.5.6: a 405's Allow lists what would succeed on that resource.
async fn allow_lists_what_succeeds(engine: Engine) {
    let s = start_server(engine).await;
    s.put_ics(&format!("{CAL}a.ics"), &event("a", "x")).await;
    let r = send(s.req("PUT", CAL).body(event("c", "x"))).await;
    assert_eq!(r.status, 405);
    let allow = r.header("allow").unwrap();
    assert!(!allow.contains("PUT") && !allow.contains("MKCOL") && allow.contains("PROPFIND"), "{allow}");
    let r = send(s.req("MKCOL", &format!("{CAL}a.ics"))).await;
    assert_eq!(r.status, 405);
    let allow = r.header("allow").unwrap();
    assert!(allow.contains("PUT") && !allow.contains("MKCOL"), "{allow}");
    let r = send(s.req("MKCOL", CAL)).await;
    assert_eq!(r.status, 405);
    assert!(!r.header("allow").unwrap().contains("PUT"));
    s.stop().await;
}

/// Decision 0014: the default calendar takes events and tasks (calcurse syncs both to one URL);
/// the task list stays tasks only.
async fn default_calendar_takes_events_and_tasks(engine: Engine) {
    let s = start_server(engine).await;
    let r = s.put_ics(&format!("{CAL}t.ics"), &todo("t", "task")).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = send(s.req("PUT", "/calendars/alice/tasks/e.ics").header("Content-Type", "text/calendar").body(event("e", "x"))).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.condition().1, "supported-calendar-component");
    s.stop().await;
}

/// RFC 4791 §7.8: a calendar-query on the home searches the calendars below it (Depth 1).
async fn calendar_query_on_the_home(engine: Engine) {
    let s = start_server(engine).await;
    s.put_ics(&format!("{CAL}a.ics"), &event("a", "x")).await;
    s.put_ics("/calendars/alice/tasks/t.ics", &todo("t", "y")).await;
    let all = r#"<C:comp-filter name="VCALENDAR"/>"#;
    let r = report(&s, "/calendars/alice/", "1", &query(all)).await;
    assert_eq!(r.status, 207, "{}", r.body);
    let mut hrefs = r.hrefs();
    hrefs.sort();
    assert_eq!(hrefs, vec![format!("{CAL}a.ics"), "/calendars/alice/tasks/t.ics".to_owned()]);
    let r = report(&s, "/calendars/alice/", "0", &query(all)).await;
    assert!(r.hrefs().is_empty(), "Depth 0 is the home alone");
    s.stop().await;
}

/// A NUL in an object (here in its UID) is not iCalendar (RFC 5545 §3.1): both engines refuse
/// it the same way — PostgreSQL answered 500, unable to store such a UID, while SQLite took it.
async fn a_nul_byte_is_refused_on_both_engines(engine: Engine) {
    let s = start_server(engine).await;
    let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:a\0b\r\nDTSTAMP:20260101T000000Z\r\n\
DTSTART:20261201T090000Z\r\nSUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let r = s.put_ics("/calendars/alice/calendar/nul.ics", ics).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.condition(), (CALDAV.to_owned(), "valid-calendar-data".to_owned()));
    s.stop().await;
}

on_both_engines!(
    a_nul_byte_is_refused_on_both_engines,
    no_uid_change_by_put_copy_or_move,
    invalid_filters_are_refused,
    byte_order_mark_is_dropped,
    mkcalendar_defaults_to_every_component,
    copy_and_move_send_location,
    reports_on_an_object,
    content_length_on_collections,
    mkcol_inside_a_calendar,
    malformed_values_are_invalid_data,
    query_timezone_is_validated,
    failed_mkcol_bodies,
    allow_lists_what_succeeds,
    default_calendar_takes_events_and_tasks,
    calendar_query_on_the_home,
);
