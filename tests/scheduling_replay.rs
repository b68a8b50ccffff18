//! Scheduling request sequences replayed over HTTP on both engines: the RFC 6638 Appendix B
//! exchange (its PUT bodies as published) and organizer objects shaped like Apple Calendar's
//! and Thunderbird's (fixtures/itip/clients, see its README: written to their shape, not
//! captured), each through the server as those clients send them.
#![allow(clippy::unwrap_used)]

mod harness;
mod support;

use harness::*;
use kalends::service::users;
use kalends::store::SchedStore;

fn fixture(path: &str) -> String {
    std::fs::read_to_string(format!("{}/fixtures/itip/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

async fn put_as(s: &TestServer, user: &str, path: &str, body: &str) -> Response {
    send(s.req_as(user, &format!("{user}-pw"), "PUT", path).header("Content-Type", "text/calendar; charset=utf-8").body(body.to_owned())).await
}

async fn get_as(s: &TestServer, user: &str, path: &str) -> Response {
    send(s.req_as(user, &format!("{user}-pw"), "GET", path)).await
}

/// The members (hrefs) of one of `user`'s collections.
async fn members(s: &TestServer, user: &str, collection: &str) -> Vec<String> {
    let path = format!("/calendars/{user}/{collection}/");
    let body = r#"<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>"#;
    let r = send(s.req_as(user, &format!("{user}-pw"), "PROPFIND", &path).header("Depth", "1").body(body)).await;
    assert_eq!(r.status, 207, "{}", r.body);
    r.hrefs().into_iter().filter(|h| *h != path).collect()
}

fn unfolded(text: &str) -> String {
    text.replace("\r\n ", "").replace("\n ", "")
}

fn line_of(text: &str, name: &str, who: &str) -> String {
    unfolded(text).lines().find(|l| l.starts_with(name) && l.to_lowercase().contains(who)).unwrap_or_default().to_owned()
}

/// RFC 6638 B.1–B.4: Cyrus invites Wilfredo (here), Bernard (elsewhere) and Mike (elsewhere);
/// Wilfredo accepts with his client's body; Cyrus's copy shows it.
async fn rfc6638_appendix_b(engine: Engine) {
    let s = start_server(engine).await;
    users::create(&s.store, "cyrus", Some("cyrus@example.com"), "cyrus-pw").await.unwrap();
    users::create(&s.store, "wilfredo", Some("wilfredo@example.com"), "wilfredo-pw").await.unwrap();
    let organizer_path = "/calendars/cyrus/calendar/lunch.ics";
    let r = put_as(&s, "cyrus", organizer_path, &fixture("rfc6638/b.1-1-object.ics")).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let stored = get_as(&s, "cyrus", organizer_path).await.body;
    // B.1's stored object: delivered to the user here, the others pending (email comes in
    // the iMIP step; the RFC's example server knew Mike to be invalid, 3.7).
    assert!(line_of(&stored, "ATTENDEE", "wilfredo@").contains("SCHEDULE-STATUS=1.2"), "{stored}");
    assert!(line_of(&stored, "ATTENDEE", "bernard@").contains("SCHEDULE-STATUS=1.0"), "{stored}");
    assert!(line_of(&stored, "ATTENDEE", "mike@").contains("SCHEDULE-STATUS=1.0"), "{stored}");
    assert_eq!(s.store.pending_external(10).await.unwrap().len(), 2);
    // B.2: the REQUEST in Wilfredo's inbox, and his copy.
    let inbox = members(&s, "wilfredo", "inbox").await;
    assert_eq!(inbox.len(), 1);
    let request = get_as(&s, "wilfredo", &inbox[0]).await.body;
    assert!(request.contains("METHOD:REQUEST") && request.contains("UID:9263504FD3AD"), "{request}");
    let copies = members(&s, "wilfredo", "calendar").await;
    assert_eq!(copies.len(), 1, "{copies:?}");
    // B.3: Wilfredo's client PUTs the event accepted, with an alarm, over his copy.
    let r = put_as(&s, "wilfredo", &copies[0], &fixture("rfc6638/b.3-1-object.ics")).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let his = get_as(&s, "wilfredo", &copies[0]).await.body;
    assert!(line_of(&his, "ORGANIZER", "cyrus@").contains("SCHEDULE-STATUS=1.2"), "{his}");
    assert!(his.contains("BEGIN:VALARM"), "his alarm stays his");
    // B.4: the REPLY reached Cyrus, whose copy shows the acceptance and no alarm of Wilfredo's.
    let cyrus_inbox = members(&s, "cyrus", "inbox").await;
    assert_eq!(cyrus_inbox.len(), 1);
    assert!(get_as(&s, "cyrus", &cyrus_inbox[0]).await.body.contains("METHOD:REPLY"));
    let stored = get_as(&s, "cyrus", organizer_path).await.body;
    assert!(line_of(&stored, "ATTENDEE", "wilfredo@").contains("PARTSTAT=ACCEPTED"), "{stored}");
    assert!(!stored.contains("BEGIN:VALARM"), "{stored}");
    s.stop().await;
}

/// An organizer object of Thunderbird's or Apple Calendar's shape: both invitees here get a
/// copy (the organizer's VALARMs and client-private properties stay with the organizer) and
/// the REQUEST.
async fn client_organizer_objects(engine: Engine) {
    for (client, file) in [("thunderbird", "clients/thunderbird-organizer.ics"), ("apple", "clients/apple-organizer-series.ics")] {
        let s = start_server(engine).await;
        // The harness has a user "bob" already (without email): Bob here is "bobb".
        for (name, email) in [("olivia", "olivia"), ("bobb", "bob"), ("carol", "carol")] {
            users::create(&s.store, name, Some(&format!("{email}@example.com")), &format!("{name}-pw")).await.unwrap();
        }
        let body = fixture(file);
        let r = put_as(&s, "olivia", "/calendars/olivia/calendar/event.ics", &body).await;
        assert_eq!(r.status, 201, "{client}: {}", r.body);
        assert!(r.header("schedule-tag").is_some(), "{client}");
        let stored = get_as(&s, "olivia", "/calendars/olivia/calendar/event.ics").await.body;
        for (invitee, email) in [("bobb", "bob"), ("carol", "carol")] {
            if !body.to_lowercase().contains(&format!("{email}@example.com")) {
                continue;
            }
            assert!(line_of(&stored, "ATTENDEE", &format!("{email}@")).contains("SCHEDULE-STATUS=1.2"), "{client}: {stored}");
            let copies = members(&s, invitee, "calendar").await;
            assert_eq!(copies.len(), 1, "{client}: {invitee}");
            let copy = get_as(&s, invitee, &copies[0]).await.body;
            assert!(!copy.contains("X-MOZ-") && !copy.contains("SCHEDULE-STATUS=1.2;"), "{client}: private data leaked: {copy}");
            let inbox = members(&s, invitee, "inbox").await;
            assert_eq!(inbox.len(), 1, "{client}: {invitee}");
            let message = get_as(&s, invitee, &inbox[0]).await.body;
            assert!(message.contains("METHOD:REQUEST") && !message.contains("BEGIN:VALARM"), "{client}: {message}");
        }
        s.stop().await;
    }
}

on_both_engines!(rfc6638_appendix_b, client_organizer_objects);
