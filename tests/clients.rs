//! Replays the discovery and first-sync requests of Apple Calendar, DAVx5 and Thunderbird
//! (fixtures/dav/requests, written from the clients' public sources and traces) against a
//! running server, on both engines, and checks what each client relies on.
#![allow(clippy::unwrap_used)]

mod harness;
mod support;

use harness::*;

fn fixture(path: &str) -> String {
    let file = format!("{}/fixtures/dav/requests/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}"))
}

async fn report(s: &TestServer, path: &str, depth: &str, body: String) -> Response {
    send(s.req("REPORT", path).header("Depth", depth).header("Content-Type", "application/xml").body(body)).await
}

/// The members each client's multiget asks for, stored under their decoded names.
async fn seed_work_calendar(s: &TestServer, mkcalendar_fixture: &str) {
    let r = send(s.req("MKCALENDAR", "/calendars/alice/work/").body(fixture(mkcalendar_fixture))).await;
    assert_eq!(r.status, 201, "{mkcalendar_fixture}: {}", r.body);
    for (i, name) in ["Birthday party.ics", "Meeting notes & plans.ics", "a&b.ics", "8f3c2a1e-0d4b-4f6a-9c7e-5b1d2e3f4a5b.ics"]
        .iter()
        .enumerate()
    {
        let path = format!("/calendars/alice/work/{}", kalends::dav::resource::encode(name));
        assert_eq!(s.put_ics(&path, &event(&format!("seed-{i}"), name)).await.status, 201, "{name}");
    }
}

async fn davx5(engine: Engine) {
    let s = start_server(engine).await;
    // DavResourceFinder: the base URL names the principal.
    let r = s.propfind("/", "0", &fixture("davx5/propfind-base-url-depth0.xml")).await;
    assert_eq!(r.status, 207, "{}", r.body);
    let cup = prop(&r.response_for("/"), DAV, "current-user-principal").unwrap().1;
    assert_eq!(cup.child(DAV, "href").unwrap().text(), "/principals/alice/");
    let r = s.propfind("/principals/alice/", "0", &fixture("davx5/propfind-principal-depth0.xml")).await;
    let addresses = prop(&r.response_for("/principals/alice/"), CALDAV, "calendar-user-address-set").unwrap().1;
    assert!(addresses.children().any(|h| h.text() == "mailto:alice@example.org"));
    // RefreshCollectionsWorker: both collections with their component sets.
    seed_work_calendar(&s, "davx5/mkcalendar.xml").await;
    let r = s.propfind("/calendars/alice/", "1", &fixture("davx5/propfind-home-depth1.xml")).await;
    for (href, comps) in [("/calendars/alice/calendar/", &["VEVENT", "VTODO"][..]), ("/calendars/alice/tasks/", &["VTODO"][..])] {
        let set = prop(&r.response_for(href), CALDAV, "supported-calendar-component-set").unwrap().1;
        assert_eq!(set.children().map(|c| c.attr("", "name").unwrap().to_owned()).collect::<Vec<_>>(), comps);
    }
    assert!(r.hrefs().contains(&"/calendars/alice/work/".to_owned()));
    // First sync: empty token, Depth 0, then multiget of what it listed.
    let r = report(&s, "/calendars/alice/work/", "0", fixture("davx5/sync-collection-initial.xml")).await;
    assert_eq!(r.status, 207, "{}", r.body);
    assert_eq!(r.hrefs().len(), 4);
    assert!(r.xml().child(DAV, "sync-token").is_some());
    let r = report(&s, "/calendars/alice/work/", "1", fixture("davx5/calendar-multiget.xml")).await;
    let found = r.response_for("/calendars/alice/work/8f3c2a1e-0d4b-4f6a-9c7e-5b1d2e3f4a5b.ics");
    assert!(prop_text(&found, CALDAV, "calendar-data").contains("BEGIN:VEVENT"));
    s.stop().await;
}

async fn thunderbird(engine: Engine) {
    let s = start_server(engine).await;
    let cal = "/calendars/alice/calendar/";
    let r = s.propfind(cal, "0", &fixture("thunderbird/propfind-calendar-depth0.xml")).await;
    let c = r.response_for(cal);
    assert!(prop(&c, DAV, "resourcetype").unwrap().1.child(CALDAV, "calendar").is_some());
    let reports = prop(&c, DAV, "supported-report-set").unwrap().1;
    assert!(reports.children().any(|r| r.child(DAV, "report").and_then(|x| x.child(DAV, "sync-collection")).is_some()));
    let privileges = prop(&c, DAV, "current-user-privilege-set").unwrap().1;
    assert!(privileges.children().any(|p| p.child(DAV, "write").is_some()), "Thunderbird opens read-only otherwise");
    let r = s.propfind("/principals/alice/", "0", &fixture("thunderbird/propfind-principal-depth0.xml")).await;
    assert_eq!(prop(&r.response_for("/principals/alice/"), CALDAV, "calendar-home-set").unwrap().0, 200);
    let before = prop_text(&s.propfind(cal, "0", &fixture("thunderbird/propfind-getctag-depth0.xml")).await.response_for(cal), "http://calendarserver.org/ns/", "getctag");
    s.put_ics(&format!("{cal}x.ics"), &event("tb-1", "x")).await;
    let after = prop_text(&s.propfind(cal, "0", &fixture("thunderbird/propfind-getctag-depth0.xml")).await.response_for(cal), "http://calendarserver.org/ns/", "getctag");
    assert_ne!(before, after, "Thunderbird misses changes when the ctag does not move");
    let r = s.propfind(cal, "1", &fixture("thunderbird/propfind-getetag-depth1.xml")).await;
    assert!(prop_text(&r.response_for("/calendars/alice/calendar/x.ics"), DAV, "getetag").starts_with('"'));
    // Thunderbird sends Depth: 1 with sync-collection; an initial sync must work with it.
    let r = report(&s, cal, "1", fixture("thunderbird/sync-collection-initial.xml")).await;
    assert_eq!((r.status.as_u16(), r.hrefs()), (207, vec!["/calendars/alice/calendar/x.ics".to_owned()]));
    // A token from elsewhere is refused with the precondition, so the client resyncs.
    let r = report(&s, cal, "1", fixture("thunderbird/sync-collection-token.xml")).await;
    assert_eq!(r.condition(), (DAV.into(), "valid-sync-token".into()));
    seed_work_calendar(&s, "apple/mkcalendar.xml").await;
    let r = report(&s, "/calendars/alice/work/", "1", fixture("thunderbird/calendar-multiget.xml")).await;
    // Each response carries the href exactly as the client wrote it.
    for href in ["/calendars/alice/work/Meeting%20notes%20%26%20plans.ics", "/calendars/alice/work/a&b.ics"] {
        assert!(prop_text(&r.response_for(href), CALDAV, "calendar-data").contains("BEGIN:VEVENT"), "{href}");
    }
    s.stop().await;
}

async fn apple(engine: Engine) {
    let s = start_server(engine).await;
    let r = send(s.anon("PROPFIND", "/.well-known/caldav")).await;
    assert_eq!(r.header("location").as_deref(), Some("/"));
    let r = s.propfind("/", "0", &fixture("apple/propfind-root-depth0.xml")).await;
    assert_eq!(r.status, 207, "{}", r.body);
    let r = s.propfind("/principals/alice/", "0", &fixture("apple/propfind-principal-depth0.xml")).await;
    let home = prop(&r.response_for("/principals/alice/"), CALDAV, "calendar-home-set").unwrap().1;
    assert_eq!(home.children().count(), 1, "Apple uses exactly one calendar-home-set");
    seed_work_calendar(&s, "apple/mkcalendar.xml").await;
    let r = s.propfind("/calendars/alice/", "1", &fixture("apple/propfind-home-depth1.xml")).await;
    let work = r.response_for("/calendars/alice/work/");
    assert_eq!(prop(&work, "http://apple.com/ns/ical/", "calendar-color").unwrap().0, 200);
    for file in ["apple/proppatch-calendar-color.xml", "apple/proppatch-calendar-order.xml"] {
        let r = send(s.req("PROPPATCH", "/calendars/alice/work/").body(fixture(file))).await;
        let resp = r.response_for("/calendars/alice/work/");
        let failed: Vec<String> = resp
            .children()
            .filter(|ps| ps.is(DAV, "propstat"))
            .filter(|ps| !ps.child(DAV, "status").unwrap().text().contains("200"))
            .map(|ps| ps.child(DAV, "prop").unwrap().children().map(|p| p.name.local.to_string()).collect::<Vec<_>>().join(","))
            .collect();
        assert!(failed.is_empty(), "{file}: refused {failed:?}");
    }
    let r = report(&s, "/calendars/alice/work/", "1", fixture("apple/calendar-multiget.xml")).await;
    assert_eq!(r.status, 207, "{}", r.body);
    s.stop().await;
}

on_both_engines!(davx5, thunderbird, apple);
