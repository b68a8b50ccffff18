//! kalends-bench: a reproducible CalDAV load test, Kalends side by side with Radicale and a
//! static-response reference server in one run (issue 5; docs/performance.md has the table).
//!
//! `cargo bench --bench kalends-bench -- [options]` runs the full comparison (`--help` lists
//! the options). Without `--bench` (that is, under `cargo test --all-targets`) it runs a smoke
//! version: a few hundred events, a fraction of a second per operation, Kalends on SQLite and the
//! reference only, and it fails only when an answer is wrong or a request errs, never on time.
//! docs/decisions/0008-benchmark-tool.md says why it is packaged this way.

mod client;
mod cluster;
mod corpus;
mod dav;
mod ops;
mod servers;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;

use client::{Endpoint, Measured, cpu_seconds, memory_kb, run_load};
use corpus::Corpus;
use ops::{Loaded, Op};
use servers::{Server, Storage};

#[derive(Parser, Debug, Clone)]
#[command(name = "kalends-bench", about = "CalDAV load test: Kalends, Radicale and a static reference in one run")]
struct Args {
    /// Events in 2024–2026 (split over two calendars).
    #[arg(long, default_value_t = 5_000)]
    events: usize,
    /// Events in the scaling rows (the same recent events plus history); 0 skips them.
    #[arg(long, default_value_t = 50_000)]
    scale_events: usize,
    /// Seconds each operation runs at each concurrency.
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    /// Days the corpus's 2024–2026 events are spread over: 1096 (the three years) by default;
    /// fewer packs them around the measured week (560 gives 76 objects per week query at
    /// 5,000 events: issue 24's denser corpus).
    #[arg(long, default_value_t = corpus::RECENT_DAYS)]
    span_days: i64,
    /// Concurrency levels (connections).
    #[arg(long, value_delimiter = ',', default_value = "1,8,32")]
    levels: Vec<usize>,
    /// What to measure: ref, sqlite, sqlite-redis, pg, pg-redis, radicale; and, for the
    /// limiter's cost, sqlite-limited, sqlite-redis-limited, pg-limited, pg-redis-limited
    /// (rate limits on at quotas the load never reaches; every other target runs without them);
    /// pg-cluster: two nodes on PostgreSQL + Redis behind HAProxy (deploy/haproxy.cfg).
    #[arg(long, value_delimiter = ',', default_value = "ref,sqlite,sqlite-redis,pg,pg-redis,radicale")]
    targets: Vec<String>,
    /// Engines that also get the scaling rows.
    #[arg(long, value_delimiter = ',', default_value = "sqlite,pg")]
    scale_targets: Vec<String>,
    /// Only these operations (labels' first word, e.g. query,get); all when empty.
    #[arg(long, value_delimiter = ',')]
    ops: Vec<String>,
    /// Another Kalends binary (e.g. a build of an older commit) for the `base-…` targets
    /// (base-sqlite, base-pg, …), measured in the same run for before/after figures.
    #[arg(long)]
    base_bin: Option<PathBuf>,
    /// What the report calls the `base-…` targets.
    #[arg(long, default_value = "baseline")]
    base_label: String,
    /// Start every target at once and measure them in alternating rounds (half the time each,
    /// twice), so the machine's noise hits all alike: for before/after comparisons. No
    /// reference or scaling rows in this mode.
    #[arg(long)]
    alternate: bool,
    /// Load an already running CalDAV server instead (its CPU is then not measured).
    #[arg(long)]
    url: Option<String>,
    #[arg(long, default_value = "bench")]
    user: String,
    #[arg(long, default_value = "")]
    password: String,
    /// PostgreSQL admin URL (a database is created and dropped); default KALENDS_TEST_PG_URL
    /// or postgres://postgres@127.0.0.1:5432/postgres.
    #[arg(long)]
    pg_url: Option<String>,
    /// Redis URL; default KALENDS_TEST_REDIS_URL or redis://127.0.0.1:6379.
    #[arg(long)]
    redis_url: Option<String>,
    #[arg(long, default_value_t = 20_261_201)]
    seed: u64,
    /// Record a `perf` profile of the server (call graphs) during each operation at the
    /// highest concurrency, into DIR/<server>-<operation>.data.
    #[arg(long)]
    perf: Option<PathBuf>,
    /// Also write the report (Markdown) here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// The smoke run (what `cargo test` runs).
    #[arg(long)]
    smoke: bool,
    /// Passed by `cargo bench`.
    #[arg(long, hide = true)]
    bench: bool,
}

impl Args {
    fn smoke() -> Args {
        let mut a = Args::parse_from(["kalends-bench"]);
        a.smoke = true;
        a.events = 200;
        a.scale_events = 400;
        a.seconds = 0.25;
        a.levels = vec![1, 4];
        a.targets = vec!["ref".into(), "sqlite".into()];
        a.scale_targets = vec!["sqlite".into()];
        a
    }
}

fn main() {
    let raw: Vec<String> = std::env::args().collect();
    if raw.get(1).map(String::as_str) == Some("--serve-static") {
        let addr = raw.get(2).map_or("127.0.0.1:0", String::as_str);
        if let Err(e) = servers::serve_static(addr) {
            eprintln!("kalends-bench --serve-static: {e}");
            std::process::exit(2);
        }
        return;
    }
    let args = if raw.iter().any(|a| a == "--bench" || a == "--help" || a == "-h") {
        Args::parse()
    } else {
        // cargo test passes no arguments, or a test-name filter this binary has no use for.
        Args::smoke()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime for the driver");
    let code = runtime.block_on(run(args));
    std::process::exit(code);
}

/// One line of the report.
struct Row {
    server: String,
    events: usize,
    op: Op,
    concurrency: usize,
    m: Measured,
    expected: Option<usize>,
    /// A failed check outside the load loop (the count after PUT).
    note: Option<String>,
}

impl Row {
    fn ok(&self) -> bool {
        self.m.wrong == 0 && self.m.errors == 0 && self.m.done > 0 && self.note.is_none()
    }

    fn check(&self) -> String {
        if self.ok() {
            return "ok".into();
        }
        let mut parts = Vec::new();
        if self.m.done == 0 {
            parts.push("nothing completed".to_owned());
        }
        if self.m.wrong > 0 {
            parts.push(format!("{} WRONG", self.m.wrong));
        }
        if self.m.errors > 0 {
            parts.push(format!("{} errors", self.m.errors));
        }
        if let Some(p) = self.m.first_problem.as_ref().or(self.note.as_ref()) {
            parts.push(p.chars().take(90).collect::<String>().replace('|', "/"));
        }
        parts.join("; ")
    }
}

struct Plan {
    args: Args,
    bin: PathBuf,
    pg_url: String,
    redis_url: String,
    corpus: Arc<Corpus>,
    reference: HashMap<usize, f64>,
}

async fn run(args: Args) -> i32 {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_kalends"));
    let pg_url = args
        .pg_url
        .clone()
        .or_else(|| std::env::var("KALENDS_TEST_PG_URL").ok())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let redis_url = args
        .redis_url
        .clone()
        .or_else(|| std::env::var("KALENDS_TEST_REDIS_URL").ok())
        .unwrap_or_else(|| "redis://127.0.0.1:6379".into());
    let t = Instant::now();
    let corpus = Arc::new(Corpus::generate(args.seed, args.events, args.events, args.span_days));
    if let Err(e) = corpus.self_check() {
        eprintln!("kalends-bench: the corpus generator broke its own rules: {e}");
        return 1;
    }
    let mix = corpus.mix();
    let mode = if args.smoke { "smoke" } else { "full" };
    eprintln!(
        "kalends-bench ({mode}): {} events ({} in 2024–2026 over {} days, seed {}) generated in {:.2} s: {mix:?}; week answer {} of calendar A",
        corpus.events.len(),
        corpus.recent,
        corpus.span_days,
        args.seed,
        t.elapsed().as_secs_f64(),
        corpus.expected_in_range(0, ops::WEEK.0, ops::WEEK.1)
    );
    let mut plan = Plan { args, bin, pg_url, redis_url, corpus, reference: HashMap::new() };
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    let mut failures = Vec::new();
    if let Some(url) = plan.args.url.clone() {
        match external(&plan, &url, &mut rows).await {
            Ok(()) => {}
            Err(e) => failures.push(format!("{url}: {e}")),
        }
    } else if plan.args.alternate {
        if let Err(e) = alternate(&plan, &mut rows, &mut notes).await {
            eprintln!("kalends-bench: {e}");
            failures.push(e);
        }
    } else {
        for target in plan.args.targets.clone() {
            eprintln!("kalends-bench: {target}");
            if let Err(e) = measure_target(&mut plan, &target, &mut rows, &mut notes).await {
                eprintln!("kalends-bench: {target}: {e}");
                failures.push(format!("{target}: {e}"));
            }
        }
    }
    let report = report(&plan, &rows, &notes, &failures).await;
    println!("{report}");
    if let Some(out) = &plan.args.out
        && let Err(e) = std::fs::write(out, &report) {
            eprintln!("kalends-bench: cannot write {}: {e}", out.display());
        }
    let kalends_wrong = rows.iter().any(|r| r.server.starts_with("Kalends") && !r.ok());
    if !failures.is_empty() || kalends_wrong || (plan.args.smoke && rows.iter().any(|r| !r.ok())) {
        eprintln!("kalends-bench: FAILED ({} setup failures; see the check column)", failures.len());
        1
    } else {
        0
    }
}

fn label(target: &str) -> Option<(&'static str, Option<Storage>, bool)> {
    Some(match target {
        "sqlite" => ("Kalends SQLite", Some(Storage::Sqlite), false),
        "sqlite-redis" => ("Kalends SQLite + Redis", Some(Storage::Sqlite), true),
        "pg" => ("Kalends PostgreSQL", None, false),
        "pg-redis" => ("Kalends PostgreSQL + Redis", None, true),
        _ => return None,
    })
}

async fn start(plan: &Plan, target: &str, events: usize) -> Result<Server, String> {
    if target == "pg-cluster" {
        let label = "Kalends PostgreSQL + Redis, 2 nodes behind HAProxy";
        return cluster::start(&plan.bin, label, &plan.pg_url, &plan.redis_url).await;
    }
    if target == "radicale" {
        let python = servers::radicale_venv(Path::new(env!("CARGO_MANIFEST_DIR")))?;
        return servers::start_radicale(&python).await;
    }
    let (bin, engine, suffix) = match target.strip_prefix("base-") {
        Some(engine) => {
            let bin = plan.args.base_bin.as_ref().ok_or("a base- target needs --base-bin")?;
            (bin, engine, format!(" [{}]", plan.args.base_label))
        }
        None => (&plan.bin, target, String::new()),
    };
    // `…-limited`: the limiter deciding every request (with Redis when the target has it), at
    // quotas no load here reaches, so the rows measure what deciding costs.
    let (engine, limited) = match engine.strip_suffix("-limited") {
        Some(engine) => (engine, true),
        None => (engine, false),
    };
    let (name, storage, redis) = label(engine).ok_or_else(|| format!("unknown target {target:?}"))?;
    let name = if limited { format!("{name}, rate limits on") } else { name.to_owned() };
    let storage = storage.unwrap_or_else(|| Storage::Postgres(plan.pg_url.clone()));
    let redis = redis.then_some(plan.redis_url.as_str());
    let label = if events == plan.args.events { format!("{name}{suffix}") } else { format!("{name}{suffix} ({events} events)") };
    servers::start_kalends(bin, &label, &storage, redis, limited).await
}

fn selected(plan: &Plan, op: Op) -> bool {
    plan.args.ops.is_empty()
        || plan.args.ops.iter().any(|o| op.label().to_lowercase().split([' ', '-']).next() == Some(o.to_lowercase().as_str()))
}

async fn cpu_snapshot(server: &mut Server) -> HashMap<u32, f64> {
    server.pids().await.into_iter().filter_map(|p| cpu_seconds(p).map(|c| (p, c))).collect()
}

/// CPU seconds since `before`: all of the server's, and the database backends' part of it.
async fn cpu_since(server: &mut Server, before: &HashMap<u32, f64>) -> (f64, Option<f64>) {
    let now = cpu_snapshot(server).await;
    let own = server.process_ids();
    let spent = |keep: &dyn Fn(u32) -> bool| -> f64 {
        now.iter().filter(|(p, _)| keep(**p)).map(|(p, c)| c - before.get(p).copied().unwrap_or(0.0)).sum()
    };
    let db = server.has_database().then(|| spent(&|p| !own.contains(&p)));
    (spent(&|_| true), db)
}

async fn measure(
    plan: &Plan,
    server: &mut Server,
    loaded: &Arc<Loaded>,
    op: Op,
    concurrency: usize,
    duration: Duration,
) -> Measured {
    let profile = match &plan.args.perf {
        Some(dir) if Some(&concurrency) == plan.args.levels.iter().max() => start_perf(dir, server, op),
        _ => None,
    };
    let before = cpu_snapshot(server).await;
    let mut m = run_load(&loaded.endpoint, concurrency, duration, ops::unit(op, loaded)).await;
    let (cpu, db) = cpu_since(server, &before).await;
    (m.server_cpu, m.db_cpu) = (Some(cpu), db);
    if let Some(mut perf) = profile {
        let _ = std::process::Command::new("kill").arg("-INT").arg(perf.id().to_string()).status();
        let _ = perf.wait();
    }
    m
}

/// `perf record -g` attached to the server process for the length of one measurement.
fn start_perf(dir: &Path, server: &Server, op: Op) -> Option<std::process::Child> {
    let _ = std::fs::create_dir_all(dir);
    let name: String = format!("{}-{}", server.label, op.label())
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
        .collect();
    let out = dir.join(format!("{name}.data"));
    let child = std::process::Command::new("perf")
        .args(["record", "-q", "-F", "499", "-g", "-p", &server.pid().to_string(), "-o"])
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    match child {
        Ok(c) => {
            // perf needs a moment to attach before the load starts.
            std::thread::sleep(Duration::from_millis(300));
            Some(c)
        }
        Err(e) => {
            eprintln!("kalends-bench: perf: {e}");
            None
        }
    }
}

async fn measure_target(plan: &mut Plan, target: &str, rows: &mut Vec<Row>, notes: &mut Vec<String>) -> Result<(), String> {
    let duration = Duration::from_secs_f64(plan.args.seconds);
    if target == "ref" {
        let mut server = servers::start_reference().await?;
        let endpoint = Arc::new(Endpoint::new(server.addr, servers::USER, servers::PASSWORD));
        for &c in &plan.args.levels {
            let before = cpu_snapshot(&mut server).await;
            let loaded = Arc::new(static_loaded(endpoint.clone(), plan.corpus.clone()));
            let mut m = run_load(&endpoint, c, duration, ops::unit(Op::StaticGet, &loaded)).await;
            m.server_cpu = Some(cpu_since(&mut server, &before).await.0);
            plan.reference.insert(c, m.rate());
            rows.push(Row { server: server.label.clone(), events: 0, op: Op::StaticGet, concurrency: c, m, expected: Some(1), note: None });
        }
        server.stop().await;
        return Ok(());
    }
    let mut server = start(plan, target, plan.args.events).await?;
    let result = measure_loaded(plan, target, &mut server, rows, notes).await;
    if result.is_err() {
        eprintln!("{}", server.log_tail());
    }
    server.stop().await;
    result
}

async fn measure_loaded(plan: &Plan, target: &str, server: &mut Server, rows: &mut Vec<Row>, notes: &mut Vec<String>) -> Result<(), String> {
    let duration = Duration::from_secs_f64(plan.args.seconds);
    let endpoint = Arc::new(Endpoint::new(server.addr, servers::USER, servers::PASSWORD));
    let loaded = Arc::new(ops::load(endpoint, &server.base_path, plan.corpus.clone(), 8).await?);
    server.settle().await?;
    notes.push(format!(
        "{}: {} events uploaded by PUT (8 connections) in {:.1} s ({:.0}/s); RSS then {}",
        server.label,
        plan.corpus.events.len(),
        loaded.upload.as_secs_f64(),
        plan.corpus.events.len() as f64 / loaded.upload.as_secs_f64().max(1e-9),
        rss_text(server.pid())
    ));
    // The scaling rows come before PUT, which adds objects to the calendar they compare.
    for op in Op::SERVER_OPS {
        if op == Op::Put && plan.args.scale_events > plan.args.events && plan.args.scale_targets.iter().any(|t| t == target) {
            scaling(plan, target, server, &loaded, rows, notes).await?;
        }
        if !selected(plan, op) {
            continue;
        }
        if op.is_feed() && !feeds_ready(server, &loaded, notes).await? {
            continue;
        }
        if op == Op::ApiWeek && !server.is_kalends() {
            continue;
        }
        for &c in &plan.args.levels {
            let m = measure(plan, server, &loaded, op, c, duration).await;
            eprintln!("  {:<28} c={c:<3} {:>9.1} req/s  {}", op.label(), m.rate(), m.first_problem.as_deref().unwrap_or(""));
            rows.push(Row { server: server.label.clone(), events: plan.corpus.events.len(), op, concurrency: c, m, expected: ops::expected(op, &loaded), note: None });
        }
        if op == Op::Put
            && let Err(e) = ops::verify_puts(&loaded).await
                && let Some(last) = rows.last_mut() {
                    last.note = Some(e);
                }
    }
    if let Some((rss, hwm)) = memory_kb(server.pid()) {
        notes.push(format!("{}: RSS {:.1} MB (peak {:.1} MB) after the run", server.label, rss as f64 / 1024.0, hwm as f64 / 1024.0));
    }
    Ok(())
}

/// Makes calendar A's feed links (full and busy) before the first feed row; false on servers
/// without feed links (Radicale).
async fn feeds_ready(server: &Server, loaded: &Loaded, notes: &mut Vec<String>) -> Result<bool, String> {
    if loaded.feeds.get().is_some() {
        return Ok(true);
    }
    let calendar = corpus::CALENDARS[0];
    let (Some(full), Some(busy)) = (server.feed_link(calendar, "full"), server.feed_link(calendar, "busy")) else {
        return Ok(false);
    };
    let f = ops::feeds(loaded, full?, busy?).await?;
    notes.push(format!(
        "{}: feeds of calendar A ({} events): full {} events, {:.0} kB; busy {} periods, {:.0} kB (window: 90 days back, 2 years ahead)",
        server.label,
        loaded.count_a,
        f.full_events,
        f.full_bytes as f64 / 1000.0,
        f.busy_events,
        f.busy_bytes as f64 / 1000.0
    ));
    let _ = loaded.feeds.set(f);
    Ok(true)
}

/// The scaling rows: a server with `scale_events` (the same recent events plus history) beside
/// the loaded one, the 1-week query, the first sync and PUT measured on both in alternation, so
/// a noisy moment hits both alike.
async fn scaling(
    plan: &Plan,
    target: &str,
    small: &mut Server,
    small_loaded: &Arc<Loaded>,
    rows: &mut Vec<Row>,
    notes: &mut Vec<String>,
) -> Result<(), String> {
    let duration = Duration::from_secs_f64(plan.args.seconds);
    let big_corpus = Arc::new(Corpus::generate(plan.args.seed, plan.args.events, plan.args.scale_events, plan.args.span_days));
    if let Err(e) = big_corpus.self_check() {
        return Err(format!("scaled corpus: {e}"));
    }
    let mut big = start(plan, target, plan.args.scale_events).await?;
    let result = async {
        let endpoint = Arc::new(Endpoint::new(big.addr, servers::USER, servers::PASSWORD));
        let loaded = Arc::new(ops::load(endpoint, &big.base_path, big_corpus.clone(), 8).await?);
        big.settle().await?;
        notes.push(format!(
            "{}: {} events uploaded by PUT (8 connections) in {:.1} s ({:.0}/s); RSS then {}",
            big.label,
            big_corpus.events.len(),
            loaded.upload.as_secs_f64(),
            big_corpus.events.len() as f64 / loaded.upload.as_secs_f64().max(1e-9),
            rss_text(big.pid())
        ));
        if loaded.week_a != small_loaded.week_a {
            return Err(format!("the scaled corpus changes the week's answer ({} vs {})", loaded.week_a, small_loaded.week_a));
        }
        // PUT last: it adds objects to both.
        for op in [Op::Query, Op::FirstSync, Op::Put] {
            for &c in plan.args.levels.iter().filter(|&&c| c <= 8) {
                // Two alternating rounds of half the time each, summed.
                let (mut a, mut b) = (Vec::new(), Vec::new());
                for _ in 0..2 {
                    a.push(measure(plan, small, small_loaded, op, c, duration / 2).await);
                    b.push(measure(plan, &mut big, &loaded, op, c, duration / 2).await);
                }
                let (ma, mb) = (merge(a), merge(b));
                let small_events = small_loaded.corpus.events.len();
                let ratio_cpu = match (mb.server_us_per_req(), ma.server_us_per_req()) {
                    (Some(x), Some(y)) if y > 0.0 => format!("{:.2}×", x / y),
                    _ => "n/a".into(),
                };
                notes.push(format!(
                    "scaling {} {} c={c}: {small_events} → {} events: req/s {:.1} → {:.1} ({:.2}× the time), server CPU per request {ratio_cpu}",
                    big.label,
                    op.label(),
                    big_corpus.events.len(),
                    ma.rate(),
                    mb.rate(),
                    ma.rate() / mb.rate().max(1e-9)
                ));
                rows.push(Row { server: format!("{} (alternating)", small.label), events: small_events, op, concurrency: c, m: ma, expected: ops::expected(op, small_loaded), note: None });
                rows.push(Row { server: big.label.clone(), events: big_corpus.events.len(), op, concurrency: c, m: mb, expected: ops::expected(op, &loaded), note: None });
            }
        }
        if let Some((rss, hwm)) = memory_kb(big.pid()) {
            notes.push(format!("{}: RSS {:.1} MB (peak {:.1} MB) after the scaling rows", big.label, rss as f64 / 1024.0, hwm as f64 / 1024.0));
        }
        Ok(())
    }
    .await;
    if result.is_err() {
        eprintln!("{}", big.log_tail());
    }
    big.stop().await;
    result
}

/// `--alternate`: all targets up and loaded, then each operation and concurrency measured on
/// each in turn, twice.
async fn alternate(plan: &Plan, rows: &mut Vec<Row>, notes: &mut Vec<String>) -> Result<(), String> {
    let duration = Duration::from_secs_f64(plan.args.seconds);
    let mut servers = Vec::new();
    let mut result = Ok(());
    for target in plan.args.targets.iter().filter(|t| *t != "ref") {
        match start(plan, target, plan.args.events).await {
            Ok(server) => servers.push(server),
            Err(e) => {
                result = Err(format!("{target}: {e}"));
                break;
            }
        }
    }
    let mut loaded = Vec::new();
    if result.is_ok() {
        for server in &servers {
            let endpoint = Arc::new(Endpoint::new(server.addr, servers::USER, servers::PASSWORD));
            let done = match ops::load(endpoint, &server.base_path, plan.corpus.clone(), 8).await {
                Ok(l) => server.settle().await.map(|()| l),
                Err(e) => Err(e),
            };
            match done {
                Ok(l) => {
                    notes.push(format!("{}: {} events uploaded in {:.1} s", server.label, plan.corpus.events.len(), l.upload.as_secs_f64()));
                    loaded.push(Arc::new(l));
                }
                Err(e) => {
                    result = Err(format!("{}: {e}", server.label));
                    break;
                }
            }
        }
    }
    if result.is_ok() {
        'ops: for op in Op::SERVER_OPS.into_iter().filter(|&op| selected(plan, op)) {
            // The feed rows need every server's feed links, made once before the first of them.
            if op.is_feed() {
                for (k, server) in servers.iter().enumerate() {
                    match feeds_ready(server, &loaded[k], notes).await {
                        Ok(true) => {}
                        Ok(false) => continue 'ops,
                        Err(e) => {
                            result = Err(format!("{}: {e}", server.label));
                            break 'ops;
                        }
                    }
                }
            }
            for &c in &plan.args.levels {
                let mut parts: Vec<Vec<Measured>> = vec![Vec::new(); servers.len()];
                for _ in 0..2 {
                    for (k, server) in servers.iter_mut().enumerate() {
                        parts[k].push(measure(plan, server, &loaded[k], op, c, duration / 2).await);
                    }
                }
                for (k, p) in parts.into_iter().enumerate() {
                    let m = merge(p);
                    eprintln!("  {:<32} {:<28} c={c:<3} {:>9.1} req/s", servers[k].label, op.label(), m.rate());
                    rows.push(Row { server: servers[k].label.clone(), events: plan.corpus.events.len(), op, concurrency: c, m, expected: ops::expected(op, &loaded[k]), note: None });
                }
            }
        }
        for (k, l) in loaded.iter().enumerate() {
            if let Err(e) = ops::verify_puts(l).await {
                notes.push(format!("{}: {e}", servers[k].label));
                result = Err(e);
            }
            if let Some((rss, _)) = memory_kb(servers[k].pid()) {
                notes.push(format!("{}: RSS {:.1} MB after the run", servers[k].label, rss as f64 / 1024.0));
            }
        }
    }
    for server in servers {
        server.stop().await;
    }
    result
}

/// Adds up alternating rounds of one measurement (latency percentiles: the worse round's).
fn merge(parts: Vec<Measured>) -> Measured {
    let mut m = Measured { server_cpu: Some(0.0), ..Measured::default() };
    for p in parts {
        m.done += p.done;
        m.wrong += p.wrong;
        m.errors += p.errors;
        m.elapsed += p.elapsed;
        m.driver_cpu += p.driver_cpu;
        m.reconnects += p.reconnects;
        m.server_cpu = m.server_cpu.zip(p.server_cpu).map(|(a, b)| a + b);
        m.db_cpu = match (m.db_cpu, p.db_cpu) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
        m.p50 = m.p50.max(p.p50);
        m.p99 = m.p99.max(p.p99);
        m.items = p.items.or(m.items);
        if m.first_problem.is_none() {
            m.first_problem = p.first_problem;
        }
    }
    m
}

/// The reference server's stand-in for a loaded calendar: only the GET path is used.
fn static_loaded(endpoint: Arc<Endpoint>, corpus: Arc<Corpus>) -> Loaded {
    Loaded {
        endpoint,
        home: "/".into(),
        calendars: ["/".into(), "/".into()],
        hrefs_a: vec!["/static.ics".into()],
        uids_a: vec!["reference@bench.kalends".into()],
        token0: String::new(),
        corpus,
        count_a: 1,
        week_a: 0,
        busy_a: 0,
        upload: Duration::ZERO,
        puts: Arc::new(std::sync::atomic::AtomicU64::new(0)),
        invites: Arc::new(std::sync::atomic::AtomicU64::new(0)),
        feeds: std::sync::OnceLock::new(),
    }
}

async fn external(plan: &Plan, url: &str, rows: &mut Vec<Row>) -> Result<(), String> {
    let rest = url.strip_prefix("http://").ok_or("only http:// URLs (loopback) can be loaded")?;
    let (hostport, path) = rest.split_once('/').map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
    let addr = tokio::net::lookup_host(hostport)
        .await
        .map_err(|e| format!("{hostport}: {e}"))?
        .find(|a| a.ip().is_loopback())
        .ok_or_else(|| format!("{hostport} is not a loopback address; this tool loads only servers on this machine"))?;
    let endpoint = Arc::new(Endpoint::new(addr, &plan.args.user, &plan.args.password));
    let loaded = Arc::new(ops::load(endpoint, &path, plan.corpus.clone(), 8).await?);
    for op in Op::SERVER_OPS {
        if !selected(plan, op) {
            continue;
        }
        for &c in &plan.args.levels {
            let m = run_load(&loaded.endpoint, c, Duration::from_secs_f64(plan.args.seconds), ops::unit(op, &loaded)).await;
            rows.push(Row { server: url.to_owned(), events: plan.corpus.events.len(), op, concurrency: c, m, expected: ops::expected(op, &loaded), note: None });
        }
    }
    Ok(())
}

fn rss_text(pid: u32) -> String {
    memory_kb(pid).map_or("unknown".into(), |(rss, _)| format!("{:.1} MB", rss as f64 / 1024.0))
}

fn fmt_ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms >= 100.0 { format!("{ms:.0}") } else if ms >= 10.0 { format!("{ms:.1}") } else { format!("{ms:.2}") }
}

fn fmt_us(v: Option<f64>) -> String {
    v.map_or("–".into(), |u| if u >= 1000.0 { format!("{:.0}", u) } else { format!("{u:.1}") })
}

/// The Markdown report: machine, corpus, the table, the notes and the targets.
async fn report(plan: &Plan, rows: &[Row], notes: &[String], failures: &[String]) -> String {
    let mut s = String::new();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    s.push_str(&format!(
        "kalends-bench {} run: {} events (seed {}), {} s per operation and concurrency, levels {:?}\n",
        if plan.args.smoke { "smoke" } else { "full" },
        plan.corpus.events.len(),
        plan.args.seed,
        plan.args.seconds,
        plan.args.levels
    ));
    s.push_str(&format!("machine: {cores} cores, {cpu}; load average at the end: {}\n", load.trim()));
    s.push_str(&format!("corpus: {:?}\n\n", plan.corpus.mix()));
    s.push_str("| server | events | operation | conc. | req/s | % of static | p50 ms | p99 ms | server CPU µs/req | of which PostgreSQL | driver CPU µs/req | items (expected) | check |\n");
    s.push_str("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n");
    for r in rows {
        let share = plan.reference.get(&r.concurrency).map_or("–".into(), |&rf| format!("{:.1}%", 100.0 * r.m.rate() / rf.max(1e-9)));
        let items = match (r.m.items, r.expected) {
            (Some(g), Some(e)) => format!("{g} ({e})"),
            (Some(g), None) if r.op.is_feed() => format!("{g} VEVENTs"),
            (Some(g), None) if r.op == Op::ApiWeek => format!("{g} instances"),
            (Some(g), None) => format!("{g} periods"),
            (None, Some(e)) => format!("– ({e})"),
            (None, None) => "–".into(),
        };
        s.push_str(&format!(
            "| {} | {} | {} | {} | {:.1} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.server,
            r.events,
            r.op.label(),
            r.concurrency,
            r.m.rate(),
            share,
            fmt_ms(r.m.p50),
            fmt_ms(r.m.p99),
            fmt_us(r.m.server_us_per_req()),
            fmt_us(r.m.db_us_per_req()),
            fmt_us(r.m.driver_us_per_req()),
            items,
            r.check()
        ));
    }
    s.push('\n');
    for n in notes {
        s.push_str(&format!("- {n}\n"));
    }
    // The driver check: under each row's load, did the driver use more CPU than the server?
    let driver_heavy: Vec<String> = rows
        .iter()
        .filter(|r| r.op != Op::StaticGet)
        .filter(|r| matches!((r.m.driver_us_per_req(), r.m.server_us_per_req()), (Some(d), Some(sv)) if d > sv))
        .map(|r| format!("{} {} c={}", r.server, r.op.label(), r.concurrency))
        .collect();
    let max_ref = plan.reference.values().copied().fold(0.0, f64::max);
    s.push_str(&format!(
        "- driver check: the same driver drives the static server at up to {max_ref:.0} req/s; rows where the driver spent more CPU per request than the server: {}\n",
        if driver_heavy.is_empty() { "none".to_owned() } else { driver_heavy.join(", ") }
    ));
    for f in failures {
        s.push_str(&format!("- FAILED: {f}\n"));
    }
    if !plan.args.smoke {
        s.push_str(&targets(plan, rows, notes));
    }
    s
}

/// The targets for Kalends on SQLite, 5,000 events, concurrency 8.
fn targets(plan: &Plan, rows: &[Row], notes: &[String]) -> String {
    let find = |op: Op, c: usize| rows.iter().find(|r| r.server == "Kalends SQLite" && r.op == op && r.concurrency == c);
    let mut s = String::from("\n| target (Kalends SQLite, c=8) | wanted | measured | |\n|---|---|---|---|\n");
    let rate = |op: Op, want: f64, s: &mut String| {
        if let Some(r) = find(op, 8) {
            let pass = r.ok() && r.m.rate() >= want;
            s.push_str(&format!("| {} | ≥ {want:.0} req/s | {:.0} req/s | {} |\n", op.label(), r.m.rate(), if pass { "pass" } else { "MISS" }));
        }
    };
    rate(Op::Get, 15_000.0, &mut s);
    rate(Op::Propfind, 150.0, &mut s);
    rate(Op::Query, 1_500.0, &mut s);
    rate(Op::Multiget, 2_500.0, &mut s);
    rate(Op::FreeBusy, 5_000.0, &mut s);
    rate(Op::SyncIncremental, 10_000.0, &mut s);
    rate(Op::Put, 2_000.0, &mut s);
    if let Some(r) = find(Op::FirstSync, 1) {
        let secs = r.m.p50.as_secs_f64();
        s.push_str(&format!(
            "| first sync of {} events (one client) | ≤ 0.3 s | {secs:.3} s (p50) | {} |\n",
            plan.corpus.events.len(),
            if r.ok() && secs <= 0.3 { "pass" } else { "MISS" }
        ));
    }
    // The scaling rows: the same server kind at both sizes, measured in alternation.
    let small = rows.iter().find(|r| r.server == "Kalends SQLite (alternating)" && r.op == Op::Query && r.concurrency == 8);
    let big = rows.iter().find(|r| r.server.starts_with("Kalends SQLite (") && r.events > plan.args.events && r.op == Op::Query && r.concurrency == 8);
    if let (Some(a), Some(b)) = (small, big) {
        let time = a.m.rate() / b.m.rate().max(1e-9);
        let cpu = b.m.server_us_per_req().zip(a.m.server_us_per_req()).map_or(f64::NAN, |(x, y)| x / y);
        let pass = a.ok() && b.ok() && time <= 1.3 && cpu <= 1.3;
        s.push_str(&format!(
            "| 1-week query at {} vs {} events | ≤ 1.3× the cost | {time:.2}× the time, {cpu:.2}× the server CPU per request | {} |\n",
            b.events,
            a.events,
            if pass { "pass" } else { "MISS" }
        ));
    }
    // "… (N events): RSS X MB (peak Y MB) after the scaling rows", written by `scaling`. The
    // peak (VmHWM) is what is judged: memory given back afterwards does not make the busiest
    // moment smaller.
    for n in notes.iter().filter(|n| n.starts_with("Kalends SQLite (") && n.contains("after the scaling rows")) {
        let number_after = |key: &str| n.split(key).nth(1).and_then(|t| t.split(' ').next()).and_then(|t| t.parse::<f64>().ok());
        if let (Some(now), Some(peak)) = (number_after("RSS "), number_after("(peak ")) {
            let events = n.split(['(', ' ']).nth(3).unwrap_or("?");
            s.push_str(&format!(
                "| server memory with {events} events loaded | ≤ 150 MB RSS | peak {peak:.1} MB ({now:.1} MB after the scaling rows) | {} |\n",
                if peak <= 150.0 { "pass" } else { "MISS" }
            ));
        }
    }
    s
}
