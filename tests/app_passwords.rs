//! App passwords (issue 20, decision 0025) over HTTP on both engines: one works as the Basic
//! password of its own user only and as a Bearer token, records its last use, stops working
//! when revoked; a real password of the same shape still works; the bootstrap user is admin.
#![allow(clippy::unwrap_used)]

mod harness;
mod support;

use harness::*;
use kalends::service::app_passwords;
use kalends::store::{AppPasswordStore, UserStore};

const PROPFIND: &str = "<?xml version=\"1.0\"?><D:propfind xmlns:D=\"DAV:\"><D:prop><D:displayname/></D:prop></D:propfind>";

async fn propfind_with(rb: reqwest::RequestBuilder) -> u16 {
    send(rb.header("Depth", "0").body(PROPFIND)).await.status.as_u16()
}

async fn an_app_password_is_a_password_and_a_token(engine: Engine) {
    // No user cache: a revocation by another process shows at once.
    let s = start_with(engine, |c| c.auth.user_cache_ms = 0).await;
    let alice = s.store.user_by_name("alice").await.unwrap().unwrap();
    let issued = app_passwords::create(&s.store, alice.id, "  Phone  ").await.unwrap();
    assert_eq!(issued.app.label, "Phone");
    assert!(issued.secret.starts_with("kal_") && issued.secret.starts_with(&issued.app.hint));
    let path = "/calendars/alice/calendar/";

    // Basic, as a CalDAV client sends it: alice's own; bob cannot use it.
    assert_eq!(propfind_with(s.anon("PROPFIND", path).basic_auth("alice", Some(&issued.secret))).await, 207);
    assert_eq!(propfind_with(s.anon("PROPFIND", "/calendars/bob/calendar/").basic_auth("bob", Some(&issued.secret))).await, 401);
    // Bearer, as the API takes it.
    assert_eq!(propfind_with(s.anon("PROPFIND", path).bearer_auth(&issued.secret)).await, 207);
    assert_eq!(propfind_with(s.anon("PROPFIND", path).bearer_auth("kal_not-a-real-one-at-all-00000000")).await, 401);
    assert_eq!(propfind_with(s.anon("PROPFIND", path).bearer_auth("nonsense")).await, 401);

    // Only the hash is stored; the use is recorded.
    let listed = app_passwords::list(&s.store, alice.id).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].last_used_at.is_some());
    let (found, user) = s.store.app_password_by_hash(&app_passwords::secret_hash(&issued.secret)).await.unwrap().unwrap();
    assert_eq!((found.id, user.name.as_str()), (issued.app.id, "alice"));

    // Revoked: refused both ways, and bob cannot revoke alice's.
    let bob = s.store.user_by_name("bob").await.unwrap().unwrap();
    assert!(app_passwords::revoke(&s.store, bob.id, issued.app.id).await.is_err());
    app_passwords::revoke(&s.store, alice.id, issued.app.id).await.unwrap();
    assert_eq!(propfind_with(s.anon("PROPFIND", path).basic_auth("alice", Some(&issued.secret))).await, 401);
    assert_eq!(propfind_with(s.anon("PROPFIND", path).bearer_auth(&issued.secret)).await, 401);
    // Her real password is untouched.
    assert_eq!(propfind_with(s.anon("PROPFIND", path).basic_auth("alice", Some(ALICE_PW))).await, 207);
    assert!(app_passwords::create(&s.store, alice.id, "two\nlines").await.is_err());
    s.stop().await;
}

/// A real password that happens to look like an app password is still checked as a password.
async fn a_password_shaped_like_one_still_works(engine: Engine) {
    let s = start_with(engine, |c| c.auth.user_cache_ms = 0).await;
    let shaped = format!("kal_{}", "x".repeat(32));
    assert!(app_passwords::looks_like(&shaped));
    kalends::service::users::set_password(&s.store, "bob", &shaped).await.unwrap();
    let r = propfind_with(s.anon("PROPFIND", "/calendars/bob/calendar/").basic_auth("bob", Some(&shaped))).await;
    assert_eq!(r, 207);
    s.stop().await;
}

async fn the_bootstrap_user_is_the_first_admin(engine: Engine) {
    let s = start_server(engine).await;
    // alice and bob exist: no bootstrap; they are not admins.
    assert!(!s.store.user_by_name("alice").await.unwrap().unwrap().is_admin);
    s.store.set_admin("alice", true).await.unwrap();
    assert!(s.store.user_by_name("alice").await.unwrap().unwrap().is_admin);
    s.stop().await;
    let (store, _keep): (kalends::store::Store, Box<dyn std::any::Any>) = match engine {
        Engine::Sqlite => {
            let (st, d) = support::sqlite_store().await;
            (st, Box::new(d))
        }
        Engine::Postgres => {
            let (st, g) = support::postgres_store().await;
            (st, Box::new(g))
        }
    };
    let password = kalends::service::users::bootstrap_admin(&store).await.unwrap();
    assert!(password.is_some());
    assert!(store.user_by_name("admin").await.unwrap().unwrap().is_admin);
}

on_both_engines!(an_app_password_is_a_password_and_a_token, a_password_shaped_like_one_still_works, the_bootstrap_user_is_the_first_admin);
