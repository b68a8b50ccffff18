//! The web page in a real browser (issue 21): the `kalends` binary on a free loopback port with
//! a throw-away SQLite data dir and users made with `kalends user …`, then
//! `node tests/browser/run.mjs`, which drives Debian's Chromium (`/usr/bin/chromium`, never a
//! downloaded browser) through playwright-core and checks every page with axe-core, both pinned
//! in tests/browser/package-lock.json. The steps, their screenshots and the accessibility
//! rules are in run.mjs; screenshots go to `target/browser-artifacts/` (or
//! `$KALENDS_BROWSER_ARTIFACTS`). tools/test-all installs Chromium, Node.js and the npm packages
//! on a fresh machine; here a missing one fails the test with what to install, never skips it.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const USER: &str = "alice";
const USER_PW: &str = "alice-browser-pw";
const OTHER: &str = "bob";
const ADMIN: &str = "root";
const ADMIN_PW: &str = "root-browser-pw";
/// Events in the imported file, and how many of them are broken on purpose (skipped).
const IMPORT_EVENTS: usize = 500;
const IMPORT_BROKEN: usize = 3;
/// The whole browser run; each step has playwright's own shorter timeouts.
const RUN_LIMIT: Duration = Duration::from_secs(600);

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn kalends(config: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kalends"));
    cmd.arg("--config").arg(config);
    for var in ["KALENDS_CONFIG", "KALENDS_DATABASE_URL", "KALENDS_REDIS_URL", "KALENDS_LISTEN", "KALENDS_PUBLIC_URL", "KALENDS_DATA_DIR", "KALENDS_RATE_LIMIT"] {
        cmd.env_remove(var);
    }
    cmd
}

/// `kalends user …` with `stdin`; panics with its output unless it succeeds.
fn cli(config: &Path, args: &[&str], stdin: &str) {
    use std::io::Write;
    let mut child = kalends(config).args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "kalends {args:?}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

/// What the browser run needs, or a panic saying how to get it (tools/test-all installs all).
fn prerequisites() -> (PathBuf, PathBuf) {
    let chromium = std::env::var_os("KALENDS_TEST_CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    assert!(
        chromium.exists(),
        "no Chromium at {}: `apt-get install chromium` (tools/test-all does), or set KALENDS_TEST_CHROMIUM",
        chromium.display()
    );
    let node = std::env::var_os("KALENDS_TEST_NODE").map_or_else(|| PathBuf::from("node"), PathBuf::from);
    let version = Command::new(&node).arg("--version").output().unwrap_or_else(|e| {
        panic!("cannot run {}: {e}; install Node.js 20 or later (tools/test-all does), or set KALENDS_TEST_NODE", node.display())
    });
    let version = String::from_utf8_lossy(&version.stdout).trim().to_owned();
    let major: u32 = version.trim_start_matches('v').split('.').next().and_then(|m| m.parse().ok()).unwrap_or(0);
    assert!(major >= 20, "playwright-core needs Node.js 20 or later; {} is {version:?}", node.display());
    let modules = root().join("tests/browser/node_modules");
    for package in ["playwright-core", "axe-core"] {
        assert!(
            modules.join(package).join("package.json").exists(),
            "{package} is not installed in tests/browser: run `npm ci` there (tools/test-all does)"
        );
    }
    (chromium, node)
}

/// An .ics file of `IMPORT_EVENTS` events a day apart, `IMPORT_BROKEN` of them without DTSTART
/// (RFC 5545 §3.6.1: required when there is no METHOD), which the import skips with a reason.
fn import_file(path: &Path) {
    let mut ics = String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Kalends browser test//EN\r\n");
    for i in 0..IMPORT_EVENTS {
        let day = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + chrono::Days::new(i as u64);
        let start = if i < IMPORT_BROKEN { String::new() } else { format!("DTSTART:{}T090000Z\r\n", day.format("%Y%m%d")) };
        ics.push_str(&format!(
            "BEGIN:VEVENT\r\nUID:browser-import-{i}@kalends.test\r\nDTSTAMP:20260101T000000Z\r\n{start}DURATION:PT1H\r\nSUMMARY:Imported {i}\r\nEND:VEVENT\r\n"
        ));
    }
    ics.push_str("END:VCALENDAR\r\n");
    std::fs::write(path, ics).unwrap();
}

async fn serve(config: &Path, base: &str) -> Server {
    let server = Server(kalends(config).arg("serve").stdout(Stdio::null()).spawn().unwrap());
    let client = reqwest::Client::new();
    for _ in 0..300 {
        if client.get(format!("{base}/livez")).send().await.is_ok_and(|r| r.status() == 200) {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("kalends serve did not come up on {base}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_page_in_chromium() {
    let (chromium, node) = prerequisites();
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = dir.path().join("kalends.toml");
    // No public_url: the page must name this server from what the browser asked for. Rate
    // limits off: a browser loading pages as fast as it can is not what they are tuned for.
    std::fs::write(
        &config,
        format!("listen = \"127.0.0.1:{port}\"\ndata_dir = \"{}\"\nlog = \"warn\"\n[rate_limit]\nenabled = false\n", dir.path().display()),
    )
    .unwrap();
    cli(&config, &["user", "add", USER, "--email", "alice@example.org", "--password-stdin"], &format!("{USER_PW}\n"));
    cli(&config, &["user", "add", OTHER, "--password-stdin"], "bob-browser-pw\n");
    cli(&config, &["user", "add", ADMIN, "--password-stdin"], &format!("{ADMIN_PW}\n"));
    cli(&config, &["user", "admin", ADMIN], "");
    let import = dir.path().join("five-hundred.ics");
    import_file(&import);

    let base = format!("http://127.0.0.1:{port}");
    let _server = serve(&config, &base).await;
    let artifacts = std::env::var_os("KALENDS_BROWSER_ARTIFACTS").map_or_else(|| root().join("target/browser-artifacts"), PathBuf::from);
    let _ = std::fs::remove_dir_all(&artifacts);
    std::fs::create_dir_all(&artifacts).unwrap();

    let mut run = Command::new(&node)
        .arg(root().join("tests/browser/run.mjs"))
        .current_dir(root().join("tests/browser"))
        .env("KALENDS_URL", &base)
        .env("KALENDS_USER", USER)
        .env("KALENDS_PASSWORD", USER_PW)
        .env("KALENDS_OTHER_USER", OTHER)
        .env("KALENDS_ADMIN", ADMIN)
        .env("KALENDS_ADMIN_PASSWORD", ADMIN_PW)
        .env("KALENDS_IMPORT_FILE", &import)
        .env("KALENDS_IMPORT_EVENTS", IMPORT_EVENTS.to_string())
        .env("KALENDS_IMPORT_BROKEN", IMPORT_BROKEN.to_string())
        .env("KALENDS_ARTIFACTS", &artifacts)
        .env("KALENDS_CHROMIUM", &chromium)
        .env("KALENDS_PYTHON", support::python())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = run.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > RUN_LIMIT {
            let _ = run.kill();
            let _ = run.wait();
            panic!("the browser run took longer than {RUN_LIMIT:?}; screenshots so far in {}", artifacts.display());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    println!("browser: screenshots in {}", artifacts.display());
    assert!(status.success(), "tests/browser/run.mjs failed ({status}); screenshots in {}", artifacts.display());
    let shots = std::fs::read_dir(&artifacts).unwrap().filter_map(Result::ok).filter(|e| e.path().extension().is_some_and(|x| x == "png")).count();
    assert!(shots >= 10, "only {shots} screenshots in {}", artifacts.display());
}
