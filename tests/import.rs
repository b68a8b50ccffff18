//! Import of .ics files (issue 20, item 3), on SQLite and PostgreSQL: one file with new events,
//! an update of an existing one (its ETag changes, its name stays), an unchanged one, an invalid
//! one, a VTODO into a VEVENT-only calendar, a UID living in another calendar and an existing
//! scheduling object gives exactly the expected report; the objects are readable over CalDAV
//! and their reminders scheduled; a 5,000-event file of the benchmark corpus imports whole;
//! `POST /api/v1/calendars/{id}/import` answers the report; `kalends import` (the binary, on
//! SQLite) prints it and exits 1 when something was skipped, 0 otherwise.
#![allow(clippy::unwrap_used)]

mod harness;
mod support;

use std::process::Command;

use harness::*;
use kalends::service::import::{ImportReport, ImportTarget, Outcome, SCHEDULING_OBJECT, import};
use kalends::service::objects::WriteLimits;
use kalends::service::Principal;
use kalends::store::{AlarmStore, CollectionStore, ObjectStore, Store, UserStore};
use reqwest::StatusCode;
use serde_json::Value;

#[allow(dead_code)]
#[path = "../benches/kalends-bench/corpus.rs"]
mod corpus;

const BERLIN: &str = "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:STANDARD\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\n\
DTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\nBEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\n\
TZOFFSETTO:+0200\r\nDTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n";

fn vevent(uid: &str, summary: &str, extra: &str) -> String {
    format!(
        "BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;TZID=Europe/Berlin:20300105T100000\r\n\
         DURATION:PT1H\r\nSUMMARY:{summary}\r\n{extra}END:VEVENT\r\n"
    )
}

fn file(components: &[String]) -> String {
    format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//Import//EN\r\n{BERLIN}{}END:VCALENDAR\r\n", components.concat())
}

const ALARM: &str = "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT15M\r\nDESCRIPTION:Soon\r\nEND:VALARM\r\n";

fn limits() -> WriteLimits {
    WriteLimits { max_resource_size: 2 * 1024 * 1024, min_date_time: i64::MIN, max_date_time: i64::MAX, quota_bytes: i64::MAX }
}

async fn alice(store: &Store) -> Principal {
    let u = store.user_by_name("alice").await.unwrap().unwrap();
    Principal { id: u.id, name: u.name, email: u.email }
}

/// Imports `text` into alice's calendar `path` through the service.
async fn import_into(store: &Store, path: &str, text: &str) -> ImportReport {
    let owner = alice(store).await;
    let collection = store.collection_by_path(owner.id, path).await.unwrap().unwrap();
    let limits = limits();
    let target = ImportTarget { store, owner: &owner, collection: &collection, limits: &limits, alarm_wake: None };
    let mut calls = Vec::new();
    let report = import(&target, text.as_bytes(), &mut |done, total| calls.push((done, total))).await.unwrap();
    let total = report.items.len();
    assert_eq!(calls.last(), Some(&(total, total)), "progress ends at the total: {calls:?}");
    assert!(calls.windows(2).all(|w| w[0].0 <= w[1].0), "progress only grows: {calls:?}");
    report
}

fn item<'a>(r: &'a ImportReport, uid: &str) -> &'a kalends::service::import::ImportItem {
    r.items.iter().find(|i| i.uid == uid).unwrap_or_else(|| panic!("no item {uid}: {r:?}"))
}

async fn every_outcome(engine: Engine) {
    let s = start_server(engine).await;
    // A VEVENT-only calendar, made through the API.
    let made = send(s.req("POST", "/api/v1/calendars").header("Content-Type", "application/json").body(r#"{"id":"events","name":"Events","components":["VEVENT"]}"#)).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    // Before: an event under a name of the client's choosing, one imported earlier, a UID in
    // the other calendar, and a scheduling object (alice invites someone).
    let put = s.put_ics("/calendars/alice/events/custom-name.ics", &file(&[vevent("upd", "Before", "")])).await;
    assert_eq!(put.status, StatusCode::CREATED);
    let old_etag = put.header("etag").unwrap();
    let first = import_into(&s.store, "events", &file(&[vevent("same", "Same", "")])).await;
    assert_eq!((first.added, first.skipped.len()), (1, 0), "{first:?}");
    assert_eq!(s.put_ics("/calendars/alice/calendar/elsewhere.ics", &file(&[vevent("elsewhere", "Other", "")])).await.status, StatusCode::CREATED);
    let invite = vevent("meet", "Meeting", "ORGANIZER:mailto:alice@example.org\r\nATTENDEE:mailto:carol@example.com\r\n");
    assert_eq!(s.put_ics("/calendars/alice/events/meet.ics", &file(std::slice::from_ref(&invite))).await.status, StatusCode::CREATED);

    let text = file(&[
        vevent("new1", "With alarm", ALARM),
        vevent("new2", "Plain", ""),
        vevent("odd uid/with slash", "Odd", ""),
        vevent("upd", "After", ""),
        vevent("same", "Same", ""),
        "BEGIN:VEVENT\r\nUID:bad\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:No start\r\nEND:VEVENT\r\n".into(),
        "BEGIN:VTODO\r\nUID:task1\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:A task\r\nEND:VTODO\r\n".into(),
        vevent("elsewhere", "Again", ""),
        vevent("meet", "Meeting moved", "ORGANIZER:mailto:alice@example.org\r\nATTENDEE:mailto:carol@example.com\r\n"),
    ]);
    let r = import_into(&s.store, "events", &text).await;
    assert_eq!((r.added, r.updated, r.unchanged), (3, 1, 1), "{r:#?}");
    let skipped: Vec<&str> = r.skipped.iter().map(|k| k.uid.as_str()).collect();
    assert_eq!(skipped, ["bad", "task1", "elsewhere", "meet"], "{r:#?}");
    let order: Vec<&str> = r.items.iter().map(|i| i.uid.as_str()).collect();
    assert_eq!(order, ["new1", "new2", "odd uid/with slash", "upd", "same", "bad", "task1", "elsewhere", "meet"]);
    let reason = |uid: &str| item(&r, uid).reason.clone().unwrap();
    assert_eq!(reason("bad"), "invalid calendar object resource: a VEVENT has no DTSTART (required without METHOD, RFC 5545 §3.6.1)");
    assert_eq!(reason("task1"), "this calendar does not accept VTODO components");
    assert!(reason("elsewhere").contains("another calendar, at calendar/elsewhere.ics"), "{}", reason("elsewhere"));
    assert_eq!(reason("meet"), SCHEDULING_OBJECT);
    assert_eq!(item(&r, "new1").name.as_deref(), Some("new1.ics"));
    let odd = item(&r, "odd uid/with slash").name.clone().unwrap();
    assert!(odd.len() == 36 && odd.ends_with(".ics") && !odd.contains('/'), "{odd}");
    // The update: in place, under the client's name, with a new ETag.
    let upd = item(&r, "upd");
    assert_eq!((upd.outcome, upd.name.as_deref()), (Outcome::Updated, Some("custom-name.ics")));
    assert_ne!(upd.etag.as_deref(), Some(old_etag.as_str()));
    assert_eq!(item(&r, "same").outcome, Outcome::Unchanged);
    assert_eq!(item(&r, "same").etag, first.items[0].etag);

    // Readable over CalDAV, with the ETags of the report; the update's new text.
    for (uid, name) in [("new1", "new1.ics".to_owned()), ("upd", "custom-name.ics".into()), ("odd uid/with slash", odd.clone())] {
        let got = send(s.req("GET", &format!("/calendars/alice/events/{name}"))).await;
        assert_eq!(got.status, StatusCode::OK, "{name}");
        assert_eq!(got.header("etag"), item(&r, uid).etag, "{name}");
        assert!(got.body.contains(&format!("UID:{uid}")) && got.body.contains("BEGIN:VTIMEZONE"), "{}", got.body);
    }
    assert!(send(s.req("GET", "/calendars/alice/events/custom-name.ics")).await.body.contains("SUMMARY:After"));
    // The task and the other calendar's UID were not written; the scheduling object is untouched.
    assert_eq!(send(s.req("GET", "/calendars/alice/events/task1.ics")).await.status, StatusCode::NOT_FOUND);
    assert!(send(s.req("GET", "/calendars/alice/events/meet.ics")).await.body.contains("SUMMARY:Meeting\r\n"));

    // The event with a VALARM has its reminder scheduled, the others none.
    let owner = alice(&s.store).await;
    let events = s.store.collection_by_path(owner.id, "events").await.unwrap().unwrap();
    let meta = s.store.object_meta(events.id, "new1.ics").await.unwrap().unwrap();
    let slot = s.store.alarm_slot(meta.id).await.unwrap().expect("a reminder row");
    assert!(slot.next_due.is_some(), "{slot:?}");
    let plain = s.store.object_meta(events.id, "new2.ics").await.unwrap().unwrap();
    assert!(s.store.alarm_slot(plain.id).await.unwrap().and_then(|s| s.next_due).is_none());

    // The same file again: nothing left to do but the refusals.
    let again = import_into(&s.store, "events", &text).await;
    assert_eq!((again.added, again.updated, again.unchanged, again.skipped.len()), (0, 0, 5, 4), "{again:#?}");
    s.stop().await;
}

/// The benchmark corpus's 5,000 events, as one file (one VTIMEZONE per zone), all imported.
async fn five_thousand_events(engine: Engine) {
    let s = start_server(engine).await;
    let corpus = corpus::Corpus::generate(7, 5_000, 5_000, corpus::RECENT_DAYS);
    let objects: Vec<&[u8]> = corpus.events.iter().map(|e| e.ics.as_bytes()).collect();
    let text = kalends::calendar::export_calendar(Some("Corpus"), &objects);
    let r = import_into(&s.store, "calendar", &text).await;
    assert_eq!((r.added, r.skipped.len()), (5_000, 0), "{:?}", r.skipped.first());
    let owner = alice(&s.store).await;
    let c = s.store.collection_by_path(owner.id, "calendar").await.unwrap().unwrap();
    assert_eq!(s.store.member_count(c.id).await.unwrap(), 5_000);
    // A calendar-query over CalDAV finds what the corpus says is in a window.
    let (start, end) = (1_772_452_800, 1_773_057_600);
    let expected = corpus.expected_in_range(0, start, end) + corpus.expected_in_range(1, start, end);
    let body = format!(
        "<c:calendar-query xmlns:d=\"DAV:\" xmlns:c=\"urn:ietf:params:xml:ns:caldav\"><d:prop><d:getetag/></d:prop>\
         <c:filter><c:comp-filter name=\"VCALENDAR\"><c:comp-filter name=\"VEVENT\"><c:time-range start=\"{}\" end=\"{}\"/>\
         </c:comp-filter></c:comp-filter></c:filter></c:calendar-query>",
        corpus::utc_stamp(start),
        corpus::utc_stamp(end)
    );
    let found = send(s.req("REPORT", "/calendars/alice/calendar/").header("Depth", "1").body(body)).await;
    assert_eq!(found.hrefs().len(), expected);
    s.stop().await;
}

/// `POST /api/v1/calendars/{id}/import`: the report as JSON; write access needed.
async fn api_endpoint(engine: Engine) {
    let s = start_server(engine).await;
    let text = file(&[vevent("api1", "One", ALARM), "BEGIN:VEVENT\r\nUID:api-bad\r\nSUMMARY:x\r\nEND:VEVENT\r\n".into()]);
    let path = "/api/v1/calendars/calendar/import";
    let r = send(s.req("POST", path).header("Content-Type", "text/calendar").body(text.clone())).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.header("content-type").as_deref(), Some("application/json"));
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!((v["added"].as_u64(), v["updated"].as_u64(), v["unchanged"].as_u64()), (Some(1), Some(0), Some(0)), "{v}");
    assert_eq!(v["skipped"][0]["uid"], "api-bad");
    assert_eq!(v["items"][0]["outcome"], "added");
    assert_eq!(v["items"][0]["name"], "api1.ics");
    assert_eq!(v["items"][1]["outcome"], "skipped");
    let etag = v["items"][0]["etag"].as_str().unwrap().to_owned();
    let got = send(s.req("GET", "/calendars/alice/calendar/api1.ics")).await;
    assert_eq!(got.header("etag").as_deref(), Some(etag.as_str()));
    // Another media type, a calendar bob does not have, a file that is no calendar.
    let json = send(s.req("POST", path).header("Content-Type", "application/json").body("{}")).await;
    assert_eq!(json.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let bob = send(s.req_as("bob", BOB_PW, "POST", "/api/v1/calendars/nosuch/import").header("Content-Type", "text/calendar").body(text)).await;
    assert_eq!(bob.status, StatusCode::NOT_FOUND);
    let junk = send(s.req("POST", path).header("Content-Type", "text/calendar").body("hello")).await;
    assert_eq!(junk.status, StatusCode::BAD_REQUEST, "{}", junk.body);
    assert_eq!(junk.header("content-type").as_deref(), Some("application/problem+json"));
    let get = send(s.req("GET", path)).await;
    assert_eq!((get.status, get.header("allow").as_deref()), (StatusCode::METHOD_NOT_ALLOWED, Some("POST")));
    // Documented in the OpenAPI document, with its body and report.
    let doc: Value = serde_json::from_str(&send(s.anon("GET", "/api/v1/openapi.json")).await.body).unwrap();
    let op = &doc["paths"]["/api/v1/calendars/{id}/import"]["post"];
    assert!(op["requestBody"]["content"]["text/calendar"].is_object(), "{op}");
    assert!(op["responses"]["200"]["content"]["application/json"].is_object(), "{op}");
    assert!(doc["components"]["schemas"]["ImportReport"].is_object());
    s.stop().await;
}

/// A client writing some of the file's UIDs while the import runs: whatever lands between the
/// import's listing and its batch is refused by the store inside that batch, reported, and the
/// rest of the batch written; no UID is lost and none is stored twice.
async fn concurrent_writes_lose_nothing(engine: Engine) {
    let s = start_server(engine).await;
    let n = 1_500;
    let events: Vec<String> = (0..n).map(|k| vevent(&format!("r{k}"), "Imported", "")).collect();
    let text = file(&events);
    let base = s.base.clone();
    let writer = tokio::spawn(async move {
        let client = reqwest::Client::new();
        // Every 30th UID, half under the import's own name, half under another.
        for k in (0..n).step_by(30) {
            let name = if k % 60 == 0 { format!("r{k}.ics") } else { format!("client-r{k}.ics") };
            let r = client
                .put(format!("{base}/calendars/alice/calendar/{name}"))
                .basic_auth("alice", Some(ALICE_PW))
                .header("Content-Type", "text/calendar")
                .body(file(&[vevent(&format!("r{k}"), "From the client", "")]))
                .send()
                .await
                .unwrap();
            // 403 no-uid-conflict when the import got there first under another name.
            assert!([201, 204, 403].contains(&r.status().as_u16()), "{name}: {}", r.status());
        }
    });
    let r = import_into(&s.store, "calendar", &text).await;
    writer.await.unwrap();
    eprintln!("{engine:?}: {} added, {} updated, {} skipped: {:?}", r.added, r.updated, r.skipped.len(), r.skipped.first());
    assert_eq!(r.added + r.updated + r.unchanged + r.skipped.len(), n);
    for k in &r.skipped {
        assert!(k.reason.contains("changed while importing") || k.reason.contains("already used by"), "{k:?}");
        assert!(k.uid.starts_with('r'), "{k:?}");
    }
    let owner = alice(&s.store).await;
    let c = s.store.collection_by_path(owner.id, "calendar").await.unwrap().unwrap();
    let listed = s.store.list_objects(c.id).await.unwrap();
    let uids: std::collections::HashSet<String> = listed.iter().filter_map(|m| m.calendar.as_ref().map(|i| i.uid.clone())).collect();
    assert_eq!((listed.len(), uids.len()), (n, n), "every UID once");
    s.stop().await;
}

on_both_engines!(every_outcome, five_thousand_events, api_endpoint, concurrent_writes_lose_nothing);

/// Runs the `kalends` binary on the SQLite database in `dir`.
fn kalends(dir: &std::path::Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kalends"))
        .args(args)
        .env("KALENDS_DATABASE_URL", format!("sqlite://{}", dir.join("k.db").display()))
        .env("KALENDS_DATA_DIR", dir)
        .env_remove("KALENDS_CONFIG")
        .output()
        .unwrap();
    (out.status.code().unwrap_or(-1), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// `kalends import USER CALENDAR FILE.ics`: the summary, a line per skipped UID, the exit status.
#[test]
fn cli_import() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| kalends(dir.path(), args);
    assert_eq!(run(&["user", "add", "alice"]).0, 0);
    let ics = dir.path().join("in.ics");
    let good = [vevent("c1", "One", ""), vevent("c2", "Two", "")];
    let mut all = good.to_vec();
    all.push("BEGIN:VEVENT\r\nUID:c-bad\r\nSUMMARY:x\r\nEND:VEVENT\r\n".into());
    std::fs::write(&ics, file(&all)).unwrap();
    let path = ics.to_str().unwrap();
    let (code, out) = run(&["import", "alice", "calendar", path]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(": 2 added, 0 updated, 0 unchanged, 1 skipped"), "{out}");
    assert!(out.contains("skipped c-bad: invalid calendar object resource: a VEVENT has no DTSTART"), "{out}");
    // Not a terminal: no progress bar drawn.
    assert!(!out.contains("events ("), "{out}");
    std::fs::write(&ics, file(&good)).unwrap();
    let (code, out) = run(&["import", "alice", "calendar", path, "--quiet"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(": 0 added, 0 updated, 2 unchanged, 0 skipped"), "{out}");
    let (code, out) = run(&["import", "alice", "nosuch", path]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("alice has no calendar nosuch"), "{out}");
    let (code, out) = run(&["import", "--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("Exit status 0 when nothing was skipped, 1 otherwise"), "{out}");
}
