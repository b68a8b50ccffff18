//! The web page's views and forms (issue 21, part 1) black-box on both engines: the week and
//! month views show events written over CalDAV (a recurring one's instances, all-day ones) in
//! the calendar's colour and nothing of another user's; events made, edited and deleted by
//! form posts are what CalDAV serves; calendars made, renamed, recoloured and deleted; an
//! import of 500 events whose progress reaches 500/500 with its report; export round-trips;
//! a hostile title is escaped everywhere it shows.
#![allow(clippy::unwrap_used)]

mod harness;
mod support;
#[path = "support/browser.rs"]
mod browser;

use browser::{Browser, input_value};
use harness::*;

const CAL: &str = "/calendars/alice/calendar/";
/// Depth-1 listings ask for one property: an allprop of 500 members is more XML than the
/// harness's parser takes.
const ETAGS: &str = "<?xml version=\"1.0\"?><d:propfind xmlns:d=\"DAV:\"><d:prop><d:getetag/></d:prop></d:propfind>";
const NAME_AND_COLOUR: &str = "<?xml version=\"1.0\"?><d:propfind xmlns:d=\"DAV:\" xmlns:a=\"http://apple.com/ns/ical/\"><d:prop><d:displayname/><a:calendar-color/></d:prop></d:propfind>";

fn ics(uid: &str, summary: &str, body: &str) -> String {
    format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n{body}SUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
}

/// The text of a page with its tags, for `contains` checks on what is shown.
async fn page(b: &mut Browser<'_>, path: &str) -> String {
    let r = b.get(path).await;
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    r.body
}

async fn views_show_caldav_events_and_instances_only_of_the_user(engine: Engine) {
    let s = start_server(engine).await;
    let r = send(s.req("PROPPATCH", CAL).body(
        "<?xml version=\"1.0\"?><d:propertyupdate xmlns:d=\"DAV:\" xmlns:a=\"http://apple.com/ns/ical/\"><d:set><d:prop><a:calendar-color>#FF2968</a:calendar-color></d:prop></d:set></d:propertyupdate>",
    ))
    .await;
    assert_eq!(r.status, 207);
    assert_eq!(s.put_ics(&format!("{CAL}one.ics"), &ics("one", "Dentist", "DTSTART:20261208T090000Z\r\nDTEND:20261208T100000Z\r\n")).await.status, 201);
    let weekly = "DTSTART:20261201T120000Z\r\nDTEND:20261201T123000Z\r\nRRULE:FREQ=WEEKLY;COUNT=4\r\n";
    assert_eq!(s.put_ics(&format!("{CAL}weekly.ics"), &ics("weekly", "Standup", weekly)).await.status, 201);
    let trip = "DTSTART;VALUE=DATE:20261210\r\nDTEND;VALUE=DATE:20261212\r\n";
    assert_eq!(s.put_ics(&format!("{CAL}trip.ics"), &ics("trip", "Trip", trip)).await.status, 201);
    let bobs = "/calendars/bob/calendar/secret.ics";
    assert_eq!(send(s.req_as("bob", BOB_PW, "PUT", bobs).header("Content-Type", "text/calendar").body(ics("secret", "Bob private", "DTSTART:20261208T090000Z\r\nDTEND:20261208T100000Z\r\n"))).await.status, 201);

    let mut b = Browser::login(&s, "alice", ALICE_PW).await;
    let week = page(&mut b, "/web/calendar?view=week&date=2026-12-09").await;
    assert!(week.contains("7 – 13 December 2026"), "{week}");
    assert!(week.contains("Dentist") && week.contains("09:00–10:00"));
    // The weekly series: one instance this week (Tuesday the 8th).
    assert_eq!(week.matches("> Standup</a>").count(), 1, "{week}");
    // The two-day all-day event on both of its days.
    assert_eq!(week.matches("All day</span> Trip").count(), 2);
    assert!(!week.contains("Bob private"));
    // In the calendar's colour: its class, which colors.css colours.
    let class = week.split("class=\"ev ").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let css = b.get("/web/colors.css").await;
    assert!(css.body.contains(&format!(".{class} {{ --cal: #ff2968; }}")), "{} / {class}", css.body);
    let link = week.split("href=\"").find(|h| h.starts_with("/web/events/calendar/one")).unwrap().split('"').next().unwrap().to_owned();
    assert_eq!(link, "/web/events/calendar/one");

    let month = page(&mut b, "/web/calendar?view=month&date=2026-12-20").await;
    assert!(month.contains("December 2026"));
    // Four weekly instances, all in December.
    assert_eq!(month.matches("> Standup</a>").count(), 4, "{month}");
    assert!(month.contains("Dentist") && !month.contains("Bob private"));
    // Previous and next lead to the neighbouring months.
    assert!(month.contains("href=\"/web/calendar?view=month&#38;date=2026-11-01\""), "{month}");
    assert!(month.contains("href=\"/web/calendar?view=month&#38;date=2027-01-01\""));
    // A recurring event opens read-only.
    let r = page(&mut b, "/web/events/calendar/weekly").await;
    assert!(r.contains("This is a recurring event") && r.contains("RRULE:FREQ=WEEKLY;COUNT=4") && !r.contains("name=\"title\""), "{r}");
    // Bob's event does not exist for alice, whatever its URL.
    assert_eq!(b.get("/web/events/calendar/secret").await.status, 404);
    s.stop().await;
}

async fn events_made_edited_and_deleted_by_form(engine: Engine) {
    let s = start_server(engine).await;
    let mut b = Browser::login(&s, "alice", ALICE_PW).await;
    let form = page(&mut b, "/web/events/new?date=2026-12-10").await;
    for label in ["Title", "Calendar", "All day", "Start date", "Start time", "End date", "End time", "Location", "Description"] {
        assert!(form.contains(&format!("\">{label}</label>")), "label {label}");
    }
    assert_eq!(input_value(&form, "start_date").unwrap(), "2026-12-10");
    // A refused form comes back with the message beside the field.
    let fields = [("title", "Review"), ("calendar", "calendar"), ("start_date", "2026-12-10"), ("start_time", "11:00"), ("end_date", "2026-12-10"), ("end_time", "10:00")];
    let r = b.post("/web/events/new", &fields).await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("<span class=\"field-error\" id=\"end_time-error\">The end must be after the start.</span>"), "{}", r.body);
    assert_eq!(input_value(&r.body, "title").unwrap(), "Review");
    let mut fields = fields.to_vec();
    fields[5] = ("end_time", "12:30");
    fields.push(("location", "Room 4"));
    let r = b.post("/web/events/new", &fields).await;
    assert_eq!(r.status, 303, "{}", r.body);
    // Over CalDAV: one object with the times and place.
    let listing = s.propfind(CAL, "1", ETAGS).await;
    let href = listing.hrefs().into_iter().find(|h| h.ends_with(".ics")).unwrap();
    let obj = send(s.req("GET", &href)).await;
    assert!(obj.body.contains("SUMMARY:Review") && obj.body.contains("LOCATION:Room 4") && obj.body.contains("DTSTART:20261210T110000Z"), "{}", obj.body);
    let uid = obj.body.lines().find_map(|l| l.strip_prefix("UID:")).unwrap().trim().to_owned();
    // An unknown property a client wrote stays through an edit.
    let kept = obj.body.replace("SUMMARY:Review", "SUMMARY:Review\r\nX-CLIENT-NOTE:keep me");
    let etag = obj.header("etag").unwrap();
    assert_eq!(send(s.req("PUT", &href).header("If-Match", etag).header("Content-Type", "text/calendar").body(kept)).await.status, 204);
    let edit = page(&mut b, &format!("/web/events/calendar/{uid}")).await;
    assert_eq!(input_value(&edit, "title").unwrap(), "Review");
    let etag = input_value(&edit, "etag").unwrap();
    let changed = [("etag", etag.as_str()), ("title", "Review (moved)"), ("start_date", "2026-12-11"), ("start_time", "14:00"), ("end_date", "2026-12-11"), ("end_time", "15:00"), ("location", ""), ("description", "Bring notes")];
    let r = b.post(&format!("/web/events/calendar/{uid}"), &changed).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let obj = send(s.req("GET", &href)).await;
    assert!(obj.body.contains("SUMMARY:Review (moved)") && obj.body.contains("DTSTART:20261211T140000Z") && obj.body.contains("DESCRIPTION:Bring notes"), "{}", obj.body);
    assert!(obj.body.contains("X-CLIENT-NOTE:keep me") && !obj.body.contains("LOCATION"), "{}", obj.body);
    // The same form again, on the ETag it was made from: refused, not overwritten.
    let r = b.post(&format!("/web/events/calendar/{uid}"), &changed).await;
    assert_eq!(r.status, 409);
    assert!(r.body.contains("changed elsewhere"));
    // Delete, after the confirmation page.
    let confirm = page(&mut b, &format!("/web/events/calendar/{uid}/delete")).await;
    assert!(confirm.contains("Delete “Review (moved)”"));
    assert_eq!(b.post(&format!("/web/events/calendar/{uid}/delete"), &[]).await.status, 303);
    assert_eq!(send(s.req("GET", &href)).await.status, 404);
    // An all-day event.
    let allday = [("title", "Holiday"), ("calendar", "calendar"), ("all_day", "1"), ("start_date", "2026-12-24"), ("end_date", "2026-12-26")];
    assert_eq!(b.post("/web/events/new", &allday).await.status, 303);
    let listing = s.propfind(CAL, "1", ETAGS).await;
    let href = listing.hrefs().into_iter().find(|h| h.ends_with(".ics")).unwrap();
    let obj = send(s.req("GET", &href)).await;
    assert!(obj.body.contains("DTSTART;VALUE=DATE:20261224") && obj.body.contains("DTEND;VALUE=DATE:20261227"), "{}", obj.body);
    s.stop().await;
}

async fn calendars_made_renamed_recoloured_and_deleted(engine: Engine) {
    let s = start_server(engine).await;
    let mut b = Browser::login(&s, "alice", ALICE_PW).await;
    let list = page(&mut b, "/web/calendars").await;
    assert!(list.contains(&format!("{}/calendars/alice/calendar/", s.base)), "the CalDAV URL to copy");
    assert!(list.contains("aria-label=\"Copy URL of "));
    assert_eq!(b.post("/web/calendars", &[("name", "Work Things"), ("colour", "#12ab34")]).await.status, 303);
    let r = s.propfind("/calendars/alice/work-things/", "0", NAME_AND_COLOUR).await;
    assert_eq!(r.status, 207, "{}", r.body);
    assert!(r.body.contains("Work Things") && r.body.contains("#12ab34"), "{}", r.body);
    // An empty name is refused beside the field.
    let r = b.post("/web/calendars", &[("name", " "), ("colour", "#12ab34")]).await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("id=\"name-error\""));
    let edit = page(&mut b, "/web/calendars/work-things").await;
    assert_eq!(input_value(&edit, "colour").unwrap(), "#12ab34");
    assert_eq!(b.post("/web/calendars/work-things", &[("name", "Office"), ("colour", "#aa0000")]).await.status, 303);
    let r = s.propfind("/calendars/alice/work-things/", "0", NAME_AND_COLOUR).await;
    assert!(r.body.contains("Office") && r.body.contains("#aa0000"), "{}", r.body);
    // Bob cannot reach it, through the page either.
    let mut bob = Browser::login(&s, "bob", BOB_PW).await;
    assert_eq!(bob.get("/web/calendars/work-things").await.status, 404);
    assert_eq!(bob.post("/web/calendars/work-things/delete", &[]).await.status, 404);
    assert!(page(&mut b, "/web/calendars/work-things/delete").await.contains("Delete the calendar “Office”"));
    assert_eq!(b.post("/web/calendars/work-things/delete", &[]).await.status, 303);
    assert_eq!(s.propfind("/calendars/alice/work-things/", "0", "").await.status, 404);
    s.stop().await;
}

/// 500 events, one of them without a start (skipped, with the reason).
fn five_hundred() -> String {
    let mut f = String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\n");
    for i in 0..499 {
        f.push_str(&format!(
            "BEGIN:VEVENT\r\nUID:bulk-{i}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:2027{:02}{:02}T100000Z\r\nDURATION:PT1H\r\nSUMMARY:Bulk {i}\r\nEND:VEVENT\r\n",
            i % 12 + 1,
            i % 28 + 1
        ));
    }
    f.push_str("BEGIN:VEVENT\r\nUID:broken\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:No start\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n");
    f
}

async fn import_with_progress_and_report_then_export(engine: Engine) {
    let s = start_server(engine).await;
    let mut b = Browser::login(&s, "alice", ALICE_PW).await;
    let form = page(&mut b, "/web/import").await;
    assert!(form.contains("<label for=\"file\">File (.ics)</label>") && form.contains("aria-label=\"Import progress\""));
    // Before the post reaches a node, the job is not started: nothing done.
    let job = "0123456789abcdef0123456789abcdef";
    let p = b.get(&format!("/web/import/{job}/progress")).await;
    assert_eq!(p.body, r#"{"done":0,"total":0,"state":"running"}"#);
    let r = b.post_multipart("/web/import", &[("calendar", "calendar"), ("job", job)], ("file", five_hundred().as_bytes())).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location").unwrap(), format!("/web/import/{job}"));
    let p: serde_json::Value = serde_json::from_str(&b.get(&format!("/web/import/{job}/progress")).await.body).unwrap();
    assert_eq!(p, serde_json::json!({ "done": 500, "total": 500, "state": "done" }));
    let report = page(&mut b, &format!("/web/import/{job}")).await;
    assert!(report.contains("500 of 500 events") && report.contains("<progress aria-label=\"Import progress\" max=\"500\" value=\"500\">"), "{report}");
    assert!(report.contains("<strong>499</strong> added") && report.contains("<strong>1</strong> skipped"), "{report}");
    assert!(report.contains("<code>broken</code></td><td>skipped</td><td>"), "the reason beside the skipped UID");
    assert_eq!(s.propfind(CAL, "1", ETAGS).await.hrefs().len(), 500, "the calendar and its 499 events");
    // Another user's job is not there for bob.
    let mut bob = Browser::login(&s, "bob", BOB_PW).await;
    assert_eq!(bob.get(&format!("/web/import/{job}")).await.status, 404);
    // The same job id again is refused on the form, and nothing is imported twice.
    let r = b.post_multipart("/web/import", &[("calendar", "calendar"), ("job", job)], ("file", five_hundred().as_bytes())).await;
    assert_eq!(r.status, 409);
    assert!(r.body.contains("an import with this job id exists"), "{}", r.body);
    // A file that is no iCalendar: the job fails, and its page says why.
    let r = b.post_multipart("/web/import", &[("calendar", "calendar")], ("file", b"hello, world")).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let failed = page(&mut b, r.header("location").unwrap().as_str()).await;
    assert!(failed.contains("failed: the file holds no VCALENDAR"), "{failed}");
    // Export: one file with every event, which imports into bob's calendar (UIDs are unique per
    // user) and exports from there with the same events.
    let export = b.get("/web/calendars/calendar/export").await;
    assert_eq!(export.status, 200);
    assert!(export.header("content-disposition").unwrap().contains("calendar.ics"));
    assert_eq!(export.body.matches("BEGIN:VEVENT").count(), 499);
    let r = bob.post_multipart("/web/import", &[("calendar", "calendar")], ("file", export.body.as_bytes())).await;
    assert_eq!(r.status, 303);
    let report = page(&mut bob, r.header("location").unwrap().as_str()).await;
    assert!(report.contains("<strong>499</strong> added") && report.contains("<strong>0</strong> skipped"), "{report}");
    let copy = bob.get("/web/calendars/calendar/export").await;
    let lines = |t: &str| -> std::collections::BTreeSet<String> {
        t.lines().filter(|l| l.starts_with("UID:") || l.starts_with("SUMMARY:") || l.starts_with("DTSTART")).map(str::to_owned).collect()
    };
    assert_eq!(lines(&copy.body), lines(&export.body));
    assert_eq!(lines(&copy.body).iter().filter(|l| l.starts_with("UID:")).count(), 499);
    s.stop().await;
}

async fn a_hostile_title_is_escaped(engine: Engine) {
    let s = start_server(engine).await;
    let hostile = "<script>alert(1)</script>\\\"><img src=x onerror=alert(2)>";
    let body = "DTSTART:20261208T090000Z\r\nDTEND:20261208T100000Z\r\nLOCATION:<b>bold</b>\r\n";
    assert_eq!(s.put_ics(&format!("{CAL}x.ics"), &ics("x\"><i>", hostile, body)).await.status, 201);
    let mut b = Browser::login(&s, "alice", ALICE_PW).await;
    assert_eq!(b.post("/web/calendars", &[("name", "<svg onload=alert(3)>"), ("colour", "#000000")]).await.status, 303);
    for path in ["/web/calendar?view=week&date=2026-12-08", "/web/calendar?view=month&date=2026-12-08", "/web/calendars", "/web/events/new"] {
        let html = page(&mut b, path).await;
        for raw in ["<script>alert", "<img src=x", "<svg onload", "<b>bold", "<i>"] {
            assert!(!html.contains(raw), "{raw} unescaped on {path}");
        }
    }
    let week = page(&mut b, "/web/calendar?view=week&date=2026-12-08").await;
    assert!(week.contains("&#60;script&#62;alert(1)&#60;/script&#62;") || week.contains("&lt;script&gt;"), "{week}");
    let link = week.split("href=\"").find(|h| h.starts_with("/web/events/calendar/x")).unwrap().split('"').next().unwrap().to_owned();
    assert_eq!(link, "/web/events/calendar/x%22%3E%3Ci%3E");
    let edit = page(&mut b, &link).await;
    assert_eq!(input_value(&edit, "title").unwrap(), "<script>alert(1)</script>\"><img src=x onerror=alert(2)>");
    assert!(!edit.contains("<script>alert") && !edit.contains("<b>bold"));
    s.stop().await;
}

async fn shared_calendars_show_and_a_read_only_share_stays_read_only(engine: Engine) {
    use kalends::service::shares;
    use kalends::store::Access;
    let s = start_server(engine).await;
    let bobs = "/calendars/bob/calendar/";
    let put = |uid: &str, title: &str| {
        s.req_as("bob", BOB_PW, "PUT", &format!("{bobs}{uid}.ics")).header("Content-Type", "text/calendar").body(ics(uid, title, "DTSTART:20261208T090000Z\r\nDTEND:20261208T100000Z\r\n"))
    };
    assert_eq!(send(put("team", "Team lunch")).await.status, 201);
    let (share, _) = shares::add(&s.store, "bob", "calendar", "alice", Access::Read).await.unwrap();
    let mut b = Browser::login(&s, "alice", ALICE_PW).await;
    let week = page(&mut b, "/web/calendar?view=week&date=2026-12-08").await;
    assert!(week.contains("Team lunch"), "{week}");
    let link = format!("/web/events/{}/team", share.segment);
    assert!(week.contains(&format!("href=\"{link}\"")), "{week}");
    // Read-only: shown, not editable, not deletable, not a target of new events or imports.
    let view = page(&mut b, &link).await;
    assert!(view.contains("shared with you read-only") && !view.contains("name=\"title\"") && !view.contains("Delete event"), "{view}");
    let r = b.post(&link, &[("etag", "\"x\""), ("title", "Mine now"), ("start_date", "2026-12-08"), ("start_time", "09:00"), ("end_date", "2026-12-08"), ("end_time", "10:00")]).await;
    assert_eq!(r.status, 403);
    assert_eq!(b.post(&format!("{link}/delete"), &[]).await.status, 403);
    assert!(send(s.req_as("bob", BOB_PW, "GET", &format!("{bobs}team.ics"))).await.body.contains("SUMMARY:Team lunch"));
    let new = page(&mut b, "/web/events/new").await;
    assert!(!new.contains(&format!("value=\"{}\"", share.segment)));
    let list = page(&mut b, "/web/calendars").await;
    assert!(list.contains("(shared by bob, read)"), "{list}");
    assert!(!list.contains(&format!("calendars/{}/delete", share.segment)));
    s.stop().await;
}

/// Two nodes on one database, as behind a round-robin balancer: a session made on one is good on
/// the other, and the other answers the progress of an import the first ran.
async fn a_second_node_knows_the_session_and_the_import(engine: Engine) {
    let s = start_server(engine).await;
    let config = kalends::config::Config { listen: "127.0.0.1:0".parse().unwrap(), ..kalends::config::Config::default() };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other = kalends::app::start(&config, s.store.clone(), listener).unwrap();
    let node_b = format!("http://{}", other.addr);
    let mut b = Browser::login(&s, "alice", ALICE_PW).await;
    let cookie = format!("kalends_session={}", b.cookies["kalends_session"]);
    let job = "fedcba9876543210fedcba9876543210";
    let r = b.post_multipart("/web/import", &[("calendar", "calendar"), ("job", job)], ("file", five_hundred().as_bytes())).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let p = send(client.get(format!("{node_b}/web/import/{job}/progress")).header("Cookie", &cookie)).await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&p.body).unwrap(), serde_json::json!({ "done": 500, "total": 500, "state": "done" }));
    let report = send(client.get(format!("{node_b}/web/import/{job}")).header("Cookie", &cookie)).await;
    assert!(report.body.contains("<strong>499</strong> added"), "{}", report.body);
    // Logging out on the first node ends the session on the second.
    assert_eq!(b.post("/web/logout", &[]).await.status, 303);
    let r = send(client.get(format!("{node_b}/web/calendar")).header("Cookie", &cookie)).await;
    assert_eq!(r.status, 303);
    other.stop().await;
    s.stop().await;
}

on_both_engines!(
    a_second_node_knows_the_session_and_the_import,
    shared_calendars_show_and_a_read_only_share_stays_read_only,
    views_show_caldav_events_and_instances_only_of_the_user,
    events_made_edited_and_deleted_by_form,
    calendars_made_renamed_recoloured_and_deleted,
    import_with_progress_and_report_then_export,
    a_hostile_title_is_escaped,
);
