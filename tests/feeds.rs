//! Feed links over HTTP (issue 18, item 1), on SQLite and PostgreSQL: each mode's content on a
//! calendar with recurring, private, confidential, transparent, cancelled events with attendees
//! and alarms, read back with the Python `icalendar` and `recurring-ical-events` packages
//! (tests/support/read_feed.py) and checked against the same parsers' reading of the source;
//! the headers and 304 paths; unknown, revoked, expired and rotated tokens; the ETag moving
//! with the output only; links removed with their calendar and user; a subscriber's fetch; the
//! per-token rate limit.
#![allow(clippy::unwrap_used)]

mod harness;
mod support;

use std::collections::BTreeSet;
use std::process::Command;

use chrono::{Duration, Utc};
use harness::*;
use kalends::feed::{FeedMode, FeedSettings};
use kalends::service::feeds::{self, NewFeed};
use kalends::store::{CollectionStore, FeedId, FeedStore, NewFeedLink, UserStore};
use serde_json::Value;

const CAL: &str = "/calendars/alice/calendar/";

/// Runs read_feed.py; fails the test, loudly, when Python or a package is missing or the text
/// does not parse.
fn read_feed(args: &[String], stdin: &str) -> Value {
    let out = support::run_python(
        "read_feed.py",
        args,
        stdin,
        "the feed tests need the Python icalendar and recurring-ical-events packages",
        "the Python parsers refused the feed",
    );
    serde_json::from_slice(&out).unwrap()
}

/// The feed window now, as Unix seconds.
fn window() -> (i64, i64) {
    let w = kalends::feed::window(Utc::now().timestamp());
    (w.start.unwrap(), w.end.unwrap())
}

fn parse(text: &str) -> Value {
    let (start, end) = window();
    let v = read_feed(&["parse".into(), start.to_string(), end.to_string()], text);
    assert_eq!(v["errors"], Value::Array(vec![]), "parse errors in {text}");
    v
}

const BERLIN: &str = "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\n\
DTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\nBEGIN:STANDARD\r\nTZOFFSETFROM:+0200\r\n\
TZOFFSETTO:+0100\r\nTZNAME:CET\r\nDTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n";

fn wrap(body: &str) -> String {
    format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\n{body}END:VCALENDAR\r\n")
}

/// `YYYYMMDD` of the day `days` from today.
fn day(days: i64) -> String {
    (Utc::now() + Duration::days(days)).format("%Y%m%d").to_string()
}

fn simple(uid: &str, start: &str, extra: &str) -> String {
    wrap(&format!("BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261201T000000Z\r\nDTSTART:{start}\r\nDURATION:PT1H\r\n{extra}END:VEVENT\r\n"))
}

/// The source calendar: every kind of event a feed must treat differently.
fn fixture() -> Vec<(&'static str, String)> {
    let d1 = day(7);
    let weekly = wrap(&format!(
        "{BERLIN}BEGIN:VEVENT\r\nUID:weekly\r\nDTSTAMP:20261201T000000Z\r\nDTSTART;TZID=Europe/Berlin:{d1}T100000\r\nDURATION:PT1H\r\n\
         RRULE:FREQ=WEEKLY;COUNT=8\r\nSUMMARY:Team sync\r\nDESCRIPTION:Agenda: salaries\r\nLOCATION:Room 4\r\n\
         ORGANIZER;CN=Alice:mailto:alice@example.org\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:alice@example.org\r\n\
         ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:carol@example.org\r\nX-SECRET:internal\r\n\
         BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Team sync soon\r\nTRIGGER:-PT10M\r\nEND:VALARM\r\nEND:VEVENT\r\n\
         BEGIN:VEVENT\r\nUID:weekly\r\nDTSTAMP:20261201T000000Z\r\nRECURRENCE-ID;TZID=Europe/Berlin:{d2}T100000\r\n\
         DTSTART;TZID=Europe/Berlin:{d2}T120000\r\nDURATION:PT1H\r\nSUMMARY:Team sync (moved)\r\n\
         ORGANIZER;CN=Alice:mailto:alice@example.org\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:alice@example.org\r\n\
         ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:carol@example.org\r\nEND:VEVENT\r\n",
        d2 = day(21)
    ));
    vec![
        ("weekly", weekly),
        ("private", simple("private", &format!("{}T140000Z", day(8)), "CLASS:PRIVATE\r\nSUMMARY:Therapy\r\n")),
        ("confidential", simple("confidential", &format!("{}T090000Z", day(9)), "CLASS:CONFIDENTIAL\r\nSUMMARY:Doctor\r\nDESCRIPTION:checkup\r\n")),
        ("transparent", simple("transparent", &format!("{}T090000Z", day(8)), "TRANSP:TRANSPARENT\r\nSUMMARY:Focus time\r\n")),
        ("cancelled", simple("cancelled", &format!("{}T150000Z", day(10)), "STATUS:CANCELLED\r\nSUMMARY:Dropped\r\n")),
        ("overlap", simple("overlap", &format!("{d1}T083000Z"), "SUMMARY:Overlap\r\n")),
        ("allday", wrap(&format!("BEGIN:VEVENT\r\nUID:allday\r\nDTSTAMP:20261201T000000Z\r\nDTSTART;VALUE=DATE:{}\r\nSUMMARY:Holiday\r\nEND:VEVENT\r\n", day(12)))),
        ("past", simple("past", &format!("{}T100000Z", day(-30)), "SUMMARY:Retro\r\n")),
        ("far", simple("far", &format!("{}T100000Z", day(3 * 365)), "SUMMARY:Far away\r\n")),
        ("task", todo("task", "Buy milk")),
    ]
}

async fn with_fixture(engine: Engine) -> TestServer {
    let s = start_server(engine).await;
    for (name, ics) in fixture() {
        let put = s.put_ics(&format!("{CAL}{name}.ics"), &ics).await;
        assert!(put.status == 201 || put.status == 204, "{name}: {} {}", put.status, put.body);
    }
    s
}

async fn link(s: &TestServer, mode: FeedMode, alarms: bool, attendees: bool) -> (FeedId, String) {
    let new = NewFeed { settings: FeedSettings { mode, alarms, attendees }, label: "test".into(), expires_at: None };
    let issued = feeds::create(&s.store, "alice", "calendar", new, Utc::now().timestamp()).await.unwrap();
    (issued.link.id, format!("/feeds/{}.ics", issued.token))
}

async fn get(s: &TestServer, path: &str) -> Response {
    send(s.anon("GET", path)).await
}

/// (uid, start, end) of every instance, sorted.
fn instances(v: &Value, keep: impl Fn(&Value) -> bool) -> Vec<(String, i64, i64)> {
    let mut out: Vec<_> = v["instances"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| keep(i))
        .map(|i| (i["uid"].as_str().unwrap().to_owned(), i["start"].as_i64().unwrap(), i["end"].as_i64().unwrap()))
        .collect();
    out.sort();
    out
}

fn events<'a>(v: &'a Value, uid: &str) -> Vec<&'a Value> {
    v["events"].as_array().unwrap().iter().filter(|e| e["uid"] == uid).collect()
}

fn uids(v: &Value) -> BTreeSet<String> {
    v["events"].as_array().unwrap().iter().map(|e| e["uid"].as_str().unwrap().to_owned()).collect()
}

fn props(e: &Value) -> BTreeSet<String> {
    e["props"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_owned()).collect()
}

/// The source as the same parsers read it: the calendar's export (GET on the collection).
async fn source(s: &TestServer) -> Value {
    let export = send(s.req("GET", CAL)).await;
    assert_eq!(export.status, 200);
    parse(&export.body)
}

fn shown(i: &Value) -> bool {
    i["class"] != "PRIVATE" && i["uid"] != "task"
}

async fn full_mode(engine: Engine) {
    let s = with_fixture(engine).await;
    let src = source(&s).await;
    let (_, path) = link(&s, FeedMode::Full, false, false).await;
    let resp = get(&s, &path).await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    let feed = parse(&resp.body);
    let alice = s.store.user_by_name("alice").await.unwrap().unwrap();
    let name = s.store.collection_by_path(alice.id, "calendar").await.unwrap().unwrap().props.displayname.unwrap();
    assert_eq!(feed["calendar"]["X-WR-CALNAME"].as_str(), Some(name.as_str()), "{}", feed["calendar"]);
    assert_eq!(feed["calendar"]["NAME"].as_str(), Some(name.as_str()));
    assert_eq!(feed["calendar"]["X-PUBLISHED-TTL"].as_str(), Some("PT1H"));
    assert!(resp.body.contains("REFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n"));
    let expected: BTreeSet<String> = ["weekly", "confidential", "transparent", "cancelled", "overlap", "allday", "past"].map(String::from).into();
    assert_eq!(uids(&feed), expected, "private, out-of-window events and tasks left out");
    // Recurring events stay one master with its RRULE, plus the override, not expanded.
    let weekly = events(&feed, "weekly");
    assert_eq!(weekly.len(), 2);
    assert_eq!(weekly[0]["rrule"], events(&src, "weekly")[0]["rrule"]);
    assert_eq!(weekly[0]["summary"], "Team sync");
    for e in feed["events"].as_array().unwrap() {
        let p = props(e);
        assert!(!p.contains("ORGANIZER") && !p.contains("ATTENDEE") && !p.iter().any(|n| n.starts_with("X-")), "{e}");
        assert_eq!(e["alarms"], 0, "{e}");
    }
    let confidential = events(&feed, "confidential");
    assert_eq!(confidential[0]["summary"], "Busy");
    assert!(!props(confidential[0]).contains("DESCRIPTION"));
    assert!(!resp.body.contains("Therapy") && !resp.body.contains("Doctor") && !resp.body.contains("checkup"));
    // Every instance the source has (bar the private one) at the same times.
    assert_eq!(instances(&feed, |_| true), instances(&src, shown));
    assert_eq!(feed["timezones"], 1, "the VTIMEZONE the weekly event needs");

    let (_, asked) = link(&s, FeedMode::Full, true, true).await;
    let feed = parse(&get(&s, &asked).await.body);
    let master = events(&feed, "weekly")[0];
    assert!(props(master).contains("ORGANIZER") && props(master).contains("ATTENDEE"), "{master}");
    assert_eq!(master["alarms"], 1);
    assert!(!props(master).contains("X-SECRET"));
    assert!(!props(events(&feed, "confidential")[0]).contains("DESCRIPTION"), "confidential stays masked");
    s.stop().await;
}

async fn masked_mode(engine: Engine) {
    let s = with_fixture(engine).await;
    let src = source(&s).await;
    // Alarms and attendees asked for, and still left out: masked shows times only.
    let (_, path) = link(&s, FeedMode::Masked, true, true).await;
    let body = get(&s, &path).await.body;
    let feed = parse(&body);
    let allowed: BTreeSet<String> =
        ["UID", "DTSTAMP", "DTSTART", "DTEND", "DURATION", "RRULE", "RDATE", "EXDATE", "RECURRENCE-ID", "SEQUENCE", "STATUS", "TRANSP", "CLASS", "SUMMARY"]
            .map(String::from)
            .into();
    for e in feed["events"].as_array().unwrap() {
        assert_eq!(e["summary"], "Busy", "{e}");
        assert!(props(e).is_subset(&allowed), "{e}");
        assert_eq!(e["alarms"], 0);
    }
    assert!(events(&feed, "weekly")[0]["rrule"].is_string(), "recurrence kept");
    for secret in ["Team sync", "salaries", "Room 4", "carol", "Holiday", "Therapy"] {
        assert!(!body.contains(secret), "{secret} in {body}");
    }
    assert_eq!(instances(&feed, |_| true), instances(&src, shown));
    s.stop().await;
}

/// Merges sorted spans that overlap or touch.
fn merged(mut spans: Vec<(i64, i64)>, (lo, hi): (i64, i64)) -> Vec<(i64, i64)> {
    spans = spans.into_iter().map(|(a, b)| (a.max(lo), b.min(hi))).filter(|(a, b)| a < b).collect();
    spans.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::new();
    for (a, b) in spans {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

async fn busy_mode(engine: Engine) {
    let s = with_fixture(engine).await;
    let src = source(&s).await;
    let (_, path) = link(&s, FeedMode::Busy, false, false).await;
    let body = get(&s, &path).await.body;
    let feed = parse(&body);
    let busy = |i: &Value| shown(i) && i["transp"] != "TRANSPARENT" && i["status"] != "CANCELLED";
    let expected = merged(instances(&src, busy).into_iter().map(|(_, a, b)| (a, b)).collect(), window());
    let mut got: Vec<(i64, i64)> = instances(&feed, |_| true).into_iter().map(|(_, a, b)| (a, b)).collect();
    got.sort_unstable();
    assert_eq!(got, expected, "one event per merged busy period");
    assert!(expected.len() >= 9, "the fixture's busy periods: {expected:?}");
    let shape: BTreeSet<String> = ["UID", "DTSTAMP", "DTSTART", "DTEND", "SUMMARY", "TRANSP"].map(String::from).into();
    for e in feed["events"].as_array().unwrap() {
        assert_eq!(props(e), shape, "{e}");
        assert_eq!(e["summary"], "Busy");
    }
    for secret in ["Team sync", "Doctor", "Holiday", "Therapy", "carol", "weekly"] {
        assert!(!body.contains(secret), "{secret} in {body}");
    }
    s.stop().await;
}

async fn headers_and_revalidation(engine: Engine) {
    let s = with_fixture(engine).await;
    let (_, path) = link(&s, FeedMode::Full, false, false).await;
    let first = send(s.anon("GET", &path).header("Accept-Encoding", "gzip, br")).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("content-type").as_deref(), Some("text/calendar; charset=utf-8"));
    assert_eq!(first.header("cache-control").as_deref(), Some("private, max-age=300"));
    assert_eq!(first.header("content-encoding"), None, "never compressed");
    assert!(first.header("x-robots-tag").unwrap().contains("noindex"));
    assert_eq!(first.header("referrer-policy").as_deref(), Some("no-referrer"));
    let etag = first.header("etag").unwrap();
    assert!(etag.starts_with('"') && etag.len() > 10, "strong: {etag}");
    let modified = first.header("last-modified").unwrap();
    // If-None-Match: the tag, in a list, weakly compared, or *.
    for inm in [etag.clone(), format!("\"x\", {etag}"), format!("W/{etag}"), "*".into()] {
        let r = send(s.anon("GET", &path).header("If-None-Match", inm.as_str())).await;
        assert_eq!(r.status, 304, "{inm}");
        assert_eq!(r.body, "");
        assert_eq!(r.header("etag").as_deref(), Some(etag.as_str()));
        assert_eq!(r.header("cache-control").as_deref(), Some("private, max-age=300"));
    }
    assert_eq!(send(s.anon("GET", &path).header("If-None-Match", "\"other\"")).await.status, 200);
    assert_eq!(send(s.anon("GET", &path).header("If-Modified-Since", modified.as_str())).await.status, 304);
    assert_eq!(send(s.anon("GET", &path).header("If-Modified-Since", "Mon, 01 Jan 2001 00:00:00 GMT")).await.status, 200);
    // RFC 9110 §13.2.2: If-None-Match decides when both are sent.
    let both = send(s.anon("GET", &path).header("If-None-Match", "\"other\"").header("If-Modified-Since", modified.as_str())).await;
    assert_eq!(both.status, 200);
    let head = send(s.anon("HEAD", &path)).await;
    assert_eq!(head.status, 200);
    assert_eq!(head.body, "");
    assert_eq!(head.header("etag").as_deref(), Some(etag.as_str()));
    let post = send(s.anon("POST", &path)).await;
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow").as_deref(), Some("GET, HEAD"));
    s.stop().await;
}

async fn etag_of(s: &TestServer, path: &str) -> String {
    get(s, path).await.header("etag").unwrap()
}

async fn etag_moves_with_output_only(engine: Engine) {
    let s = with_fixture(engine).await;
    let (_, path) = link(&s, FeedMode::Full, false, false).await;
    let (_, busy_path) = link(&s, FeedMode::Busy, false, false).await;
    let before = etag_of(&s, &path).await;
    let busy_before = etag_of(&s, &busy_path).await;
    assert_eq!(etag_of(&s, &path).await, before, "a read changes nothing");
    // Writes the feed does not show: another calendar, a private event, a task.
    assert_eq!(send(s.req("MKCALENDAR", "/calendars/alice/other/")).await.status, 201);
    assert_eq!(s.put_ics("/calendars/alice/other/x.ics", &simple("x", &format!("{}T100000Z", day(3)), "SUMMARY:X\r\n")).await.status, 201);
    assert_eq!(s.put_ics(&format!("{CAL}p2.ics"), &simple("p2", &format!("{}T100000Z", day(3)), "CLASS:PRIVATE\r\n")).await.status, 201);
    assert_eq!(s.put_ics(&format!("{CAL}t2.ics"), &todo("t2", "Later")).await.status, 201);
    assert_eq!(etag_of(&s, &path).await, before, "the output did not change, nor did the ETag");
    // A transparent event changes the full feed, not the busy one.
    assert_eq!(s.put_ics(&format!("{CAL}new.ics"), &simple("new", &format!("{}T100000Z", day(3)), "TRANSP:TRANSPARENT\r\n")).await.status, 201);
    let after = etag_of(&s, &path).await;
    assert_ne!(after, before, "a shown event changes the ETag");
    assert_eq!(etag_of(&s, &busy_path).await, busy_before, "transparent time is not busy");
    assert!(get(&s, &path).await.body.contains("UID:new\r\n"));
    // Taking it out again gives the same text, so the same ETag.
    assert_eq!(send(s.req("DELETE", &format!("{CAL}new.ics"))).await.status, 204);
    assert_eq!(etag_of(&s, &path).await, before);
    s.stop().await;
}

async fn unknown_revoked_expired_and_rotated(engine: Engine) {
    let s = with_fixture(engine).await;
    let (id, path) = link(&s, FeedMode::Full, false, false).await;
    assert_eq!(get(&s, &path).await.status, 200);
    let unknown = format!("/feeds/{}.ics", "A".repeat(43));
    for p in [unknown.as_str(), "/feeds/short.ics", "/feeds/", &path.replace(".ics", ""), &path.replace(".ics", ".ics/x")] {
        let r = get(&s, p).await;
        assert_eq!(r.status, 404, "{p}");
        assert_eq!(r.header("www-authenticate"), None, "never a password prompt");
    }
    // Rotation: the new token works, the old one too during the grace.
    let now = Utc::now().timestamp();
    let rotated = feeds::rotate(&s.store, id, None, 3600, now).await.unwrap();
    let new_path = format!("/feeds/{}.ics", rotated.token);
    assert_eq!(get(&s, &new_path).await.status, 200);
    assert_eq!(get(&s, &path).await.status, 200, "old token within its grace");
    // Rotating again without grace ends both older tokens.
    let again = feeds::rotate(&s.store, id, None, 0, now).await.unwrap();
    assert_eq!(get(&s, &path).await.status, 404);
    assert_eq!(get(&s, &new_path).await.status, 404);
    let newest = format!("/feeds/{}.ics", again.token);
    assert_eq!(get(&s, &newest).await.status, 200);
    // Revoked.
    feeds::revoke(&s.store, id, None).await.unwrap();
    assert_eq!(get(&s, &newest).await.status, 404);
    assert!(feeds::revoke(&s.store, id, None).await.is_err(), "gone");
    // Expired: a link written with an expiry already past.
    let alice = s.store.user_by_name("alice").await.unwrap().unwrap();
    let cal = s.store.collection_by_path(alice.id, "calendar").await.unwrap().unwrap();
    let token = "B".repeat(43);
    let settings = FeedSettings { mode: FeedMode::Busy, alarms: false, attendees: false };
    let new = NewFeedLink { collection: cal.id, token_hash: feeds::token_hash(&token), label: String::new(), settings, expires_at: Some(now - 1), created_at: now - 10 };
    s.store.create_feed(new).await.unwrap();
    assert_eq!(get(&s, &format!("/feeds/{token}.ics")).await.status, 404);
    // Another user cannot revoke or rotate alice's links.
    let (mine, _) = link(&s, FeedMode::Full, false, false).await;
    let bob = s.store.user_by_name("bob").await.unwrap().unwrap();
    assert!(feeds::revoke(&s.store, mine, Some(bob.id)).await.is_err());
    assert!(feeds::rotate(&s.store, mine, Some(bob.id), 0, now).await.is_err());
    assert!(feeds::revoke(&s.store, mine, Some(alice.id)).await.is_ok());
    s.stop().await;
}

async fn last_use_is_coarse(engine: Engine) {
    let s = with_fixture(engine).await;
    let (id, path) = link(&s, FeedMode::Busy, false, false).await;
    assert_eq!(s.store.feed_by_id(id).await.unwrap().unwrap().last_used_at, None);
    assert_eq!(get(&s, &path).await.status, 200);
    let used = s.store.feed_by_id(id).await.unwrap().unwrap().last_used_at.unwrap();
    assert!((used - Utc::now().timestamp()).abs() < 60);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(get(&s, &path).await.status, 200);
    assert_eq!(s.store.feed_by_id(id).await.unwrap().unwrap().last_used_at, Some(used), "at most once an hour");
    let listed = feeds::list(&s.store, "alice").await.unwrap();
    assert_eq!(listed.iter().map(|l| (l.id, l.calendar_path.as_str(), l.label.as_str())).collect::<Vec<_>>(), vec![(id, "calendar", "test")]);
    s.stop().await;
}

async fn links_go_with_calendar_and_user(engine: Engine) {
    let s = with_fixture(engine).await;
    let (id, path) = link(&s, FeedMode::Full, false, false).await;
    assert_eq!(send(s.req("MKCALENDAR", "/calendars/alice/second/")).await.status, 201);
    let new = NewFeed { settings: FeedSettings { mode: FeedMode::Busy, alarms: false, attendees: false }, label: String::new(), expires_at: None };
    let second = feeds::create(&s.store, "alice", "second", new.clone(), Utc::now().timestamp()).await.unwrap();
    assert!(feeds::create(&s.store, "alice", "nope", new.clone(), 0).await.is_err(), "no such calendar");
    assert!(feeds::create(&s.store, "alice", "inbox", new, 0).await.is_err(), "not a calendar");
    assert_eq!(send(s.req("DELETE", CAL)).await.status, 204);
    assert_eq!(get(&s, &path).await.status, 404);
    assert_eq!(s.store.feed_by_id(id).await.unwrap(), None);
    assert_eq!(get(&s, &format!("/feeds/{}.ics", second.token)).await.status, 200);
    kalends::service::users::delete(&s.store, "alice").await.unwrap();
    assert_eq!(s.store.feed_by_id(second.link.id).await.unwrap(), None);
    assert_eq!(get(&s, &format!("/feeds/{}.ics", second.token)).await.status, 404);
    s.stop().await;
}

/// A subscriber: Python's urllib fetches the feed, `icalendar` reads it, and a revalidation
/// with its ETag is answered 304.
async fn a_subscriber_reads_it(engine: Engine) {
    let s = with_fixture(engine).await;
    let (_, path) = link(&s, FeedMode::Masked, false, false).await;
    let (start, end) = window();
    let url = format!("{}{path}", s.base);
    let base = s.base.clone();
    let fetched = tokio::task::spawn_blocking(move || read_feed(&["fetch".into(), url, start.to_string(), end.to_string()], "")).await.unwrap();
    assert_eq!(fetched["errors"], Value::Array(vec![]));
    assert_eq!(fetched["content_type"], "text/calendar; charset=utf-8");
    assert_eq!(fetched["revalidated"], 304);
    assert!(uids(&fetched).contains("weekly"), "{fetched} from {base}");
    s.stop().await;
}

async fn limited_per_token(engine: Engine) {
    let s = start_with(engine, |c| {
        c.rate_limit.anonymous_per_minute = 1;
        c.rate_limit.anonymous_burst = 2;
        c.rate_limit.soft_delay_ms = 0;
    })
    .await;
    let (_, path) = link(&s, FeedMode::Busy, false, false).await;
    let (_, other) = link(&s, FeedMode::Busy, false, false).await;
    assert_eq!(get(&s, &path).await.status, 200);
    assert_eq!(get(&s, &path).await.status, 200);
    let refused = get(&s, &path).await;
    assert_eq!(refused.status, 429);
    assert!(refused.header("retry-after").is_some());
    assert_eq!(get(&s, &other).await.status, 200, "each link has its own bucket");
    let metrics = s.metrics();
    let text = metrics.render().await;
    assert!(text.lines().any(|l| l.contains("limiter=\"feed\"") && l.contains("refused")), "{text}");
    s.stop().await;
}

/// The cached rendering in Redis (values of up to megabytes, the seq at their head): a poll
/// after a write sees the write, a 304 still answers from the small key, and the cache holds
/// one rendering per link setting, not one per write.
async fn cached_in_redis(engine: Engine) {
    let keys = support::redis::unique_prefix();
    let prefix = keys.prefix().to_owned();
    let s = start_with(engine, |c| {
        c.redis_url = Some(keys.url().to_owned());
        c.cache.redis_prefix = prefix;
    })
    .await;
    for (name, ics) in fixture() {
        assert!(s.put_ics(&format!("{CAL}{name}.ics"), &ics).await.status.is_success());
    }
    let (_, path) = link(&s, FeedMode::Full, false, false).await;
    let first = get(&s, &path).await;
    let etag = first.header("etag").unwrap();
    assert_eq!(get(&s, &path).await.body, first.body, "the same text from the cache");
    assert_eq!(send(s.anon("GET", &path).header("If-None-Match", etag.as_str())).await.status, 304);
    for i in 0..3 {
        let uid = format!("w{i}");
        assert_eq!(s.put_ics(&format!("{CAL}{uid}.ics"), &simple(&uid, &format!("{}T100000Z", day(4)), "SUMMARY:W\r\n")).await.status, 201);
        let after = get(&s, &path).await;
        assert!(after.body.contains(&format!("UID:{uid}\r\n")), "the write shows at once");
        assert_ne!(after.header("etag").unwrap(), etag);
    }
    let all = keys.keys().unwrap();
    let feed_keys: Vec<&String> = all.iter().filter(|k| k.strip_prefix(keys.prefix()).is_some_and(|r| r.starts_with("feed:v2:"))).collect();
    assert_eq!(feed_keys.len(), 2, "one text and one validator key, whatever the number of writes: {all:?}");
    s.stop().await;
    keys.delete_keys().unwrap();
}

on_both_engines!(
    cached_in_redis,
    full_mode,
    masked_mode,
    busy_mode,
    headers_and_revalidation,
    etag_moves_with_output_only,
    unknown_revoked_expired_and_rotated,
    last_use_is_coarse,
    links_go_with_calendar_and_user,
    a_subscriber_reads_it,
    limited_per_token,
);

/// `kalends feed …` run as a binary against a SQLite file that a server in this process serves:
/// the printed URL works, `list` shows the link, `rotate` prints a new one, `revoke` ends it,
/// and a bad calendar or id is an error exit. (The commands call `service::feeds`, which the
/// tests above run on both engines.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_manages_links() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("kalends.db").display());
    let store = kalends::store::Store::open(&db).await.unwrap();
    kalends::service::users::create(&store, "alice", None, ALICE_PW).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public = format!("http://{}/", listener.local_addr().unwrap());
    let config = kalends::config::Config { listen: "127.0.0.1:0".parse().unwrap(), public_url: Some(public.clone()), ..Default::default() };
    let server = kalends::app::start(&config, store.clone(), listener).unwrap();
    let kalends = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_kalends"))
            .args(args)
            .env_remove("KALENDS_CONFIG")
            .env("KALENDS_DATA_DIR", dir.path())
            .env("KALENDS_DATABASE_URL", &db)
            .env("KALENDS_PUBLIC_URL", &public)
            .output()
            .unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let url_in = |text: &str, prefix: &str| text.lines().find_map(|l| l.strip_prefix(prefix)).map(str::to_owned).unwrap_or_else(|| panic!("{prefix} in {text}"));
    let client = reqwest::Client::new();
    let status = |url: String| {
        let client = client.clone();
        async move { client.get(url).send().await.unwrap().status().as_u16() }
    };

    let (ok, out, err) = kalends(&["feed", "create", "alice", "calendar", "--mode", "masked", "--label", "for Bob", "--expires", "2099-12-31"]);
    assert!(ok, "{err}");
    let url = url_in(&out, "url (shown once): ");
    assert!(url.starts_with(&format!("{public}feeds/")) && url.ends_with(".ics"), "{out}");
    assert_eq!(url_in(&out, "webcal: "), url.replacen("http://", "webcal://", 1));
    assert_eq!(status(url.clone()).await, 200);
    let (ok, listed, _) = kalends(&["feed", "list", "alice"]);
    assert!(ok && listed.contains("\tcalendar\tmasked\tno\tno\t2100-01-01 00:00\t") && listed.contains("for Bob"), "{listed}");
    assert!(!listed.contains(url.trim_end_matches(".ics").rsplit('/').next().unwrap()), "the token is never listed");
    let id = listed.lines().nth(1).unwrap().split('\t').next().unwrap().to_owned();

    let (ok, out, err) = kalends(&["feed", "rotate", &id, "--grace-hours", "0"]);
    assert!(ok, "{err}");
    let rotated = url_in(&out, "url (shown once): ");
    assert_eq!(status(rotated.clone()).await, 200);
    assert_eq!(status(url).await, 404, "no grace asked");
    let (ok, _, err) = kalends(&["feed", "revoke", &id]);
    assert!(ok, "{err}");
    assert_eq!(status(rotated).await, 404);
    let (ok, _, err) = kalends(&["feed", "revoke", &id]);
    assert!(!ok && err.contains("not found"), "{err}");
    let (ok, _, err) = kalends(&["feed", "create", "alice", "nope"]);
    assert!(!ok && err.contains("alice/nope"), "{err}");
    server.stop().await;
}
