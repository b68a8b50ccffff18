//! RSVP links over HTTP, on SQLite and PostgreSQL: GET shows the event and changes nothing,
//! POST applies the answer as a REPLY (the organizer's copy shows the PARTSTAT, keeps its
//! Schedule-Tag, the other attendees are refreshed), and forged, expired, outdated and
//! uninvited links are refused with their pages.
#![allow(clippy::unwrap_used)]

mod harness;
mod support;

use harness::*;
use kalends::sched::Address;
use kalends::service::scheduling::rsvp::{self, Token};
use kalends::service::users;
use kalends::store::{UserId, UserStore};

const CAL: &str = "/calendars/alice/calendar/";

fn meeting(dtstart: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nBEGIN:VEVENT\r\nUID:rsvp-1@example.org\r\nDTSTAMP:20261201T000000Z\r\n\
         DTSTART:{dtstart}\r\nDURATION:PT1H\r\nSUMMARY:Planning <b>& \"co\"</b>\r\nORGANIZER;CN=Alice:mailto:alice@example.org\r\n\
         ATTENDEE;PARTSTAT=ACCEPTED:mailto:alice@example.org\r\nATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:dana@contoso.example\r\n\
         ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bea@example.org\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

fn partstat_of(text: &str, who: &str) -> String {
    let unfolded = text.replace("\r\n ", "");
    let line = unfolded.lines().find(|l| l.starts_with("ATTENDEE") && l.contains(who)).unwrap_or_default();
    line.split(';').find_map(|p| p.strip_prefix("PARTSTAT=")).map(|p| p.split(':').next().unwrap_or("").to_owned()).unwrap_or_default()
}

struct Fixture {
    s: TestServer,
    alice: UserId,
}

async fn start(engine: Engine) -> Fixture {
    let s = start_server(engine).await;
    users::create(&s.store, "bea", Some("bea@example.org"), "bea-pw").await.unwrap();
    assert_eq!(s.put_ics(&format!("{CAL}rsvp.ics"), &meeting("20270105T100000Z")).await.status, 201);
    let alice = s.store.user_by_name("alice").await.unwrap().unwrap().id;
    Fixture { s, alice }
}

impl Fixture {
    /// The path of a link for `attendee` at `sequence`, expiring in `ttl` seconds.
    async fn link(&self, attendee: &str, sequence: i64, ttl: i64) -> String {
        let key = rsvp::signing_key(&self.s.store).await.unwrap();
        let now = chrono::Utc::now().timestamp();
        let token = Token { organizer: self.alice, uid: "rsvp-1@example.org".into(), attendee: Address::new(attendee), sequence, expires: now + ttl };
        let url = rsvp::link(&self.s.base, &key, &token);
        url.strip_prefix(&self.s.base).unwrap().to_owned()
    }

    async fn organizer_copy(&self) -> Response {
        send(self.s.req("GET", &format!("{CAL}rsvp.ics"))).await
    }

    async fn post(&self, path: &str, answer: &str) -> Response {
        send(self.s.anon("POST", path).header("Content-Type", "application/x-www-form-urlencoded").body(format!("answer={answer}"))).await
    }
}

async fn get_shows_and_post_applies(engine: Engine) {
    let f = start(engine).await;
    let before = f.organizer_copy().await;
    let path = f.link("mailto:dana@contoso.example", 0, 3600).await;
    assert!(path.starts_with("/rsvp/"), "{path}");
    let page = send(f.s.anon("GET", &path)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Planning &lt;b&gt;&amp; &quot;co&quot;&lt;/b&gt;"), "escaped: {}", page.body);
    assert!(page.body.contains("2027-01-05 10:00 UTC") && page.body.contains("Alice") && page.body.contains("value=\"declined\""));
    assert!(!page.body.contains("bea@example.org"), "no other attendee is shown");
    assert_eq!(page.header("cache-control").as_deref(), Some("no-store"));
    assert_eq!(page.header("referrer-policy").as_deref(), Some("no-referrer"));
    // A GET (a mail scanner) changes nothing.
    assert_eq!(f.organizer_copy().await.header("etag"), before.header("etag"));
    let done = f.post(&path, "tentative").await;
    assert_eq!(done.status, 200, "{}", done.body);
    let after = f.organizer_copy().await;
    assert_eq!(partstat_of(&after.body, "dana@"), "TENTATIVE", "{}", after.body);
    assert_eq!(after.header("schedule-tag"), before.header("schedule-tag"), "RFC 6638 §3.2.10");
    let bea = send(f.s.req_as("bea", "bea-pw", "GET", "/calendars/bea/calendar/rsvp-1@example.org.ics")).await;
    assert_eq!(partstat_of(&bea.body, "dana@"), "TENTATIVE", "the other attendees are refreshed: {}", bea.body);
    // Answering again changes the answer; the page shows it.
    assert_eq!(f.post(&path, "accepted").await.status, 200);
    assert_eq!(partstat_of(&f.organizer_copy().await.body, "dana@"), "ACCEPTED");
    assert!(send(f.s.anon("GET", &path)).await.body.contains("<strong>Accepted</strong>"));
    assert_eq!(f.post(&path, "maybe-not").await.status, 400);
    assert_eq!(send(f.s.anon("PUT", &path)).await.status, 405);
    // A rotated key still verifies the links it signed.
    let rotated = rsvp::rotate_key(&f.s.store).await.unwrap();
    assert_eq!(rsvp::signing_key(&f.s.store).await.unwrap().id, rotated.id, "the new key signs");
    assert_eq!(send(f.s.anon("GET", &path)).await.status, 200);
    f.s.stop().await;
}

async fn bad_links_are_refused(engine: Engine) {
    let f = start(engine).await;
    let before = f.organizer_copy().await;
    let path = f.link("mailto:dana@contoso.example", 0, 3600).await;
    // Forged: one character of the signature changed, or a made-up token.
    let last = path.chars().last().unwrap();
    let forged = format!("{}{}", &path[..path.len() - 1], if last == 'A' { 'B' } else { 'A' });
    assert_eq!(send(f.s.anon("GET", &forged)).await.status, 403);
    assert_eq!(f.post(&forged, "accepted").await.status, 403);
    assert_eq!(send(f.s.anon("GET", "/rsvp/bm9wZQ.bm9wZQ")).await.status, 403);
    // Expired.
    let expired = f.link("mailto:dana@contoso.example", 0, -10).await;
    assert_eq!(send(f.s.anon("GET", &expired)).await.status, 410);
    assert_eq!(f.post(&expired, "accepted").await.status, 410);
    // Someone not invited.
    let stranger = f.link("mailto:zed@contoso.example", 0, 3600).await;
    assert_eq!(f.post(&stranger, "accepted").await.status, 410);
    assert_eq!(f.organizer_copy().await.header("etag"), before.header("etag"));
    // Outdated: the organizer moved the event (SEQUENCE 1); the old email's link says so.
    let moved = f.s.put_ics(&format!("{CAL}rsvp.ics"), &meeting("20270106T100000Z")).await;
    assert_eq!(moved.status, 204, "{}", moved.body);
    let page = send(f.s.anon("GET", &path)).await;
    assert_eq!(page.status, 409, "{}", page.body);
    assert!(page.body.contains("updated"), "{}", page.body);
    assert_eq!(f.post(&path, "accepted").await.status, 409);
    assert_eq!(partstat_of(&f.organizer_copy().await.body, "dana@"), "NEEDS-ACTION");
    let fresh = f.link("mailto:dana@contoso.example", 1, 3600).await;
    assert_eq!(f.post(&fresh, "declined").await.status, 200);
    assert_eq!(partstat_of(&f.organizer_copy().await.body, "dana@"), "DECLINED");
    f.s.stop().await;
}

on_both_engines!(get_shows_and_post_applies, bad_links_are_refused);
