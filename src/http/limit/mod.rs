//! Per-principal rate limits (docs/decisions/0021-rate-limits.md): GCRA buckets keyed by the
//! authenticated principal, by client address for anonymous requests and RSVP links, by the
//! token's hash for feed links, and by address and user name for failed logins; in process (governor) or shared by every node
//! through Redis (a Lua script), chosen like the cache. A request over its limit by less than
//! `soft_delay_ms` waits instead of being refused; beyond that it gets 429 with Retry-After and
//! the draft-ietf-httpapi-ratelimit-headers fields.

pub mod client;
pub mod cost;
pub mod local;
pub mod shared;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use http::{HeaderValue, StatusCode, header};
use ipnet::IpNet;

use crate::cache::Cache;
use crate::config::RateLimitConfig;
use crate::dav::DavResponse;
use crate::error::text;
use local::Local;
use shared::Shared;

/// One limit: up to `burst` units at once, refilled at one unit per `interval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Names the policy in headers, metrics and Redis keys.
    pub name: &'static str,
    pub burst: u32,
    pub interval: Duration,
}

impl Policy {
    pub fn per_second(name: &'static str, rate: u32, burst: u32) -> Policy {
        Policy { name, burst: burst.max(1), interval: Duration::from_secs(1) / rate.max(1) }
    }

    pub fn per_minute(name: &'static str, rate: u32, burst: u32) -> Policy {
        Policy { name, burst: burst.max(1), interval: Duration::from_secs(60) / rate.max(1) }
    }

    /// One node's part of a limit `nodes` share: used alone while Redis is unreachable.
    pub fn share(self, nodes: u32) -> Policy {
        let nodes = nodes.max(1);
        Policy { burst: (self.burst / nodes).max(1), interval: self.interval.saturating_mul(nodes), ..self }
    }

    /// How long an empty bucket takes to fill.
    pub fn full_refill(self) -> Duration {
        self.interval.saturating_mul(self.burst)
    }
}

/// One decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    pub allowed: bool,
    /// When refused: how long until the same request would pass.
    pub wait: Duration,
    /// Units left after this decision.
    pub remaining: u32,
    /// How long until the bucket is full again.
    pub reset: Duration,
}

/// The buckets of one policy, here or in Redis.
enum Backend {
    Local(Local),
    Shared(Shared),
}

impl Backend {
    fn new(policy: Policy, cache: &Cache, nodes: u32) -> Backend {
        match cache {
            Cache::Redis(redis) => Backend::Shared(Shared::new(redis.clone(), policy, nodes)),
            Cache::Memory(_) => Backend::Local(Local::new(policy)),
        }
    }

    fn policy(&self) -> Policy {
        match self {
            Backend::Local(l) => l.policy(),
            Backend::Shared(s) => s.policy(),
        }
    }

    async fn check(&self, key: &str, cost: u32) -> Verdict {
        match self {
            Backend::Local(l) => l.check(key, cost),
            Backend::Shared(s) => s.check(key, cost).await,
        }
    }

    async fn charge(&self, key: &str, cost: u32) {
        match self {
            Backend::Local(l) => l.charge(key, cost),
            Backend::Shared(s) => s.charge(key, cost).await,
        }
    }
}

/// Which requests a bucket counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// An authenticated principal's requests.
    Principal,
    /// Requests without credentials, by client address.
    Anonymous,
    /// RSVP link pages and answers, by client address.
    Rsvp,
    /// Feed links, by the SHA-256 of the token: one subscriber polling too fast is slowed
    /// without touching others behind the same address (Google's and Outlook's fetchers share a
    /// few), and a busy feed cannot spend everyone's anonymous quota.
    Feed,
}

/// What the limiter did with a request, for its answer and the log line.
#[derive(Debug, Clone, Copy)]
pub struct Admission {
    pub policy: Policy,
    pub verdict: Verdict,
    /// How long the request was held to fit (the soft delay); zero when it fit at once.
    pub delayed: Duration,
}

impl Admission {
    /// `allowed`, `delayed` or `refused`: the log line's and the metrics' label.
    pub fn label(&self) -> &'static str {
        match (self.verdict.allowed, self.delayed.is_zero()) {
            (false, _) => "refused",
            (true, false) => "delayed",
            (true, true) => "allowed",
        }
    }

    /// The draft-ietf-httpapi-ratelimit-headers fields (RateLimit-Policy, RateLimit).
    pub fn annotate(&self, resp: &mut DavResponse) {
        let p = self.policy;
        let policy = format!("\"{}\";q={};w={}", p.name, p.burst, ceil_secs(p.full_refill()).max(1));
        let state = format!("\"{}\";r={};t={}", p.name, self.verdict.remaining, ceil_secs(self.verdict.reset));
        for (name, value) in [("ratelimit-policy", policy), ("ratelimit", state)] {
            if let Ok(v) = HeaderValue::from_str(&value) {
                resp.headers_mut().insert(name, v);
            }
        }
    }

    /// 429 with Retry-After (RFC 6585 §4) and a one-line reason.
    pub fn refusal(&self, why: &str) -> DavResponse {
        let secs = ceil_secs(self.verdict.wait).max(1);
        let mut resp = text(StatusCode::TOO_MANY_REQUESTS, &format!("{why}; retry in {secs} s"));
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        self.annotate(&mut resp);
        resp
    }
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// Every limit of one server. With `enabled = false` every request is admitted untouched.
pub struct RateLimits {
    enabled: bool,
    soft_delay: Duration,
    trusted: Vec<IpNet>,
    principal: Backend,
    anonymous: Backend,
    rsvp: Backend,
    feed: Backend,
    login_addr: Backend,
    login_user: Backend,
    /// Addresses and user names refused after too many failed logins, until when. Consulted
    /// before a password is verified, so a guessing run costs no argon2 once it is refused.
    blocked: Mutex<HashMap<String, Instant>>,
}

/// Bound on the blocked map; beyond it, expired entries are dropped.
const MAX_BLOCKED: usize = 10_000;
/// User names are keys: an absurd one is cut, not stored whole.
const MAX_USER_KEY: usize = 128;

impl RateLimits {
    /// The limits of `config`, in Redis when `cache` is (shared by every node), else here.
    pub fn new(config: &RateLimitConfig, cache: &Cache) -> RateLimits {
        let nodes = config.nodes;
        let login = Policy::per_minute("login", config.login_failures_per_minute, config.login_failures_per_minute);
        RateLimits {
            enabled: config.enabled,
            soft_delay: Duration::from_millis(config.soft_delay_ms),
            trusted: config.trusted_proxies.clone(),
            principal: Backend::new(
                Policy::per_second("principal", config.principal_per_second, config.principal_burst),
                cache,
                nodes,
            ),
            anonymous: Backend::new(
                Policy::per_minute("anonymous", config.anonymous_per_minute, config.anonymous_burst),
                cache,
                nodes,
            ),
            rsvp: Backend::new(
                Policy::per_minute("rsvp", config.anonymous_per_minute, config.anonymous_burst),
                cache,
                nodes,
            ),
            // The anonymous quotas: a subscriber polls every few minutes at most; the burst
            // covers a client that opens the link several times at once.
            feed: Backend::new(Policy::per_minute("feed", config.anonymous_per_minute, config.anonymous_burst), cache, nodes),
            login_addr: Backend::new(login, cache, nodes),
            login_user: Backend::new(Policy { name: "login-user", ..login }, cache, nodes),
            blocked: Mutex::new(HashMap::new()),
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    pub fn trusted_proxies(&self) -> &[IpNet] {
        &self.trusted
    }

    fn backend(&self, scope: Scope) -> &Backend {
        match scope {
            Scope::Principal => &self.principal,
            Scope::Anonymous => &self.anonymous,
            Scope::Rsvp => &self.rsvp,
            Scope::Feed => &self.feed,
        }
    }

    /// Takes `cost` units from `key`'s bucket, waiting up to the soft delay for them when the
    /// bucket is nearly there. `None` when limits are off.
    pub async fn admit(&self, scope: Scope, key: &str, cost: u32) -> Option<Admission> {
        if !self.enabled {
            return None;
        }
        let backend = self.backend(scope);
        let mut delayed = Duration::ZERO;
        loop {
            let verdict = backend.check(key, cost).await;
            let admission = Admission { policy: backend.policy(), verdict, delayed };
            // Another request of the same key may take the units first while this one sleeps;
            // then it waits again, within what is left of the soft delay.
            if verdict.allowed || verdict.wait.is_zero() || delayed + verdict.wait > self.soft_delay {
                return Some(admission);
            }
            tokio::time::sleep(verdict.wait).await;
            delayed += verdict.wait;
        }
    }

    /// Settles the units known only after the answer (the items a listing returned) before the
    /// answer goes out: when the bucket cannot take them, the answer is held until it can, for
    /// up to as long as those units take to refill plus the soft delay. A client that asks one
    /// thing at a time is thereby slowed, never refused, by its own large listings; only what
    /// concurrent requests leave unpaid is owed by the next request.
    pub async fn settle(&self, scope: Scope, key: &str, cost: u32) {
        if !self.enabled || cost == 0 {
            return;
        }
        let backend = self.backend(scope);
        let hold = backend.policy().interval.saturating_mul(cost).saturating_add(self.soft_delay);
        let mut waited = Duration::ZERO;
        loop {
            let verdict = backend.check(key, cost).await;
            if verdict.allowed {
                return;
            }
            if verdict.wait.is_zero() || waited + verdict.wait > hold {
                backend.charge(key, cost).await;
                return;
            }
            tokio::time::sleep(verdict.wait).await;
            waited += verdict.wait;
        }
    }

    /// How long `client` (by its address key) or `user` is still refused for failed logins, if
    /// either is. Asked on every signed-in request, so nothing is formatted while nobody is.
    pub fn login_blocked(&self, client: IpAddr, user: &str) -> Option<Duration> {
        if !self.enabled {
            return None;
        }
        let blocked = self.blocked.lock().unwrap_or_else(PoisonError::into_inner);
        if blocked.is_empty() {
            return None;
        }
        let now = Instant::now();
        [format!("a:{}", client::addr_key(client)), format!("u:{}", user_key(user))]
            .iter()
            .filter_map(|k| blocked.get(k))
            .filter(|until| **until > now)
            .map(|until| *until - now)
            .max()
    }

    /// Counts one failed login against the address and the user name; when either is over its
    /// limit, both are refused until it refills, and the wait is returned (the answer is 429).
    pub async fn login_failed(&self, addr_key: &str, user: &str) -> Option<Admission> {
        if !self.enabled {
            return None;
        }
        let user = user_key(user);
        let by_addr = self.login_addr.check(addr_key, 1).await;
        let by_user = self.login_user.check(user, 1).await;
        let worst = [(by_addr, self.login_addr.policy()), (by_user, self.login_user.policy())]
            .into_iter()
            .filter(|(v, _)| !v.allowed)
            .max_by_key(|(v, _)| v.wait)?;
        let until = Instant::now() + worst.0.wait;
        let mut blocked = self.blocked.lock().unwrap_or_else(PoisonError::into_inner);
        if blocked.len() >= MAX_BLOCKED {
            let now = Instant::now();
            blocked.retain(|_, t| *t > now);
        }
        for key in [format!("a:{addr_key}"), format!("u:{user}")] {
            let entry = blocked.entry(key).or_insert(until);
            *entry = (*entry).max(until);
        }
        Some(Admission { policy: worst.1, verdict: worst.0, delayed: Duration::ZERO })
    }

    /// The refusal for a blocked login, in the same form as the one `login_failed` gives.
    pub fn login_refusal(&self, wait: Duration) -> DavResponse {
        let policy = self.login_addr.policy();
        let verdict = Verdict { allowed: false, wait, remaining: 0, reset: wait };
        Admission { policy, verdict, delayed: Duration::ZERO }.refusal("too many failed logins")
    }
}

/// A user name as a key, cut at a character boundary within `MAX_USER_KEY` bytes.
fn user_key(user: &str) -> &str {
    if user.len() <= MAX_USER_KEY {
        return user;
    }
    let mut end = MAX_USER_KEY;
    while !user.is_char_boundary(end) {
        end -= 1;
    }
    &user[..end]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn config() -> RateLimitConfig {
        RateLimitConfig { principal_per_second: 10, principal_burst: 5, login_failures_per_minute: 3, ..RateLimitConfig::default() }
    }

    #[test]
    fn policies_and_shares() {
        let p = Policy::per_second("p", 50, 500);
        assert_eq!(p.interval, Duration::from_millis(20));
        assert_eq!(p.full_refill(), Duration::from_secs(10));
        let half = p.share(2);
        assert_eq!((half.burst, half.interval), (250, Duration::from_millis(40)));
        assert_eq!(Policy::per_minute("a", 120, 60).interval, Duration::from_millis(500));
        assert_eq!(Policy::per_second("z", 0, 0).burst, 1, "never a zero bucket");
    }

    #[test]
    fn headers_follow_the_draft() {
        let policy = Policy::per_second("principal", 50, 500);
        let verdict = Verdict { allowed: false, wait: Duration::from_millis(1500), remaining: 0, reset: Duration::from_millis(9_990) };
        let resp = Admission { policy, verdict, delayed: Duration::ZERO }.refusal("too many requests");
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        let h = |n: &str| resp.headers().get(n).unwrap().to_str().unwrap().to_owned();
        assert_eq!(h("retry-after"), "2", "rounded up");
        assert_eq!(h("ratelimit-policy"), "\"principal\";q=500;w=10");
        assert_eq!(h("ratelimit"), "\"principal\";r=0;t=10");
        assert!(std::str::from_utf8(resp.body()).unwrap().contains("retry in 2 s"));
    }

    // Real time: governor's clock is the monotonic one, not tokio's.
    #[tokio::test]
    async fn the_soft_delay_absorbs_a_short_wait() {
        let limits = RateLimits::new(&RateLimitConfig { soft_delay_ms: 300, ..config() }, &Cache::memory(8));
        for _ in 0..5 {
            assert_eq!(limits.admit(Scope::Principal, "alice", 1).await.unwrap().label(), "allowed");
        }
        // Empty: the next unit is 100 ms away, within the soft delay.
        let held = limits.admit(Scope::Principal, "alice", 1).await.unwrap();
        assert_eq!(held.label(), "delayed");
        assert!(!held.delayed.is_zero() && held.delayed <= Duration::from_millis(100), "{held:?}");
        // A full bucket's worth is half a second away, beyond the soft delay: refused at once.
        let refused = limits.admit(Scope::Principal, "alice", 5).await.unwrap();
        assert_eq!(refused.label(), "refused");
        assert!(refused.verdict.wait > Duration::from_millis(300));
        // Bob has his own bucket.
        assert_eq!(limits.admit(Scope::Principal, "bob", 1).await.unwrap().label(), "allowed");
    }

    #[tokio::test]
    async fn a_large_listing_is_held_not_owed() {
        let tight = RateLimitConfig { principal_per_second: 100, principal_burst: 10, soft_delay_ms: 50, ..config() };
        let limits = RateLimits::new(&tight, &Cache::memory(8));
        assert!(limits.admit(Scope::Principal, "a", 10).await.unwrap().verdict.allowed, "the bucket emptied");
        // Ten units more after the answer: the answer waits for them (100 ms, beyond the soft
        // delay of 50)...
        limits.settle(Scope::Principal, "a", 10).await;
        // ...so the client's next request finds nothing owed and fits within the soft delay.
        assert_ne!(limits.admit(Scope::Principal, "a", 1).await.unwrap().label(), "refused");

        // Owed instead of held, the same units would refuse that next request.
        let owing = RateLimits::new(&tight, &Cache::memory(8));
        assert!(owing.admit(Scope::Principal, "a", 10).await.unwrap().verdict.allowed);
        owing.principal.charge("a", 10).await;
        assert_eq!(owing.admit(Scope::Principal, "a", 1).await.unwrap().label(), "refused");
    }

    #[tokio::test]
    async fn failed_logins_block_address_and_name() {
        let limits = RateLimits::new(&config(), &Cache::memory(8));
        for _ in 0..3 {
            assert!(limits.login_failed("192.0.2.1", "alice").await.is_none(), "within the limit");
        }
        let (here, there) = ("192.0.2.1".parse().unwrap(), "198.51.100.7".parse().unwrap());
        assert!(limits.login_blocked(here, "bob").is_none(), "not blocked before the limit is crossed");
        let refused = limits.login_failed("192.0.2.1", "alice").await.unwrap();
        assert_eq!(refused.label(), "refused");
        // Both the address (whatever name it tries next) and the name (from anywhere) wait.
        assert!(limits.login_blocked(here, "bob").is_some());
        assert!(limits.login_blocked(there, "alice").is_some());
        assert!(limits.login_blocked(there, "carol").is_none());
        let off = RateLimits::new(&RateLimitConfig { enabled: false, ..config() }, &Cache::memory(8));
        assert!(off.admit(Scope::Principal, "alice", 1_000).await.is_none());
        assert!(off.login_failed("192.0.2.1", "alice").await.is_none());
    }

    #[test]
    fn user_keys_are_bounded() {
        let long = "é".repeat(200);
        assert!(user_key(&long).len() <= MAX_USER_KEY);
        assert_eq!(user_key("alice"), "alice");
    }
}
