//! Measures whether a 1-week calendar-query costs the same on a 50,000-event calendar as on a
//! 5,000-event one (issue 3): both calendars hold the same recent three years, the larger one
//! adds history before them, so both answers are the same size. Both servers run in this
//! process on 127.0.0.1:0 (SQLite) and are queried alternately, so machine noise hits both
//! alike; the figure that matters is the ratio. It produced the table in docs/performance.md:
//!
//! `cargo run --release --example query_scaling -- 5000 50000 400`

use std::time::{Duration, Instant};

use kalends::app::{RunningServer, start};
use kalends::calendar::{ValidateOptions, parse_object};
use kalends::config::Config;
use kalends::service::objects::etag_of;
use kalends::service::users;
use kalends::store::{CollectionStore, Expect, NewObject, ObjectStore, Store};

const USER: &str = "bench";
const PASSWORD: &str = "bench-pw";
/// The recent block every calendar holds: 2024-01-01 … 2026-12-31.
const RECENT_START: i64 = 1_704_067_200;
const RECENT_DAYS: i64 = 1096;
const WEEK_START: &str = "20260302T000000Z";
const WEEK_END: &str = "20260309T000000Z";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let small: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(5_000);
    let large: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(50_000);
    let rounds: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(300);
    let a = Calendar::load(small, small).await;
    let b = Calendar::load(small, large).await;
    let client = reqwest::Client::new();
    let (count_a, count_b) = (a.query(&client).await, b.query(&client).await);
    println!("answer: {count_a} objects at {small} events, {count_b} at {large} events");
    if count_a != count_b {
        eprintln!("the answers differ: the corpora are not comparable");
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
    /// A server whose calendar holds `recent` events in the recent block plus history up to
    /// `total` events.
    async fn load(recent: usize, total: usize) -> Calendar {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}/kalends.db", dir.path().display());
        let store = Store::open(&url).await.expect("store");
        let user = users::create(&store, USER, None, PASSWORD).await.expect("user");
        let collection = store.collection_by_path(user.id, "calendar").await.expect("lookup").expect("calendar");
        let opts = ValidateOptions { min_date_time: i64::MIN / 4, max_date_time: i64::MAX / 4 };
        let started = Instant::now();
        for i in 0..total {
            let data = event(i, i >= recent).into_bytes();
            let index = parse_object(&data, &opts).unwrap_or_else(|e| panic!("generated event {i} invalid: {e}"));
            let object = NewObject {
                name: format!("e{i}.ics"),
                etag: etag_of(&data),
                data,
                content_type: "text/calendar; charset=utf-8".into(),
                calendar: Some(index),
            };
            store.put_object(collection.id, object, Expect::Any).await.expect("put");
        }
        eprintln!("loaded {total} events in {:.1} s", started.elapsed().as_secs_f64());
        let config = Config { listen: "127.0.0.1:0".parse().expect("addr"), ..Config::default() };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let server = start(&config, store, listener).expect("server");
        let url = format!("http://{}/calendars/{USER}/calendar/", server.addr);
        Calendar { server, url, _dir: dir }
    }

    /// One 1-week calendar-query with calendar-data, as Apple Calendar sends it; returns the
    /// number of objects in the answer.
    async fn query(&self, client: &reqwest::Client) -> usize {
        let body = format!(
            r#"<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="{WEEK_START}" end="{WEEK_END}"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"#
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

/// A small deterministic generator (splitmix64), so runs are reproducible.
fn rng(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed;
    move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

const BERLIN: &str = "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\n\
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\nEND:STANDARD\r\n\
BEGIN:DAYLIGHT\r\nDTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nTZOFFSETFROM:+0100\r\n\
TZOFFSETTO:+0200\r\nTZNAME:CEST\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n";

/// Event `i`: recent ones in the 2024–2026 block (the same for every corpus size), history
/// ones earlier, with recurrences that end before the block so both answers agree.
fn event(i: usize, history: bool) -> String {
    let mut next = rng(i as u64);
    let day = if history {
        let back = 400 + (next() % (365 * 60)) as i64;
        RECENT_START / 86_400 - back
    } else {
        RECENT_START / 86_400 + (next() % RECENT_DAYS as u64) as i64
    };
    let hour = 7 + (next() % 12) as i64;
    let start = day * 86_400 + hour * 3600;
    let minutes = [30, 60, 90][(next() % 3) as usize];
    let fmt = |ts: i64| chrono::DateTime::from_timestamp(ts, 0).expect("time").format("%Y%m%dT%H%M%S").to_string();
    let date = |ts: i64| chrono::DateTime::from_timestamp(ts, 0).expect("time").format("%Y%m%d").to_string();
    let kind = next() % 100;
    let mut body = format!("BEGIN:VEVENT\r\nUID:bench-{i}@kalends\r\nDTSTAMP:20240101T000000Z\r\nSUMMARY:Événement {i}\r\n");
    let mut tz = "";
    match kind {
        0..=9 => body.push_str(&format!("DTSTART;VALUE=DATE:{}\r\nDTEND;VALUE=DATE:{}\r\n", date(start), date(start + 86_400))),
        10..=44 => {
            tz = BERLIN;
            body.push_str(&format!(
                "DTSTART;TZID=Europe/Berlin:{}\r\nDTEND;TZID=Europe/Berlin:{}\r\n",
                fmt(start),
                fmt(start + minutes * 60)
            ));
        }
        _ => body.push_str(&format!("DTSTART:{}Z\r\nDTEND:{}Z\r\n", fmt(start), fmt(start + minutes * 60))),
    }
    // ~15% recurring; only recent events may recur without end.
    match next() % 100 {
        0..=5 => body.push_str("RRULE:FREQ=WEEKLY;COUNT=10\r\n"),
        6..=8 => body.push_str("RRULE:FREQ=DAILY;COUNT=5\r\n"),
        9..=11 => body.push_str("RRULE:FREQ=MONTHLY;COUNT=12\r\n"),
        12 if !history => body.push_str("RRULE:FREQ=WEEKLY\r\n"),
        13 | 14 if !history => body.push_str("RRULE:FREQ=YEARLY\r\n"),
        _ => {}
    }
    if next() % 100 < 30 {
        body.push_str("BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Reminder\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\n");
    }
    body.push_str("END:VEVENT\r\n");
    format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Kalends//bench//EN\r\n{tz}{body}END:VCALENDAR\r\n")
}
