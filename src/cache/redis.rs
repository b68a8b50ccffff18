//! The Redis cache: GET and SET … PX through one lazily connected `ConnectionManager`, every
//! call bounded by a short timeout and guarded by the circuit breaker in `breaker.rs`.
//!
//! Nothing here returns an error to the caller. A failed or slow call is a miss (or a dropped
//! write), opens the breaker, and is logged once per outage; the request goes on without Redis.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Cmd, FromRedisValue};
use tokio::time::Instant;

use super::breaker::{Backoff, Breaker, Permit, Transition};
use super::{Errors, Health, MAX_TTL};

/// How to reach Redis and how patient to be with it.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// `redis://[user:password@]host[:port][/db]`.
    pub url: String,
    /// Put before every key, so several deployments (or tests) can share one Redis.
    pub prefix: String,
    /// The longest one call may take, connecting included. A cache answer that takes longer than
    /// this is worth less than computing the answer.
    pub timeout: Duration,
    pub backoff: Backoff,
}

impl RedisSettings {
    pub const DEFAULT_PREFIX: &str = "kalends:";
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(250);

    pub fn new(url: impl Into<String>) -> RedisSettings {
        RedisSettings {
            url: url.into(),
            prefix: Self::DEFAULT_PREFIX.to_owned(),
            timeout: Self::DEFAULT_TIMEOUT,
            backoff: Backoff::default(),
        }
    }
}

/// The one error this adapter can report, and only when it is built: a URL the client cannot
/// use. Being unable to reach Redis is never an error.
#[derive(Debug, thiserror::Error)]
#[error("unusable Redis URL: {0}")]
pub struct InvalidRedisUrl(String);

/// Cheap to clone: clones share the connection and the breaker.
#[derive(Clone)]
pub struct RedisCache {
    inner: Arc<Inner>,
}

struct Inner {
    client: redis::Client,
    prefix: String,
    timeout: Duration,
    breaker: Mutex<Breaker>,
    connection: Mutex<Slot>,
    /// Calls that got no answer, for `/metrics` (read at scrape time): a counter here costs one
    /// atomic add per failure and needs no metrics registry in the cache layer.
    failed: AtomicU64,
    timed_out: AtomicU64,
}

/// The current connection manager, created on first use and thrown away after a failure, so
/// that the probe after a backoff always starts from a fresh connection attempt (a manager keeps
/// re-awaiting a failed connection future until some I/O error makes it reconnect; starting over
/// does not depend on which error it was). `generation` tells a failing call whether the manager
/// it used is still the current one.
#[derive(Default)]
struct Slot {
    manager: Option<ConnectionManager>,
    generation: u64,
}

/// Why a call did not get an answer.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("{0}")]
    Redis(#[from] redis::RedisError),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

impl RedisCache {
    /// Checks the URL and returns at once: the connection is made by the first call, so a Redis
    /// that is down at startup does not stop the server.
    pub fn open(settings: RedisSettings) -> Result<RedisCache, InvalidRedisUrl> {
        // redis's parse errors are fixed texts; they never echo the URL and its password.
        let client = redis::Client::open(settings.url.as_str()).map_err(|e| InvalidRedisUrl(e.to_string()))?;
        Ok(RedisCache {
            inner: Arc::new(Inner {
                client,
                prefix: settings.prefix,
                timeout: settings.timeout,
                breaker: Mutex::new(Breaker::new(settings.backoff)),
                connection: Mutex::new(Slot::default()),
                failed: AtomicU64::new(0),
                timed_out: AtomicU64::new(0),
            }),
        })
    }

    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    pub fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// The value under `key`, or `None` on a miss, a failure, a timeout or an open breaker.
    pub async fn get(&self, key: &str) -> Option<Vec<u8>> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(self.key(key));
        self.call::<Option<Vec<u8>>>("GET", &cmd).await.flatten()
    }

    /// Stores `value` for `ttl` (capped at [`MAX_TTL`]; zero stores nothing). A failure is
    /// dropped: the next reader computes the value again.
    pub async fn put(&self, key: &str, value: &[u8], ttl: Duration) {
        let millis = ttl.min(MAX_TTL).as_millis();
        if millis == 0 {
            // SET … PX 0 is an error in Redis, and a TTL under a millisecond caches nothing.
            return;
        }
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.key(key)).arg(value).arg("PX").arg(u64::try_from(millis).unwrap_or(u64::MAX));
        self.call::<()>("SET", &cmd).await;
    }

    pub fn health(&self) -> Health {
        self.inner.breaker().health(Instant::now())
    }

    /// Calls that failed or timed out since start (calls the open breaker refused are not
    /// counted: they never reached Redis).
    pub fn errors(&self) -> Errors {
        Errors { failed: self.inner.failed.load(Ordering::Relaxed), timed_out: self.inner.timed_out.load(Ordering::Relaxed) }
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.inner.prefix)
    }

    /// Runs one command if the breaker admits it, within the timeout, and reports the outcome to
    /// the breaker. `None` whenever no answer was had.
    async fn call<T: FromRedisValue>(&self, what: &'static str, cmd: &Cmd) -> Option<T> {
        self.run(what, |mut manager| async move { cmd.query_async::<T>(&mut manager).await }).await
    }

    /// Runs `op` on the shared connection if the breaker admits it, within the timeout, and
    /// reports the outcome to the breaker: the one way in for every Redis user (the cache and
    /// the rate limiter's script), so one outage opens one breaker for all. `None` whenever no
    /// answer was had.
    pub async fn run<T, F, Fut>(&self, what: &'static str, op: F) -> Option<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let permit = self.inner.breaker().admit(Instant::now())?;
        let mut attempt = Attempt { inner: &self.inner, permit: Some(permit) };
        let (generation, manager) = match self.inner.manager() {
            Ok(current) => current,
            Err(e) => {
                attempt.failed(what, None, &Failure::Redis(e));
                return None;
            }
        };
        let outcome = match tokio::time::timeout(self.inner.timeout, op(manager)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(Failure::Redis(e)),
            Err(_) => Err(Failure::Timeout(self.inner.timeout)),
        };
        match outcome {
            Ok(value) => {
                attempt.succeeded();
                Some(value)
            }
            Err(failure) => {
                attempt.failed(what, Some(generation), &failure);
                None
            }
        }
    }
}

impl Inner {
    fn breaker(&self) -> MutexGuard<'_, Breaker> {
        // The breaker is a few plain fields, consistent after any completed method, so a lock
        // poisoned by a panic elsewhere is still safe to use.
        self.breaker.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn slot(&self) -> MutexGuard<'_, Slot> {
        self.connection.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The current manager (made now, without connecting, if there is none) and its generation.
    fn manager(&self) -> redis::RedisResult<(u64, ConnectionManager)> {
        let mut slot = self.slot();
        if let Some(manager) = &slot.manager {
            return Ok((slot.generation, manager.clone()));
        }
        // Our own timeout around each call is the bound callers see. The manager's timeouts are
        // only a backstop, twice as long, for the one reconnect it starts by itself after an I/O
        // error (no caller waits on that one).
        let backstop = Some(self.timeout.saturating_mul(2));
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(backstop)
            .set_response_timeout(backstop)
            // The breaker decides when to try again; a manager retrying with its own backoff
            // would keep connecting to a dead server behind the breaker's back.
            .set_number_of_retries(0);
        let manager = ConnectionManager::new_lazy_with_config(self.client.clone(), config)?;
        slot.generation += 1;
        slot.manager = Some(manager.clone());
        Ok((slot.generation, manager))
    }

    /// Forgets the manager a failed call used, unless another call has replaced it already.
    fn discard(&self, generation: u64) {
        let mut slot = self.slot();
        if slot.generation == generation {
            slot.manager = None;
        }
    }
}

/// One admitted call. Reporting its outcome consumes the permit; a call dropped before that (its
/// request was cancelled) reports an abandoned probe on drop, so the breaker never waits for a
/// probe that will not come back.
struct Attempt<'a> {
    inner: &'a Inner,
    permit: Option<Permit>,
}

impl Attempt<'_> {
    fn succeeded(&mut self) {
        let Some(permit) = self.permit.take() else { return };
        if self.inner.breaker().succeeded(permit) == Transition::Closed {
            tracing::info!(prefix = %self.inner.prefix, "Redis cache reachable again");
        }
    }

    fn failed(&mut self, what: &'static str, generation: Option<u64>, failure: &Failure) {
        let Some(permit) = self.permit.take() else { return };
        let count = match failure {
            Failure::Redis(_) => &self.inner.failed,
            Failure::Timeout(_) => &self.inner.timed_out,
        };
        count.fetch_add(1, Ordering::Relaxed);
        if let Some(generation) = generation {
            self.inner.discard(generation);
        }
        let transition = self.inner.breaker().failed(permit, Instant::now());
        match transition {
            Transition::Opened { retry_in } => tracing::warn!(
                command = what,
                error = %failure,
                retry_in = ?retry_in,
                "Redis cache unavailable: answering without it until it responds again"
            ),
            Transition::Reopened { retry_in } => tracing::debug!(
                command = what,
                error = %failure,
                retry_in = ?retry_in,
                "Redis cache still unavailable"
            ),
            Transition::Closed | Transition::None => {}
        }
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if let Some(permit) = self.permit.take() {
            self.inner.breaker().abandoned(permit, Instant::now());
        }
    }
}
