//! The web page's settings (issue 21, part 2) black-box on both engines: feed links (create
//! with a mode, the URL shown once and served, rotate with its grace, revoke), shares (with
//! CalDAV seeing them in the sharee's home), app passwords (shown once, working as Basic
//! credentials, revoked), the device page (URLs, the DAVx5 link and QR code, the .mobileconfig
//! read back as a property list, with and without an app password in it), the admin page
//! (refused to non-admins; create and delete users), nothing of another user's shown or
//! changeable, the CSRF token required on every form, and escaping of what users typed.
#![allow(clippy::unwrap_used)]

mod harness;
mod support;
#[path = "support/browser.rs"]
mod browser;

use browser::{Browser, form_body, input_value, unescape};
use harness::*;
use kalends::store::UserStore;

/// The `value` of the input with `id` in `html`.
fn input_by_id(html: &str, id: &str) -> Option<String> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let start = html[..at].rfind('<')?;
    let end = at + html[at..].find('>')?;
    let tag = &html[start..end];
    let v = tag.find("value=\"")? + 7;
    Some(unescape(&tag[v..v + tag[v..].find('"')?]))
}

/// `text` is on the page only as escaped text: its raw form is absent, its decoded form there.
fn shows_escaped(html: &str, text: &str) -> bool {
    let decoded = html.replace("&#60;", "<").replace("&#62;", ">").replace("&#34;", "\"").replace("&#39;", "'");
    !html.contains(text) && unescape(&decoded).contains(text)
}

async fn basic_status(s: &TestServer, user: &str, pw: &str) -> u16 {
    send(s.req_as(user, pw, "PROPFIND", &format!("/calendars/{user}/")).header("Depth", "0")).await.status.as_u16()
}

async fn feed_links_shown_once_rotated_and_revoked(engine: Engine) {
    let s = start_server(engine).await;
    // Tomorrow: inside every feed's window.
    let start = (chrono::Utc::now() + chrono::Duration::days(1)).format("%Y%m%dT100000Z");
    let ics = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:m1\r\nDTSTAMP:20260101T000000Z\r\n\
         DTSTART:{start}\r\nDURATION:PT1H\r\nSUMMARY:Secret board meeting\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    );
    assert_eq!(s.put_ics("/calendars/alice/calendar/m1.ics", &ics).await.status, 201);
    let mut b = Browser::login(&s, "alice", ALICE_PW).await;
    let page = b.get("/web/feeds").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("No feed links.") && page.body.contains("Create feed link"), "{}", page.body);
    let r = b.post("/web/feeds/calendar", &[("mode", "busy"), ("label", "Team \"<b>\"")]).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let url = input_by_id(&r.body, "feed-url").unwrap();
    assert!(url.starts_with(&format!("{}/feeds/", s.base)) && url.ends_with(".ics"), "{url}");
    assert!(shows_escaped(&r.body, "New feed link “Team \"<b>\"”"), "escaped label: {}", r.body);
    let feed = send(s.anon("GET", url.strip_prefix(&s.base).unwrap())).await;
    assert_eq!(feed.status, 200);
    assert!(feed.body.contains("SUMMARY:Busy\r\n") && !feed.body.contains("Secret"), "{}", feed.body);
    // Listed without its URL afterwards.
    let page = b.get("/web/feeds").await;
    assert!(!page.body.contains(url.rsplit('/').next().unwrap()), "the token is never shown again");
    // The fetch above is its last read.
    assert!(page.body.contains("busy periods only") && page.body.contains("<td data-label=\"Last read\">20"), "{}", page.body);
    let id = kalends::service::feeds::list(&s.store, "alice").await.unwrap()[0].id.0;
    // Rotation: a new URL shown once; the old one keeps working through the grace period.
    let r = b.post(&format!("/web/feeds/calendar/{id}/rotate"), &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let rotated = input_by_id(&r.body, "feed-url").unwrap();
    assert_ne!(rotated, url);
    assert!(r.body.contains("The old URL keeps working until"), "{}", r.body);
    for u in [&url, &rotated] {
        assert_eq!(send(s.anon("GET", u.strip_prefix(&s.base).unwrap())).await.status, 200);
    }
    // Revocation: a confirmation first, then both URLs are gone.
    let confirm = b.get(&format!("/web/feeds/calendar/{id}/revoke")).await;
    assert_eq!(confirm.status, 200);
    assert!(confirm.body.contains("Its URL stops working at once"), "{}", confirm.body);
    let r = b.post(&format!("/web/feeds/calendar/{id}/revoke"), &[]).await;
    assert_eq!((r.status.as_u16(), r.header("location").as_deref()), (303, Some("/web/feeds")));
    for u in [&url, &rotated] {
        assert_eq!(send(s.anon("GET", u.strip_prefix(&s.base).unwrap())).await.status, 404);
    }
    // A mode the API does not know is refused beside the form, with what was typed.
    let r = b.post("/web/feeds/calendar", &[("mode", "everything"), ("label", "kept")]).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("mode is full, masked or busy") && r.body.contains("value=\"kept\""), "{}", r.body);
    assert!(kalends::service::feeds::list(&s.store, "alice").await.unwrap().is_empty());
    s.stop().await;
}

async fn public_url_names_the_links(engine: Engine) {
    let s = start_with(engine, |c| c.public_url = Some("https://cal.example.org/".into())).await;
    let mut b = Browser::login(&s, "alice", ALICE_PW).await;
    let r = b.post("/web/feeds/calendar", &[("mode", "full"), ("label", "")]).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let url = input_by_id(&r.body, "feed-url").unwrap();
    assert!(url.starts_with("https://cal.example.org/feeds/"), "{url}");
    assert!(r.body.contains("href=\"webcal://cal.example.org/feeds/"), "{}", r.body);
    let device = b.get("/web/device").await;
    assert!(device.body.contains("caldavs://alice@cal.example.org/"), "{}", device.body);
    let profile = b.get("/web/device/profile").await;
    let plist = plist::Value::from_reader_xml(profile.body.as_bytes()).unwrap();
    let account = plist.as_dictionary().unwrap()["PayloadContent"].as_array().unwrap()[0].as_dictionary().unwrap().clone();
    assert_eq!(account["CalDAVHostName"].as_string(), Some("cal.example.org"));
    assert_eq!(account["CalDAVPort"].as_signed_integer(), Some(443));
    assert_eq!(account["CalDAVUseSSL"].as_boolean(), Some(true));
    s.stop().await;
}

async fn sharing_from_the_page_shows_in_the_sharees_home(engine: Engine) {
    let s = start_server(engine).await;
    let mut b = Browser::login(&s, "alice", ALICE_PW).await;
    let r = b.post("/web/shares/calendar", &[("user", "bob"), ("access", "read")]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = b.get("/web/feeds").await;
    assert!(page.body.contains("Stop sharing with bob") && page.body.contains("read only"), "{}", page.body);
    let home = send(s.req_as("bob", BOB_PW, "PROPFIND", "/calendars/bob/").header("Depth", "1")).await;
    assert!(home.body.contains("/calendars/bob/shared-"), "{}", home.body);
    // Refusals are shown beside the form: an unknown user, and sharing with oneself.
    for (who, why) in [("nobody", "no user"), ("alice", "not shared with its owner")] {
        let r = b.post("/web/shares/calendar", &[("user", who), ("access", "read")]).await;
        assert_eq!(r.status, 422, "{}", r.body);
        assert!(r.body.contains(why), "{why}: {}", r.body);
    }
    let r = b.post("/web/shares/calendar/bob/remove", &[]).await;
    assert_eq!(r.status, 303);
    let home = send(s.req_as("bob", BOB_PW, "PROPFIND", "/calendars/bob/").header("Depth", "1")).await;
    assert!(!home.body.contains("shared-"), "{}", home.body);
    s.stop().await;
}

async fn app_passwords_shown_once_used_and_revoked(engine: Engine) {
    let s = start_server(engine).await;
    let mut b = Browser::login(&s, "alice", ALICE_PW).await;
    let r = b.post("/web/app-passwords", &[("label", "Phone <3")]).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let secret = input_by_id(&r.body, "new-secret").unwrap();
    assert!(secret.starts_with("kal_"), "{secret}");
    assert!(shows_escaped(&r.body, "App password “Phone <3”"), "escaped: {}", r.body);
    assert_eq!(basic_status(&s, "alice", &secret).await, 207, "the app password logs in to CalDAV");
    let page = b.get("/web/app-passwords").await;
    assert!(!page.body.contains(&secret) && page.body.contains(&secret[..8]), "only its hint is listed");
    let id = s.store.user_by_name("alice").await.unwrap().map(|u| u.id).unwrap();
    let id = kalends::service::app_passwords::list(&s.store, id).await.unwrap()[0].id;
    let confirm = b.get(&format!("/web/app-passwords/{id}/revoke")).await;
    assert!(confirm.status == 200 && confirm.body.contains("signed out at once"), "{}", confirm.body);
    assert_eq!(b.post(&format!("/web/app-passwords/{id}/revoke"), &[]).await.status, 303);
    assert_eq!(basic_status(&s, "alice", &secret).await, 401, "revoked at once");
    let r = b.post("/web/app-passwords", &[("label", &"x".repeat(101))]).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("at most 100 characters"), "{}", r.body);
    s.stop().await;
}

async fn the_device_page_and_its_profile(engine: Engine) {
    let s = start_server(engine).await;
    let mut b = Browser::login(&s, "alice", ALICE_PW).await;
    let page = b.get("/web/device").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let authority = s.base.strip_prefix("http://").unwrap();
    for text in [
        format!("{}/", s.base),
        format!("{}/principals/alice/", s.base),
        format!("{}/calendars/alice/calendar/", s.base),
        format!("caldav://alice@{authority}/"),
        "<svg class=\"qr\" role=\"img\" aria-label=\"QR code for DAVx5".to_owned(),
        "Download the configuration profile".to_owned(),
        "Thunderbird".to_owned(),
        "Evolution".to_owned(),
    ] {
        assert!(page.body.contains(&text), "{text} in {}", page.body);
    }
    let r = b.get("/web/device/profile").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type").as_deref(), Some("application/x-apple-aspen-config"));
    let disposition = r.header("content-disposition").unwrap();
    assert!(disposition.starts_with("attachment; filename=\"kalends.127-0-0-1-") && disposition.ends_with(".alice.mobileconfig\""), "{disposition}");
    let root = plist::Value::from_reader_xml(r.body.as_bytes()).unwrap();
    let root = root.as_dictionary().unwrap();
    assert_eq!(root["PayloadType"].as_string(), Some("Configuration"));
    let account = root["PayloadContent"].as_array().unwrap()[0].as_dictionary().unwrap();
    assert_eq!(account["PayloadType"].as_string(), Some("com.apple.caldav.account"));
    assert_eq!(account["CalDAVHostName"].as_string(), Some("127.0.0.1"));
    let port: i64 = authority.rsplit(':').next().unwrap().parse().unwrap();
    assert_eq!(account["CalDAVPort"].as_signed_integer(), Some(port));
    assert_eq!(account["CalDAVUseSSL"].as_boolean(), Some(false));
    assert_eq!(account["CalDAVPrincipalURL"].as_string(), Some("/principals/alice/"));
    assert_eq!(account["CalDAVUsername"].as_string(), Some("alice"));
    assert!(!account.contains_key("CalDAVPassword"));
    // Asked for: a new app password in the profile, which works and is listed.
    let r = b.post("/web/device/profile", &[("include_password", "1")]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let with = plist::Value::from_reader_xml(r.body.as_bytes()).unwrap();
    let account = with.as_dictionary().unwrap()["PayloadContent"].as_array().unwrap()[0].as_dictionary().unwrap().clone();
    let secret = account["CalDAVPassword"].as_string().unwrap().to_owned();
    assert_eq!(basic_status(&s, "alice", &secret).await, 207);
    assert!(b.get("/web/app-passwords").await.body.contains("Apple profile"));
    // The box unticked: no password.
    let r = b.post("/web/device/profile", &[]).await;
    assert!(!r.body.contains("CalDAVPassword"));
    s.stop().await;
}

async fn the_admin_page_is_for_admins(engine: Engine) {
    let s = start_server(engine).await;
    let mut alice = Browser::login(&s, "alice", ALICE_PW).await;
    let r = alice.get("/web/admin").await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(!alice.get("/web/calendars").await.body.contains(">Admin</a>"), "no Admin link for non-admins");
    let r = alice.post("/web/admin/users", &[("name", "mallory"), ("password", "x")]).await;
    assert_eq!(r.status, 403);
    assert_eq!(alice.post("/web/admin/users/bob/delete", &[]).await.status, 403);
    assert!(s.store.user_by_name("mallory").await.unwrap().is_none() && s.store.user_by_name("bob").await.unwrap().is_some());

    s.store.set_admin("bob", true).await.unwrap();
    let mut bob = Browser::login(&s, "bob", BOB_PW).await;
    let page = bob.get("/web/admin").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("alice@example.org") && page.body.contains("Delete alice") && !page.body.contains("Delete bob"), "{}", page.body);
    let r = bob.post("/web/admin/users", &[("name", "carol"), ("email", "carol@example.org"), ("password", "carol-pw"), ("admin", "1")]).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(r.body.contains("Created the user carol"));
    assert_eq!(basic_status(&s, "carol", "carol-pw").await, 207, "carol has a home and logs in");
    assert!(s.store.user_by_name("carol").await.unwrap().unwrap().is_admin);
    for (fields, why) in [
        (vec![("name", "carol"), ("password", "p")], "already a user named carol"),
        (vec![("name", "bad name"), ("password", "p")], "invalid user name"),
        (vec![("name", "dave"), ("password", "")], "must not be empty"),
    ] {
        let r = bob.post("/web/admin/users", &fields).await;
        assert_eq!(r.status, 422, "{fields:?}: {}", r.body);
        assert!(r.body.contains(why), "{why}: {}", r.body);
    }
    let mut carol = Browser::login(&s, "carol", "carol-pw").await;
    assert_eq!(carol.get("/web/calendars").await.status, 200);
    let confirm = bob.get("/web/admin/users/carol/delete").await;
    assert!(confirm.status == 200 && confirm.body.contains("Delete the user carol"), "{}", confirm.body);
    let r = bob.post("/web/admin/users/carol/delete", &[]).await;
    assert_eq!(r.status, 303);
    assert!(s.store.user_by_name("carol").await.unwrap().is_none());
    assert_eq!(basic_status(&s, "carol", "carol-pw").await, 401);
    assert_eq!(carol.get("/web/calendars").await.status, 303, "her session went with her");
    // Not oneself.
    let r = bob.post("/web/admin/users/bob/delete", &[]).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(s.store.user_by_name("bob").await.unwrap().is_some());
    s.stop().await;
}

async fn nothing_of_another_users_is_shown_or_changed(engine: Engine) {
    let s = start_server(engine).await;
    let mut alice = Browser::login(&s, "alice", ALICE_PW).await;
    let r = alice.post("/web/feeds/calendar", &[("mode", "full"), ("label", "alices-link")]).await;
    let url = input_by_id(&r.body, "feed-url").unwrap();
    let secret = input_by_id(&alice.post("/web/app-passwords", &[("label", "alices-app")]).await.body, "new-secret").unwrap();
    assert_eq!(alice.post("/web/shares/calendar", &[("user", "bob"), ("access", "read-write")]).await.status, 303);
    let feed_id = kalends::service::feeds::list(&s.store, "alice").await.unwrap()[0].id.0;
    let alice_id = s.store.user_by_name("alice").await.unwrap().unwrap().id;
    let app_id = kalends::service::app_passwords::list(&s.store, alice_id).await.unwrap()[0].id;

    let mut bob = Browser::login(&s, "bob", BOB_PW).await;
    for page in ["/web/feeds", "/web/app-passwords", "/web/device"] {
        let r = bob.get(page).await;
        assert_eq!(r.status, 200);
        for theirs in ["alices-link", "alices-app", &secret[..8], "alice@example.org", "/calendars/alice/"] {
            assert!(!r.body.contains(theirs), "{page} shows {theirs}: {}", r.body);
        }
    }
    // Alice's calendar is in bob's list as a share, but its links and shares are its owner's.
    let shared = s.store.user_by_name("bob").await.unwrap().unwrap();
    let (_, received) = kalends::service::shares::list(&s.store, &shared.name).await.unwrap();
    let segment = received[0].segment.clone();
    let r = bob.post(&format!("/web/feeds/{segment}"), &[("mode", "full")]).await;
    assert_eq!(r.status, 403, "a sharee does not publish the owner's calendar: {}", r.body);
    assert_eq!(bob.post(&format!("/web/shares/{segment}"), &[("user", "bob"), ("access", "read")]).await.status, 403);
    // Alice's link and app password by their ids, under bob's own calendar: not found.
    assert_eq!(bob.post(&format!("/web/feeds/calendar/{feed_id}/revoke"), &[]).await.status, 404);
    assert_eq!(bob.post(&format!("/web/feeds/calendar/{feed_id}/rotate"), &[]).await.status, 404);
    assert_eq!(bob.get(&format!("/web/app-passwords/{app_id}/revoke")).await.status, 404);
    assert_eq!(bob.post(&format!("/web/app-passwords/{app_id}/revoke"), &[]).await.status, 404);
    assert_eq!(send(s.anon("GET", url.strip_prefix(&s.base).unwrap())).await.status, 200, "alice's link still works");
    assert_eq!(basic_status(&s, "alice", &secret).await, 207, "alice's app password still works");
    s.stop().await;
}

async fn every_form_needs_the_csrf_token(engine: Engine) {
    let s = start_server(engine).await;
    s.store.set_admin("alice", true).await.unwrap();
    let mut b = Browser::login(&s, "alice", ALICE_PW).await;
    let forms: [(&str, &[(&str, &str)]); 7] = [
        ("/web/feeds/calendar", &[("mode", "full")]),
        ("/web/shares/calendar", &[("user", "bob"), ("access", "read")]),
        ("/web/app-passwords", &[("label", "forged")]),
        ("/web/device/profile", &[("include_password", "1")]),
        ("/web/admin/users", &[("name", "forged"), ("password", "forged-pw")]),
        ("/web/admin/users/bob/delete", &[]),
        ("/web/shares/calendar/bob/remove", &[]),
    ];
    // A real link and app password, so that their rotate and revoke forms are tried too.
    let link = kalends::service::feeds::create(&s.store, "alice", "calendar", kalends::service::feeds::NewFeed {
        settings: kalends::feed::FeedSettings { mode: kalends::feed::FeedMode::Full, alarms: false, attendees: false },
        label: "kept".into(),
        expires_at: None,
    }, kalends::service::now()).await.unwrap();
    let app = kalends::service::app_passwords::create_for(&s.store, "alice", "kept").await.unwrap();
    let (rotate, revoke) = (format!("/web/feeds/calendar/{}/rotate", link.link.id.0), format!("/web/feeds/calendar/{}/revoke", link.link.id.0));
    let revoke_app = format!("/web/app-passwords/{}/revoke", app.app.id);
    let more: [(&str, &[(&str, &str)]); 3] = [(&rotate, &[]), (&revoke, &[]), (&revoke_app, &[])];
    let token = b.csrf().await;
    let origin = s.base.clone();
    for (path, fields) in forms.into_iter().chain(more) {
        // No token; the right token from a foreign site.
        let r = b.post_raw(path, &form_body(fields), &[]).await;
        assert_eq!(r.status, 403, "{path} without a token: {}", r.body);
        let mut with: Vec<(&str, &str)> = vec![("csrf", token.as_str())];
        with.extend_from_slice(fields);
        let r = b.post_raw(path, &form_body(&with), &[("Origin", "https://evil.example"), ("Sec-Fetch-Site", "cross-site")]).await;
        assert_eq!(r.status, 403, "{path} from another site: {}", r.body);
    }
    let links = kalends::service::feeds::list(&s.store, "alice").await.unwrap();
    assert_eq!((links.len(), links[0].previous_until), (1, None), "no link made, the one there neither rotated nor revoked");
    let alice = s.store.user_by_name("alice").await.unwrap().unwrap();
    let apps = kalends::service::app_passwords::list(&s.store, alice.id).await.unwrap();
    assert_eq!(apps.len(), 1, "the profile POST made no app password, and the one there is kept");
    assert_eq!(basic_status(&s, "alice", &app.secret).await, 207);
    assert!(s.store.user_by_name("forged").await.unwrap().is_none() && s.store.user_by_name("bob").await.unwrap().is_some());
    assert!(kalends::service::shares::list(&s.store, "alice").await.unwrap().0.is_empty());
    // The same forms with the token from this origin go through (the check is not a wall).
    let r = b.post_raw("/web/app-passwords", &form_body(&[("csrf", &token), ("label", "real")]), &[("Origin", &origin)]).await;
    assert_eq!(r.status, 201, "{}", r.body);
    s.stop().await;
}

async fn what_users_typed_is_escaped(engine: Engine) {
    let s = start_server(engine).await;
    let evil = "<script>alert(1)</script>";
    let body = format!(
        "<?xml version=\"1.0\"?><C:mkcalendar xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\"><D:set><D:prop>\
         <D:displayname>{}</D:displayname></D:prop></D:set></C:mkcalendar>",
        evil.replace('<', "&lt;").replace('>', "&gt;")
    );
    assert_eq!(send(s.req("MKCALENDAR", "/calendars/alice/evil/").body(body)).await.status, 201);
    kalends::service::users::create(&s.store, "o.hara+x@example.org", None, "pw-o").await.unwrap();
    let mut b = Browser::login(&s, "alice", ALICE_PW).await;
    assert_eq!(b.post("/web/feeds/evil", &[("mode", "busy"), ("label", "\"><img src=x onerror=alert(1)>")]).await.status, 201);
    for page in ["/web/feeds", "/web/device"] {
        let r = b.get(page).await;
        assert!(shows_escaped(&r.body, evil), "{page} shows the name escaped: {}", r.body);
        assert!(!r.body.contains("<img src=x"), "{page}: {}", r.body);
    }
    let mut o = Browser::login(&s, "o.hara+x@example.org", "pw-o").await;
    let r = o.get("/web/device").await;
    let authority = s.base.strip_prefix("http://").unwrap();
    assert!(r.body.contains(&format!("caldav://o.hara+x%40example.org@{authority}/")), "the user name as URL user info: {}", r.body);
    let profile = o.get("/web/device/profile").await;
    let root = plist::Value::from_reader_xml(profile.body.as_bytes()).unwrap();
    let account = root.as_dictionary().unwrap()["PayloadContent"].as_array().unwrap()[0].as_dictionary().unwrap().clone();
    assert_eq!(account["CalDAVUsername"].as_string(), Some("o.hara+x@example.org"));
    assert!(input_value(&r.body, "csrf").is_some());
    s.stop().await;
}

on_both_engines!(
    feed_links_shown_once_rotated_and_revoked,
    public_url_names_the_links,
    sharing_from_the_page_shows_in_the_sharees_home,
    app_passwords_shown_once_used_and_revoked,
    the_device_page_and_its_profile,
    the_admin_page_is_for_admins,
    nothing_of_another_users_is_shown_or_changed,
    every_form_needs_the_csrf_token,
    what_users_typed_is_escaped,
);
