//! The limiter shared by every node through Redis: one atomic Lua GCRA script per decision
//! (EVALSHA; the redis crate loads the script again when Redis answers NOSCRIPT), with Redis's
//! own `TIME` as the clock so nodes with skewed clocks agree. It goes through the cache's
//! connection and circuit breaker; while Redis cannot answer, each node falls back to its own
//! in-process bucket at its share of the limit (`rate_limit.nodes`): never an error, never
//! unlimited.

use std::sync::Arc;

use redis::Script;

use super::local::Local;
use super::{Policy, Verdict};
use crate::cache::RedisCache;

/// GCRA on one key holding the theoretical arrival time (TAT) in microseconds of Redis time.
/// ARGV: the interval between units (µs), the burst, the cost, and 1 to take the cost even if
/// it does not conform (a charge after the answer; the debt is capped at one more burst).
/// Returns {allowed, wait µs, remaining units, µs until the bucket is full}.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local force = ARGV[4] == '1'
local depth = interval * burst
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then tat = now end
local new_tat = tat + cost * interval
local allow_at = new_tat - depth
if allow_at > now and not force then
  return {0, allow_at - now, 0, tat - now}
end
if new_tat > now + 2 * depth then new_tat = now + 2 * depth end
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
local remaining = math.floor((depth - (new_tat - now)) / interval)
if remaining < 0 then remaining = 0 end
return {1, 0, remaining, new_tat - now}
";

/// One policy's buckets in Redis, with this node's share of it as the fallback.
pub struct Shared {
    redis: RedisCache,
    script: Arc<Script>,
    policy: Policy,
    fallback: Local,
}

impl Shared {
    /// `nodes`: how many nodes share the limit, so that each enforces 1/nodes of it alone.
    pub fn new(redis: RedisCache, policy: Policy, nodes: u32) -> Self {
        Shared { redis, script: Arc::new(Script::new(GCRA)), policy, fallback: Local::new(policy.share(nodes)) }
    }

    pub fn policy(&self) -> Policy {
        self.policy
    }

    pub async fn check(&self, key: &str, cost: u32) -> Verdict {
        match self.eval(key, cost, false).await {
            Some(verdict) => verdict,
            None => self.fallback.check(key, cost),
        }
    }

    pub async fn charge(&self, key: &str, cost: u32) {
        if cost > 0 && self.eval(key, cost, true).await.is_none() {
            self.fallback.charge(key, cost);
        }
    }

    /// The script's verdict, or `None` when Redis gave none (down, slow, breaker open).
    async fn eval(&self, key: &str, cost: u32, force: bool) -> Option<Verdict> {
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
                    .invoke_async::<(i64, i64, i64, i64)>(&mut conn)
                    .await
            })
            .await?;
        let micros = |v: i64| std::time::Duration::from_micros(u64::try_from(v).unwrap_or(0));
        Some(Verdict {
            allowed: allowed == 1,
            wait: micros(wait),
            remaining: u32::try_from(remaining).unwrap_or(0),
            reset: micros(reset),
        })
    }
}
