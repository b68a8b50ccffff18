//! Test provisioning shared by integration tests (`mod support;`): a throw-away SQLite file or
//! PostgreSQL database per test, removed afterwards, and a key prefix on the test Redis
//! ([`redis`]).
//!
//! PostgreSQL comes from the server named by `KALENDS_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); each test gets its own database
//! `kalends_test_<random>` there. An unreachable server fails the test loudly: a suite that
//! silently skips one engine would pass without testing it.
#![allow(dead_code)] // Each test crate uses its own subset of these helpers.

pub mod redis;
pub mod smtp;

use std::path::PathBuf;
use std::thread;

use kalends::store::Store;
use sqlx::{Connection, PgConnection};
use tempfile::TempDir;

/// Instantiates each listed store test `async fn name(store: Store)` for both engines
/// (`sqlite::name` and `postgres::name`), on a fresh database each, so the engines cannot drift
/// apart. With `with_url:` first, each test is `async fn name(store: Store, url: String)` and
/// also gets its database's URL (to open a second store on it). For a crate that declares
/// `#[macro_use] mod support;`.
#[allow(unused_macros)] // Only the store suites use it.
macro_rules! contract_tests {
    (with_url: $($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let (store, dir) = crate::support::sqlite_store().await;
                    crate::$name(store, crate::support::sqlite_url(&dir)).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let (store, db) = crate::support::postgres_store().await;
                    crate::$name(store, db.url().to_owned()).await;
                }
            )+
        }
    };
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let (store, _dir) = crate::support::sqlite_store().await;
                    crate::$name(store).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let (store, _db) = crate::support::postgres_store().await;
                    crate::$name(store).await;
                }
            )+
        }
    };
}

pub const PG_URL_VAR: &str = "KALENDS_TEST_PG_URL";
const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A migrated SQLite store in a fresh temporary directory; keep the `TempDir` alive as long as
/// the store.
pub async fn sqlite_store() -> (Store, TempDir) {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let url = sqlite_url(&dir);
    let store = Store::open(&url)
        .await
        .unwrap_or_else(|e| panic!("open SQLite store at {url}: {e}"));
    (store, dir)
}

/// The URL of the database `sqlite_store` opened in `dir`.
pub fn sqlite_url(dir: &TempDir) -> String {
    format!("sqlite://{}", dir.path().join("kalends.db").display())
}

/// A migrated PostgreSQL store in a fresh throw-away database, dropped with the guard.
pub async fn postgres_store() -> (Store, PgGuard) {
    let guard = throwaway_postgres_url();
    let store = Store::open(guard.url())
        .await
        .unwrap_or_else(|e| panic!("open PostgreSQL store at {}: {e}", guard.url()));
    (store, guard)
}

/// An empty throw-away database; its URL is [`PgGuard::url`]. Callable from sync code and from
/// inside a runtime alike (the admin work runs on a short-lived thread with its own runtime).
pub fn throwaway_postgres_url() -> PgGuard {
    let admin_url = std::env::var(PG_URL_VAR).unwrap_or_else(|_| DEFAULT_PG_URL.to_owned());
    let name = format!("kalends_test_{:016x}", rand::random::<u64>());
    let statement = format!("CREATE DATABASE \"{name}\"");
    if let Err(e) = admin(&admin_url, statement) {
        panic!(
            "\n\nPostgreSQL for the store tests is unreachable or refused CREATE DATABASE: {e}\n\
             Server: {admin_url} (set {PG_URL_VAR} to a superuser URL of a running server).\n\
             These tests never skip an engine; start PostgreSQL or point {PG_URL_VAR} at one.\n"
        );
    }
    PgGuard {
        url: with_database(&admin_url, &name),
        admin_url,
        name,
    }
}

/// Owns a throw-away database and drops it (WITH (FORCE), so open pools do not block it) when
/// dropped itself.
pub struct PgGuard {
    url: String,
    admin_url: String,
    name: String,
}

impl PgGuard {
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn database(&self) -> &str {
        &self.name
    }
}

impl Drop for PgGuard {
    fn drop(&mut self) {
        let statement = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        if let Err(e) = admin(&self.admin_url, statement) {
            // Never panic in Drop (it may run during a panic); a leftover database is harmless.
            eprintln!("warning: could not drop test database {}: {e}", self.name);
        }
    }
}

/// Runs one statement on the admin database, on a fresh thread with its own runtime, so it
/// works from Drop and from inside an async test without blocking that test's runtime on
/// itself.
fn admin(admin_url: &str, statement: String) -> Result<(), String> {
    let admin_url = admin_url.to_owned();
    thread::spawn(move || -> Result<(), String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(async {
            let mut conn = PgConnection::connect(&admin_url)
                .await
                .map_err(|e| e.to_string())?;
            sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
                .execute(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
            conn.close().await.map_err(|e| e.to_string())
        })
    })
    .join()
    .map_err(|_| "admin thread panicked".to_owned())?
}

/// `url` with its database name replaced: `postgres://u@h:5432/postgres?x=y` →
/// `postgres://u@h:5432/<database>?x=y`.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    }
}

/// The Python that drives third-party libraries in tests: `KALENDS_TEST_PYTHON` (tools/test-all
/// sets it to the conformance venv's), else that venv if `conformance/run --venv` made one, else
/// `python3`. A missing interpreter or package fails the test that needs it, never skips it.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("KALENDS_TEST_PYTHON").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let cache = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".conformance-cache");
    let venv = std::fs::read_dir(&cache)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("venv-")))
        .find(|p| p.join(".complete").exists() && p.join("bin/python").exists());
    venv.map_or_else(|| PathBuf::from("python3"), |v| v.join("bin/python"))
}

/// Runs `tests/support/<script>` with `args` and `stdin` under [`python()`], and returns its
/// standard output. Exit status 3 means a package is missing: the test fails saying `needs`
/// and how to install it; any other failure is the script refusing `stdin` (`what` names it).
pub fn run_python(script: &str, args: &[String], stdin: &str, needs: &str, what: &str) -> Vec<u8> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support").join(script);
    let python = python();
    let mut child = Command::new(&python)
        .arg(&script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}; install python3, or set KALENDS_TEST_PYTHON", python.display()));
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    match out.status.code() {
        Some(0) => out.stdout,
        Some(3) => panic!("{stderr}
{needs}: run `conformance/run --venv` (tools/test-all does, and passes KALENDS_TEST_PYTHON)"),
        _ => panic!("{what}: {stderr}\n---\n{stdin}"),
    }
}
