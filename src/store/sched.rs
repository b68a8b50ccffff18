//! The store's side of RFC 6638 scheduling: the boxes, recipients by address, a user's copies
//! of one UID, and the one transaction that writes a change together with every delivery it
//! causes (local copies, inbox messages, and messages queued for external recipients).

use std::future::Future;

use super::{
    Collection, CollectionId, CollectionKind, Expect, NewObject, PutOutcome, Store, StoreResult, StoredObject, Timestamp,
    User, UserId,
};

/// One write of a scheduling transaction.
#[derive(Debug, Clone)]
pub enum SchedWrite {
    /// Create or replace an object, as `put_object` does (same checks, same errors).
    Put { collection: CollectionId, object: NewObject, expect: Expect },
    /// Delete an object, as `delete_object` does.
    Delete { collection: CollectionId, name: String, expect: Expect },
    /// Add a message under a fresh random name (an inbox delivery): no checks, one INSERT.
    Deliver { collection: CollectionId, object: NewObject },
    /// Queue an iTIP message for a recipient outside this server. A REQUEST, or a CANCEL of the
    /// whole event, supersedes the pending REQUESTs of the same (owner, UID, recipient) that no
    /// worker holds.
    External(NewExternalItip),
    /// Record how a claimed external message's send ended; refused with NotFound when the
    /// claim is no longer held (its lease ran out and another worker took the row).
    Settle(ItipSettle),
}

impl SchedWrite {
    fn collection(&self) -> Option<CollectionId> {
        match self {
            SchedWrite::Put { collection, .. } | SchedWrite::Delete { collection, .. } | SchedWrite::Deliver { collection, .. } => {
                Some(*collection)
            }
            SchedWrite::External(_) | SchedWrite::Settle(_) => None,
        }
    }
}

/// The collections a batch writes, in the one order every writer locks them (ascending id), so
/// that two scheduling transactions between the same people never deadlock.
pub fn lock_order(writes: &[SchedWrite]) -> Vec<CollectionId> {
    let mut ids: Vec<CollectionId> = writes.iter().filter_map(SchedWrite::collection).collect();
    ids.sort();
    ids.dedup();
    ids
}

impl SchedWrite {
    /// Bytes this write adds that are known before it runs: a creation's or a delivery's size.
    pub fn known_bytes(&self) -> Option<(CollectionId, i64)> {
        let size = |o: &NewObject| i64::try_from(o.data.len()).unwrap_or(i64::MAX);
        match self {
            SchedWrite::Put { collection, object, expect: Expect::Absent } | SchedWrite::Deliver { collection, object } => {
                Some((*collection, size(object)))
            }
            _ => None,
        }
    }
}

/// What each write of a batch did, in the batch's order. Short-lived, one per write: the size
/// of `Put` against the others does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum SchedWritten {
    Put(PutOutcome),
    Deleted,
    Queued(i64),
    Settled,
}

/// The end of one send attempt of a claimed outbox row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItipSettle {
    pub id: i64,
    /// The token `claim_external` gave the row.
    pub claim: String,
    pub outcome: ItipOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItipOutcome {
    /// The SMTP server accepted it at this time.
    Sent { at: Timestamp },
    /// Try again at `at`: a transient failure (`error`), or a send limit reached (`counted`
    /// false: the claim's attempt is given back).
    Retry { at: Timestamp, error: Option<String>, counted: bool },
    /// Never to be sent (a permanent refusal, or too old).
    Failed { error: String },
}

/// The outbox at a glance, for logs and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxStats {
    /// Messages waiting (due or not, claimed or not).
    pub pending: i64,
    /// When the oldest waiting message was queued.
    pub oldest_pending: Option<Timestamp>,
    pub sent: i64,
    pub failed: i64,
    pub superseded: i64,
}

/// A row a worker holds until `lease_until`, proven by `claim`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedItip {
    pub item: ExternalItip,
    pub claim: String,
}

/// An iTIP message for a calendar user outside this server (RFC 6047 iMIP delivers it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewExternalItip {
    /// Whose change caused it.
    pub owner: UserId,
    /// The recipient's calendar user address (mailto:).
    pub recipient: String,
    pub method: String,
    pub uid: String,
    pub data: Vec<u8>,
}

/// A queued external message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalItip {
    pub id: i64,
    pub message: NewExternalItip,
    pub created_at: Timestamp,
    /// pending, sent, failed or superseded.
    pub state: String,
    /// Attempts so far, counting a claim that is in flight.
    pub attempts: i64,
    pub next_attempt_at: Timestamp,
    pub last_error: Option<String>,
    pub sent_at: Option<Timestamp>,
    pub kind: OutboxKind,
}

/// What an outbox row carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxKind {
    /// An iTIP message for a recipient outside (`data` is the iTIP text; the mail is built when
    /// sent, and its outcome becomes the recipient's SCHEDULE-STATUS).
    Itip,
    /// A reminder (issue 19): `data` is the whole email, built when the alarm fired.
    Reminder,
}

/// A calendar object of the owner's holding a UID (`uid_holders`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UidHolder {
    pub uid: String,
    pub collection: CollectionId,
    /// The calendar's path below the owner's home.
    pub path: String,
    pub name: String,
}

/// Where one recipient's deliveries go, read for all recipients of a change at once.
#[derive(Debug, Clone)]
pub struct DeliveryTarget {
    pub user: UserId,
    pub inbox: Option<Collection>,
    /// RFC 6638 §9.2: the inbox's default calendar while it takes events, else `calendar`,
    /// else their first calendar that takes events.
    pub default_calendar: Option<Collection>,
    /// Their copy of the UID, if any (the first by collection id).
    pub copy: Option<(Collection, StoredObject)>,
}

pub trait SchedStore {
    /// The owner's inbox or outbox (`kind` Inbox or Outbox).
    fn scheduling_box(
        &self,
        owner: UserId,
        kind: CollectionKind,
    ) -> impl Future<Output = StoreResult<Option<Collection>>> + Send;
    /// Users whose email address is `email`, compared without case.
    fn users_by_email(&self, email: &str) -> impl Future<Output = StoreResult<Vec<User>>> + Send;
    /// The owner's calendar objects with this UID, in all their calendars (RFC 6638 §3.2.4.1:
    /// one scheduling object resource per UID per user).
    fn objects_with_uid(
        &self,
        owner: UserId,
        uid: &str,
    ) -> impl Future<Output = StoreResult<Vec<(Collection, StoredObject)>>> + Send;
    /// Which of the owner's calendar objects hold any of these UIDs, in a few statements (256
    /// UIDs each): an import checks a whole file's UIDs against every calendar at once.
    fn uid_holders(&self, owner: UserId, uids: &[String]) -> impl Future<Output = StoreResult<Vec<UidHolder>>> + Send;
    /// All `writes` in one transaction, every collection locked first in `lock_order`. A
    /// refused write rolls everything back and comes back as `StoreError::InBatch` with its
    /// index.
    fn write_scheduling(
        &self,
        writes: Vec<SchedWrite>,
    ) -> impl Future<Output = StoreResult<Vec<SchedWritten>>> + Send;
    /// Users by any of these email addresses (without case), in one statement.
    fn users_by_emails(&self, emails: &[String]) -> impl Future<Output = StoreResult<Vec<User>>> + Send;
    /// Each user's inbox, default calendar and copy of `uid`, in three statements for all.
    fn delivery_targets(&self, users: &[UserId], uid: &str) -> impl Future<Output = StoreResult<Vec<DeliveryTarget>>> + Send;
    /// The users who keep a calendar object with this UID (at most 100), by id.
    fn owners_of_uid(&self, uid: &str) -> impl Future<Output = StoreResult<Vec<UserId>>> + Send;
    /// Pending external messages, oldest first.
    fn pending_external(&self, limit: u32) -> impl Future<Output = StoreResult<Vec<ExternalItip>>> + Send;
    /// Every external message of an owner (any state), oldest first: for tests and the admin.
    fn external_of(&self, owner: UserId) -> impl Future<Output = StoreResult<Vec<ExternalItip>>> + Send;
    /// Takes up to `limit` pending rows due at `now` (oldest due first) for one worker until
    /// `lease_until`, each with one more attempt; rows other workers hold are skipped, so
    /// several nodes drain one outbox without taking the same row.
    fn claim_external(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> impl Future<Output = StoreResult<Vec<ClaimedItip>>> + Send;
    /// Counts by state, and the oldest waiting message (one statement).
    fn outbox_stats(&self) -> impl Future<Output = StoreResult<OutboxStats>> + Send;
    /// Deletes settled messages (sent, failed, superseded) queued before `before`; returns how
    /// many. Pending ones stay whatever their age (the drain fails them at `max_age`).
    fn prune_external(&self, before: Timestamp) -> impl Future<Output = StoreResult<u64>> + Send;
    /// How many messages the owner had sent since each of the two times (per-organizer limits).
    fn external_sent_since(
        &self,
        owner: UserId,
        hour: Timestamp,
        day: Timestamp,
    ) -> impl Future<Output = StoreResult<(i64, i64)>> + Send;
}

delegate!(SchedStore {
    fn scheduling_box(&self, owner: UserId, kind: CollectionKind) -> StoreResult<Option<Collection>>;
    fn users_by_email(&self, email: &str) -> StoreResult<Vec<User>>;
    fn objects_with_uid(&self, owner: UserId, uid: &str) -> StoreResult<Vec<(Collection, StoredObject)>>;
    fn write_scheduling(&self, writes: Vec<SchedWrite>) -> StoreResult<Vec<SchedWritten>>;
    fn uid_holders(&self, owner: UserId, uids: &[String]) -> StoreResult<Vec<UidHolder>>;
    fn pending_external(&self, limit: u32) -> StoreResult<Vec<ExternalItip>>;
    fn owners_of_uid(&self, uid: &str) -> StoreResult<Vec<UserId>>;
    fn external_of(&self, owner: UserId) -> StoreResult<Vec<ExternalItip>>;
    fn claim_external(&self, now: Timestamp, lease_until: Timestamp, limit: u32) -> StoreResult<Vec<ClaimedItip>>;
    fn external_sent_since(&self, owner: UserId, hour: Timestamp, day: Timestamp) -> StoreResult<(i64, i64)>;
    fn outbox_stats(&self) -> StoreResult<OutboxStats>;
    fn prune_external(&self, before: Timestamp) -> StoreResult<u64>;
    fn users_by_emails(&self, emails: &[String]) -> StoreResult<Vec<User>>;
    fn delivery_targets(&self, users: &[UserId], uid: &str) -> StoreResult<Vec<DeliveryTarget>>;
});
