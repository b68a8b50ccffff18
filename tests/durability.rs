//! Durability of acknowledged writes on SQLite (issue 24, decision 0033): the real binary takes
//! PUTs from eight clients at once and is killed with SIGKILL while they are still sending; a
//! new process on the same database file must hold every PUT that was answered 201, byte for
//! byte with its ETag. Writes in flight at the kill may or may not be there; acknowledged ones
//! must. (SIGKILL stands for any crash of the process: panic, OOM kill, `kill -9`; WAL with
//! `synchronous = NORMAL` makes a commit durable against those before it is acknowledged.)
//! The clients' writes are committed in groups (decision 0034): the test checks that groups
//! formed before the kill, so an acknowledgement given for a group's COMMIT is what survives.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const PW: &str = "alice-pw";
const CLIENTS: usize = 8;
/// Each client's most PUTs; the kill comes long before they are all sent.
const PER_CLIENT: usize = 2_000;
/// The kill comes once this many PUTs are acknowledged.
const KILL_AFTER: usize = 300;

struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const METRICS_TOKEN: &str = "durability-metrics";

/// A counter of the server's /metrics.
async fn counter(base: &str, name: &str) -> f64 {
    let text = reqwest::Client::new()
        .get(format!("{base}/metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = text.lines().find(|l| l.split(' ').next() == Some(name)).unwrap_or_else(|| panic!("{name} not in /metrics"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

/// The binary on `dir`'s database; returns once /livez answers.
async fn serve(dir: &Path) -> (Server, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = dir.join("kalends.toml");
    // Rate limits off: eight clients in a loop are what the limiter exists to slow down.
    let toml = format!(
        "listen = \"127.0.0.1:{port}\"\ndata_dir = \"{}\"\nlog = \"warn\"\nmetrics_token = \"{METRICS_TOKEN}\"\n[rate_limit]\nenabled = false\n",
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
        .env_remove("KALENDS_RATE_LIMIT")
        .env_remove("KALENDS_LISTEN")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let server = Server(child);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..300 {
        if client.get(format!("{base}/livez")).send().await.is_ok_and(|r| r.status() == 200) {
            return (server, base);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server did not come up");
}

/// A distinct event per client and sequence number, with a VALARM on every third so the alarm
/// schedule's row is part of the writes that must survive.
fn event(client: usize, n: usize) -> String {
    let alarm = if n.is_multiple_of(3) { "BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:r\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\n" } else { "" };
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//durability//EN\r\nBEGIN:VEVENT\r\nUID:d-{client}-{n}\r\n\
         DTSTAMP:20260101T000000Z\r\nDTSTART:20270{}01T{:02}0000Z\r\nDURATION:PT1H\r\nSUMMARY:client {client} write {n}\r\n\
         {alarm}END:VEVENT\r\nEND:VCALENDAR\r\n",
        1 + n % 9,
        n % 24
    )
}

/// What one acknowledged PUT stored: its URL path, the bytes sent and the ETag answered.
type Acked = (String, String, String);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_puts_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kalends.db");
    let store = kalends::store::Store::open(&format!("sqlite://{}", db.display())).await.unwrap();
    kalends::service::users::create(&store, "alice", None, PW).await.unwrap();
    drop(store);

    let (mut server, base) = serve(dir.path()).await;
    let acked: Arc<Mutex<Vec<Acked>>> = Arc::default();
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let (acked, base) = (acked.clone(), base.clone());
        clients.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut failed = 0;
            for n in 0..PER_CLIENT {
                let path = format!("/calendars/alice/calendar/d-{c}-{n}.ics");
                let body = event(c, n);
                let r = client
                    .put(format!("{base}{path}"))
                    .basic_auth("alice", Some(PW))
                    .header("Content-Type", "text/calendar")
                    .header("If-None-Match", "*")
                    .body(body.clone())
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == 201 => {
                        let etag = r.headers().get("etag").map(|v| v.to_str().unwrap().to_owned());
                        acked.lock().unwrap().push((path, body, etag.expect("a 201 without an ETag")));
                    }
                    Ok(r) => panic!("PUT {path}: {}", r.status()),
                    // The process is gone: this write was never acknowledged.
                    Err(_) => {
                        failed += 1;
                        break;
                    }
                }
            }
            failed
        }));
    }
    // Bounded wait for the kill point; the clients are far from done by then.
    for _ in 0..6_000 {
        if acked.lock().unwrap().len() >= KILL_AFTER {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The writes were committed in groups (decision 0034), so the kill meets group commit at
    // work: eight clients writing at once always overlap in hundreds of PUTs.
    let writes = counter(&base, "kalends_sqlite_writes_total").await;
    let commits = counter(&base, "kalends_sqlite_write_commits_total").await;
    assert!(writes > commits, "{writes} writes in {commits} COMMITs: no group formed");
    // std's Child::kill is SIGKILL on Unix: no drain, no destructor, no checkpoint.
    server.0.kill().unwrap();
    server.0.wait().unwrap();
    let mut cut_off = 0;
    for c in clients {
        cut_off += c.await.unwrap();
    }
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    assert!(acked.len() >= KILL_AFTER, "only {} PUTs acknowledged before the kill", acked.len());
    // Every client still had writes to send: the kill came mid-way, not after the last one.
    assert_eq!(cut_off, CLIENTS, "a client finished before the kill");

    let (_server, base) = serve(dir.path()).await;
    let client = reqwest::Client::new();
    for (path, body, etag) in &acked {
        let r = client.get(format!("{base}{path}")).basic_auth("alice", Some(PW)).send().await.unwrap();
        assert_eq!(r.status(), 200, "acknowledged PUT {path} lost");
        let got_etag = r.headers().get("etag").map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(got_etag.as_deref(), Some(etag.as_str()), "{path}: another ETag after restart");
        assert_eq!(r.text().await.unwrap(), *body, "{path}: other bytes after restart");
    }
}
