//! The store's side of feed links (issue 18, decision 0022): each link's settings and the
//! SHA-256 of its token, never the token itself.

use std::future::Future;

use super::{Collection, CollectionId, Store, StoreResult, Timestamp, UserId};
use crate::feed::FeedSettings;

/// A feed link's id: what the owner names it by (`kalends feed revoke ID`); not a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FeedId(pub i64);

/// A feed link as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedLink {
    pub id: FeedId,
    pub collection: CollectionId,
    /// The calendar's owner and its path below the owner's home, for listings.
    pub owner: UserId,
    pub calendar_path: String,
    pub label: String,
    pub settings: FeedSettings,
    /// After this instant the link answers 404.
    pub expires_at: Option<Timestamp>,
    pub created_at: Timestamp,
    /// When a subscriber last read it, to within an hour.
    pub last_used_at: Option<Timestamp>,
    /// Until when the token this link's last rotation replaced still works.
    pub previous_until: Option<Timestamp>,
}

/// A link to create.
#[derive(Debug, Clone)]
pub struct NewFeedLink {
    pub collection: CollectionId,
    pub token_hash: Vec<u8>,
    pub label: String,
    pub settings: FeedSettings,
    pub expires_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

pub trait FeedStore {
    fn create_feed(&self, new: NewFeedLink) -> impl Future<Output = StoreResult<FeedLink>> + Send;
    /// The links of every calendar `owner` owns, by id.
    fn feeds_of_owner(&self, owner: UserId) -> impl Future<Output = StoreResult<Vec<FeedLink>>> + Send;
    fn feed_by_id(&self, id: FeedId) -> impl Future<Output = StoreResult<Option<FeedLink>>> + Send;
    /// The link whose token hashes to `hash` (or whose replaced token does, until its grace
    /// ends after `now`), with its calendar, in one statement: a feed request's only query.
    fn feed_by_token(&self, hash: &[u8], now: Timestamp) -> impl Future<Output = StoreResult<Option<(FeedLink, Collection)>>> + Send;
    /// False when there was no such link.
    fn delete_feed(&self, id: FeedId) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Gives the link the token hashing to `new_hash`; its current token keeps working until
    /// `previous_until` (and the one an earlier rotation kept stops now). False when no such link.
    fn rotate_feed(&self, id: FeedId, new_hash: Vec<u8>, previous_until: Timestamp) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Records a read at `now` unless one was recorded after `since` (so at most one write
    /// per link in that time, whatever the polling rate).
    fn touch_feed(&self, id: FeedId, now: Timestamp, since: Timestamp) -> impl Future<Output = StoreResult<()>> + Send;
}

delegate!(FeedStore {
    fn create_feed(&self, new: NewFeedLink) -> StoreResult<FeedLink>;
    fn feeds_of_owner(&self, owner: UserId) -> StoreResult<Vec<FeedLink>>;
    fn feed_by_id(&self, id: FeedId) -> StoreResult<Option<FeedLink>>;
    fn feed_by_token(&self, hash: &[u8], now: Timestamp) -> StoreResult<Option<(FeedLink, Collection)>>;
    fn delete_feed(&self, id: FeedId) -> StoreResult<bool>;
    fn rotate_feed(&self, id: FeedId, new_hash: Vec<u8>, previous_until: Timestamp) -> StoreResult<bool>;
    fn touch_feed(&self, id: FeedId, now: Timestamp, since: Timestamp) -> StoreResult<()>;
});
