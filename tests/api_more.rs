//! The JSON API's feed links, shares and free/busy (issue 20) black-box on both engines: a feed
//! link made through the API serves the calendar anonymously, rotates and dies when revoked; a
//! share made through the API shows in the sharee's calendar list and goes away; another
//! user's busy time (one user by GET, several by POST) equals what CalDAV's outbox POST
//! answers for the same window; whoever may not do these things gets a problem, not an
//! answer; and the rate limiter's 429 on an API path is a problem as well.
#![allow(clippy::unwrap_used)]

mod harness;
mod support;

use harness::*;
use kalends::config::FreeBusyLookup;
use kalends::service::users;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn call(rb: reqwest::RequestBuilder) -> (StatusCode, Value, reqwest::header::HeaderMap) {
    let r = rb.send().await.unwrap();
    let (status, headers) = (r.status(), r.headers().clone());
    let text = r.text().await.unwrap();
    let value = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
    (status, value, headers)
}

fn api(s: &TestServer, method: &str, path: &str) -> reqwest::RequestBuilder {
    s.req(method, &format!("/api/v1/{path}"))
}

fn with_json(rb: reqwest::RequestBuilder, body: &Value) -> reqwest::RequestBuilder {
    rb.header("content-type", "application/json").body(serde_json::to_string(body).unwrap())
}

fn is_problem(h: &reqwest::header::HeaderMap, v: &Value, status: u16) -> bool {
    h.get("content-type").is_some_and(|c| c == "application/problem+json") && v["status"] == status && v["detail"].is_string()
}

/// GET of a feed path without credentials: (status, content type, body).
async fn fetch_feed(s: &TestServer, path: &str) -> (u16, String, String) {
    let r = s.anon("GET", path).send().await.unwrap();
    let status = r.status().as_u16();
    let media = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, media, r.text().await.unwrap())
}

const EVENT: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:f1\r\nDTSTAMP:20260101T000000Z\r\n\
DTSTART:20261210T100000Z\r\nDURATION:PT1H\r\nSUMMARY:Family dinner\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

async fn feed_links_work_rotate_and_die(engine: Engine) {
    let s = start_with(engine, |c| c.public_url = Some("https://cal.example.org".into())).await;
    // The feed's window is around today: an event next week is inside it.
    let soon = chrono::Utc::now() + chrono::Duration::days(7);
    let ics = EVENT.replace("20261210T100000Z", &soon.format("%Y%m%dT100000Z").to_string());
    assert_eq!(s.put_ics("/calendars/alice/calendar/f1.ics", &ics).await.status, 201);
    let (status, made, _) = call(with_json(api(&s, "POST", "calendars/calendar/feeds"), &json!({"label": "family"}))).await;
    assert_eq!(status, 201, "{made}");
    assert_eq!((made["mode"].as_str(), made["label"].as_str(), made["calendar"].as_str()), (Some("full"), Some("family"), Some("calendar")));
    let path = made["path"].as_str().unwrap().to_owned();
    assert!(path.starts_with("/feeds/") && path.ends_with(".ics"), "{path}");
    assert_eq!(made["url"].as_str(), Some(format!("https://cal.example.org{path}").as_str()));
    assert_eq!(made["webcal"].as_str(), Some(format!("webcal://cal.example.org{path}").as_str()));
    let (status, media, body) = fetch_feed(&s, &path).await;
    assert_eq!(status, 200, "{body}");
    assert!(media.starts_with("text/calendar"), "{media}");
    assert!(body.contains("SUMMARY:Family dinner"), "{body}");

    // Listed without its URL: only the hash is kept.
    let (status, list, _) = call(api(&s, "GET", "calendars/calendar/feeds")).await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(list[0].get("path").is_none() && list[0].get("url").is_none(), "{list}");
    let id = made["id"].as_i64().unwrap();
    assert_eq!(list[0]["id"].as_i64(), Some(id));

    // Rotation without grace: the old URL dies at once, the new one works.
    let (status, rotated, _) = call(with_json(api(&s, "POST", &format!("calendars/calendar/feeds/{id}/rotate")), &json!({"graceHours": 0}))).await;
    assert_eq!(status, 200, "{rotated}");
    let second = rotated["path"].as_str().unwrap().to_owned();
    assert_ne!(second, path);
    assert_eq!(fetch_feed(&s, &path).await.0, 404);
    assert_eq!(fetch_feed(&s, &second).await.0, 200);
    // With grace (and no body: 24 hours), both work.
    let (status, third, _) = call(api(&s, "POST", &format!("calendars/calendar/feeds/{id}/rotate"))).await;
    assert_eq!(status, 200, "{third}");
    let third = third["path"].as_str().unwrap().to_owned();
    assert_eq!((fetch_feed(&s, &second).await.0, fetch_feed(&s, &third).await.0), (200, 200));
    let (status, v, h) = call(with_json(api(&s, "POST", &format!("calendars/calendar/feeds/{id}/rotate")), &json!({"graceHours": -1}))).await;
    assert!(status == 400 && is_problem(&h, &v, 400), "{v}");

    // Bad settings are problems.
    let (status, v, h) = call(with_json(api(&s, "POST", "calendars/calendar/feeds"), &json!({"mode": "everything"}))).await;
    assert!(status == 400 && is_problem(&h, &v, 400), "{v}");
    let (status, v, _) = call(with_json(api(&s, "POST", "calendars/calendar/feeds"), &json!({"expiresAt": "2001-01-01T00:00:00Z"}))).await;
    assert_eq!(status, 400, "{v}");

    // Not bob's to manage: his own "calendar" is another calendar, and a share gives no say.
    let bob = |m: &str, p: &str| s.req_as("bob", BOB_PW, m, &format!("/api/v1/{p}"));
    let (status, v, h) = call(bob("DELETE", &format!("calendars/calendar/feeds/{id}"))).await;
    assert!(status == 404 && is_problem(&h, &v, 404), "{v}");
    let share = kalends::service::shares::add(&s.store, "alice", "calendar", "bob", kalends::store::Access::ReadWrite).await.unwrap();
    let seg = share.0.segment;
    for (m, p) in [("GET", format!("calendars/{seg}/feeds")), ("POST", format!("calendars/{seg}/feeds")), ("DELETE", format!("calendars/{seg}/feeds/{id}"))] {
        let (status, v, h) = call(bob(m, &p).header("content-type", "application/json").body("{}")).await;
        assert!(status == 403 && is_problem(&h, &v, 403), "{m} {p}: {status} {v}");
    }
    assert_eq!(fetch_feed(&s, &third).await.0, 200, "still alive");

    // Revoked: every URL of the link is 404, and so is a second revocation.
    assert_eq!(call(api(&s, "DELETE", &format!("calendars/calendar/feeds/{id}"))).await.0, 204);
    assert_eq!((fetch_feed(&s, &second).await.0, fetch_feed(&s, &third).await.0), (404, 404));
    assert_eq!(call(api(&s, "DELETE", &format!("calendars/calendar/feeds/{id}"))).await.0, 404);
    assert_eq!(call(api(&s, "DELETE", "calendars/calendar/feeds/not-a-number")).await.0, 404);
    assert_eq!(call(api(&s, "GET", "calendars/calendar/feeds")).await.1, json!([]));
    s.stop().await;
}

/// Without a public_url, the answer has the path and no URL.
async fn feed_links_without_a_public_url(engine: Engine) {
    let s = start_server(engine).await;
    let (status, made, _) = call(with_json(api(&s, "POST", "calendars/calendar/feeds"), &json!({"mode": "busy"}))).await;
    assert_eq!(status, 201, "{made}");
    assert!(made["url"].is_null() && made["webcal"].is_null(), "{made}");
    let (status, media, body) = fetch_feed(&s, made["path"].as_str().unwrap()).await;
    assert!(status == 200 && media.starts_with("text/calendar") && body.starts_with("BEGIN:VCALENDAR"), "{status} {media} {body}");
    s.stop().await;
}

async fn shares_show_in_the_sharees_list(engine: Engine) {
    let s = start_server(engine).await;
    let bob = |m: &str, p: &str| s.req_as("bob", BOB_PW, m, &format!("/api/v1/{p}"));
    let bobs_shares = || async {
        let (_, list, _) = call(bob("GET", "calendars")).await;
        list.as_array().unwrap().iter().filter(|c| c["owner"] == "alice").cloned().collect::<Vec<Value>>()
    };
    assert!(bobs_shares().await.is_empty());
    let (status, made, _) = call(with_json(api(&s, "POST", "calendars/calendar/shares"), &json!({"user": "bob", "access": "read"}))).await;
    assert_eq!(status, 201, "{made}");
    assert_eq!((made["user"].as_str(), made["access"].as_str()), (Some("bob"), Some("read")));
    let seen = bobs_shares().await;
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0]["access"], "read");
    let seg = seen[0]["id"].as_str().unwrap().to_owned();
    // The same share again with more access: 200, the same segment.
    let (status, changed, _) = call(with_json(api(&s, "POST", "calendars/calendar/shares"), &json!({"user": "bob", "access": "read-write"}))).await;
    assert_eq!((status, changed["access"].as_str()), (StatusCode::OK, Some("read-write")));
    let seen = bobs_shares().await;
    assert_eq!((seen.len(), seen[0]["id"].as_str(), seen[0]["access"].as_str()), (1, Some(seg.as_str()), Some("read-write")));
    let (status, list, _) = call(api(&s, "GET", "calendars/calendar/shares")).await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().iter().map(|s| (s["user"].as_str().unwrap(), s["access"].as_str().unwrap())).collect::<Vec<_>>(), [("bob", "read-write")]);
    // The sharee writes through the share; CalDAV sees the same share.
    let (status, v, _) = call(with_json(bob("POST", &format!("calendars/{seg}/events")), &json!({"title": "Bob's", "start": "2026-12-12T10:00:00Z"}))).await;
    assert_eq!(status, 201, "{v}");
    let r = s.req_as("bob", BOB_PW, "PROPFIND", &format!("/calendars/bob/{seg}/")).header("Depth", "0").send().await.unwrap();
    assert_eq!(r.status(), 207);

    // Refusals, each a problem that says why.
    for (body, needle) in [
        (json!({"user": "alice", "access": "read"}), "owner"),
        (json!({"user": "nobody", "access": "read"}), "no user"),
        (json!({"user": "bob", "access": "admin"}), "access"),
    ] {
        let (status, v, h) = call(with_json(api(&s, "POST", "calendars/calendar/shares"), &body)).await;
        assert!(status == 400 && is_problem(&h, &v, 400), "{body}: {v}");
        assert!(v["detail"].as_str().unwrap().contains(needle), "{body}: {v}");
    }
    assert_eq!(call(with_json(api(&s, "POST", "calendars/calendar/shares"), &json!({"user": "bob"}))).await.0, 400);
    // The sharee cannot pass it on, list its shares or end other shares.
    for (m, p) in [("GET", format!("calendars/{seg}/shares")), ("POST", format!("calendars/{seg}/shares")), ("DELETE", format!("calendars/{seg}/shares/bob"))] {
        let (status, v, h) = call(with_json(bob(m, &p), &json!({"user": "alice", "access": "read"}))).await;
        assert!(status == 403 && is_problem(&h, &v, 403), "{m} {p}: {status} {v}");
    }
    // Another user's calendar is not found by its name.
    assert_eq!(call(with_json(api(&s, "POST", "calendars/nope/shares"), &json!({"user": "bob", "access": "read"}))).await.0, 404);

    // Removed: gone from bob's list; a second removal and an unknown user are 404.
    assert_eq!(call(api(&s, "DELETE", "calendars/calendar/shares/bob")).await.0, 204);
    assert!(bobs_shares().await.is_empty());
    assert_eq!(call(bob("GET", &format!("calendars/{seg}/events"))).await.0, 404);
    assert_eq!(call(api(&s, "DELETE", "calendars/calendar/shares/bob")).await.0, 404);
    let (status, v, h) = call(api(&s, "DELETE", "calendars/calendar/shares/nobody")).await;
    assert!(status == 404 && is_problem(&h, &v, 404), "{v}");
    assert_eq!(call(api(&s, "GET", "calendars/calendar/shares")).await.1, json!([]));
    s.stop().await;
}

const CAROL_PW: &str = "carol-pw";

/// Carol's week: a busy meeting, a tentative one, a transparent reminder, a daily series with
/// an EXDATE and a cancelled instance, and an event in a calendar that does not count.
async fn carols_week(s: &TestServer) {
    users::create(&s.store, "carol", Some("carol@example.org"), CAROL_PW).await.unwrap();
    let put = |path: &str, uid: &str, body: &str| {
        let ics = format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n{}END:VCALENDAR\r\n", body.replace("UID:X", &format!("UID:{uid}")));
        s.req_as("carol", CAROL_PW, "PUT", path).header("Content-Type", "text/calendar").body(ics)
    };
    let cal = "/calendars/carol/calendar/";
    let events = [
        ("busy", "BEGIN:VEVENT\r\nUID:X\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20270105T100000Z\r\nDTEND:20270105T110000Z\r\nSUMMARY:Meeting\r\nEND:VEVENT\r\n".to_owned()),
        ("tentative", "BEGIN:VEVENT\r\nUID:X\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20270105T103000Z\r\nDTEND:20270105T120000Z\r\nSTATUS:TENTATIVE\r\nSUMMARY:Maybe\r\nEND:VEVENT\r\n".to_owned()),
        ("free", "BEGIN:VEVENT\r\nUID:X\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20270106T080000Z\r\nDTEND:20270106T090000Z\r\nTRANSP:TRANSPARENT\r\nSUMMARY:Note\r\nEND:VEVENT\r\n".to_owned()),
        ("daily", "BEGIN:VEVENT\r\nUID:X\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20270104T080000Z\r\nDURATION:PT30M\r\n\
RRULE:FREQ=DAILY;COUNT=5\r\nEXDATE:20270106T080000Z\r\nSUMMARY:Standup\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:X\r\nDTSTAMP:20260101T000000Z\r\nRECURRENCE-ID:20270107T080000Z\r\nDTSTART:20270107T080000Z\r\n\
DURATION:PT30M\r\nSTATUS:CANCELLED\r\nSUMMARY:Standup\r\nEND:VEVENT\r\n".to_owned()),
    ];
    for (uid, body) in &events {
        let r = send(put(&format!("{cal}{uid}.ics"), uid, body)).await;
        assert_eq!(r.status, 201, "{uid}: {}", r.body);
    }
    assert_eq!(send(s.req_as("carol", CAROL_PW, "MKCALENDAR", "/calendars/carol/side/")).await.status, 201);
    let transp = r#"<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><C:schedule-calendar-transp><C:transparent/></C:schedule-calendar-transp></D:prop></D:set></D:propertyupdate>"#;
    assert!(send(s.req_as("carol", CAROL_PW, "PROPPATCH", "/calendars/carol/side/").body(transp)).await.body.contains("200 OK"));
    let hidden = events[0].1.replace("T100000Z", "T150000Z").replace("T110000Z", "T160000Z");
    assert_eq!(send(put("/calendars/carol/side/h.ics", "hidden", &hidden)).await.status, 201);
}

/// What alice's outbox POST says of carol's busy time in [start, end): (start, end, FBTYPE).
async fn outbox_busy(s: &TestServer, start: &str, end: &str) -> Vec<(String, String, String)> {
    let request = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//T//EN\r\nMETHOD:REQUEST\r\nBEGIN:VFREEBUSY\r\nUID:fb-1\r\nDTSTAMP:20260101T000000Z\r\n\
DTSTART:{start}\r\nDTEND:{end}\r\nORGANIZER:mailto:alice@example.org\r\nATTENDEE:mailto:carol@example.org\r\nEND:VFREEBUSY\r\nEND:VCALENDAR\r\n"
    );
    let r = send(s.req("POST", "/calendars/alice/outbox/").header("Content-Type", "text/calendar").body(request)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let root = r.xml();
    let response = root.children().find(|c| c.is(CALDAV, "response")).unwrap();
    assert!(response.child(CALDAV, "request-status").unwrap().text().starts_with("2.0"), "{}", r.body);
    let data = response.child(CALDAV, "calendar-data").unwrap().text().replace("\r\n ", "");
    let utc = |v: &str| chrono::NaiveDateTime::parse_from_str(v, "%Y%m%dT%H%M%SZ").unwrap().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let mut out = Vec::new();
    for line in data.lines().map(str::trim_end) {
        let Some(rest) = line.strip_prefix("FREEBUSY") else { continue };
        let (params, values) = rest.split_once(':').unwrap();
        let kind = params.strip_prefix(";FBTYPE=").unwrap_or("BUSY").to_owned();
        for period in values.split(',') {
            let (a, b) = period.split_once('/').unwrap();
            out.push((utc(a), utc(b), kind.clone()));
        }
    }
    out.sort();
    out
}

fn api_busy(v: &Value) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = v
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|b| (b["start"].as_str().unwrap().to_owned(), b["end"].as_str().unwrap().to_owned(), b["type"].as_str().unwrap().to_owned()))
        .collect();
    out.sort();
    out
}

async fn freebusy_equals_the_outbox(engine: Engine) {
    let s = start_server(engine).await;
    carols_week(&s).await;
    let (status, got, _) = call(api(&s, "GET", "freebusy?user=carol&from=2027-01-04T00:00:00Z&to=2027-01-11T00:00:00Z")).await;
    assert_eq!(status, 200, "{got}");
    let got = api_busy(&got);
    assert_eq!(got, outbox_busy(&s, "20270104T000000Z", "20270111T000000Z").await, "API free/busy = outbox free/busy");
    let t = |a: &str, b: &str, k: &str| (a.to_owned(), b.to_owned(), k.to_owned());
    // The known periods: the standup (08:00 UTC) on the 4th, 5th and 8th only (the 6th
    // excluded, the 7th cancelled), the meeting, and the tentative hour not already busy.
    let want = vec![
        t("2027-01-04T08:00:00Z", "2027-01-04T08:30:00Z", "BUSY"),
        t("2027-01-05T08:00:00Z", "2027-01-05T08:30:00Z", "BUSY"),
        t("2027-01-05T10:00:00Z", "2027-01-05T11:00:00Z", "BUSY"),
        t("2027-01-05T11:00:00Z", "2027-01-05T12:00:00Z", "BUSY-TENTATIVE"),
        t("2027-01-08T08:00:00Z", "2027-01-08T08:30:00Z", "BUSY"),
    ];
    assert_eq!(got, want);
    // A window cutting an event clips it, as the outbox does.
    let (_, cut, _) = call(api(&s, "GET", "freebusy?user=carol&from=2027-01-05T10:30:00Z&to=2027-01-05T11:30:00Z")).await;
    assert_eq!(api_busy(&cut), outbox_busy(&s, "20270105T103000Z", "20270105T113000Z").await);
    assert_eq!(api_busy(&cut)[0], t("2027-01-05T10:30:00Z", "2027-01-05T11:00:00Z", "BUSY"));
    // Dates are midnight UTC; one's own free/busy; nothing is an empty list.
    let (status, own, _) = call(s.req_as("carol", CAROL_PW, "GET", "/api/v1/freebusy?user=carol&from=2027-01-04&to=2027-01-05")).await;
    assert_eq!((status, api_busy(&own).len()), (StatusCode::OK, 1));
    assert_eq!(call(api(&s, "GET", "freebusy?user=bob&from=2027-01-04&to=2027-01-05")).await.1, json!([]));

    // Problems: an unknown user, a missing or backward window.
    for (q, status) in [
        ("user=nobody&from=2027-01-04&to=2027-01-05", 404),
        ("user=carol&from=2027-01-04", 400),
        ("from=2027-01-04&to=2027-01-05", 400),
        ("user=carol&from=2027-01-05&to=2027-01-04", 400),
        ("user=carol&from=soon&to=2027-01-04", 400),
    ] {
        let (got, v, h) = call(api(&s, "GET", &format!("freebusy?{q}"))).await;
        assert!(got == status && is_problem(&h, &v, status), "{q}: {got} {v}");
    }
    assert_eq!(call(api(&s, "PUT", "freebusy")).await.0, 405);

    // Several users at once, each with its status (the outbox's 2.0 and 3.7).
    let body = json!({"users": ["carol", "nobody", "bob"], "from": "2027-01-04T00:00:00Z", "to": "2027-01-11T00:00:00Z"});
    let (status, many, _) = call(with_json(api(&s, "POST", "freebusy"), &body)).await;
    assert_eq!(status, 200, "{many}");
    let statuses: Vec<&str> = many.as_array().unwrap().iter().map(|u| u["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["ok", "unknown-user", "ok"]);
    assert_eq!(api_busy(&many[0]["busy"]), want);
    assert_eq!(many[1]["busy"], json!([]));
    for bad in [json!({"users": [], "from": "2027-01-04", "to": "2027-01-05"}), json!({"users": ["carol"], "from": "2027-01-05", "to": "2027-01-04"}), json!({"users": ["carol"]})] {
        let (status, v, h) = call(with_json(api(&s, "POST", "freebusy"), &bad)).await;
        assert!(status == 400 && is_problem(&h, &v, 400), "{bad}: {v}");
    }
    s.stop().await;
}

/// `scheduling.freebusy_lookup = nobody`: only one's own, through the API as through the outbox.
async fn freebusy_lookup_nobody_is_respected(engine: Engine) {
    let s = start_with(engine, |c| c.scheduling.freebusy_lookup = FreeBusyLookup::Nobody).await;
    carols_week(&s).await;
    let (status, v, h) = call(api(&s, "GET", "freebusy?user=carol&from=2027-01-04&to=2027-01-11")).await;
    assert!(status == 403 && is_problem(&h, &v, 403), "{v}");
    let (status, own, _) = call(s.req_as("carol", CAROL_PW, "GET", "/api/v1/freebusy?user=carol&from=2027-01-04&to=2027-01-11")).await;
    assert_eq!((status, api_busy(&own).len()), (StatusCode::OK, 5));
    // The outbox refuses the same question the same way (3.8).
    let request = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//T//EN\r\nMETHOD:REQUEST\r\nBEGIN:VFREEBUSY\r\nUID:fb-1\r\nDTSTAMP:20260101T000000Z\r\n\
DTSTART:20270104T000000Z\r\nDTEND:20270111T000000Z\r\nORGANIZER:mailto:alice@example.org\r\nATTENDEE:mailto:carol@example.org\r\nEND:VFREEBUSY\r\nEND:VCALENDAR\r\n";
    let r = send(s.req("POST", "/calendars/alice/outbox/").header("Content-Type", "text/calendar").body(request)).await;
    assert!(r.body.contains("3.8;No authority"), "{}", r.body);
    let body = json!({"users": ["carol", "alice"], "from": "2027-01-04", "to": "2027-01-11"});
    let (status, many, _) = call(with_json(api(&s, "POST", "freebusy"), &body)).await;
    assert_eq!(status, 200, "{many}");
    assert_eq!((many[0]["status"].as_str(), many[1]["status"].as_str()), (Some("not-allowed"), Some("ok")));
    s.stop().await;
}

/// The rate limiter's 429 on an API path is a problem too (the document promises problem+json
/// for every error), with its Retry-After; more operations made schemathesis meet it.
async fn the_limiters_refusal_is_a_problem(engine: Engine) {
    let s = start_with(engine, |c| {
        c.rate_limit.principal_per_second = 1;
        c.rate_limit.principal_burst = 4;
        c.rate_limit.soft_delay_ms = 0;
    })
    .await;
    let mut refused = None;
    for _ in 0..10 {
        let (status, v, h) = call(api(&s, "GET", "calendars")).await;
        if status == 429 {
            refused = Some((v, h));
            break;
        }
    }
    let (v, h) = refused.expect("the limiter refused nothing");
    assert!(is_problem(&h, &v, 429), "{v} {h:?}");
    assert!(v["detail"].as_str().unwrap().contains("too many requests"), "{v}");
    assert!(h.get("retry-after").is_some() && h.get("ratelimit").is_some(), "{h:?}");
    // CalDAV's is not the API's problem.
    let r = send(s.req("PROPFIND", "/calendars/alice/").header("Depth", "0")).await;
    assert_eq!(r.status, 429);
    assert_ne!(r.header("content-type").as_deref(), Some("application/problem+json"));
    s.stop().await;
}

on_both_engines!(
    the_limiters_refusal_is_a_problem,
    feed_links_work_rotate_and_die,
    feed_links_without_a_public_url,
    shares_show_in_the_sharees_list,
    freebusy_equals_the_outbox,
    freebusy_lookup_nobody_is_respected,
);
