//! The circuit breaker in front of Redis: a pure state machine (the caller passes the time), so
//! its rules are tested without a clock, a runtime or a server.
//!
//! Closed: every call goes to Redis. The first failure opens it for the initial backoff; while
//! open, calls are refused at once (they become misses). When the backoff has passed, exactly one
//! call is let through as a probe (half-open): its success closes the breaker and resets the
//! backoff, its failure opens it again for twice as long, up to the maximum.

use std::time::Duration;

use tokio::time::Instant;

use super::Health;

/// How long the breaker stays open: `initial` after the first failure, doubled after each failed
/// probe, never more than `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    /// One second is long enough to stop a dead Redis from costing every request a timeout, and
    /// short enough that a blip is over before anyone notices; a minute bounds how stale the
    /// "Redis is down" verdict can get once it is back.
    fn default() -> Self {
        Backoff { initial: Duration::from_secs(1), max: Duration::from_secs(60) }
    }
}

/// What the breaker allowed a call to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permit {
    /// The breaker is closed: an ordinary call.
    Normal,
    /// The single call that tests whether Redis is back.
    Probe,
}

/// A state change the caller should log. Anything else (a stale result from a call that started
/// before the breaker opened, say) changes nothing and says so with `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    None,
    /// Closed → open: the first failure after a healthy period (worth a warning).
    Opened { retry_in: Duration },
    /// A probe failed: open again for longer (not worth a warning each time).
    Reopened { retry_in: Duration },
    /// A probe succeeded: closed, backoff reset.
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed,
    /// Refusing calls until `until`; `backoff` is how long this opening lasts, the base for the
    /// next doubling.
    Open { until: Instant, backoff: Duration },
    /// The probe is in flight; everyone else is refused until it reports.
    Probing { backoff: Duration },
}

#[derive(Debug)]
pub struct Breaker {
    state: State,
    backoff: Backoff,
}

impl Breaker {
    pub fn new(backoff: Backoff) -> Breaker {
        // A zero maximum would let every call probe; one millisecond keeps the state machine
        // meaningful even for a misconfigured test.
        let max = backoff.max.max(Duration::from_millis(1));
        let initial = backoff.initial.clamp(Duration::from_millis(1), max);
        Breaker { state: State::Closed, backoff: Backoff { initial, max } }
    }

    /// Whether a call may go to Redis now, and as what.
    pub fn admit(&mut self, now: Instant) -> Option<Permit> {
        match self.state {
            State::Closed => Some(Permit::Normal),
            State::Open { until, backoff } if now >= until => {
                self.state = State::Probing { backoff };
                Some(Permit::Probe)
            }
            State::Open { .. } | State::Probing { .. } => None,
        }
    }

    pub fn succeeded(&mut self, permit: Permit) -> Transition {
        match (permit, self.state) {
            (Permit::Probe, State::Probing { .. }) => {
                self.state = State::Closed;
                Transition::Closed
            }
            // A normal call that started before the breaker opened proves little about now; the
            // probe decides.
            _ => Transition::None,
        }
    }

    pub fn failed(&mut self, permit: Permit, now: Instant) -> Transition {
        match (permit, self.state) {
            (Permit::Normal, State::Closed) => {
                let backoff = self.backoff.initial;
                self.state = State::Open { until: now + backoff, backoff };
                Transition::Opened { retry_in: backoff }
            }
            (Permit::Probe, State::Probing { backoff }) => {
                let backoff = backoff.saturating_mul(2).min(self.backoff.max);
                self.state = State::Open { until: now + backoff, backoff };
                Transition::Reopened { retry_in: backoff }
            }
            // Calls in flight when the breaker opened fail too; they must not extend the backoff.
            _ => Transition::None,
        }
    }

    /// A probe that ended without an answer (its request was cancelled). It taught nothing, so
    /// the next call may probe at once, with the backoff unchanged.
    pub fn abandoned(&mut self, permit: Permit, now: Instant) {
        if let (Permit::Probe, State::Probing { backoff }) = (permit, self.state) {
            self.state = State::Open { until: now, backoff };
        }
    }

    pub fn health(&self, now: Instant) -> Health {
        match self.state {
            State::Closed => Health::Up,
            State::Open { until, .. } if now < until => Health::Down { retry_in: until - now },
            State::Open { .. } | State::Probing { .. } => Health::Probing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn breaker() -> Breaker {
        Breaker::new(Backoff { initial: S, max: 8 * S })
    }

    #[test]
    fn closed_admits_everyone() {
        let mut b = breaker();
        let t = Instant::now();
        assert_eq!(b.admit(t), Some(Permit::Normal));
        assert_eq!(b.admit(t), Some(Permit::Normal));
        assert_eq!(b.succeeded(Permit::Normal), Transition::None);
        assert_eq!(b.health(t), Health::Up);
    }

    #[test]
    fn a_failure_opens_and_refuses_until_the_backoff_passes() {
        let mut b = breaker();
        let t = Instant::now();
        assert_eq!(b.admit(t), Some(Permit::Normal));
        assert_eq!(b.failed(Permit::Normal, t), Transition::Opened { retry_in: S });
        assert_eq!(b.admit(t), None);
        assert_eq!(b.admit(t + S / 2), None);
        assert_eq!(b.health(t + S / 4), Health::Down { retry_in: S * 3 / 4 });
        assert_eq!(b.health(t + S), Health::Probing);
    }

    #[test]
    fn only_one_probe_at_a_time() {
        let mut b = breaker();
        let t = Instant::now();
        b.failed(Permit::Normal, t);
        assert_eq!(b.admit(t + S), Some(Permit::Probe));
        assert_eq!(b.admit(t + S), None, "a second caller must not probe too");
        assert_eq!(b.admit(t + 100 * S), None, "the probe is still in flight");
        assert_eq!(b.health(t + S), Health::Probing);
    }

    #[test]
    fn failed_probes_double_the_backoff_up_to_the_max() {
        let mut b = breaker();
        let mut t = Instant::now();
        b.failed(Permit::Normal, t);
        let mut waits = Vec::new();
        let mut wait = S;
        for _ in 0..6 {
            t += wait;
            assert_eq!(b.admit(t), Some(Permit::Probe));
            match b.failed(Permit::Probe, t) {
                Transition::Reopened { retry_in } => wait = retry_in,
                other => panic!("a failed probe must reopen, got {other:?}"),
            }
            assert_eq!(b.admit(t + wait - Duration::from_millis(1)), None);
            waits.push(wait.as_secs());
        }
        assert_eq!(waits, [2, 4, 8, 8, 8, 8]);
    }

    #[test]
    fn a_successful_probe_closes_and_resets_the_backoff() {
        let mut b = breaker();
        let t = Instant::now();
        b.failed(Permit::Normal, t);
        assert_eq!(b.admit(t + S), Some(Permit::Probe));
        b.failed(Permit::Probe, t + S); // now open for 2 s
        assert_eq!(b.admit(t + 3 * S), Some(Permit::Probe));
        assert_eq!(b.succeeded(Permit::Probe), Transition::Closed);
        assert_eq!(b.health(t + 3 * S), Health::Up);
        assert_eq!(b.admit(t + 3 * S), Some(Permit::Normal));
        // The next outage starts from the initial backoff again, not from 4 s.
        assert_eq!(b.failed(Permit::Normal, t + 4 * S), Transition::Opened { retry_in: S });
    }

    #[test]
    fn stale_results_change_nothing() {
        let mut b = breaker();
        let t = Instant::now();
        // Two calls admitted while closed; both fail, the second must not extend the opening.
        b.failed(Permit::Normal, t);
        assert_eq!(b.failed(Permit::Normal, t + S / 2), Transition::None);
        assert_eq!(b.admit(t + S), Some(Permit::Probe));
        // A late success of an old normal call does not close the breaker while a probe runs.
        assert_eq!(b.succeeded(Permit::Normal), Transition::None);
        assert_eq!(b.admit(t + S), None);
        assert_eq!(b.failed(Permit::Normal, t + S), Transition::None);
        assert_eq!(b.succeeded(Permit::Probe), Transition::Closed);
    }

    #[test]
    fn an_abandoned_probe_lets_the_next_call_probe() {
        let mut b = breaker();
        let t = Instant::now();
        b.failed(Permit::Normal, t);
        assert_eq!(b.admit(t + S), Some(Permit::Probe));
        b.abandoned(Permit::Probe, t + S);
        assert_eq!(b.admit(t + S), Some(Permit::Probe));
        // The backoff was kept: a failure now doubles the original 1 s.
        assert_eq!(b.failed(Permit::Probe, t + S), Transition::Reopened { retry_in: 2 * S });
        // Abandoning a normal call is not a verdict either.
        let mut c = breaker();
        c.abandoned(Permit::Normal, t);
        assert_eq!(c.admit(t), Some(Permit::Normal));
    }

    #[test]
    fn degenerate_backoffs_are_clamped() {
        let mut b = Breaker::new(Backoff { initial: Duration::ZERO, max: Duration::ZERO });
        let t = Instant::now();
        assert_eq!(b.failed(Permit::Normal, t), Transition::Opened { retry_in: Duration::from_millis(1) });
        assert_eq!(b.admit(t), None);
    }
}
