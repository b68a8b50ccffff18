//! The reminder sender (issue 19): sleeps until the earliest due schedule row (or until a write
//! on this node stores an earlier one, or `max_sleep` for writes on other nodes), then hands
//! every due fire to the iMIP outbox through `service::reminders::fire_once`. Safe on every
//! node at once: a round locks the rows it takes, and a delivery's UNIQUE key stops a second
//! send. At start-up it first schedules objects stored before reminders existed.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::service::reminders::{ReminderSettings, Sender, backfill_once, fire_once, optout};
use crate::store::{AlarmStore, Store, Timestamp};

/// After a failed round or a round that left due rows (held by another node), look again this
/// soon.
const RETRY: Duration = Duration::from_secs(1);

/// After a round that failed (the store unreachable): not sooner than this.
const FAILED_RETRY: Duration = Duration::from_secs(5);

/// How long to sleep at `now` before the next round, given the earliest due time stored.
pub fn sleep_for(earliest: Option<Timestamp>, now: Timestamp, max: Duration) -> Duration {
    match earliest {
        None => max,
        Some(t) if t <= now => RETRY,
        Some(t) => Duration::from_secs(u64::try_from(t - now).unwrap_or(u64::MAX)).min(max),
    }
}

/// Runs the sender until `stop` turns true. `wake` is notified by writes that store a due
/// time sooner than the sender's sleep.
pub fn spawn_reminders(
    store: Store,
    settings: ReminderSettings,
    mut sender: Sender,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        match backfill_once(&store, crate::service::now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(scheduled = n, "reminders: objects stored before reminders existed are scheduled"),
            Err(e) => tracing::warn!(error = %e, "reminders: scheduling older objects failed; it is tried again at the next start"),
        }
        loop {
            if sender.key.is_none() && settings.public_url.is_some() {
                sender.key = optout::key(&store).await.ok();
            }
            let now = crate::service::now();
            let pause = match fire_once(&store, &settings, &sender, now).await {
                Ok(round) => {
                    if round.rows > 0 {
                        tracing::info!(
                            objects = round.rows, queued = round.queued, mails = round.mails, late = round.late,
                            capped = round.capped, unaddressed = round.unaddressed, "reminders round"
                        );
                    }
                    match store.earliest_alarm().await {
                        Ok(earliest) => sleep_for(earliest, crate::service::now(), settings.max_sleep),
                        Err(e) => {
                            tracing::warn!(error = %e, "reminders: reading the next due time failed");
                            RETRY
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "reminders round failed; retrying");
                    FAILED_RETRY
                }
            };
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = wake.notified() => {}
                changed = stop.changed() => {
                    if changed.is_err() || *stop.borrow() {
                        break;
                    }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sender_sleeps_until_the_earliest_due_time_within_its_bound() {
        let max = Duration::from_secs(30);
        assert_eq!(sleep_for(None, 100, max), max);
        assert_eq!(sleep_for(Some(107), 100, max), Duration::from_secs(7));
        assert_eq!(sleep_for(Some(1_000), 100, max), max);
        // Due already (held by another node's round): soon again, not in a spin.
        assert_eq!(sleep_for(Some(100), 100, max), RETRY);
        assert_eq!(sleep_for(Some(50), 100, max), RETRY);
    }
}
