//! Background loops that run beside the server and stop with it. Each is safe to run on every
//! node at once: the work is one store transaction that several nodes may repeat harmlessly.

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::store::{Store, StoreResult, SyncStore};

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

/// Runs `purge_once` every `every` until `stop` turns true. A failure is logged and retried at
/// the next tick: losing a round only keeps tombstones a little longer.
pub fn spawn_purge(store: Store, retention: Duration, every: Duration, mut stop: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => match purge_once(&store, retention).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(pruned = n, "sync tombstones pruned"),
                    Err(e) => tracing::warn!(error = %e, "pruning sync tombstones failed; retrying later"),
                },
                changed = stop.changed() => {
                    // A dropped sender also means the server is gone.
                    if changed.is_err() || *stop.borrow() {
                        break;
                    }
                }
            }
        }
    })
}
