//! Black-box tests of RFC 6638 implicit scheduling between Kalends users, over HTTP, on SQLite
//! and PostgreSQL: invitations land in the attendees' calendars and inboxes before the
//! organizer's PUT returns, replies come back, changes and cancellations follow, and every
//! refusal has its precondition.
#![allow(clippy::unwrap_used)]

mod harness;
mod support;

use harness::*;
use kalends::service::users;
use kalends::store::SchedStore;

const CAL: &str = "/calendars/alice/calendar/";
const ALICE: &str = "mailto:alice@example.org";

/// The server with alice (the organizer) and two more users who have email addresses.
async fn start(engine: Engine) -> TestServer {
    let s = start_server(engine).await;
    users::create(&s.store, "bea", Some("bea@example.org"), "bea-pw").await.unwrap();
    users::create(&s.store, "carl", Some("carl@example.org"), "carl-pw").await.unwrap();
    s
}

fn meeting(uid: &str, extra_attendees: &[&str], dtstart: &str, seq: u32) -> String {
    let mut att = String::new();
    for a in extra_attendees {
        att.push_str(&format!("ATTENDEE;CN={a};PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:{a}\r\n"));
    }
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n\
         DTSTART:{dtstart}\r\nDURATION:PT1H\r\nSEQUENCE:{seq}\r\nSUMMARY:Planning\r\nORGANIZER;CN=Alice:{ALICE}\r\n\
         ATTENDEE;CN=Alice;PARTSTAT=ACCEPTED:{ALICE}\r\n{att}END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

async fn get_as(s: &TestServer, user: &str, path: &str) -> Response {
    send(s.req_as(user, &format!("{user}-pw"), "GET", path)).await
}

/// The members of a user's inbox and their bodies.
async fn inbox(s: &TestServer, user: &str) -> Vec<String> {
    let path = format!("/calendars/{user}/inbox/");
    let body = r#"<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>"#;
    let pw = if user == "alice" { ALICE_PW.to_owned() } else { format!("{user}-pw") };
    let r = send(s.req_as(user, &pw, "PROPFIND", &path).header("Depth", "1").body(body)).await;
    assert_eq!(r.status, 207, "{}", r.body);
    let mut out = Vec::new();
    for href in r.hrefs().into_iter().filter(|h| *h != path) {
        out.push(send(s.req_as(user, &pw, "GET", &href)).await.body);
    }
    out
}

fn unfolded(text: &str) -> String {
    text.replace("\r\n ", "").replace("\n ", "")
}

/// The ATTENDEE line of `who` in `text`, unfolded.
fn attendee_line(text: &str, who: &str) -> String {
    unfolded(text).lines().find(|l| l.starts_with("ATTENDEE") && l.to_lowercase().contains(&who.to_lowercase())).unwrap_or_default().to_owned()
}

/// `text` with the PARTSTAT of `who` set to `partstat`, unfolded.
fn answered(text: &str, who: &str, partstat: &str) -> String {
    let text = unfolded(text);
    let lines = text.lines().map(|l| {
        if l.starts_with("ATTENDEE") && l.contains(who) {
            let start = l.find("PARTSTAT=").unwrap() + "PARTSTAT=".len();
            let end = l[start..].find([';', ':']).map_or(l.len(), |e| start + e);
            format!("{}{partstat}{}", &l[..start], &l[end..])
        } else {
            l.to_owned()
        }
    });
    lines.collect::<Vec<_>>().join("\r\n") + "\r\n"
}

async fn invite_reaches_calendars_and_inboxes(engine: Engine) {
    let s = start(engine).await;
    let ics = meeting("m1", &["bea@example.org", "carl@example.org", "dave@elsewhere.example"], "20270105T100000Z", 0);
    let r = s.put_ics(&format!("{CAL}m1.ics"), &ics).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let tag = r.header("schedule-tag").expect("a Schedule-Tag on a scheduling object");
    assert_eq!(r.header("etag"), None, "the stored object gained SCHEDULE-STATUS");
    // The organizer's copy says what happened to each attendee (RFC 6638 §3.2.9).
    let mine = send(s.req("GET", &format!("{CAL}m1.ics"))).await;
    assert_eq!(mine.header("schedule-tag").as_deref(), Some(tag.as_str()));
    assert!(attendee_line(&mine.body, "bea@").contains("SCHEDULE-STATUS=1.2"), "{}", mine.body);
    assert!(attendee_line(&mine.body, "carl@").contains("SCHEDULE-STATUS=1.2"));
    assert!(attendee_line(&mine.body, "dave@").contains("SCHEDULE-STATUS=1.0"), "{}", mine.body);
    // Each local attendee has the event in their calendar and the REQUEST in their inbox.
    for user in ["bea", "carl"] {
        let copy = get_as(&s, user, &format!("/calendars/{user}/calendar/m1.ics")).await;
        assert_eq!(copy.status, 200, "{user}");
        assert!(copy.body.contains("SUMMARY:Planning") && !copy.body.contains("METHOD:"), "{user}: {}", copy.body);
        assert!(copy.header("schedule-tag").is_some());
        let items = inbox(&s, user).await;
        assert_eq!(items.len(), 1, "{user}");
        assert!(items[0].contains("METHOD:REQUEST") && !items[0].contains("SCHEDULE-STATUS"), "{}", items[0]);
    }
    // The outsider's message is queued for email, in the same transaction.
    let queued = s.store.pending_external(10).await.unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].message.recipient, "mailto:dave@elsewhere.example");
    assert_eq!(queued[0].message.method, "REQUEST");
    s.stop().await;
}

async fn replies_update_the_organizer_and_others(engine: Engine) {
    let s = start(engine).await;
    let r = s.put_ics(&format!("{CAL}m2.ics"), &meeting("m2", &["bea@example.org", "carl@example.org"], "20270105T100000Z", 0)).await;
    let organizer_tag = r.header("schedule-tag").unwrap();
    let bea_path = "/calendars/bea/calendar/m2.ics";
    let copy = get_as(&s, "bea", bea_path).await.body;
    let accepted = unfolded(&copy).lines().map(|l| {
        if l.starts_with("ATTENDEE") && l.contains("bea@") { l.replace("NEEDS-ACTION", "ACCEPTED") } else { l.to_owned() }
    }).collect::<Vec<_>>().join("\r\n") + "\r\n";
    assert_ne!(accepted, copy);
    let r = send(s.req_as("bea", "bea-pw", "PUT", bea_path).header("Content-Type", "text/calendar").body(accepted)).await;
    assert_eq!(r.status, 204, "{}", r.body);
    // The organizer sees the acceptance at once; their Schedule-Tag stays (RFC 6638 §3.2.10).
    let mine = send(s.req("GET", &format!("{CAL}m2.ics"))).await;
    assert!(attendee_line(&mine.body, "bea@").contains("PARTSTAT=ACCEPTED"), "{}", mine.body);
    assert_eq!(mine.header("schedule-tag").as_deref(), Some(organizer_tag.as_str()));
    assert!(inbox(&s, "alice").await.iter().any(|m| m.contains("METHOD:REPLY")));
    // Carl's copy is refreshed with Bea's answer.
    let carl = get_as(&s, "carl", "/calendars/carl/calendar/m2.ics").await.body;
    assert!(attendee_line(&carl, "bea@").contains("PARTSTAT=ACCEPTED"), "{carl}");
    s.stop().await;
}

async fn reschedule_resets_and_removal_cancels(engine: Engine) {
    let s = start(engine).await;
    let path = format!("{CAL}m3.ics");
    s.put_ics(&path, &meeting("m3", &["bea@example.org", "carl@example.org"], "20270105T100000Z", 0)).await;
    // Move the meeting and drop Carl.
    let moved = meeting("m3", &["bea@example.org"], "20270106T100000Z", 0);
    let r = s.put_ics(&path, &moved).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let bea = get_as(&s, "bea", "/calendars/bea/calendar/m3.ics").await.body;
    assert!(bea.contains("DTSTART:20270106T100000Z"), "{bea}");
    let mine = send(s.req("GET", &path)).await.body;
    assert!(unfolded(&mine).contains("SEQUENCE:1"), "the server raised SEQUENCE: {mine}");
    let carl = get_as(&s, "carl", "/calendars/carl/calendar/m3.ics").await;
    assert!(carl.status == 404 || carl.body.contains("STATUS:CANCELLED"), "{}", carl.body);
    assert!(inbox(&s, "carl").await.iter().any(|m| m.contains("METHOD:CANCEL")));
    // The organizer deletes: Bea's copy is cancelled too.
    assert_eq!(send(s.req("DELETE", &path)).await.status, 204);
    let bea = get_as(&s, "bea", "/calendars/bea/calendar/m3.ics").await;
    assert!(bea.status == 404 || bea.body.contains("STATUS:CANCELLED"), "{}", bea.body);
    assert!(inbox(&s, "bea").await.iter().any(|m| m.contains("METHOD:CANCEL")));
    s.stop().await;
}

/// RFC 6638 §3.2.10.1: a write on a copy read before another attendee answered keeps that
/// answer; an attendee answers only for themselves.
async fn an_older_copy_keeps_newer_answers(engine: Engine) {
    let s = start(engine).await;
    s.put_ics(&format!("{CAL}m11.ics"), &meeting("m11", &["bea@example.org", "carl@example.org"], "20270105T100000Z", 0)).await;
    let carl_path = "/calendars/carl/calendar/m11.ics";
    let read = get_as(&s, "carl", carl_path).await.body;
    let bea_path = "/calendars/bea/calendar/m11.ics";
    let bea = answered(&get_as(&s, "bea", bea_path).await.body, "bea@", "ACCEPTED");
    let r = send(s.req_as("bea", "bea-pw", "PUT", bea_path).header("Content-Type", "text/calendar").body(bea)).await;
    assert_eq!(r.status, 204, "{}", r.body);
    // Carl's client answers on what it read, without a precondition, and says Bea declined.
    let older = answered(&answered(&read, "carl@", "TENTATIVE"), "bea@", "DECLINED");
    let r = send(s.req_as("carl", "carl-pw", "PUT", carl_path).header("Content-Type", "text/calendar").body(older)).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let carl = get_as(&s, "carl", carl_path).await.body;
    assert!(attendee_line(&carl, "bea@").contains("PARTSTAT=ACCEPTED"), "Bea's answer is kept: {carl}");
    assert!(attendee_line(&carl, "carl@").contains("PARTSTAT=TENTATIVE"), "{carl}");
    let mine = send(s.req("GET", &format!("{CAL}m11.ics"))).await.body;
    assert!(attendee_line(&mine, "bea@").contains("PARTSTAT=ACCEPTED"), "{mine}");
    assert!(attendee_line(&mine, "carl@").contains("PARTSTAT=TENTATIVE"), "{mine}");
    s.stop().await;
}

/// RFC 6638 §3.2.10: Bea's answer refreshes Carl's copy without a new Schedule-Tag (attendee
/// rule 2), so Carl's client may write with the tag it has (If-Schedule-Tag-Match, §3.2.10.1);
/// his own write gives a new one (rule 3).
async fn a_refresh_keeps_the_schedule_tag(engine: Engine) {
    let s = start(engine).await;
    s.put_ics(&format!("{CAL}m12.ics"), &meeting("m12", &["bea@example.org", "carl@example.org"], "20270105T100000Z", 0)).await;
    let carl_path = "/calendars/carl/calendar/m12.ics";
    let read = get_as(&s, "carl", carl_path).await;
    let tag = read.header("schedule-tag").unwrap();
    let bea_path = "/calendars/bea/calendar/m12.ics";
    let bea = answered(&get_as(&s, "bea", bea_path).await.body, "bea@", "ACCEPTED");
    let r = send(s.req_as("bea", "bea-pw", "PUT", bea_path).header("Content-Type", "text/calendar").body(bea)).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let refreshed = get_as(&s, "carl", carl_path).await;
    assert!(attendee_line(&refreshed.body, "bea@").contains("PARTSTAT=ACCEPTED"), "{}", refreshed.body);
    assert_eq!(refreshed.header("schedule-tag").as_deref(), Some(tag.as_str()), "only participation changed");
    let older = answered(&read.body, "carl@", "TENTATIVE");
    let put = s.req_as("carl", "carl-pw", "PUT", carl_path).header("Content-Type", "text/calendar");
    let r = send(put.header("If-Schedule-Tag-Match", tag.as_str()).body(older)).await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_ne!(r.header("schedule-tag").unwrap(), tag, "his own write changes it");
    let carl = get_as(&s, "carl", carl_path).await.body;
    assert!(attendee_line(&carl, "bea@").contains("PARTSTAT=ACCEPTED"), "Bea's answer is kept: {carl}");
    let mine = send(s.req("GET", &format!("{CAL}m12.ics"))).await.body;
    assert!(attendee_line(&mine, "carl@").contains("PARTSTAT=TENTATIVE"), "{mine}");
    s.stop().await;
}

async fn attendee_delete_declines(engine: Engine) {
    let s = start(engine).await;
    s.put_ics(&format!("{CAL}m4.ics"), &meeting("m4", &["bea@example.org", "carl@example.org"], "20270105T100000Z", 0)).await;
    let r = send(s.req_as("bea", "bea-pw", "DELETE", "/calendars/bea/calendar/m4.ics")).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let mine = send(s.req("GET", &format!("{CAL}m4.ics"))).await.body;
    assert!(attendee_line(&mine, "bea@").contains("PARTSTAT=DECLINED"), "{mine}");
    // Carl's answer refreshes the attendees who still have the event, not Bea's deleted copy.
    let path = "/calendars/carl/calendar/m4.ics";
    let copy = get_as(&s, "carl", path).await.body;
    let accepted = unfolded(&copy).lines().map(|l| {
        if l.starts_with("ATTENDEE") && l.contains("carl@") { l.replace("NEEDS-ACTION", "ACCEPTED") } else { l.to_owned() }
    }).collect::<Vec<_>>().join("\r\n") + "\r\n";
    let r = send(s.req_as("carl", "carl-pw", "PUT", path).header("Content-Type", "text/calendar").body(accepted)).await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(get_as(&s, "bea", "/calendars/bea/calendar/m4.ics").await.status, 404, "a refresh does not re-invite");
    s.stop().await;
}

async fn attendees_change_only_their_participation(engine: Engine) {
    let s = start(engine).await;
    s.put_ics(&format!("{CAL}m5.ics"), &meeting("m5", &["bea@example.org"], "20270105T100000Z", 0)).await;
    let path = "/calendars/bea/calendar/m5.ics";
    let copy = get_as(&s, "bea", path).await.body;
    let edited = copy.replace("SUMMARY:Planning", "SUMMARY:Mine now");
    let r = send(s.req_as("bea", "bea-pw", "PUT", path).header("Content-Type", "text/calendar").body(edited)).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.condition().1, "allowed-attendee-scheduling-object-change");
    assert_eq!(get_as(&s, "bea", path).await.body, copy, "unchanged");
    s.stop().await;
}

async fn schedule_agent_client_and_tags(engine: Engine) {
    let s = start(engine).await;
    let ics = meeting("m6", &["bea@example.org"], "20270105T100000Z", 0)
        .replace("ATTENDEE;CN=bea@example.org;", "ATTENDEE;SCHEDULE-AGENT=CLIENT;CN=bea@example.org;");
    let r = s.put_ics(&format!("{CAL}m6.ics"), &ics).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(get_as(&s, "bea", "/calendars/bea/calendar/m6.ics").await.status, 404, "the client schedules Bea");
    assert!(inbox(&s, "bea").await.is_empty());
    // If-Schedule-Tag-Match (RFC 6638 §8.3).
    let path = format!("{CAL}m7.ics");
    let r = s.put_ics(&path, &meeting("m7", &["bea@example.org"], "20270105T100000Z", 0)).await;
    let tag = r.header("schedule-tag").unwrap();
    let again = meeting("m7", &["bea@example.org"], "20270105T110000Z", 0);
    let r = send(s.req("PUT", &path).header("If-Schedule-Tag-Match", "\"nope\"").header("Content-Type", "text/calendar").body(again.clone())).await;
    assert_eq!(r.status, 412);
    let r = send(s.req("PUT", &path).header("If-Schedule-Tag-Match", tag.as_str()).header("Content-Type", "text/calendar").body(again)).await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_ne!(r.header("schedule-tag").unwrap(), tag, "a client write changes the tag");
    s.stop().await;
}

async fn one_scheduling_object_per_uid(engine: Engine) {
    let s = start(engine).await;
    send(s.req("MKCALENDAR", "/calendars/alice/work/")).await;
    s.put_ics(&format!("{CAL}m8.ics"), &meeting("m8", &["bea@example.org"], "20270105T100000Z", 0)).await;
    let r = s.put_ics("/calendars/alice/work/m8.ics", &meeting("m8", &["bea@example.org"], "20270105T100000Z", 0)).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.condition().1, "unique-scheduling-object-resource");
    s.stop().await;
}

async fn too_many_attendees(engine: Engine) {
    let s = start_with(engine, |c| c.limits.max_attendees_per_instance = 2).await;
    let r = s.put_ics(&format!("{CAL}m9.ics"), &meeting("m9", &["bea@example.org", "carl@example.org"], "20270105T100000Z", 0)).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.condition().1, "max-attendees-per-instance");
    assert_eq!(send(s.req("GET", &format!("{CAL}m9.ics"))).await.status, 404);
    s.stop().await;
}

async fn principal_and_boxes(engine: Engine) {
    let s = start(engine).await;
    let body = r#"<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:schedule-inbox-URL/><C:schedule-outbox-URL/><C:calendar-user-address-set/><C:calendar-user-type/></D:prop></D:propfind>"#;
    let r = s.propfind("/principals/alice/", "0", body).await;
    let p = r.response_for("/principals/alice/");
    assert_eq!(prop(&p, CALDAV, "schedule-inbox-URL").unwrap().1.child(DAV, "href").unwrap().text(), "/calendars/alice/inbox/");
    assert_eq!(prop(&p, CALDAV, "schedule-outbox-URL").unwrap().1.child(DAV, "href").unwrap().text(), "/calendars/alice/outbox/");
    assert_eq!(prop_text(&p, CALDAV, "calendar-user-type"), "INDIVIDUAL");
    let body = r#"<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:resourcetype/><C:schedule-default-calendar-URL/></D:prop></D:propfind>"#;
    let r = s.propfind("/calendars/alice/inbox/", "0", body).await;
    let inbox_r = r.response_for("/calendars/alice/inbox/");
    assert!(prop(&inbox_r, DAV, "resourcetype").unwrap().1.child(CALDAV, "schedule-inbox").is_some());
    assert_eq!(prop(&inbox_r, CALDAV, "schedule-default-calendar-URL").unwrap().1.child(DAV, "href").unwrap().text(), CAL);
    // Nobody writes into the boxes, and they stay.
    let r = s.put_ics("/calendars/alice/inbox/x.ics", &event("x", "y")).await;
    assert_eq!(r.status, 403);
    assert_eq!(send(s.req("DELETE", "/calendars/alice/inbox/")).await.status, 403);
    // The default calendar is settable, to a calendar of the user's only.
    let set = |href: &str| format!(r#"<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><C:schedule-default-calendar-URL><D:href>{href}</D:href></C:schedule-default-calendar-URL></D:prop></D:set></D:propertyupdate>"#);
    send(s.req("MKCALENDAR", "/calendars/alice/work/")).await;
    let r = send(s.req("PROPPATCH", "/calendars/alice/inbox/").body(set("/calendars/alice/work/"))).await;
    assert!(r.body.contains("200 OK"), "{}", r.body);
    let r = send(s.req("PROPPATCH", "/calendars/alice/inbox/").body(set("/calendars/bea/calendar/"))).await;
    assert!(r.body.contains("valid-schedule-default-calendar-URL"), "{}", r.body);
    // An inbox item can be read and deleted by its owner.
    s.put_ics(&format!("{CAL}m10.ics"), &meeting("m10", &["bea@example.org"], "20270105T100000Z", 0)).await;
    let body = r#"<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>"#;
    let r = send(s.req_as("bea", "bea-pw", "PROPFIND", "/calendars/bea/inbox/").header("Depth", "1").body(body)).await;
    let item = r.hrefs().into_iter().find(|h| h.ends_with(".ics")).unwrap();
    assert_eq!(send(s.req_as("bea", "bea-pw", "DELETE", &item)).await.status, 204);
    assert_eq!(send(s.req("GET", &item)).await.status, 403, "not alice's");
    s.stop().await;
}

/// Two organizers inviting each other at the same time: every PUT succeeds (no deadlock) and
/// every invitation arrives.
async fn concurrent_invitations(engine: Engine) {
    let s = start(engine).await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (user, pw, other) = if i % 2 == 0 { ("bea", "bea-pw", "carl@example.org") } else { ("carl", "carl-pw", "bea@example.org") };
        let ics = meeting(&format!("c{i}"), &[other], "20270105T100000Z", 0)
            .replace(&format!("ORGANIZER;CN=Alice:{ALICE}"), &format!("ORGANIZER:mailto:{user}@example.org"))
            .replace(&format!("ATTENDEE;CN=Alice;PARTSTAT=ACCEPTED:{ALICE}"), &format!("ATTENDEE;PARTSTAT=ACCEPTED:mailto:{user}@example.org"));
        let rb = s.req_as(user, pw, "PUT", &format!("/calendars/{user}/calendar/c{i}.ics")).header("Content-Type", "text/calendar").body(ics);
        tasks.push(tokio::spawn(async move { send(rb).await.status }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 201);
    }
    assert_eq!(inbox(&s, "bea").await.len(), 4);
    assert_eq!(inbox(&s, "carl").await.len(), 4);
    s.stop().await;
}

/// RFC 6638 §5: a VFREEBUSY REQUEST POSTed to the outbox answers each attendee's busy time.
async fn freebusy_through_the_outbox(engine: Engine) {
    let s = start(engine).await;
    let busy = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//T//EN\r\nBEGIN:VEVENT\r\nUID:b1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20270105T100000Z\r\nDTEND:20270105T110000Z\r\nSUMMARY:Private dentist\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let r = send(s.req_as("bea", "bea-pw", "PUT", "/calendars/bea/calendar/b1.ics").header("Content-Type", "text/calendar").body(busy)).await;
    assert_eq!(r.status, 201);
    // A calendar Bea marked transparent does not count.
    send(s.req_as("bea", "bea-pw", "MKCALENDAR", "/calendars/bea/side/")).await;
    let transp = r#"<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><C:schedule-calendar-transp><C:transparent/></C:schedule-calendar-transp></D:prop></D:set></D:propertyupdate>"#;
    let r = send(s.req_as("bea", "bea-pw", "PROPPATCH", "/calendars/bea/side/").body(transp)).await;
    assert!(r.body.contains("200 OK"), "{}", r.body);
    let hidden = busy.replace("UID:b1", "UID:b2").replace("T100000Z", "T140000Z").replace("T110000Z", "T150000Z");
    send(s.req_as("bea", "bea-pw", "PUT", "/calendars/bea/side/b2.ics").header("Content-Type", "text/calendar").body(hidden)).await;
    let request = |organizer: &str| format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//T//EN\r\nMETHOD:REQUEST\r\nBEGIN:VFREEBUSY\r\nUID:fb-1\r\nDTSTAMP:20260101T000000Z\r\n\
         DTSTART:20270105T000000Z\r\nDTEND:20270106T000000Z\r\nORGANIZER:{organizer}\r\nATTENDEE:mailto:bea@example.org\r\n\
         ATTENDEE:mailto:nobody@elsewhere.example\r\nEND:VFREEBUSY\r\nEND:VCALENDAR\r\n"
    );
    let post = |body: String| s.req("POST", "/calendars/alice/outbox/").header("Content-Type", "text/calendar").body(body);
    let r = send(post(request(ALICE))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let root = r.xml();
    assert!(root.is(CALDAV, "schedule-response"), "{}", r.body);
    let responses: Vec<_> = root.children().filter(|c| c.is(CALDAV, "response")).collect();
    assert_eq!(responses.len(), 2);
    let bea = responses[0];
    assert_eq!(bea.child(CALDAV, "recipient").unwrap().child(DAV, "href").unwrap().text(), "mailto:bea@example.org");
    assert!(bea.child(CALDAV, "request-status").unwrap().text().starts_with("2.0"));
    let data = bea.child(CALDAV, "calendar-data").unwrap().text();
    assert!(data.contains("METHOD:REPLY") && data.contains("FREEBUSY:20270105T100000Z/20270105T110000Z"), "{data}");
    assert!(!data.contains("20270105T140000Z"), "the transparent calendar counted: {data}");
    assert!(!data.contains("dentist"), "free/busy shows no details");
    assert!(responses[1].child(CALDAV, "request-status").unwrap().text().starts_with("3.7"));
    // Only for oneself as ORGANIZER.
    let r = send(post(request("mailto:bea@example.org"))).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.condition().1, "organizer-allowed");
    // Not iTIP at all.
    let r = send(post(event("x", "y"))).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.condition().1, "valid-scheduling-message", "{}", r.body);
    // POST goes to the outbox only.
    assert_eq!(send(s.req("POST", CAL).body(request(ALICE))).await.status, 405);
    s.stop().await;
}

/// A weekly series where Carl is invited to one instance only, then an EXDATE, Bea declining
/// one instance, and SCHEDULE-FORCE-SEND (RFC 6638 §3.2.6, §7.2).
async fn per_instance_attendees(engine: Engine) {
    let s = start(engine).await;
    let path = format!("{CAL}w1.ics");
    let series = |exdate: &str, force: &str| {
        format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nBEGIN:VEVENT\r\nUID:w1\r\nDTSTAMP:20260101T000000Z\r\n\
             DTSTART:20270104T090000Z\r\nDURATION:PT30M\r\nRRULE:FREQ=WEEKLY;COUNT=4\r\n{exdate}SUMMARY:Standup\r\n\
             ORGANIZER:{ALICE}\r\nATTENDEE;PARTSTAT=ACCEPTED:{ALICE}\r\nATTENDEE;{force}PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bea@example.org\r\n\
             END:VEVENT\r\nBEGIN:VEVENT\r\nUID:w1\r\nDTSTAMP:20260101T000000Z\r\nRECURRENCE-ID:20270111T090000Z\r\n\
             DTSTART:20270111T100000Z\r\nDURATION:PT30M\r\nSUMMARY:Standup with Carl\r\nORGANIZER:{ALICE}\r\n\
             ATTENDEE;PARTSTAT=ACCEPTED:{ALICE}\r\nATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bea@example.org\r\n\
             ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:carl@example.org\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        )
    };
    let r = s.put_ics(&path, &series("", "")).await;
    assert_eq!(r.status, 201, "{}", r.body);
    // Carl sees his one instance, never the series he is not invited to.
    let carl = get_as(&s, "carl", "/calendars/carl/calendar/w1.ics").await.body;
    assert!(carl.contains("RECURRENCE-ID:20270111T090000Z") && carl.contains("Standup with Carl"), "{carl}");
    assert!(!carl.contains("RRULE") && carl.matches("BEGIN:VEVENT").count() == 1, "{carl}");
    let bea = get_as(&s, "bea", "/calendars/bea/calendar/w1.ics").await.body;
    assert!(bea.contains("RRULE:FREQ=WEEKLY;COUNT=4") && bea.contains("RECURRENCE-ID:20270111T090000Z"), "{bea}");
    // The organizer drops the third week: Bea's copy loses it too.
    let r = s.put_ics(&path, &series("EXDATE:20270118T090000Z\r\n", "")).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let bea = get_as(&s, "bea", "/calendars/bea/calendar/w1.ics").await.body;
    assert!(unfolded(&bea).contains("20270118T090000Z"), "EXDATE reached Bea: {bea}");
    assert!(inbox(&s, "bea").await.iter().any(|m| m.contains("METHOD:CANCEL") || m.contains("EXDATE")), "Bea was told");
    // Bea declines only Carl's week, in an override of her copy.
    let copy = get_as(&s, "bea", "/calendars/bea/calendar/w1.ics").await.body;
    let mut declined = String::new();
    let mut in_override = false;
    for line in unfolded(&copy).lines() {
        if line.starts_with("RECURRENCE-ID") {
            in_override = true;
        }
        if line == "END:VEVENT" {
            in_override = false;
        }
        let line = if in_override && line.starts_with("ATTENDEE") && line.contains("bea@") { line.replace("NEEDS-ACTION", "DECLINED") } else { line.to_owned() };
        declined.push_str(&line);
        declined.push_str("\r\n");
    }
    let r = send(s.req_as("bea", "bea-pw", "PUT", "/calendars/bea/calendar/w1.ics").header("Content-Type", "text/calendar").body(declined)).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let mine = unfolded(&send(s.req("GET", &path)).await.body);
    let override_part = &mine[mine.find("RECURRENCE-ID").unwrap()..];
    assert!(attendee_line(override_part, "bea@").contains("PARTSTAT=DECLINED"), "{mine}");
    let master_part = &mine[..mine.find("RECURRENCE-ID").unwrap()];
    assert!(!attendee_line(master_part, "bea@").contains("DECLINED"), "only that instance: {mine}");
    // SCHEDULE-FORCE-SEND=REQUEST sends again without a change, and is not stored.
    let before = inbox(&s, "bea").await.len();
    let current = send(s.req("GET", &path)).await.body;
    let forced = unfolded(&current).replacen("ATTENDEE;", "ATTENDEE;SCHEDULE-FORCE-SEND=REQUEST;", 2).replacen("ATTENDEE;SCHEDULE-FORCE-SEND=REQUEST;", "ATTENDEE;", 1);
    assert!(forced.contains("SCHEDULE-FORCE-SEND=REQUEST"), "{forced}");
    let r = s.put_ics(&path, &forced).await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(inbox(&s, "bea").await.len(), before + 1, "re-sent to Bea");
    assert!(!send(s.req("GET", &path)).await.body.contains("SCHEDULE-FORCE-SEND"));
    s.stop().await;
}

on_both_engines!(
    per_instance_attendees,
    freebusy_through_the_outbox,
    invite_reaches_calendars_and_inboxes,
    replies_update_the_organizer_and_others,
    an_older_copy_keeps_newer_answers,
    a_refresh_keeps_the_schedule_tag,
    reschedule_resets_and_removal_cancels,
    attendee_delete_declines,
    attendees_change_only_their_participation,
    schedule_agent_client_and_tags,
    one_scheduling_object_per_uid,
    too_many_attendees,
    principal_and_boxes,
    concurrent_invitations,
);
