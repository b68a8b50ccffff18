//! The store's users: accounts with their argon2id password hashes, and `UserStore`.

use std::future::Future;

use super::{NewCollection, Store, StoreResult, Timestamp, UserId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub name: String,
    pub email: Option<String>,
    /// PHC string (argon2id).
    pub password_hash: String,
    pub created_at: Timestamp,
    /// May manage users through the API (issue 20); the bootstrap `admin` is one.
    pub is_admin: bool,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub name: String,
    pub email: Option<String>,
    pub password_hash: String,
}

pub trait UserStore {
    /// Creates the user and, in the same transaction, these collections in their home.
    fn create_user(
        &self,
        user: NewUser,
        home: Vec<NewCollection>,
    ) -> impl Future<Output = StoreResult<User>> + Send;
    fn user_by_name(&self, name: &str) -> impl Future<Output = StoreResult<Option<User>>> + Send;
    fn user_by_id(&self, id: UserId) -> impl Future<Output = StoreResult<Option<User>>> + Send;
    fn list_users(&self) -> impl Future<Output = StoreResult<Vec<User>>> + Send;
    fn count_users(&self) -> impl Future<Output = StoreResult<i64>> + Send;
    /// NotFound if there is no such user.
    fn set_password(
        &self,
        name: &str,
        password_hash: &str,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Deletes the user and everything they own. NotFound if there is no such user.
    fn delete_user(&self, name: &str) -> impl Future<Output = StoreResult<()>> + Send;
    /// Sum of object sizes the user owns (quota-used-bytes).
    fn used_bytes(&self, owner: UserId) -> impl Future<Output = StoreResult<i64>> + Send;
    /// NotFound if there is no such user.
    fn set_admin(&self, name: &str, admin: bool) -> impl Future<Output = StoreResult<()>> + Send;
}

delegate!(UserStore {
    fn create_user(&self, user: NewUser, home: Vec<NewCollection>) -> StoreResult<User>;
    fn user_by_name(&self, name: &str) -> StoreResult<Option<User>>;
    fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>>;
    fn list_users(&self) -> StoreResult<Vec<User>>;
    fn count_users(&self) -> StoreResult<i64>;
    fn set_password(&self, name: &str, password_hash: &str) -> StoreResult<()>;
    fn delete_user(&self, name: &str) -> StoreResult<()>;
    fn used_bytes(&self, owner: UserId) -> StoreResult<i64>;
    fn set_admin(&self, name: &str, admin: bool) -> StoreResult<()>;
});

