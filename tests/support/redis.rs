//! Redis for integration tests: the server named by `KALENDS_TEST_REDIS_URL`, a unique key
//! prefix per test, and a guard that deletes that prefix's keys (never FLUSHDB: the server may
//! be shared). A missing variable fails the test and names it; a cache suite that skipped
//! itself would pass without testing anything.

use std::time::Duration;

use redis::Commands;

pub const REDIS_URL_VAR: &str = "KALENDS_TEST_REDIS_URL";

/// The test Redis URL; panics, naming the variable, when it is not set.
pub fn test_url() -> String {
    match std::env::var(REDIS_URL_VAR) {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "\n\nThis test needs a Redis server: set {REDIS_URL_VAR} (e.g. redis://127.0.0.1:6379).\n\
             tools/test-all sets it (`tools/test-all --check-services` prints the URL it finds).\n\
             Redis tests never skip themselves.\n"
        ),
    }
}

/// A prefix no other test (or run) uses, and the guard that removes its keys when dropped.
pub fn unique_prefix() -> KeyGuard {
    KeyGuard { url: test_url(), prefix: format!("kalends_test_{:016x}:", rand::random::<u64>()) }
}

pub struct KeyGuard {
    url: String,
    prefix: String,
}

impl KeyGuard {
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Every key under this prefix now in Redis (with a plain synchronous connection, so it works
    /// from `Drop` and from inside a runtime alike).
    pub fn keys(&self) -> Result<Vec<String>, String> {
        let mut conn = connect(&self.url)?;
        let pattern = format!("{}*", glob_escape(&self.prefix));
        let keys = conn.scan_match::<_, String>(pattern).map_err(|e| e.to_string())?;
        Ok(keys.filter_map(Result::ok).collect())
    }

    /// Deletes this prefix's keys; returns how many there were.
    pub fn delete_keys(&self) -> Result<usize, String> {
        let keys = self.keys()?;
        if !keys.is_empty() {
            let mut conn = connect(&self.url)?;
            conn.del::<_, ()>(&keys).map_err(|e| e.to_string())?;
        }
        Ok(keys.len())
    }
}

impl Drop for KeyGuard {
    fn drop(&mut self) {
        if let Err(e) = self.delete_keys() {
            // Never panic in Drop; leftover keys are only garbage under a unique prefix.
            eprintln!("warning: could not delete Redis keys {}*: {e}", self.prefix);
        }
    }
}

/// A direct connection for checking what the cache wrote.
pub fn connect(url: &str) -> Result<redis::Connection, String> {
    let client = redis::Client::open(url).map_err(|e| e.to_string())?;
    client.get_connection_with_timeout(Duration::from_secs(5)).map_err(|e| e.to_string())
}

/// `prefix` as a literal in a SCAN MATCH pattern.
pub fn glob_escape(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len());
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `host:port` of a `redis://[auth@]host[:port][/db]` URL (port 6379 when absent).
pub fn host_port(url: &str) -> String {
    let (_, authority, _) = split(url);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host.rsplit_once(':').is_some_and(|(_, port)| !port.contains(']')) {
        host.to_owned()
    } else {
        format!("{host}:6379")
    }
}

/// The same URL (credentials and database kept) pointing at `host_port` instead.
pub fn with_host_port(url: &str, host_port: &str) -> String {
    let (scheme, authority, rest) = split(url);
    match authority.rsplit_once('@') {
        Some((auth, _)) => format!("{scheme}{auth}@{host_port}{rest}"),
        None => format!("{scheme}{host_port}{rest}"),
    }
}

fn split(url: &str) -> (&str, &str, &str) {
    let start = url.find("://").map_or(0, |i| i + 3);
    let end = url[start..].find('/').map_or(url.len(), |i| start + i);
    (&url[..start], &url[start..end], &url[end..])
}

/// A redis-server of the test's own on a free loopback port, which the test may stop (a shared
/// one must not be): killed when dropped. A missing `redis-server` fails the test, naming it.
pub struct PrivateRedis {
    child: std::process::Child,
    port: u16,
}

impl PrivateRedis {
    pub fn start() -> PrivateRedis {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("this test starts its own redis-server (it stops it midway): {e}"));
        let redis = PrivateRedis { child, port };
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while connect(&redis.url()).and_then(|mut c| redis::cmd("PING").query::<String>(&mut c).map_err(|e| e.to_string())).is_err() {
            assert!(std::time::Instant::now() < deadline, "redis-server on port {port} did not answer");
            std::thread::sleep(Duration::from_millis(20));
        }
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL: an outage, not a clean shutdown) and waits for it to go.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}
