//! Black-box tests of iMIP sending (RFC 6047) on SQLite and PostgreSQL, against a real SMTP
//! server on loopback (`support::smtp`): an invitation to an outside address becomes one mail
//! with the right parts; pending updates are coalesced; an outage loses nothing and sends once;
//! refusals and successes end in the organizer's SCHEDULE-STATUS. The drain is driven with an
//! explicit clock (`Mailer::drain_once(now)`), the server's own loop in one test.
#![allow(clippy::unwrap_used)]

mod harness;
mod support;

use std::time::Duration;

use harness::*;
use kalends::config::Config;
use kalends::store::SchedStore;
use kalends::worker::imip::{Drained, ImipSettings, Mailer};
use mail_parser::{MessageParser, MimeHeaders};
use support::smtp::{Mode, SmtpSink};

const CAL: &str = "/calendars/alice/calendar/";
const DAVE: &str = "dave@elsewhere.example";
const FROM: &str = "Kalends <calendar@kalends.test>";

const BERLIN: &str = "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\n\
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nBEGIN:DAYLIGHT\r\n\
DTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nEND:DAYLIGHT\r\n\
END:VTIMEZONE\r\n";

fn meeting(uid: &str, dtstart: &str, summary: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\n{BERLIN}BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n\
         DTSTART;TZID=Europe/Berlin:{dtstart}\r\nDURATION:PT1H\r\nSUMMARY:{summary}\r\nLOCATION:Raum <3>\r\n\
         ORGANIZER;CN=Alice Ærø:mailto:alice@example.org\r\nATTENDEE;CN=Alice Ærø;PARTSTAT=ACCEPTED:mailto:alice@example.org\r\n\
         ATTENDEE;CN=Dave;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:{DAVE}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

/// A mailer as another node would run it, with test-sized retry and breaker times.
fn mailer(url: &str, tweak: impl FnOnce(&mut Config)) -> Mailer {
    let mut config = Config::default();
    config.imip.retry_initial_secs = 30;
    config.imip.breaker_initial_ms = 1;
    config.imip.breaker_max_ms = 1;
    tweak(&mut config);
    Mailer::new(url, FROM, ImipSettings::from_config(&config), Duration::from_secs(5)).unwrap()
}

fn now() -> i64 {
    kalends::service::now()
}

/// Dave's ATTENDEE line of alice's copy, unfolded.
async fn daves_line(s: &TestServer, name: &str) -> (String, Option<String>) {
    let r = send(s.req("GET", &format!("{CAL}{name}"))).await;
    let text = r.body.replace("\r\n ", "");
    let line = text.lines().find(|l| l.starts_with("ATTENDEE") && l.contains(DAVE)).unwrap_or_default().to_owned();
    (line, r.header("schedule-tag"))
}

async fn outbox_states(s: &TestServer) -> Vec<String> {
    let alice = s.store.users_by_email("alice@example.org").await.unwrap().remove(0);
    s.store.external_of(alice.id).await.unwrap().into_iter().map(|r| r.state).collect()
}

async fn invitation_is_one_mail_with_the_right_parts(engine: Engine) {
    let s = start_server(engine).await;
    let sink = SmtpSink::start().await;
    let r = s.put_ics(&format!("{CAL}m1.ics"), &meeting("m1", "20270105T100000", "Planung & Café ☕")).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let (line, tag) = daves_line(&s, "m1.ics").await;
    assert!(line.contains("SCHEDULE-STATUS=1.0"), "{line}");

    let m = mailer(&sink.url(), |_| {});
    assert_eq!(m.drain_once(&s.store, now()).await.unwrap(), Drained { sent: 1, ..Drained::default() });
    assert_eq!(m.drain_once(&s.store, now()).await.unwrap(), Drained::default(), "sent once");
    let mails = sink.mails();
    assert_eq!(mails.len(), 1);
    assert_eq!((mails[0].from.as_str(), mails[0].to.as_slice()), ("calendar@kalends.test", [DAVE.to_owned()].as_slice()));

    // Read back with a third-party parser (RFC 5322 / MIME).
    let mail = MessageParser::default().parse(&mails[0].data).unwrap();
    let from = mail.from().unwrap().first().unwrap();
    assert_eq!((from.name(), from.address()), (Some("Alice Ærø"), Some("calendar@kalends.test")));
    assert_eq!(mail.reply_to().unwrap().first().unwrap().address(), Some("alice@example.org"));
    assert_eq!(mail.to().unwrap().first().unwrap().address(), Some(DAVE));
    assert_eq!(mail.subject(), Some("Invitation: Planung & Café ☕"));
    assert_eq!(mail.header_raw("Auto-Submitted").map(str::trim), Some("auto-generated"));
    assert!(mail.message_id().unwrap().starts_with("imip."), "{:?}", mail.message_id());
    let plain = mail.body_text(0).unwrap();
    assert!(plain.contains("Planung & Café ☕") && plain.contains("(Europe/Berlin)") && plain.contains("Raum <3>"), "{plain}");
    let html = mail.body_html(0).unwrap();
    assert!(html.contains("Raum &lt;3&gt;") && html.contains("Planung &amp; Café"), "{html}");
    let part = |ctype: &str, sub: &str| {
        mail.parts.iter().find(|p| p.content_type().is_some_and(|c| c.ctype() == ctype && c.subtype() == Some(sub))).unwrap()
    };
    let calendar = part("text", "calendar");
    assert_eq!(calendar.content_type().unwrap().attribute("method"), Some("REQUEST"));
    assert_eq!(calendar.content_type().unwrap().attribute("charset"), Some("utf-8"));
    let ics = String::from_utf8(calendar.contents().to_vec()).unwrap();
    assert!(ics.contains("METHOD:REQUEST\r\n") && !ics.contains("SCHEDULE-STATUS"), "{ics}");
    // RFC 5546 §3.2.2: the zone the times use travels along; the attendee is asked to answer.
    assert!(ics.contains("BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\n"), "{ics}");
    assert!(ics.replace("\r\n ", "").lines().any(|l| l.starts_with("ATTENDEE") && l.contains(DAVE) && l.contains("RSVP=TRUE")), "{ics}");
    let parsed: icalendar::Calendar = ics.parse().unwrap();
    assert_eq!(parsed.property_value("METHOD"), Some("REQUEST"));
    let attachment = part("application", "ics");
    assert_eq!(attachment.attachment_name(), Some("invite.ics"));
    assert_eq!(attachment.contents(), calendar.contents());

    // RFC 6638 §3.2.9: 1.1 once sent, and the Schedule-Tag kept.
    let (line, after) = daves_line(&s, "m1.ics").await;
    assert!(line.contains("SCHEDULE-STATUS=1.1"), "{line}");
    assert_eq!(after, tag);
    assert_eq!(outbox_states(&s).await, ["sent"]);
    s.stop().await;
}

/// The invitation's RSVP link (issue 16) leads to the confirmation page; its POST answers for
/// Dave, and the organizer's copy shows it. A CANCEL carries no link.
async fn invitations_carry_a_working_rsvp_link(engine: Engine) {
    let s = start_server(engine).await;
    let sink = SmtpSink::start().await;
    let r = s.put_ics(&format!("{CAL}m9.ics"), &meeting("m9", "20270105T100000", "Review")).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let m = mailer(&sink.url(), |_| {}).with_rsvp_links(Some(s.base.clone()));
    m.drain_once(&s.store, now()).await.unwrap();
    let mails = sink.mails();
    assert_eq!(mails.len(), 1);
    let mail = MessageParser::default().parse(&mails[0].data).unwrap();
    let plain = mail.body_text(0).unwrap();
    let link = plain.split_whitespace().find(|w| w.contains("/rsvp/")).unwrap_or_else(|| panic!("no RSVP link in {plain}")).to_owned();
    assert!(link.starts_with(&s.base), "{link}");
    assert!(mail.body_html(0).unwrap().contains(&link), "the HTML part links it too");
    let path = link.trim_start_matches(&s.base).to_owned();
    let page = send(s.anon("GET", &path)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Review"), "{}", page.body);
    let (line, _) = daves_line(&s, "m9.ics").await;
    assert!(line.contains("PARTSTAT=NEEDS-ACTION"), "GET answers nothing: {line}");
    let r = send(s.anon("POST", &path).header("Content-Type", "application/x-www-form-urlencoded").body("answer=accepted")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (line, _) = daves_line(&s, "m9.ics").await;
    assert!(line.contains("PARTSTAT=ACCEPTED"), "{line}");
    // Deleting the event mails a CANCEL, which asks nothing.
    assert_eq!(send(s.req("DELETE", &format!("{CAL}m9.ics"))).await.status, 204);
    m.drain_once(&s.store, now()).await.unwrap();
    let mails = sink.mails();
    assert_eq!(mails.len(), 2);
    let cancel = MessageParser::default().parse(&mails[1].data).unwrap();
    assert!(!cancel.body_text(0).unwrap().contains("/rsvp/"));
    s.stop().await;
}

async fn pending_updates_are_coalesced(engine: Engine) {
    let s = start_server(engine).await;
    let sink = SmtpSink::start().await;
    for (day, title) in [("05", "First"), ("06", "Second"), ("07", "Third")] {
        let r = s.put_ics(&format!("{CAL}m2.ics"), &meeting("m2", &format!("202701{day}T100000"), title)).await;
        assert!(r.status.is_success(), "{}", r.body);
    }
    assert_eq!(outbox_states(&s).await, ["superseded", "superseded", "pending"]);
    let m = mailer(&sink.url(), |_| {});
    assert_eq!(m.drain_once(&s.store, now()).await.unwrap().sent, 1);
    let mails = sink.mails();
    assert_eq!(mails.len(), 1);
    let mail = MessageParser::default().parse(&mails[0].data).unwrap();
    assert_eq!(mail.subject(), Some("Updated invitation: Third"));
    s.stop().await;
}

async fn an_outage_loses_nothing_and_sends_once(engine: Engine) {
    let s = start_server(engine).await;
    let mut sink = SmtpSink::down().await;
    s.put_ics(&format!("{CAL}m3.ics"), &meeting("m3", "20270105T100000", "Outage")).await;
    let m = mailer(&sink.url(), |_| {});
    let t = now();
    assert_eq!(m.drain_once(&s.store, t).await.unwrap().retried, 1);
    assert_eq!(outbox_states(&s).await, ["pending"]);
    sink.restart().await;
    // Not due before its backoff (30 s at the first attempt), due after it.
    assert_eq!(m.drain_once(&s.store, t + 29).await.unwrap(), Drained::default());
    tokio::time::sleep(Duration::from_millis(5)).await; // the breaker's 1 ms
    assert_eq!(m.drain_once(&s.store, t + 30).await.unwrap().sent, 1);
    assert_eq!(m.drain_once(&s.store, t + 3600).await.unwrap(), Drained::default());
    assert_eq!(sink.mails().len(), 1);
    assert!(daves_line(&s, "m3.ics").await.0.contains("SCHEDULE-STATUS=1.1"));

    // A 4xx is retried the same way.
    sink.set_mode(Mode::Transient);
    s.put_ics(&format!("{CAL}m4.ics"), &meeting("m4", "20270105T100000", "Busy")).await;
    assert_eq!(m.drain_once(&s.store, t + 1).await.unwrap().retried, 1);
    sink.set_mode(Mode::Accept);
    assert_eq!(m.drain_once(&s.store, t + 31).await.unwrap().sent, 1);
    assert_eq!(sink.mails().len(), 2);
    s.stop().await;
}

async fn refusals_and_age_fail_with_5x(engine: Engine) {
    let s = start_server(engine).await;
    let sink = SmtpSink::start().await;
    sink.set_mode(Mode::Permanent);
    s.put_ics(&format!("{CAL}m5.ics"), &meeting("m5", "20270105T100000", "Refused")).await;
    let m = mailer(&sink.url(), |_| {});
    assert_eq!(m.drain_once(&s.store, now()).await.unwrap().failed, 1);
    let (line, _) = daves_line(&s, "m5.ics").await;
    assert!(line.contains("SCHEDULE-STATUS=5.2"), "{line}");
    // Never retried.
    sink.set_mode(Mode::Accept);
    assert_eq!(m.drain_once(&s.store, now() + 86_400).await.unwrap(), Drained::default());

    // Too old (max_age_hours): failed without a try, 5.1.
    s.put_ics(&format!("{CAL}m6.ics"), &meeting("m6", "20270105T100000", "Late")).await;
    assert_eq!(m.drain_once(&s.store, now() + 73 * 3600).await.unwrap().failed, 1);
    assert!(daves_line(&s, "m6.ics").await.0.contains("SCHEDULE-STATUS=5.1"));
    assert!(sink.mails().is_empty());
    assert_eq!(outbox_states(&s).await, ["failed", "failed"]);
    s.stop().await;
}

async fn send_limits_make_messages_wait(engine: Engine) {
    let s = start_server(engine).await;
    let sink = SmtpSink::start().await;
    for uid in ["a", "b", "c"] {
        s.put_ics(&format!("{CAL}{uid}.ics"), &meeting(uid, "20270105T100000", uid)).await;
    }
    let m = mailer(&sink.url(), |c| c.imip.per_hour = 2);
    let t = now();
    let round = m.drain_once(&s.store, t).await.unwrap();
    assert_eq!((round.sent, round.deferred), (2, 1));
    // Which two go first is up to the concurrent sends.
    let mut states = outbox_states(&s).await;
    states.sort();
    assert_eq!(states, ["pending", "sent", "sent"]);
    // An hour later there is room again.
    assert_eq!(m.drain_once(&s.store, t + 3601).await.unwrap().sent, 1);
    assert_eq!(sink.mails().len(), 3);
    s.stop().await;
}

/// Two nodes draining one outbox at once (claims skip each other's rows: FOR UPDATE SKIP
/// LOCKED on PostgreSQL, the one writer on SQLite) send every message exactly once.
async fn two_workers_never_send_a_message_twice(engine: Engine) {
    let s = start_server(engine).await;
    let sink = SmtpSink::start().await;
    for i in 0..24 {
        let uid = format!("race{i}");
        s.put_ics(&format!("{CAL}{uid}.ics"), &meeting(&uid, "20270105T100000", &uid)).await;
    }
    let small = |c: &mut Config| c.imip.batch = 3;
    let (a, b) = (mailer(&sink.url(), small), mailer(&sink.url(), small));
    let t = now();
    let (ra, rb) = tokio::join!(a.drain_once(&s.store, t), b.drain_once(&s.store, t));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.sent + rb.sent, 24, "{ra:?} {rb:?}");
    let mut ids: Vec<String> = sink
        .mails()
        .iter()
        .map(|m| MessageParser::default().parse(&m.data).unwrap().message_id().unwrap().to_owned())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 24);
    assert_eq!(sink.mails().len(), 24);
    assert!(outbox_states(&s).await.iter().all(|st| st == "sent"));
    s.stop().await;
}

/// A node that claimed a message and died: the row is sent by another after the lease.
async fn a_dead_nodes_claim_is_taken_over(engine: Engine) {
    let s = start_server(engine).await;
    let sink = SmtpSink::start().await;
    s.put_ics(&format!("{CAL}m8.ics"), &meeting("m8", "20270105T100000", "Orphan")).await;
    let t = now();
    let dead = s.store.claim_external(t, t + 300, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    let m = mailer(&sink.url(), |_| {});
    assert_eq!(m.drain_once(&s.store, t + 299).await.unwrap(), Drained::default(), "held by the lease");
    assert_eq!(m.drain_once(&s.store, t + 300).await.unwrap().sent, 1);
    assert_eq!(sink.mails().len(), 1);
    assert!(daves_line(&s, "m8.ics").await.0.contains("SCHEDULE-STATUS=1.1"));
    s.stop().await;
}

/// An attendee here answering an organizer outside: the REPLY goes by mail in the attendee's
/// name, and the status lands on the ORGANIZER line of their copy.
async fn a_reply_to_an_outside_organizer(engine: Engine) {
    let s = start_server(engine).await;
    let sink = SmtpSink::start().await;
    let event = |partstat: &str| {
        format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nBEGIN:VEVENT\r\nUID:ext1\r\nDTSTAMP:20260101T000000Z\r\n\
             DTSTART:20270105T100000Z\r\nDURATION:PT1H\r\nSUMMARY:Their meeting\r\nORGANIZER;CN=Olga:mailto:olga@elsewhere.example\r\n\
             ATTENDEE;CN=Alice Ærø;PARTSTAT={partstat}:mailto:alice@example.org\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        )
    };
    assert!(s.put_ics(&format!("{CAL}ext1.ics"), &event("NEEDS-ACTION")).await.status.is_success());
    let r = send(s.req("GET", &format!("{CAL}ext1.ics"))).await;
    let r = send(s.req("PUT", &format!("{CAL}ext1.ics")).header("If-Match", r.header("etag").unwrap()).body(event("ACCEPTED"))).await;
    assert!(r.status.is_success(), "{}", r.body);
    let m = mailer(&sink.url(), |_| {});
    assert_eq!(m.drain_once(&s.store, now()).await.unwrap().sent, 1);
    let mails = sink.mails();
    assert_eq!(mails[0].to, ["olga@elsewhere.example"]);
    let mail = MessageParser::default().parse(&mails[0].data).unwrap();
    assert_eq!(mail.subject(), Some("Alice Ærø accepted: Their meeting"));
    assert_eq!(mail.from().unwrap().first().unwrap().name(), Some("Alice Ærø"));
    assert_eq!(mail.reply_to().unwrap().first().unwrap().address(), Some("alice@example.org"));
    let copy = send(s.req("GET", &format!("{CAL}ext1.ics"))).await.body.replace("\r\n ", "");
    let organizer = copy.lines().find(|l| l.starts_with("ORGANIZER")).unwrap();
    assert!(organizer.contains("SCHEDULE-STATUS=1.1"), "{copy}");
    s.stop().await;
}

/// `imip.max_recipients`: one change emails that many outside people at most; the rest are
/// refused with 5.3 and nothing is queued for them.
async fn outside_recipients_are_capped_per_change(engine: Engine) {
    let s = start_with(engine, |c| c.imip.max_recipients = 2).await;
    let many = meeting("m9", "20270105T100000", "Crowd").replace(
        "END:VEVENT",
        "ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:erin@elsewhere.example\r\nATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:fay@elsewhere.example\r\nEND:VEVENT",
    );
    assert_eq!(s.put_ics(&format!("{CAL}m9.ics"), &many).await.status, 201);
    assert_eq!(outbox_states(&s).await.len(), 2);
    let text = send(s.req("GET", &format!("{CAL}m9.ics"))).await.body.replace("\r\n ", "");
    let statuses: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("ATTENDEE") && l.contains("elsewhere"))
        .map(|l| if l.contains("SCHEDULE-STATUS=1.0") { "1.0" } else if l.contains("SCHEDULE-STATUS=5.3") { "5.3" } else { "?" })
        .collect();
    assert_eq!(statuses, ["1.0", "1.0", "5.3"], "{text}");
    s.stop().await;
}

/// An unreachable relay opens the breaker: one message tries and the others of the round are
/// put back untried, their attempts not counted.
async fn an_unreachable_relay_opens_the_breaker(engine: Engine) {
    let s = start_server(engine).await;
    let sink = SmtpSink::down().await;
    for uid in ["b1", "b2", "b3"] {
        s.put_ics(&format!("{CAL}{uid}.ics"), &meeting(uid, "20270105T100000", uid)).await;
    }
    let m = mailer(&sink.url(), |c| {
        c.imip.concurrency = 1;
        c.imip.breaker_initial_ms = 60_000;
        c.imip.breaker_max_ms = 60_000;
    });
    let t = now();
    let round = m.drain_once(&s.store, t).await.unwrap();
    assert_eq!((round.retried, round.deferred, round.sent), (1, 2, 0));
    let alice = s.store.users_by_email("alice@example.org").await.unwrap().remove(0);
    let rows = s.store.external_of(alice.id).await.unwrap();
    let mut attempts: Vec<i64> = rows.iter().map(|r| r.attempts).collect();
    attempts.sort();
    assert_eq!(attempts, [0, 0, 1]);
    // Put back until the breaker lets a probe through, not into the next poll.
    assert!(rows.iter().filter(|r| r.attempts == 0).all(|r| r.next_attempt_at >= t + 59), "{rows:?}");
    // In batches, the round stops at the first batch once the relay is known down.
    s.put_ics(&format!("{CAL}b4.ics"), &meeting("b4", "20270105T100000", "b4")).await;
    s.put_ics(&format!("{CAL}b5.ics"), &meeting("b5", "20270105T100000", "b5")).await;
    let one = mailer(&sink.url(), |c| {
        c.imip.batch = 1;
        c.imip.breaker_initial_ms = 60_000;
        c.imip.breaker_max_ms = 60_000;
    });
    assert_eq!(one.drain_once(&s.store, now() + 1).await.unwrap(), Drained { retried: 1, ..Drained::default() });
    s.stop().await;
}

async fn the_server_sends_by_itself(engine: Engine) {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let s = start_with(engine, |c| {
        c.smtp_url = Some(url);
        c.mail_from = Some(FROM.to_owned());
        c.imip.poll_ms = 20;
    })
    .await;
    s.put_ics(&format!("{CAL}m7.ics"), &meeting("m7", "20270105T100000", "Automatic")).await;
    let mut waited = 0;
    while sink.mails().is_empty() && waited < 500 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        waited += 1;
    }
    assert_eq!(sink.mails().len(), 1);
    s.stop().await;
}

on_both_engines!(
    invitation_is_one_mail_with_the_right_parts,
    invitations_carry_a_working_rsvp_link,
    pending_updates_are_coalesced,
    an_outage_loses_nothing_and_sends_once,
    refusals_and_age_fail_with_5x,
    send_limits_make_messages_wait,
    the_server_sends_by_itself,
    two_workers_never_send_a_message_twice,
    a_dead_nodes_claim_is_taken_over,
    a_reply_to_an_outside_organizer,
    outside_recipients_are_capped_per_change,
    an_unreachable_relay_opens_the_breaker,
);

/// The drain rate to the loopback sink (docs/performance.md): `cargo test --release --test imip
/// drain_rate -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a check"]
async fn drain_rate() {
    for engine in [Engine::Sqlite, Engine::Postgres] {
        let s = start_server(engine).await;
        let sink = SmtpSink::start().await;
        let n = 400;
        for i in 0..n {
            let uid = format!("rate{i}");
            s.put_ics(&format!("{CAL}{uid}.ics"), &meeting(&uid, "20270105T100000", &uid)).await;
        }
        let m = mailer(&sink.url(), |c| c.imip.per_hour = 10_000);
        let started = std::time::Instant::now();
        let round = m.drain_once(&s.store, now()).await.unwrap();
        let took = started.elapsed();
        assert_eq!(round.sent, n);
        println!("{engine:?}: {n} messages in {took:?}: {:.0}/s", n as f64 / took.as_secs_f64());
        s.stop().await;
    }
}
