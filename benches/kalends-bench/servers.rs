//! The servers a run starts and stops itself, each a child process on a loopback port so its
//! CPU can be read from /proc: Kalends (SQLite or a throw-away PostgreSQL database, with or
//! without Redis), Radicale in a throw-away venv, and the static-response reference server.

use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::Connection;

/// How long a started server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a server may take to stop after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// The Radicale release the comparison runs against (PyPI).
pub const RADICALE_VERSION: &str = "3.9.0";

pub const USER: &str = "bench";
pub const PASSWORD: &str = "bench-pw-7f3a";
/// The bench user's email on Kalends, so its invitations are scheduling objects (no corpus
/// event names it, so the corpus stays plain objects).
pub const EMAIL: &str = "bencher@kalends.test";
/// Users the invitation row invites (RFC 6638 delivery to local attendees).
pub const INVITEES: usize = 10;

pub fn invitee_email(i: usize) -> String {
    format!("invitee{i}@kalends.test")
}

/// The storage behind a Kalends server.
#[derive(Debug, Clone)]
pub enum Storage {
    Sqlite,
    /// Admin URL of a PostgreSQL server; a database is created for the run and dropped after.
    Postgres(String),
}

/// A started server process.
pub struct Server {
    pub label: String,
    pub addr: SocketAddr,
    /// Where discovery starts.
    pub base_path: String,
    child: Child,
    pub(crate) dir: tempfile::TempDir,
    pg: Option<PgDatabase>,
    redis: Option<(String, String)>,
    /// A Kalends server's binary and configuration file, for its CLI (feed links).
    pub(crate) kalends: Option<(PathBuf, PathBuf)>,
    /// More processes of the server (cluster.rs: the second node and HAProxy), stopped and
    /// measured with it.
    pub extra: Vec<Child>,
}

struct PgDatabase {
    admin_url: String,
    name: String,
    conn: sqlx::PgConnection,
}

impl Server {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// After the corpus was loaded: on PostgreSQL, `VACUUM (ANALYZE)` its database, the state
    /// autovacuum keeps a production database in. This machine's PostgreSQL runs with
    /// autovacuum off, so nothing analyzed or vacuumed the freshly loaded tables, and in
    /// alternating rounds whichever target came first measured ~40 % slower on PUT, whichever
    /// build it was; with this both orders agree.
    pub async fn settle(&self) -> Result<(), String> {
        let Some(pg) = &self.pg else { return Ok(()) };
        let mut conn = sqlx::PgConnection::connect(&with_database(&pg.admin_url, &pg.name)).await.map_err(|e| e.to_string())?;
        sqlx::raw_sql("VACUUM (ANALYZE)").execute(&mut conn).await.map_err(|e| format!("VACUUM {}: {e}", pg.name))?;
        Ok(())
    }

    /// The process ids whose CPU is the server's: the server itself and, on PostgreSQL, the
    /// backends serving its database.
    pub async fn pids(&mut self) -> Vec<u32> {
        let mut pids = vec![self.child.id()];
        pids.extend(self.extra.iter().map(Child::id));
        if let Some(pg) = self.pg.as_mut() {
            let rows: Vec<i32> = sqlx::query_scalar("SELECT pid FROM pg_stat_activity WHERE datname = $1")
                .bind(&pg.name)
                .fetch_all(&mut pg.conn)
                .await
                .unwrap_or_default();
            pids.extend(rows.into_iter().filter_map(|p| u32::try_from(p).ok()));
        }
        pids
    }

    /// The server's own processes (not its database's backends).
    pub fn process_ids(&self) -> Vec<u32> {
        std::iter::once(self.child.id()).chain(self.extra.iter().map(Child::id)).collect()
    }

    /// Whether its storage is a PostgreSQL database whose backends are counted.
    pub fn has_database(&self) -> bool {
        self.pg.is_some()
    }

    /// Whether this is Kalends (rows only Kalends has, like its JSON API, run on it alone).
    pub fn is_kalends(&self) -> bool {
        self.kalends.is_some()
    }

    /// `kalends feed create bench CALENDAR --mode MODE` against this server's database: the
    /// link's path (`/feeds/<token>.ics`). None for servers other than Kalends.
    pub fn feed_link(&self, calendar: &str, mode: &str) -> Option<Result<String, String>> {
        let (bin, config) = self.kalends.as_ref()?;
        let out = Command::new(bin)
            .arg("--config")
            .arg(config)
            .args(["feed", "create", USER, calendar, "--mode", mode])
            .env_remove("KALENDS_CONFIG")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{}: {e}", bin.display()));
        Some(out.and_then(|out| {
            let text = String::from_utf8_lossy(&out.stdout);
            text.lines()
                .find_map(|l| l.split_whitespace().last().filter(|w| w.starts_with("/feeds/")).map(str::to_owned))
                .ok_or_else(|| format!("kalends feed create: {text} {}", String::from_utf8_lossy(&out.stderr)))
        }))
    }

    /// The server's log so far (stderr and stdout), for a failure report.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// SIGTERM, a grace period, then SIGKILL; then the database, the Redis keys and the temp
    /// dir go.
    pub async fn stop(mut self) {
        for mut child in self.extra.drain(..) {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let until = Instant::now() + STOP_GRACE;
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if let Some(pg) = self.pg.take() {
            let PgDatabase { admin_url, name, conn } = pg;
            drop(conn);
            if let Err(e) = drop_database(&admin_url, &name).await {
                eprintln!("kalends-bench: could not drop database {name}: {e}");
            }
        }
        if let Some((url, prefix)) = self.redis.take()
            && let Err(e) = delete_redis_keys(&url, &prefix) {
                eprintln!("kalends-bench: could not delete Redis keys {prefix}*: {e}");
            }
        drop(self.dir);
    }
}

pub(crate) fn free_port() -> std::io::Result<u16> {
    Ok(StdListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

pub(crate) fn log_file(dir: &Path) -> std::io::Result<(Stdio, Stdio)> {
    let f = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("server.log"))?;
    Ok((Stdio::from(f.try_clone()?), Stdio::from(f)))
}

/// Waits until `addr` accepts a TCP connection, or the child exits, or the timeout passes.
pub(crate) async fn wait_listening(child: &mut Child, addr: SocketAddr, dir: &Path) -> Result<(), String> {
    let until = Instant::now() + START_TIMEOUT;
    while Instant::now() < until {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
            return Err(format!("exited with {status} before listening:\n{log}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    Err(format!("did not listen on {addr} within {START_TIMEOUT:?}"))
}

/// `kalends user add NAME --email EMAIL` against the server's configuration.
fn add_user(bin: &Path, config: &Path, name: &str, email: &str) -> Result<(), String> {
    let mut add = Command::new(bin)
        .arg("--config")
        .arg(config)
        .args(["user", "add", name, "--email", email, "--password-stdin"])
        .env_remove("KALENDS_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: {e}", bin.display()))?;
    if let Some(mut stdin) = add.stdin.take() {
        use std::io::Write as _;
        stdin.write_all(PASSWORD.as_bytes()).map_err(|e| format!("user add: {e}"))?;
    }
    let out = add.wait_with_output().map_err(|e| format!("user add: {e}"))?;
    if !out.status.success() {
        return Err(format!("kalends user add {name} failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(())
}

/// A Kalends server from `bin` on a fresh data dir (or database), with the bench user.
/// Rate limits are off (a benchmark is a flood by design) unless `limited`, which turns them on
/// at quotas the load never reaches.
pub async fn start_kalends(bin: &Path, label: &str, storage: &Storage, redis: Option<&str>, limited: bool) -> Result<Server, String> {
    let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let port = free_port().map_err(|e| format!("free port: {e}"))?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut pg = None;
    let database_url = match storage {
        Storage::Sqlite => format!("sqlite://{}/kalends.db", dir.path().display()),
        Storage::Postgres(admin) => {
            let name = format!("kalends_bench_{}_{}", std::process::id(), port);
            let db = create_database(admin, &name).await?;
            let url = with_database(admin, &name);
            pg = Some(db);
            url
        }
    };
    let prefix = format!("kalends-bench-{}-{port}:", std::process::id());
    let mut toml = format!(
        "listen = \"{addr}\"\ndata_dir = \"{}\"\ndatabase_url = \"{database_url}\"\nlog = \"warn\"\n",
        dir.path().display()
    );
    if let Some(url) = redis {
        toml.push_str(&format!("redis_url = \"{url}\"\n\n[cache]\nredis_prefix = \"{prefix}\"\n"));
    }
    if limited {
        toml.push_str("\n[rate_limit]\nenabled = true\nprincipal_per_second = 100000000\nprincipal_burst = 100000000\n");
    }
    let config = dir.path().join("kalends.toml");
    std::fs::write(&config, toml).map_err(|e| format!("config: {e}"))?;
    add_user(bin, &config, USER, EMAIL)?;
    for i in 0..INVITEES {
        add_user(bin, &config, &format!("invitee{i}"), &invitee_email(i))?;
    }
    let (stdout, stderr) = log_file(dir.path()).map_err(|e| format!("log: {e}"))?;
    let mut child = Command::new(bin)
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .env_remove("KALENDS_CONFIG")
        // An environment variable, not the file: binaries built before rate limits (the
        // `base-…` targets) ignore it instead of refusing an unknown section.
        .env("KALENDS_RATE_LIMIT", if limited { "on" } else { "off" })
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("{}: {e}", bin.display()))?;
    wait_listening(&mut child, addr, dir.path()).await.map_err(|e| format!("{label}: {e}"))?;
    let redis = redis.map(|u| (u.to_owned(), prefix));
    let kalends = Some((bin.to_owned(), config));
    Ok(Server { label: label.to_owned(), addr, base_path: "/".into(), child, dir, pg, redis, kalends, extra: Vec::new() })
}

/// The venv holding Radicale, created under `.conformance-cache/` on first use.
pub fn radicale_venv(repo: &Path) -> Result<PathBuf, String> {
    let venv = repo.join(".conformance-cache").join(format!("radicale-{RADICALE_VERSION}"));
    let python = venv.join("bin").join("python");
    let installed = Command::new(&python)
        .args(["-c", "import radicale, sys; sys.exit(0 if radicale.VERSION == sys.argv[1] else 1)", RADICALE_VERSION])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if installed {
        return Ok(python);
    }
    eprintln!("kalends-bench: creating {} (pip install radicale=={RADICALE_VERSION})", venv.display());
    let ok = Command::new("python3").arg("-m").arg("venv").arg(&venv).status().is_ok_and(|s| s.success());
    if !ok {
        return Err("python3 -m venv failed (apt-get install python3-venv)".into());
    }
    let ok = Command::new(venv.join("bin").join("pip"))
        .args(["install", "--quiet", &format!("radicale=={RADICALE_VERSION}")])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        return Err(format!("pip install radicale=={RADICALE_VERSION} failed"));
    }
    Ok(python)
}

/// Radicale with htpasswd plain auth and filesystem storage in a temp dir, on loopback.
pub async fn start_radicale(python: &Path) -> Result<Server, String> {
    let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let port = free_port().map_err(|e| format!("free port: {e}"))?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let d = dir.path();
    std::fs::write(d.join("users"), format!("{USER}:{PASSWORD}\n")).map_err(|e| format!("htpasswd: {e}"))?;
    std::fs::create_dir(d.join("collections")).map_err(|e| format!("storage: {e}"))?;
    let config = format!(
        "[server]\nhosts = {addr}\nmax_connections = 64\n\n[auth]\ntype = htpasswd\nhtpasswd_filename = {}\n\
         htpasswd_encryption = plain\n\n[rights]\ntype = owner_only\n\n[storage]\nfilesystem_folder = {}\n\n\
         [web]\ntype = none\n\n[logging]\nlevel = warning\n",
        d.join("users").display(),
        d.join("collections").display()
    );
    std::fs::write(d.join("config"), config).map_err(|e| format!("config: {e}"))?;
    let (stdout, stderr) = log_file(d).map_err(|e| format!("log: {e}"))?;
    let mut child = Command::new(python)
        .args(["-m", "radicale", "--config"])
        .arg(d.join("config"))
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("{}: {e}", python.display()))?;
    wait_listening(&mut child, addr, d).await.map_err(|e| format!("radicale: {e}"))?;
    Ok(Server { label: format!("Radicale {RADICALE_VERSION}"), addr, base_path: "/".into(), child, dir, pg: None, redis: None, kalends: None, extra: Vec::new() })
}

/// This tool again, as the static-response reference server (`--serve-static`).
pub async fn start_reference() -> Result<Server, String> {
    let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let port = free_port().map_err(|e| format!("free port: {e}"))?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let exe = std::env::current_exe().map_err(|e| format!("current exe: {e}"))?;
    let (stdout, stderr) = log_file(dir.path()).map_err(|e| format!("log: {e}"))?;
    let mut child = Command::new(exe)
        .arg("--serve-static")
        .arg(addr.to_string())
        // The reference server stops when this pipe closes, also if the driver dies.
        .stdin(Stdio::piped())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("reference server: {e}"))?;
    wait_listening(&mut child, addr, dir.path()).await?;
    Ok(Server { label: "static reference (hyper)".into(), addr, base_path: "/".into(), child, dir, pg: None, redis: None, kalends: None, extra: Vec::new() })
}

/// The body every reference answer carries: a GET-sized calendar object.
pub const STATIC_BODY: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Kalends//kalends-bench//EN\r\nBEGIN:VEVENT\r\n\
UID:reference@bench.kalends\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20260302T090000Z\r\nDTEND:20260302T100000Z\r\n\
SUMMARY:Référence\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

/// `--serve-static ADDR`: answers every request with [`STATIC_BODY`] over HTTP/1.1 keep-alive,
/// on a runtime as large as Kalends' (one worker per core), until standard input closes.
pub fn serve_static(addr: &str) -> Result<(), String> {
    use http_body_util::Full;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;
    let addr: SocketAddr = addr.parse().map_err(|e| format!("{addr}: {e}"))?;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| format!("runtime: {e}"))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("bind {addr}: {e}"))?;
        let accept = async {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let _ = stream.set_nodelay(true);
                tokio::spawn(async move {
                    let service = service_fn(|_req| async {
                        Ok::<_, std::convert::Infallible>(
                            hyper::Response::builder()
                                .header("content-type", "text/calendar; charset=utf-8")
                                .header("etag", "\"static\"")
                                .body(Full::new(bytes::Bytes::from_static(STATIC_BODY.as_bytes())))
                                .unwrap_or_default(),
                        )
                    });
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        };
        let stdin_closed = tokio::task::spawn_blocking(|| {
            let mut sink = Vec::new();
            let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
        });
        tokio::select! {
            () = accept => {}
            _ = stdin_closed => {}
        }
        Ok(())
    })
}

fn with_database(admin: &str, name: &str) -> String {
    let (base, query) = admin.split_once('?').map_or((admin, None), |(b, q)| (b, Some(q)));
    let root = match base.find("://").and_then(|s| base[s + 3..].find('/').map(|p| s + 3 + p)) {
        Some(slash) => &base[..slash],
        None => base,
    };
    match query {
        Some(q) => format!("{root}/{name}?{q}"),
        None => format!("{root}/{name}"),
    }
}

async fn create_database(admin: &str, name: &str) -> Result<PgDatabase, String> {
    let mut conn = sqlx::PgConnection::connect(admin).await.map_err(|e| format!("PostgreSQL {admin}: {e}"))?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut conn)
        .await
        .map_err(|e| format!("CREATE DATABASE {name}: {e}"))?;
    Ok(PgDatabase { admin_url: admin.to_owned(), name: name.to_owned(), conn })
}

async fn drop_database(admin: &str, name: &str) -> Result<(), String> {
    let mut conn = sqlx::PgConnection::connect(admin).await.map_err(|e| e.to_string())?;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")))
        .execute(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// Deletes this run's keys (SCAN + DEL under its own prefix; never FLUSHDB on a shared Redis).
fn delete_redis_keys(url: &str, prefix: &str) -> Result<(), String> {
    let client = redis::Client::open(url).map_err(|e| e.to_string())?;
    let mut conn = client.get_connection().map_err(|e| e.to_string())?;
    let pattern = format!("{}*", prefix.replace('*', "\\*").replace('?', "\\?").replace('[', "\\["));
    let mut cursor = 0u64;
    // A bounded walk: SCAN visits every key once per full cycle, which ends at cursor 0.
    for _ in 0..100_000 {
        let (next, keys): (u64, Vec<String>) =
            redis::cmd("SCAN").arg(cursor).arg("MATCH").arg(&pattern).arg("COUNT").arg(1000).query(&mut conn).map_err(|e| e.to_string())?;
        if !keys.is_empty() {
            redis::cmd("DEL").arg(&keys).query::<i64>(&mut conn).map_err(|e| e.to_string())?;
        }
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    Ok(())
}
