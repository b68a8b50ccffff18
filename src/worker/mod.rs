//! Background loops that run beside the server and stop with it. Each is safe to run on every
//! node at once: each store write is one transaction that several nodes may repeat harmlessly.
//! `imip` drains the outbox of emails to people outside the server (RFC 6047).

pub mod imip;
pub mod reminders;

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::calendar::timeline::{HORIZON_SECONDS, RENEW_SECONDS};
use crate::calendar::timeline_of;
use crate::store::{AlarmStore, LockStore, SchedStore, Store, StoreResult, SyncStore};

/// How often tombstones are pruned. Pruning is cheap and its timing is not observable beyond
/// the retention, so an hour is plenty.
pub const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// Deletes the tombstones of deletions older than `retention` (RFC 6578 §3.6: a server may
/// forget them; a client holding a token from before then gets DAV:valid-sync-token and
/// resyncs in full). Returns how many went.
pub async fn purge_once(store: &Store, retention: Duration) -> StoreResult<u64> {
    let keep = i64::try_from(retention.as_secs()).unwrap_or(i64::MAX);
    store.prune_tombstones(crate::service::now().saturating_sub(keep)).await
}

/// How long settled iMIP messages (sent, failed, superseded) stay in the outbox: longer than the
/// day the send limits look back, long enough to answer "was it sent?" for a while.
pub const OUTBOX_KEEP: Duration = Duration::from_secs(30 * 86_400);

/// Deletes settled outbox messages older than `OUTBOX_KEEP`; returns how many went.
pub async fn prune_outbox_once(store: &Store) -> StoreResult<u64> {
    let keep = i64::try_from(OUTBOX_KEEP.as_secs()).unwrap_or(i64::MAX);
    store.prune_external(crate::service::now().saturating_sub(keep)).await
}

/// Runs `purge_once` and `prune_outbox_once` every `every` until `stop` turns true. A failure
/// is logged and retried at the next tick: losing a round only keeps rows a little longer.
pub fn spawn_purge(store: Store, retention: Duration, every: Duration, stop: watch::Receiver<bool>) -> JoinHandle<()> {
    spawn_every(every, stop, move || {
        let store = store.clone();
        async move {
            match purge_once(&store, retention).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(pruned = n, "sync tombstones pruned"),
                Err(e) => tracing::warn!(error = %e, "pruning sync tombstones failed; retrying later"),
            }
            match prune_outbox_once(&store).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(pruned = n, "settled iMIP messages pruned"),
                Err(e) => tracing::warn!(error = %e, "pruning the iMIP outbox failed; retrying later"),
            }
            // A delivery only guards its fire until the watermark has passed it, which it has
            // long before this.
            let keep = i64::try_from(OUTBOX_KEEP.as_secs()).unwrap_or(i64::MAX);
            match store.prune_alarm_deliveries(crate::service::now().saturating_sub(keep)).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(pruned = n, "old reminder deliveries pruned"),
                Err(e) => tracing::warn!(error = %e, "pruning reminder deliveries failed; retrying later"),
            }
            // Expired WebDAV locks are already no locks (decision 0030); their rows go here.
            match store.drop_expired_locks(crate::service::now()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(pruned = n, "expired locks pruned"),
                Err(e) => tracing::warn!(error = %e, "pruning expired locks failed; retrying later"),
            }
        }
    })
}

/// How often timelines are checked for a near horizon. A horizon is renewed a year before it
/// is reached, so a day between checks loses nothing; the first check runs at start-up and
/// lays out the timelines of events stored before timelines existed.
pub const TIMELINES_EVERY: Duration = Duration::from_secs(86_400);

/// Objects laid out per store round trip.
const TIMELINE_BATCH: u32 = 100;

/// Lays out again every event timeline whose horizon is less than `RENEW_SECONDS` away, and
/// those not laid out yet, so that queries find them complete. Returns how many it stored.
/// Safe beside writers: a timeline is stored only if the object's ETag is still the one it was
/// computed from, and a writer stores a fresh one with every new body.
pub async fn renew_timelines_once(store: &Store) -> StoreResult<u64> {
    let now = crate::service::now();
    let (before, horizon) = (now.saturating_add(RENEW_SECONDS), now.saturating_add(HORIZON_SECONDS));
    let mut stored = 0u64;
    loop {
        let due = store.timelines_due(before, TIMELINE_BATCH).await?;
        if due.is_empty() {
            return Ok(stored);
        }
        // Expanding recurrences is CPU work: off the runtime's threads. A renewed timeline's
        // horizon is past `before`, and a row that changed meanwhile got a fresh one from its
        // writer, so no row comes back and the loop ends.
        let layout = tokio::task::spawn_blocking(move || {
            due.into_iter().map(|o| (o.meta.id, o.meta.etag, timeline_of(&o.data, horizon))).collect::<Vec<_>>()
        });
        let laid_out = match layout.await {
            Ok(laid_out) => laid_out,
            // A panic in the layout is a bug: let it surface as one.
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // Cancelled: the runtime is shutting down.
            Err(_) => return Ok(stored),
        };
        let mut progress = false;
        for (id, etag, timeline) in laid_out {
            if store.set_timeline(id, &etag, timeline).await? {
                stored += 1;
                progress = true;
            }
        }
        // Every row of the batch changed under us: their writers laid them out, so the next
        // batch would be other rows, but a row some writer left due would come back each time.
        // Stop rather than spin; the next tick takes up what remains.
        if !progress {
            return Ok(stored);
        }
    }
}

/// Runs `renew_timelines_once` at start-up and then every `every` until `stop` turns true. A
/// failure is logged and retried at the next tick; meanwhile queries evaluate exactly.
pub fn spawn_timelines(store: Store, every: Duration, stop: watch::Receiver<bool>) -> JoinHandle<()> {
    spawn_every(every, stop, move || {
        let store = store.clone();
        async move {
            match renew_timelines_once(&store).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(renewed = n, "event timelines laid out"),
                Err(e) => tracing::warn!(error = %e, "laying out event timelines failed; retrying later"),
            }
        }
    })
}

/// Runs `job` now and every `every` until `stop` turns true (or its sender is gone).
fn spawn_every<F, Fut>(every: Duration, mut stop: watch::Receiver<bool>, mut job: F) -> JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => job().await,
                changed = stop.changed() => {
                    if changed.is_err() || *stop.borrow() {
                        break;
                    }
                }
            }
        }
    })
}
