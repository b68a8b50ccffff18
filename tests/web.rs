//! The web page (issue 21, part 1) black-box on both engines: the login (a bad password, the
//! failed-login limit), the session cookie's attributes, logout, CSRF refusals (no token, a
//! wrong one, a foreign Origin), DAV clients at `/` unchanged, the security headers, session
//! expiry on an explicit clock, the web store (job ids, progress, pruning). `tests/web_views.rs` has the
//! week and month views, events, import and export.
#![allow(clippy::unwrap_used)]

mod harness;
mod support;
#[path = "support/browser.rs"]
mod browser;

use browser::{Browser, form_body, input_value};
use harness::*;

async fn login_logout_and_the_session_cookie(engine: Engine) {
    let s = start_server(engine).await;
    // Unauthenticated: to the login form, which comes back here afterwards.
    let mut b = Browser::new(&s);
    let r = b.get("/web/calendars").await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location").unwrap(), "/web/login?next=%2Fweb%2Fcalendars");
    let form = b.get("/web/login?next=%2Fweb%2Fcalendars").await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("<label for=\"user\">User name</label>") && form.body.contains("<label for=\"password\">Password</label>"));
    let token = input_value(&form.body, "csrf").unwrap();
    let next = input_value(&form.body, "next").unwrap();
    assert_eq!(next, "/web/calendars");
    let r = b.post_raw("/web/login", &form_body(&[("csrf", &token), ("user", "alice"), ("password", ALICE_PW), ("next", &next)]), &[]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location").unwrap(), "/web/calendars");
    let cookie = b.set_cookies.iter().find(|c| c.starts_with("kalends_session=")).unwrap().clone();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.split("; ").any(|a| a == attr), "{attr} in {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain http: {cookie}");
    let value = cookie.split(';').next().unwrap().split_once('=').unwrap().1.to_owned();
    assert_eq!(value.len(), 43, "32 random bytes, base64url");
    // Only the token's SHA-256 is stored.
    let page = b.get("/web/calendars").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<span class=\"who\">alice</span>"));
    // The login form, with a session alive, leads on instead.
    let r = b.get("/web/login?next=%2Fweb%2Fimport").await;
    assert_eq!((r.status.as_u16(), r.header("location").as_deref()), (303, Some("/web/import")));
    for (h, v) in [("x-frame-options", "DENY"), ("cache-control", "no-store"), ("referrer-policy", "same-origin")] {
        assert_eq!(page.header(h).as_deref(), Some(v), "{h}");
    }
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("default-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
    // Logout deletes the session: the old cookie no longer opens anything.
    let old = b.cookies.clone();
    let r = b.post("/web/logout", &[]).await;
    assert_eq!(r.status, 303);
    assert!(b.set_cookies.iter().any(|c| c.starts_with("kalends_session=;") && c.contains("Max-Age=0")));
    b.cookies = old;
    assert_eq!(b.get("/web/calendars").await.status, 303);
    s.stop().await;
}

async fn a_wrong_password_and_the_failed_login_limit(engine: Engine) {
    let s = start_with(engine, |c| c.rate_limit.login_failures_per_minute = 3).await;
    let mut b = Browser::new(&s);
    let r = b.try_login("alice", "wrong").await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("Wrong user name or password."), "{}", r.body);
    assert!(!b.cookies.contains_key("kalends_session"));
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(b.try_login("alice", "wrong").await.status.as_u16());
    }
    assert!(statuses.contains(&429), "the failed-login limit of Basic auth applies: {statuses:?}");
    let r = b.try_login("alice", "wrong").await;
    assert_eq!(r.status, 429);
    assert!(r.body.contains("Too many failed logins"), "{}", r.body);
    assert!(r.header("retry-after").is_some());
    // As with Basic auth, the address is blocked for the right password too until it cools.
    assert_eq!(b.try_login("alice", ALICE_PW).await.status, 429);
    s.stop().await;
}

async fn posts_need_the_token_and_this_origin(engine: Engine) {
    let s = start_server(engine).await;
    let mut b = Browser::login(&s, "alice", ALICE_PW).await;
    let token = b.csrf().await;
    let create = |csrf: &str| form_body(&[("csrf", csrf), ("name", "Forged"), ("colour", "#112233")]);
    // No token, a wrong token, a foreign Origin, a cross-site fetch: all refused, nothing made.
    let r = b.post_raw("/web/calendars", &form_body(&[("name", "Forged")]), &[]).await;
    assert_eq!(r.status, 403);
    let wrong = format!("{}x", &token[..token.len() - 1]);
    assert_eq!(b.post_raw("/web/calendars", &create(&wrong), &[]).await.status, 403);
    assert_eq!(b.post_raw("/web/calendars", &create(&token), &[("Origin", "https://evil.example")]).await.status, 403);
    assert_eq!(b.post_raw("/web/calendars", &create(&token), &[("Sec-Fetch-Site", "cross-site")]).await.status, 403);
    // Another session's token is no good either.
    let mut bob = Browser::login(&s, "bob", BOB_PW).await;
    let bobs = bob.csrf().await;
    assert_eq!(b.post_raw("/web/calendars", &create(&bobs), &[]).await.status, 403);
    let r = s.propfind("/calendars/alice/", "1", "").await;
    assert!(!r.body.contains("forged"), "{}", r.body);
    // The right token from this origin works.
    let origin = s.base.clone();
    let r = b.post_raw("/web/calendars", &create(&token), &[("Origin", &origin), ("Sec-Fetch-Site", "same-origin")]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let r = s.propfind("/calendars/alice/forged/", "0", "").await;
    assert_eq!(r.status, 207);
    // The login form has its own token: a login without it is refused.
    let mut stranger = Browser::new(&s);
    let r = stranger.post_raw("/web/login", &form_body(&[("user", "alice"), ("password", ALICE_PW)]), &[]).await;
    assert_eq!(r.status, 403);
    assert!(!stranger.cookies.contains_key("kalends_session"));
    s.stop().await;
}

async fn dav_clients_at_the_root_are_unchanged(engine: Engine) {
    let s = start_server(engine).await;
    // A browser opening the server: to the web page.
    let r = send(s.anon("GET", "/").header("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")).await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location").unwrap(), "/web/");
    // Everything a DAV client sends there keeps today's answer.
    assert_eq!(send(s.anon("GET", "/")).await.status, 401);
    assert_eq!(send(s.anon("GET", "/").header("Accept", "*/*")).await.status, 401);
    assert_eq!(send(s.anon("PROPFIND", "/").header("Depth", "0").header("Accept", "text/html")).await.status, 401);
    assert_eq!(send(s.anon("OPTIONS", "/").header("Accept", "text/html")).await.status, 200);
    // Credentials mean a DAV client: the root's GET answer as before (RFC 4918 §9.4: an empty
    // text body for a collection).
    let r = send(s.req("GET", "/").header("Accept", "text/html")).await;
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/plain") && r.body.is_empty(), "{:?}", r.headers);
    let r = s.propfind("/", "0", "<?xml version=\"1.0\"?><propfind xmlns=\"DAV:\"><prop><current-user-principal/></prop></propfind>").await;
    assert_eq!(r.status, 207);
    assert!(r.body.contains("/principals/alice/"));
    // The web root itself sends a browser to its calendar.
    let mut b = Browser::login(&s, "alice", ALICE_PW).await;
    let r = b.get("/web/").await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location").unwrap(), "/web/calendar");
    s.stop().await;
}

/// Over HTTP, on the server's clock moved forward: idle too long, or used until past the
/// maximum age, a session sends its browser back to the login form.
async fn sessions_end_idle_or_old_on_the_servers_clock(engine: Engine) {
    use kalends::service::sessions::{IDLE, MAX_AGE};
    let s = start_server(engine).await;
    let clock = s.clock();
    let mut b = Browser::login(&s, "alice", ALICE_PW).await;
    clock.advance(IDLE - 60);
    assert_eq!(b.get("/web/calendars").await.status, 200, "used just within the idle timeout");
    clock.advance(IDLE + 1);
    assert_eq!(b.get("/web/calendars").await.status, 303, "idle too long");
    let mut b = Browser::login(&s, "alice", ALICE_PW).await;
    let mut used = 0;
    while used + IDLE / 2 < MAX_AGE {
        clock.advance(IDLE / 2);
        used += IDLE / 2;
        assert_eq!(b.get("/web/calendars").await.status, 200, "in use, {used} s after the login");
    }
    clock.advance(MAX_AGE - used + 1);
    let r = b.get("/web/calendars").await;
    assert_eq!(r.status, 303, "past the maximum age however busy");
    assert!(r.header("location").unwrap().starts_with("/web/login"));
    s.stop().await;
}

async fn sessions_expire_on_the_clock(engine: Engine) {
    use kalends::service::sessions::{IDLE, MAX_AGE, resume};
    let s = start_server(engine).await;
    let b = Browser::login(&s, "alice", ALICE_PW).await;
    let token = b.cookies["kalends_session"].clone();
    let now = kalends::service::now();
    assert!(resume(&s.store, &token, now).await.unwrap().is_some());
    // Used within the idle timeout: alive; idle past it, or past the maximum age: gone.
    assert!(resume(&s.store, &token, now + IDLE - 120).await.unwrap().is_some());
    assert!(resume(&s.store, &token, now + IDLE - 120 + IDLE + 1).await.unwrap().is_none());
    assert!(resume(&s.store, &token, now + MAX_AGE + 1).await.unwrap().is_none());
    assert!(resume(&s.store, "not-a-token", now).await.unwrap().is_none());
    s.stop().await;
}

async fn secure_cookies_behind_https_and_the_principal_limit(engine: Engine) {
    let s = start_with(engine, |c| {
        c.public_url = Some("https://cal.example.org/".into());
        c.rate_limit.principal_per_second = 1;
        c.rate_limit.principal_burst = 6;
    })
    .await;
    let b = Browser::login(&s, "alice", ALICE_PW).await;
    let cookie = b.set_cookies.iter().find(|c| c.starts_with("kalends_session=")).unwrap();
    assert!(cookie.split("; ").any(|a| a == "Secure"), "{cookie}");
    // The page's requests count against the principal as the API's do: 2 units a page.
    let mut b = b;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(b.get("/web/calendars").await.status.as_u16());
    }
    assert_eq!(statuses[0], 200);
    assert!(statuses.contains(&429), "{statuses:?}");
    // An Origin naming the public URL is this server's.
    let mut b2 = Browser::login(&s, "bob", BOB_PW).await;
    let page = b2.get("/web/import").await;
    let token = input_value(&page.body, "csrf").unwrap();
    let r = b2.post_raw("/web/calendars", &form_body(&[("csrf", &token), ("name", "Public"), ("colour", "#000000")]), &[("Origin", "https://cal.example.org")]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    s.stop().await;
}

/// The web store on both engines: a job id per user, progress and its end, pruning.
async fn the_web_store(engine: Engine) {
    use kalends::store::{NewWebSession, UserStore, WebStore};
    let s = start_server(engine).await;
    let (alice, bob) = (s.store.user_by_name("alice").await.unwrap().unwrap(), s.store.user_by_name("bob").await.unwrap().unwrap());
    assert!(s.store.start_import_job(alice.id, "job-00001", "calendar", 100).await.unwrap());
    assert!(!s.store.start_import_job(alice.id, "job-00001", "calendar", 101).await.unwrap(), "one job id per user");
    assert!(s.store.start_import_job(bob.id, "job-00001", "calendar", 101).await.unwrap(), "another user's id is another job");
    s.store.import_progress(alice.id, "job-00001", 200, 500, 102).await.unwrap();
    let j = s.store.import_job(alice.id, "job-00001").await.unwrap().unwrap();
    assert_eq!((j.done, j.total, j.state.as_str()), (200, 500, "running"));
    s.store.finish_import_job(alice.id, "job-00001", Some("{}"), None, 103).await.unwrap();
    let j = s.store.import_job(alice.id, "job-00001").await.unwrap().unwrap();
    assert_eq!((j.done, j.total, j.state.as_str(), j.report.as_deref()), (500, 500, "done", Some("{}")));
    s.store.finish_import_job(bob.id, "job-00001", None, Some("broken"), 103).await.unwrap();
    let j = s.store.import_job(bob.id, "job-00001").await.unwrap().unwrap();
    assert_eq!((j.done, j.state.as_str(), j.error.as_deref()), (0, "failed", Some("broken")));
    let session = |hash: &[u8], now: i64, expires_at: i64| NewWebSession { user: alice.id, token_hash: hash.to_vec(), csrf: "c".into(), now, expires_at };
    s.store.create_web_session(session(b"old", 100, 1000)).await.unwrap();
    s.store.create_web_session(session(b"new", 900, 5000)).await.unwrap();
    assert!(s.store.web_session_by_hash(b"old", 500, 0).await.unwrap().is_some());
    assert!(s.store.web_session_by_hash(b"old", 1000, 0).await.unwrap().is_none(), "ends at expires_at");
    assert!(s.store.web_session_by_hash(b"new", 1000, 901).await.unwrap().is_none(), "idle since before the cut");
    // Pruning at 1000: the expired session and jobs made before 101 go; the rest stays.
    assert_eq!(s.store.prune_web(1000, 0, 101).await.unwrap(), 2);
    assert!(s.store.web_session_by_hash(b"new", 1000, 0).await.unwrap().is_some());
    assert!(s.store.import_job(alice.id, "job-00001").await.unwrap().is_none());
    assert!(s.store.import_job(bob.id, "job-00001").await.unwrap().is_some());
    s.stop().await;
}

on_both_engines!(
    the_web_store,
    secure_cookies_behind_https_and_the_principal_limit,
    login_logout_and_the_session_cookie,
    a_wrong_password_and_the_failed_login_limit,
    posts_need_the_token_and_this_origin,
    dav_clients_at_the_root_are_unchanged,
    sessions_expire_on_the_clock,
    sessions_end_idle_or_old_on_the_servers_clock,
);
