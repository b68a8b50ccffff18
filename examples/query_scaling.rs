//! Measures whether a 1-week calendar-query costs the same on a 50,000-event calendar as on a
//! 5,000-event one (issue 3): both calendars hold the same recent three years, the larger one
//! adds history before them, so both answers are the same size. Both servers run in this
//! process on 127.0.0.1:0 (SQLite) and are queried alternately, so machine noise hits both
//! alike; the figure that matters is the ratio. The events come from the benchmark's corpus
//! generator (benches/kalends-bench/corpus.rs, issue 5), which also knows the right answer, so
//! an answer of the wrong size fails the run. It produced the table in docs/performance.md:
//!
//! `cargo run --release --example query_scaling -- 5000 50000 400`

use std::time::{Duration, Instant};

use kalends::app::{RunningServer, start};
use kalends::calendar::{ValidateOptions, index_object};
use kalends::config::Config;
use kalends::service::objects::etag_of;
use kalends::service::users;
use kalends::store::{CollectionStore, Expect, NewObject, ObjectStore, Store};

// The benchmark's generator, shared rather than copied; this example uses only part of it.
#[allow(dead_code)]
#[path = "../benches/kalends-bench/corpus.rs"]
mod corpus;

const USER: &str = "bench";
const PASSWORD: &str = "bench-pw";
const SEED: u64 = 20_261_201;
/// The benchmark's 1-week window (2026-03-02T12:00Z … 2026-03-09T12:00Z).
const WEEK: (i64, i64) = (1_772_452_800, 1_773_057_600);

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let small: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(5_000);
    let large: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(50_000);
    let rounds: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(300);
    let a = Calendar::load(&corpus::Corpus::generate(SEED, small, small, corpus::RECENT_DAYS)).await;
    let big = corpus::Corpus::generate(SEED, small, large, corpus::RECENT_DAYS);
    // Everything is in one calendar here, so the answer is both of the corpus's calendars'.
    let expected = big.expected_in_range(0, WEEK.0, WEEK.1) + big.expected_in_range(1, WEEK.0, WEEK.1);
    let b = Calendar::load(&big).await;
    let client = reqwest::Client::new();
    let (count_a, count_b) = (a.query(&client).await, b.query(&client).await);
    println!("answer: {count_a} objects at {small} events, {count_b} at {large} events, {expected} expected");
    if count_a != expected || count_b != expected {
        eprintln!("an answer is not what the corpus holds");
        std::process::exit(1);
    }
    for _ in 0..20 {
        a.query(&client).await;
        b.query(&client).await;
    }
    let (mut ta, mut tb) = (Vec::with_capacity(rounds), Vec::with_capacity(rounds));
    for _ in 0..rounds {
        ta.push(timed(a.query(&client)).await);
        tb.push(timed(b.query(&client)).await);
    }
    let (ma, mb) = (median(&mut ta), median(&mut tb));
    println!("{rounds} alternating rounds, sequential, SQLite, release build");
    println!("{:>8} events: median {:>8.3} ms  mean {:>8.3} ms", small, ms(ma), ms(mean(&ta)));
    println!("{:>8} events: median {:>8.3} ms  mean {:>8.3} ms", large, ms(mb), ms(mean(&tb)));
    println!("ratio {large}/{small}: median {:.2}x  mean {:.2}x", ms(mb) / ms(ma), ms(mean(&tb)) / ms(mean(&ta)));
    a.server.stop().await;
    b.server.stop().await;
}

struct Calendar {
    server: RunningServer,
    url: String,
    _dir: tempfile::TempDir,
}

impl Calendar {
    /// A server whose calendar holds every event of `corpus`.
    async fn load(corpus: &corpus::Corpus) -> Calendar {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}/kalends.db", dir.path().display());
        let store = Store::open(&url).await.expect("store");
        let user = users::create(&store, USER, None, PASSWORD).await.expect("user");
        let collection = store.collection_by_path(user.id, "calendar").await.expect("lookup").expect("calendar");
        let opts = ValidateOptions { min_date_time: i64::MIN / 4, max_date_time: i64::MAX / 4 };
        let started = Instant::now();
        let total = corpus.events.len();
        for (i, e) in corpus.events.iter().enumerate() {
            let data = e.ics.clone().into_bytes();
            // As a PUT indexes it, the timeline laid out two years ahead.
            let horizon = kalends::service::now() + kalends::calendar::timeline::HORIZON_SECONDS;
            let indexed = index_object(&data, &opts, horizon).unwrap_or_else(|e| panic!("generated event {i} invalid: {e}"));
            let object = NewObject {
                name: e.name.clone(),
                etag: etag_of(&data),
                data,
                content_type: "text/calendar; charset=utf-8".into(),
                calendar: Some(indexed.index),
                timeline: indexed.timeline,
                schedule_tag: None,
                alarms: Default::default(),
            };
            store.put_object(collection.id, object, Expect::Any).await.expect("put");
        }
        eprintln!("loaded {total} events in {:.1} s", started.elapsed().as_secs_f64());
        let mut config = Config { listen: "127.0.0.1:0".parse().expect("addr"), ..Config::default() };
        // No load balancer to warn: stop at once.
        config.shutdown.grace_ms = 0;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let server = start(&config, store, listener).expect("server");
        let url = format!("http://{}/calendars/{USER}/calendar/", server.addr);
        Calendar { server, url, _dir: dir }
    }

    /// One 1-week calendar-query with calendar-data, as Apple Calendar sends it; returns the
    /// number of objects in the answer.
    async fn query(&self, client: &reqwest::Client) -> usize {
        let (start, end) = (corpus::utc_stamp(WEEK.0), corpus::utc_stamp(WEEK.1));
        let body = format!(
            r#"<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="{start}" end="{end}"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"#
        );
        let method = reqwest::Method::from_bytes(b"REPORT").expect("method");
        let r = client.request(method, &self.url).basic_auth(USER, Some(PASSWORD)).header("Depth", "1").body(body).send().await.expect("send");
        assert_eq!(r.status().as_u16(), 207);
        r.text().await.expect("body").matches("<D:response>").count()
    }
}

async fn timed(f: impl Future<Output = usize>) -> Duration {
    let t = Instant::now();
    f.await;
    t.elapsed()
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

fn mean(v: &[Duration]) -> Duration {
    v.iter().sum::<Duration>() / u32::try_from(v.len()).unwrap_or(u32::MAX).max(1)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
