//! The Redis cache against a real Redis (`KALENDS_TEST_REDIS_URL`) and against broken ones: a
//! closed port, a server that accepts but never answers, and a proxy that is switched from
//! "down" to "up" to watch the breaker recover. Waits are bounded polls of a few milliseconds;
//! nothing asserts how fast anything is.
#![allow(clippy::unwrap_used)]

mod support;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use kalends::cache::breaker::Backoff;
use kalends::cache::{Cache, Health, RedisCache, RedisSettings};
use redis::Commands;
use support::redis::{KeyGuard, host_port, unique_prefix, with_host_port};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

const MIN: Duration = Duration::from_secs(60);
/// The bound on anything that should be quick; generous, because the machine may be busy.
const PATIENCE: Duration = Duration::from_secs(10);
/// Keeps a breaker open for the whole test once it has opened, however slow the machine.
const LONG_BACKOFF: Backoff = Backoff { initial: MIN, max: MIN };

fn cache(url: &str, prefix: &str, timeout: Duration, backoff: Backoff) -> Cache {
    let settings = RedisSettings { prefix: prefix.to_owned(), timeout, backoff, ..RedisSettings::new(url) };
    Cache::Redis(RedisCache::open(settings).unwrap())
}

/// A cache on the test Redis with defaults except the prefix.
fn live(keys: &KeyGuard) -> Cache {
    cache(keys.url(), keys.prefix(), Duration::from_secs(2), Backoff::default())
}

/// Fails the test unless `cond` becomes true within [`PATIENCE`], polling every 20 ms.
async fn eventually<F: Future<Output = bool>>(what: &str, mut cond: impl FnMut() -> F) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !cond().await {
        assert!(tokio::time::Instant::now() < deadline, "not within {PATIENCE:?}: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs `f` and fails the test if it has not finished within [`PATIENCE`].
async fn bounded<T>(what: &str, f: impl Future<Output = T>) -> T {
    match tokio::time::timeout(PATIENCE, f).await {
        Ok(v) => v,
        Err(_) => panic!("{what} did not finish within {PATIENCE:?}"),
    }
}

#[tokio::test]
async fn round_trip_stores_bytes_under_the_prefix_with_a_ttl() {
    let keys = unique_prefix();
    let cache = live(&keys);
    assert_eq!(cache.get("absent").await, None);
    let bytes: Vec<u8> = (0..=255).chain(0..=255).collect();
    cache.put("fb:1:42:abc", &bytes, MIN).await;
    cache.put("empty", b"", MIN).await;
    assert_eq!(cache.get("fb:1:42:abc").await, Some(bytes.clone()));
    assert_eq!(cache.get("empty").await, Some(Vec::new()), "an empty value is a hit");
    assert_eq!(cache.health(), Health::Up);

    // What Redis holds: the prefixed key, the exact bytes, and an expiry no longer than asked.
    let mut conn = support::redis::connect(keys.url()).unwrap();
    let key = format!("{}fb:1:42:abc", keys.prefix());
    assert_eq!(conn.get::<_, Vec<u8>>(&key).unwrap(), bytes);
    let pttl: i64 = conn.pttl(&key).unwrap();
    assert!(pttl > 0 && pttl <= 60_000, "PTTL {pttl}");
    let mut stored = keys.keys().unwrap();
    stored.sort();
    assert_eq!(stored, [format!("{}empty", keys.prefix()), key]);
}

#[tokio::test]
async fn entries_expire_after_their_ttl() {
    let keys = unique_prefix();
    let cache = live(&keys);
    cache.put("short", b"v", Duration::from_millis(50)).await;
    cache.put("long", b"v", MIN).await;
    eventually("the 50 ms entry expires", || async { cache.get("short").await.is_none() }).await;
    assert!(cache.get("long").await.is_some(), "only the short entry expires");
    // A zero TTL writes nothing (Redis would refuse PX 0, which must not open the breaker).
    cache.put("zero", b"v", Duration::ZERO).await;
    assert_eq!(cache.get("zero").await, None);
    assert_eq!(cache.health(), Health::Up);
}

#[tokio::test]
async fn prefixes_keep_caches_apart() {
    let a_keys = unique_prefix();
    let b_keys = unique_prefix();
    let a = live(&a_keys);
    let b = live(&b_keys);
    a.put("same", b"from a", MIN).await;
    assert_eq!(b.get("same").await, None, "b must not see a's entry");
    b.put("same", b"from b", MIN).await;
    assert_eq!(a.get("same").await.as_deref(), Some(&b"from a"[..]));
    assert_eq!(b.get("same").await.as_deref(), Some(&b"from b"[..]));
}

#[tokio::test]
async fn the_guard_deletes_only_its_own_keys() {
    let mine = unique_prefix();
    let other = unique_prefix();
    live(&mine).put("k1", b"1", MIN).await;
    live(&mine).put("k2", b"2", MIN).await;
    live(&other).put("k1", b"x", MIN).await;
    let other_key = format!("{}k1", other.prefix());
    assert_eq!(mine.keys().unwrap().len(), 2);
    let mine_prefix = mine.prefix().to_owned();
    drop(mine);
    let mut conn = support::redis::connect(other.url()).unwrap();
    assert!(!conn.exists::<_, bool>(format!("{mine_prefix}k1")).unwrap(), "dropped guard's keys are gone");
    assert!(!conn.exists::<_, bool>(format!("{mine_prefix}k2")).unwrap());
    assert!(conn.exists::<_, bool>(&other_key).unwrap(), "another prefix's key survives");
}

/// A loopback port with nothing listening: bind :0, note the port, close it.
async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

#[tokio::test]
async fn a_closed_port_is_a_miss_and_opens_the_breaker() {
    let addr = closed_port().await;
    let cache = cache(&format!("redis://{addr}"), "t:", Duration::from_secs(2), LONG_BACKOFF);
    assert_eq!(bounded("get on a closed port", cache.get("k")).await, None);
    assert!(matches!(cache.health(), Health::Down { .. }), "{:?}", cache.health());
    // While open, calls are misses without waiting, and writes are dropped without complaint.
    bounded("put while open", cache.put("k", b"v", MIN)).await;
    assert_eq!(bounded("get while open", cache.get("k")).await, None);
}

/// A TCP server that accepts connections, reads whatever comes, and never answers.
struct Silent {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
}

async fn silent_server() -> Silent {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut sink = [0u8; 1024];
                while matches!(socket.read(&mut sink).await, Ok(n) if n > 0) {}
            });
        }
    });
    Silent { addr, accepted }
}

#[tokio::test]
async fn a_server_that_never_answers_is_cut_off_by_the_timeout() {
    let server = silent_server().await;
    let cache = cache(&format!("redis://{}", server.addr), "t:", Duration::from_millis(200), LONG_BACKOFF);
    assert_eq!(bounded("get on a silent server", cache.get("k")).await, None);
    eventually("the call reached the server", || async { server.accepted.load(Ordering::SeqCst) >= 1 }).await;
    assert!(matches!(cache.health(), Health::Down { .. }), "{:?}", cache.health());
    // The breaker is open for a minute: further calls do not connect. (At most one connection
    // may still come from the redis client's own single reconnect after an I/O error.)
    let before = server.accepted.load(Ordering::SeqCst);
    for _ in 0..5 {
        assert_eq!(bounded("get while open", cache.get("k")).await, None);
        bounded("put while open", cache.put("k", b"v", MIN)).await;
    }
    let after = server.accepted.load(Ordering::SeqCst);
    assert!(after <= before + 1, "an open breaker must skip Redis: {before} → {after} connections");
    assert!(matches!(cache.health(), Health::Down { .. }), "{:?}", cache.health());
}

/// A proxy to the test Redis that can be switched off (it then closes every connection at once,
/// like a crashed server) and on again.
struct Proxy {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
}

async fn proxy_to(target: String) -> Proxy {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let up = Arc::new(AtomicBool::new(false));
    let switch = up.clone();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            if !switch.load(Ordering::SeqCst) {
                drop(inbound);
                continue;
            }
            let target = target.clone();
            tokio::spawn(async move {
                if let Ok(mut outbound) = TcpStream::connect(&target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    Proxy { addr, up }
}

#[tokio::test]
async fn after_the_backoff_a_recovered_redis_is_used_again() {
    let keys = unique_prefix();
    let proxy = proxy_to(host_port(keys.url())).await;
    let url = with_host_port(keys.url(), &proxy.addr.to_string());
    let backoff = Backoff { initial: Duration::from_millis(100), max: Duration::from_millis(400) };
    // Built while "Redis" is down: that must not matter.
    let cache = cache(&url, keys.prefix(), Duration::from_secs(2), backoff);

    // (Health is checked against Up only: on a slow machine a 100 ms opening may be over, and
    // Probing, before the assertion runs.)
    cache.put("k", b"v", MIN).await;
    assert_ne!(cache.health(), Health::Up, "a failed write opens the breaker");
    assert_eq!(keys.keys().unwrap(), Vec::<String>::new(), "nothing was written while down");
    eventually("the first backoff passes", || async { cache.health() == Health::Probing }).await;
    assert_eq!(cache.get("k").await, None);
    assert_ne!(cache.health(), Health::Up, "a failed probe reopens the breaker");

    proxy.up.store(true, Ordering::SeqCst);
    eventually("the breaker closes once Redis answers", || async {
        cache.put("k", b"v", MIN).await;
        cache.health() == Health::Up
    })
    .await;
    assert_eq!(cache.get("k").await.as_deref(), Some(&b"v"[..]));
    assert_eq!(keys.keys().unwrap(), [format!("{}k", keys.prefix())], "the write reached Redis");
}

#[tokio::test]
async fn a_server_starts_and_serves_while_redis_is_down() {
    let addr = closed_port().await;
    let (store, _dir) = support::sqlite_store().await;
    let config = kalends::config::Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        redis_url: Some(format!("redis://{addr}")),
        shutdown: kalends::config::ShutdownConfig { grace_ms: 0, deadline_ms: 10_000 },
        ..kalends::config::Config::default()
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = kalends::app::start(&config, store, listener).unwrap();
    assert_eq!(server.cache.backend(), "redis");
    let response = bounded(
        "OPTIONS with Redis down",
        reqwest::Client::new().request(reqwest::Method::OPTIONS, format!("http://{}/", server.addr)).send(),
    )
    .await
    .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    // The server's cache degrades to misses instead of failing.
    assert_eq!(bounded("cache get", server.cache.get("k")).await, None);
    assert_ne!(server.cache.health(), Health::Up);
    server.stop().await;
}

#[test]
fn url_surgery_for_the_proxy() {
    assert_eq!(host_port("redis://127.0.0.1:6380"), "127.0.0.1:6380");
    assert_eq!(host_port("redis://:pw@h/2"), "h:6379");
    assert_eq!(host_port("redis://u:p@[::1]:7000/0"), "[::1]:7000");
    assert_eq!(with_host_port("redis://:pw@h:1/2", "127.0.0.1:9"), "redis://:pw@127.0.0.1:9/2");
    assert_eq!(with_host_port("redis://h", "127.0.0.1:9"), "redis://127.0.0.1:9");
    assert_eq!(support::redis::glob_escape("a*b["), "a\\*b\\[");
}
