//! The store's side of sync (RFC 6578): deltas since a token, tombstone pruning, and the
//! timeline worker's calls, as `SyncStore`.

use std::future::Future;

use super::{Collection, CollectionId, ObjectId, ObjectMeta, Store, StoreResult, StoredObject, Timeline, Timestamp, UserId};

/// RFC 6578 changes since a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncDelta {
    /// Members changed (created or modified) after the token, ordered by sync_seq.
    pub changed: Vec<ObjectMeta>,
    /// Names deleted after the token (tombstones); empty for an initial sync.
    pub removed: Vec<String>,
    /// The token to hand back: the seq up to which this delta is complete.
    pub seq: i64,
    /// True when `limit` cut the delta short (RFC 6578 §3.6: answer 507 and continue from `seq`).
    pub truncated: bool,
}

pub trait SyncStore {
    /// RFC 6578: `since` None = initial sync (all members, no tombstones). `limit` caps the
    /// number of entries (changed + removed); when hit, `truncated` is set and `seq` is the
    /// seq of the last entry returned. InvalidSyncToken when `since` is below the retention
    /// floor or above the collection's current seq.
    fn changes_since(
        &self,
        collection: CollectionId,
        since: Option<i64>,
        limit: Option<usize>,
    ) -> impl Future<Output = StoreResult<SyncDelta>> + Send;
    /// The collection at `owner`'s `path` and, in the same snapshot, its delta since a token's
    /// seq, as `changes_since` gives it: the sync REPORT's store work in one lookup. None when
    /// no collection is there; the delta is None when the token (its collection's id and seq)
    /// is not one of this collection's that can still be answered.
    fn delta_at_path(
        &self,
        owner: UserId,
        path: &str,
        token: (CollectionId, i64),
        limit: Option<usize>,
    ) -> impl Future<Output = StoreResult<Option<(Collection, Option<SyncDelta>)>>> + Send;
    /// Drops tombstones older than `before` and raises the collection's token floor to match.
    fn prune_tombstones(&self, before: Timestamp) -> impl Future<Output = StoreResult<u64>> + Send;
    /// Up to `limit` objects whose timeline horizon lies before `before` (or that have not
    /// had a timeline laid out yet), in id order.
    fn timelines_due(&self, before: Timestamp, limit: u32) -> impl Future<Output = StoreResult<Vec<StoredObject>>> + Send;
    /// Replaces the timeline of object `id` if its ETag is still `etag`, without touching its
    /// content, ETag or sync seq (the timeline is derived from the bytes). False when the
    /// object changed or went meanwhile: its writer stored a fresh timeline.
    fn set_timeline(&self, id: ObjectId, etag: &str, timeline: Option<Timeline>) -> impl Future<Output = StoreResult<bool>> + Send;
}

delegate!(SyncStore {
    fn changes_since(&self, collection: CollectionId, since: Option<i64>, limit: Option<usize>) -> StoreResult<SyncDelta>;
    fn delta_at_path(&self, owner: UserId, path: &str, token: (CollectionId, i64), limit: Option<usize>) -> StoreResult<Option<(Collection, Option<SyncDelta>)>>;
    fn prune_tombstones(&self, before: Timestamp) -> StoreResult<u64>;
    fn timelines_due(&self, before: Timestamp, limit: u32) -> StoreResult<Vec<StoredObject>>;
    fn set_timeline(&self, id: ObjectId, etag: &str, timeline: Option<Timeline>) -> StoreResult<bool>;
});

