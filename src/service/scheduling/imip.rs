//! After an iMIP send attempt (RFC 6047): the outbox row settled and the recipient's
//! SCHEDULE-STATUS on the sender's copy of the event (RFC 6638 §3.2.9: 1.1 sent, 5.x failed),
//! written together as one scheduling transaction.

use crate::calendar::timeline::HORIZON_SECONDS;
use crate::calendar::{Indexed, ValidateOptions, index_object};
use crate::sched::{Address, ScheduleStatus, set_schedule_status};
use crate::service::ServiceResult;
use crate::service::objects::etag_of;
use crate::store::{ClaimedItip, Expect, ItipOutcome, ItipSettle, NewObject, SchedStore, SchedWrite, Store, StoreError};

/// How often the status write is planned again when the copy changed under it.
const ATTEMPTS: usize = 4;

/// Settles `claimed` with `outcome`, and writes `status` for its recipient on the owner's copy
/// of the UID when there is one. The Schedule-Tag is kept: a status is the server's note, not a
/// change by the organizer (RFC 6638 §3.2.10, as for a REPLY). Returns false when the claim was
/// lost (the lease ran out and another worker holds the row): then nothing was written.
pub async fn settle(
    store: &Store,
    opts: &ValidateOptions,
    claimed: &ClaimedItip,
    outcome: ItipOutcome,
    status: Option<ScheduleStatus>,
) -> ServiceResult<bool> {
    let settle = SchedWrite::Settle(ItipSettle { id: claimed.item.id, claim: claimed.claim.clone(), outcome });
    if let Some(status) = status {
        for _ in 0..ATTEMPTS {
            let Some(write) = status_write(store, opts, claimed, status).await? else { break };
            match store.write_scheduling(vec![write, settle.clone()]).await {
                Ok(_) => return Ok(true),
                Err(StoreError::InBatch { index: 1, error }) if matches!(*error, StoreError::NotFound) => return Ok(false),
                // The copy changed (or went) between read and write: read it again.
                Err(StoreError::InBatch { index: 0, error })
                    if matches!(*error, StoreError::PreconditionFailed | StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    // No copy, no change to it, or it kept changing: the row alone. The status is a note for
    // the organizer; the send itself must not be repeated for want of it.
    match store.write_scheduling(vec![settle]).await {
        Ok(_) => Ok(true),
        Err(StoreError::InBatch { error, .. }) if matches!(*error, StoreError::NotFound) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// The owner's copy with the recipient's SCHEDULE-STATUS set, as a write expecting the ETag it
/// was read with; None when there is no copy or the status is already there.
async fn status_write(
    store: &Store,
    opts: &ValidateOptions,
    claimed: &ClaimedItip,
    status: ScheduleStatus,
) -> ServiceResult<Option<SchedWrite>> {
    let m = &claimed.item.message;
    let copies = store.objects_with_uid(m.owner, &m.uid).await?;
    // RFC 6638 §3.2.4.1: one scheduling object per UID per user; the first is the one.
    let Some((collection, object)) = copies.into_iter().next() else { return Ok(None) };
    let text = String::from_utf8_lossy(&object.data);
    let marked = set_schedule_status(&text, &[(Address::new(&m.recipient), status)]);
    if marked == text {
        return Ok(None);
    }
    let data = marked.into_bytes();
    let horizon = crate::service::now().saturating_add(HORIZON_SECONDS);
    let Indexed { index, timeline } = index_object(&data, opts, horizon)?;
    let alarms = crate::service::reminders::object_alarms(&data, &collection, crate::service::now());
    let new = NewObject {
        name: object.meta.name.clone(),
        etag: etag_of(&data),
        data,
        content_type: object.meta.content_type.clone(),
        calendar: Some(index),
        timeline,
        schedule_tag: object.meta.schedule_tag.clone(),
        alarms,
    };
    Ok(Some(SchedWrite::Put { collection: collection.id, object: new, expect: Expect::Etag(vec![object.meta.etag]) }))
}
