//! Black-box tests of the health probes and the graceful drain (issue 17, items 3 and 4), on
//! SQLite and PostgreSQL in process, and on the real binary under SIGTERM.
#![allow(clippy::unwrap_used)]

mod harness;
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use harness::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PROPFIND_ETAGS: &str = r#"<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:getetag/><d:displayname/></d:prop></d:propfind>"#;

async fn probes_answer_without_credentials(engine: Engine) {
    let s = start_server(engine).await;
    for path in ["/livez", "/readyz"] {
        let r = send(s.anon("GET", path)).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        assert_eq!(r.body, "ok\n");
        let r = send(s.anon("HEAD", path)).await;
        assert_eq!(r.status, 200, "HEAD {path}");
        assert!(r.body.is_empty());
    }
    assert_eq!(send(s.anon("POST", "/readyz")).await.status, 405);
    s.stop().await;
    // Under a public_url path the probes move with every other route.
    let s = start_with(engine, |c| c.public_url = Some("https://cal.example.org/dav/".into())).await;
    assert_eq!(send(s.anon("GET", "/dav/readyz")).await.status, 200);
    assert_eq!(send(s.anon("GET", "/dav/livez")).await.status, 200);
    s.stop().await;
    // Redis down is no reason to take the node out: it answers without it.
    let s = start_with(engine, |c| c.redis_url = Some("redis://127.0.0.1:1".into())).await;
    assert_eq!(send(s.anon("GET", "/readyz")).await.status, 200);
    s.stop().await;
}

/// Once stop begins, /readyz says 503 while everything else is still served through the grace.
async fn readyz_fails_at_once_while_the_grace_serves(engine: Engine) {
    let mut s = start_with(engine, |c| c.shutdown.grace_ms = 3000).await;
    assert_eq!(send(s.anon("GET", "/readyz")).await.status, 200);
    let stopping = s.begin_stop();
    let mut ready = 200;
    for _ in 0..100 {
        let r = send(s.anon("GET", "/readyz")).await;
        ready = r.status.as_u16();
        if ready == 503 {
            assert!(r.body.contains("draining"), "{}", r.body);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(ready, 503, "/readyz still ready after stop began");
    assert_eq!(send(s.anon("GET", "/livez")).await.status, 200);
    let r = s.propfind("/calendars/alice/calendar/", "1", PROPFIND_ETAGS).await;
    assert_eq!(r.status, 207, "{}", r.body);
    tokio::time::timeout(Duration::from_secs(30), stopping).await.unwrap().unwrap();
}

/// A request already on a connection when the listener closes is answered in full, and new
/// connections are refused. The request is held in flight by sending its body late.
async fn in_flight_requests_finish(engine: Engine) {
    let mut s = start_server(engine).await;
    for i in 0..20 {
        let r = s.put_ics(&format!("/calendars/alice/calendar/e{i}.ics"), &event(&format!("e{i}"), "x")).await;
        assert_eq!(r.status, 201);
    }
    let addr = s.base.trim_start_matches("http://").to_owned();
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "PROPFIND /calendars/alice/calendar/ HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Basic YWxpY2U6YWxpY2UtcHc=\r\nDepth: 1\r\nContent-Length: {}\r\n\r\n",
        PROPFIND_ETAGS.len()
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let (first, rest) = PROPFIND_ETAGS.split_at(10);
    conn.write_all(first.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stopping = s.begin_stop();
    // Wait (bounded) until the listener is closed, so the request really outlives it.
    let mut refused = false;
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(&addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(refused, "the listener still accepts after stop");
    conn.write_all(rest.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), conn.read_to_end(&mut answer)).await.unwrap().unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 207"), "{answer}");
    assert!(answer.contains("e19.ics"), "{answer}");
    tokio::time::timeout(Duration::from_secs(30), stopping).await.unwrap().unwrap();
}

on_both_engines!(probes_answer_without_credentials, readyz_fails_at_once_while_the_grace_serves, in_flight_requests_finish);

/// The real binary under load from a few clients gets SIGTERM: every request sent before the
/// grace ends succeeds, /readyz turns 503 within it, and the process exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_drains_and_exits_zero() {
    let (mut child, base, _dir) = serve_binary(3000).await;
    let done = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for _ in 0..3 {
        let (done, sent, base) = (done.clone(), sent.clone(), base.clone());
        clients.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut failures = Vec::new();
            // Bounded: the main task ends the loop well before this many.
            for _ in 0..100_000 {
                if done.load(Ordering::Acquire) {
                    break;
                }
                let r = client
                    .request(reqwest::Method::from_bytes(b"PROPFIND").unwrap(), format!("{base}/calendars/alice/calendar/"))
                    .basic_auth("alice", Some(ALICE_PW))
                    .header("Depth", "1")
                    .body(PROPFIND_ETAGS)
                    .send()
                    .await;
                sent.fetch_add(1, Ordering::Relaxed);
                match r {
                    Ok(r) if r.status() == 207 => {}
                    Ok(r) => failures.push(format!("status {}", r.status())),
                    Err(e) => failures.push(format!("{e}")),
                }
            }
            failures
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    child.term();
    wait_until_unready(&base).await;
    // Well inside the 3 s grace: every request so far must have been served.
    tokio::time::sleep(Duration::from_millis(500)).await;
    done.store(true, Ordering::Release);
    for c in clients {
        let failures = c.await.unwrap();
        assert!(failures.is_empty(), "failed requests during the grace: {failures:?}");
    }
    assert!(sent.load(Ordering::Relaxed) > 3, "the clients sent almost nothing");
    let exit = child.wait(Duration::from_secs(60)).await.expect("the server still runs 60 s after SIGTERM");
    assert!(exit.success(), "exit status {exit}");
}

/// A second SIGTERM during the drain ends the process at once, still with status 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sigterm_skips_the_grace() {
    let (mut child, base, _dir) = serve_binary(600_000).await;
    child.term();
    wait_until_unready(&base).await;
    child.term();
    let exit = child.wait(Duration::from_secs(30)).await.expect("the second SIGTERM did not end the drain");
    assert!(exit.success(), "exit status {exit}");
}

/// The binary serving a fresh SQLite database with user alice, on a free port, with the given
/// grace; answers once /livez does. The temp dir must outlive the process.
async fn serve_binary(grace_ms: u64) -> (Server, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kalends.db");
    let store = kalends::store::Store::open(&format!("sqlite://{}", db.display())).await.unwrap();
    kalends::service::users::create(&store, "alice", None, ALICE_PW).await.unwrap();
    drop(store);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = dir.path().join("kalends.toml");
    let toml = format!(
        // Rate limits off: three clients in a loop outrun the principal's burst on a fast
        // moment, and a 429 is not what this test is about.
        "listen = \"127.0.0.1:{port}\"\ndata_dir = \"{}\"\nlog = \"warn\"\n[shutdown]\ngrace_ms = {grace_ms}\ndeadline_ms = 10000\n\
         [rate_limit]\nenabled = false\n",
        dir.path().display()
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
        .spawn()
        .unwrap();
    let child = Server(child);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..300 {
        if client.get(format!("{base}/livez")).send().await.is_ok_and(|r| r.status() == 200) {
            return (child, base, dir);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server did not come up");
}

/// Polls /readyz (bounded) until it answers 503.
async fn wait_until_unready(base: &str) {
    let client = reqwest::Client::new();
    for _ in 0..150 {
        let r = client.get(format!("{base}/readyz")).send().await.unwrap();
        if r.status() == 503 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("/readyz did not turn 503 after SIGTERM");
}

/// The server process; killed if the test fails before it exits by itself.
struct Server(std::process::Child);

impl Server {
    fn term(&self) {
        let status = std::process::Command::new("kill").arg("-TERM").arg(self.0.id().to_string()).status().unwrap();
        assert!(status.success());
    }

    async fn wait(&mut self, bound: Duration) -> Option<std::process::ExitStatus> {
        let started = std::time::Instant::now();
        while started.elapsed() < bound {
            if let Some(exit) = self.0.try_wait().unwrap() {
                return Some(exit);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}
