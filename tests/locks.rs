//! WebDAV locks (issue 23, RFC 4918 §6–§7, §9.10–§9.11, decision 0030) over HTTP on both
//! engines: the `If` header's lists and conditions, conflicts between two users and two tokens,
//! expiry on the server's clock moved forward, locks on unmapped URLs in plain and calendar
//! collections, Depth infinity locks on collections, and a second server on the same
//! PostgreSQL database honouring a lock taken on the first.
#![allow(clippy::unwrap_used)]

mod harness;
mod support;

use harness::*;
use kalends::service::shares;
use kalends::store::{Access, LockStore};

fn lockinfo(scope: &str, owner: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:{scope}/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>{owner}</D:owner></D:lockinfo>"#
    )
}

/// Takes a lock as `user`; returns the response (the token is in `Lock-Token`).
async fn lock_as(s: &TestServer, user: &str, pw: &str, path: &str, scope: &str, depth: &str) -> Response {
    send(s.req_as(user, pw, "LOCK", path).header("Depth", depth).header("Timeout", "Second-600").body(lockinfo(scope, user))).await
}

/// Takes an exclusive Depth 0 lock as alice and returns its token.
async fn lock(s: &TestServer, path: &str) -> String {
    let r = lock_as(s, "alice", ALICE_PW, path, "exclusive", "0").await;
    assert!(r.status == 200 || r.status == 201, "LOCK {path}: {} {}", r.status, r.body);
    token_of(&r)
}

fn token_of(r: &Response) -> String {
    let header = r.header("lock-token").unwrap_or_else(|| panic!("no Lock-Token: {}", r.body));
    let token = header.trim_start_matches('<').trim_end_matches('>').to_owned();
    assert!(token.starts_with("urn:uuid:"), "{token}");
    // §9.10.1: the answer's lockdiscovery names the new lock.
    let tokens: Vec<String> = all_named(&r.xml(), "locktoken").iter().map(|t| t.child(DAV, "href").unwrap().text()).collect();
    assert_eq!(tokens, vec![token.clone()], "{}", r.body);
    token
}

/// Every `DAV:{local}` element in the tree, in document order.
fn all_named(e: &kalends::dav::xml::Element, local: &str) -> Vec<kalends::dav::xml::Element> {
    let mut out = Vec::new();
    for c in e.children() {
        if c.is(DAV, local) {
            out.push(c.clone());
        }
        out.extend(all_named(c, local));
    }
    out
}

async fn put_if(s: &TestServer, path: &str, body: &str, if_header: Option<&str>) -> Response {
    let mut rb = s.req("PUT", path).header("Content-Type", "text/calendar").body(body.to_owned());
    if let Some(h) = if_header {
        rb = rb.header("If", h);
    }
    send(rb).await
}

/// The `DAV:lockdiscovery` of `path` as `user`: (token or None, timeout, owner text) per lock.
async fn discover(s: &TestServer, user: &str, pw: &str, path: &str) -> Vec<(Option<String>, String, Option<String>)> {
    let body = r#"<propfind xmlns="DAV:"><prop><lockdiscovery/><supportedlock/></prop></propfind>"#;
    let r = send(s.req_as(user, pw, "PROPFIND", path).header("Depth", "0").body(body)).await;
    assert_eq!(r.status, 207, "{}", r.body);
    let root = r.xml();
    let response = root.children().next().unwrap();
    let (status, supported) = prop(response, DAV, "supportedlock").unwrap();
    assert_eq!((status, supported.children().count()), (200, 2), "exclusive and shared write locks");
    let (_, discovery) = prop(response, DAV, "lockdiscovery").unwrap();
    discovery
        .children()
        .map(|a| {
            let token = a.child(DAV, "locktoken").map(|t| t.child(DAV, "href").unwrap().text());
            (token, a.child(DAV, "timeout").unwrap().text(), a.child(DAV, "owner").map(|o| o.text()))
        })
        .collect()
}

const OBJ: &str = "/calendars/alice/calendar/locked.ics";

async fn if_header_conditions(engine: Engine) {
    let s = start_server(engine).await;
    assert_eq!(s.put_ics(OBJ, &event("l1", "one")).await.status, 201);
    let etag = send(s.req("HEAD", OBJ)).await.header("etag").unwrap();
    let token = lock(&s, OBJ).await;
    let new = event("l1", "two");
    // RFC 4918 §10.4.2: malformed headers are 400, before anything else.
    for bad in ["(<no-scheme>)", "<http://x/a>", "([unquoted])", "()"] {
        assert_eq!(put_if(&s, OBJ, &new, Some(bad)).await.status, 400, "{bad}");
    }
    // §10.4.6: a list holds when all its conditions do; the header when one list does.
    assert_eq!(put_if(&s, OBJ, &new, Some(&format!("(<{token}> [\"wrong\"])"))).await.status, 412);
    let r = put_if(&s, OBJ, &new, Some(&format!("(<{token}> [{etag}])"))).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let etag = send(s.req("HEAD", OBJ)).await.header("etag").unwrap();
    // The second list holds; the token counts as submitted although its list does not (§7.5).
    let r = put_if(&s, OBJ, &new, Some(&format!("(<{token}> [\"wrong\"]) ([{etag}])"))).await;
    assert_eq!(r.status, 204, "{}", r.body);
    // §10.4.8: (Not <DAV:no-lock>) always holds; a corrupted token is no lock token.
    let r = put_if(&s, OBJ, &new, Some(&format!("(<{token}x>) (Not <DAV:no-lock>)"))).await;
    assert_eq!(r.status, 423);
    assert_eq!(r.condition(), (DAV.into(), "lock-token-submitted".into()));
    assert_eq!(put_if(&s, OBJ, &new, Some(&format!("(<{token}>) (Not <DAV:no-lock>)"))).await.status, 204);
    // §10.4.7: Not of the lock's own token is false.
    assert_eq!(put_if(&s, OBJ, &new, Some(&format!("(Not <{token}>)"))).await.status, 412);
    assert_eq!(put_if(&s, OBJ, &new, Some("(<DAV:no-lock>)")).await.status, 412);
    // §10.4.9: a tagged list names its resource, as an absolute URI or a path.
    let absolute = format!("{}{OBJ}", s.base);
    assert_eq!(put_if(&s, OBJ, &new, Some(&format!("<{absolute}> (<{token}>)"))).await.status, 204);
    assert_eq!(put_if(&s, OBJ, &new, Some(&format!("<{OBJ}> (<{token}>)"))).await.status, 204);
    let other = "/calendars/alice/calendar/other.ics";
    assert_eq!(put_if(&s, OBJ, &new, Some(&format!("<{other}> (<{token}>)"))).await.status, 412, "the token is no lock on other.ics");
    // Without any If header the lock refuses the write.
    assert_eq!(put_if(&s, OBJ, &new, None).await.status, 423);
    s.stop().await;
}

async fn conflicts_between_users_and_tokens(engine: Engine) {
    let s = start_server(engine).await;
    let (share, _) = shares::add(&s.store, "alice", "calendar", "bob", Access::ReadWrite).await.unwrap();
    let bob_obj = format!("/calendars/bob/{}/locked.ics", share.segment);
    assert_eq!(s.put_ics(OBJ, &event("l2", "one")).await.status, 201);
    let token = lock(&s, OBJ).await;
    // Bob sees the lock on his view of the share, without its token or owner (decision 0030).
    let seen = discover(&s, "bob", BOB_PW, &bob_obj).await;
    assert_eq!(seen.len(), 1);
    assert_eq!((seen[0].0.as_ref(), seen[0].2.as_ref()), (None, None));
    assert_eq!(discover(&s, "alice", ALICE_PW, OBJ).await[0].0.as_deref(), Some(token.as_str()));
    // RFC 4918 §9.1: allprop returns both lock properties, propname names them.
    let r = s.propfind(OBJ, "0", r#"<propfind xmlns="DAV:"><allprop/></propfind>"#).await;
    let (status, discovery) = prop(&r.response_for(OBJ), DAV, "lockdiscovery").unwrap();
    assert_eq!(status, 200);
    assert_eq!(all_named(&discovery, "href")[0].text(), token);
    let r = s.propfind(OBJ, "0", r#"<propfind xmlns="DAV:"><propname/></propfind>"#).await;
    let response = r.response_for(OBJ);
    assert!(prop(&response, DAV, "lockdiscovery").is_some() && prop(&response, DAV, "supportedlock").is_some(), "{}", r.body);
    // One user cannot use another's token (RFC 4918 §6.4).
    let with_token = |path: &str| {
        s.req_as("bob", BOB_PW, "PUT", path).header("Content-Type", "text/calendar").header("If", format!("(<{token}>)")).body(event("l2", "bob"))
    };
    let r = send(with_token(&bob_obj)).await;
    assert_eq!(r.status, 423, "{}", r.body);
    assert_eq!(r.condition(), (DAV.into(), "lock-token-submitted".into()));
    assert!(r.body.contains(&bob_obj), "the lock root as bob reaches it: {}", r.body);
    assert_eq!(send(s.req_as("bob", BOB_PW, "DELETE", &bob_obj)).await.status, 423);
    let r = send(s.req_as("bob", BOB_PW, "UNLOCK", &bob_obj).header("Lock-Token", format!("<{token}>"))).await;
    assert_eq!(r.status, 403, "the lock is alice's to remove");
    // §9.10.5: an exclusive lock refuses any other lock, with the lock in the way.
    let r = lock_as(&s, "bob", BOB_PW, &bob_obj, "shared", "0").await;
    assert_eq!(r.status, 423);
    assert_eq!(r.condition(), (DAV.into(), "no-conflicting-lock".into()));
    // §9.11.1: an unknown token is 409; the right one 204, and the resource is free again.
    let r = send(s.req("UNLOCK", OBJ).header("Lock-Token", "<urn:uuid:00000000-0000-4000-8000-000000000000>")).await;
    assert_eq!((r.status.as_u16(), r.condition().1), (409, "lock-token-matches-request-uri".into()));
    assert_eq!(send(s.req("UNLOCK", OBJ).header("Lock-Token", format!("<{token}>"))).await.status, 204);
    assert_eq!(send(with_token(&bob_obj)).await.status, 412, "a released token no longer matches (§10.4)");
    let r = send(s.req_as("bob", BOB_PW, "PUT", &bob_obj).header("Content-Type", "text/calendar").body(event("l2", "bob"))).await;
    assert_eq!(r.status, 204);

    // Shared locks: one each; either holder writes with their own token, not with the other's.
    let alice = token_of(&lock_as(&s, "alice", ALICE_PW, OBJ, "shared", "0").await);
    let bob = token_of(&lock_as(&s, "bob", BOB_PW, &bob_obj, "shared", "0").await);
    let second = token_of(&lock_as(&s, "alice", ALICE_PW, OBJ, "shared", "0").await);
    assert_ne!(alice, second, "two tokens for one user");
    assert_eq!(discover(&s, "alice", ALICE_PW, OBJ).await.len(), 3);
    assert_eq!(lock_as(&s, "alice", ALICE_PW, OBJ, "exclusive", "0").await.status, 423);
    assert_eq!(put_if(&s, OBJ, &event("l2", "a"), Some(&format!("(<{second}>)"))).await.status, 204);
    assert_eq!(put_if(&s, OBJ, &event("l2", "a"), Some(&format!("(<{bob}>)"))).await.status, 423);
    assert_eq!(put_if(&s, OBJ, &event("l2", "a"), None).await.status, 423);
    // Any shared lock's holder writes under all of them: bob deletes with his own token, and
    // the locks on the resource go with it (RFC 4918 §9.6).
    let r = send(s.req_as("bob", BOB_PW, "DELETE", &bob_obj).header("If", format!("(<{bob}>)"))).await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(s.put_ics(OBJ, &event("l2", "again")).await.status, 201, "no lock outlived the resource");
    s.stop().await;
}

async fn locks_expire_on_the_clock(engine: Engine) {
    let s = start_with(engine, |c| c.limits.lock_max_timeout_secs = 120).await;
    // Seconds are counted below: the system's second must not turn over between two steps.
    s.clock().freeze();
    assert_eq!(s.put_ics(OBJ, &event("l3", "one")).await.status, 201);
    let r = send(s.req("LOCK", OBJ).header("Timeout", "Second-60").body(lockinfo("exclusive", "me"))).await;
    let token = token_of(&r);
    assert_eq!(discover(&s, "alice", ALICE_PW, OBJ).await[0].1, "Second-60");
    // §10.7: Infinite gets the server's maximum.
    let coll = "/calendars/alice/tasks/";
    let r = send(s.req("LOCK", coll).header("Timeout", "Infinite").body(lockinfo("shared", "me"))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("Second-120"), "{}", r.body);
    // A refresh (no body, the token in If) restarts the timeout.
    s.clock().advance(50);
    let r = send(s.req("LOCK", OBJ).header("Timeout", "Second-60").header("If", format!("(<{token}>)"))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.header("lock-token").is_none(), "§9.10.2: a refresh names no new token");
    s.clock().advance(50);
    assert_eq!(put_if(&s, OBJ, &event("l3", "two"), None).await.status, 423, "refreshed 50 s ago for 60");
    s.clock().advance(11);
    assert!(discover(&s, "alice", ALICE_PW, OBJ).await.is_empty(), "expired");
    assert_eq!(put_if(&s, OBJ, &event("l3", "two"), None).await.status, 204);
    let r = send(s.req("LOCK", OBJ).header("If", format!("(<{token}>)"))).await;
    assert_eq!(r.status, 412, "an expired lock cannot be refreshed");
    // The purge worker's round deletes the expired row, and only it (the calendar's lock has 9 s).
    assert_eq!(s.store.drop_expired_locks(s.clock().now()).await.unwrap(), 1);
    assert_eq!(s.store.drop_expired_locks(s.clock().now()).await.unwrap(), 0);
    // An expired lock is in nobody's way.
    assert_eq!(lock_as(&s, "alice", ALICE_PW, OBJ, "exclusive", "0").await.status, 200);
    s.stop().await;
}

async fn locks_per_user_are_limited(engine: Engine) {
    let s = start_with(engine, |c| c.limits.max_locks_per_user = 2).await;
    assert_eq!(send(s.req("MKCOL", "/calendars/alice/files/")).await.status, 201);
    let path = |i: u32| format!("/calendars/alice/files/{i}.txt");
    let first = token_of(&lock_as(&s, "alice", ALICE_PW, &path(1), "exclusive", "0").await);
    lock(&s, &path(2)).await;
    let r = lock_as(&s, "alice", ALICE_PW, &path(3), "exclusive", "0").await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(send(s.req("GET", &path(3))).await.status, 404, "a refused LOCK creates nothing");
    // The limit is per user: bob's locks are his own.
    assert_eq!(send(s.req_as("bob", BOB_PW, "MKCOL", "/calendars/bob/files/")).await.status, 201);
    assert_eq!(lock_as(&s, "bob", BOB_PW, "/calendars/bob/files/a.txt", "exclusive", "0").await.status, 201);
    // A released or expired lock no longer counts.
    assert_eq!(send(s.req("UNLOCK", &path(1)).header("Lock-Token", format!("<{first}>"))).await.status, 204);
    lock(&s, &path(3)).await;
    assert_eq!(lock_as(&s, "alice", ALICE_PW, &path(4), "exclusive", "0").await.status, 403);
    s.clock().advance(601);
    lock(&s, &path(4)).await;
    s.stop().await;
}

async fn locks_on_unmapped_urls(engine: Engine) {
    let s = start_server(engine).await;
    // §7.3: in a plain collection, an empty resource that PROPFIND lists and GET answers.
    assert_eq!(send(s.req("MKCOL", "/calendars/alice/files/")).await.status, 201);
    let file = "/calendars/alice/files/new.txt";
    let r = lock_as(&s, "alice", ALICE_PW, file, "exclusive", "0").await;
    assert_eq!(r.status, 201, "{}", r.body);
    let token = token_of(&r);
    let r = send(s.req("GET", file)).await;
    assert_eq!((r.status.as_u16(), r.body.as_str()), (200, ""));
    let listed = s.propfind("/calendars/alice/files/", "1", r#"<propfind xmlns="DAV:"><prop><getetag/></prop></propfind>"#).await;
    assert!(listed.hrefs().contains(&file.to_owned()), "{}", listed.body);
    let r = send(s.req("PUT", file).header("If", format!("(<{token}>)")).body("text")).await;
    assert_eq!(r.status, 204, "{}", r.body);
    // A MOVE leaves its locks behind and they end (RFC 4918 §7.6): neither URL is locked.
    let moved = "/calendars/alice/files/moved.txt";
    assert_eq!(send(s.req("MOVE", file).header("Destination", moved)).await.status, 423);
    let r = send(s.req("MOVE", file).header("Destination", moved).header("If", format!("(<{token}>)"))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(discover(&s, "alice", ALICE_PW, moved).await.is_empty());
    assert_eq!(send(s.req("PUT", file).body("back")).await.status, 201);
    // Decision 0030: in a calendar, the lock holds the name; no calendar object exists until a
    // PUT, which must be a valid calendar object resource.
    let ics = "/calendars/alice/calendar/reserved.ics";
    let r = lock_as(&s, "alice", ALICE_PW, ics, "exclusive", "0").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let token = token_of(&r);
    assert_eq!(send(s.req("GET", ics)).await.status, 404);
    let listed = s.propfind("/calendars/alice/calendar/", "1", r#"<propfind xmlns="DAV:"><prop><getetag/></prop></propfind>"#).await;
    assert!(!listed.hrefs().contains(&ics.to_owned()), "no empty calendar object: {}", listed.body);
    assert_eq!(put_if(&s, ics, &event("l4", "x"), None).await.status, 423);
    let r = put_if(&s, ics, "not a calendar", Some(&format!("(<{token}>)"))).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.condition().1, "valid-calendar-data");
    assert_eq!(put_if(&s, ics, &event("l4", "x"), Some(&format!("(<{token}>)"))).await.status, 201);
    assert_eq!(send(s.req("UNLOCK", ics).header("Lock-Token", format!("<{token}>"))).await.status, 204);
    // No parent: 409 (§9.10.4); the home itself is not lockable.
    assert_eq!(lock_as(&s, "alice", ALICE_PW, "/calendars/alice/nope/x.txt", "exclusive", "0").await.status, 409);
    assert_eq!(lock_as(&s, "alice", ALICE_PW, "/calendars/alice/", "exclusive", "0").await.status, 403);
    s.stop().await;
}

async fn depth_infinity_locks_on_collections(engine: Engine) {
    let s = start_server(engine).await;
    let coll = "/calendars/alice/work/";
    assert_eq!(send(s.req("MKCALENDAR", coll)).await.status, 201);
    let member = "/calendars/alice/work/a.ics";
    assert_eq!(s.put_ics(member, &event("l5", "a")).await.status, 201);
    let r = lock_as(&s, "alice", ALICE_PW, coll, "exclusive", "infinity").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let token = token_of(&r);
    assert_eq!(all_named(&r.xml(), "depth")[0].text(), "infinity");
    // Members are under the lock: changed, added, removed, moved in or out only with its token.
    let r = put_if(&s, member, &event("l5", "b"), None).await;
    assert_eq!(r.status, 423);
    assert!(r.body.contains(coll), "the lock root is the collection: {}", r.body);
    assert_eq!(put_if(&s, "/calendars/alice/work/b.ics", &event("l5b", "b"), None).await.status, 423);
    assert_eq!(send(s.req("DELETE", member)).await.status, 423);
    assert_eq!(send(s.req("PROPPATCH", coll).body(r#"<propertyupdate xmlns="DAV:"><set><prop><displayname>x</displayname></prop></set></propertyupdate>"#)).await.status, 423);
    let r = send(s.req("COPY", "/calendars/alice/calendar/").header("Destination", "/calendars/alice/work/sub/")).await;
    assert!(r.status == 423 || r.status == 403, "{}", r.status);
    assert_eq!(send(s.req("MOVE", member).header("Destination", "/calendars/alice/calendar/a.ics")).await.status, 423);
    assert_eq!(send(s.req("DELETE", coll)).await.status, 423);
    // lockdiscovery on a member shows the collection's lock; a refresh through the member works.
    assert_eq!(discover(&s, "alice", ALICE_PW, member).await.len(), 1);
    let r = send(s.req("LOCK", member).header("If", format!("(<{token}>)"))).await;
    assert_eq!(r.status, 200, "§9.10.2 refresh through a member: {}", r.body);
    // With the token: a member written, then the whole collection deleted, its lock with it.
    assert_eq!(put_if(&s, member, &event("l5", "c"), Some(&format!("<{}{coll}> (<{token}>)", s.base))).await.status, 204);
    assert_eq!(send(s.req("DELETE", coll).header("If", format!("(<{token}>)"))).await.status, 204);
    assert_eq!(send(s.req("MKCALENDAR", coll)).await.status, 201);
    assert_eq!(s.put_ics(member, &event("l5", "d")).await.status, 201, "the old lock went with the collection");

    // A Depth 0 lock on a collection guards its membership, not its members' content.
    let token = token_of(&lock_as(&s, "alice", ALICE_PW, coll, "exclusive", "0").await);
    assert_eq!(s.put_ics(member, &event("l5", "e")).await.status, 204);
    assert_eq!(s.put_ics("/calendars/alice/work/c.ics", &event("l5c", "c")).await.status, 423);
    assert_eq!(send(s.req("DELETE", member)).await.status, 423);
    assert_eq!(send(s.req("MKCOL", "/calendars/alice/work/x/")).await.status, 423);
    // §10.4.10: the collection's token, tagged with the collection (it is no lock on c.ics).
    assert_eq!(put_if(&s, "/calendars/alice/work/c.ics", &event("l5c", "c"), Some(&format!("(<{token}>)"))).await.status, 412);
    let tagged = format!("<{coll}> (<{token}>)");
    assert_eq!(put_if(&s, "/calendars/alice/work/c.ics", &event("l5c", "c"), Some(&tagged)).await.status, 201);
    // A COPY of a locked resource is not locked (§7.6).
    assert_eq!(send(s.req("COPY", member).header("Destination", "/calendars/alice/calendar/copy.ics")).await.status, 201);
    assert!(discover(&s, "alice", ALICE_PW, "/calendars/alice/calendar/copy.ics").await.is_empty());
    s.stop().await;
}

/// The JSON API cannot submit a lock token: a WebDAV lock refuses its writes too (423).
async fn api_writes_honour_locks(engine: Engine) {
    let s = start_server(engine).await;
    assert_eq!(s.put_ics(OBJ, &event("api-1", "one")).await.status, 201);
    let token = lock(&s, OBJ).await;
    let events = "/api/v1/calendars/calendar/events";
    let body = r#"{"title":"changed","start":"2026-01-05T10:00:00Z","end":"2026-01-05T11:00:00Z"}"#;
    let put = || send(s.req("PUT", &format!("{events}/api-1")).header("Content-Type", "application/json").body(body));
    let r = put().await;
    assert_eq!(r.status, 423, "{}", r.body);
    assert_eq!(r.header("content-type").as_deref(), Some("application/problem+json"));
    assert_eq!(send(s.req("DELETE", &format!("{events}/api-1"))).await.status, 423);
    // A Depth infinity lock on the calendar refuses new events and the calendar's own changes.
    let cal = token_of(&lock_as(&s, "alice", ALICE_PW, "/calendars/alice/tasks/", "exclusive", "infinity").await);
    let r = send(s.req("PATCH", "/api/v1/calendars/tasks").header("Content-Type", "application/json").body(r#"{"name":"x"}"#)).await;
    assert_eq!(r.status, 423, "{}", r.body);
    assert_eq!(send(s.req("DELETE", "/api/v1/calendars/tasks")).await.status, 423);
    assert_eq!(send(s.req("UNLOCK", "/calendars/alice/tasks/").header("Lock-Token", format!("<{cal}>"))).await.status, 204);
    assert_eq!(send(s.req("UNLOCK", OBJ).header("Lock-Token", format!("<{token}>"))).await.status, 204);
    let r = put().await;
    assert_eq!(r.status, 200, "{}", r.body);
    s.stop().await;
}

on_both_engines!(
    api_writes_honour_locks,
    if_header_conditions,
    conflicts_between_users_and_tokens,
    locks_expire_on_the_clock,
    locks_per_user_are_limited,
    locks_on_unmapped_urls,
    depth_infinity_locks_on_collections,
);

/// Two servers on one PostgreSQL database, each with its own connection pool, as two nodes
/// behind a load balancer: a lock taken through one is honoured by the other, and released
/// through it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_node_honours_a_lock() {
    let (store, guard) = support::postgres_store().await;
    kalends::service::users::create(&store, "alice", None, ALICE_PW).await.unwrap();
    let shutdown = kalends::config::ShutdownConfig { grace_ms: 0, deadline_ms: 10_000 };
    let config = kalends::config::Config { listen: "127.0.0.1:0".parse().unwrap(), shutdown, ..Default::default() };
    let mut nodes = Vec::new();
    for store in [store, kalends::store::Store::open(guard.url()).await.unwrap()] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        nodes.push(kalends::app::start(&config, store, listener).unwrap());
    }
    let client = reqwest::Client::new();
    let req = |node: usize, method: &str, if_header: Option<String>| {
        let url = format!("http://{}{OBJ}", nodes[node].addr);
        let rb = client.request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), url).basic_auth("alice", Some(ALICE_PW));
        match if_header {
            Some(h) => rb.header("If", h),
            None => rb,
        }
    };
    let put = |node, if_header| send(req(node, "PUT", if_header).header("Content-Type", "text/calendar").body(event("n1", "x")));
    assert_eq!(put(0, None).await.status, 201);
    let r = send(req(0, "LOCK", None).header("Depth", "0").body(lockinfo("exclusive", "node one"))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let token = token_of(&r);
    assert_eq!(put(1, None).await.status, 423, "the second node sees the lock");
    assert_eq!(put(1, Some(format!("(<{token}>)"))).await.status, 204);
    let r = send(req(1, "UNLOCK", None).header("Lock-Token", format!("<{token}>"))).await;
    assert_eq!(r.status, 204);
    assert_eq!(put(0, None).await.status, 204, "released through the second node");
    // Ten exclusive LOCKs at once through both nodes: the home's row lock lets exactly one in.
    let attempts = (0..10).map(|i| send(req(i % 2, "LOCK", None).header("Depth", "0").body(lockinfo("exclusive", "racer"))));
    let statuses: Vec<u16> = futures_util::future::join_all(attempts).await.iter().map(|r| r.status.as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 423).count(), 9, "{statuses:?}");
    for node in nodes {
        node.stop().await;
    }
}
