//! Measures calcard 0.3 against icalendar 0.17 on a directory of .ics files: how many files each
//! parses and how fast, and what Kalends' whole write-time path (`parse_object`) costs on top.
//! It produced the numbers in docs/decisions/0001-icalendar-parser.md:
//!
//! `CARGO_TARGET_DIR=/work/main/target cargo run --example parser_corpus -- fixtures/ics-corpus 200`

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// One corpus file, read once so that timing measures parsing only.
struct Sample {
    name: String,
    text: Option<String>,
}

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().map_or_else(default_dir, PathBuf::from);
    let rounds: u32 = args.next().and_then(|s| s.parse().ok()).unwrap_or(200);
    let samples = load(&dir);
    let bytes: usize = samples
        .iter()
        .filter_map(|s| s.text.as_ref())
        .map(String::len)
        .sum();
    println!(
        "{} files, {bytes} bytes of UTF-8, {rounds} rounds\n",
        samples.len()
    );
    println!("{:<6} {:<6} file", "calcard", "icalendar");
    for sample in &samples {
        let text = sample.text.as_deref();
        let ok = |parsed: bool| if parsed { "ok" } else { "FAIL" };
        println!(
            "{:<7} {:<9} {}",
            ok(text.is_some_and(parses_calcard)),
            ok(text.is_some_and(parses_icalendar)),
            sample.name
        );
    }
    report("calcard 0.3.14", &samples, rounds, bytes, parses_calcard);
    report(
        "kalends parse_object (calcard + validation + index)",
        &samples,
        rounds,
        bytes,
        validates,
    );
    report(
        "icalendar 0.17 (parser::read_calendar)",
        &samples,
        rounds,
        bytes,
        parses_icalendar,
    );
}

fn default_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/ics-corpus")
}

fn load(dir: &Path) -> Vec<Sample> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    paths.retain(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("ics")));
    paths.sort();
    paths
        .into_iter()
        .map(|path| Sample {
            name: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            text: std::fs::read(&path)
                .ok()
                .and_then(|b| String::from_utf8(b).ok()),
        })
        .collect()
}

/// calcard succeeds when the first entry of the stream is an iCalendar object.
fn parses_calcard(text: &str) -> bool {
    matches!(
        calcard::Parser::new(text).entry(),
        calcard::Entry::ICalendar(_)
    )
}

/// The whole write-time path of a PUT: syntax check, calcard, RFC 4791 rules, index facts.
fn validates(text: &str) -> bool {
    let opts = kalends::calendar::ValidateOptions {
        min_date_time: i64::MIN,
        max_date_time: i64::MAX,
    };
    kalends::calendar::parse_object(text.as_bytes(), &opts).is_ok()
}

/// icalendar's raw parser needs unfolded input (its own `unfold`).
fn parses_icalendar(text: &str) -> bool {
    let unfolded = icalendar::parser::unfold(text);
    icalendar::parser::read_calendar(&unfolded).is_ok()
}

fn report(label: &str, samples: &[Sample], rounds: u32, bytes: usize, parse: fn(&str) -> bool) {
    let texts: Vec<&str> = samples.iter().filter_map(|s| s.text.as_deref()).collect();
    let parsed = texts.iter().filter(|t| parse(t)).count();
    let start = Instant::now();
    for _ in 0..rounds {
        for text in &texts {
            std::hint::black_box(parse(std::hint::black_box(text)));
        }
    }
    let elapsed = start.elapsed();
    println!(
        "\n{label}: parsed {parsed}/{} files; {rounds} rounds in {:.1} ms = {:.1} µs per round-file, {:.1} MB/s",
        samples.len(),
        ms(elapsed),
        ms(elapsed) * 1000.0 / f64::from(rounds) / texts.len().max(1) as f64,
        (bytes as f64 * f64::from(rounds)) / elapsed.as_secs_f64().max(1e-9) / 1e6,
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
