//! Measures the import rate (issue 20: target ≥ 2,000 events/s on SQLite) for the row in
//! docs/performance.md: the benchmark corpus's N events (benches/kalends-bench/corpus.rs, one
//! file with one VTIMEZONE per zone, as `export_calendar` writes it) imported through
//! `service::import` into an empty calendar of a fresh database, per round and engine; then the
//! same file again (every UID unchanged: no write) and a changed file (every UID updated in
//! place). For comparison, the same events PUT one by one over HTTP (one connection, a server
//! in this process, rate limits off) into another fresh database. PostgreSQL runs in throw-away databases on
//! 127.0.0.1:5432 (dropped at the end; ANALYZE after each load, as autovacuum would: the
//! machine's PostgreSQL has it off).
//!
//! `cargo run --release --example import_rate -- sqlite,postgres 5000 5 [put]`
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use kalends::app::start;
use kalends::config::Config;
use kalends::service::Principal;
use kalends::service::import::{ImportReport, ImportTarget, import};
use kalends::service::objects::WriteLimits;
use kalends::service::users;
use kalends::store::{CollectionStore, Store};
use sqlx::Connection;

// The benchmark's generator, shared rather than copied; this example uses only part of it.
#[allow(dead_code)]
#[path = "../benches/kalends-bench/corpus.rs"]
mod corpus;

const PG_SERVER: &str = "postgres://postgres@127.0.0.1:5432";
const SEED: u64 = 20_261_201;
const USER: &str = "bench";
const PASSWORD: &str = "bench-pw";

async fn pg_admin(statement: String) {
    let mut conn = sqlx::PgConnection::connect(&format!("{PG_SERVER}/postgres")).await.expect("PostgreSQL on 127.0.0.1:5432");
    sqlx::raw_sql(sqlx::AssertSqlSafe(statement)).execute(&mut conn).await.unwrap();
}

/// A throw-away PostgreSQL database, dropped with this value.
struct PgDb(String);

impl Drop for PgDb {
    fn drop(&mut self) {
        let statement = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.0);
        // Its own runtime on its own thread: Drop may run inside the example's runtime.
        let done = std::thread::spawn(move || tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(pg_admin(statement)));
        if done.join().is_err() {
            eprintln!("could not drop the database {}", self.0);
        }
    }
}

/// A fresh database with the user; what keeps it alive.
struct Db {
    store: Store,
    url: String,
    _keep: Box<dyn std::any::Any>,
}

async fn fresh(engine: &str, n: usize) -> Db {
    let db = if engine == "postgres" {
        let name = format!("kalends_import_rate_{}_{n}", std::process::id());
        pg_admin(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await;
        pg_admin(format!("CREATE DATABASE \"{name}\"")).await;
        let url = format!("{PG_SERVER}/{name}");
        Db { store: Store::open(&url).await.unwrap(), url, _keep: Box::new(PgDb(name)) }
    } else {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/kalends.db", dir.path().display());
        Db { store: Store::open(&url).await.unwrap(), url, _keep: Box::new(dir) }
    };
    users::create(&db.store, USER, None, PASSWORD).await.unwrap();
    analyze(&db).await;
    db
}

/// ANALYZE on PostgreSQL, where autovacuum would have run.
async fn analyze(db: &Db) {
    if db.url.starts_with("postgres") {
        let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
        sqlx::raw_sql("ANALYZE").execute(&mut conn).await.unwrap();
    }
}

/// One import of `text` into the user's calendar; its time and report.
async fn timed_import(db: &Db, text: &str) -> (Duration, ImportReport) {
    let user = users::list(&db.store).await.unwrap().into_iter().find(|u| u.name == USER).unwrap();
    let owner = Principal { id: user.id, name: user.name, email: user.email };
    let collection = db.store.collection_by_path(owner.id, "calendar").await.unwrap().unwrap();
    let config = Config::default();
    let limits = WriteLimits {
        max_resource_size: config.limits.max_resource_size,
        min_date_time: config.min_date_time(),
        max_date_time: config.max_date_time(),
        quota_bytes: config.limits.quota_bytes,
    };
    let target = ImportTarget { store: &db.store, owner: &owner, collection: &collection, limits: &limits, alarm_wake: None };
    let started = Instant::now();
    let report = import(&target, text.as_bytes(), &mut |_, _| {}).await.unwrap();
    (started.elapsed(), report)
}

/// The events PUT one by one over HTTP (If-None-Match: *), one connection.
async fn put_rate(db: Db, corpus: &corpus::Corpus) -> Duration {
    let mut config = Config { listen: "127.0.0.1:0".parse().unwrap(), ..Config::default() };
    config.shutdown.grace_ms = 0;
    // A benchmark is a flood by design (as the CalDAV benchmark runs it).
    config.rate_limit.enabled = false;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = start(&config, db.store.clone(), listener).unwrap();
    let base = format!("http://{}/calendars/{USER}/calendar/", server.addr);
    let client = reqwest::Client::new();
    let started = Instant::now();
    for e in &corpus.events {
        let r = client
            .put(format!("{base}{}", e.name))
            .basic_auth(USER, Some(PASSWORD))
            .header("Content-Type", "text/calendar; charset=utf-8")
            .header("If-None-Match", "*")
            .body(e.ics.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201, "{}", e.name);
    }
    let took = started.elapsed();
    server.stop().await;
    took
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let engines: Vec<String> = args.next().unwrap_or_else(|| "sqlite,postgres".into()).split(',').map(str::to_owned).collect();
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(5_000);
    let rounds: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(5);
    let with_put = args.next().is_some_and(|a| a == "put");
    let corpus = corpus::Corpus::generate(SEED, n, n, corpus::RECENT_DAYS);
    let objects: Vec<&[u8]> = corpus.events.iter().map(|e| e.ics.as_bytes()).collect();
    let text = kalends::calendar::export_calendar(Some("Corpus"), &objects);
    // Every event changed: one more line in each (the split keeps everything else).
    let changed = text.replace("END:VEVENT\r\n", "COMMENT:imported again\r\nEND:VEVENT\r\n");
    println!("{n} events, a {:.1} MB file, {rounds} rounds, release build", text.len() as f64 / 1e6);
    for engine in &engines {
        let (mut new, mut same, mut updated, mut put) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for round in 0..rounds {
            let db = fresh(engine, round).await;
            let (t, r) = timed_import(&db, &text).await;
            assert_eq!((r.added, r.skipped.len()), (n, 0), "{:?}", r.skipped.first());
            new.push(rate(n, t));
            analyze(&db).await;
            let (t2, r) = timed_import(&db, &text).await;
            assert_eq!(r.unchanged, n);
            same.push(rate(n, t2));
            let (t3, r) = timed_import(&db, &changed).await;
            assert_eq!(r.updated, n, "{:?}", r.skipped.first());
            updated.push(rate(n, t3));
            println!(
                "{engine} round {round}: new {:.0}/s ({:.2} s), unchanged {:.0}/s, updated {:.0}/s",
                rate(n, t),
                t.as_secs_f64(),
                rate(n, t2),
                rate(n, t3)
            );
            drop(db);
            if with_put {
                let db = fresh(engine, round + 1000).await;
                let t = put_rate(db, &corpus).await;
                put.push(rate(n, t));
                println!("{engine} round {round}: PUT one by one {:.0}/s", rate(n, t));
            }
        }
        print!(
            "{engine}: median events/s: import new {:.0}, unchanged {:.0}, updated {:.0}",
            median(&mut new),
            median(&mut same),
            median(&mut updated)
        );
        if with_put {
            print!(", PUT one by one {:.0}", median(&mut put));
        }
        println!();
    }
}
