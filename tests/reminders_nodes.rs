//! Two Kalends server processes on one PostgreSQL database, each running its own reminder
//! sender and iMIP drain on the real clock against one SMTP server on loopback: 1,000 alarms
//! due in the same second are each emailed exactly once (issue 19). The events are written
//! through both nodes, so each node's sender is woken by its own writes and finds the other's
//! by its bounded sleep. The per-user cap is raised for the test: one user with a thousand
//! alarms in one second is exactly the runaway the cap guards against.
#![allow(clippy::unwrap_used)]

mod harness;
mod support;

use std::collections::HashMap;
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use kalends::store::{AlarmStore, Store, UserStore};
use support::smtp::SmtpSink;

const EVENTS: usize = 1_000;
const PW: &str = "alice-pw";

struct Node(std::process::Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The binary on `database_url`, on a free port; returns once /livez answers.
async fn node(dir: &std::path::Path, n: usize, database_url: &str, smtp_url: &str) -> (Node, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = dir.join(format!("node{n}.toml"));
    let toml = format!(
        "listen = \"127.0.0.1:{port}\"\ndata_dir = \"{}\"\ndatabase_url = \"{database_url}\"\nlog = \"warn\"\n\
         smtp_url = \"{smtp_url}\"\nmail_from = \"Kalends <calendar@kalends.test>\"\n\
         [imip]\npoll_ms = 200\nconcurrency = 8\n[reminders]\nmax_sleep_secs = 2\nper_user_per_hour = 1000\n[rate_limit]\nenabled = false\n",
        dir.display()
    );
    std::fs::write(&config, toml).unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_kalends"))
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .env_remove("KALENDS_CONFIG")
        .env_remove("KALENDS_DATABASE_URL")
        .env_remove("KALENDS_REDIS_URL")
        .env_remove("KALENDS_LISTEN")
        .env_remove("KALENDS_RATE_LIMIT")
        .env_remove("KALENDS_REMINDERS")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let node = Node(child);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..300 {
        if client.get(format!("{base}/livez")).send().await.is_ok_and(|r| r.status() == 200) {
            return (node, base);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("node {n} did not come up");
}

fn utc(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0).unwrap().format("%Y%m%dT%H%M%SZ").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_send_each_of_a_thousand_due_alarms_once() {
    let pg = support::throwaway_postgres_url();
    let store = Store::open(pg.url()).await.unwrap();
    kalends::service::users::create(&store, "alice", Some("alice@example.org"), PW).await.unwrap();
    let sink = SmtpSink::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (_a, base_a) = node(dir.path(), 1, pg.url(), &sink.url()).await;
    let (_b, base_b) = node(dir.path(), 2, pg.url(), &sink.url()).await;

    // Written through both nodes, eight at a time; all due in one second well after the writes.
    let due = kalends::service::now() + 20;
    let client = reqwest::Client::new();
    let written: Vec<u16> = stream::iter(0..EVENTS)
        .map(|i| {
            let base = if i % 2 == 0 { &base_a } else { &base_b };
            let ics = format!(
                "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nBEGIN:VEVENT\r\nUID:n{i}\r\nDTSTAMP:20260101T000000Z\r\n\
                 DTSTART:{}\r\nDURATION:PT1H\r\nSUMMARY:Meeting n{i}\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\n\
                 TRIGGER;VALUE=DATE-TIME:{}\r\nDESCRIPTION:x\r\nEND:VALARM\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
                utc(due + 3600),
                utc(due)
            );
            let req = client
                .put(format!("{base}/calendars/alice/calendar/n{i}.ics"))
                .basic_auth("alice", Some(PW))
                .header("Content-Type", "text/calendar")
                .body(ics);
            async move { req.send().await.unwrap().status().as_u16() }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    assert!(written.iter().all(|s| *s == 201), "every PUT created its event");
    let left = due - kalends::service::now();
    assert!(left > 0, "the writes took longer than the lead time; the test proves nothing");
    println!("reminders: {EVENTS} events written through two nodes, {left} s before their alarms");

    // Bounded wait for all of them, then a little longer for any duplicate.
    let mut waited = 0;
    while sink.mails().len() < EVENTS && waited < 1200 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += 1;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mails = sink.mails();
    let mut per_event: HashMap<String, usize> = HashMap::new();
    for m in &mails {
        let mail = mail_parser::MessageParser::default().parse(&m.data).unwrap();
        let subject = mail.subject().unwrap_or_default().to_owned();
        let uid = subject.split_whitespace().find(|w| w.starts_with('n')).unwrap_or_default().to_owned();
        *per_event.entry(uid).or_default() += 1;
    }
    assert_eq!(mails.len(), EVENTS, "each alarm emailed once, none lost");
    assert_eq!(per_event.len(), EVENTS);
    assert!(per_event.values().all(|n| *n == 1), "no event got two emails");

    // Each fire recorded once; how late the last was handed to the outbox is printed (a
    // measurement for docs/performance.md, not an assertion: machines are noisy).
    let alice = store.user_by_name("alice").await.unwrap().unwrap();
    let deliveries = store.alarm_deliveries_of(alice.id).await.unwrap();
    assert_eq!(deliveries.len(), EVENTS);
    assert!(deliveries.iter().all(|d| d.at == due && d.outcome == "queued"));
    let lag = deliveries.iter().map(|d| d.recorded_at - d.at).max().unwrap_or_default();
    println!("reminders: {EVENTS} alarms due at once, all emailed once by two nodes; the last handed to the outbox {lag} s after its time");
}
