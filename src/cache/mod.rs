//! The cache port: opaque bytes under string keys with a TTL, in Redis or in process (chosen in
//! `app.rs`). A cache only ever saves work: a failure is a miss, never an error.
//!
//! Callers put whatever makes an entry stale into its key (a collection's sync sequence, say),
//! so nothing is ever invalidated explicitly; the TTL only bounds how long unreachable entries
//! linger (docs/decisions/0006-cache-and-circuit-breaker.md).

pub mod breaker;
pub mod memory;
pub mod redis;

use std::time::Duration;

pub use memory::MemoryCache;
pub use redis::{RedisCache, RedisSettings};

/// No entry outlives this, whatever TTL it was given: it keeps instant arithmetic from
/// overflowing and Redis from refusing the expiry. Cached values are recomputable, so a month
/// is already far longer than any caller needs.
pub const MAX_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// The backends. Handlers hold a `Cache` and never know which one it is.
#[derive(Clone)]
pub enum Cache {
    Memory(MemoryCache),
    Redis(RedisCache),
}

/// What a cache says about its backend, for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Calls go to the backend (the in-process cache always is).
    Up,
    /// The backend failed; every call is a miss without trying it, for `retry_in` more.
    Down { retry_in: Duration },
    /// The backoff is over: the next call tries the backend once (or is trying it now).
    Probing,
}

/// Backend calls that got no answer since start, for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Errors {
    /// The backend answered with an error, or could not be reached.
    pub failed: u64,
    /// No answer within the timeout.
    pub timed_out: u64,
}

impl Cache {
    /// An in-process cache of at most `max_entries` values.
    pub fn memory(max_entries: usize) -> Cache {
        Cache::Memory(MemoryCache::new(max_entries))
    }

    /// The value stored under `key`, or `None` (absent, expired, or the backend unavailable).
    pub async fn get(&self, key: &str) -> Option<Vec<u8>> {
        match self {
            Cache::Memory(cache) => cache.get(key),
            Cache::Redis(cache) => cache.get(key).await,
        }
    }

    /// Stores `value` under `key` for `ttl` (at most [`MAX_TTL`]). It may be dropped at any
    /// time: evicted, expired, or never written because the backend was unavailable.
    pub async fn put(&self, key: &str, value: &[u8], ttl: Duration) {
        match self {
            Cache::Memory(cache) => cache.put(key, value, ttl),
            Cache::Redis(cache) => cache.put(key, value, ttl).await,
        }
    }

    pub fn health(&self) -> Health {
        match self {
            Cache::Memory(_) => Health::Up,
            Cache::Redis(cache) => cache.health(),
        }
    }

    /// Failed and timed-out backend calls (the in-process cache never fails).
    pub fn errors(&self) -> Errors {
        match self {
            Cache::Memory(_) => Errors::default(),
            Cache::Redis(cache) => cache.errors(),
        }
    }

    /// "memory" or "redis", for logs.
    pub fn backend(&self) -> &'static str {
        match self {
            Cache::Memory(_) => "memory",
            Cache::Redis(_) => "redis",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_enum_reaches_the_memory_backend() {
        let cache = Cache::memory(4);
        assert_eq!(cache.get("k").await, None);
        cache.put("k", b"v", Duration::from_secs(60)).await;
        assert_eq!(cache.get("k").await.as_deref(), Some(&b"v"[..]));
        assert_eq!(cache.health(), Health::Up);
        assert_eq!(cache.backend(), "memory");
    }

    #[tokio::test]
    async fn a_redis_cache_is_built_without_connecting() {
        // Building only parses the URL; whether anything listens on port 1 does not matter.
        let cache = RedisCache::open(RedisSettings::new("redis://127.0.0.1:1/")).map(Cache::Redis);
        let Ok(cache) = cache else { panic!("a well-formed URL must be accepted") };
        assert_eq!(cache.health(), Health::Up);
        assert_eq!(cache.backend(), "redis");
    }

    #[test]
    fn calls_can_run_in_spawned_tasks() {
        // Handlers run on hyper's multi-threaded executor, so the futures must be Send; this
        // fails to compile, not at run time, if they stop being so.
        fn send<T: Send>(_: &T) {}
        let cache = Cache::memory(1);
        send(&cache.get("k"));
        send(&cache.put("k", b"v", Duration::from_secs(1)));
    }

    #[test]
    fn malformed_redis_urls_are_refused() {
        assert!(RedisCache::open(RedisSettings::new("not a url")).is_err());
        assert!(RedisCache::open(RedisSettings::new("http://127.0.0.1/")).is_err());
    }
}
