//! Storage ports: the store's types, its capability-split traits, and the `Store` enum that picks
//! an engine (SQLite embedded default, PostgreSQL in production).
//!
//! Every write method is exactly one database transaction: a refused write leaves nothing behind.
//! The store never sees HTTP, XML or iCalendar text beyond opaque bytes plus the index facts that
//! `calendar/` computed from them.

use std::future::Future;

mod group_commit;
mod migrations;
mod pg_creations;
mod pg_readers;
mod pg_sched_gate;
mod pg_writers;
mod postgres;
mod retry;
mod sqlite;

/// A std mutex's guard, poisoned or not: the engines guard only stacks of idle connections,
/// pushed and popped, and PostgreSQL's map of write lines, which a panic elsewhere cannot leave
/// inconsistent.
fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The PostgreSQL server the engines' unit tests use, as the integration tests take it.
#[cfg(test)]
fn test_pg_url() -> String {
    std::env::var("KALENDS_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

pub use crate::calendar::{CalendarIndex, ComponentKind, ComponentSet, Timeline};

/// Seconds since the Unix epoch, UTC.
pub type Timestamp = i64;

macro_rules! id_newtype {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub i64);
    };
}
id_newtype!(
    /// A user, who is also a CalDAV principal.
    UserId
);
id_newtype!(
    /// A collection (calendar or plain WebDAV collection).
    CollectionId
);
id_newtype!(
    /// A resource inside a collection.
    ObjectId
);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A user or collection with that name/path exists already.
    #[error("already exists")]
    AlreadyExists,
    /// If-Match / If-None-Match did not hold inside the transaction.
    #[error("precondition failed")]
    PreconditionFailed,
    /// RFC 4791 §5.3.2 no-uid-conflict: another resource in the collection has this UID.
    #[error("UID already used by {existing_name}")]
    UidConflict { existing_name: String },
    /// RFC 4791 §5.3.2.1 no-uid-conflict: the write would replace object `name` with one of
    /// another UID.
    #[error("{name} holds another UID")]
    UidReplaced { name: String },
    /// RFC 6578 §3.2: the token is unknown, from another collection, or older than the retention.
    #[error("invalid sync token")]
    InvalidSyncToken,
    /// A COPY or MOVE whose destination is the source itself, lies inside it, or contains it
    /// (RFC 4918 §9.8.5, §9.9.4: 403).
    #[error("the destination overlaps the source")]
    Overlap,
    /// A plain write would replace a scheduling object (one with a Schedule-Tag); the caller
    /// writes it as a scheduling change instead.
    #[error("the object is a scheduling object")]
    SchedulingObject,
    /// A write of a scheduling batch was refused; the whole batch rolled back.
    #[error("write {index} of the batch: {error}")]
    InBatch { index: usize, error: Box<StoreError> },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The connection broke during COMMIT: the write may or may not have happened (retry.rs).
    #[error("the database connection broke during commit: {0}")]
    CommitUnknown(sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CollectionKind {
    /// RFC 4791 calendar collection: holds only calendar object resources.
    Calendar,
    /// Plain WebDAV collection (RFC 4918): any resources and sub-collections.
    Plain,
    /// RFC 6638 §2.2 scheduling inbox: iTIP messages delivered to the owner, who may read and
    /// delete them; only the server writes them.
    Inbox,
    /// RFC 6638 §2.1 scheduling outbox: the target of free/busy POSTs; it holds nothing.
    Outbox,
}

impl CollectionKind {
    /// The RFC 6638 inbox or outbox: the server keeps them; clients cannot create, delete,
    /// move, copy over or write into them.
    pub fn is_scheduling_box(self) -> bool {
        matches!(self, CollectionKind::Inbox | CollectionKind::Outbox)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadProp {
    pub namespace: String,
    pub name: String,
    /// The whole property element as self-contained XML (namespace declarations included).
    pub xml: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collection {
    pub id: CollectionId,
    pub owner: UserId,
    /// None for a collection directly in the owner's home.
    pub parent: Option<CollectionId>,
    /// Path below the owner's home, segments joined by '/', no leading or trailing slash
    /// (e.g. "default" or "litmus/sub"). Segments are stored decoded.
    pub path: String,
    pub kind: CollectionKind,
    pub props: CollectionProps,
    /// Bumped in every transaction that changes a member; the base of getctag and sync-token.
    pub sync_seq: i64,
    pub created_at: Timestamp,
    pub modified_at: Timestamp,
    /// Set when a sharee reached another user's collection through a share: `path` is then
    /// the share's segment in the sharee's home and the per-user properties of `props` are the
    /// sharee's (decision 0023). None for a collection seen by its owner.
    pub share: Option<ShareGrant>,
}

impl Collection {
    /// The collection as its owner sees it: the owner's path (and no grant). What a service
    /// acting for the owner, such as scheduling, must work on. The per-user properties stay
    /// the sharee's; nothing acting for the owner writes them back.
    pub fn as_owner(&self) -> Collection {
        match &self.share {
            None => self.clone(),
            Some(grant) => Collection { path: grant.owner_path.clone(), share: None, ..self.clone() },
        }
    }
}

/// The live properties a collection keeps (all optional; clients set them by PROPPATCH/MKCALENDAR).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CollectionProps {
    pub displayname: Option<String>,
    pub description: Option<String>,
    /// RFC 4791 §5.2.2: a VCALENDAR text with one VTIMEZONE.
    pub timezone: Option<String>,
    /// Apple calendar-color, e.g. "#FF2968FF".
    pub color: Option<String>,
    /// Apple calendar-order (an integer, kept as the client's text).
    pub order: Option<String>,
    pub components: ComponentSet,
    /// RFC 6638 §9.1 schedule-calendar-transp: a transparent calendar does not count for
    /// free/busy lookups.
    pub transparent: bool,
    /// On the inbox: RFC 6638 §9.2 schedule-default-calendar-URL, where invitations land.
    pub default_calendar: Option<CollectionId>,
}

#[derive(Debug, Clone)]
pub struct NewCollection {
    pub owner: UserId,
    pub parent: Option<CollectionId>,
    pub path: String,
    pub kind: CollectionKind,
    pub props: CollectionProps,
    pub dead_props: Vec<DeadProp>,
}

/// An atomic change to a collection's properties (PROPPATCH): applied all together or not at all.
#[derive(Debug, Clone, Default)]
pub struct CollectionPatch {
    /// The new live properties (the caller merges the patch into the current ones).
    pub props: Option<CollectionProps>,
    pub set_dead: Vec<DeadProp>,
    /// (namespace, name)
    pub remove_dead: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    pub id: ObjectId,
    pub collection: CollectionId,
    /// The last path segment, decoded.
    pub name: String,
    /// Strong ETag including the quotes, e.g. "\"3f2a…\"".
    pub etag: String,
    pub content_type: String,
    pub size: i64,
    /// Present for calendar object resources.
    pub calendar: Option<CalendarIndex>,
    pub created_at: Timestamp,
    pub modified_at: Timestamp,
    /// The collection sync_seq of this object's last change.
    pub sync_seq: i64,
    /// RFC 6638 §3.2.10: set on scheduling objects.
    pub schedule_tag: Option<String>,
}

/// What a listing of members shows of each one: the sources of its live properties, without the
/// calendar index facts. A Depth-1 PROPFIND reads only these, so each row it streams is about
/// half as wide as an `ObjectMeta`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedObject {
    /// The last path segment, decoded.
    pub name: String,
    /// Strong ETag including the quotes.
    pub etag: String,
    pub content_type: String,
    pub size: i64,
    pub created_at: Timestamp,
    pub modified_at: Timestamp,
    pub schedule_tag: Option<String>,
}

impl From<&ObjectMeta> for ListedObject {
    fn from(m: &ObjectMeta) -> Self {
        ListedObject {
            name: m.name.clone(),
            etag: m.etag.clone(),
            content_type: m.content_type.clone(),
            size: m.size,
            created_at: m.created_at,
            modified_at: m.modified_at,
            schedule_tag: m.schedule_tag.clone(),
        }
    }
}

/// A member with its bytes, as reports write it (calendar-multiget, sync-collection with
/// calendar-data): what a listing shows of it, whether it is a calendar object resource, and
/// exactly the bytes the client sent: eight columns where a full object row has fourteen, and
/// sqlx copies every column value of every row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberData {
    pub member: ListedObject,
    pub calendar: bool,
    pub data: Vec<u8>,
}

/// Receives each listed member in turn; an error stops the listing and is returned by it.
pub type MemberVisitor<'a> = dyn FnMut(ListedObject) -> StoreResult<()> + Send + 'a;

#[derive(Debug, Clone)]
pub struct StoredObject {
    pub meta: ObjectMeta,
    /// Exactly the bytes the client sent.
    pub data: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct NewObject {
    pub name: String,
    pub data: Vec<u8>,
    pub content_type: String,
    pub etag: String,
    pub calendar: Option<CalendarIndex>,
    /// The event's instance timeline, stored beside the index facts.
    pub timeline: Option<Timeline>,
    /// RFC 6638 §3.2.10: the Schedule-Tag of a scheduling object; None for others.
    pub schedule_tag: Option<String>,
    /// Its reminder schedule (issue 19), stored in the same transaction.
    pub alarms: ObjectAlarms,
}

/// A time-range candidate: the object and, when it has one, its stored instance timeline.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub object: StoredObject,
    pub timeline: Option<Timeline>,
}

/// What a collection COPY or MOVE takes along (RFC 4918 §9.8.3, §9.9.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CollectionTransferKind {
    /// COPY with Depth: infinity: the collection, its members and every descendant collection.
    CopyDeep,
    /// COPY with Depth: 0: the collection and its properties, no members.
    CopyShallow,
    /// MOVE: the collection and everything below it change place and keep their ids.
    Move,
}

/// A collection COPY or MOVE, applied in one transaction.
#[derive(Debug, Clone)]
pub struct CollectionTransfer {
    pub source: CollectionId,
    /// The destination's parent collection; None = the owner's home.
    pub dest_parent: Option<CollectionId>,
    /// The destination's last path segment, decoded.
    pub dest_name: String,
    /// Overwrite: T replaces whatever stands at the destination, collection or object
    /// (RFC 4918 §9.8.4: as a DELETE with Depth: infinity first); F refuses it.
    pub overwrite: bool,
    pub kind: CollectionTransferKind,
}

/// What must hold about the target before a write (RFC 4918 §10.4, RFC 7232).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// No condition.
    Any,
    /// If-None-Match: * — the resource must not exist.
    Absent,
    /// If-Match: * — the resource must exist.
    Present,
    /// If-Match: "etag" — the resource must exist with this ETag (one of these ETags).
    Etag(Vec<String>),
    /// If-None-Match: "etag" — the resource must not have any of these ETags.
    NotEtag(Vec<String>),
}

/// `ObjectStore::member_meta`'s answer: the collection, its member of that name if any, and
/// what a write there needs next (each a statement saved on the write path).
#[derive(Debug, Clone)]
pub struct Member {
    pub collection: Collection,
    pub object: Option<ObjectMeta>,
    /// A child collection has the member's name.
    pub child_collection: bool,
    /// The owner's home has lock rows (maybe expired); false means no lock applies there.
    pub home_locked: bool,
    /// The owner's used bytes (`UserStore::used_bytes`), for a write's quota check.
    pub used_bytes: i64,
}

#[derive(Debug, Clone)]
pub struct PutOutcome {
    pub created: bool,
    pub meta: ObjectMeta,
}

pub trait CollectionStore {
    /// AlreadyExists when the path is taken (by a collection or, in the parent, an object).
    fn create_collection(
        &self,
        new: NewCollection,
    ) -> impl Future<Output = StoreResult<Collection>> + Send;
    fn collection_by_path(
        &self,
        owner: UserId,
        path: &str,
    ) -> impl Future<Output = StoreResult<Option<Collection>>> + Send;
    fn collection_by_id(
        &self,
        id: CollectionId,
    ) -> impl Future<Output = StoreResult<Option<Collection>>> + Send;
    /// Direct children: collections whose parent is `parent` (None = the home's top level).
    fn child_collections(
        &self,
        owner: UserId,
        parent: Option<CollectionId>,
    ) -> impl Future<Output = StoreResult<Vec<Collection>>> + Send;
    /// Atomic PROPPATCH; bumps modified_at. NotFound if the collection is gone.
    fn patch_collection(
        &self,
        id: CollectionId,
        patch: CollectionPatch,
    ) -> impl Future<Output = StoreResult<Collection>> + Send;
    fn collection_dead_props(
        &self,
        id: CollectionId,
    ) -> impl Future<Output = StoreResult<Vec<DeadProp>>> + Send;
    /// Deletes the collection, its descendants and their objects.
    fn delete_collection(&self, id: CollectionId) -> impl Future<Output = StoreResult<()>> + Send;
    /// Copies or moves a collection subtree to `dest_parent`/`dest_name` of the same owner, in
    /// one transaction. Returns whether the destination was created (vs replaced).
    /// PreconditionFailed: something stands there and `overwrite` is false. Overlap: the
    /// destination is the source, inside it, or an ancestor of it. NotFound: the source or
    /// the destination's parent is gone (or belongs to someone else). Dead properties travel
    /// with the collections and their members; copied members get the new collection's seq.
    fn transfer_collection(
        &self,
        transfer: CollectionTransfer,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Sum of the object sizes in the collection at `path` and every collection below it.
    fn subtree_bytes(&self, owner: UserId, path: &str) -> impl Future<Output = StoreResult<i64>> + Send;
}

pub trait ObjectStore {
    /// The collection at `path` of `owner` and its member `name`, in one lookup (what locating
    /// `…/path/name` needs): None if there is no such collection; the object is None if the
    /// collection has no member of that name.
    fn member_meta(
        &self,
        owner: UserId,
        path: &str,
        name: &str,
    ) -> impl Future<Output = StoreResult<Option<Member>>> + Send;
    /// `member_meta` with the object's bytes (a GET).
    fn member_data(
        &self,
        owner: UserId,
        path: &str,
        name: &str,
    ) -> impl Future<Output = StoreResult<Option<(Collection, Option<StoredObject>)>>> + Send;
    fn object_meta(
        &self,
        collection: CollectionId,
        name: &str,
    ) -> impl Future<Output = StoreResult<Option<ObjectMeta>>> + Send;
    fn object(
        &self,
        collection: CollectionId,
        name: &str,
    ) -> impl Future<Output = StoreResult<Option<StoredObject>>> + Send;
    /// Objects by name, in one query (multiget), ordered by name and each once; missing names
    /// are simply absent.
    fn objects_by_names(
        &self,
        collection: CollectionId,
        names: &[String],
    ) -> impl Future<Output = StoreResult<Vec<MemberData>>> + Send;
    /// All members' metadata, ordered by name (Depth-1 PROPFIND).
    fn list_objects(
        &self,
        collection: CollectionId,
    ) -> impl Future<Output = StoreResult<Vec<ObjectMeta>>> + Send;
    /// Every member, ordered by name, handed to `visit` as it is read, so a listing of 25,000
    /// members never holds them all (Depth-1 PROPFIND). One statement: one snapshot. Returns
    /// how many were visited.
    fn list_members(
        &self,
        collection: CollectionId,
        visit: &mut MemberVisitor<'_>,
    ) -> impl Future<Output = StoreResult<usize>> + Send;
    /// How many members the collection has now (a size hint for listings).
    fn member_count(&self, collection: CollectionId) -> impl Future<Output = StoreResult<usize>> + Send;
    /// All members with data, ordered by name (calendar export).
    fn list_objects_with_data(
        &self,
        collection: CollectionId,
    ) -> impl Future<Output = StoreResult<Vec<StoredObject>>> + Send;
    /// Calendar objects whose [first_start, last_end) may overlap [start, end) (NULL = unbounded),
    /// optionally of one component kind, with their timelines. A candidate list from the
    /// index, not an exact answer.
    fn objects_in_range(
        &self,
        collection: CollectionId,
        component: Option<ComponentKind>,
        start: Option<Timestamp>,
        end: Option<Timestamp>,
    ) -> impl Future<Output = StoreResult<Vec<Candidate>>> + Send;
    /// Create or replace, checking `expect` and UID uniqueness inside the transaction; bumps the
    /// collection's sync_seq and clears any tombstone for the name.
    fn put_object(
        &self,
        collection: CollectionId,
        object: NewObject,
        expect: Expect,
    ) -> impl Future<Output = StoreResult<PutOutcome>> + Send;
    /// Delete, checking `expect`; leaves a tombstone. NotFound if absent.
    fn delete_object(
        &self,
        collection: CollectionId,
        name: &str,
        expect: Expect,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Copy (keep_source) or move an object to `dest`/`dest_name` in one transaction.
    /// `overwrite=false` and an existing target (object or child collection): PreconditionFailed.
    /// `overwrite=true` replaces it; a child collection goes with everything below it, unless
    /// the source lives there (Overlap). Returns whether the target was created (vs replaced).
    /// UID conflicts in the target are checked as for put_object.
    fn transfer_object(
        &self,
        source: CollectionId,
        name: &str,
        dest: CollectionId,
        dest_name: &str,
        overwrite: bool,
        keep_source: bool,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    fn object_dead_props(
        &self,
        id: ObjectId,
    ) -> impl Future<Output = StoreResult<Vec<DeadProp>>> + Send;
    /// Atomic dead-property PROPPATCH on an object.
    fn patch_object_props(
        &self,
        id: ObjectId,
        set: Vec<DeadProp>,
        remove: Vec<(String, String)>,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}

/// The engine in use, chosen once in `app.rs`; handlers and services are not generic over it.
#[derive(Clone)]
pub enum Store {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

impl Store {
    /// Opens (creating if needed) and migrates the database named by `url`:
    /// `sqlite://path` / `sqlite:path` or `postgres://…` / `postgresql://…`.
    pub async fn open(url: &str) -> StoreResult<Store> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Store::Postgres(PgStore::open(url).await?))
        } else {
            Ok(Store::Sqlite(SqliteStore::open(url).await?))
        }
    }

    pub fn engine(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    /// Committed groups of writes and the writes in them (group commit): every write on
    /// SQLite, the PUTs on PostgreSQL (one line per calendar; its other writes commit one by
    /// one).
    pub fn write_groups(&self) -> (u64, u64) {
        match self {
            Store::Sqlite(s) => s.write_stats(),
            Store::Postgres(s) => s.write_stats(),
        }
    }

    /// Whether the database answers a cheap statement on the migrated schema (`/readyz`).
    pub async fn ping(&self) -> StoreResult<()> {
        match self {
            Store::Sqlite(s) => s.ping().await,
            Store::Postgres(s) => {
                let answer = s.ping().await;
                // Not a retried call, so it marks a broken connection itself: the read
                // connections are then checked before use and the broken ones replaced.
                if answer.as_ref().is_err_and(StoreError::is_unavailable) {
                    s.suspect_connections();
                }
                answer
            }
        }
    }
}

/// Implements a store trait for `Store` by forwarding each method to the engine. On PostgreSQL
/// a call whose transaction surely did not commit (a lost connection, a serialization failure)
/// runs again, a bounded number of times (retry.rs); a method marked `#[once]` hands rows to
/// the caller as they come, which a second run would repeat, and is never retried.
macro_rules! delegate {
    ($trait:ident { $($(#[$once:ident])? fn $m:ident(&self $(, $a:ident : $t:ty)*) -> $r:ty;)* }) => {
        impl $trait for Store {
            $(
                async fn $m(&self $(, $a: $t)*) -> $r {
                    match self {
                        Store::Sqlite(s) => s.$m($($a),*).await,
                        Store::Postgres(s) => delegate!(@pg $($once)? s.$m($($a),*)),
                    }
                }
            )*
        }
    };
    (@pg once $s:ident.$m:ident($($a:ident),*)) => {{
        let answer = $s.$m($($a),*).await;
        if answer.as_ref().is_err_and(StoreError::is_unavailable) {
            $s.suspect_connections();
        }
        answer
    }};
    (@pg $s:ident.$m:ident($($a:ident),*)) => {
        $crate::store::retry::retried(|| $s.suspect_connections(), move || $s.$m($($crate::store::retry::Again::again(&$a)),*)).await
    };
}

delegate!(CollectionStore {
    fn create_collection(&self, new: NewCollection) -> StoreResult<Collection>;
    fn collection_by_path(&self, owner: UserId, path: &str) -> StoreResult<Option<Collection>>;
    fn collection_by_id(&self, id: CollectionId) -> StoreResult<Option<Collection>>;
    fn child_collections(&self, owner: UserId, parent: Option<CollectionId>) -> StoreResult<Vec<Collection>>;
    fn patch_collection(&self, id: CollectionId, patch: CollectionPatch) -> StoreResult<Collection>;
    fn collection_dead_props(&self, id: CollectionId) -> StoreResult<Vec<DeadProp>>;
    fn delete_collection(&self, id: CollectionId) -> StoreResult<()>;
    fn transfer_collection(&self, transfer: CollectionTransfer) -> StoreResult<bool>;
    fn subtree_bytes(&self, owner: UserId, path: &str) -> StoreResult<i64>;
});

delegate!(ObjectStore {
    fn member_meta(&self, owner: UserId, path: &str, name: &str) -> StoreResult<Option<Member>>;
    fn member_data(&self, owner: UserId, path: &str, name: &str) -> StoreResult<Option<(Collection, Option<StoredObject>)>>;
    fn object_meta(&self, collection: CollectionId, name: &str) -> StoreResult<Option<ObjectMeta>>;
    fn object(&self, collection: CollectionId, name: &str) -> StoreResult<Option<StoredObject>>;
    fn objects_by_names(&self, collection: CollectionId, names: &[String]) -> StoreResult<Vec<MemberData>>;
    fn list_objects(&self, collection: CollectionId) -> StoreResult<Vec<ObjectMeta>>;
    #[once]
    fn list_members(&self, collection: CollectionId, visit: &mut MemberVisitor<'_>) -> StoreResult<usize>;
    fn member_count(&self, collection: CollectionId) -> StoreResult<usize>;
    fn list_objects_with_data(&self, collection: CollectionId) -> StoreResult<Vec<StoredObject>>;
    fn objects_in_range(&self, collection: CollectionId, component: Option<ComponentKind>, start: Option<Timestamp>, end: Option<Timestamp>) -> StoreResult<Vec<Candidate>>;
    fn put_object(&self, collection: CollectionId, object: NewObject, expect: Expect) -> StoreResult<PutOutcome>;
    fn delete_object(&self, collection: CollectionId, name: &str, expect: Expect) -> StoreResult<()>;
    fn transfer_object(&self, source: CollectionId, name: &str, dest: CollectionId, dest_name: &str, overwrite: bool, keep_source: bool) -> StoreResult<bool>;
    fn object_dead_props(&self, id: ObjectId) -> StoreResult<Vec<DeadProp>>;
    fn patch_object_props(&self, id: ObjectId, set: Vec<DeadProp>, remove: Vec<(String, String)>) -> StoreResult<()>;
});

mod users;
pub use users::{NewUser, User, UserStore};
mod sync;
pub use sync::{SyncDelta, SyncStore};
mod rsvp;
pub use rsvp::{RsvpKey, RsvpStore};
mod shares;
pub use shares::{Access, Share, ShareGrant, ShareProps, ShareStore};
mod sched;
pub use sched::{ClaimedItip, DeliveryTarget, ExternalItip, ItipOutcome, ItipSettle, NewExternalItip, OutboxKind, OutboxStats, SchedStore, SchedWrite, SchedWritten, UidHolder, lock_order};
mod app_passwords;
pub use app_passwords::{AppPassword, AppPasswordStore, NewAppPassword};
mod alarms;
pub use alarms::{AlarmDecision, AlarmDelivery, AlarmRound, AlarmSlot, AlarmStore, BackfillObject, Decide, DueAlarm, FireOutcome, FireRecord, ObjectAlarms};
mod feeds;
pub use feeds::{FeedId, FeedLink, FeedStore, NewFeedLink};
mod locks;
pub use locks::{Lock, LockRefused, LockStore, NewLock, at_or_below};
mod web;
pub use web::{ImportJob, NewWebSession, WebSession, WebStore};
