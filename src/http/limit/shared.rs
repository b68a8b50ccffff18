//! The limiter shared by every node through Redis: one atomic Lua GCRA script per decision
//! (EVALSHA; the redis crate loads the script again when Redis answers NOSCRIPT), with Redis's
//! own `TIME` as the clock so nodes with skewed clocks agree. It goes through the cache's
//! connection and circuit breaker; while Redis cannot answer, each node falls back to its own
//! in-process bucket at its share of the limit (`rate_limit.nodes`): never an error, never
//! unlimited.
//!
//! A busy key with plenty left does not pay a round trip per request: after a decision in Redis
//! the node keeps the bucket's state (its mirror) and decides locally while the mirror is fresh
//! (`SYNC`) and the bucket keeps at least a quarter of its burst after the request; the units so
//! admitted are added to Redis with the key's next decision there. Near the limit every decision
//! is made in Redis, so what the other nodes spent counts exactly where it matters; a node can
//! run ahead of the others by at most that quarter, once per `SYNC`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use redis::Script;

use super::local::Local;
use super::{Policy, Verdict};
use crate::cache::RedisCache;

/// GCRA on one key holding the theoretical arrival time (TAT) in microseconds of Redis time.
/// ARGV: the interval between units (µs), the burst, the cost to check, 1 to take the cost
/// even if it does not conform (a charge after the answer), and units already admitted by a
/// node on its own (taken first, unconditionally). A debt is capped at one more burst.
/// Returns {allowed, wait µs, remaining units, µs until the bucket is full}.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local force = ARGV[4] == '1'
local admitted = tonumber(ARGV[5])
local depth = interval * burst
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then tat = now end
tat = tat + admitted * interval
if tat > now + 2 * depth then tat = now + 2 * depth end
local new_tat = tat + cost * interval
local allow_at = new_tat - depth
if allow_at > now and not force then
  if admitted > 0 then
    redis.call('SET', KEYS[1], string.format('%d', tat), 'PX', math.ceil((tat - now) / 1000) + 1)
  end
  return {0, allow_at - now, 0, tat - now}
end
if new_tat > now + 2 * depth then new_tat = now + 2 * depth end
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
local remaining = math.floor((depth - (new_tat - now)) / interval)
if remaining < 0 then remaining = 0 end
return {1, 0, remaining, new_tat - now}
";

/// How long a mirror may decide on its own before the key's next decision goes to Redis.
const SYNC: Duration = Duration::from_millis(50);
/// Buckets smaller than this many units in a quarter are always decided in Redis.
const MIN_MARGIN: u32 = 16;
/// Bound on the mirrors kept; beyond it, stale ones are dropped.
const MAX_MIRRORS: usize = 10_000;

/// What a node knows of a key's bucket in Redis: when it will be full (the TAT, on this node's
/// clock), since when it knows, and the units it admitted since, not yet in Redis.
#[derive(Debug, Clone, Copy)]
struct Mirror {
    full_at: Instant,
    synced: Instant,
    admitted: u32,
}

/// One policy's buckets in Redis, with this node's share of it as the fallback.
pub struct Shared {
    redis: RedisCache,
    script: Arc<Script>,
    policy: Policy,
    /// Units a node may admit on its own (a quarter of the burst), 0: every decision in Redis.
    margin: u32,
    mirrors: Mutex<HashMap<String, Mirror>>,
    fallback: Local,
}

impl Shared {
    /// `nodes`: how many nodes share the limit, so that each enforces 1/nodes of it alone.
    pub fn new(redis: RedisCache, policy: Policy, nodes: u32) -> Self {
        let quarter = policy.burst / 4;
        Shared {
            redis,
            script: Arc::new(Script::new(GCRA)),
            policy,
            margin: if quarter >= MIN_MARGIN { quarter } else { 0 },
            mirrors: Mutex::new(HashMap::new()),
            fallback: Local::new(policy.share(nodes)),
        }
    }

    pub fn policy(&self) -> Policy {
        self.policy
    }

    pub async fn check(&self, key: &str, cost: u32) -> Verdict {
        let now = Instant::now();
        if let Some(verdict) = self.decide_here(key, cost, false, now) {
            return verdict;
        }
        let admitted = self.take_admitted(key);
        match self.eval(key, cost, false, admitted).await {
            Some(verdict) => {
                self.remember(key, now, verdict.reset);
                verdict
            }
            None => self.fallback.check(key, cost),
        }
    }

    pub async fn charge(&self, key: &str, cost: u32) {
        if cost == 0 {
            return;
        }
        let now = Instant::now();
        if self.decide_here(key, cost, true, now).is_some() {
            return;
        }
        let admitted = self.take_admitted(key);
        match self.eval(key, cost, true, admitted).await {
            Some(verdict) => self.remember(key, now, verdict.reset),
            None => self.fallback.charge(key, cost),
        }
    }

    /// The decision from the key's fresh mirror when the bucket keeps at least the margin after
    /// it; `None` sends the decision to Redis.
    fn decide_here(&self, key: &str, cost: u32, force: bool, now: Instant) -> Option<Verdict> {
        if self.margin == 0 {
            return None;
        }
        let mut mirrors = self.mirrors.lock().unwrap_or_else(PoisonError::into_inner);
        let mirror = mirrors.get_mut(key)?;
        if now.duration_since(mirror.synced) >= SYNC || mirror.admitted.saturating_add(cost) > self.margin {
            return None;
        }
        let (full_at, verdict) = local_gcra(self.policy, mirror.full_at, now, cost);
        if !verdict.allowed || (verdict.remaining < self.margin && !force) {
            return None;
        }
        mirror.full_at = full_at;
        mirror.admitted += cost;
        Some(verdict)
    }

    /// The units admitted here since the last decision in Redis, which that decision adds.
    fn take_admitted(&self, key: &str) -> u32 {
        let mut mirrors = self.mirrors.lock().unwrap_or_else(PoisonError::into_inner);
        mirrors.get_mut(key).map_or(0, |m| std::mem::take(&mut m.admitted))
    }

    fn remember(&self, key: &str, now: Instant, reset: Duration) {
        if self.margin == 0 {
            return;
        }
        let mut mirrors = self.mirrors.lock().unwrap_or_else(PoisonError::into_inner);
        if mirrors.len() >= MAX_MIRRORS {
            mirrors.retain(|_, m| now.duration_since(m.synced) < SYNC);
        }
        mirrors.insert(key.to_owned(), Mirror { full_at: now + reset, synced: now, admitted: 0 });
    }

    /// The script's verdict, or `None` when Redis gave none (down, slow, breaker open).
    async fn eval(&self, key: &str, cost: u32, force: bool, admitted: u32) -> Option<Verdict> {
        let bucket = format!("{}rl:{}:{key}", self.redis.prefix(), self.policy.name);
        let interval = u64::try_from(self.policy.interval.as_micros()).unwrap_or(u64::MAX).max(1);
        let units = cost.min(self.policy.burst);
        let script = self.script.clone();
        let (allowed, wait, remaining, reset) = self
            .redis
            .run("EVALSHA", |mut conn| async move {
                script
                    .key(bucket)
                    .arg(interval)
                    .arg(self.policy.burst)
                    .arg(units)
                    .arg(u8::from(force))
                    .arg(admitted)
                    .invoke_async::<(i64, i64, i64, i64)>(&mut conn)
                    .await
            })
            .await?;
        let micros = |v: i64| Duration::from_micros(u64::try_from(v).unwrap_or(0));
        Some(Verdict {
            allowed: allowed == 1,
            wait: micros(wait),
            remaining: u32::try_from(remaining).unwrap_or(0),
            reset: micros(reset),
        })
    }
}

/// GCRA on a mirror: the bucket is full at `full_at`; taking `cost` units at `now` moves that
/// on by their time, if the result still fits the burst. Returns the new `full_at` and the
/// verdict (what the script would answer, on this node's clock).
fn local_gcra(policy: Policy, full_at: Instant, now: Instant, cost: u32) -> (Instant, Verdict) {
    let depth = policy.full_refill();
    let tat = full_at.max(now);
    let new_tat = tat + policy.interval.saturating_mul(cost.min(policy.burst));
    let ahead = new_tat.duration_since(now);
    if ahead > depth {
        let wait = ahead - depth;
        return (full_at, Verdict { allowed: false, wait, remaining: 0, reset: tat.duration_since(now) });
    }
    let remaining = u32::try_from((depth - ahead).as_nanos() / policy.interval.as_nanos().max(1)).unwrap_or(0);
    (new_tat, Verdict { allowed: true, wait: Duration::ZERO, remaining, reset: ahead })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mirror_does_what_the_script_does() {
        let policy = Policy::per_second("p", 10, 5);
        let now = Instant::now();
        // A full bucket: five units at once, then one per 100 ms.
        let mut full_at = now;
        for left in (0..5).rev() {
            let (next, v) = local_gcra(policy, full_at, now, 1);
            assert!(v.allowed);
            assert_eq!(v.remaining, left);
            full_at = next;
        }
        let (unchanged, v) = local_gcra(policy, full_at, now, 1);
        assert!(!v.allowed);
        assert_eq!(v.wait, Duration::from_millis(100));
        assert_eq!(unchanged, full_at, "a refusal takes nothing");
        // 250 ms later two units have come back.
        let later = now + Duration::from_millis(250);
        let (_, v) = local_gcra(policy, full_at, later, 2);
        assert!(v.allowed);
        assert_eq!(v.remaining, 0);
        let (_, v) = local_gcra(policy, full_at, later, 3);
        assert!(!v.allowed);
        assert_eq!(v.wait, Duration::from_millis(50));
    }
}
