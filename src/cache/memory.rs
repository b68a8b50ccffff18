//! The in-process cache: a bounded map with per-entry expiry, used when no Redis is configured.
//!
//! One mutex guards a `HashMap` and an index ordered by expiry. Expired entries sit at the front
//! of that index, so they are dropped cheaply on every write; when the map is full, the entry
//! that would expire first goes. With one TTL per kind of entry (as callers use it) that is the
//! oldest entry. The lock is held only for map operations, never across an await.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::MAX_TTL;

/// Cheap to clone: clones share one map.
#[derive(Clone)]
pub struct MemoryCache {
    inner: Arc<Mutex<State>>,
    max_entries: usize,
}

#[derive(Default)]
struct State {
    entries: HashMap<String, Entry>,
    /// (expiry, insertion number) → key. The insertion number makes equal expiries distinct and
    /// breaks ties oldest-first.
    by_expiry: BTreeMap<(Instant, u64), String>,
    next_seq: u64,
}

struct Entry {
    value: Box<[u8]>,
    expires: Instant,
    seq: u64,
}

impl MemoryCache {
    /// A cache holding at most `max_entries` values (0 stores nothing: every get is a miss).
    pub fn new(max_entries: usize) -> MemoryCache {
        MemoryCache { inner: Arc::new(Mutex::new(State::default())), max_entries }
    }

    pub fn max_entries(&self) -> usize {
        self.max_entries
    }

    /// How many entries are held, counting expired ones not yet dropped.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.get_at(key, Instant::now())
    }

    pub fn put(&self, key: &str, value: &[u8], ttl: Duration) {
        self.put_at(key, value, ttl, Instant::now());
    }

    fn get_at(&self, key: &str, now: Instant) -> Option<Vec<u8>> {
        let mut state = self.lock();
        let entry = state.entries.get(key)?;
        if entry.expires > now {
            return Some(entry.value.to_vec());
        }
        state.remove(key);
        None
    }

    fn put_at(&self, key: &str, value: &[u8], ttl: Duration, now: Instant) {
        if ttl.is_zero() || self.max_entries == 0 {
            return;
        }
        let expires = now + ttl.min(MAX_TTL);
        let mut state = self.lock();
        state.remove(key);
        state.drop_expired(now);
        while state.entries.len() >= self.max_entries {
            if !state.evict_first() {
                break;
            }
        }
        let seq = state.next_seq;
        state.next_seq += 1;
        state.by_expiry.insert((expires, seq), key.to_owned());
        state.entries.insert(key.to_owned(), Entry { value: value.into(), expires, seq });
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while the lock was held cannot leave the two maps disagreeing in a way that
        // matters: every operation tolerates a key missing from either. So a poisoned lock is
        // still usable, and a cache must never take the server down.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    fn remove(&mut self, key: &str) {
        if let Some(old) = self.entries.remove(key) {
            self.by_expiry.remove(&(old.expires, old.seq));
        }
    }

    fn drop_expired(&mut self, now: Instant) {
        while let Some(entry) = self.by_expiry.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let key = entry.remove();
            self.entries.remove(&key);
        }
    }

    /// Drops the entry that expires first; false when there is none.
    fn evict_first(&mut self) -> bool {
        match self.by_expiry.pop_first() {
            Some((_, key)) => {
                self.entries.remove(&key);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn round_trip_and_overwrite() {
        let c = MemoryCache::new(10);
        let t = Instant::now();
        assert_eq!(c.get_at("k", t), None);
        c.put_at("k", b"one", MIN, t);
        assert_eq!(c.get_at("k", t).as_deref(), Some(&b"one"[..]));
        c.put_at("k", b"two", MIN, t);
        assert_eq!(c.get_at("k", t).as_deref(), Some(&b"two"[..]));
        assert_eq!(c.len(), 1);
        assert_eq!(c.inner.lock().unwrap().by_expiry.len(), 1, "the old index entry must go");
    }

    #[test]
    fn values_are_opaque_bytes() {
        let c = MemoryCache::new(10);
        let t = Instant::now();
        let bytes: Vec<u8> = (0..=255).collect();
        c.put_at("bin", &bytes, MIN, t);
        c.put_at("empty", b"", MIN, t);
        assert_eq!(c.get_at("bin", t), Some(bytes));
        assert_eq!(c.get_at("empty", t), Some(Vec::new()), "an empty value is a hit, not a miss");
    }

    #[test]
    fn ttl_is_honoured() {
        let c = MemoryCache::new(10);
        let t = Instant::now();
        c.put_at("k", b"v", MIN, t);
        assert!(c.get_at("k", t + MIN - Duration::from_millis(1)).is_some());
        assert_eq!(c.get_at("k", t + MIN), None);
        assert!(c.is_empty(), "an expired entry is dropped when found");
    }

    #[test]
    fn a_zero_ttl_stores_nothing() {
        let c = MemoryCache::new(10);
        let t = Instant::now();
        c.put_at("k", b"v", Duration::ZERO, t);
        assert_eq!(c.get_at("k", t), None);
        assert!(c.is_empty());
    }

    #[test]
    fn huge_ttls_are_capped_instead_of_overflowing() {
        let c = MemoryCache::new(10);
        let t = Instant::now();
        c.put_at("k", b"v", Duration::MAX, t);
        assert!(c.get_at("k", t + MAX_TTL - Duration::from_secs(1)).is_some());
        assert_eq!(c.get_at("k", t + MAX_TTL), None);
    }

    #[test]
    fn full_cache_evicts_the_oldest() {
        let c = MemoryCache::new(3);
        let t = Instant::now();
        for (i, key) in ["a", "b", "c", "d"].iter().enumerate() {
            c.put_at(key, key.as_bytes(), MIN, t + Duration::from_secs(i as u64));
        }
        assert_eq!(c.len(), 3);
        let now = t + Duration::from_secs(4);
        assert_eq!(c.get_at("a", now), None, "the oldest entry goes first");
        for key in ["b", "c", "d"] {
            assert!(c.get_at(key, now).is_some(), "{key} must survive");
        }
    }

    #[test]
    fn same_instant_entries_evict_in_insertion_order() {
        let c = MemoryCache::new(2);
        let t = Instant::now();
        c.put_at("a", b"1", MIN, t);
        c.put_at("b", b"2", MIN, t);
        c.put_at("c", b"3", MIN, t);
        assert_eq!(c.get_at("a", t), None);
        assert!(c.get_at("b", t).is_some() && c.get_at("c", t).is_some());
    }

    #[test]
    fn expired_entries_go_before_live_ones() {
        let c = MemoryCache::new(3);
        let t = Instant::now();
        c.put_at("long", b"1", 10 * MIN, t);
        c.put_at("short1", b"2", MIN, t);
        c.put_at("short2", b"3", MIN, t);
        // Later, both short entries have expired: a write drops them, and "long" stays.
        let later = t + 2 * MIN;
        c.put_at("new", b"4", MIN, later);
        assert_eq!(c.len(), 2);
        assert!(c.get_at("long", later).is_some());
        assert!(c.get_at("new", later).is_some());
    }

    #[test]
    fn rewriting_a_key_in_a_full_cache_evicts_nothing_else() {
        let c = MemoryCache::new(2);
        let t = Instant::now();
        c.put_at("a", b"1", MIN, t);
        c.put_at("b", b"2", MIN, t);
        c.put_at("a", b"3", MIN, t);
        assert_eq!(c.get_at("a", t).as_deref(), Some(&b"3"[..]));
        assert!(c.get_at("b", t).is_some());
    }

    #[test]
    fn zero_capacity_stores_nothing() {
        let c = MemoryCache::new(0);
        let t = Instant::now();
        c.put_at("k", b"v", MIN, t);
        assert_eq!(c.get_at("k", t), None);
    }

    #[test]
    fn clones_share_one_map_across_threads() {
        let c = MemoryCache::new(1000);
        let handles: Vec<_> = (0..4)
            .map(|n| {
                let c = c.clone();
                std::thread::spawn(move || {
                    for i in 0..100 {
                        c.put(&format!("{n}-{i}"), b"v", MIN);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(c.len(), 400);
        assert!(c.get("3-99").is_some());
    }
}
