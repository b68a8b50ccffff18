//! The faults the cluster scenarios inject and the bounded waits around them: connections cut
//! with `pg_terminate_backend`, a PostgreSQL of the test's own stopped and started, emails
//! counted at the SMTP sink.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kalends::store::Store;
use sqlx::{Connection, PgConnection};

use crate::dav::{event, get, put};
use crate::fixture::{self, Cluster, Node};
use crate::support::smtp::SmtpSink;

/// Until `counter` reaches `n` (at most `secs` seconds).
pub async fn wait_until(counter: &AtomicUsize, n: usize, secs: u64) {
    until(secs, || async { counter.load(Ordering::Relaxed) >= n }, "the load got that far").await;
}

/// Until `check` holds, polled every 100 ms, at most `secs` seconds; else fails naming `what`.
pub async fn until<F, Fut>(secs: u64, check: F, what: &str)
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !check().await {
        assert!(Instant::now() < deadline, "not within {secs} s: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Until HAProxy sends requests to `node` again.
pub async fn until_served(node: &Node, secs: u64) {
    let before = node.served().await;
    until(secs, || async { node.served().await > before }, "HAProxy takes the node back").await;
}

/// Terminates every backend connected to `database` (only that one: the test's own) and
/// says how many.
pub async fn terminate_backends(database: &str) -> i64 {
    let admin = std::env::var(crate::support::PG_URL_VAR).unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let mut conn = PgConnection::connect(&admin).await.unwrap();
    let (n,): (i64,) = sqlx::query_as("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()")
        .bind(database)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    n
}

/// A PostgreSQL cluster of the test's own (initdb in a temporary directory, as the `postgres`
/// OS user when the test runs as root), which the test may stop: the machine's is never
/// stopped. Stopped at once when dropped.
struct OwnPostgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    as_user: Option<String>,
}

impl OwnPostgres {
    fn init() -> OwnPostgres {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .map(|e| e.path().join("bin"))
            .filter(|b| b.join("initdb").exists() && b.join("pg_ctl").exists())
            .max()
            .unwrap_or_else(|| panic!("this test starts a PostgreSQL of its own: no /usr/lib/postgresql/*/bin/initdb (apt-get install postgresql)"));
        let dir = tempfile::tempdir().unwrap();
        let root = Command::new("id").arg("-u").output().unwrap().stdout == b"0\n";
        let as_user = root.then(|| "postgres".to_owned());
        if root {
            let status = Command::new("chown").arg("postgres").arg(dir.path()).status().unwrap();
            assert!(status.success(), "chown postgres {}", dir.path().display());
        }
        let pg = OwnPostgres { dir, bin, port: fixture::free_port(), as_user };
        let data = pg.data();
        pg.run("initdb", &["-D", &data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"]);
        pg
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let exe = self.bin.join(tool);
        let mut cmd = match &self.as_user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        let out = cmd.args(args).current_dir("/").output().unwrap();
        assert!(out.status.success(), "{tool} {args:?}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    }

    fn start(&self) {
        let opts = format!("-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off", self.port, self.dir.path().display());
        let log = self.dir.path().join("server.log").display().to_string();
        self.run("pg_ctl", &["-D", &self.data(), "-l", &log, "-w", "-t", "60", "-o", &opts, "start"]);
    }

    fn stop(&self, mode: &str) {
        self.run("pg_ctl", &["-D", &self.data(), "-m", mode, "-w", "-t", "60", "stop"]);
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn running(&self) -> bool {
        Path::new(&self.data()).join("postmaster.pid").exists()
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        if self.running() {
            let exe = self.bin.join("pg_ctl");
            let data = self.data();
            let args = ["-D", data.as_str(), "-m", "immediate", "-w", "stop"];
            let _ = match &self.as_user {
                Some(user) => Command::new("runuser").args(["-u", user, "--"]).arg(&exe).args(args).current_dir("/").output(),
                None => Command::new(&exe).args(args).output(),
            };
        }
    }
}

/// A node on a PostgreSQL that is stopped under it: 503 with Retry-After for every kind of
/// request, /readyz 503, and service again once the database is back.
pub async fn lost_database() {
    let pg = OwnPostgres::init();
    pg.start();
    let store = Store::open(&pg.url()).await.unwrap();
    kalends::service::users::create(&store, "alice", Some("alice@example.org"), fixture::PW).await.unwrap();
    drop(store);
    let redis = fixture::Redis::start();
    let sink = SmtpSink::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut node = fixture::new_node(dir.path(), 1, &pg.url(), &redis.url(), &sink.url(), fixture::free_port());
    node.spawn();
    node.ready().await;
    let base = node.base();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    let body = event("db-1", "Before", 1_900_000_000, "");
    assert_eq!(put(&client, &base, "db-1.ics", &body).send().await.unwrap().status(), 201);

    pg.stop("fast");
    let requests = [
        ("GET", client.get(format!("{base}{}db-1.ics", fixture::CAL)).basic_auth("alice", Some(fixture::PW))),
        ("PUT", put(&client, &base, "db-2.ics", &event("db-2", "During", 1_900_000_000, ""))),
        ("PROPFIND", crate::dav::dav(&client, &base, "PROPFIND", fixture::CAL, "1", String::new())),
        ("API", client.get(format!("{base}/api/v1/calendars")).basic_auth("alice", Some(fixture::PW))),
    ];
    for (what, request) in requests {
        let r = request.send().await.unwrap();
        assert_eq!(r.status(), 503, "{what} without a database");
        assert_eq!(r.headers().get("retry-after").map(|v| v.to_str().unwrap()), Some("5"), "{what}");
    }
    assert_eq!(client.get(format!("{base}/readyz")).send().await.unwrap().status(), 503);

    pg.start();
    until(60, || async { get(&client, &base, "db-1.ics").await.is_ok_and(|(s, _, b)| s == 200 && b == body) }, "served again").await;
    assert_eq!(put(&client, &base, "db-2.ics", &event("db-2", "After", 1_900_000_000, "")).send().await.unwrap().status(), 201);
    assert_eq!(client.get(format!("{base}/readyz")).send().await.unwrap().status(), 200);
    node.kill9();
}

/// Writes `n` invitations (alice to someone outside) and `n` events whose reminder is due in
/// `lead` seconds, all through HAProxy; returns when the reminders are due. Their summaries
/// carry `tag` to find them in the subjects.
pub async fn mail_round_writes(c: &Cluster, tag: &str, n: usize, lead: i64) -> i64 {
    let due = kalends::service::now() + lead;
    for i in 0..n {
        let invite = event(
            &format!("inv-{tag}-{i}"),
            &format!("zq{tag}inv{i}"),
            1_900_000_000 + i as i64 * 3600,
            &format!(
                "ORGANIZER:mailto:alice@example.org\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:alice@example.org\r\n\
                 ATTENDEE;RSVP=TRUE:mailto:guest-{tag}-{i}@example.net\r\n"
            ),
        );
        let r = put(&c.client, &c.url, &format!("inv-{tag}-{i}.ics"), &invite).send().await.unwrap();
        assert_eq!(r.status(), 201);
        let alarm = format!(
            "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER;VALUE=DATE-TIME:{}\r\nDESCRIPTION:x\r\nEND:VALARM\r\n",
            crate::dav::utc(due)
        );
        let reminder = event(&format!("rem-{tag}-{i}"), &format!("zq{tag}rem{i}"), due + 3600, &alarm);
        let r = put(&c.client, &c.url, &format!("rem-{tag}-{i}.ics"), &reminder).send().await.unwrap();
        assert_eq!(r.status(), 201);
    }
    assert!(kalends::service::now() < due, "the writes took longer than the lead; the round proves nothing");
    due
}

/// A round with the sink up: each of its emails arrives once.
pub async fn mail_round(c: &Cluster, tag: &str, n: usize) {
    mail_round_writes(c, tag, n, 6).await;
    expect_mails(c, &[tag], n).await;
}

/// Waits (90 s at most) for the invitation and the reminder of each of `n` events of every tag,
/// then a little longer, and checks that each came exactly once and nothing else came.
pub async fn expect_mails(c: &Cluster, tags: &[&str], n: usize) {
    let want = tags.len() * n * 2;
    until(90, || async { c.sink.mails().len() >= want }, "every email arrives").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mails = c.sink.mails();
    for m in &mails {
        let mail = mail_parser::MessageParser::default().parse(&m.data).unwrap();
        let subject = mail.subject().unwrap_or_default().to_owned();
        let token = subject
            .split(|ch: char| !ch.is_ascii_alphanumeric())
            .find(|w| w.starts_with("zq"))
            .unwrap_or_else(|| panic!("a mail of no test event: {subject}"))
            .to_owned();
        *seen.entry(token).or_default() += 1;
    }
    let expected: Vec<String> =
        tags.iter().flat_map(|t| (0..n).flat_map(move |i| [format!("zq{t}inv{i}"), format!("zq{t}rem{i}")])).collect();
    for token in &expected {
        assert_eq!(seen.get(token), Some(&1), "{token}: {seen:?}");
    }
    assert_eq!(mails.len(), want, "nothing else, nothing twice: {seen:?}");
}
