//! Free/busy of a calendar collection over a range (RFC 4791 §7.10): candidates from the time
//! index, busy periods from the calendar domain, merged; results cached under a key that
//! carries the collection's sync sequence, so any write to the calendar invalidates them.

use crate::calendar::filter::TimeRange;
use crate::calendar::freebusy::{self, Busy};
use crate::calendar::query::{QueryContext, QueryError};
use crate::store::{Collection, ObjectStore, Store};

use super::{ServiceError, ServiceResult};

/// A free/busy question about one collection.
#[derive(Debug, Clone, Copy)]
pub struct FreeBusyQuery<'a> {
    pub collection: &'a Collection,
    pub start: i64,
    pub end: i64,
    /// The calendar's zone, which reads all-day and floating events (RFC 4791 §7.3).
    pub zone: chrono_tz::Tz,
    pub max_instances: usize,
}

impl FreeBusyQuery<'_> {
    /// Everything the answer depends on besides the members themselves, which `sync_seq`
    /// stands for: it moves in every transaction that changes a member.
    pub fn cache_key(&self) -> String {
        let c = self.collection;
        format!("fb:v2:{}:{}:{}:{}:{}:{}", c.id.0, c.sync_seq, self.start, self.end, self.zone.name(), self.max_instances)
    }
}

/// The merged busy periods, computed from the store.
pub async fn compute(store: &Store, q: &FreeBusyQuery<'_>) -> ServiceResult<Vec<Busy>> {
    let range = TimeRange { start: Some(q.start), end: Some(q.end) };
    let candidates = store.objects_in_range(q.collection.id, None, Some(q.start), Some(q.end)).await?;
    let ctx = QueryContext { zone: q.zone, max_instances: q.max_instances };
    let mut periods = Vec::new();
    for object in candidates.iter().map(|c| &c.object) {
        match freebusy::object_busy(&object.data, &range, ctx) {
            Ok(found) => periods.extend(found),
            Err(QueryError::TooManyInstances) => return Err(ServiceError::TooManyInstances),
            // Validated on write; an object that no longer reads is older data. Leaving it out
            // is better than refusing everyone's free/busy over it.
            Err(QueryError::Unreadable(reason) | QueryError::Unsupported(reason)) => {
                tracing::warn!(object = %object.meta.name, %reason, "object left out of free/busy");
            }
        }
    }
    Ok(freebusy::merge(&periods, &range))
}
