//! The load driver: one keep-alive HTTP/1.1 connection per worker (so a pool per concurrency
//! level), requests timed one by one, and process CPU read from /proc before and after.
//!
//! hyper's connection API is used directly rather than a pooled client so a worker owns exactly
//! one connection and the driver adds as little CPU as it can to what it measures.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// The longest a single request may take; a server slower than this gets an error, so every
/// run ends.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// Where requests go and how they authenticate.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub addr: SocketAddr,
    pub host: String,
    /// The Authorization header value.
    pub authorization: String,
}

impl Endpoint {
    pub fn new(addr: SocketAddr, user: &str, password: &str) -> Endpoint {
        use base64::Engine as _;
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        Endpoint { addr, host: addr.to_string(), authorization: format!("Basic {token}") }
    }
}

/// One request; bodies are shared so a worker does not copy them per request.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: &'static str,
    pub path: String,
    pub depth: Option<&'static str>,
    pub content_type: Option<&'static str>,
    pub if_none_match: bool,
    /// An entity tag to revalidate with (If-None-Match), for the feed's 304 row.
    pub revalidate: Option<String>,
    pub body: Bytes,
}

impl Req {
    pub fn new(method: &'static str, path: impl Into<String>) -> Req {
        Req { method, path: path.into(), depth: None, content_type: None, if_none_match: false, revalidate: None, body: Bytes::new() }
    }

    pub fn depth(mut self, depth: &'static str) -> Req {
        self.depth = Some(depth);
        self
    }

    pub fn xml(mut self, body: impl Into<Bytes>) -> Req {
        self.content_type = Some("application/xml; charset=utf-8");
        self.body = body.into();
        self
    }

    pub fn ics(mut self, body: impl Into<Bytes>) -> Req {
        self.content_type = Some("text/calendar; charset=utf-8");
        self.body = body.into();
        self
    }

    pub fn create_only(mut self) -> Req {
        self.if_none_match = true;
        self
    }

    pub fn revalidate(mut self, etag: &str) -> Req {
        self.revalidate = Some(etag.to_owned());
        self
    }
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub etag: Option<String>,
    pub body: Bytes,
}

impl Resp {
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap_or("")
    }
}

/// One keep-alive connection, reopened when the server closes it (an HTTP/1.0 server such as
/// Python's wsgiref closes after every response; the reconnects are counted).
pub struct Conn {
    endpoint: Arc<Endpoint>,
    sender: Option<SendRequest<Full<Bytes>>>,
    pub reconnects: u64,
}

impl Conn {
    pub async fn open(endpoint: Arc<Endpoint>) -> Result<Conn, String> {
        let mut conn = Conn { endpoint, sender: None, reconnects: 0 };
        conn.connect().await?;
        conn.reconnects = 0;
        Ok(conn)
    }

    async fn connect(&mut self) -> Result<(), String> {
        let stream = TcpStream::connect(self.endpoint.addr).await.map_err(|e| format!("connect {}: {e}", self.endpoint.addr))?;
        stream.set_nodelay(true).map_err(|e| format!("nodelay: {e}"))?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| format!("handshake: {e}"))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        self.sender = Some(sender);
        self.reconnects += 1;
        Ok(())
    }

    /// Sends `req` and reads the whole answer.
    pub async fn send(&mut self, req: &Req) -> Result<Resp, String> {
        match tokio::time::timeout(REQUEST_TIMEOUT, self.send_inner(req)).await {
            Ok(r) => r,
            Err(_) => {
                self.sender = None;
                Err(format!("{} {}: no answer in {REQUEST_TIMEOUT:?}", req.method, req.path))
            }
        }
    }

    async fn send_inner(&mut self, req: &Req) -> Result<Resp, String> {
        let ready = match self.sender.as_mut() {
            Some(s) => s.ready().await.is_ok(),
            None => false,
        };
        if !ready {
            self.connect().await?;
        }
        let sender = self.sender.as_mut().ok_or("no connection")?;
        let mut builder = hyper::Request::builder()
            .method(req.method)
            .uri(req.path.as_str())
            .header("host", self.endpoint.host.as_str())
            .header("authorization", self.endpoint.authorization.as_str())
            .header("user-agent", "kalends-bench");
        if let Some(d) = req.depth {
            builder = builder.header("depth", d);
        }
        if let Some(ct) = req.content_type {
            builder = builder.header("content-type", ct);
        }
        if req.if_none_match {
            builder = builder.header("if-none-match", "*");
        } else if let Some(tag) = &req.revalidate {
            builder = builder.header("if-none-match", tag.as_str());
        }
        let request = builder.body(Full::new(req.body.clone())).map_err(|e| format!("request: {e}"))?;
        let response = match sender.send_request(request).await {
            Ok(r) => r,
            Err(e) => {
                self.sender = None;
                return Err(format!("{} {}: {e}", req.method, req.path));
            }
        };
        let status = response.status().as_u16();
        let etag = response.headers().get("etag").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let body = response.into_body().collect().await.map_err(|e| format!("body: {e}"))?.to_bytes();
        Ok(Resp { status, etag, body })
    }
}

/// User + system CPU seconds of a process so far (`/proc/PID/stat` fields 14 and 15, in the
/// kernel's fixed USER_HZ of 100 ticks a second).
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses; the fields follow the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// Resident and peak resident memory of a process in kB (`/proc/PID/status`).
pub fn memory_kb(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status.lines().find(|l| l.starts_with(name))?.split_whitespace().nth(1)?.parse::<u64>().ok()
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// What one unit of work (one request, or one whole first sync) came to.
pub enum Outcome {
    /// Done; the number of items the answer held, if counted.
    Ok(Option<usize>),
    /// Answered, but not what the corpus says: counted as wrong, with the reason.
    Wrong(String),
    Error(String),
    /// Stopped at the deadline in the middle (multi-request units): not counted.
    Abandoned,
}

/// The figures of one operation at one concurrency.
#[derive(Debug, Clone, Default)]
pub struct Measured {
    pub done: u64,
    pub wrong: u64,
    pub errors: u64,
    pub first_problem: Option<String>,
    pub items: Option<usize>,
    pub elapsed: Duration,
    pub p50: Duration,
    pub p99: Duration,
    /// Server CPU seconds over the run, when the server's processes are known.
    pub server_cpu: Option<f64>,
    /// The part of `server_cpu` spent by the PostgreSQL backends of the run's database.
    pub db_cpu: Option<f64>,
    pub driver_cpu: f64,
    pub reconnects: u64,
}

impl Measured {
    pub fn rate(&self) -> f64 {
        self.done as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn server_us_per_req(&self) -> Option<f64> {
        self.server_cpu.filter(|_| self.done > 0).map(|c| c * 1e6 / self.done as f64)
    }

    pub fn db_us_per_req(&self) -> Option<f64> {
        self.db_cpu.filter(|_| self.done > 0).map(|c| c * 1e6 / self.done as f64)
    }

    pub fn driver_us_per_req(&self) -> Option<f64> {
        (self.done > 0).then(|| self.driver_cpu * 1e6 / self.done as f64)
    }
}

/// Runs `unit` on `concurrency` connections until `duration` is over: each worker starts units
/// one after another and starts none after the deadline. The server's CPU
/// seconds are read by the caller around this call (its processes may change).
pub async fn run_load<F, Fut>(endpoint: &Arc<Endpoint>, concurrency: usize, duration: Duration, unit: F) -> Measured
where
    F: Fn(Conn, usize, u64, Instant) -> Fut + Send + Sync + Clone + 'static,
    Fut: Future<Output = (Conn, Outcome)> + Send + 'static,
{
    let mut conns = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        match Conn::open(endpoint.clone()).await {
            Ok(c) => conns.push(c),
            Err(e) => return Measured { errors: 1, first_problem: Some(e), ..Measured::default() },
        }
    }
    let driver_before = cpu_seconds(std::process::id()).unwrap_or(0.0);
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::with_capacity(concurrency);
    for (worker, conn) in conns.into_iter().enumerate() {
        let unit = unit.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = conn;
            let mut lat = Vec::new();
            let (mut wrong, mut errors, mut items, mut problem) = (0u64, 0u64, None, None);
            let mut seq = 0u64;
            while Instant::now() < deadline {
                let t = Instant::now();
                let (back, outcome) = unit(conn, worker, seq, deadline).await;
                conn = back;
                seq += 1;
                match outcome {
                    Outcome::Ok(n) => {
                        lat.push(t.elapsed());
                        if n.is_some() {
                            items = n;
                        }
                    }
                    Outcome::Wrong(why) => {
                        lat.push(t.elapsed());
                        wrong += 1;
                        problem.get_or_insert(why);
                    }
                    Outcome::Error(why) => {
                        errors += 1;
                        problem.get_or_insert(why);
                        // A server that refuses connections must not spin the loop.
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    Outcome::Abandoned => {}
                }
            }
            (lat, wrong, errors, items, problem, conn.reconnects)
        }));
    }
    let mut all = Vec::new();
    let mut m = Measured::default();
    for t in tasks {
        if let Ok((lat, wrong, errors, items, problem, reconnects)) = t.await {
            all.extend(lat);
            m.wrong += wrong;
            m.errors += errors;
            m.reconnects += reconnects;
            if items.is_some() {
                m.items = items;
            }
            if m.first_problem.is_none() {
                m.first_problem = problem;
            }
        }
    }
    m.elapsed = started.elapsed();
    m.driver_cpu = cpu_seconds(std::process::id()).unwrap_or(0.0) - driver_before;
    m.done = all.len() as u64 - m.wrong;
    all.sort_unstable();
    if !all.is_empty() {
        m.p50 = all[all.len() / 2];
        m.p99 = all[(all.len() * 99 / 100).min(all.len() - 1)];
    }
    m
}
