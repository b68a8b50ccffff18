//! The store's side of app passwords (issue 20, decision 0025): per-user secrets for one client
//! or script, kept only as the SHA-256 of the secret, looked up by it, listed, revoked, and
//! stamped with a coarse last use.

use std::future::Future;

use super::{Store, StoreResult, Timestamp, User, UserId};

/// One app password as lists show it (never the secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppPassword {
    pub id: i64,
    pub user: UserId,
    pub label: String,
    /// The secret's first characters, so a user can tell two apart.
    pub hint: String,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

#[derive(Debug, Clone)]
pub struct NewAppPassword {
    pub user: UserId,
    pub label: String,
    pub secret_hash: Vec<u8>,
    pub hint: String,
}

pub trait AppPasswordStore {
    fn create_app_password(&self, new: NewAppPassword) -> impl Future<Output = StoreResult<AppPassword>> + Send;
    /// The user's app passwords, oldest first.
    fn app_passwords_of(&self, user: UserId) -> impl Future<Output = StoreResult<Vec<AppPassword>>> + Send;
    /// The app password with this secret hash and its user, in one statement.
    fn app_password_by_hash(&self, hash: &[u8]) -> impl Future<Output = StoreResult<Option<(AppPassword, User)>>> + Send;
    /// Deletes the user's app password `id`; false when the user has none by that id.
    fn delete_app_password(&self, user: UserId, id: i64) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Records a use at `now` unless one was recorded after `since` (a write per hour, not
    /// per request).
    fn touch_app_password(&self, id: i64, now: Timestamp, since: Timestamp) -> impl Future<Output = StoreResult<()>> + Send;
}

delegate!(AppPasswordStore {
    fn create_app_password(&self, new: NewAppPassword) -> StoreResult<AppPassword>;
    fn app_passwords_of(&self, user: UserId) -> StoreResult<Vec<AppPassword>>;
    fn app_password_by_hash(&self, hash: &[u8]) -> StoreResult<Option<(AppPassword, User)>>;
    fn delete_app_password(&self, user: UserId, id: i64) -> StoreResult<bool>;
    fn touch_app_password(&self, id: i64, now: Timestamp, since: Timestamp) -> StoreResult<()>;
});
