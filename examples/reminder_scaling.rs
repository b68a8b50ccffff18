//! Measures the reminder sender (issue 19, docs/decisions/0024-reminders.md) on SQLite and
//! PostgreSQL, for the rows of docs/performance.md:
//!
//! 1. the due scan follows the due count, not the table size: databases with P objects whose
//!    alarms are 30–50 days ahead, D of them re-armed to fire at T before each round; timed are
//!    the claim statement alone (`CLAIM_DUE`, copied below) and one `fire_once(T + 1)` (claim,
//!    decide, deliveries, emails in the outbox, commit), in alternating rounds over the
//!    databases so machine noise hits all alike; medians and ratios;
//! 2. 1,000 alarms due in the same second all reach the outbox (one user, and 100 users × 10);
//! 3. the write-time cost of the schedule (`object_alarms`) beside `index_object`.
//!
//! Everything is written through the store's real write path (`put_object` with the schedule
//! `object_alarms` computes, as `service::objects::prepare` does). A round re-arms its D objects
//! by re-writing them with an event two hours later than the last round's (the watermark rules
//! move the row back into the due index), so every database keeps its size between rounds; the
//! rounds' clocks are two hours apart, so the per-user hourly cap never counts an earlier round.
//! PostgreSQL runs in a throw-away database on 127.0.0.1:5432 (dropped at the end; ANALYZE
//! during the load and before each round, as autovacuum would: see `analyze`). It produced the
//! tables in docs/performance.md:
//!
//! `cargo run --release --example reminder_scaling -- sqlite,postgres 1000,10000,100000 15`
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use kalends::calendar::{ValidateOptions, index_object};
use kalends::config::Config;
use kalends::service::objects::etag_of;
use kalends::service::reminders::{ReminderSettings, Sender, fire_once, object_alarms, optout};
use kalends::service::users;
use kalends::store::{
    Collection, CollectionId, CollectionKind, CollectionProps, CollectionStore, Expect, NewObject, ObjectStore, SchedStore,
    Store, UserId,
};
use sqlx::{Connection, Row};

const PG_SERVER: &str = "postgres://postgres@127.0.0.1:5432";
const HOUR: i64 = 3_600;
const DAY: i64 = 86_400;
/// The store's `sql::CLAIM_DUE` (src/store/shared/alarms.rs), copied: that module is private,
/// compiled once per engine with its own `claim_lock!()` (empty on SQLite, whose round holds
/// BEGIN IMMEDIATE; FOR UPDATE SKIP LOCKED on PostgreSQL).
macro_rules! claim_due {
    ($lock:literal) => {
        concat!(
            "SELECT s.object_id, s.next_due, s.fired_through, o.data, COALESCE(o.uid, '') AS uid, \
             c.id AS collection_id, c.path, c.displayname, c.timezone, c.owner_id, u.name AS owner_name, \
             u.email AS owner_email, u.reminder_emails \
             FROM alarm_schedule s JOIN objects o ON o.id = s.object_id \
             JOIN collections c ON c.id = o.collection_id JOIN users u ON u.id = c.owner_id \
             WHERE s.object_id IN (SELECT object_id FROM alarm_schedule WHERE next_due <= $1 \
             ORDER BY next_due LIMIT $2",
            $lock,
            ") ORDER BY s.next_due, s.object_id"
        )
    };
}
const CLAIM_SQLITE: &str = claim_due!("");
const CLAIM_PG: &str = claim_due!(" FOR UPDATE SKIP LOCKED");

fn utc(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0).unwrap().format("%Y%m%dT%H%M%SZ").to_string()
}

/// A typical one-hour meeting; with a DISPLAY alarm 15 minutes before when `alarm`.
fn event(uid: &str, start: i64, alarm: bool) -> Vec<u8> {
    let valarm = if alarm { "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT15M\r\nDESCRIPTION:Reminder\r\nEND:VALARM\r\n" } else { "" };
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Kalends//reminder_scaling//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n\
         DTSTAMP:20260101T000000Z\r\nDTSTART:{}\r\nDURATION:PT1H\r\nSUMMARY:Planning {uid}\r\nLOCATION:Room 4.12\r\n\
         DESCRIPTION:Quarterly planning: agenda in the shared folder.\r\nORGANIZER:mailto:bench@example.org\r\n{valarm}\
         END:VEVENT\r\nEND:VCALENDAR\r\n",
        utc(start)
    )
    .into_bytes()
}

/// Writes object `i` of `cals` (round-robin over the owners) with an event starting at `start`,
/// as a PUT stores it: indexed, and with the schedule `object_alarms` computes at the write.
async fn write(store: &Store, cals: &[Collection], i: usize, start: i64) {
    let cal = &cals[i % cals.len()];
    let data = event(&format!("e{i}"), start, true);
    let now = kalends::service::now();
    let opts = ValidateOptions { min_date_time: i64::MIN / 4, max_date_time: i64::MAX / 4 };
    let indexed = index_object(&data, &opts, now + kalends::calendar::timeline::HORIZON_SECONDS).unwrap();
    let alarms = object_alarms(&data, cal, now);
    let object = NewObject {
        name: format!("e{i}.ics"),
        etag: etag_of(&data),
        data,
        content_type: "text/calendar; charset=utf-8".into(),
        calendar: Some(indexed.index),
        timeline: indexed.timeline,
        schedule_tag: None,
        alarms,
    };
    store.put_object(cal.id, object, Expect::Any).await.unwrap();
}

/// Writes objects `range` with four concurrent writers; `start(i)` is object i's start time.
async fn write_all(store: &Store, cals: &[Collection], range: std::ops::Range<usize>, start: impl Fn(usize) -> i64 + Copy + Send + 'static) {
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (store, cals, range) = (store.clone(), cals.to_vec(), range.clone());
            tokio::spawn(async move {
                for i in range.filter(|i| i % 4 == w) {
                    write(&store, &cals, i, start(i)).await;
                }
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
}

/// A pool of the example's own on the database, and what keeps the database alive.
enum Raw {
    Sqlite(sqlx::SqlitePool, #[allow(dead_code)] tempfile::TempDir),
    Pg(sqlx::PgPool, #[allow(dead_code)] PgDb),
}

/// A throw-away PostgreSQL database, dropped WITH (FORCE) when this is.
struct PgDb(String);

async fn pg_admin(statement: String) {
    let mut conn = sqlx::PgConnection::connect(&format!("{PG_SERVER}/postgres")).await.expect("PostgreSQL on 127.0.0.1:5432");
    sqlx::raw_sql(sqlx::AssertSqlSafe(statement)).execute(&mut conn).await.unwrap();
}

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

/// ANALYZE `tables` (all when empty) on PostgreSQL, where autovacuum would: the server the
/// example runs on has autovacuum off, and a pooled connection keeps the plan it cached on an
/// empty table until statistics change (without this the load fell to 4 writes/s at 48,000
/// objects, each busy in the PUT's checks, and went back to ~1,500/s after one ANALYZE).
async fn analyze(raw: &Raw, tables: &str) {
    if let Raw::Pg(pool, _) = raw {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("ANALYZE{tables}"))).execute(pool).await.unwrap();
    }
}

/// One database: its store, a pool of its own for the bare statements, the owners' calendars.
struct Bench {
    label: String,
    store: Store,
    cals: Vec<Collection>,
    settings: ReminderSettings,
    sender: Sender,
    /// The next round's due time.
    clock: i64,
    raw: Raw,
}

impl Bench {
    /// A database with `objects` events over `owners` users, every alarm 30–50 days ahead.
    async fn new(engine: &str, label: &str, owners: usize, objects: usize) -> Bench {
        let (store, raw) = if engine == "postgres" {
            let name = format!("kalends_bench_{:016x}", rand::random::<u64>());
            pg_admin(format!("CREATE DATABASE \"{name}\"")).await;
            let url = format!("{PG_SERVER}/{name}");
            let db = PgDb(name);
            (Store::open(&url).await.unwrap(), Raw::Pg(sqlx::PgPool::connect(&url).await.unwrap(), db))
        } else {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}/kalends.db", dir.path().display());
            let store = Store::open(&url).await.unwrap();
            (store, Raw::Sqlite(sqlx::SqlitePool::connect(&url).await.unwrap(), dir))
        };
        let mut cals = Vec::with_capacity(owners);
        for u in 0..owners {
            let name = format!("bench{u}");
            let user = users::create(&store, &name, Some(&format!("{name}@example.org")), "bench-password").await.unwrap();
            cals.push(store.collection_by_path(user.id, "calendar").await.unwrap().unwrap());
        }
        let started = Instant::now();
        let far = kalends::service::now() / 60 * 60 + 30 * DAY;
        // In chunks (the first one small), with statistics after each as autovacuum would keep them.
        let mut at = 0;
        while at < objects {
            let end = objects.min(if at == 0 { 1_000 } else { at + 10_000 });
            write_all(&store, &cals, at..end, move |i| far + 900 + (i as i64 * 37) % (20 * DAY)).await;
            analyze(&raw, "").await;
            at = end;
        }
        eprintln!("{engine} {label}: {objects} events written in {:.1} s", started.elapsed().as_secs_f64());
        let mut config = Config { public_url: Some("https://cal.example.org".into()), ..Config::default() };
        // A runaway guard, not what is measured: 1,000 reminders of one user in one round.
        config.reminders.per_user_per_hour = 2_000;
        let sender = Sender { mailbox: "Kalends <calendar@example.org>".parse().unwrap(), key: Some(optout::key(&store).await.unwrap()) };
        let clock = kalends::service::now() / 60 * 60 + DAY;
        Bench { label: label.into(), store, cals, settings: ReminderSettings::from_config(&config), sender, clock, raw }
    }

    /// Re-arms objects 0..d to fire at the returned time (an event 15 minutes after it; the
    /// next round's clock is two hours later).
    async fn rearm(&mut self, d: usize) -> i64 {
        let t = self.clock;
        self.clock += 2 * HOUR;
        write_all(&self.store, &self.cals, 0..d, move |_| t + 900).await;
        t
    }

    /// The claim statement alone at `now` (the store's batch as its limit, outside a round's
    /// transaction), the median of 5 runs: time and rows.
    async fn claim(&self, now: i64) -> (Duration, usize) {
        let limit = i64::from(self.settings.batch);
        let (mut times, mut rows) = (Vec::new(), 0);
        for _ in 0..5 {
            let started = Instant::now();
            rows = match &self.raw {
                Raw::Sqlite(pool, _) => sqlx::query(CLAIM_SQLITE).bind(now).bind(limit).fetch_all(pool).await.unwrap().len(),
                Raw::Pg(pool, _) => sqlx::query(CLAIM_PG).bind(now).bind(limit).fetch_all(pool).await.unwrap().len(),
            };
            times.push(started.elapsed());
        }
        (median(&mut times), rows)
    }

    /// The claim's plan at `now`: EXPLAIN QUERY PLAN on SQLite, EXPLAIN (ANALYZE, BUFFERS) on
    /// PostgreSQL (which runs it, locks included, in its own transaction).
    async fn explain(&self, now: i64) -> Vec<String> {
        let limit = i64::from(self.settings.batch);
        match &self.raw {
            Raw::Sqlite(pool, _) => {
                let q = format!("EXPLAIN QUERY PLAN {CLAIM_SQLITE}");
                let rows = sqlx::query(sqlx::AssertSqlSafe(q)).bind(now).bind(limit).fetch_all(pool).await.unwrap();
                let mut depth: Vec<(i64, usize)> = Vec::new();
                rows.iter()
                    .map(|r| {
                        let (id, parent, detail): (i64, i64, String) = (r.get(0), r.get(1), r.get(3));
                        let d = depth.iter().find(|(i, _)| *i == parent).map_or(0, |(_, d)| d + 1);
                        depth.push((id, d));
                        format!("{}{detail}", "  ".repeat(d))
                    })
                    .collect()
            }
            Raw::Pg(pool, _) => {
                let q = format!("EXPLAIN (ANALYZE, BUFFERS) {CLAIM_PG}");
                let rows = sqlx::query(sqlx::AssertSqlSafe(q)).bind(now).bind(limit).fetch_all(pool).await.unwrap();
                rows.iter().map(|r| r.get::<String, _>(0)).collect()
            }
        }
    }

    /// One measured round of `d` due alarms: the bare claim, then `fire_once` one second after
    /// the due time; checks that every alarm reached the outbox as one email.
    async fn round(&mut self, d: usize, show_plan: bool) -> (Duration, Duration) {
        let t = self.rearm(d).await;
        analyze(&self.raw, " alarm_schedule, alarm_deliveries, itip_outbox").await;
        if show_plan {
            println!("plan of the claim, {} {}, {d} due:", self.store.engine(), self.label);
            for line in self.explain(t + 1).await {
                println!("    {line}");
            }
        }
        let (claim, rows) = self.claim(t + 1).await;
        assert_eq!(rows, d.min(self.settings.batch as usize), "rows the claim returns");
        let before = self.store.outbox_stats().await.unwrap().pending;
        let started = Instant::now();
        let done = fire_once(&self.store, &self.settings, &self.sender, t + 1).await.unwrap();
        let fire = started.elapsed();
        let after = self.store.outbox_stats().await.unwrap().pending;
        let d64 = d as u64;
        assert_eq!((done.rows, done.queued, done.mails), (d64, d64, d64), "{} {}: {done:?}", self.store.engine(), self.label);
        assert_eq!(after - before, d as i64, "emails that reached the outbox");
        (claim, fire)
    }
}

/// `rounds` alternating rounds over `cases` (a bench and its due count), after one warm-up
/// round each (which prints the claim's plan when `plans`); the medians per case.
async fn alternate(benches: &mut [Bench], cases: &[(usize, usize)], rounds: usize, plans: bool) -> Vec<(Duration, Duration)> {
    for &(b, d) in cases {
        benches[b].round(d, plans).await;
    }
    let mut times: Vec<(Vec<Duration>, Vec<Duration>)> = vec![(Vec::new(), Vec::new()); cases.len()];
    for _ in 0..rounds {
        for (k, &(b, d)) in cases.iter().enumerate() {
            let (claim, fire) = benches[b].round(d, false).await;
            times[k].0.push(claim);
            times[k].1.push(fire);
        }
    }
    times.iter_mut().map(|(c, f)| (median(c), median(f))).collect()
}

async fn engine(engine: &str, sizes: &[usize], rounds: usize) {
    let mut benches = Vec::new();
    for &p in sizes {
        benches.push(Bench::new(engine, &format!("P={p}"), 1, p).await);
    }
    println!("\n=== {engine}: due scan against table size, D = 100 (medians of {rounds} alternating rounds)");
    let cases: Vec<_> = (0..benches.len()).map(|b| (b, 100)).collect();
    let by_p = alternate(&mut benches, &cases, rounds, true).await;
    println!("| engine | pending P | due D | claim alone ms | fire_once ms | per alarm ms |");
    for (k, (claim, fire)) in by_p.iter().enumerate() {
        println!("| {engine} | {} | 100 | {:.2} | {:.1} | {:.2} |", sizes[k], ms(*claim), ms(*fire), ms(*fire) / 100.0);
    }
    let last = by_p.len() - 1;
    println!(
        "ratio P={}/P={}: claim {:.2}x, fire_once {:.2}x",
        sizes[last],
        sizes[0],
        ms(by_p[last].0) / ms(by_p[0].0),
        ms(by_p[last].1) / ms(by_p[0].1)
    );

    println!("\n=== {engine}: due count at P = {} (medians of {rounds} alternating rounds)", sizes[last]);
    let ds = [10, 100, 1_000];
    let cases: Vec<_> = ds.iter().map(|&d| (last, d)).collect();
    let by_d = alternate(&mut benches, &cases, rounds, true).await;
    println!("| engine | pending P | due D | claim alone ms | fire_once ms | per alarm ms |");
    for (k, (claim, fire)) in by_d.iter().enumerate() {
        let d = ds[k];
        println!("| {engine} | {} | {d} | {:.2} | {:.1} | {:.2} |", sizes[last], ms(*claim), ms(*fire), ms(*fire) / d as f64);
    }
    drop(benches);

    println!("\n=== {engine}: 1,000 alarms due in one second, 100 users x 10 ({rounds} rounds)");
    let mut many = vec![Bench::new(engine, "100 users", 100, 1_000).await];
    let r = alternate(&mut many, &[(0, 1_000)], rounds, false).await;
    println!("| {engine} | 1000 (100 users x 10) | 1000 | {:.2} | {:.1} | {:.2} |", ms(r[0].0), ms(r[0].1), ms(r[0].1) / 1000.0);
}

/// A named call to time.
type Case<'a> = (&'static str, Box<dyn Fn() + 'a>);

/// µs per call of the write-time work on one typical event, median of alternating batches.
fn write_cost() {
    let cal = Collection {
        id: CollectionId(1),
        owner: UserId(1),
        parent: None,
        path: "calendar".into(),
        kind: CollectionKind::Calendar,
        props: CollectionProps::default(),
        sync_seq: 0,
        created_at: 0,
        modified_at: 0,
        share: None,
    };
    let now = kalends::service::now();
    let (with, without) = (event("w", now + 7 * DAY, true), event("n", now + 7 * DAY, false));
    let opts = ValidateOptions { min_date_time: i64::MIN / 4, max_date_time: i64::MAX / 4 };
    let horizon = now + kalends::calendar::timeline::HORIZON_SECONDS;
    let cases: [Case; 4] = [
        ("index_object, event with VALARM", Box::new(|| assert!(index_object(&with, &opts, horizon).is_ok()))),
        ("object_alarms, event with VALARM", Box::new(|| assert!(object_alarms(&with, &cal, now).next_due().is_some()))),
        ("index_object, event without VALARM", Box::new(|| assert!(index_object(&without, &opts, horizon).is_ok()))),
        ("object_alarms, event without VALARM", Box::new(|| assert!(object_alarms(&without, &cal, now).next_due().is_none()))),
    ];
    const CALLS: u32 = 2_000;
    let mut times = vec![Vec::new(); cases.len()];
    for _ in 0..15 {
        for (k, (_, f)) in cases.iter().enumerate() {
            let started = Instant::now();
            for _ in 0..CALLS {
                f();
            }
            times[k].push(started.elapsed() / CALLS);
        }
    }
    println!("=== write-time cost, {} / {} bytes, median of 15 alternating batches of {CALLS} calls", with.len(), without.len());
    for (k, (name, _)) in cases.iter().enumerate() {
        println!("| {name} | {:.2} µs |", median(&mut times[k]).as_secs_f64() * 1e6);
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let engines = args.next().unwrap_or_else(|| "sqlite,postgres".into());
    let sizes: Vec<usize> =
        args.next().unwrap_or_else(|| "1000,10000,100000".into()).split(',').map(|s| s.parse().expect("sizes: 1000,10000,…")).collect();
    let rounds: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(15);
    // Row 1 re-arms 100 objects in each table, the due-count rows 1,000 in the last one.
    assert!(sizes.iter().all(|&p| p >= 100) && sizes.last().is_some_and(|&p| p >= 1_000), "sizes: at least 100, the last at least 1,000");
    write_cost();
    for e in engines.split(',') {
        engine(e, &sizes, rounds).await;
    }
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
