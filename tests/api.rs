//! The JSON API (issue 20) black-box on both engines: its public OpenAPI document, problem
//! details, app passwords as Bearer tokens, admin-only users, calendars, events written as JSON
//! and read over CalDAV with the same ETag (and the other way round), If-Match, expand against
//! CalDAV's calendar-query expand, the changes feed against sync-collection, the seed's
//! `/events` and `/calendar`, and a read-only sharee.
#![allow(clippy::unwrap_used)]

mod harness;
mod support;

use harness::*;
use reqwest::StatusCode;
use kalends::store::UserStore;
use serde_json::{Value, json};

const CAL: &str = "/calendars/alice/calendar/";

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

fn is_problem(h: &reqwest::header::HeaderMap, v: &Value, status: u16) -> bool {
    h.get("content-type").is_some_and(|c| c == "application/problem+json") && v["status"] == status && v["title"].is_string()
}

async fn the_document_is_public_and_errors_are_problems(engine: Engine) {
    let s = start_server(engine).await;
    let (status, doc, _) = call(s.anon("GET", "/api/v1/openapi.json")).await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{}", doc["openapi"]);
    for path in ["/api/v1/me", "/api/v1/calendars/{id}/events", "/api/v1/events", "/api/v1/calendar", "/api/v1/calendars/{id}/changes"] {
        assert!(doc["paths"][path].is_object(), "{path} documented");
    }
    let (status, v, h) = call(s.anon("GET", "/api/v1/me")).await;
    assert_eq!(status, 401);
    assert!(is_problem(&h, &v, 401), "{v}");
    assert!(h.get_all("www-authenticate").iter().any(|c| c.to_str().unwrap().starts_with("Bearer")));
    let (status, v, h) = call(api(&s, "GET", "nowhere")).await;
    assert!(status == 404 && is_problem(&h, &v, 404));
    let (status, v, h) = call(api(&s, "DELETE", "calendars")).await;
    assert!(status == 405 && is_problem(&h, &v, 405) && h["allow"] == "GET, POST");
    let (status, v, h) = call(api(&s, "POST", "calendars").header("content-type", "application/json").body("{not json")).await;
    assert!(status == 400 && is_problem(&h, &v, 400), "{v}");
    assert_eq!(call(api(&s, "GET", "calendars/a%00b")).await.0, 400);
    assert_eq!(call(api(&s, "GET", "freebusy?user=bo%00b&from=2026-01-01&to=2026-01-02")).await.0, 400);
    let (status, _, _) = call(api(&s, "POST", "calendars").header("content-type", "text/plain").body("{}")).await;
    assert_eq!(status, 415);
    s.stop().await;
}

async fn app_passwords_and_admin_routes(engine: Engine) {
    let s = start_with(engine, |c| c.auth.user_cache_ms = 0).await;
    let (status, me, _) = call(api(&s, "GET", "me")).await;
    assert_eq!((status, me["name"].as_str(), me["admin"].as_bool()), (StatusCode::OK, Some("alice"), Some(false)));
    let (status, made, _) = call(api(&s, "POST", "me/app-passwords").header("content-type", "application/json").body(serde_json::to_string(&json!({"label": "script"})).unwrap())).await;
    assert_eq!(status, 201, "{made}");
    let secret = made["secret"].as_str().unwrap().to_owned();
    let bearer = |path: &str| s.anon("GET", &format!("/api/v1/{path}")).bearer_auth(&secret);
    let (status, me, _) = call(bearer("me")).await;
    assert_eq!((status, me["name"].as_str()), (StatusCode::OK, Some("alice")));
    let (_, list, _) = call(api(&s, "GET", "me/app-passwords")).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(list[0].get("secret").is_none(), "never listed");
    assert!(list[0]["lastUsed"].is_string());

    // Users are the administrators'.
    let (status, v, h) = call(api(&s, "GET", "users")).await;
    assert!(status == 403 && is_problem(&h, &v, 403));
    s.store.set_admin("alice", true).await.unwrap();
    let (status, carol, _) = call(api(&s, "POST", "users").header("content-type", "application/json").body(serde_json::to_string(&json!({"name": "carol", "email": "carol@example.org"})).unwrap())).await;
    assert_eq!(status, 201, "{carol}");
    let carol_secret = carol["appPassword"]["secret"].as_str().unwrap();
    let (status, me, _) = call(s.anon("GET", "/api/v1/me").bearer_auth(carol_secret)).await;
    assert_eq!((status, me["email"].as_str()), (StatusCode::OK, Some("carol@example.org")));
    let (status, _, _) = call(api(&s, "POST", "users").header("content-type", "application/json").body(serde_json::to_string(&json!({"name": "carol"})).unwrap())).await;
    assert_eq!(status, 409);
    let (status, _, _) = call(api(&s, "POST", "users").header("content-type", "application/json").body(serde_json::to_string(&json!({"name": "x/y"})).unwrap())).await;
    assert_eq!(status, 400);
    let (_, users, _) = call(api(&s, "GET", "users")).await;
    let names: Vec<&str> = users.as_array().unwrap().iter().map(|u| u["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["alice", "bob", "carol"]);
    // carol's home is CalDAV's.
    let r = send(s.anon("PROPFIND", "/calendars/carol/calendar/").bearer_auth(carol_secret).header("Depth", "0")).await;
    assert_eq!(r.status, 207);

    // Revoked: the token stops working.
    let id = made["id"].as_i64().unwrap();
    let (status, _, _) = call(api(&s, "DELETE", &format!("me/app-passwords/{id}"))).await;
    assert_eq!(status, 204);
    assert_eq!(call(bearer("me")).await.0, 401);
    assert_eq!(call(api(&s, "DELETE", &format!("me/app-passwords/{id}"))).await.0, 404);
    s.stop().await;
}

async fn calendars_are_caldavs(engine: Engine) {
    let s = start_server(engine).await;
    let (status, list, _) = call(api(&s, "GET", "calendars")).await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = list.as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&"calendar"), "{ids:?}");
    let body = json!({"id": "work", "name": "Work", "color": "#FF2968", "timeZone": "Europe/Berlin", "components": ["VEVENT"]});
    let (status, work, _) = call(api(&s, "POST", "calendars").header("content-type", "application/json").body(serde_json::to_string(&body).unwrap())).await;
    assert_eq!(status, 201, "{work}");
    assert_eq!((work["timeZone"].as_str(), work["components"][0].as_str(), work["access"].as_str()), (Some("Europe/Berlin"), Some("VEVENT"), Some("owner")));
    let (status, _, _) = call(api(&s, "POST", "calendars").header("content-type", "application/json").body(serde_json::to_string(&body).unwrap())).await;
    assert_eq!(status, 409);
    let (status, _, _) = call(api(&s, "POST", "calendars").header("content-type", "application/json").body(serde_json::to_string(&json!({"name": "x", "color": "red"})).unwrap())).await;
    assert_eq!(status, 400);
    // A NUL (which PostgreSQL's TEXT cannot hold; schemathesis found the 500) is refused on both.
    let nul = json!({"name": "x", "description": "a\0b"});
    let (status, v, h) = call(api(&s, "POST", "calendars").header("content-type", "application/json").body(serde_json::to_string(&nul).unwrap())).await;
    assert!(status == 400 && is_problem(&h, &v, 400), "{v}");
    let (status, patched, _) = call(api(&s, "PATCH", "calendars/work").header("content-type", "application/json").body(serde_json::to_string(&json!({"name": "Büro"})).unwrap())).await;
    assert_eq!((status, patched["name"].as_str()), (StatusCode::OK, Some("Büro")));
    let r = s.propfind("/calendars/alice/work/", "0", "<D:propfind xmlns:D=\"DAV:\"><D:prop><D:displayname/></D:prop></D:propfind>").await;
    assert_eq!(prop_text(&r.response_for("/calendars/alice/work/"), DAV, "displayname"), "Büro");
    let (status, _, _) = call(api(&s, "DELETE", "calendars/work")).await;
    assert_eq!(status, 204);
    assert_eq!(call(api(&s, "GET", "calendars/work")).await.0, 404);
    assert_eq!(call(s.req_as("bob", BOB_PW, "GET", "/api/v1/calendars/calendar")).await.1["owner"], "bob");
    s.stop().await;
}

async fn events_are_the_same_objects_as_caldavs(engine: Engine) {
    let s = start_server(engine).await;
    let event = json!({"title": "Planning", "start": "2026-12-10T10:00:00", "end": "2026-12-10T11:00:00", "timeZone": "Europe/Berlin",
        "location": "Room 1", "alarms": [{"action": "display", "trigger": "-PT15M"}]});
    let (status, made, h) = call(api(&s, "POST", "calendars/calendar/events").header("content-type", "application/json").body(serde_json::to_string(&event).unwrap())).await;
    assert_eq!(status, 201, "{made}");
    let uid = made["uid"].as_str().unwrap().to_owned();
    let etag = made["etag"].as_str().unwrap().to_owned();
    assert_eq!(h["etag"].to_str().unwrap(), etag);
    // The CalDAV object: same ETag, the JSON's facts in iCalendar.
    let r = send(s.req("GET", &format!("{CAL}{uid}.ics"))).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("etag").as_deref(), Some(etag.as_str()));
    assert!(r.body.contains("SUMMARY:Planning") && r.body.contains("DTSTART;TZID=Europe/Berlin:20261210T100000"), "{}", r.body);
    // Accept: text/calendar gives the stored bytes.
    let raw = s.req("GET", &format!("/api/v1/calendars/calendar/events/{uid}")).header("accept", "text/calendar").send().await.unwrap();
    assert_eq!(raw.text().await.unwrap(), r.body);

    // A CalDAV write shows in JSON.
    let changed = r.body.replace("SUMMARY:Planning", "SUMMARY:Planning (moved)");
    let put = send(s.req("PUT", &format!("{CAL}{uid}.ics")).header("Content-Type", "text/calendar").header("If-Match", &etag).body(changed)).await;
    assert_eq!(put.status, 204, "{}", put.body);
    let (status, now, _) = call(api(&s, "GET", &format!("calendars/calendar/events/{uid}"))).await;
    assert_eq!((status, now["title"].as_str()), (StatusCode::OK, Some("Planning (moved)")));
    assert_ne!(now["etag"].as_str(), Some(etag.as_str()));

    // If-Match: a stale ETag is 412, the current one works; unknown fields stay.
    let mut edit = now.clone();
    edit["title"] = json!("Final");
    let stale = call(api(&s, "PUT", &format!("calendars/calendar/events/{uid}")).header("If-Match", &etag).header("content-type", "application/json").body(serde_json::to_string(&edit).unwrap())).await;
    assert!(stale.0 == 412 && is_problem(&stale.2, &stale.1, 412), "{}", stale.1);
    let current = now["etag"].as_str().unwrap();
    let (status, fin, _) = call(api(&s, "PUT", &format!("calendars/calendar/events/{uid}")).header("If-Match", current).header("content-type", "application/json").body(serde_json::to_string(&edit).unwrap())).await;
    assert_eq!((status, fin["title"].as_str()), (StatusCode::OK, Some("Final")), "{fin}");
    assert_eq!(fin["alarms"].as_array().map(Vec::len), Some(1));

    // Bad input is a problem, not a 500.
    let bad = json!({"title": "x", "start": "yesterday"});
    let (status, v, h) = call(api(&s, "POST", "calendars/calendar/events").header("content-type", "application/json").body(serde_json::to_string(&bad).unwrap())).await;
    assert!(status == 400 && is_problem(&h, &v, 400), "{v}");
    let backwards = json!({"title": "x", "start": "2026-12-10T10:00:00Z", "end": "2026-12-10T09:00:00Z"});
    assert_eq!(call(api(&s, "POST", "calendars/calendar/events").header("content-type", "application/json").body(serde_json::to_string(&backwards).unwrap())).await.0, 400);

    let (status, _, _) = call(api(&s, "DELETE", &format!("calendars/calendar/events/{uid}")).header("If-Match", "\"nope\"")).await;
    assert_eq!(status, 412);
    let (status, _, _) = call(api(&s, "DELETE", &format!("calendars/calendar/events/{uid}"))).await;
    assert_eq!(status, 204);
    assert_eq!(send(s.req("GET", &format!("{CAL}{uid}.ics"))).await.status, 404);
    s.stop().await;
}

async fn expand_and_changes_match_caldav(engine: Engine) {
    let s = start_server(engine).await;
    let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:weekly\r\nDTSTAMP:20260101T000000Z\r\n\
DTSTART:20261201T090000Z\r\nDURATION:PT30M\r\nRRULE:FREQ=WEEKLY;COUNT=5\r\nEXDATE:20261215T090000Z\r\nSUMMARY:Weekly\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:weekly\r\nDTSTAMP:20260101T000000Z\r\nRECURRENCE-ID:20261208T090000Z\r\nDTSTART:20261208T130000Z\r\n\
DURATION:PT30M\r\nSUMMARY:Weekly (moved)\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let (_, cal, _) = call(api(&s, "GET", "calendars/calendar")).await;
    let token = cal["syncToken"].as_str().unwrap().to_owned();
    assert_eq!(s.put_ics(&format!("{CAL}weekly.ics"), ics).await.status, 201);
    let q = "from=2026-12-01T00:00:00Z&to=2027-01-01T00:00:00Z";
    let (status, page, _) = call(api(&s, "GET", &format!("calendars/calendar/events?{q}&expand=true"))).await;
    assert_eq!(status, 200, "{page}");
    let got: Vec<(String, String)> = page["items"].as_array().unwrap().iter().map(|i| (i["recurrenceId"].as_str().unwrap().to_owned(), i["start"].as_str().unwrap().to_owned())).collect();
    // CalDAV's calendar-query expand over the same window.
    let report = "<C:calendar-query xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\"><D:prop><C:calendar-data>\
<C:expand start=\"20261201T000000Z\" end=\"20270101T000000Z\"/></C:calendar-data></D:prop><C:filter><C:comp-filter name=\"VCALENDAR\">\
<C:comp-filter name=\"VEVENT\"><C:time-range start=\"20261201T000000Z\" end=\"20270101T000000Z\"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>";
    let r = send(s.req("REPORT", CAL).header("Depth", "1").body(report)).await;
    let text = r.body.replace("&#13;", "").replace("\r\n ", "");
    let mut want: Vec<(String, String)> = Vec::new();
    let (mut rid, mut start) = (String::new(), String::new());
    let t = |s: &str| chrono::NaiveDateTime::parse_from_str(s.trim(), "%Y%m%dT%H%M%SZ").unwrap().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    for line in text.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("RECURRENCE-ID:") {
            rid = v.trim().to_owned();
        }
        if let Some(v) = line.strip_prefix("DTSTART:") {
            start = v.trim().to_owned();
        }
        if line.trim() == "END:VEVENT" {
            want.push((t(&rid), t(&start)));
        }
    }
    want.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(got, want, "API expand = calendar-query expand");
    assert_eq!(got.len(), 4);
    assert_eq!(page["items"][1]["title"], "Weekly (moved)");

    // Paging.
    let (_, first, _) = call(api(&s, "GET", &format!("calendars/calendar/events?{q}&expand=true&pageSize=3"))).await;
    assert_eq!(first["items"].as_array().unwrap().len(), 3);
    let next = first["nextPageToken"].as_str().unwrap();
    let (_, second, _) = call(api(&s, "GET", &format!("calendars/calendar/events?{q}&expand=true&pageSize=3&pageToken={next}"))).await;
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert!(second.get("nextPageToken").is_none());

    // Changes since the first token = sync-collection: the new event; then its deletion.
    let (status, ch, _) = call(api(&s, "GET", &format!("calendars/calendar/changes?since={token}"))).await;
    assert_eq!(status, 200, "{ch}");
    assert_eq!(ch["changed"].as_array().unwrap().iter().map(|e| e["uid"].as_str().unwrap()).collect::<Vec<_>>(), ["weekly"]);
    let token2 = ch["syncToken"].as_str().unwrap().to_owned();
    assert_eq!(send(s.req("DELETE", &format!("{CAL}weekly.ics"))).await.status, 204);
    let (_, ch2, _) = call(api(&s, "GET", &format!("calendars/calendar/changes?since={token2}"))).await;
    assert_eq!((ch2["changed"].as_array().unwrap().len(), ch2["deleted"][0].as_str()), (0, Some("weekly.ics")));
    let (status, v, h) = call(api(&s, "GET", "calendars/calendar/changes?since=urn:x-kalends:sync:999:1")).await;
    assert!(status == 410 && is_problem(&h, &v, 410));
    s.stop().await;
}

async fn the_seeds_events_and_calendar(engine: Engine) {
    let s = start_server(engine).await;
    let (status, made, _) = call(api(&s, "POST", "events").header("content-type", "application/json").body(serde_json::to_string(&json!({"title": "Lunch", "start": "2026-12-11T12:00:00Z", "end": "2026-12-11T13:00:00Z"})).unwrap())).await;
    assert_eq!(status, 201, "{made}");
    let r = s.req("MKCALENDAR", "/calendars/alice/work/").send().await.unwrap();
    assert_eq!(r.status(), 201);
    let work = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:w1\r\nDTSTAMP:20260101T000000Z\r\n\
DTSTART:20261211T080000Z\r\nDURATION:PT1H\r\nSUMMARY:Standup\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    assert_eq!(s.put_ics("/calendars/alice/work/w1.ics", work).await.status, 201);
    let (status, day, _) = call(api(&s, "GET", "calendar?from=2026-12-11&to=2026-12-12")).await;
    assert_eq!(status, 200, "{day}");
    let got: Vec<(&str, &str)> = day.as_array().unwrap().iter().map(|i| (i["calendar"].as_str().unwrap(), i["title"].as_str().unwrap())).collect();
    assert_eq!(got, [("work", "Standup"), ("calendar", "Lunch")]);
    // The same week again after a CalDAV write: the answer is cached per calendar version, so
    // the write shows at once.
    assert_eq!(s.put_ics("/calendars/alice/work/w1.ics", &work.replace("SUMMARY:Standup", "SUMMARY:Standup (moved)")).await.status, 204);
    let (_, again, _) = call(api(&s, "GET", "calendar?from=2026-12-11&to=2026-12-12")).await;
    assert_eq!(again[0]["title"], "Standup (moved)");
    let (_, events, _) = call(api(&s, "GET", "events?from=2026-12-01&to=2027-01-01")).await;
    assert_eq!(events["items"].as_array().unwrap().len(), 1);
    assert_eq!(call(api(&s, "GET", "calendar")).await.0, 400);
    s.stop().await;
}

async fn a_read_only_sharee_reads_but_cannot_write(engine: Engine) {
    let s = start_server(engine).await;
    let share = kalends::service::shares::add(&s.store, "alice", "calendar", "bob", kalends::store::Access::Read).await.unwrap();
    let seg = share.0.segment.clone();
    let (_, made, _) = call(api(&s, "POST", "calendars/calendar/events").header("content-type", "application/json").body(serde_json::to_string(&json!({"title": "Alice's", "start": "2026-12-12T10:00:00Z"})).unwrap())).await;
    let bob = |m: &str, p: &str| s.req_as("bob", BOB_PW, m, &format!("/api/v1/{p}"));
    let (_, list, _) = call(bob("GET", "calendars")).await;
    let shared = list.as_array().unwrap().iter().find(|c| c["id"] == seg.as_str()).unwrap().clone();
    assert_eq!((shared["access"].as_str(), shared["owner"].as_str()), (Some("read"), Some("alice")));
    let (status, page, _) = call(bob("GET", &format!("calendars/{seg}/events"))).await;
    assert_eq!((status, page["items"][0]["uid"].as_str()), (StatusCode::OK, made["uid"].as_str()));
    let (status, v, h) = call(bob("POST", &format!("calendars/{seg}/events")).header("content-type", "application/json").body(serde_json::to_string(&json!({"title": "Bob's", "start": "2026-12-12T10:00:00Z"})).unwrap())).await;
    assert!(status == 403 && is_problem(&h, &v, 403), "{v}");
    assert_eq!(call(bob("DELETE", &format!("calendars/{seg}"))).await.0, 403);
    // Alice's own calendars are not bob's by name.
    assert_eq!(call(bob("GET", "calendars/calendar/events")).await.1["items"].as_array().map(Vec::len), Some(0));
    s.stop().await;
}

on_both_engines!(
    the_document_is_public_and_errors_are_problems,
    app_passwords_and_admin_routes,
    calendars_are_caldavs,
    events_are_the_same_objects_as_caldavs,
    expand_and_changes_match_caldav,
    the_seeds_events_and_calendar,
    a_read_only_sharee_reads_but_cannot_write,
);
