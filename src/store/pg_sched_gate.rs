//! PostgreSQL's scheduling batches queue in the process for the collections they write, before
//! they take a connection, so that at most one batch per collection waits on its row lock in
//! the database (decision 0039).
//!
//! Why: every invitation to the same people locks the same rows (the organizer's calendar and
//! each attendee's calendar and inbox). Waiting for those locks in PostgreSQL cost far more
//! than the wait itself: 32 concurrent invitations to ten people spent 7.4 ms of the
//! database's CPU each against 2.7 ms alone, and every waiter held a pool connection and a
//! snapshot meanwhile. Queued here, a batch waits on a tokio mutex and holds nothing.
//!
//! The database's row locks stay the only guarantee (other nodes do not see this queue). A
//! batch enters its collections' gates in ascending id order, the order it locks their rows
//! in, so two batches never wait for each other in a cycle; a gate holder may wait for a row a
//! PUT holds, and a PUT never waits for a gate.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

use crate::store::{CollectionId, lock};

/// The collections some batch holds or waits for.
#[derive(Default)]
pub(super) struct SchedGates {
    gates: Mutex<HashMap<CollectionId, Arc<AsyncMutex<()>>>>,
}

/// A batch's place in its collections' gates; leaving (drop) lets the next batch in, and
/// forgets the gates nobody else holds or waits for.
pub(super) struct Entered<'a> {
    gates: &'a SchedGates,
    held: Vec<(CollectionId, OwnedMutexGuard<()>)>,
}

impl SchedGates {
    /// Enters the gates of `collections` (ascending, no duplicates: `sched::lock_order`), one
    /// after another. Gives up after `wait` (PoolTimedOut, which answers 503 as a full pool does).
    pub(super) async fn enter(&self, collections: &[CollectionId], wait: Duration) -> sqlx::Result<Entered<'_>> {
        debug_assert!(collections.windows(2).all(|w| w[0] < w[1]), "gates are entered in ascending order");
        let mut entered = Entered { gates: self, held: Vec::with_capacity(collections.len()) };
        let deadline = tokio::time::Instant::now() + wait;
        for &id in collections {
            let gate = lock(&self.gates).entry(id).or_default().clone();
            // On timeout `entered` drops, which leaves the gates entered so far.
            let guard = tokio::time::timeout_at(deadline, gate.lock_owned()).await.map_err(|_| sqlx::Error::PoolTimedOut)?;
            entered.held.push((id, guard));
        }
        Ok(entered)
    }

    /// Gates in the map (tests check that idle ones go).
    #[cfg(test)]
    fn live(&self) -> usize {
        lock(&self.gates).len()
    }
}

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        let mut gates = lock(&self.gates.gates);
        for (id, guard) in self.held.drain(..) {
            drop(guard);
            // Only the map holds it: nobody waits, and a new comer would clone it under this
            // same lock, so removing it loses nobody.
            if gates.get(&id).is_some_and(|g| Arc::strong_count(g) == 1) {
                gates.remove(&id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    const WAIT: Duration = Duration::from_secs(5);

    fn ids(ids: &[i64]) -> Vec<CollectionId> {
        ids.iter().map(|&id| CollectionId(id)).collect()
    }

    #[tokio::test]
    async fn batches_sharing_a_collection_take_turns_and_others_pass() {
        let gates = Arc::new(SchedGates::default());
        let first = gates.enter(&ids(&[1, 2, 3]), WAIT).await.unwrap();
        // A batch on other collections is not held up.
        let other = gates.enter(&ids(&[4, 5]), WAIT).await.unwrap();
        drop(other);
        let inside = Arc::new(AtomicUsize::new(0));
        let (g, i) = (gates.clone(), inside.clone());
        let second = tokio::spawn(async move {
            let _entered = g.enter(&ids(&[3, 6]), WAIT).await.unwrap();
            i.fetch_add(1, Ordering::SeqCst);
        });
        // The second batch shares collection 3, so it waits for the first to leave.
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
        assert_eq!(inside.load(Ordering::SeqCst), 0, "the second batch waits while the first holds collection 3");
        drop(first);
        second.await.unwrap();
        assert_eq!(inside.load(Ordering::SeqCst), 1);
        assert_eq!(gates.live(), 0, "gates nobody holds are forgotten");
    }

    #[tokio::test]
    async fn a_batch_that_waits_too_long_gives_up_and_holds_nothing() {
        let gates = SchedGates::default();
        let first = gates.enter(&ids(&[2]), WAIT).await.unwrap();
        let err = gates.enter(&ids(&[1, 2]), Duration::from_millis(20)).await.err();
        assert!(matches!(err, Some(sqlx::Error::PoolTimedOut)), "{err:?}");
        // It had entered gate 1 before waiting at 2; giving up left it.
        let again = gates.enter(&ids(&[1]), Duration::from_millis(20)).await;
        assert!(again.is_ok(), "gate 1 was left when the batch gave up");
        drop(again);
        drop(first);
        assert_eq!(gates.live(), 0);
    }

    #[tokio::test]
    async fn overlapping_batches_in_opposite_arrival_never_deadlock() {
        let gates = Arc::new(SchedGates::default());
        let mut tasks = Vec::new();
        for k in 0..16_i64 {
            let g = gates.clone();
            tasks.push(tokio::spawn(async move {
                // Every batch shares 10 with all the others and 20 + k % 3 with some.
                let mut mine = vec![10, 20 + k % 3, 5 - k % 2];
                mine.sort_unstable();
                let _entered = g.enter(&ids(&mine), WAIT).await.unwrap();
                tokio::task::yield_now().await;
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(gates.live(), 0);
    }
}
