//! The in-process limiter: one governor GCRA keyed store per policy, bounded by a periodic
//! `retain_recent`, plus the units charged after an answer that the bucket could not take at
//! that moment (governor only takes what conforms), owed by the key's next request.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::middleware::{NoOpMiddleware, StateInformationMiddleware};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use super::{Policy, Verdict};

/// How often idle keys are dropped from the stores.
const RETAIN_EVERY: Duration = Duration::from_secs(60);

type Keyed<C> = RateLimiter<String, DefaultKeyedStateStore<String>, C, StateInformationMiddleware>;

/// One policy's buckets in this process. Generic over the clock so the arithmetic is tested on
/// governor's fake clock; the server uses the default (monotonic, quanta) one.
pub struct Local<C: Clock = DefaultClock> {
    policy: Policy,
    limiter: Keyed<C>,
    clock: C,
    /// Units owed by a key, with when the debt was last added to.
    debts: Mutex<HashMap<String, (u32, Instant)>>,
    last_retain: Mutex<Instant>,
}

impl Local<DefaultClock> {
    pub fn new(policy: Policy) -> Self {
        Local::with_clock(policy, DefaultClock::default())
    }
}

impl<C: Clock + Clone> Local<C> {
    pub fn with_clock(policy: Policy, clock: C) -> Self {
        let limiter: RateLimiter<String, DefaultKeyedStateStore<String>, C, NoOpMiddleware<C::Instant>> =
            RateLimiter::new(quota(policy), DefaultKeyedStateStore::default(), clock.clone());
        let limiter = limiter.with_middleware::<StateInformationMiddleware>();
        Local { policy, limiter, clock, debts: Mutex::new(HashMap::new()), last_retain: Mutex::new(Instant::now()) }
    }

    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// Takes `cost` units (plus what the key owes) if the bucket holds them; else takes nothing
    /// and says how long until it would.
    pub fn check(&self, key: &str, cost: u32) -> Verdict {
        self.housekeeping();
        let owed = lock(&self.debts).remove(key).map_or(0, |(n, _)| n);
        let verdict = self.take(key, cost.saturating_add(owed));
        if !verdict.allowed && owed > 0 {
            self.owe(key, owed);
        }
        verdict
    }

    /// Takes `cost` units whatever the bucket holds: what it cannot take now is owed by the
    /// key's next request. For prices known only after the answer (the items of a listing).
    pub fn charge(&self, key: &str, cost: u32) {
        if cost == 0 {
            return;
        }
        if !self.take(key, cost).allowed {
            self.owe(key, cost);
        }
    }

    /// Keys with state in the store (after the last retain), for tests and metrics.
    pub fn keys(&self) -> usize {
        self.limiter.len()
    }

    /// One GCRA decision for `units`; more units than the burst are taken as a full burst, so a
    /// request dearer than the whole bucket passes only when the bucket is full.
    fn take(&self, key: &str, units: u32) -> Verdict {
        let key = key.to_owned();
        let Some(n) = NonZeroU32::new(units.min(self.policy.burst)) else {
            return self.full();
        };
        match self.limiter.check_key_n(&key, n) {
            Ok(Ok(snapshot)) => {
                let remaining = snapshot.remaining_burst_capacity();
                Verdict {
                    allowed: true,
                    wait: Duration::ZERO,
                    remaining,
                    reset: self.policy.interval.saturating_mul(self.policy.burst.saturating_sub(remaining)),
                }
            }
            Ok(Err(not_until)) => {
                let wait = not_until.wait_time_from(self.clock.now());
                Verdict {
                    allowed: false,
                    wait,
                    remaining: 0,
                    reset: wait.saturating_add(self.policy.interval.saturating_mul(self.policy.burst.saturating_sub(n.get()))),
                }
            }
            // Cannot happen: `n` is at most the burst. Treated as an empty bucket, not a pass.
            Err(_) => Verdict { allowed: false, wait: self.policy.interval, remaining: 0, reset: self.policy.full_refill() },
        }
    }

    fn full(&self) -> Verdict {
        Verdict { allowed: true, wait: Duration::ZERO, remaining: self.policy.burst, reset: Duration::ZERO }
    }

    fn owe(&self, key: &str, units: u32) {
        let mut debts = lock(&self.debts);
        let entry = debts.entry(key.to_owned()).or_insert((0, Instant::now()));
        // Never more than one full bucket: a debt beyond that would lock a client out for
        // longer than the policy's own window.
        entry.0 = entry.0.saturating_add(units).min(self.policy.burst);
        entry.1 = Instant::now();
    }

    /// At most once a minute: forgets keys whose buckets have refilled and debts that would
    /// have been repaid by now.
    fn housekeeping(&self) {
        {
            let mut last = lock(&self.last_retain);
            if last.elapsed() < RETAIN_EVERY {
                return;
            }
            *last = Instant::now();
        }
        self.limiter.retain_recent();
        let interval = self.policy.interval;
        lock(&self.debts).retain(|_, (units, at)| at.elapsed() < interval.saturating_mul(*units));
    }
}

fn quota(policy: Policy) -> Quota {
    let burst = NonZeroU32::new(policy.burst).unwrap_or(NonZeroU32::MIN);
    // `with_period` refuses only a zero interval, which `Policy::new` never makes.
    Quota::with_period(policy.interval.max(Duration::from_nanos(1)))
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(burst)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Plain maps, consistent after every completed call: a poisoned lock is still usable.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use governor::clock::FakeRelativeClock;

    use super::*;

    fn limiter(per_second: u32, burst: u32) -> (Local<FakeRelativeClock>, FakeRelativeClock) {
        let clock = FakeRelativeClock::default();
        (Local::with_clock(Policy::per_second("test", per_second, burst), clock.clone()), clock)
    }

    #[test]
    fn a_burst_then_the_rate() {
        let (l, clock) = limiter(10, 5);
        for left in (0..5).rev() {
            let v = l.check("a", 1);
            assert!(v.allowed);
            assert_eq!(v.remaining, left);
        }
        let refused = l.check("a", 1);
        assert!(!refused.allowed);
        assert_eq!(refused.wait, Duration::from_millis(100), "one unit per 100 ms at 10/s");
        // Another key has its own bucket.
        assert!(l.check("b", 1).allowed);
        clock.advance(Duration::from_millis(100));
        assert!(l.check("a", 1).allowed);
        assert!(!l.check("a", 1).allowed);
        // A second later the bucket holds ten units' worth, capped at the burst of five.
        clock.advance(Duration::from_secs(1));
        assert_eq!(l.check("a", 1).remaining, 4);
    }

    #[test]
    fn costs_take_several_units() {
        let (l, clock) = limiter(10, 5);
        assert!(l.check("a", 3).allowed);
        let v = l.check("a", 3);
        assert!(!v.allowed, "three of five taken, two left");
        assert_eq!(v.wait, Duration::from_millis(100), "one more unit is 100 ms away");
        clock.advance(Duration::from_millis(100));
        assert!(l.check("a", 3).allowed);
        // Dearer than the whole burst: passes with a full bucket only, and empties it.
        clock.advance(Duration::from_secs(10));
        assert!(l.check("a", 50).allowed);
        assert!(!l.check("a", 1).allowed);
    }

    #[test]
    fn charges_after_the_answer_are_owed_when_the_bucket_is_empty() {
        let (l, clock) = limiter(10, 5);
        assert!(l.check("a", 5).allowed);
        // The answer listed many items: 3 more units, which the empty bucket cannot take now.
        l.charge("a", 3);
        clock.advance(Duration::from_millis(100));
        // One unit refilled, but the next request owes 3 + its own 1.
        let v = l.check("a", 1);
        assert!(!v.allowed);
        assert_eq!(v.wait, Duration::from_millis(300));
        clock.advance(Duration::from_millis(300));
        assert!(l.check("a", 1).allowed, "debt repaid with the request");
        assert!(!l.check("a", 1).allowed);
        // A charge the bucket can take is taken at once.
        clock.advance(Duration::from_secs(1));
        l.charge("a", 2);
        assert_eq!(l.check("a", 1).remaining, 2);
    }
}
