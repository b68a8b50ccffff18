//! The cluster the scenarios of tests/cluster.rs run on: a private PostgreSQL database on the
//! test server, a private redis-server, an SMTP sink, N `kalends serve` processes and HAProxy
//! with deploy/haproxy.cfg rendered for their ports. Everything is killed when dropped.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kalends::store::Store;

use crate::support::smtp::SmtpSink;
use crate::support::{self, PgGuard};

pub const PW: &str = "alice-pw";
pub const CAL: &str = "/calendars/alice/calendar/";

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A child process killed (SIGKILL) when dropped.
pub struct Proc(pub Option<Child>);

impl Proc {
    pub fn kill(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A redis-server of the test's own on a fixed port, so it can be stopped and started again
/// where the nodes look for it. Never the machine's shared Redis.
pub struct Redis {
    port: u16,
    proc: Proc,
}

impl Redis {
    pub fn start() -> Redis {
        let mut redis = Redis { port: free_port(), proc: Proc(None) };
        redis.restart();
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn stop(&mut self) {
        self.proc.kill();
    }

    pub fn restart(&mut self) {
        self.stop();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("tests/cluster.rs starts its own redis-server: {e}"));
        self.proc = Proc(Some(child));
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.command(&["PING"]).is_err() {
            assert!(Instant::now() < deadline, "redis-server on port {} did not answer", self.port);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// One command on this private server (FLUSHALL is fine here: nobody else uses it).
    pub fn command(&self, args: &[&str]) -> Result<redis::Value, String> {
        let mut conn = support::redis::connect(&self.url())?;
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        cmd.query::<redis::Value>(&mut conn).map_err(|e| e.to_string())
    }

    pub fn dbsize(&self) -> i64 {
        match self.command(&["DBSIZE"]) {
            Ok(redis::Value::Int(n)) => n,
            _ => -1,
        }
    }
}

/// One `kalends serve` process; it keeps its ports across restarts.
pub struct Node {
    pub name: String,
    pub port: u16,
    pub metrics_port: u16,
    config: PathBuf,
    log: PathBuf,
    proc: Proc,
}

impl Node {
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_kalends"))
            .arg("--config")
            .arg(&self.config)
            .arg("serve")
            .env_remove("KALENDS_CONFIG")
            .env_remove("KALENDS_DATABASE_URL")
            .env_remove("KALENDS_REDIS_URL")
            .env_remove("KALENDS_LISTEN")
            .env_remove("KALENDS_NODE")
            .env_remove("KALENDS_RATE_LIMIT")
            .env_remove("KALENDS_REMINDERS")
            .env_remove("KALENDS_LOG")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.proc = Proc(Some(child));
    }

    /// Until /readyz answers 200 (30 s at most).
    pub async fn ready(&self) {
        let client = reqwest::Client::new();
        for _ in 0..300 {
            if client.get(format!("{}/readyz", self.base())).send().await.is_ok_and(|r| r.status() == 200) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{} did not become ready; its log:\n{}", self.name, self.log_text());
    }

    /// SIGKILL: the node dies mid-request.
    pub fn kill9(&mut self) {
        self.proc.kill();
    }

    /// SIGTERM, then waits for the exit (60 s at most): a rolling upgrade's stop.
    pub async fn terminate(&mut self) {
        let Some(mut child) = self.proc.0.take() else { return };
        let status = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap();
        assert!(status.success());
        for _ in 0..600 {
            if let Some(exit) = child.try_wait().unwrap() {
                assert!(exit.success(), "{} exited with {exit} after SIGTERM", self.name);
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = child.kill();
        panic!("{} still ran 60 s after SIGTERM", self.name);
    }

    /// This node's /metrics text.
    pub async fn metrics(&self) -> String {
        let url = format!("http://127.0.0.1:{}/metrics", self.metrics_port);
        reqwest::get(url).await.unwrap().text().await.unwrap()
    }

    /// Requests this node answered, probes and scrapes left out.
    pub async fn served(&self) -> f64 {
        sum_series(&self.metrics().await, "kalends_http_requests_total{", |l| !l.contains("route=\"health\"") && !l.contains("route=\"metrics\""))
    }

    pub async fn breaker_state(&self) -> f64 {
        sum_series(&self.metrics().await, "kalends_cache_breaker_state", |_| true)
    }
}

pub fn sum_series(text: &str, prefix: &str, keep: impl Fn(&str) -> bool) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(prefix) && keep(l))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub pg: PgGuard,
    pub store: Store,
    pub redis: Redis,
    pub sink: SmtpSink,
    pub nodes: Vec<Node>,
    pub url: String,
    haproxy: Proc,
    pub client: reqwest::Client,
}

impl Cluster {
    /// Two nodes behind HAProxy, user alice (alice@example.org) with her calendar.
    pub async fn start() -> Cluster {
        require_haproxy();
        let pg = support::throwaway_postgres_url();
        let store = Store::open(pg.url()).await.unwrap();
        kalends::service::users::create(&store, "alice", Some("alice@example.org"), PW).await.unwrap();
        let redis = Redis::start();
        let sink = SmtpSink::start().await;
        let dir = tempfile::tempdir().unwrap();
        let public = free_port();
        let mut nodes = Vec::new();
        for i in 1..=2 {
            let node = new_node(dir.path(), i, pg.url(), &redis.url(), &sink.url(), public);
            nodes.push(node);
        }
        for node in &mut nodes {
            node.spawn();
        }
        for node in &nodes {
            node.ready().await;
        }
        let cfg = dir.path().join("haproxy.cfg");
        std::fs::write(&cfg, render_haproxy(public, &nodes)).unwrap();
        let check = Command::new("haproxy").args(["-c", "-q", "-f"]).arg(&cfg).status().unwrap();
        assert!(check.success(), "the rendered deploy/haproxy.cfg does not check");
        let log = std::fs::File::create(dir.path().join("haproxy.log")).unwrap();
        let haproxy = Proc(Some(Command::new("haproxy").arg("-db").arg("-f").arg(&cfg).stdout(log).stderr(Stdio::null()).spawn().unwrap()));
        let url = format!("http://127.0.0.1:{public}");
        let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
        let cluster = Cluster { dir, pg, store, redis, sink, nodes, url, haproxy, client };
        cluster.wait_balanced().await;
        cluster
    }

    /// Until HAProxy answers and has sent requests to every node (30 s at most).
    pub async fn wait_balanced(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let before: Vec<f64> = futures_util::future::join_all(self.nodes.iter().map(Node::served)).await;
        loop {
            let _ = self.client.get(format!("{}/.well-known/caldav", self.url)).send().await;
            let after: Vec<f64> = futures_util::future::join_all(self.nodes.iter().map(Node::served)).await;
            if after.iter().zip(&before).all(|(a, b)| a > b) {
                return;
            }
            assert!(Instant::now() < deadline, "HAProxy did not reach every node");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn haproxy_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("haproxy.log")).unwrap_or_default()
    }
}

/// The tests need HAProxy; they fail, never skip, without it.
pub fn require_haproxy() {
    let found = Command::new("haproxy").arg("-v").stdout(Stdio::null()).status().is_ok_and(|s| s.success());
    assert!(found, "\n\ntests/cluster.rs needs HAProxy: apt-get install haproxy (tools/test-all installs it)\n");
}

pub fn new_node(dir: &Path, i: usize, database_url: &str, redis_url: &str, smtp_url: &str, public: u16) -> Node {
    let (port, metrics_port) = (free_port(), free_port());
    let name = format!("node{i}");
    let data = dir.join(&name);
    std::fs::create_dir_all(&data).unwrap();
    let toml = format!(
        "listen = \"127.0.0.1:{port}\"\ndata_dir = \"{}\"\ndatabase_url = \"{database_url}\"\nredis_url = \"{redis_url}\"\n\
         node_name = \"{name}\"\nlog = \"info,sqlx=warn\"\nmetrics_listen = \"127.0.0.1:{metrics_port}\"\n\
         public_url = \"http://127.0.0.1:{public}/\"\nsmtp_url = \"{smtp_url}\"\nmail_from = \"Kalends <calendar@kalends.test>\"\n\
         [imip]\npoll_ms = 200\nretry_initial_secs = 1\nretry_max_secs = 2\nbreaker_initial_ms = 200\nbreaker_max_ms = 1000\n\
         per_hour = 100000\nper_day = 100000\n\
         [reminders]\nmax_sleep_secs = 1\nper_user_per_hour = 100000\n\
         [rate_limit]\ntrusted_proxies = [\"127.0.0.1/32\"]\nnodes = 2\nprincipal_per_second = 100000\nprincipal_burst = 100000\n\
         [shutdown]\ngrace_ms = 4000\ndeadline_ms = 15000\n",
        data.display()
    );
    let config = dir.join(format!("{name}.toml"));
    std::fs::write(&config, toml).unwrap();
    Node { log: dir.join(format!("{name}.log")), name, port, metrics_port, config, proc: Proc(None) }
}

/// deploy/haproxy.cfg with the public port and one `server` line per node.
pub fn render_haproxy(public: u16, nodes: &[Node]) -> String {
    let template = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/haproxy.cfg")).unwrap();
    let mut out = String::new();
    let mut servers_written = false;
    for line in template.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("bind ") {
            out.push_str(&format!("    bind 127.0.0.1:{public}\n"));
        } else if trimmed.starts_with("server ") {
            if !servers_written {
                for n in nodes {
                    out.push_str(&format!("    server {} 127.0.0.1:{} check\n", n.name, n.port));
                }
                servers_written = true;
            }
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    assert!(servers_written, "deploy/haproxy.cfg has no server lines to replace");
    out
}
