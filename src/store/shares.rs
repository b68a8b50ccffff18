//! The store's side of calendars shared between users (issue 18, decision 0023): the share
//! rows binding an owner's collection into a sharee's home, and the sharee's view of it.

use std::future::Future;

use super::{Collection, CollectionId, Store, StoreResult, Timestamp, UserId};

/// What a sharee may do with a shared collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read the calendar and everything in it.
    Read,
    /// Read, and create, change and delete its objects.
    ReadWrite,
    /// Only free/busy (RFC 4791 §7.10 free-busy-query, CALDAV:read-free-busy §6.1.1).
    FreeBusy,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::ReadWrite => "read-write",
            Access::FreeBusy => "free-busy",
        }
    }

    pub fn parse(s: &str) -> Option<Access> {
        match s {
            "read" => Some(Access::Read),
            "read-write" => Some(Access::ReadWrite),
            "free-busy" => Some(Access::FreeBusy),
            _ => None,
        }
    }
}

/// How a sharee reaches another user's collection: set on the `Collection` a sharee locates
/// (whose `path` is then the share's segment in the sharee's home, and whose per-user
/// properties are the sharee's), None on an owner's own collections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareGrant {
    pub id: i64,
    pub access: Access,
    pub owner_name: String,
    pub owner_email: Option<String>,
    /// The collection's path in the owner's home.
    pub owner_path: String,
    /// The sharee's own per-user values as stored (the view's `props` show them laid over
    /// the owner's).
    pub per_user: ShareProps,
}

/// One share, as the CLI and the `CS:invite` property list them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Share {
    pub id: i64,
    pub collection: CollectionId,
    pub owner_name: String,
    /// The collection's path in the owner's home.
    pub path: String,
    pub sharee: UserId,
    pub sharee_name: String,
    pub sharee_email: Option<String>,
    pub access: Access,
    /// The share's name in the sharee's home.
    pub segment: String,
    pub created_at: Timestamp,
}

/// The sharee's own values of the per-user properties (caldav-sharing §5.5.3); None = as the
/// owner has it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShareProps {
    pub displayname: Option<String>,
    pub color: Option<String>,
    pub order: Option<String>,
    pub transparent: Option<bool>,
}

pub trait ShareStore {
    /// Shares `collection` with `sharee`, or changes the access of the share that exists (its
    /// segment and per-user properties stay). Returns the share and whether it is new.
    fn put_share(
        &self,
        collection: CollectionId,
        sharee: UserId,
        access: Access,
        segment: &str,
        now: Timestamp,
    ) -> impl Future<Output = StoreResult<(Share, bool)>> + Send;
    /// Removes the share; false when there was none.
    fn delete_share(&self, collection: CollectionId, sharee: UserId) -> impl Future<Output = StoreResult<bool>> + Send;
    /// The shares of the owner's collections, by path then sharee name.
    fn shares_by_owner(&self, owner: UserId) -> impl Future<Output = StoreResult<Vec<Share>>> + Send;
    /// The shares of one collection, by sharee name.
    fn shares_of(&self, collection: CollectionId) -> impl Future<Output = StoreResult<Vec<Share>>> + Send;
    /// The shares `sharee` received, by segment.
    fn shares_to(&self, sharee: UserId) -> impl Future<Output = StoreResult<Vec<Share>>> + Send;
    /// The sharee's views of the collections shared with them, by segment.
    fn shared_views(&self, sharee: UserId) -> impl Future<Output = StoreResult<Vec<Collection>>> + Send;
    /// The sharee's view of the share named `segment` in their home.
    fn shared_view(&self, sharee: UserId, segment: &str) -> impl Future<Output = StoreResult<Option<Collection>>> + Send;
    /// Replaces the sharee's per-user properties of share `id`. NotFound if it is gone.
    fn set_share_props(&self, id: i64, props: ShareProps) -> impl Future<Output = StoreResult<()>> + Send;
}

delegate!(ShareStore {
    fn put_share(&self, collection: CollectionId, sharee: UserId, access: Access, segment: &str, now: Timestamp) -> StoreResult<(Share, bool)>;
    fn delete_share(&self, collection: CollectionId, sharee: UserId) -> StoreResult<bool>;
    fn shares_by_owner(&self, owner: UserId) -> StoreResult<Vec<Share>>;
    fn shares_of(&self, collection: CollectionId) -> StoreResult<Vec<Share>>;
    fn shares_to(&self, sharee: UserId) -> StoreResult<Vec<Share>>;
    fn shared_views(&self, sharee: UserId) -> StoreResult<Vec<Collection>>;
    fn shared_view(&self, sharee: UserId, segment: &str) -> StoreResult<Option<Collection>>;
    fn set_share_props(&self, id: i64, props: ShareProps) -> StoreResult<()>;
});
