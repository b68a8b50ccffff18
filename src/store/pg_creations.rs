//! PostgreSQL's creations (PUT with If-None-Match: *) to one calendar, batched: those that
//! queue while a batch of that calendar runs are checked and inserted together, in one
//! statement of the next batch (`shared/put.rs` CREATE_BATCH, decision 0038).
//!
//! Why: a calendar's writes run one after another on its group-commit line (decision 0036),
//! and each creation was its own statements and round trips there, so PostgreSQL's work per
//! statement (executor setup, planning, the round trip's wake-ups) was paid per PUT on a line
//! nothing else could use meanwhile. A batch pays it once for all the creations that waited.
//!
//! This module keeps the queues; `postgres.rs` runs the batches (one task per calendar while
//! its queue is not empty) and answers each creation on its own channel.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::{Notify, oneshot};

use crate::store::{NewObject, PutOutcome, StoreResult, Timestamp, lock};

/// Creations per batch at most: one statement's arrays, and the group's writes
/// (`group_commit::MAX_GROUP` counts each creation).
const MAX_BATCH: usize = 32;
/// Bytes per batch at most, beyond its first creation: a batch's objects are one statement's
/// parameters, in memory at once on both sides.
const MAX_BATCH_BYTES: usize = 4 << 20;

/// How long a calendar's task waits, after a batch of several, for as many creations again
/// before it takes the next batch. Clients answered together come back together; without the
/// wait the first of them would go alone, and the rest would wait for it (as PostgreSQL's own
/// `commit_delay` waits for siblings). Only after a batch of several: a lone writer never waits.
const GATHER_FOR: Duration = Duration::from_millis(1);

/// One creation waiting for its batch, with the channel its outcome goes back on.
pub(super) struct Creation {
    pub(super) object: NewObject,
    /// The request's time: the object's created_at, as if it had been written alone.
    pub(super) now: Timestamp,
    pub(super) reply: oneshot::Sender<StoreResult<PutOutcome>>,
}

/// The creations waiting, per calendar. A calendar is in the map exactly while a task runs its
/// batches; the task ends when it finds the queue empty, which removes it under the same lock,
/// so a creation queued after that starts a new task.
#[derive(Default)]
pub(super) struct Creations {
    queues: Mutex<HashMap<i64, VecDeque<Creation>>>,
    /// Told of every creation queued (`gather`).
    queued: Notify,
}

impl Creations {
    /// Queues `creation` for `collection`'s batches: true when no task runs them, and the
    /// caller must start one.
    pub(super) fn submit(&self, collection: i64, creation: Creation) -> bool {
        let mut queues = lock(&self.queues);
        let start = match queues.get_mut(&collection) {
            Some(queue) => {
                queue.push_back(creation);
                false
            }
            None => {
                queues.insert(collection, VecDeque::from([creation]));
                true
            }
        };
        drop(queues);
        self.queued.notify_waiters();
        start
    }

    /// Waits until `n` creations wait for `collection`, or GATHER_FOR has passed.
    pub(super) async fn gather(&self, collection: i64, n: usize) {
        let deadline = tokio::time::Instant::now() + GATHER_FOR;
        loop {
            let queued = self.queued.notified();
            if lock(&self.queues).get(&collection).map_or(0, VecDeque::len) >= n {
                return;
            }
            if tokio::time::timeout_at(deadline, queued).await.is_err() {
                return;
            }
        }
    }

    /// Held by `collection`'s task while it runs: if the task unwinds (a panic), the calendar
    /// leaves the map and its waiting creations are dropped (their callers hear an error),
    /// so that the next creation starts a new task instead of waiting for a dead one.
    pub(super) fn running(&self, collection: i64) -> Running<'_> {
        Running { creations: self, collection }
    }

    /// Creations now waiting for `collection`'s next batch (tests wait for them).
    #[cfg(test)]
    pub(super) fn waiting(&self, collection: i64) -> usize {
        lock(&self.queues).get(&collection).map_or(0, VecDeque::len)
    }

    /// The next batch for `collection`, in arrival order; empty when nothing waits, and then
    /// the calendar's task must end. A creation whose name or UID an earlier waiting one has
    /// stays for a later batch (the batch's checks read one snapshot, so it must see the
    /// earlier one's row), and so does every later one sharing its name or UID: creations
    /// that touch each other keep their arrival order.
    pub(super) fn take(&self, collection: i64) -> Vec<Creation> {
        let mut queues = lock(&self.queues);
        let Some(queue) = queues.get_mut(&collection) else { return Vec::new() };
        if queue.is_empty() {
            queues.remove(&collection);
            return Vec::new();
        }
        let (mut batch, mut later) = (Vec::new(), VecDeque::new());
        let (mut names, mut uids) = (HashSet::new(), HashSet::new());
        let mut bytes = 0;
        while let Some(creation) = queue.pop_front() {
            let size = creation.object.data.len();
            if batch.len() == MAX_BATCH || (!batch.is_empty() && bytes + size > MAX_BATCH_BYTES) {
                queue.push_front(creation);
                break;
            }
            let uid = creation.object.calendar.as_ref().map(|c| c.uid.clone());
            let touches = names.contains(&creation.object.name) || uid.as_ref().is_some_and(|u| uids.contains(u));
            names.insert(creation.object.name.clone());
            uids.extend(uid);
            if touches {
                later.push_back(creation);
            } else {
                bytes += size;
                batch.push(creation);
            }
        }
        while let Some(creation) = later.pop_back() {
            queue.push_front(creation);
        }
        batch
    }
}

/// See `Creations::running`.
pub(super) struct Running<'a> {
    creations: &'a Creations,
    collection: i64,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            lock(&self.creations.queues).remove(&self.collection);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::store::{CalendarIndex, ComponentKind};

    fn creation(name: &str, uid: &str, size: usize) -> (Creation, oneshot::Receiver<StoreResult<PutOutcome>>) {
        let (reply, answer) = oneshot::channel();
        let object = NewObject {
            name: name.into(),
            data: vec![b'x'; size],
            content_type: "text/calendar".into(),
            etag: format!("\"{name}\""),
            calendar: Some(CalendarIndex { uid: uid.into(), component: ComponentKind::Event, first_start: None, last_end: None }),
            timeline: None,
            schedule_tag: None,
            alarms: Default::default(),
        };
        (Creation { object, now: 0, reply }, answer)
    }

    fn names(batch: &[Creation]) -> Vec<&str> {
        batch.iter().map(|c| c.object.name.as_str()).collect()
    }

    /// The first creation starts the task; later ones join its queue; the task ends on an
    /// empty queue, and the next creation starts a new one.
    #[test]
    fn one_task_per_calendar_while_creations_wait() {
        let creations = Creations::default();
        assert!(creations.submit(1, creation("a.ics", "a", 1).0));
        assert!(!creations.submit(1, creation("b.ics", "b", 1).0));
        assert!(creations.submit(2, creation("c.ics", "c", 1).0), "another calendar, another task");
        assert_eq!(names(&creations.take(1)), ["a.ics", "b.ics"]);
        assert!(!creations.submit(1, creation("d.ics", "d", 1).0), "the task has not seen an empty queue yet");
        assert_eq!(names(&creations.take(1)), ["d.ics"]);
        assert!(creations.take(1).is_empty());
        assert!(creations.submit(1, creation("e.ics", "e", 1).0), "the task ended: a new one");
    }

    /// A task that panics leaves no calendar behind: its waiting creations hear an error,
    /// and the next creation starts a new task.
    #[test]
    fn a_task_that_panics_strands_no_creation() {
        let creations = Creations::default();
        assert!(creations.submit(4, creation("a.ics", "a", 1).0));
        let (waiting, mut answer) = creation("b.ics", "b", 1);
        assert!(!creations.submit(4, waiting));
        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _running = creations.running(4);
            panic!("a bug in the task");
        }));
        assert!(unwound.is_err());
        assert!(matches!(answer.try_recv(), Err(oneshot::error::TryRecvError::Closed)), "b.ics's caller is told");
        assert!(creations.submit(4, creation("c.ics", "c", 1).0), "a new task for the next creation");
        let finished = creations.running(4);
        drop(finished);
        assert_eq!(creations.waiting(4), 1, "a task that ends normally leaves the queue to `take`");
    }

    /// A name or UID already in the batch, or held back, holds the creation back, in order.
    #[test]
    fn creations_that_touch_each_other_keep_their_order() {
        let creations = Creations::default();
        for (name, uid) in [("a.ics", "1"), ("a.ics", "2"), ("b.ics", "2"), ("c.ics", "3"), ("d.ics", "1"), ("a.ics", "4")] {
            creations.submit(9, creation(name, uid, 1).0);
        }
        assert_eq!(names(&creations.take(9)), ["a.ics", "c.ics"]);
        // The second a.ics held back its UID 2, so b.ics waits behind it.
        assert_eq!(names(&creations.take(9)), ["a.ics", "d.ics"]);
        assert_eq!(names(&creations.take(9)), ["b.ics", "a.ics"]);
        assert!(creations.take(9).is_empty());
    }

    /// A batch stops at MAX_BATCH creations and at MAX_BATCH_BYTES, but always takes one.
    #[test]
    fn a_batch_is_bounded() {
        let creations = Creations::default();
        for i in 0..MAX_BATCH + 1 {
            creations.submit(3, creation(&format!("{i}.ics"), &i.to_string(), 1).0);
        }
        assert_eq!(creations.take(3).len(), MAX_BATCH);
        assert_eq!(creations.take(3).len(), 1);
        for i in 0..3 {
            creations.submit(3, creation(&format!("big{i}.ics"), &format!("big{i}"), MAX_BATCH_BYTES).0);
        }
        assert_eq!(creations.take(3).len(), 1, "one creation over the bound still goes alone");
        assert_eq!(creations.take(3).len(), 1);
    }
}
