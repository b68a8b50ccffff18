//! The store's side of RSVP links: the HMAC keys that sign them, in the database so that every
//! node of a deployment signs and verifies with the same ones (issue 16, decision 0018).

use std::future::Future;

use super::{Store, StoreResult, Timestamp};

/// One signing key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsvpKey {
    pub id: i64,
    pub secret: Vec<u8>,
    pub created_at: Timestamp,
    /// When a newer key replaced it; it still verifies links until it is deleted.
    pub retired_at: Option<Timestamp>,
}

pub trait RsvpStore {
    /// Every key, newest first.
    fn rsvp_keys(&self) -> impl Future<Output = StoreResult<Vec<RsvpKey>>> + Send;
    /// Adds a key. With `rotate`, every key in use is retired at `now`, and keys retired
    /// before `delete_retired_before` are deleted, in the same transaction.
    fn add_rsvp_key(
        &self,
        secret: Vec<u8>,
        now: Timestamp,
        rotate: bool,
        delete_retired_before: Timestamp,
    ) -> impl Future<Output = StoreResult<RsvpKey>> + Send;
}

delegate!(RsvpStore {
    fn rsvp_keys(&self) -> StoreResult<Vec<RsvpKey>>;
    fn add_rsvp_key(&self, secret: Vec<u8>, now: Timestamp, rotate: bool, delete_retired_before: Timestamp) -> StoreResult<RsvpKey>;
});
