//! `kalends imip receive` (RFC 6047 iMIP replies back in), on SQLite and PostgreSQL: replies
//! shaped like Outlook/Exchange (no ORGANIZER), Gmail, Apple Mail (method= stripped) and
//! Thunderbird (fixtures/imip/) update the organizer's copy, keep its Schedule-Tag and refresh
//! the other attendees; a REFRESH queues the current event for the asker; a spoofed From
//! changes nothing; invitations from outside reach the
//! inbox only by default; the binary's exit codes follow sysexits.h; malformed input never
//! panics.
#![allow(clippy::unwrap_used)]

mod harness;
mod support;

use harness::*;
use kalends::cache::Cache;
use kalends::config::{Config, ExternalInvitations};
use kalends::service::scheduling::inbound::{Decision, Receipt, receive};
use kalends::service::users;
use kalends::store::SchedStore;

const CAL: &str = "/calendars/alice/calendar/";
const UID: &str = "040000008200E00074C5B7101A82E00800000000A0B1C2D3E4F5@example.org";
const EXTERNAL: [&str; 4] = ["dana@contoso.example", "gary@gmail.example", "adam@icloud.example", "tom@thunderbird.example"];

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/fixtures/imip/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn meeting() -> String {
    let mut att = String::new();
    for a in EXTERNAL.iter().chain(&["bea@example.org"]) {
        att.push_str(&format!("ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:{a}\r\n"));
    }
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nBEGIN:VEVENT\r\nUID:{UID}\r\nDTSTAMP:20261201T000000Z\r\n\
         DTSTART:20270105T100000Z\r\nDURATION:PT1H\r\nSUMMARY:Planning\r\nORGANIZER;CN=Alice:mailto:alice@example.org\r\n\
         ATTENDEE;PARTSTAT=ACCEPTED:mailto:alice@example.org\r\n{att}END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

async fn start(engine: Engine) -> TestServer {
    let s = start_server(engine).await;
    users::create(&s.store, "bea", Some("bea@example.org"), "bea-pw").await.unwrap();
    let r = s.put_ics(&format!("{CAL}planning.ics"), &meeting()).await;
    assert_eq!(r.status, 201, "{}", r.body);
    s
}

async fn receive_as(s: &TestServer, invitations: ExternalInvitations, raw: &[u8]) -> Receipt {
    let dav = kalends::app::dav_context(&Config::default(), s.store.clone(), Cache::memory(16));
    receive(&dav.sched(), invitations, raw).await
}

fn partstat_of(text: &str, who: &str) -> String {
    let unfolded = text.replace("\r\n ", "");
    let line = unfolded.lines().find(|l| l.starts_with("ATTENDEE") && l.to_lowercase().contains(who)).unwrap_or_default();
    line.split(';').find_map(|p| p.strip_prefix("PARTSTAT=")).map(|p| p.split(':').next().unwrap_or("").to_owned()).unwrap_or_default()
}

async fn inbox_count(s: &TestServer, user: &str, pw: &str) -> usize {
    let path = format!("/calendars/{user}/inbox/");
    let r = send(s.req_as(user, pw, "PROPFIND", &path).header("Depth", "1").body("<propfind xmlns='DAV:'><prop><getetag/></prop></propfind>")).await;
    r.hrefs().into_iter().filter(|h| *h != path).count()
}

async fn real_world_replies_apply(engine: Engine) {
    let s = start(engine).await;
    let before = send(s.req("GET", &format!("{CAL}planning.ics"))).await;
    let tag = before.header("schedule-tag").unwrap();
    let cases = [
        ("outlook-reply.eml", "dana@contoso.example", "ACCEPTED"),
        ("gmail-reply.eml", "gary@gmail.example", "DECLINED"),
        ("apple-mail-reply.eml", "adam@icloud.example", "TENTATIVE"),
        ("thunderbird-reply.eml", "tom@thunderbird.example", "ACCEPTED"),
    ];
    for (n, (file, who, partstat)) in cases.into_iter().enumerate() {
        let receipt = receive_as(&s, ExternalInvitations::Inbox, &fixture(file)).await;
        assert_eq!(receipt, Receipt::Done(Decision::Replied { organizer: "alice".into() }), "{file}");
        let mine = send(s.req("GET", &format!("{CAL}planning.ics"))).await;
        assert_eq!(partstat_of(&mine.body, who), partstat, "{file}: {}", mine.body);
        // RFC 6638 §3.2.10: a REPLY keeps the organizer's Schedule-Tag.
        assert_eq!(mine.header("schedule-tag").as_deref(), Some(tag.as_str()), "{file}");
        // The organizer's inbox holds each reply; Bea's copy shows the answer (RFC 6638 §4.2).
        assert_eq!(inbox_count(&s, "alice", ALICE_PW).await, n + 1);
        let bea = send(s.req_as("bea", "bea-pw", "GET", &format!("/calendars/bea/calendar/{UID}.ics"))).await;
        assert_eq!(partstat_of(&bea.body, who), partstat, "{file}: {}", bea.body);
    }
    s.stop().await;
}

async fn spoofed_and_unknown_replies_change_nothing(engine: Engine) {
    let s = start(engine).await;
    let before = send(s.req("GET", &format!("{CAL}planning.ics"))).await;
    let gmail = String::from_utf8(fixture("gmail-reply.eml")).unwrap();
    let spoofed = gmail.replace("From: Gary Gmail <gary@gmail.example>", "From: Mallory <mallory@evil.example>");
    match receive_as(&s, ExternalInvitations::Inbox, spoofed.as_bytes()).await {
        Receipt::Done(Decision::Dropped(why)) => assert!(why.contains("not the replying ATTENDEE"), "{why}"),
        other => panic!("{other:?}"),
    }
    let unknown = gmail.replace(UID, "no-such-event@example.org");
    assert!(matches!(receive_as(&s, ExternalInvitations::Inbox, unknown.as_bytes()).await, Receipt::Done(Decision::Dropped(_))));
    // A party crasher (RFC 5546 §3.2.3) is not applied.
    let crasher = gmail.replace("gary@gmail.example", "zed@gmail.example");
    assert!(matches!(receive_as(&s, ExternalInvitations::Inbox, crasher.as_bytes()).await, Receipt::Done(Decision::Dropped(_))));
    let after = send(s.req("GET", &format!("{CAL}planning.ics"))).await;
    assert_eq!(after.header("etag"), before.header("etag"));
    assert_eq!(inbox_count(&s, "alice", ALICE_PW).await, 0);
    s.stop().await;
}

fn invitation(method: &str, from: &str) -> String {
    format!(
        "From: Olga <{from}>\r\nTo: bea@example.org\r\nMessage-ID: <inv-{method}@elsewhere.example>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/calendar; charset=utf-8; method={method}\r\n\r\nBEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//X//EN\r\n\
         METHOD:{method}\r\nBEGIN:VEVENT\r\nUID:outside-1@elsewhere.example\r\nDTSTAMP:20261201T000000Z\r\nDTSTART:20270201T090000Z\r\n\
         DURATION:PT1H\r\nSUMMARY:Offsite\r\nSEQUENCE:0\r\nORGANIZER:mailto:olga@elsewhere.example\r\n\
         ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bea@example.org\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

async fn invitations_from_outside(engine: Engine) {
    let s = start(engine).await;
    let copy = "/calendars/bea/calendar/outside-1@elsewhere.example.ics";
    // Default: the inbox only.
    let r = receive_as(&s, ExternalInvitations::Inbox, invitation("REQUEST", "olga@elsewhere.example").as_bytes()).await;
    assert_eq!(r, Receipt::Done(Decision::Delivered { users: vec!["bea".into()], calendar: false }));
    assert_eq!(inbox_count(&s, "bea", "bea-pw").await, 2, "alice's invitation and olga's");
    assert_eq!(send(s.req_as("bea", "bea-pw", "GET", copy)).await.status, 404);
    // A spoofed organizer is dropped.
    let r = receive_as(&s, ExternalInvitations::Calendar, invitation("REQUEST", "mallory@evil.example").as_bytes()).await;
    assert!(matches!(r, Receipt::Done(Decision::Dropped(_))), "{r:?}");
    // With `calendar`, the event lands in the calendar, and a CANCEL marks it cancelled.
    let r = receive_as(&s, ExternalInvitations::Calendar, invitation("REQUEST", "olga@elsewhere.example").as_bytes()).await;
    assert_eq!(r, Receipt::Done(Decision::Delivered { users: vec!["bea".into()], calendar: true }));
    assert!(send(s.req_as("bea", "bea-pw", "GET", copy)).await.body.contains("SUMMARY:Offsite"));
    let cancel = invitation("CANCEL", "olga@elsewhere.example").replace("SEQUENCE:0", "SEQUENCE:1");
    receive_as(&s, ExternalInvitations::Calendar, cancel.as_bytes()).await;
    assert!(send(s.req_as("bea", "bea-pw", "GET", copy)).await.body.contains("STATUS:CANCELLED"));
    // An outsider cannot write over an event a local user organizes, whatever the setting.
    let hijack = invitation("REQUEST", "olga@elsewhere.example").replace("outside-1@elsewhere.example", UID);
    receive_as(&s, ExternalInvitations::Calendar, hijack.as_bytes()).await;
    let bea = send(s.req_as("bea", "bea-pw", "GET", &format!("/calendars/bea/calendar/{UID}.ics"))).await;
    assert!(bea.body.contains("SUMMARY:Planning") && !bea.body.contains("Offsite"), "{}", bea.body);
    s.stop().await;
}

async fn refresh_queues_the_current_event(engine: Engine) {
    let s = start(engine).await;
    let before = s.store.pending_external(100).await.unwrap();
    let newest = before.iter().map(|p| p.id).max().unwrap_or(0);
    let refresh = format!(
        "From: dana@contoso.example\r\nMessage-ID: <refresh-1@contoso.example>\r\nContent-Type: text/calendar\r\n\r\n\
         BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//X//EN\r\nMETHOD:REFRESH\r\nBEGIN:VEVENT\r\nUID:{UID}\r\n\
         DTSTAMP:20261201T000000Z\r\nORGANIZER:mailto:alice@example.org\r\nATTENDEE:mailto:dana@contoso.example\r\n\
         END:VEVENT\r\nEND:VCALENDAR\r\n"
    );
    let r = receive_as(&s, ExternalInvitations::Inbox, refresh.as_bytes()).await;
    assert_eq!(r, Receipt::Done(Decision::Refreshed { organizer: "alice".into() }));
    // The answer is queued as a new REQUEST, which supersedes the invitation to Dana still
    // pending (coalescing: only the latest per UID and recipient is sent).
    let pending = s.store.pending_external(100).await.unwrap();
    let to_dana: Vec<_> = pending.iter().filter(|p| p.message.recipient == "mailto:dana@contoso.example").collect();
    assert_eq!(to_dana.len(), 1, "{to_dana:?}");
    let last = to_dana[0];
    assert!(last.id > newest, "a new message, not the old one");
    assert_eq!((last.message.recipient.as_str(), last.message.method.as_str()), ("mailto:dana@contoso.example", "REQUEST"));
    assert!(String::from_utf8_lossy(&last.message.data).contains("SUMMARY:Planning"));
    // Someone else asking for Dana is refused.
    let spoofed = refresh.replace("From: dana@contoso.example", "From: eve@contoso.example");
    assert!(matches!(receive_as(&s, ExternalInvitations::Inbox, spoofed.as_bytes()).await, Receipt::Done(Decision::Dropped(_))));
    s.stop().await;
}

on_both_engines!(refresh_queues_the_current_event, real_world_replies_apply, spoofed_and_unknown_replies_change_nothing, invitations_from_outside);

/// Runs the binary with `stdin`, on a fresh SQLite database (or the given URL).
fn run_binary(stdin: &[u8], database_url: Option<&str>) -> (i32, String) {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let url = database_url.map_or_else(|| format!("sqlite://{}", dir.path().join("k.db").display()), str::to_owned);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kalends"))
        .args(["imip", "receive"])
        .env("KALENDS_DATABASE_URL", url)
        .env("KALENDS_DATA_DIR", dir.path())
        .env_remove("KALENDS_CONFIG")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn binary_exit_codes() {
    // Not mail at all: EX_DATAERR.
    assert_eq!(run_binary(b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", None).0, 65);
    assert_eq!(run_binary(b"\x00\x01garbage", None).0, 65);
    // Mail that is processed or dropped (no such event here): 0, with the reason logged.
    let (code, out) = run_binary(&fixture("gmail-reply.eml"), None);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("no organizer here"), "{out}");
    // The database unreachable: EX_TEMPFAIL, so the MTA retries.
    let (code, out) = run_binary(&fixture("gmail-reply.eml"), Some("postgres://nobody@127.0.0.1:1/x"));
    assert_eq!(code, 75, "{out}");
}

/// Seeded mutations of the fixtures and random bytes: receive never panics, and input that
/// is mail never asks for a retry (only a store failure does).
#[tokio::test]
async fn malformed_input_never_panics() {
    use rand::{Rng, SeedableRng};
    let s = start(Engine::Sqlite).await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x1b1b_2026);
    let seeds: Vec<Vec<u8>> = ["outlook-reply.eml", "gmail-reply.eml", "apple-mail-reply.eml", "thunderbird-reply.eml"].iter().map(|f| fixture(f)).collect();
    let pieces: [&[u8]; 8] = [b"\r\n", b"--", b"BEGIN:VEVENT\r\n", b"END:VCALENDAR", b";PARTSTAT=", b"=?utf-8?B?", b"\r\n ", b"Content-Type: multipart/mixed; boundary=x\r\n"];
    for round in 0..400 {
        let mut input = seeds[round % seeds.len()].clone();
        for _ in 0..rng.random_range(1..8) {
            let at = rng.random_range(0..=input.len());
            match rng.random_range(0..4) {
                0 => input.truncate(at),
                1 => input.splice(at..at, pieces[rng.random_range(0..pieces.len())].iter().copied()).for_each(drop),
                2 if at < input.len() => input[at] = rng.random(),
                _ => {
                    let end = (at + rng.random_range(0..64)).min(input.len());
                    input.drain(at..end);
                }
            }
        }
        if round % 10 == 0 {
            input = (0..rng.random_range(0..512)).map(|_| rng.random()).collect();
        }
        let receipt = receive_as(&s, ExternalInvitations::Calendar, &input).await;
        assert!(!matches!(receipt, Receipt::TempFail(_)), "round {round}: {receipt:?}");
    }
    s.stop().await;
}

/// The binary end to end, as an MTA runs it: a Gmail reply piped in, with the database of a
/// running server, answers the organizer's event there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_applies_a_reply() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("kalends.db").display());
    let store = kalends::store::Store::open(&url).await.unwrap();
    users::create(&store, "alice", Some("alice@example.org"), ALICE_PW).await.unwrap();
    let mut config = Config { listen: "127.0.0.1:0".parse().unwrap(), ..Config::default() };
    config.shutdown.grace_ms = 0;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = kalends::app::start(&config, store.clone(), listener).unwrap();
    let base = format!("http://{}", server.addr);
    let client = reqwest::Client::new();
    let put = client.put(format!("{base}{CAL}planning.ics")).basic_auth("alice", Some(ALICE_PW)).header("Content-Type", "text/calendar").body(meeting());
    assert_eq!(send(put).await.status, 201);
    let (code, out) = tokio::task::spawn_blocking(move || run_binary(&fixture("gmail-reply.eml"), Some(&url))).await.unwrap();
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Replied"), "{out}");
    let mine = send(client.get(format!("{base}{CAL}planning.ics")).basic_auth("alice", Some(ALICE_PW))).await;
    assert_eq!(partstat_of(&mine.body, "gary@gmail.example"), "DECLINED", "{}", mine.body);
    server.stop().await;
}
