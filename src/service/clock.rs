//! The clock that decides what has expired (WebDAV locks): the system's, which a test can move
//! forward by hand so that expiry is tested without waiting.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Seconds since the Unix epoch, plus an offset that only tests change. Clones share it.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset: Arc<AtomicI64>,
}

impl Clock {
    pub fn now(&self) -> i64 {
        super::now().saturating_add(self.offset.load(Ordering::Relaxed))
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
}
