//! Black-box tests of the REPORT features of RFC 4791 §9.6 and §7.10 over HTTP, on SQLite and
//! PostgreSQL: calendar-data expand / limit-recurrence-set / selection, free-busy-query and its
//! cache, and the preconditions that refuse what cannot be answered exactly.
#![allow(clippy::unwrap_used)]

mod harness;
mod support;

use harness::*;

const COLL: &str = "/calendars/alice/calendar/";

/// Weekly on Mondays 09:00 Berlin from 2026-01-05, 6 instances; Jan 19 moved to Wed Jan 21
/// 14:00 and marked tentative; Jan 26 excluded; Feb 2 cancelled by its override.
const WEEKLY: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\n\
BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\n\
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\n\
BEGIN:DAYLIGHT\r\nDTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\n\
TZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n\
BEGIN:VEVENT\r\nUID:weekly\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;TZID=Europe/Berlin:20260105T090000\r\n\
DTEND;TZID=Europe/Berlin:20260105T100000\r\nSUMMARY:Planning\r\nRRULE:FREQ=WEEKLY;COUNT=6\r\n\
EXDATE;TZID=Europe/Berlin:20260126T090000\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:weekly\r\nDTSTAMP:20260101T000000Z\r\nRECURRENCE-ID;TZID=Europe/Berlin:20260119T090000\r\n\
DTSTART;TZID=Europe/Berlin:20260121T140000\r\nDTEND;TZID=Europe/Berlin:20260121T150000\r\n\
SUMMARY:Planning (moved)\r\nSTATUS:TENTATIVE\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:weekly\r\nDTSTAMP:20260101T000000Z\r\nRECURRENCE-ID;TZID=Europe/Berlin:20260202T090000\r\n\
DTSTART;TZID=Europe/Berlin:20260202T090000\r\nDTEND;TZID=Europe/Berlin:20260202T100000\r\n\
SUMMARY:Planning\r\nSTATUS:CANCELLED\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

fn query_with_data(data: &str, start: &str, end: &str) -> String {
    format!(
        r#"<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/>{data}</D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="{start}" end="{end}"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"#
    )
}

/// The unfolded content lines of the calendar-data in the response for `href`.
fn data_lines(r: &Response, href: &str) -> Vec<String> {
    let text = prop_text(&r.response_for(href), CALDAV, "calendar-data");
    kalends::calendar::raw::content_lines(&text).into_iter().map(|l| l.text.into_owned()).collect()
}

fn count(lines: &[String], line: &str) -> usize {
    lines.iter().filter(|l| *l == line).count()
}

async fn expand_returns_each_instance_in_utc(engine: Engine) {
    let s = start_server(engine).await;
    assert_eq!(s.put_ics(&format!("{COLL}weekly.ics"), WEEKLY).await.status, 201);
    let href = format!("{COLL}weekly.ics");
    let expand = r#"<C:calendar-data><C:expand start="20260112T000000Z" end="20260126T000000Z"/></C:calendar-data>"#;
    let r = send(s.req("REPORT", COLL).header("Depth", "1").body(query_with_data(expand, "20260112T000000Z", "20260126T000000Z"))).await;
    assert_eq!(r.status, 207, "{}", r.body);
    let lines = data_lines(&r, &href);
    // Jan 12 from the master (09:00 CET = 08:00Z) and the Jan 19 instance where its override put it.
    assert_eq!(count(&lines, "BEGIN:VEVENT"), 2, "{lines:#?}");
    for want in ["RECURRENCE-ID:20260112T080000Z", "DTSTART:20260112T080000Z", "DTEND:20260112T090000Z",
                 "RECURRENCE-ID:20260119T080000Z", "DTSTART:20260121T130000Z", "SUMMARY:Planning (moved)"] {
        assert_eq!(count(&lines, want), 1, "{want} in {lines:#?}");
    }
    assert!(!lines.iter().any(|l| l.starts_with("RRULE") || l.starts_with("EXDATE") || l.contains("TZID") || l.contains("VTIMEZONE")), "{lines:#?}");
    // GET still serves the bytes as stored.
    assert_eq!(send(s.req("GET", &href)).await.body, WEEKLY);

    // A multiget and a sync-collection take the same options.
    let mg = format!(r#"<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop>{expand}</D:prop><D:href>{href}</D:href></C:calendar-multiget>"#);
    let r = send(s.req("REPORT", COLL).header("Depth", "1").body(mg)).await;
    assert_eq!(count(&data_lines(&r, &href), "BEGIN:VEVENT"), 2, "{}", r.body);
    let sync = format!(r#"<D:sync-collection xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:sync-token/><D:sync-level>1</D:sync-level><D:prop>{expand}</D:prop></D:sync-collection>"#);
    let r = send(s.req("REPORT", COLL).header("Depth", "1").body(sync)).await;
    assert_eq!(count(&data_lines(&r, &href), "BEGIN:VEVENT"), 2, "{}", r.body);
    s.stop().await;
}

async fn limit_recurrence_set_and_selection(engine: Engine) {
    let s = start_server(engine).await;
    s.put_ics(&format!("{COLL}weekly.ics"), WEEKLY).await;
    let href = format!("{COLL}weekly.ics");
    // Jan 21 holds the moved instance only: master plus the Jan 19 override, not the Feb 2 one.
    let limit = r#"<C:calendar-data><C:limit-recurrence-set start="20260121T000000Z" end="20260122T000000Z"/></C:calendar-data>"#;
    let r = send(s.req("REPORT", COLL).header("Depth", "1").body(query_with_data(limit, "20260121T000000Z", "20260122T000000Z"))).await;
    let lines = data_lines(&r, &href);
    assert_eq!(count(&lines, "BEGIN:VEVENT"), 2, "{lines:#?}");
    assert_eq!(count(&lines, "SUMMARY:Planning (moved)"), 1);
    assert_eq!(count(&lines, "STATUS:CANCELLED"), 0);
    assert_eq!(count(&lines, "BEGIN:VTIMEZONE"), 1);

    let select = r#"<C:calendar-data><C:comp name="VCALENDAR"><C:comp name="VEVENT"><C:prop name="SUMMARY"/><C:prop name="UID" novalue="yes"/></C:comp></C:comp></C:calendar-data>"#;
    let r = send(s.req("REPORT", COLL).header("Depth", "1").body(query_with_data(select, "20260101T000000Z", "20260301T000000Z"))).await;
    let lines = data_lines(&r, &href);
    assert_eq!(lines[0], "BEGIN:VCALENDAR");
    assert_eq!(count(&lines, "UID:"), 3, "{lines:#?}");
    assert!(!lines.iter().any(|l| l.starts_with("DTSTART") || l.starts_with("VERSION") || l.contains("VTIMEZONE")), "{lines:#?}");
    s.stop().await;
}

async fn calendar_data_options_are_checked(engine: Engine) {
    let s = start_server_with_max_instances(engine, 3).await;
    s.put_ics(&format!("{COLL}weekly.ics"), WEEKLY).await;
    let send_data = |data: &str| {
        let body = query_with_data(data, "20260101T000000Z", "20260301T000000Z");
        send(s.req("REPORT", COLL).header("Depth", "1").body(body))
    };
    let r = send_data(r#"<C:calendar-data><C:expand start="20260101T000000Z"/></C:calendar-data>"#).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = send_data(r#"<C:calendar-data content-type="application/calendar+json"/>"#).await;
    assert_eq!((r.status.as_u16(), r.condition()), (403, (CALDAV.into(), "supported-calendar-data".into())));
    // Five instances in the window but max-instances is 3: refused, never cut short.
    let r = send_data(r#"<C:calendar-data><C:expand start="20260101T000000Z" end="20260301T000000Z"/></C:calendar-data>"#).await;
    assert_eq!((r.status.as_u16(), r.condition()), (403, (CALDAV.into(), "max-instances".into())), "{}", r.body);
    s.stop().await;
}

async fn start_server_with_max_instances(engine: Engine, n: u32) -> TestServer {
    start_with(engine, |c| c.limits.max_instances = n).await
}

fn freebusy_query(start: &str, end: &str) -> String {
    format!(r#"<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav"><C:time-range start="{start}" end="{end}"/></C:free-busy-query>"#)
}

/// The FREEBUSY lines of a free-busy-query answer.
fn busy_lines(body: &str) -> Vec<String> {
    kalends::calendar::raw::content_lines(body).into_iter().map(|l| l.text.into_owned()).filter(|l| l.starts_with("FREEBUSY")).collect()
}

async fn free_busy_query(engine: Engine) {
    let s = start_server(engine).await;
    s.put_ics(&format!("{COLL}weekly.ics"), WEEKLY).await;
    let allday = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nBEGIN:VEVENT\r\nUID:day\r\nDTSTAMP:20260101T000000Z\r\n\
DTSTART;VALUE=DATE:20260110\r\nSUMMARY:Off\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let free = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nBEGIN:VEVENT\r\nUID:free\r\nDTSTAMP:20260101T000000Z\r\n\
DTSTART:20260107T100000Z\r\nDURATION:PT1H\r\nTRANSP:TRANSPARENT\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    s.put_ics(&format!("{COLL}day.ics"), allday).await;
    s.put_ics(&format!("{COLL}free.ics"), free).await;
    let r = send(s.req("REPORT", COLL).header("Depth", "1").body(freebusy_query("20260101T000000Z", "20260201T000000Z"))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.header("content-type").unwrap().starts_with("text/calendar"));
    assert!(r.body.contains("DTSTART:20260101T000000Z\r\nDTEND:20260201T000000Z\r\n"), "{}", r.body);
    // The calendar has no calendar-timezone, so the all-day event is busy for the UTC day.
    assert_eq!(
        busy_lines(&r.body),
        [
            "FREEBUSY:20260105T080000Z/20260105T090000Z",
            "FREEBUSY:20260110T000000Z/20260111T000000Z",
            "FREEBUSY:20260112T080000Z/20260112T090000Z",
            "FREEBUSY;FBTYPE=BUSY-TENTATIVE:20260121T130000Z/20260121T140000Z",
        ]
    );
    // The same question again is answered from the cache; a write to the calendar changes the
    // answer at once (the cache key carries the collection's sync sequence).
    let again = send(s.req("REPORT", COLL).header("Depth", "1").body(freebusy_query("20260101T000000Z", "20260201T000000Z"))).await;
    assert_eq!(busy_lines(&again.body), busy_lines(&r.body));
    assert_eq!(send(s.req("DELETE", &format!("{COLL}day.ics"))).await.status, 204);
    let after = send(s.req("REPORT", COLL).header("Depth", "1").body(freebusy_query("20260101T000000Z", "20260201T000000Z"))).await;
    assert_eq!(busy_lines(&after.body).len(), 3, "{}", after.body);

    // With a calendar-timezone, the all-day event is the Berlin day.
    let tz = r#"<D:propertyupdate xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><C:calendar-timezone>BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Test//EN
BEGIN:VTIMEZONE
TZID:Europe/Berlin
BEGIN:STANDARD
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
END:STANDARD
END:VTIMEZONE
END:VCALENDAR
</C:calendar-timezone></D:prop></D:set></D:propertyupdate>"#;
    assert_eq!(send(s.req("PROPPATCH", COLL).body(tz)).await.status, 207);
    s.put_ics(&format!("{COLL}day.ics"), allday).await;
    let berlin = send(s.req("REPORT", COLL).header("Depth", "1").body(freebusy_query("20260109T000000Z", "20260112T000000Z"))).await;
    assert_eq!(busy_lines(&berlin.body), ["FREEBUSY:20260109T230000Z/20260110T230000Z"], "{}", berlin.body);

    let r = send(s.req("REPORT", COLL).header("Depth", "1").body(freebusy_query("20260201T000000Z", "20260101T000000Z"))).await;
    assert_eq!(r.status, 400);
    let r = send(s.req("REPORT", COLL).header("Depth", "1").body(freebusy_query("tomorrow", "20260101T000000Z"))).await;
    assert_eq!(r.status, 400);
    s.stop().await;
}

async fn free_busy_is_cached_in_redis_and_survives_an_outage(engine: Engine) {
    let keys = support::redis::unique_prefix();
    let redis_url = keys.url().to_owned();
    let prefix = keys.prefix().to_owned();
    let s = start_with(engine, |c| {
        c.redis_url = Some(redis_url);
        c.cache.redis_prefix = prefix;
    })
    .await;
    s.put_ics(&format!("{COLL}weekly.ics"), WEEKLY).await;
    let body = freebusy_query("20260101T000000Z", "20260201T000000Z");
    let first = send(s.req("REPORT", COLL).header("Depth", "1").body(body.clone())).await;
    assert_eq!(first.status, 200, "{}", first.body);
    // Free/busy entries only: the rate limiter keeps its buckets under the same prefix.
    let fb_keys = || keys.keys().unwrap().into_iter().filter(|k| k.contains(":fb:")).collect::<Vec<_>>();
    let stored = fb_keys();
    assert_eq!(stored.len(), 1, "one free/busy entry under the test prefix: {stored:?}");
    assert!(stored[0].contains(":fb:v2:"), "{stored:?}");
    let cached = send(s.req("REPORT", COLL).header("Depth", "1").body(body.clone())).await;
    assert_eq!(busy_lines(&cached.body), busy_lines(&first.body));
    // A write makes a new key: the old answer is never served again.
    send(s.req("DELETE", &format!("{COLL}weekly.ics"))).await;
    let after = send(s.req("REPORT", COLL).header("Depth", "1").body(body.clone())).await;
    assert!(busy_lines(&after.body).is_empty(), "{}", after.body);
    assert_eq!(fb_keys().len(), 2);
    s.stop().await;
    keys.delete_keys().unwrap();

    // Redis unreachable: the answer is computed, not an error.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let s = start_with(engine, |c| c.redis_url = Some(format!("redis://{closed}"))).await;
    s.put_ics(&format!("{COLL}weekly.ics"), WEEKLY).await;
    for _ in 0..3 {
        let r = send(s.req("REPORT", COLL).header("Depth", "1").body(body.clone())).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(busy_lines(&r.body), busy_lines(&first.body));
    }
    s.stop().await;
}

fn sync_body(token: &str) -> String {
    format!(r#"<D:sync-collection xmlns:D="DAV:"><D:sync-token>{token}</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>"#)
}

async fn sync_tokens_and_tombstone_retention(engine: Engine) {
    let s = start_server(engine).await;
    s.put_ics(&format!("{COLL}a.ics"), &event("a", "A")).await;
    s.put_ics(&format!("{COLL}b.ics"), &event("b", "B")).await;
    // Depth 0 and Depth 1 are both accepted (clients disagree, RFC 6578 §3.2 says 0).
    let initial = send(s.req("REPORT", COLL).header("Depth", "0").body(sync_body(""))).await;
    assert_eq!((initial.status.as_u16(), initial.hrefs().len()), (207, 2), "{}", initial.body);
    let token = initial.xml().child(DAV, "sync-token").unwrap().text();
    assert!(token.starts_with("urn:"), "tokens are URIs: {token}");
    send(s.req("DELETE", &format!("{COLL}a.ics"))).await;
    // A deletion within the retention is reported as a 404 tombstone.
    let r = send(s.req("REPORT", COLL).header("Depth", "1").body(sync_body(&token))).await;
    assert_eq!(r.hrefs(), vec![format!("{COLL}a.ics")]);
    // An initial sync never lists tombstones (RFC 6578 §3.4).
    let fresh = send(s.req("REPORT", COLL).header("Depth", "1").body(sync_body(""))).await;
    assert_eq!(fresh.hrefs(), vec![format!("{COLL}b.ics")]);
    // Recent tombstones survive a purge at the default retention …
    assert_eq!(kalends::worker::purge_once(&s.store, std::time::Duration::from_secs(180 * 86_400)).await.unwrap(), 0);
    let r = send(s.req("REPORT", COLL).header("Depth", "1").body(sync_body(&token))).await;
    assert_eq!(r.status, 207);
    // … and once they are older than the retention, the token that needs them is refused with
    // DAV:valid-sync-token (the client resyncs), never answered with the deletion missing.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(kalends::worker::purge_once(&s.store, std::time::Duration::ZERO).await.unwrap(), 1);
    let r = send(s.req("REPORT", COLL).header("Depth", "1").body(sync_body(&token))).await;
    assert_eq!((r.status.as_u16(), r.condition()), (403, (DAV.into(), "valid-sync-token".into())), "{}", r.body);
    let newest = fresh.xml().child(DAV, "sync-token").unwrap().text();
    let r = send(s.req("REPORT", COLL).header("Depth", "1").body(sync_body(&newest))).await;
    assert_eq!((r.status.as_u16(), r.hrefs().len()), (207, 0), "a token newer than the purge still works");
    s.stop().await;
}

on_both_engines!(
    free_busy_is_cached_in_redis_and_survives_an_outage,
    sync_tokens_and_tombstone_retention,
    expand_returns_each_instance_in_utc,
    limit_recurrence_set_and_selection,
    calendar_data_options_are_checked,
    free_busy_query,
);
