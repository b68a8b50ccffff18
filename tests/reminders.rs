//! Black-box tests of server-sent reminders (issue 19) on SQLite and PostgreSQL: objects are
//! written over HTTP, the sender's rounds run with an explicit clock
//! (`service::reminders::fire_once(now)`), and the emails leave through the iMIP drain
//! (`Mailer::drain_once(now)`) to the real SMTP server on loopback (`support::smtp`), read back
//! with `mail-parser`. One test runs the server's own sender on the real clock.
#![allow(clippy::unwrap_used)]

mod harness;
mod support;

use std::time::Duration;

use harness::*;
use kalends::config::Config;
use kalends::service::reminders::{self, ReminderSettings, Sender, fire_once, optout};
use kalends::store::{AlarmRound, AlarmStore, CollectionStore, ObjectStore, OutboxKind, SchedStore, UserStore};
use kalends::worker::imip::{ImipSettings, Mailer};
use mail_parser::MessageParser;
use support::smtp::SmtpSink;

const CAL: &str = "/calendars/alice/calendar/";
const FROM: &str = "Kalends <calendar@kalends.test>";
const ALARM_15: &str = "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT15M\r\nDESCRIPTION:Reminder\r\nEND:VALARM\r\n";

fn utc(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0).unwrap().format("%Y%m%dT%H%M%SZ").to_string()
}

/// Two days ahead on a minute boundary: far enough that the server's own sender (real clock)
/// never reaches it during a test.
fn start_time() -> i64 {
    (kalends::service::now() / 60 + 2 * 1440) * 60
}

fn event(uid: &str, start: i64, extra: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n\
         DTSTART:{}\r\nDURATION:PT1H\r\nSUMMARY:Standup {uid}\r\nLOCATION:Room <7>\r\n{extra}END:VEVENT\r\nEND:VCALENDAR\r\n",
        utc(start)
    )
}

fn settings(s: &TestServer, tweak: impl FnOnce(&mut Config)) -> ReminderSettings {
    let mut config = Config { public_url: Some(s.base.clone()), ..Config::default() };
    tweak(&mut config);
    ReminderSettings::from_config(&config)
}

async fn fire_with(s: &TestServer, now: i64, tweak: impl FnOnce(&mut Config)) -> AlarmRound {
    let sender = Sender { mailbox: FROM.parse().unwrap(), key: Some(optout::key(&s.store).await.unwrap()) };
    fire_once(&s.store, &settings(s, tweak), &sender, now).await.unwrap()
}

async fn fire(s: &TestServer, now: i64) -> AlarmRound {
    fire_with(s, now, |_| {}).await
}

fn mailer(url: &str) -> Mailer {
    let mut config = Config::default();
    config.imip.retry_initial_secs = 30;
    config.imip.breaker_initial_ms = 1;
    config.imip.breaker_max_ms = 1;
    Mailer::new(url, FROM, ImipSettings::from_config(&config), Duration::from_secs(5)).unwrap()
}

async fn alice(s: &TestServer) -> kalends::store::User {
    s.store.user_by_name("alice").await.unwrap().unwrap()
}

async fn object_id(s: &TestServer, name: &str) -> kalends::store::ObjectId {
    let cal = s.store.collection_by_path(alice(s).await.id, "calendar").await.unwrap().unwrap();
    s.store.object_meta(cal.id, name).await.unwrap().unwrap().id
}

async fn put(s: &TestServer, name: &str, ics: &str) {
    let r = s.put_ics(&format!("{CAL}{name}"), ics).await;
    assert!(r.status == 201 || r.status == 204, "{} {}", r.status, r.body);
}

/// Alice's reminder emails in the outbox (her invitation replies are there too).
async fn reminder_mails(s: &TestServer) -> Vec<kalends::store::ExternalItip> {
    let all = s.store.external_of(alice(s).await.id).await.unwrap();
    all.into_iter().filter(|m| m.kind == OutboxKind::Reminder).collect()
}

fn queued(n: u64) -> AlarmRound {
    AlarmRound { rows: n, queued: n, mails: n, ..AlarmRound::default() }
}

/// The alarm fires once at its time, as one email with the event's facts; before its time
/// nothing happens, and a second round at the same time sends nothing again.
async fn an_alarm_fires_once_at_its_time(engine: Engine) {
    let s = start_server(engine).await;
    let sink = SmtpSink::start().await;
    let t0 = start_time();
    put(&s, "a.ics", &event("a", t0, ALARM_15)).await;
    let id = object_id(&s, "a.ics").await;
    assert_eq!(s.store.alarm_slot(id).await.unwrap().unwrap().next_due, Some(t0 - 900), "scheduled at write time");

    assert_eq!(fire(&s, t0 - 901).await, AlarmRound::default(), "not due yet");
    assert_eq!(fire(&s, t0 - 895).await, queued(1));
    assert_eq!(fire(&s, t0 - 890).await, AlarmRound::default(), "handled: nothing due");
    let slot = s.store.alarm_slot(id).await.unwrap().unwrap();
    assert_eq!((slot.next_due, slot.fired_through), (None, t0 - 895), "nothing left to fire; the watermark stays");

    let m = mailer(&sink.url());
    assert_eq!(m.drain_once(&s.store, t0 - 895).await.unwrap().sent, 1);
    assert_eq!(m.drain_once(&s.store, t0 - 890).await.unwrap().sent, 0);
    let mails = sink.mails();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, ["alice@example.org"]);
    let mail = MessageParser::default().parse(&mails[0].data).unwrap();
    assert!(mail.subject().unwrap().starts_with("Reminder: Standup a"), "{:?}", mail.subject());
    assert_eq!(mail.header_raw("Auto-Submitted").map(str::trim), Some("auto-generated"));
    let unsubscribe = mail.header_raw("List-Unsubscribe").unwrap().trim().to_owned();
    assert!(unsubscribe.starts_with(&format!("<{}/reminders/", s.base)), "{unsubscribe}");
    assert_eq!(mail.header_raw("List-Unsubscribe-Post").map(str::trim), Some("List-Unsubscribe=One-Click"));
    let plain = mail.body_text(0).unwrap();
    assert!(plain.contains("Standup a") && plain.contains("Room <7>") && plain.contains("(UTC)"), "{plain}");
    assert!(plain.contains(&format!("{}/calendars/alice/calendar/", s.base)), "{plain}");
    let html = mail.body_html(0).unwrap();
    assert!(html.contains("Room &lt;7&gt;"), "{html}");
    // The delivery is recorded once, keyed by the fire.
    let deliveries = s.store.alarm_deliveries_of(alice(&s).await.id).await.unwrap();
    assert_eq!(deliveries.len(), 1);
    assert_eq!((deliveries[0].at, deliveries[0].instance, deliveries[0].outcome.as_str()), (t0 - 900, None, "queued"));
    s.stop().await;
}

/// An edit before the alarm moves it; edits after it was sent — a changed title, an
/// acknowledgement, a new DTSTAMP — never send it again; a move to later sends the new one.
async fn edits_move_alarms_and_never_resend(engine: Engine) {
    let s = start_server(engine).await;
    let t0 = start_time();
    put(&s, "e.ics", &event("e", t0, ALARM_15)).await;
    let id = object_id(&s, "e.ics").await;
    // Moved an hour later before it fired: the old time is gone.
    put(&s, "e.ics", &event("e", t0 + 3600, ALARM_15)).await;
    assert_eq!(s.store.alarm_slot(id).await.unwrap().unwrap().next_due, Some(t0 + 2700));
    assert_eq!(fire(&s, t0 - 895).await, AlarmRound::default());
    assert_eq!(fire(&s, t0 + 2705).await, queued(1));
    // After the send: a new title, an ACKNOWLEDGED alarm, another DTSTAMP — no second email.
    put(&s, "e.ics", &event("e", t0 + 3600, ALARM_15).replace("SUMMARY:Standup e", "SUMMARY:Renamed")).await;
    let acked = ALARM_15.replace("END:VALARM", &format!("ACKNOWLEDGED:{}\r\nEND:VALARM", utc(t0 + 2710)));
    put(&s, "e.ics", &event("e", t0 + 3600, &acked).replace("DTSTAMP:20260101T000000Z", "DTSTAMP:20270101T000000Z")).await;
    assert_eq!(fire(&s, t0 + 2720).await, AlarmRound::default());
    assert_eq!(fire(&s, t0 + 3600 * 5).await, AlarmRound::default());
    // Moved later again: that is a new reminder.
    put(&s, "e.ics", &event("e", t0 + 7200, ALARM_15)).await;
    assert_eq!(fire(&s, t0 + 6305).await, queued(1));
    let deliveries = s.store.alarm_deliveries_of(alice(&s).await.id).await.unwrap();
    assert_eq!(deliveries.iter().map(|d| d.at).collect::<Vec<_>>(), [t0 + 2700, t0 + 6300]);
    s.stop().await;
}

/// Thunderbird dismisses with X-MOZ-LASTACK and snoozes with X-MOZ-SNOOZE-TIME on the event: the
/// snooze is emailed at its time, once; an RFC 9074 snooze alarm likewise.
async fn snoozes_are_emailed_at_the_snooze_time(engine: Engine) {
    let s = start_server(engine).await;
    let t0 = start_time();
    put(&s, "z.ics", &event("z", t0, ALARM_15)).await;
    assert_eq!(fire(&s, t0 - 895).await, queued(1));
    let snoozed = format!("X-MOZ-LASTACK:{}\r\nX-MOZ-SNOOZE-TIME:{}\r\n{ALARM_15}", utc(t0 - 890), utc(t0 - 600));
    put(&s, "z.ics", &event("z", t0, &snoozed)).await;
    assert_eq!(fire(&s, t0 - 700).await, AlarmRound::default(), "not before the snooze time");
    assert_eq!(fire(&s, t0 - 595).await, queued(1));
    assert_eq!(fire(&s, t0 - 300).await, AlarmRound::default());
    // RFC 9074: the original acknowledged, a snooze alarm related to it.
    let rfc9074 = format!(
        "BEGIN:VALARM\r\nUID:orig\r\nACTION:DISPLAY\r\nTRIGGER:-PT15M\r\nDESCRIPTION:x\r\nACKNOWLEDGED:{}\r\nEND:VALARM\r\n\
         BEGIN:VALARM\r\nUID:snooze\r\nRELATED-TO;RELTYPE=SNOOZE:orig\r\nACTION:DISPLAY\r\nTRIGGER;VALUE=DATE-TIME:{}\r\n\
         DESCRIPTION:x\r\nEND:VALARM\r\n",
        utc(t0 + 3600 - 890),
        utc(t0 + 3600 - 120)
    );
    put(&s, "y.ics", &event("y", t0 + 3600, &rfc9074)).await;
    assert_eq!(fire(&s, t0 + 3600 - 895).await, AlarmRound::default(), "acknowledged: not emailed");
    assert_eq!(fire(&s, t0 + 3600 - 115).await, queued(1));
    let at: Vec<i64> = s.store.alarm_deliveries_of(alice(&s).await.id).await.unwrap().iter().map(|d| d.at).collect();
    assert_eq!(at, [t0 - 900, t0 - 600, t0 + 3600 - 120]);
    s.stop().await;
}

/// A write while an alarm is due but not yet handled does not drop it (real clock: the write
/// must come after the due time; this server runs no sender of its own).
async fn a_write_never_drops_a_due_alarm(engine: Engine) {
    let s = start_server(engine).await;
    let now = kalends::service::now();
    // Due in 5 s: a loaded machine may take a second or more before the server reads its clock
    // for the first write, and an alarm already past then is never scheduled.
    let at = format!("BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER;VALUE=DATE-TIME:{}\r\nDESCRIPTION:x\r\nEND:VALARM\r\n", utc(now + 5));
    put(&s, "d.ics", &event("d", now + 3600, &at)).await;
    let id = object_id(&s, "d.ics").await;
    assert_eq!(s.store.alarm_slot(id).await.unwrap().unwrap().next_due, Some(now + 5));
    while kalends::service::now() <= now + 5 {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Due and not handled: a retitle keeps it due, and the round sends it with the new title.
    put(&s, "d.ics", &event("d", now + 3600, &at).replace("SUMMARY:Standup d", "SUMMARY:Retitled")).await;
    assert_eq!(s.store.alarm_slot(id).await.unwrap().unwrap().next_due, Some(now + 5));
    assert_eq!(fire(&s, kalends::service::now()).await, queued(1));
    let mails = reminder_mails(&s).await;
    assert!(String::from_utf8_lossy(&mails[0].message.data).contains("Retitled"));
    s.stop().await;
}

/// DELETE cancels; a COPY is an event of its own with its own reminder; MOVE keeps the
/// schedule with the object.
async fn delete_cancels_and_copies_fire_on_their_own(engine: Engine) {
    let s = start_server(engine).await;
    let t0 = start_time();
    put(&s, "x.ics", &event("x", t0, ALARM_15)).await;
    assert_eq!(send(s.req("DELETE", &format!("{CAL}x.ics"))).await.status, 204);
    assert_eq!(fire(&s, t0 - 895).await, AlarmRound::default(), "deleted: nothing fires");

    let r = send(s.req("MKCALENDAR", "/calendars/alice/work/")).await;
    assert_eq!(r.status, 201, "{}", r.body);
    put(&s, "y.ics", &event("y", t0, ALARM_15)).await;
    let r = send(s.req("MOVE", &format!("{CAL}y.ics")).header("Destination", format!("{}/calendars/alice/work/y.ics", s.base))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    put(&s, "z.ics", &event("z", t0 + 60, ALARM_15)).await;
    let r = send(s.req("COPY", &format!("{CAL}z.ics")).header("Destination", format!("{}/calendars/alice/work/z.ics", s.base))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    // y (moved) and both z's.
    assert_eq!(fire(&s, t0 - 895).await, queued(1));
    assert_eq!(fire(&s, t0 - 835).await, queued(2));
    s.stop().await;
}

/// A recurring event fires once per instance; an override with its own alarm fires at its own
/// time, a cancelled instance not at all.
async fn a_recurring_event_fires_per_instance(engine: Engine) {
    let s = start_server(engine).await;
    let t0 = start_time();
    let day = 86_400;
    let ics = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nBEGIN:VEVENT\r\nUID:r\r\nDTSTAMP:20260101T000000Z\r\n\
         DTSTART:{}\r\nDURATION:PT30M\r\nRRULE:FREQ=DAILY;COUNT=4\r\nSUMMARY:Daily\r\n{ALARM_15}END:VEVENT\r\n\
         BEGIN:VEVENT\r\nUID:r\r\nDTSTAMP:20260101T000000Z\r\nRECURRENCE-ID:{}\r\nDTSTART:{}\r\nDURATION:PT30M\r\n\
         SUMMARY:Daily moved\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT1H\r\nDESCRIPTION:x\r\nEND:VALARM\r\nEND:VEVENT\r\n\
         BEGIN:VEVENT\r\nUID:r\r\nDTSTAMP:20260101T000000Z\r\nRECURRENCE-ID:{}\r\nDTSTART:{}\r\nDURATION:PT30M\r\n\
         STATUS:CANCELLED\r\nSUMMARY:Daily off\r\n{ALARM_15}END:VEVENT\r\nEND:VCALENDAR\r\n",
        utc(t0),
        utc(t0 + day),
        utc(t0 + day + 7200),
        utc(t0 + 2 * day),
        utc(t0 + 2 * day)
    );
    put(&s, "r.ics", &ics).await;
    assert_eq!(fire(&s, t0 - 895).await, queued(1));
    // The second instance moved two hours later with a one-hour alarm: nothing at the
    // master's time (the schedule already points past it).
    assert_eq!(fire(&s, t0 + day - 895).await, AlarmRound::default());
    assert_eq!(fire(&s, t0 + day + 3605).await, queued(1));
    // The third is cancelled; the fourth fires.
    assert_eq!(fire(&s, t0 + 2 * day - 895).await, AlarmRound::default());
    assert_eq!(fire(&s, t0 + 3 * day - 895).await, queued(1));
    let deliveries = s.store.alarm_deliveries_of(alice(&s).await.id).await.unwrap();
    let got: Vec<(Option<i64>, i64)> = deliveries.iter().map(|d| (d.instance, d.at)).collect();
    assert_eq!(got, [(Some(t0), t0 - 900), (Some(t0 + day), t0 + day + 3600), (Some(t0 + 3 * day), t0 + 3 * day - 900)]);
    s.stop().await;
}

/// The relay down when the reminder is due: it waits in the outbox and goes once when the
/// relay is back.
async fn an_smtp_outage_delays_but_loses_nothing(engine: Engine) {
    let s = start_server(engine).await;
    let mut sink = SmtpSink::down().await;
    let t0 = start_time();
    put(&s, "o.ics", &event("o", t0, ALARM_15)).await;
    assert_eq!(fire(&s, t0 - 895).await, queued(1));
    let m = mailer(&sink.url());
    let first = m.drain_once(&s.store, t0 - 895).await.unwrap();
    assert_eq!((first.sent, first.retried), (0, 1));
    sink.restart().await;
    assert_eq!(m.drain_once(&s.store, t0 - 895 + 29).await.unwrap().sent, 0, "not before its backoff");
    tokio::time::sleep(Duration::from_millis(5)).await; // the breaker's 1 ms
    let later = m.drain_once(&s.store, t0 - 895 + 31).await.unwrap();
    assert_eq!(later.sent, 1);
    assert_eq!(m.drain_once(&s.store, t0 - 800).await.unwrap().sent, 0);
    assert_eq!(sink.mails().len(), 1);
    s.stop().await;
}

/// The server down past `max_late`: the fire is recorded as late and nothing is sent; a
/// reminder stuck in the outbox that long fails rather than arriving after the meeting.
async fn alarms_missed_by_far_are_dropped(engine: Engine) {
    let s = start_server(engine).await;
    let t0 = start_time();
    put(&s, "l.ics", &event("l", t0, ALARM_15)).await;
    let round = fire(&s, t0 - 900 + 3 * 3600).await;
    assert_eq!(round, AlarmRound { rows: 1, late: 1, ..AlarmRound::default() });
    let deliveries = s.store.alarm_deliveries_of(alice(&s).await.id).await.unwrap();
    assert_eq!(deliveries[0].outcome, "late");
    assert!(reminder_mails(&s).await.is_empty(), "no mail queued");

    // Queued in time, but the relay is gone for longer than max_late: failed, not sent.
    let sink = SmtpSink::start().await;
    put(&s, "m.ics", &event("m", t0 + 600, ALARM_15)).await;
    assert_eq!(fire(&s, t0 - 295).await, queued(1));
    let drained = mailer(&sink.url()).drain_once(&s.store, t0 - 295 + 3 * 3600).await.unwrap();
    assert_eq!((drained.sent, drained.failed), (0, 1));
    assert!(sink.mails().is_empty());
    s.stop().await;
}

/// Who gets what: DISPLAY alarms go to the owner unless they turned that off; EMAIL alarms go
/// to the owner's own address, to others only with `email_others`; the hourly cap holds.
async fn recipients_settings_and_the_cap(engine: Engine) {
    let s = start_server(engine).await;
    let t0 = start_time();
    let email_alarm = |to: &str| {
        format!("BEGIN:VALARM\r\nACTION:EMAIL\r\nTRIGGER:-PT10M\r\nSUMMARY:Leave now\r\nDESCRIPTION:Go\r\nATTENDEE:mailto:{to}\r\nEND:VALARM\r\n")
    };
    put(&s, "own.ics", &event("own", t0, &email_alarm("ALICE@example.org"))).await;
    put(&s, "other.ics", &event("other", t0 + 60, &email_alarm("mallory@elsewhere.example"))).await;
    put(&s, "disp.ics", &event("disp", t0 + 120, ALARM_15)).await;
    reminders::set_emails(&s.store, "alice", false).await.unwrap();
    assert!(!reminders::emails(&s.store, "alice").await.unwrap());
    // DISPLAY is off; the EMAIL alarm to her own address goes; to somebody else's does not.
    assert_eq!(fire(&s, t0 - 775).await, AlarmRound { rows: 1, ..AlarmRound::default() });
    assert_eq!(fire(&s, t0 - 595).await, queued(1));
    assert_eq!(fire(&s, t0 - 535).await, AlarmRound { rows: 1, unaddressed: 1, ..AlarmRound::default() });
    let mails = reminder_mails(&s).await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].message.recipient.to_ascii_lowercase(), "mailto:alice@example.org");
    let text = String::from_utf8_lossy(&mails[0].message.data).to_string();
    assert!(text.contains("Subject: Leave now"), "{text}");

    // With email_others the other address gets it.
    put(&s, "other2.ics", &event("other2", t0 + 3600, &email_alarm("mallory@elsewhere.example"))).await;
    assert_eq!(fire_with(&s, t0 + 3005, |c| c.reminders.email_others = true).await, queued(1));

    // The cap: three DISPLAY alarms in one minute, two allowed per hour.
    reminders::set_emails(&s.store, "alice", true).await.unwrap();
    for i in 0..3 {
        put(&s, &format!("c{i}.ics"), &event(&format!("c{i}"), t0 + 7200, ALARM_15)).await;
    }
    let capped = fire_with(&s, t0 + 7200 - 895, |c| c.reminders.per_user_per_hour = 3).await;
    // The hour before already holds one queued email (other2), so two more fit.
    assert_eq!((capped.queued, capped.capped), (2, 1), "{capped:?}");
    assert!(reminders::set_emails(&s.store, "nobody", false).await.is_err());
    s.stop().await;
}

/// The link in a reminder: GET shows the setting (changing nothing: mail scanners follow links),
/// the RFC 8058 one-click POST turns emails off, the form turns them on again; a forged token
/// is 404 and its path stays out of the log's reach.
async fn the_opt_out_link_switches_display_emails(engine: Engine) {
    let s = start_server(engine).await;
    let key = optout::key(&s.store).await.unwrap();
    let alice_id = alice(&s).await.id;
    let link = optout::link(&s.base, &key, alice_id);
    let path = link.strip_prefix(&s.base).unwrap().to_owned();
    let r = send(s.anon("GET", &path)).await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("alice") && r.body.contains("are emailed to you"), "{}", r.body);
    assert_eq!(r.header("cache-control").as_deref(), Some("no-store"));
    assert_eq!(s.store.reminder_emails(alice_id).await.unwrap(), Some(true));
    let r = send(s.anon("POST", &path).header("Content-Type", "application/x-www-form-urlencoded").body("List-Unsubscribe=One-Click")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(s.store.reminder_emails(alice_id).await.unwrap(), Some(false));
    let r = send(s.anon("POST", &path).header("Content-Type", "application/x-www-form-urlencoded").body("emails=on")).await;
    assert_eq!(r.status, 200);
    assert_eq!(s.store.reminder_emails(alice_id).await.unwrap(), Some(true));
    let r = send(s.anon("POST", &path).body("emails=maybe")).await;
    assert_eq!(r.status, 400);
    // Bob's id with alice's signature, and garbage: refused, nothing changes.
    let bob = s.store.user_by_name("bob").await.unwrap().unwrap();
    let (_, tag) = optout::sign(&key, alice_id).split_once('.').map(|(a, b)| (a.to_owned(), b.to_owned())).unwrap();
    let forged = format!("{}.{tag}", optout::sign(&key, bob.id).split_once('.').unwrap().0);
    assert_eq!(send(s.anon("POST", &format!("/reminders/{forged}")).body("emails=off")).await.status, 404);
    assert_eq!(send(s.anon("GET", "/reminders/nonsense")).await.status, 404);
    assert_eq!(s.store.reminder_emails(bob.id).await.unwrap(), Some(true));
    assert_eq!(send(s.anon("DELETE", &path)).await.status, 405);
    s.stop().await;
}

/// Sharees never get the owner's alarms; an invitation the owner declined fires nothing.
async fn sharees_and_declined_events_get_nothing(engine: Engine) {
    let s = start_server(engine).await;
    let t0 = start_time();
    kalends::service::shares::add(&s.store, "alice", "calendar", "bob", kalends::store::Access::Read).await.unwrap();
    put(&s, "shared.ics", &event("shared", t0, ALARM_15)).await;
    let declined = "ORGANIZER:mailto:carol@elsewhere.example\r\nATTENDEE;PARTSTAT=DECLINED:mailto:alice@example.org\r\n";
    put(&s, "declined.ics", &event("declined", t0 + 60, &format!("{declined}{ALARM_15}"))).await;
    assert_eq!(fire(&s, t0 - 895).await, queued(1));
    assert_eq!(fire(&s, t0 - 835).await, AlarmRound { rows: 1, ..AlarmRound::default() });
    let mails = reminder_mails(&s).await;
    assert_eq!(mails.len(), 1, "alice's own event only");
    let bob = s.store.user_by_name("bob").await.unwrap().unwrap();
    assert!(s.store.alarm_deliveries_of(bob.id).await.unwrap().is_empty());
    assert!(s.store.external_of(bob.id).await.unwrap().is_empty());
    // Bob has no email address: his own pop-up alarms are his devices' alone.
    let r = send(s.req_as("bob", BOB_PW, "PUT", "/calendars/bob/calendar/b.ics").header("Content-Type", "text/calendar").body(event("b", t0 + 120, ALARM_15))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(fire(&s, t0 - 775).await, AlarmRound { rows: 1, ..AlarmRound::default() });
    assert!(s.store.alarm_deliveries_of(bob.id).await.unwrap().is_empty());
    s.stop().await;
}

/// The server's own sender on the real clock: an alarm a few seconds ahead arrives by itself,
/// woken by the write rather than a poll.
async fn the_server_sends_on_time_by_itself(engine: Engine) {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let s = start_with(engine, |c| {
        c.smtp_url = Some(url);
        c.mail_from = Some(FROM.into());
        c.imip.poll_ms = 200;
        c.reminders.max_sleep_secs = 3600;
    })
    .await;
    let now = kalends::service::now();
    let absolute = format!("BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER;VALUE=DATE-TIME:{}\r\nDESCRIPTION:x\r\nEND:VALARM\r\n", utc(now + 3));
    put(&s, "soon.ics", &event("soon", now + 3600, &absolute)).await;
    let mut waited = 0;
    while sink.mails().is_empty() && waited < 300 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += 1;
    }
    assert_eq!(sink.mails().len(), 1, "sent within 15 s");
    let sent_at = kalends::service::now();
    assert!(sent_at >= now + 3, "not before its time");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.mails().len(), 1, "sent once");
    s.stop().await;
}

on_both_engines!(
    an_alarm_fires_once_at_its_time,
    edits_move_alarms_and_never_resend,
    a_write_never_drops_a_due_alarm,
    snoozes_are_emailed_at_the_snooze_time,
    delete_cancels_and_copies_fire_on_their_own,
    a_recurring_event_fires_per_instance,
    an_smtp_outage_delays_but_loses_nothing,
    alarms_missed_by_far_are_dropped,
    recipients_settings_and_the_cap,
    the_opt_out_link_switches_display_emails,
    sharees_and_declined_events_get_nothing,
    the_server_sends_on_time_by_itself,
);
