//! The clock that decides what has expired (WebDAV locks): the system's, which a test can move
//! forward by hand so that expiry is tested without waiting.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Seconds since the Unix epoch, plus an offset that only tests change. Clones share it.
#[derive(Debug, Clone)]
pub struct Clock {
    offset: Arc<AtomicI64>,
    /// The instant a test pinned the clock at, or `NOT_FROZEN`.
    frozen: Arc<AtomicI64>,
}

const NOT_FROZEN: i64 = i64::MIN;

impl Default for Clock {
    fn default() -> Self {
        Clock { offset: Arc::default(), frozen: Arc::new(AtomicI64::new(NOT_FROZEN)) }
    }
}

impl Clock {
    pub fn now(&self) -> i64 {
        let base = match self.frozen.load(Ordering::Relaxed) {
            NOT_FROZEN => super::now(),
            at => at,
        };
        base.saturating_add(self.offset.load(Ordering::Relaxed))
    }

    /// Stops this clock (and every clone of it) where it is, so that only `advance` moves it:
    /// a test that counts seconds must not see the system's second turn over between steps.
    pub fn freeze(&self) {
        self.frozen.store(super::now(), Ordering::Relaxed);
    }

    /// Moves this clock (and every clone of it) `secs` forward.
    pub fn advance(&self, secs: i64) {
        self.offset.fetch_add(secs, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_every_clone() {
        let clock = Clock::default();
        let other = clock.clone();
        let before = other.now();
        clock.advance(3600);
        assert!(other.now() >= before + 3600);
    }

    #[test]
    fn a_frozen_clock_moves_only_when_advanced() {
        let clock = Clock::default();
        clock.freeze();
        let at = clock.now();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        assert_eq!(clock.clone().now(), at);
        clock.advance(5);
        assert_eq!(clock.now(), at + 5);
    }
}
