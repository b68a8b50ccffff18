//! Calendars shared between users (issue 18, decision 0023), over HTTP on both engines: the share
//! in the sharee's home, each access level's isolation matrix, per-user properties, writes as
//! the owner (scheduling included), Apple's `CS:share` POST, removal and user deletion, and the
//! python `caldav` library as the sharee.
#![allow(clippy::unwrap_used)]

mod harness;
mod support;

use std::process::Command;

use harness::*;
use kalends::service::{shares, users};
use kalends::store::{Access, ShareStore, UserStore};

const CS: &str = "http://calendarserver.org/ns/";
const APPLE: &str = "http://apple.com/ns/ical/";
const CAROL_PW: &str = "carol-pw";

const PRIVS: &str = r#"<propfind xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:CS="http://calendarserver.org/ns/" xmlns:A="http://apple.com/ns/ical/"><prop><resourcetype/><displayname/><owner/><current-user-privilege-set/><CS:shared-url/><CS:getctag/><sync-token/><A:calendar-color/></prop></propfind>"#;

/// Shares alice's `calendar` with `sharee` and returns the share's path in the sharee's home.
async fn share(s: &TestServer, sharee: &str, access: Access) -> String {
    let (share, created) = shares::add(&s.store, "alice", "calendar", sharee, access).await.unwrap();
    assert!(created);
    format!("/calendars/{sharee}/{}/", share.segment)
}

async fn with_carol(s: &TestServer) {
    users::create(&s.store, "carol", Some("carol@example.org"), CAROL_PW).await.unwrap();
}

fn as_bob(s: &TestServer, method: &str, path: &str) -> reqwest::RequestBuilder {
    s.req_as("bob", BOB_PW, method, path)
}

async fn propfind_as(s: &TestServer, user: &str, pw: &str, path: &str, depth: &str) -> Response {
    send(s.req_as(user, pw, "PROPFIND", path).header("Depth", depth).body(PRIVS)).await
}

fn privileges(response: &Response, href: &str) -> Vec<String> {
    let (_, set) = prop(&response.response_for(href), DAV, "current-user-privilege-set").unwrap();
    let mut names: Vec<String> =
        set.children().filter_map(|p| p.children().next().map(|e| e.name.local.to_string())).collect();
    names.sort();
    names
}

fn resource_types(response: &Response, href: &str) -> Vec<(String, String)> {
    let (_, rt) = prop(&response.response_for(href), DAV, "resourcetype").unwrap();
    rt.children().map(|e| (e.name.ns.to_string(), e.name.local.to_string())).collect()
}

fn assert_needs(r: &Response, privilege: &str) {
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.condition(), (DAV.to_owned(), "need-privileges".to_owned()), "{}", r.body);
    let need = r.xml().child(DAV, "need-privileges").cloned().unwrap();
    let got = need.child(DAV, "resource").and_then(|res| res.child(DAV, "privilege")).and_then(|p| p.children().next().cloned());
    assert_eq!(got.map(|e| e.name.local.to_string()).as_deref(), Some(privilege), "{}", r.body);
}

async fn report_as(s: &TestServer, user: &str, pw: &str, path: &str, body: &str) -> Response {
    send(s.req_as(user, pw, "REPORT", path).header("Depth", "1").header("Content-Type", "application/xml").body(body.to_owned())).await
}

const SYNC: &str = r#"<sync-collection xmlns="DAV:"><sync-token/><sync-level>1</sync-level><prop><getetag/></prop></sync-collection>"#;
const QUERY: &str = r#"<C:calendar-query xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><prop><getetag/></prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="20260101T000000Z" end="20270101T000000Z"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"#;
const FREE_BUSY: &str = r#"<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav"><C:time-range start="20260101T000000Z" end="20260201T000000Z"/></C:free-busy-query>"#;

/// The share is listed in the sharee's home with CS:shared, the owner, the owner's URL and the
/// read privileges; the same collection answers the same getctag, sync and query to both.
async fn share_in_sharee_home(engine: Engine) {
    let s = start_server(engine).await;
    assert_eq!(s.put_ics("/calendars/alice/calendar/a.ics", &event("a", "Alice's event")).await.status, 201);
    let path = share(&s, "bob", Access::Read).await;
    assert!(path.starts_with("/calendars/bob/shared-"), "{path}");
    let home = propfind_as(&s, "bob", BOB_PW, "/calendars/bob/", "1").await;
    assert_eq!(home.status, 207, "{}", home.body);
    assert!(home.hrefs().contains(&"/calendars/bob/calendar/".to_owned()));
    assert!(!home.body.contains("/calendars/alice/tasks/"), "only what is shared: {}", home.body);
    let types = resource_types(&home, &path);
    for t in [(DAV, "collection"), (CALDAV, "calendar"), (CS, "shared")] {
        assert!(types.contains(&(t.0.to_owned(), t.1.to_owned())), "{t:?} in {types:?}");
    }
    assert_eq!(privileges(&home, &path), ["read", "read-current-user-privilege-set", "read-free-busy"]);
    let share_response = home.response_for(&path);
    assert_eq!(prop(&share_response, DAV, "owner").unwrap().1.child(DAV, "href").unwrap().text(), "/principals/alice/");
    assert_eq!(prop(&share_response, CS, "shared-url").unwrap().1.child(DAV, "href").unwrap().text(), "/calendars/alice/calendar/");
    assert_eq!(prop_text(&share_response, DAV, "displayname"), "Calendar");
    // Alice's side: her calendar is marked as one she shares (sharing.txt §5.3).
    let owner_home = propfind_as(&s, "alice", ALICE_PW, "/calendars/alice/", "1").await;
    assert!(resource_types(&owner_home, "/calendars/alice/calendar/").contains(&(CS.to_owned(), "shared-owner".to_owned())));
    assert!(!resource_types(&owner_home, "/calendars/alice/tasks/").contains(&(CS.to_owned(), "shared-owner".to_owned())));
    // Bob's own calendars are his: no CS:shared, all privileges.
    assert!(!resource_types(&home, "/calendars/bob/calendar/").contains(&(CS.to_owned(), "shared".to_owned())));
    assert!(privileges(&home, "/calendars/bob/calendar/").contains(&"write-content".to_owned()));
    // The same collection: the same getctag and sync token as alice sees.
    let mine = propfind_as(&s, "alice", ALICE_PW, "/calendars/alice/calendar/", "0").await;
    for (ns, p) in [(CS, "getctag"), (DAV, "sync-token")] {
        assert_eq!(prop_text(&share_response, ns, p), prop_text(&mine.response_for("/calendars/alice/calendar/"), ns, p), "{p}");
    }
    let r = report_as(&s, "bob", BOB_PW, &path, SYNC).await;
    assert_eq!(r.status, 207, "{}", r.body);
    assert_eq!(r.hrefs(), [format!("{path}a.ics")]);
    // Incrementally through the share, from the token it gave: only what changed since.
    let token = r.xml().child(DAV, "sync-token").unwrap().text();
    assert_eq!(s.put_ics("/calendars/alice/calendar/b.ics", &event("b", "Another")).await.status, 201);
    let since = SYNC.replace("<sync-token/>", &format!("<sync-token>{token}</sync-token>"));
    let r = report_as(&s, "bob", BOB_PW, &path, &since).await;
    assert_eq!(r.status, 207, "{}", r.body);
    assert_eq!(r.hrefs(), [format!("{path}b.ics")]);
    assert_eq!(send(s.req("DELETE", "/calendars/alice/calendar/b.ics")).await.status, 204);
    let r = report_as(&s, "bob", BOB_PW, &path, QUERY).await;
    assert_eq!(r.hrefs(), [format!("{path}a.ics")]);
    let multiget = format!(
        r#"<C:calendar-multiget xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><prop><getetag/><C:calendar-data/></prop><href>{path}a.ics</href><href>/calendars/alice/calendar/a.ics</href></C:calendar-multiget>"#
    );
    let r = report_as(&s, "bob", BOB_PW, &path, &multiget).await;
    assert!(prop_text(&r.response_for(&format!("{path}a.ics")), CALDAV, "calendar-data").contains("Alice's event"));
    assert!(r.response_for("/calendars/alice/calendar/a.ics").child(DAV, "status").unwrap().text().contains("404"), "{}", r.body);
    let r = send(as_bob(&s, "GET", &format!("{path}a.ics"))).await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("Alice's event"));
    // Members list under the share's href.
    let r = propfind_as(&s, "bob", BOB_PW, &path, "1").await;
    assert!(r.hrefs().contains(&format!("{path}a.ics")), "{}", r.body);
    assert_eq!(privileges(&r, &format!("{path}a.ics")), ["read", "read-current-user-privilege-set", "read-free-busy"]);
    s.stop().await;
}

/// A read sharee cannot write, delete, PROPPATCH the owner's properties, create inside or move
/// out, and reaches none of the owner's other calendars; someone not shared with sees nothing.
async fn read_sharee_isolation(engine: Engine) {
    let s = start_server(engine).await;
    with_carol(&s).await;
    assert_eq!(s.put_ics("/calendars/alice/calendar/a.ics", &event("a", "Alice's event")).await.status, 201);
    let path = share(&s, "bob", Access::Read).await;
    let put = |p: String, body: String| send(as_bob(&s, "PUT", &p).header("Content-Type", "text/calendar").body(body));
    assert_needs(&put(format!("{path}new.ics"), event("new", "Bob's")).await, "bind");
    assert_needs(&put(format!("{path}a.ics"), event("a", "Changed")).await, "write-content");
    assert_needs(&send(as_bob(&s, "DELETE", &format!("{path}a.ics"))).await, "unbind");
    let description = r#"<propertyupdate xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><set><prop><C:calendar-description>mine</C:calendar-description></prop></set></propertyupdate>"#;
    assert_needs(&send(as_bob(&s, "PROPPATCH", &path).body(description)).await, "write-properties");
    let dead = r#"<propertyupdate xmlns="DAV:"><set><prop><x xmlns="urn:x">1</x></prop></set></propertyupdate>"#;
    assert_needs(&send(as_bob(&s, "PROPPATCH", &path).body(dead)).await, "write-properties");
    assert_needs(&send(as_bob(&s, "PROPPATCH", &format!("{path}a.ics")).body(dead)).await, "write-properties");
    assert_needs(&send(as_bob(&s, "MKCOL", &format!("{path}sub/"))).await, "bind");
    let mv = as_bob(&s, "MOVE", &format!("{path}a.ics")).header("Destination", format!("{}/calendars/bob/calendar/a.ics", s.base));
    assert_needs(&send(mv).await, "unbind");
    // Copying out is reading, but a transfer does not cross a share.
    let cp = as_bob(&s, "COPY", &format!("{path}a.ics")).header("Destination", format!("{}/calendars/bob/calendar/a.ics", s.base));
    assert_eq!(send(cp).await.status, 403);
    // Nothing changed for alice.
    let r = send(s.req("GET", "/calendars/alice/calendar/a.ics")).await;
    assert!(r.body.contains("Alice's event"));
    // The owner's other calendars and home stay hers.
    for p in ["/calendars/alice/tasks/", "/calendars/alice/", "/calendars/alice/calendar/a.ics"] {
        assert_eq!(propfind_as(&s, "bob", BOB_PW, p, "0").await.status, 403, "{p}");
    }
    // Carol, not a sharee, sees nothing: not under bob's share path, not under her own home.
    assert_eq!(propfind_as(&s, "carol", CAROL_PW, &path, "0").await.status, 403);
    let segment = path.trim_end_matches('/').rsplit('/').next().unwrap();
    let r = propfind_as(&s, "carol", CAROL_PW, &format!("/calendars/carol/{segment}/"), "0").await;
    assert_eq!(r.status, 404, "{}", r.body);
    let home = propfind_as(&s, "carol", CAROL_PW, "/calendars/carol/", "1").await;
    assert!(!home.hrefs().iter().any(|h| h.contains("/shared-")), "{}", home.body);
    s.stop().await;
}

/// A read-write sharee writes into the owner's calendar as the owner: the object is alice's,
/// and an event organized by alice written by bob invites its attendees from alice.
async fn read_write_sharee_writes_as_owner(engine: Engine) {
    let s = start_server(engine).await;
    with_carol(&s).await;
    let path = share(&s, "bob", Access::ReadWrite).await;
    let home = propfind_as(&s, "bob", BOB_PW, "/calendars/bob/", "1").await;
    assert_eq!(privileges(&home, &path), ["bind", "read", "read-current-user-privilege-set", "read-free-busy", "unbind", "write-content"]);
    let put = |p: String, body: String| send(as_bob(&s, "PUT", &p).header("Content-Type", "text/calendar").body(body));
    let r = put(format!("{path}b.ics"), event("b", "Bob wrote this")).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.header("location").as_deref(), Some(format!("{path}b.ics").as_str()));
    assert!(send(s.req("GET", "/calendars/alice/calendar/b.ics")).await.body.contains("Bob wrote this"));
    assert_eq!(send(s.req("DELETE", "/calendars/alice/calendar/b.ics")).await.status, 204);
    // The calendar's own properties stay alice's, even for a read-write sharee.
    let description = r#"<propertyupdate xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><set><prop><C:calendar-description>mine</C:calendar-description><displayname>Mine</displayname></prop></set></propertyupdate>"#;
    assert_needs(&send(as_bob(&s, "PROPPATCH", &path).body(description)).await, "write-properties");
    assert_eq!(send(s.req("GET", "/calendars/alice/calendar/b.ics")).await.status, 404);
    // RFC 6638 through a share: alice is the organizer's calendar user.
    let invitation = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nBEGIN:VEVENT\r\nUID:meet\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T100000Z\r\nDTEND:20260105T110000Z\r\nSUMMARY:Planning\r\nORGANIZER:mailto:alice@example.org\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:alice@example.org\r\nATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:carol@example.org\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let r = put(format!("{path}meet.ics"), invitation.to_owned()).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(r.header("schedule-tag").is_some(), "a scheduling object: {:?}", r.headers);
    let inbox = send(s.req_as("carol", CAROL_PW, "PROPFIND", "/calendars/carol/inbox/").header("Depth", "1")).await;
    assert_eq!(inbox.hrefs().len(), 2, "carol's inbox holds alice's REQUEST: {}", inbox.body);
    let copy = send(s.req_as("carol", CAROL_PW, "GET", "/calendars/carol/calendar/")).await;
    assert!(copy.body.contains("UID:meet"), "carol's copy: {}", copy.body);
    // Bob deleting it cancels it for carol, from alice (RFC 6638 §3.2.3).
    let r = send(as_bob(&s, "DELETE", &format!("{path}meet.ics"))).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let inbox = send(s.req_as("carol", CAROL_PW, "PROPFIND", "/calendars/carol/inbox/").header("Depth", "1")).await;
    assert_eq!(inbox.hrefs().len(), 3, "the CANCEL: {}", inbox.body);
    let copy = send(s.req_as("carol", CAROL_PW, "GET", "/calendars/carol/calendar/")).await;
    assert!(copy.body.contains("STATUS:CANCELLED"), "carol's copy: {}", copy.body);
    s.stop().await;
}

/// A free-busy sharee gets free/busy and nothing else, and is not shown the calendar.
async fn free_busy_sharee(engine: Engine) {
    let s = start_server(engine).await;
    assert_eq!(s.put_ics("/calendars/alice/calendar/a.ics", &event("a", "Secret")).await.status, 201);
    let path = share(&s, "bob", Access::FreeBusy).await;
    let r = report_as(&s, "bob", BOB_PW, &path, FREE_BUSY).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("FREEBUSY") && r.body.contains("20260105T100000Z"), "{}", r.body);
    assert!(!r.body.contains("Secret"));
    assert_needs(&report_as(&s, "bob", BOB_PW, &path, QUERY).await, "read");
    assert_needs(&report_as(&s, "bob", BOB_PW, &path, SYNC).await, "read");
    assert_needs(&send(as_bob(&s, "GET", &format!("{path}a.ics"))).await, "read");
    assert_needs(&send(as_bob(&s, "GET", &path)).await, "read");
    assert_needs(&send(as_bob(&s, "GET", &format!("{path}nothing.ics"))).await, "read");
    let r = propfind_as(&s, "bob", BOB_PW, &path, "1").await;
    assert_eq!(r.hrefs(), std::slice::from_ref(&path), "no members: {}", r.body);
    assert_eq!(privileges(&r, &path), ["read-current-user-privilege-set", "read-free-busy"]);
    let home = propfind_as(&s, "bob", BOB_PW, "/calendars/bob/", "1").await;
    assert!(!home.hrefs().contains(&path), "not listed: {}", home.body);
    s.stop().await;
}

/// The sharee's displayname and colour are theirs; the owner's stay; removing them shows the
/// owner's again.
async fn per_user_properties(engine: Engine) {
    let s = start_server(engine).await;
    let path = share(&s, "bob", Access::Read).await;
    let set = r#"<propertyupdate xmlns="DAV:" xmlns:A="http://apple.com/ns/ical/"><set><prop><displayname>Alice (shared)</displayname><A:calendar-color>#00FF00FF</A:calendar-color></prop></set></propertyupdate>"#;
    let r = send(as_bob(&s, "PROPPATCH", &path).body(set)).await;
    assert_eq!(r.status, 207, "{}", r.body);
    assert!(!r.body.contains("403") && !r.body.contains("424"), "{}", r.body);
    let bob = propfind_as(&s, "bob", BOB_PW, &path, "0").await;
    assert_eq!(prop_text(&bob.response_for(&path), DAV, "displayname"), "Alice (shared)");
    assert_eq!(prop_text(&bob.response_for(&path), APPLE, "calendar-color"), "#00FF00FF");
    let alice = propfind_as(&s, "alice", ALICE_PW, "/calendars/alice/calendar/", "0").await;
    assert_eq!(prop_text(&alice.response_for("/calendars/alice/calendar/"), DAV, "displayname"), "Calendar");
    assert_ne!(prop(&alice.response_for("/calendars/alice/calendar/"), APPLE, "calendar-color").unwrap().0, 200);
    let remove = r#"<propertyupdate xmlns="DAV:"><remove><prop><displayname/></prop></remove></propertyupdate>"#;
    assert_eq!(send(as_bob(&s, "PROPPATCH", &path).body(remove)).await.status, 207);
    let bob = propfind_as(&s, "bob", BOB_PW, &path, "0").await;
    assert_eq!(prop_text(&bob.response_for(&path), DAV, "displayname"), "Calendar");
    assert_eq!(prop_text(&bob.response_for(&path), APPLE, "calendar-color"), "#00FF00FF");
    s.stop().await;
}

/// Removing a share removes the bind (404 to a resyncing client, gone from the home); a sharee
/// may leave with DELETE; deleting either user removes their shares.
async fn removal_and_user_deletion(engine: Engine) {
    let s = start_server(engine).await;
    with_carol(&s).await;
    assert_eq!(s.put_ics("/calendars/alice/calendar/a.ics", &event("a", "A")).await.status, 201);
    let path = share(&s, "bob", Access::Read).await;
    assert!(shares::remove(&s.store, "alice", "calendar", "bob").await.unwrap());
    assert!(!shares::remove(&s.store, "alice", "calendar", "bob").await.unwrap());
    assert_eq!(report_as(&s, "bob", BOB_PW, &path, SYNC).await.status, 404);
    assert_eq!(send(as_bob(&s, "GET", &format!("{path}a.ics"))).await.status, 404);
    assert_eq!(propfind_as(&s, "bob", BOB_PW, &path, "0").await.status, 404);
    assert!(!propfind_as(&s, "bob", BOB_PW, "/calendars/bob/", "1").await.hrefs().iter().any(|h| h.contains("/shared-")));
    // The sharee leaves: alice's calendar stays.
    let path = share(&s, "bob", Access::ReadWrite).await;
    assert_eq!(send(as_bob(&s, "DELETE", &path)).await.status, 204);
    assert_eq!(propfind_as(&s, "bob", BOB_PW, &path, "0").await.status, 404);
    assert_eq!(send(s.req("GET", "/calendars/alice/calendar/a.ics")).await.status, 200);
    // Deleting the sharee, then the owner, cascades.
    share(&s, "bob", Access::Read).await;
    share(&s, "carol", Access::Read).await;
    let alice = s.store.user_by_name("alice").await.unwrap().unwrap();
    assert_eq!(s.store.shares_by_owner(alice.id).await.unwrap().len(), 2);
    users::delete(&s.store, "bob").await.unwrap();
    assert_eq!(s.store.shares_by_owner(alice.id).await.unwrap().len(), 1);
    users::delete(&s.store, "alice").await.unwrap();
    let carol = s.store.user_by_name("carol").await.unwrap().unwrap();
    assert!(s.store.shares_to(carol.id).await.unwrap().is_empty());
    assert!(!propfind_as(&s, "carol", CAROL_PW, "/calendars/carol/", "1").await.hrefs().iter().any(|h| h.contains("/shared-")));
    s.stop().await;
}

/// Apple's "Share With…": the recorded `CS:share` POST, CS:invite and allowed-sharing-modes, the
/// DAV header that makes Apple offer it, and what only the owner may do.
async fn apple_share_post(engine: Engine) {
    let s = start_server(engine).await;
    with_carol(&s).await;
    users::create(&s.store, "bobby", Some("bob@example.org"), "bobby-pw").await.unwrap();
    users::create(&s.store, "dave", Some("dave@example.org"), "dave-pw").await.unwrap();
    shares::add(&s.store, "alice", "calendar", "dave", Access::Read).await.unwrap();
    let options = send(s.anon("OPTIONS", "/calendars/alice/calendar/")).await;
    assert!(options.header("dav").unwrap().contains("calendarserver-sharing"));
    let body = std::fs::read_to_string(format!("{}/fixtures/dav/requests/apple/post-share.xml", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let post = |b: String| send(s.req("POST", "/calendars/alice/calendar/").header("Content-Type", "text/xml").body(b));
    let r = post(body.clone()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (given, _) = shares::list(&s.store, "alice").await.unwrap();
    let got: Vec<(String, Access)> = given.iter().map(|s| (s.sharee_name.clone(), s.access)).collect();
    assert_eq!(got, [("bobby".to_owned(), Access::ReadWrite), ("carol".to_owned(), Access::Read)]);
    let ask = r#"<propfind xmlns="DAV:" xmlns:CS="http://calendarserver.org/ns/"><prop><CS:invite/><CS:allowed-sharing-modes/></prop></propfind>"#;
    let r = send(s.req("PROPFIND", "/calendars/alice/calendar/").header("Depth", "0").body(ask)).await;
    let mine = r.response_for("/calendars/alice/calendar/");
    let invite = prop(&mine, CS, "invite").unwrap().1;
    let users: Vec<(String, bool)> = invite
        .children()
        .map(|u| (u.child(DAV, "href").unwrap().text(), u.child(CS, "access").unwrap().child(CS, "read-write").is_some()))
        .collect();
    assert_eq!(users, [("mailto:bob@example.org".to_owned(), true), ("mailto:carol@example.org".to_owned(), false)]);
    assert!(invite.children().all(|u| u.child(CS, "invite-accepted").is_some()));
    assert!(prop(&mine, CS, "allowed-sharing-modes").unwrap().1.child(CS, "can-be-shared").is_some());
    // The share is in carol's home at once (accepted automatically).
    let home = propfind_as(&s, "carol", CAROL_PW, "/calendars/carol/", "1").await;
    assert_eq!(home.hrefs().iter().filter(|h| h.contains("/shared-")).count(), 1, "{}", home.body);
    // An address of nobody here changes nothing.
    let unknown = body.replace("mailto:bob@example.org", "mailto:nobody@example.org");
    let r = post(unknown).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(shares::list(&s.store, "alice").await.unwrap().0.len(), 2);
    // Only the owner shares: not bob in his own view of a share.
    let (share, _) = shares::add(&s.store, "alice", "calendar", "bob", Access::ReadWrite).await.unwrap();
    let r = send(as_bob(&s, "POST", &format!("/calendars/bob/{}/", share.segment)).header("Content-Type", "text/xml").body(body)).await;
    assert_eq!(r.status, 403, "{}", r.body);
    s.stop().await;
}

/// The python `caldav` library as the sharee: discovery from the base URL finds the share; it
/// reads alice's events; it writes only with read-write access.
async fn python_caldav_sharee(engine: Engine) {
    let s = start_server(engine).await;
    assert_eq!(s.put_ics("/calendars/alice/calendar/a.ics", &event("a", "Alice's event")).await.status, 201);
    let path = share(&s, "bob", Access::Read).await;
    let out = sharee(&s, "from-read").await;
    assert!(out["url"].as_str().unwrap().ends_with(&path), "{out}");
    assert_eq!(out["summaries"], serde_json::json!(["Alice's event"]));
    assert!(out["write"].as_str().unwrap().starts_with("refused"), "{out}");
    assert_eq!(send(s.req("GET", "/calendars/alice/calendar/")).await.body.matches("BEGIN:VEVENT").count(), 1);
    shares::add(&s.store, "alice", "calendar", "bob", Access::ReadWrite).await.unwrap();
    let out = sharee(&s, "from-read-write").await;
    assert_eq!(out["write"], "ok", "{out}");
    let export = send(s.req("GET", "/calendars/alice/calendar/")).await.body;
    assert!(export.contains("UID:from-read-write"), "{export}");
    s.stop().await;
}

/// Runs tests/support/sharee_caldav.py as bob; fails loudly without Python or the package.
async fn sharee(s: &TestServer, uid: &str) -> serde_json::Value {
    let script = format!("{}/tests/support/sharee_caldav.py", env!("CARGO_MANIFEST_DIR"));
    let python = support::python();
    let (base, uid) = (format!("{}/", s.base), uid.to_owned());
    let out = tokio::task::spawn_blocking(move || {
        Command::new(&python)
            .args([script.as_str(), &base, "bob", BOB_PW, &uid])
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}; install python3, or set KALENDS_TEST_PYTHON", python.display()))
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    match out.status.code() {
        Some(0) => {}
        Some(3) => panic!("{stderr}\nthe sharing test needs the python caldav library: run `conformance/run --venv` (tools/test-all does)"),
        _ => panic!("the caldav sharee failed: {stderr}"),
    }
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// The share is bound to the calendar, not to its path: the owner renaming it (MOVE) keeps the
/// sharee's URL and moves `CS:shared-url`; the owner deleting it removes the share.
async fn owner_moves_and_deletes(engine: Engine) {
    let s = start_server(engine).await;
    assert_eq!(send(s.req("MKCALENDAR", "/calendars/alice/work/")).await.status, 201);
    assert_eq!(s.put_ics("/calendars/alice/work/w.ics", &event("w", "Work")).await.status, 201);
    let (share, _) = shares::add(&s.store, "alice", "work", "bob", Access::Read).await.unwrap();
    let path = format!("/calendars/bob/{}/", share.segment);
    let mv = s.req("MOVE", "/calendars/alice/work/").header("Destination", format!("{}/calendars/alice/job/", s.base));
    assert_eq!(send(mv).await.status, 201);
    let r = propfind_as(&s, "bob", BOB_PW, &path, "0").await;
    assert_eq!(r.status, 207, "{}", r.body);
    assert_eq!(prop(&r.response_for(&path), CS, "shared-url").unwrap().1.child(DAV, "href").unwrap().text(), "/calendars/alice/job/");
    assert!(send(as_bob(&s, "GET", &format!("{path}w.ics"))).await.body.contains("Work"));
    assert_eq!(send(s.req("DELETE", "/calendars/alice/job/")).await.status, 204);
    assert_eq!(propfind_as(&s, "bob", BOB_PW, &path, "0").await.status, 404);
    assert_eq!(report_as(&s, "bob", BOB_PW, &path, SYNC).await.status, 404);
    s.stop().await;
}

fn fixture(path: &str) -> String {
    let file = format!("{}/fixtures/dav/requests/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// The recorded discovery requests of Apple Calendar, DAVx5 and Thunderbird, sent by a read
/// sharee: each finds the share in the home listing with what it decides on (a calendar,
/// shared, read-only, its components), and Thunderbird's calendar check answers on the share.
async fn clients_find_the_share(engine: Engine) {
    let s = start_server(engine).await;
    let path = share(&s, "bob", Access::Read).await;
    let read_only = ["read", "read-current-user-privilege-set", "read-free-busy"];
    for client in ["apple", "davx5"] {
        let body = fixture(&format!("{client}/propfind-home-depth1.xml"));
        let r = send(as_bob(&s, "PROPFIND", "/calendars/bob/").header("Depth", "1").body(body)).await;
        assert_eq!(r.status, 207, "{client}: {}", r.body);
        assert!(resource_types(&r, &path).contains(&(CS.to_owned(), "shared".to_owned())), "{client}");
        assert!(resource_types(&r, &path).contains(&(CALDAV.to_owned(), "calendar".to_owned())), "{client}");
        assert_eq!(privileges(&r, &path), read_only, "{client}");
        let comps = prop(&r.response_for(&path), CALDAV, "supported-calendar-component-set").unwrap();
        assert_eq!((comps.0, comps.1.children().count()), (200, 2), "{client}");
        assert_eq!(prop(&r.response_for(&path), DAV, "owner").unwrap().1.child(DAV, "href").unwrap().text(), "/principals/alice/");
    }
    // Apple: only the owner's own calendars offer sharing and list sharees.
    let r = send(as_bob(&s, "PROPFIND", "/calendars/bob/").header("Depth", "1").body(fixture("apple/propfind-home-depth1.xml"))).await;
    assert_eq!(prop(&r.response_for(&path), CS, "allowed-sharing-modes").unwrap().0, 404);
    assert_eq!(prop(&r.response_for("/calendars/bob/calendar/"), CS, "allowed-sharing-modes").unwrap().0, 200);
    assert_eq!(prop(&r.response_for("/calendars/bob/calendar/"), CS, "invite").unwrap().0, 200);
    let body = fixture("thunderbird/propfind-calendar-depth0.xml");
    let r = send(as_bob(&s, "PROPFIND", &path).header("Depth", "0").body(body)).await;
    assert_eq!(r.status, 207, "{}", r.body);
    assert_eq!(privileges(&r, &path), read_only);
    let reports = prop(&r.response_for(&path), DAV, "supported-report-set").unwrap().1;
    assert!(reports.to_xml().contains("calendar-multiget") && reports.to_xml().contains("sync-collection"));
    let owner = propfind_as(&s, "alice", ALICE_PW, "/calendars/alice/calendar/", "0").await;
    assert_eq!(
        prop_text(&r.response_for(&path), CS, "getctag"),
        prop_text(&owner.response_for("/calendars/alice/calendar/"), CS, "getctag")
    );
    s.stop().await;
}

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

/// `kalends share add|list|remove` as an administrator types them.
#[test]
fn cli_share_add_list_remove() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| kalends(dir.path(), args);
    assert_eq!(run(&["user", "add", "alice"]).0, 0);
    assert_eq!(run(&["user", "add", "bob"]).0, 0);
    let (code, out) = run(&["share", "add", "alice", "calendar", "bob", "--access", "read-write"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("shared alice/calendar with bob (read-write): /calendars/bob/shared-"), "{out}");
    let (code, out) = run(&["share", "add", "alice", "calendar", "bob", "--access", "free-busy"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("changed the share of alice/calendar with bob (free-busy)"), "{out}");
    let (_, given) = run(&["share", "list", "alice"]);
    assert!(given.starts_with("to\tcalendar\tbob\tfree-busy\t/calendars/bob/shared-"), "{given}");
    let (_, received) = run(&["share", "list", "bob"]);
    assert!(received.starts_with("from\tcalendar\talice\tfree-busy\t/calendars/bob/shared-"), "{received}");
    // The URL stays when the access changes.
    assert_eq!(given.trim_end().rsplit('\t').next(), received.trim_end().rsplit('\t').next());
    assert_ne!(run(&["share", "add", "alice", "calendar", "bob", "--access", "owner"]).0, 0);
    let (code, out) = run(&["share", "add", "alice", "inbox", "bob", "--access", "read"]);
    assert_ne!(code, 0);
    assert!(out.contains("not a calendar"), "{out}");
    assert_ne!(run(&["share", "add", "alice", "calendar", "alice", "--access", "read"]).0, 0);
    assert_ne!(run(&["share", "add", "alice", "calendar", "nobody", "--access", "read"]).0, 0);
    let (code, out) = run(&["share", "remove", "alice", "calendar", "bob"]);
    assert_eq!(code, 0, "{out}");
    assert_ne!(run(&["share", "remove", "alice", "calendar", "bob"]).0, 0);
    assert_eq!(run(&["share", "list", "alice"]).1, "");
}

on_both_engines!(
    share_in_sharee_home,
    read_sharee_isolation,
    read_write_sharee_writes_as_owner,
    free_busy_sharee,
    per_user_properties,
    removal_and_user_deletion,
    apple_share_post,
    python_caldav_sharee,
    clients_find_the_share,
    owner_moves_and_deletes,
);
