//! Loading a server with the corpus over plain CalDAV (discovery, MKCALENDAR, PUT), and the
//! measured operations, each checked against the answer the corpus says is right.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::client::{Conn, Endpoint, Outcome, Req};
use crate::corpus::{self, CALENDARS, Corpus};
use crate::dav::{self, parse_multistatus};

/// The 1-week window (Monday to Monday, noon UTC, so no floating date sits on an edge).
pub const WEEK: (i64, i64) = (1_772_452_800, 1_773_057_600); // 2026-03-02T12:00Z .. 2026-03-09T12:00Z
/// The free-busy month.
pub const MONTH: (i64, i64) = (1_772_323_200, 1_775_001_600); // 2026-03-01T00:00Z .. 2026-04-01T00:00Z
/// One answer in this many is parsed in full under load; the others are counted by their
/// closing response tags, which keeps the driver's own CPU low.
const FULL_PARSE_EVERY: u64 = 16;
/// calendar-multiget size, and the batch a DAVx5-style first sync fetches at once.
pub const MULTIGET: usize = 50;
pub const FIRST_SYNC_BATCH: usize = 10;

/// The measured operations, in the order a run takes them (PUT last: it adds objects).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    StaticGet,
    Get,
    Propfind,
    Query,
    Multiget,
    FreeBusy,
    SyncInitial,
    SyncIncremental,
    FirstSync,
    Put,
    /// A PUT of a new event inviting ten local attendees (RFC 6638), into calendar B so the
    /// other rows' answers stay as they are.
    Invite,
    /// Feed links (Kalends only) on calendar A: a revalidation answered 304, a cached full and
    /// busy feed, and each mode right after a write (a PUT, then the GET that renders anew).
    FeedRevalidate,
    FeedFull,
    FeedBusy,
    FeedFullAfterWrite,
    FeedBusyAfterWrite,
    /// Kalends' JSON API (issue 20): the seed's `GET /api/v1/calendar` over the calendar-query
    /// row's week, every instance of both calendars expanded; compared with that row.
    ApiWeek,
}

impl Op {
    pub const SERVER_OPS: [Op; 16] = [
        Op::Get,
        Op::Propfind,
        Op::Query,
        Op::ApiWeek,
        Op::Multiget,
        Op::FreeBusy,
        Op::SyncInitial,
        Op::SyncIncremental,
        Op::FirstSync,
        Op::Put,
        Op::Invite,
        // After the writes above, which change the feed; the rows after a write come last.
        Op::FeedRevalidate,
        Op::FeedFull,
        Op::FeedBusy,
        Op::FeedFullAfterWrite,
        Op::FeedBusyAfterWrite,
    ];

    pub fn is_feed(self) -> bool {
        matches!(self, Op::FeedRevalidate | Op::FeedFull | Op::FeedBusy | Op::FeedFullAfterWrite | Op::FeedBusyAfterWrite)
    }

    pub fn label(self) -> &'static str {
        match self {
            Op::StaticGet => "GET (static answer)",
            Op::Get => "GET one event",
            Op::Propfind => "PROPFIND Depth 1",
            Op::Query => "calendar-query 1 week",
            Op::Multiget => "calendar-multiget 50",
            Op::FreeBusy => "free-busy-query 1 month",
            Op::SyncInitial => "sync-collection initial",
            Op::SyncIncremental => "sync-collection incremental",
            Op::FirstSync => "DAVx5-style first sync",
            Op::Put => "PUT new event",
            Op::Invite => "PUT invitation, 10 attendees",
            Op::FeedRevalidate => "feed revalidation (304)",
            Op::FeedFull => "feed GET full, cached",
            Op::FeedBusy => "feed GET busy, cached",
            Op::FeedFullAfterWrite => "feed PUT+GET full (after a write)",
            Op::FeedBusyAfterWrite => "feed PUT+GET busy (after a write)",
            Op::ApiWeek => "api /calendar 1 week (JSON, expanded)",
        }
    }
}

/// A server loaded with the corpus, and what its answers must be.
pub struct Loaded {
    pub endpoint: Arc<Endpoint>,
    pub home: String,
    /// Paths of the two calendars (with a trailing slash).
    pub calendars: [String; 2],
    /// Object paths of calendar A, in corpus order, and their UIDs.
    pub hrefs_a: Vec<String>,
    pub uids_a: Vec<String>,
    /// The sync token taken before the last object of calendar A was written.
    pub token0: String,
    pub corpus: Arc<Corpus>,
    pub count_a: usize,
    pub week_a: usize,
    pub busy_a: i64,
    pub upload: Duration,
    /// PUTs done by the PUT operation so far (their names are numbered from here).
    pub puts: Arc<AtomicU64>,
    /// Invitations PUT so far.
    pub invites: Arc<AtomicU64>,
    /// The feed links of calendar A, made before the first feed row.
    pub feeds: std::sync::OnceLock<Feeds>,
}

/// Two feed links of calendar A and what their answers were when made.
#[derive(Debug, Clone)]
pub struct Feeds {
    pub full: String,
    pub busy: String,
    pub full_etag: String,
    pub full_bytes: usize,
    pub busy_bytes: usize,
    pub full_events: usize,
    pub busy_events: usize,
}

/// Reads the two links once, for the rows' checks and the report's notes.
pub async fn feeds(l: &Loaded, full: String, busy: String) -> Result<Feeds, String> {
    let mut conn = Conn::open(l.endpoint.clone()).await?;
    let a = conn.send(&Req::new("GET", full.as_str())).await?;
    expect_status(&a, &[200], "feed GET full")?;
    let b = conn.send(&Req::new("GET", busy.as_str())).await?;
    expect_status(&b, &[200], "feed GET busy")?;
    let events = |r: &crate::client::Resp| r.text().matches("BEGIN:VEVENT").count();
    Ok(Feeds {
        full_etag: a.etag.clone().ok_or("feed GET: no ETag")?,
        full_bytes: a.body.len(),
        busy_bytes: b.body.len(),
        full_events: events(&a),
        busy_events: events(&b),
        full,
        busy,
    })
}

async fn send(conn: &mut Conn, req: &Req) -> Result<crate::client::Resp, String> {
    conn.send(req).await
}

fn expect_status(r: &crate::client::Resp, want: &[u16], what: &str) -> Result<(), String> {
    if want.contains(&r.status) {
        Ok(())
    } else {
        let text: String = r.text().chars().take(300).collect();
        Err(format!("{what}: HTTP {} {text}", r.status))
    }
}

/// The href of the first response's `prop` in a Depth-0 PROPFIND.
async fn find_href(conn: &mut Conn, path: &str, body: &'static str, prop: &str) -> Result<String, String> {
    let r = send(conn, &Req::new("PROPFIND", path).depth("0").xml(body)).await?;
    expect_status(&r, &[207], &format!("PROPFIND {path}"))?;
    // The property's value is an href element; the reader keeps its text.
    let ms = parse_multistatus(&r.body)?;
    let value = ms.responses.iter().find_map(|resp| resp.prop(prop).map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned));
    value.map(|v| dav::decode_href(&v)).ok_or_else(|| format!("PROPFIND {path}: no {prop} in {}", r.text()))
}

/// Finds the calendar home, makes the two bench calendars anew, PUTs the corpus (with
/// `concurrency` connections) and takes the sync token used by the incremental sync.
pub async fn load(endpoint: Arc<Endpoint>, base: &str, corpus: Arc<Corpus>, concurrency: usize) -> Result<Loaded, String> {
    let mut conn = Conn::open(endpoint.clone()).await?;
    let principal = find_href(&mut conn, base, dav::PROPFIND_PRINCIPAL, "current-user-principal").await?;
    let mut home = find_href(&mut conn, &principal, dav::PROPFIND_HOME_SET, "calendar-home-set").await?;
    if !home.ends_with('/') {
        home.push('/');
    }
    let calendars = CALENDARS.map(|c| format!("{home}{c}/"));
    for cal in &calendars {
        let r = send(&mut conn, &Req::new("DELETE", cal.as_str())).await?;
        expect_status(&r, &[200, 204, 404], &format!("DELETE {cal}"))?;
        let r = send(&mut conn, &Req::new("MKCALENDAR", cal.as_str()).xml(dav::MKCALENDAR)).await?;
        expect_status(&r, &[201], &format!("MKCALENDAR {cal}"))?;
    }
    let events_a: Vec<&corpus::Event> = corpus.in_calendar(0).collect();
    let marker = events_a.last().map(|e| e.uid.clone()).ok_or("calendar A is empty")?;
    let started = Instant::now();
    let jobs: Arc<Vec<(String, String)>> = Arc::new(
        corpus
            .events
            .iter()
            .filter(|e| e.uid != marker)
            .map(|e| (format!("{}{}", calendars[e.calendar], e.name), e.ics.clone()))
            .collect(),
    );
    put_all(&endpoint, jobs, concurrency).await?;
    let initial = Req::new("REPORT", calendars[0].as_str()).depth("1").xml(dav::sync_collection(""));
    let r = send(&mut conn, &initial).await?;
    expect_status(&r, &[207], "sync-collection initial")?;
    let token0 = parse_multistatus(&r.body)?.sync_token.ok_or("sync-collection: no sync-token")?;
    let last = events_a.last().ok_or("calendar A is empty")?;
    let r = send(&mut conn, &Req::new("PUT", format!("{}{}", calendars[0], last.name)).ics(last.ics.clone()).create_only()).await?;
    expect_status(&r, &[201, 204], "PUT of the last object")?;
    let upload = started.elapsed();
    let hrefs_a = events_a.iter().map(|e| format!("{}{}", calendars[0], e.name)).collect();
    let uids_a = events_a.iter().map(|e| e.uid.clone()).collect();
    Ok(Loaded {
        endpoint,
        home,
        hrefs_a,
        uids_a,
        token0,
        count_a: events_a.len(),
        week_a: corpus.expected_in_range(0, WEEK.0, WEEK.1),
        busy_a: corpus.expected_busy_seconds(0, MONTH.0, MONTH.1),
        calendars,
        corpus,
        upload,
        puts: Arc::new(AtomicU64::new(0)),
        invites: Arc::new(AtomicU64::new(0)),
        feeds: std::sync::OnceLock::new(),
    })
}

/// PUTs every (path, body) with `concurrency` connections; the first refusal is the error.
async fn put_all(endpoint: &Arc<Endpoint>, jobs: Arc<Vec<(String, String)>>, concurrency: usize) -> Result<(), String> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (endpoint, jobs, next) = (endpoint.clone(), jobs.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(endpoint).await?;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((path, ics)) = jobs.get(i) else { return Ok::<(), String>(()) };
                let r = conn.send(&Req::new("PUT", path.as_str()).ics(ics.clone()).create_only()).await?;
                expect_status(&r, &[201, 204], &format!("PUT {path}"))?;
            }
        }));
    }
    for t in tasks {
        t.await.map_err(|e| format!("upload task: {e}"))??;
    }
    Ok(())
}

/// The expected item count of `op` on `l`, as the report prints it.
pub fn expected(op: Op, l: &Loaded) -> Option<usize> {
    match op {
        Op::StaticGet | Op::Get | Op::Put | Op::Invite => Some(1),
        Op::Propfind | Op::SyncInitial => Some(l.count_a),
        Op::Query => Some(l.week_a),
        Op::Multiget => Some(MULTIGET.min(l.count_a)),
        Op::FreeBusy | Op::ApiWeek => None,
        Op::SyncIncremental => Some(1),
        Op::FirstSync => Some(l.corpus.events.len() + l.puts.load(Ordering::Relaxed) as usize),
        Op::FeedRevalidate | Op::FeedFull | Op::FeedBusy | Op::FeedFullAfterWrite | Op::FeedBusyAfterWrite => None,
    }
}

fn check_count(got: usize, want: usize, what: &str) -> Outcome {
    if got == want { Outcome::Ok(Some(got)) } else { Outcome::Wrong(format!("{what}: {got} items, expected {want}")) }
}

fn same_path(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// Members of a Depth-1 answer for `collection` (its own response left out).
fn members<'a>(ms: &'a dav::Multistatus, collection: &'a str) -> impl Iterator<Item = &'a dav::Response> + 'a {
    ms.responses.iter().filter(move |r| !same_path(&dav::decode_href(&r.href), collection))
}

/// What one unit's future gives back: the connection, for the next unit, and the outcome.
pub type UnitFuture = std::pin::Pin<Box<dyn Future<Output = (Conn, Outcome)> + Send>>;

/// One unit of `op` against `l`: a closure for [`crate::client::run_load`].
pub fn unit(op: Op, l: &Arc<Loaded>) -> impl Fn(Conn, usize, u64, Instant) -> UnitFuture + Send + Sync + Clone + 'static {
    let l = l.clone();
    let week = dav::calendar_query(&corpus::utc_stamp(WEEK.0), &corpus::utc_stamp(WEEK.1));
    let fb = dav::free_busy(&corpus::utc_stamp(MONTH.0), &corpus::utc_stamp(MONTH.1));
    let sync0 = dav::sync_collection("");
    let sync1 = dav::sync_collection(&l.token0);
    let bodies = Arc::new((week, fb, sync0, sync1));
    move |mut conn: Conn, worker: usize, seq: u64, deadline: Instant| {
        let l = l.clone();
        let bodies = bodies.clone();
        Box::pin(async move {
            let outcome = run_unit(op, &l, &bodies, &mut conn, worker, seq, deadline).await;
            (conn, outcome)
        })
    }
}

async fn run_unit(
    op: Op,
    l: &Loaded,
    bodies: &(String, String, String, String),
    conn: &mut Conn,
    worker: usize,
    seq: u64,
    deadline: Instant,
) -> Outcome {
    match unit_inner(op, l, bodies, conn, worker, seq, deadline).await {
        Ok(o) => o,
        Err(e) => Outcome::Error(e),
    }
}

async fn unit_inner(
    op: Op,
    l: &Loaded,
    (week, fb, sync0, sync1): &(String, String, String, String),
    conn: &mut Conn,
    worker: usize,
    seq: u64,
    deadline: Instant,
) -> Result<Outcome, String> {
    let full = seq.is_multiple_of(FULL_PARSE_EVERY);
    let cal = l.calendars[0].as_str();
    let pick = (worker * 7919 + seq as usize * 104_729) % l.hrefs_a.len().max(1);
    Ok(match op {
        Op::StaticGet => {
            let r = conn.send(&Req::new("GET", "/static.ics")).await?;
            if r.status == 200 && r.text().contains("reference@bench.kalends") {
                Outcome::Ok(Some(1))
            } else {
                Outcome::Wrong(format!("static GET: HTTP {}", r.status))
            }
        }
        Op::Get => {
            let r = conn.send(&Req::new("GET", l.hrefs_a[pick].as_str())).await?;
            if r.status == 200 && r.text().contains(l.uids_a[pick].as_str()) {
                Outcome::Ok(Some(1))
            } else {
                Outcome::Wrong(format!("GET {}: HTTP {}", l.hrefs_a[pick], r.status))
            }
        }
        Op::Propfind => {
            let r = conn.send(&Req::new("PROPFIND", cal).depth("1").xml(dav::PROPFIND_ETAG)).await?;
            expect_status(&r, &[207], "PROPFIND")?;
            let got = if full {
                let ms = parse_multistatus(&r.body)?;
                members(&ms, cal).filter(|m| m.prop("getetag").is_some_and(|e| !e.is_empty())).count()
            } else {
                dav::count_responses(&r.body).saturating_sub(1)
            };
            check_count(got, l.count_a, "PROPFIND")
        }
        Op::Query => {
            let r = conn.send(&Req::new("REPORT", cal).depth("1").xml(week.clone())).await?;
            expect_status(&r, &[207], "calendar-query")?;
            let got = if full { with_data(&r.body)? } else { dav::count_responses(&r.body) };
            check_count(got, l.week_a, "calendar-query")
        }
        Op::Multiget => {
            let n = MULTIGET.min(l.hrefs_a.len());
            let hrefs = (0..n).map(|k| l.hrefs_a[(pick + k) % l.hrefs_a.len()].as_str());
            let r = conn.send(&Req::new("REPORT", cal).depth("1").xml(dav::multiget(hrefs))).await?;
            expect_status(&r, &[207], "calendar-multiget")?;
            let got = if full { with_data(&r.body)? } else { dav::count_responses(&r.body) };
            check_count(got, n, "calendar-multiget")
        }
        Op::ApiWeek => {
            // The server's base is what precedes its calendar home.
            let base = l.home.find("calendars/").map_or("/", |i| &l.home[..i]);
            let path = format!("{base}api/v1/calendar?from={}&to={}", rfc3339(WEEK.0), rfc3339(WEEK.1));
            let r = conn.send(&Req::new("GET", &path)).await?;
            expect_status(&r, &[200], "GET /api/v1/calendar")?;
            // Each expanded instance is one JSON object with its own "recurrenceId" or "uid".
            let items = r.text().matches("\"uid\":").count();
            if items >= l.week_a {
                Outcome::Ok(Some(items))
            } else {
                Outcome::Wrong(format!("GET /api/v1/calendar: {items} instances, fewer than the {} events of calendar A that week", l.week_a))
            }
        }
        Op::FreeBusy => {
            let r = conn.send(&Req::new("REPORT", cal).depth("1").xml(fb.clone())).await?;
            expect_status(&r, &[200], "free-busy-query")?;
            let periods = dav::busy_periods(r.text())?;
            let clipped = periods.iter().map(|&(s, e)| (s.max(MONTH.0), e.min(MONTH.1))).filter(|(s, e)| e > s).collect();
            let busy = corpus::union_seconds(clipped);
            if busy == l.busy_a {
                Outcome::Ok(Some(periods.len()))
            } else {
                Outcome::Wrong(format!("free-busy: {busy} s busy in {} periods, expected {} s", periods.len(), l.busy_a))
            }
        }
        Op::SyncInitial | Op::SyncIncremental => {
            let (body, want) = if op == Op::SyncInitial { (sync0, l.count_a) } else { (sync1, 1) };
            let r = conn.send(&Req::new("REPORT", cal).depth("0").xml(body.clone())).await?;
            expect_status(&r, &[207], "sync-collection")?;
            let got = if full || op == Op::SyncIncremental {
                let ms = parse_multistatus(&r.body)?;
                if ms.sync_token.is_none() {
                    return Ok(Outcome::Wrong("sync-collection: no sync-token".into()));
                }
                ms.responses.iter().filter(|m| m.prop("getetag").is_some()).count()
            } else {
                dav::count_responses(&r.body)
            };
            check_count(got, want, "sync-collection")
        }
        Op::FirstSync => first_sync(l, conn, seq, deadline).await?,
        Op::Put => {
            let k = l.puts.fetch_add(1, Ordering::Relaxed) as usize;
            let (name, ics) = corpus::put_event(l.corpus.seed, k);
            let r = conn.send(&Req::new("PUT", format!("{cal}{name}")).ics(ics).create_only()).await?;
            if r.status == 201 {
                Outcome::Ok(Some(1))
            } else {
                Outcome::Wrong(format!("PUT {name}: HTTP {}", r.status))
            }
        }
        Op::Invite => {
            let k = l.invites.fetch_add(1, Ordering::Relaxed) as usize;
            let invitees: Vec<String> = (0..crate::servers::INVITEES).map(crate::servers::invitee_email).collect();
            let (name, ics) = corpus::invite_event(l.corpus.seed, k, crate::servers::EMAIL, &invitees);
            let r = conn.send(&Req::new("PUT", format!("{}{name}", l.calendars[1])).ics(ics).create_only()).await?;
            if r.status == 201 {
                Outcome::Ok(Some(1))
            } else {
                Outcome::Wrong(format!("PUT {name}: HTTP {} {}", r.status, r.text().chars().take(200).collect::<String>()))
            }
        }
        Op::FeedRevalidate | Op::FeedFull | Op::FeedBusy | Op::FeedFullAfterWrite | Op::FeedBusyAfterWrite => {
            feed_unit(op, l, conn, worker, seq).await?
        }
    })
}

/// One feed row's unit. Cached answers must be the very text first read (same length); after
/// a write, the full feed must show this worker's write.
async fn feed_unit(op: Op, l: &Loaded, conn: &mut Conn, worker: usize, seq: u64) -> Result<Outcome, String> {
    let f = l.feeds.get().ok_or("no feed links on this server")?;
    Ok(match op {
        Op::FeedRevalidate => {
            let r = conn.send(&Req::new("GET", f.full.as_str()).revalidate(&f.full_etag)).await?;
            if r.status == 304 { Outcome::Ok(Some(0)) } else { Outcome::Wrong(format!("feed revalidation: HTTP {}", r.status)) }
        }
        Op::FeedFull | Op::FeedBusy => {
            let (path, bytes, events) = if op == Op::FeedFull { (&f.full, f.full_bytes, f.full_events) } else { (&f.busy, f.busy_bytes, f.busy_events) };
            let r = conn.send(&Req::new("GET", path.as_str())).await?;
            if r.status == 200 && r.body.len() == bytes {
                Outcome::Ok(Some(events))
            } else {
                Outcome::Wrong(format!("feed GET: HTTP {}, {} bytes, expected {bytes}", r.status, r.body.len()))
            }
        }
        _ => {
            // Thirty days ahead: inside every feed's window.
            let start = chrono::Utc::now().timestamp() / 3600 * 3600 + 30 * 86_400 + worker as i64 * 3600;
            let marker = format!("feed write {worker} {seq}");
            let ics = format!(
                "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\nBEGIN:VEVENT\r\nUID:feed-write-{worker}@bench\r\n\
                 DTSTAMP:20260101T000000Z\r\nDTSTART:{}\r\nDURATION:PT1H\r\nSUMMARY:{marker}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
                corpus::utc_stamp(start)
            );
            let put = conn.send(&Req::new("PUT", format!("{}feed-write-{worker}.ics", l.calendars[0])).ics(ics)).await?;
            expect_status(&put, &[201, 204], "feed write PUT")?;
            let path = if op == Op::FeedFullAfterWrite { &f.full } else { &f.busy };
            let r = conn.send(&Req::new("GET", path.as_str())).await?;
            let fresh = op != Op::FeedFullAfterWrite || r.text().contains(&marker);
            if r.status == 200 && fresh && r.text().ends_with("END:VCALENDAR\r\n") {
                Outcome::Ok(Some(r.text().matches("BEGIN:VEVENT").count()))
            } else {
                Outcome::Wrong(format!("feed GET after a write: HTTP {}, own write shown: {fresh}", r.status))
            }
        }
    })
}

/// Responses of a REPORT that carry calendar data.
fn with_data(body: &[u8]) -> Result<usize, String> {
    let ms = parse_multistatus(body)?;
    Ok(ms.responses.iter().filter(|r| r.prop("calendar-data").is_some_and(|d| d.contains("BEGIN:VCALENDAR"))).count())
}

/// What DAVx5 does on a new account: list the home, then for each calendar list the members'
/// ETags and fetch them with calendar-multiget, ten at a time. The unit is given up at the
/// deadline between two requests, except a worker's first, so each worker finishes one.
async fn first_sync(l: &Loaded, conn: &mut Conn, seq: u64, deadline: Instant) -> Result<Outcome, String> {
    let over = || seq > 0 && Instant::now() >= deadline;
    let r = conn.send(&Req::new("PROPFIND", l.home.as_str()).depth("1").xml(dav::PROPFIND_HOME)).await?;
    expect_status(&r, &[207], "PROPFIND home")?;
    let ms = parse_multistatus(&r.body)?;
    let calendars: Vec<String> = members(&ms, &l.home)
        .filter(|m| m.resourcetype.iter().any(|t| t == "calendar"))
        .map(|m| dav::decode_href(&m.href))
        .collect();
    let mut fetched = 0;
    for cal in &calendars {
        if over() {
            return Ok(Outcome::Abandoned);
        }
        let r = conn.send(&Req::new("PROPFIND", cal.as_str()).depth("1").xml(dav::PROPFIND_ETAG)).await?;
        expect_status(&r, &[207], "PROPFIND calendar")?;
        let ms = parse_multistatus(&r.body)?;
        let hrefs: Vec<&str> = members(&ms, cal).filter(|m| m.prop("getetag").is_some()).map(|m| m.href.as_str()).collect();
        for batch in hrefs.chunks(FIRST_SYNC_BATCH) {
            if over() {
                return Ok(Outcome::Abandoned);
            }
            let r = conn.send(&Req::new("REPORT", cal.as_str()).depth("1").xml(dav::multiget(batch.iter().copied()))).await?;
            expect_status(&r, &[207], "calendar-multiget")?;
            fetched += with_data(&r.body)?;
        }
    }
    Ok(check_count(fetched, l.corpus.events.len() + l.puts.load(Ordering::Relaxed) as usize, "first sync"))
}

/// After the PUT runs: calendar A must hold its corpus objects plus every PUT that succeeded.
pub async fn verify_puts(l: &Loaded) -> Result<(), String> {
    let mut conn = Conn::open(l.endpoint.clone()).await?;
    let cal = l.calendars[0].as_str();
    let r = conn.send(&Req::new("PROPFIND", cal).depth("1").xml(dav::PROPFIND_ETAG)).await?;
    expect_status(&r, &[207], "PROPFIND after PUT")?;
    let ms = parse_multistatus(&r.body)?;
    let got = members(&ms, cal).count();
    let want = l.count_a + l.puts.load(Ordering::Relaxed) as usize;
    if got == want { Ok(()) } else { Err(format!("after PUT: {got} objects in calendar A, expected {want}")) }
}

/// `2026-03-02T12:00:00Z` for a Unix time.
fn rfc3339(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0).map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string()).unwrap_or_default()
}
