//! Users: their SQL, row and `impl UserStore` (a new user's home collections are inserted in the
//! same transaction, by `collections::insert_collection`).

use sqlx::FromRow;

use super::collections::{self, insert_collection};
use crate::store::retry::commit_failed;
use super::{Db, Engine, now, unique_is_already_exists};
use crate::store::{CollectionId, NewCollection, NewUser, StoreError, StoreResult, User, UserId, UserStore};

/// This capability's SQL, shared by both engines.
pub mod sql {
    pub const INSERT_USER: &str = concat!(
        "INSERT INTO users (name, email, password_hash, created_at) VALUES ($1, $2, $3, $4) \
         RETURNING ",
        user_cols!()
    );
    pub const USER_BY_NAME: &str = concat!("SELECT ", user_cols!(), " FROM users WHERE name = $1");
    pub const USER_BY_ID: &str = concat!("SELECT ", user_cols!(), " FROM users WHERE id = $1");
    pub const LIST_USERS: &str = concat!("SELECT ", user_cols!(), " FROM users ORDER BY name");
    pub const COUNT_USERS: &str = "SELECT COUNT(*) FROM users";
    pub const SET_PASSWORD: &str = "UPDATE users SET password_hash = $2 WHERE name = $1";
    pub const DELETE_USER: &str = "DELETE FROM users WHERE name = $1";
    pub const SET_ADMIN: &str = "UPDATE users SET is_admin = $2 WHERE name = $1";
    /// The user's collections' byte counters added up (a handful of rows, however many
    /// objects). SUM over BIGINT is NUMERIC on PostgreSQL; the cast keeps an i64 on both.
    pub const USED_BYTES: &str = "SELECT CAST(COALESCE(SUM(used_bytes), 0) AS BIGINT) \
         FROM collections WHERE owner_id = $1";
}

pub(super) struct UserRow {
    id: i64,
    name: String,
    email: Option<String>,
    password_hash: String,
    created_at: i64,
    is_admin: bool,
}
from_row!(UserRow { id, name, email, password_hash, created_at, is_admin });

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        User {
            id: UserId(r.id),
            name: r.name,
            email: r.email,
            password_hash: r.password_hash,
            created_at: r.created_at,
            is_admin: r.is_admin,
        }
    }
}

impl UserStore for Engine {
    async fn create_user(&self, user: NewUser, home: Vec<NewCollection>) -> StoreResult<User> {
        let now = now();
        let mut tx = self.begin_write().await?;
        let row: UserRow = sqlx::query_as(sql::INSERT_USER)
            .bind(&user.name)
            .bind(&user.email)
            .bind(&user.password_hash)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(unique_is_already_exists)?;
        let owner = UserId(row.id);
        for mut new in home {
            // The caller cannot know the new user's id, nor the ids of home collections created
            // a moment earlier: the owner is this user, and the parent follows from the path.
            new.owner = owner;
            new.parent = match new.path.rsplit_once('/') {
                None => None,
                Some((parent_path, _)) => {
                    let id: i64 = sqlx::query_scalar(collections::sql::COLLECTION_ID_BY_PATH)
                        .bind(owner.0)
                        .bind(parent_path)
                        .fetch_optional(&mut *tx)
                        .await?
                        .ok_or(StoreError::NotFound)?;
                    Some(CollectionId(id))
                }
            };
            insert_collection(&mut tx, &new, now).await?;
        }
        tx.commit().await.map_err(commit_failed)?;
        Ok(row.into())
    }

    async fn user_by_name(&self, name: &str) -> StoreResult<Option<User>> {
        let row: Option<UserRow> = sqlx::query_as(sql::USER_BY_NAME)
            .bind(name)
            .fetch_optional(&mut *self.reader().await?)
            .await?;
        Ok(row.map(User::from))
    }

    async fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>> {
        let row: Option<UserRow> = sqlx::query_as(sql::USER_BY_ID)
            .bind(id.0)
            .fetch_optional(&mut *self.reader().await?)
            .await?;
        Ok(row.map(User::from))
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        let rows: Vec<UserRow> = sqlx::query_as(sql::LIST_USERS)
            .fetch_all(&mut *self.reader().await?)
            .await?;
        Ok(rows.into_iter().map(User::from).collect())
    }

    async fn count_users(&self) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(sql::COUNT_USERS)
            .fetch_one(&mut *self.reader().await?)
            .await?)
    }

    async fn set_password(&self, name: &str, password_hash: &str) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(sql::SET_PASSWORD)
            .bind(name)
            .bind(password_hash)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await.map_err(commit_failed)?;
        Ok(())
    }

    async fn delete_user(&self, name: &str) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        // ON DELETE CASCADE takes the collections and everything below them.
        let done = sqlx::query(sql::DELETE_USER)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await.map_err(commit_failed)?;
        Ok(())
    }

    async fn set_admin(&self, name: &str, admin: bool) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(sql::SET_ADMIN).bind(name).bind(admin).execute(&mut *tx).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await.map_err(commit_failed)?;
        Ok(())
    }

    async fn used_bytes(&self, owner: UserId) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(sql::USED_BYTES)
            .bind(owner.0)
            .fetch_one(&mut *self.reader().await?)
            .await?)
    }
}
