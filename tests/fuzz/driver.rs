//! The stable fuzzing engine that `cargo test --test fuzz` runs (docs/decisions/0032-fuzzing.md):
//! every seed first, then mutated inputs for a bounded number of runs or seconds, each under
//! `catch_unwind`. Not coverage-guided (that is `tools/fuzz --libfuzzer`); it keeps an input that
//! reached an outcome never seen before, so error paths found once are mutated further.
//!
//! Environment (set by `tools/fuzz`):
//! - `KALENDS_FUZZ_SECONDS`: run each target this long; unset, run `KALENDS_FUZZ_RUNS` (default
//!   [`DEFAULT_RUNS`]) mutations with a fixed seed, so plain `cargo test` is deterministic;
//! - `KALENDS_FUZZ_SEED`: the generator's seed (printed by every run, for replaying it);
//! - `KALENDS_FUZZ_REPLAY`: a file or directory: run only those inputs, no mutation;
//! - `KALENDS_FUZZ_EXPORT`: a directory: write the seeds there (for libFuzzer) and stop;
//! - `KALENDS_FUZZ_DIR`: where crashes go (default `target/fuzz`): `<dir>/<target>/crash-*`, and
//!   `<dir>/<target>/in-flight`, the input being run, left behind when the process aborts (a
//!   stack overflow cannot be caught).

use std::cell::RefCell;
use std::collections::HashSet;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::{Duration, Instant};

/// Mutations per target in a plain `cargo test` run: enough to exercise the mutators on every
/// seed family, cheap enough for the ordinary test suite.
pub const DEFAULT_RUNS: u64 = 300;
/// Inputs kept for mutation, seeds included; beyond it a random entry (never a seed) is replaced.
const POOL_CAP: usize = 4_000;
/// Distinct crashes collected before a run stops early.
const MAX_CRASHES: usize = 20;

/// One fuzz target: a function of the input that must not panic, and returns a short label of
/// what the input reached (an outcome class), the driver's only feedback.
pub struct Target {
    pub name: &'static str,
    pub run: fn(&[u8]) -> String,
    /// Longest input generated; the target refuses longer ones itself (libFuzzer's -max_len).
    pub max_len: usize,
    /// Tokens worth inserting: syntax the format's parser branches on.
    pub dictionary: &'static [&'static str],
}

/// What a run found.
pub struct Report {
    pub execs: u64,
    pub seeds: usize,
    pub outcomes: usize,
    pub pool: usize,
    pub crashes: Vec<Crash>,
}

pub struct Crash {
    pub message: String,
    pub file: PathBuf,
}

thread_local! {
    /// Set while a target runs on this thread: its panic is recorded here instead of printed.
    static CAPTURE: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs, once per process, a panic hook that records a fuzzed panic's message and place
/// on its thread and leaves every other panic to the default hook (the test's own asserts).
fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let captured = CAPTURE.with(|c| {
                let mut c = c.borrow_mut();
                if c.is_some() {
                    let place = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
                    let text = info
                        .payload()
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_owned())
                        .or_else(|| info.payload().downcast_ref::<String>().cloned())
                        .unwrap_or_default();
                    *c = Some(format!("{place}: {text}"));
                    true
                } else {
                    false
                }
            });
            if !captured {
                default(info);
            }
        }));
    });
}

/// Runs `target` on `input`; `Err(message)` when it panicked.
pub fn exec(target: &Target, input: &[u8]) -> Result<String, String> {
    install_hook();
    CAPTURE.with(|c| *c.borrow_mut() = Some(String::new()));
    let result = panic::catch_unwind(AssertUnwindSafe(|| (target.run)(input)));
    let message = CAPTURE.with(|c| c.borrow_mut().take()).unwrap_or_default();
    result.map_err(|_| message)
}

/// The crash directory of a target.
pub fn dir(target: &str) -> PathBuf {
    let base = std::env::var_os("KALENDS_FUZZ_DIR").map(PathBuf::from).unwrap_or_else(|| {
        let target_dir = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
        target_dir.join("fuzz")
    });
    base.join(target)
}

/// Seeds first, then mutations, as the environment says (see the module docs).
pub fn fuzz(target: &Target, seeds: Vec<Vec<u8>>) -> Report {
    let out = dir(target.name);
    if let Some(export) = std::env::var_os("KALENDS_FUZZ_EXPORT") {
        export_seeds(Path::new(&export), &seeds);
        return Report { execs: 0, seeds: seeds.len(), outcomes: 0, pool: 0, crashes: Vec::new() };
    }
    if let Some(replay) = std::env::var_os("KALENDS_FUZZ_REPLAY") {
        return run_fixed(target, &out, read_inputs(Path::new(&replay)));
    }
    let seconds = std::env::var("KALENDS_FUZZ_SECONDS").ok().and_then(|s| s.parse::<f64>().ok());
    let runs = std::env::var("KALENDS_FUZZ_RUNS").ok().and_then(|s| s.parse::<u64>().ok()).unwrap_or(DEFAULT_RUNS);
    let seed = std::env::var("KALENDS_FUZZ_SEED").ok().and_then(|s| s.parse::<u64>().ok()).unwrap_or_else(|| {
        if seconds.is_some() {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64)
        } else {
            0x6b61_6c65_6e64_7332
        }
    });
    eprintln!("fuzz {}: seed {seed} ({} seeds, {})", target.name, seeds.len(), match seconds {
        Some(s) => format!("{s} s"),
        None => format!("{runs} runs"),
    });
    let started = Instant::now();
    let deadline = seconds.map(|s| started + Duration::from_secs_f64(s.max(0.0)));
    let mut state = Run::new(target, out);
    let seed_count = seeds.len();
    for input in seeds {
        state.one(&input);
        state.pool.push(input);
    }
    let seed_end = state.pool.len();
    let mut rng = Rng(seed | 1);
    let mut mutated = 0u64;
    while state.crashes.len() < MAX_CRASHES {
        let more = match deadline {
            Some(d) => Instant::now() < d,
            None => mutated < runs,
        };
        if !more || state.pool.is_empty() {
            break;
        }
        let input = mutate(&mut rng, &state.pool, target);
        mutated += 1;
        if state.one(&input) {
            if state.pool.len() < POOL_CAP {
                state.pool.push(input);
            } else if state.pool.len() > seed_end {
                let at = seed_end + rng.below(state.pool.len() - seed_end);
                state.pool[at] = input;
            }
        }
    }
    state.finish(seed_count, started)
}

fn run_fixed(target: &Target, out: &Path, inputs: Vec<Vec<u8>>) -> Report {
    let started = Instant::now();
    let mut state = Run::new(target, out.to_path_buf());
    let n = inputs.len();
    for input in inputs {
        state.one(&input);
    }
    state.finish(n, started)
}

/// The state of one target's run.
struct Run<'t> {
    target: &'t Target,
    out: PathBuf,
    pool: Vec<Vec<u8>>,
    outcomes: HashSet<String>,
    crashes: Vec<Crash>,
    crash_places: HashSet<String>,
    execs: u64,
}

impl<'t> Run<'t> {
    fn new(target: &'t Target, out: PathBuf) -> Self {
        if let Err(e) = std::fs::create_dir_all(&out) {
            panic!("cannot create {}: {e}", out.display());
        }
        Run { target, out, pool: Vec::new(), outcomes: HashSet::new(), crashes: Vec::new(), crash_places: HashSet::new(), execs: 0 }
    }

    /// Runs one input; true when its outcome is new (so it is worth keeping).
    fn one(&mut self, input: &[u8]) -> bool {
        let in_flight = self.out.join("in-flight");
        // Written before the run so that an abort (stack overflow, out of memory) leaves it.
        let _ = std::fs::write(&in_flight, input);
        self.execs += 1;
        match exec(self.target, input) {
            Ok(outcome) => self.outcomes.insert(outcome),
            Err(message) => {
                // One file per distinct panic place, so a run reports each bug once.
                let place = message.split(": ").next().unwrap_or_default().to_owned();
                if self.crash_places.insert(place) {
                    let file = self.out.join(format!("crash-{:016x}", fnv(input)));
                    let _ = std::fs::write(&file, input);
                    eprintln!("fuzz {}: CRASH {message}\n  input saved to {}", self.target.name, file.display());
                    self.crashes.push(Crash { message, file });
                }
                false
            }
        }
    }

    fn finish(self, seeds: usize, started: Instant) -> Report {
        let _ = std::fs::remove_file(self.out.join("in-flight"));
        let elapsed = started.elapsed();
        let report = Report { execs: self.execs, seeds, outcomes: self.outcomes.len(), pool: self.pool.len(), crashes: self.crashes };
        eprintln!(
            "fuzz {}: {} execs in {:.1} s ({:.0}/s), {} seeds, {} outcomes, pool {}, {} crashes",
            self.target.name,
            report.execs,
            elapsed.as_secs_f64(),
            report.execs as f64 / elapsed.as_secs_f64().max(1e-9),
            seeds,
            report.outcomes,
            report.pool,
            report.crashes.len()
        );
        report
    }
}

/// Fails the calling test when the run found crashes, naming each with its saved input.
pub fn assert_clean(target: &Target, report: &Report) {
    if report.crashes.is_empty() {
        return;
    }
    let list: Vec<String> = report.crashes.iter().map(|c| format!("  {}\n    input: {}", c.message, c.file.display())).collect();
    panic!(
        "fuzz target {} panicked on {} input(s):\n{}\nreplay with: tools/fuzz --replay FILE {}",
        target.name,
        report.crashes.len(),
        list.join("\n"),
        target.name
    );
}

fn export_seeds(dir: &Path, seeds: &[Vec<u8>]) {
    if let Err(e) = std::fs::create_dir_all(dir) {
        panic!("cannot create {}: {e}", dir.display());
    }
    for seed in seeds {
        let file = dir.join(format!("seed-{:016x}", fnv(seed)));
        if let Err(e) = std::fs::write(&file, seed) {
            panic!("cannot write {}: {e}", file.display());
        }
    }
}

fn read_inputs(path: &Path) -> Vec<Vec<u8>> {
    if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()).collect())
            .unwrap_or_default();
        files.sort();
        files.iter().filter_map(|f| std::fs::read(f).ok()).collect()
    } else {
        match std::fs::read(path) {
            Ok(bytes) => vec![bytes],
            Err(e) => panic!("cannot read {}: {e}", path.display()),
        }
    }
}

/// FNV-1a, to name saved inputs by their content.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3))
}

/// xorshift64*: small, seeded, good enough to pick mutations.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in 0..n (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Numbers that sit on the edges parsers get wrong.
const NUMBERS: &[&str] = &["0", "-1", "1", "255", "65536", "2147483648", "-2147483649", "9223372036854775808", "99999999999999999999", "00", "1e9"];

/// A mutant of an input from the pool: 1–6 stacked byte-, line- or token-level edits.
fn mutate(rng: &mut Rng, pool: &[Vec<u8>], target: &Target) -> Vec<u8> {
    let mut data = pool[rng.below(pool.len())].clone();
    let edits = 1 + rng.below(6);
    for _ in 0..edits {
        edit(rng, &mut data, pool, target);
    }
    data.truncate(target.max_len);
    data
}

fn edit(rng: &mut Rng, data: &mut Vec<u8>, pool: &[Vec<u8>], target: &Target) {
    let len = data.len();
    let at = rng.below(len + 1);
    match rng.below(14) {
        0 if len > 0 => {
            let i = rng.below(len);
            data[i] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let i = rng.below(len);
            data[i] = rng.next() as u8;
        }
        2 => {
            let n = 1 + rng.below(8);
            let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            data.splice(at..at, bytes);
        }
        3 if len > 0 => {
            let end = (at + 1 + rng.below(64)).min(len);
            data.drain(at.min(end)..end);
        }
        // A range repeated: deep nesting, long lines and many components come from this.
        4 if len > 0 => {
            let start = rng.below(len);
            let end = (start + 1 + rng.below(128)).min(len);
            let piece = data[start..end].to_vec();
            let most = if rng.below(8) == 0 { 2_000 } else { 8 };
            let times = 1 + rng.below(most);
            let mut more = Vec::with_capacity(piece.len() * times);
            for _ in 0..times {
                more.extend_from_slice(&piece);
            }
            data.splice(end..end, more);
        }
        5 | 6 if !target.dictionary.is_empty() => {
            let token = target.dictionary[rng.below(target.dictionary.len())].as_bytes().to_vec();
            data.splice(at..at, token);
        }
        7 => {
            let token = NUMBERS[rng.below(NUMBERS.len())].as_bytes().to_vec();
            // Replace a run of digits when there is one near, else insert.
            match data[at.min(len)..].iter().position(u8::is_ascii_digit).map(|p| p + at) {
                Some(start) => {
                    let end = data[start..].iter().position(|b| !b.is_ascii_digit()).map_or(data.len(), |p| p + start);
                    data.splice(start..end, token);
                }
                None => {
                    data.splice(at..at, token);
                }
            }
        }
        // Splice: a piece of another input at a random place.
        8 => {
            let other = &pool[rng.below(pool.len())];
            if !other.is_empty() {
                let start = rng.below(other.len());
                let end = (start + 1 + rng.below(256)).min(other.len());
                data.splice(at..at, other[start..end].iter().copied());
            }
        }
        9 if len > 0 => data.truncate(at),
        _ => line_edit(rng, data, pool),
    }
}

/// Line-level edits for the text formats (iCalendar, MIME, headers, XML split at newlines).
fn line_edit(rng: &mut Rng, data: &mut Vec<u8>, pool: &[Vec<u8>]) {
    let mut lines: Vec<Vec<u8>> = data.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
    let n = lines.len();
    let i = rng.below(n);
    match rng.below(5) {
        0 if n > 1 => {
            lines.remove(i);
        }
        1 => {
            let line = lines[i].clone();
            lines.insert(i, line);
        }
        2 => {
            let j = rng.below(n);
            lines.swap(i, j);
        }
        3 => {
            let other = &pool[rng.below(pool.len())];
            let theirs: Vec<&[u8]> = other.split(|b| *b == b'\n').collect();
            let line = theirs[rng.below(theirs.len())].to_vec();
            lines.insert(i, line);
        }
        _ => {
            // Another line's value after this line's name (`NAME;PARAMS:` kept).
            let j = rng.below(n);
            let value = lines[j].iter().position(|b| *b == b':').map(|p| lines[j][p + 1..].to_vec());
            if let (Some(value), Some(colon)) = (value, lines[i].iter().position(|b| *b == b':')) {
                lines[i].truncate(colon + 1);
                lines[i].extend_from_slice(&value);
            }
        }
    }
    *data = lines.join(&b'\n');
}
