//! App passwords (issue 20, decision 0025): their SQL, rows and `impl AppPasswordStore`.

use sqlx::FromRow;

use super::users::UserRow;
use super::{Db, Engine, now};
use crate::store::retry::commit_failed;
use crate::store::{AppPassword, AppPasswordStore, NewAppPassword, StoreResult, Timestamp, User, UserId};

/// This capability's SQL, shared by both engines.
pub mod sql {
    macro_rules! app_password_cols {
        () => {
            "id, user_id, label, hint, created_at, last_used_at"
        };
    }
    pub const INSERT: &str = concat!(
        "INSERT INTO app_passwords (user_id, label, secret_hash, hint, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING ",
        app_password_cols!()
    );
    pub const OF_USER: &str = concat!("SELECT ", app_password_cols!(), " FROM app_passwords WHERE user_id = $1 ORDER BY id");
    /// The UNIQUE index on secret_hash answers it; the user comes along.
    pub const BY_HASH: &str = concat!(
        "SELECT a.id AS a_id, a.user_id AS a_user_id, a.label AS a_label, a.hint AS a_hint, \
         a.created_at AS a_created_at, a.last_used_at AS a_last_used_at, ",
        "u.id, u.name, u.email, u.password_hash, u.created_at, u.is_admin \
         FROM app_passwords a JOIN users u ON u.id = a.user_id WHERE a.secret_hash = $1"
    );
    pub const DELETE: &str = "DELETE FROM app_passwords WHERE id = $2 AND user_id = $1";
    pub const TOUCH: &str =
        "UPDATE app_passwords SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $3)";
}

struct AppPasswordRow {
    id: i64,
    user_id: i64,
    label: String,
    hint: String,
    created_at: i64,
    last_used_at: Option<i64>,
}
from_row!(AppPasswordRow { id, user_id, label, hint, created_at, last_used_at });

impl From<AppPasswordRow> for AppPassword {
    fn from(r: AppPasswordRow) -> Self {
        AppPassword { id: r.id, user: UserId(r.user_id), label: r.label, hint: r.hint, created_at: r.created_at, last_used_at: r.last_used_at }
    }
}

/// BY_HASH's row: the app password's columns (prefixed `a_`) and the user's.
struct ByHashRow {
    a_id: i64,
    a_user_id: i64,
    a_label: String,
    a_hint: String,
    a_created_at: i64,
    a_last_used_at: Option<i64>,
    user: UserRow,
}
from_row!(ByHashRow { a_id, a_user_id, a_label, a_hint, a_created_at, a_last_used_at } flatten { user });

impl AppPasswordStore for Engine {
    async fn create_app_password(&self, new: NewAppPassword) -> StoreResult<AppPassword> {
        let mut tx = self.begin_write().await?;
        let row: AppPasswordRow = sqlx::query_as(sql::INSERT)
            .bind(new.user.0)
            .bind(&new.label)
            .bind(&new.secret_hash)
            .bind(&new.hint)
            .bind(now())
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await.map_err(commit_failed)?;
        Ok(row.into())
    }

    async fn app_passwords_of(&self, user: UserId) -> StoreResult<Vec<AppPassword>> {
        let rows: Vec<AppPasswordRow> = sqlx::query_as(sql::OF_USER).bind(user.0).fetch_all(&mut *self.reader().await?).await?;
        Ok(rows.into_iter().map(AppPassword::from).collect())
    }

    async fn app_password_by_hash(&self, hash: &[u8]) -> StoreResult<Option<(AppPassword, User)>> {
        let row: Option<ByHashRow> = sqlx::query_as(sql::BY_HASH).bind(hash).fetch_optional(&mut *self.reader().await?).await?;
        Ok(row.map(|r| {
            let app = AppPassword {
                id: r.a_id,
                user: UserId(r.a_user_id),
                label: r.a_label,
                hint: r.a_hint,
                created_at: r.a_created_at,
                last_used_at: r.a_last_used_at,
            };
            (app, User::from(r.user))
        }))
    }

    async fn delete_app_password(&self, user: UserId, id: i64) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(sql::DELETE).bind(user.0).bind(id).execute(&mut *tx).await?;
        tx.commit().await.map_err(commit_failed)?;
        Ok(done.rows_affected() == 1)
    }

    async fn touch_app_password(&self, id: i64, now: Timestamp, since: Timestamp) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(sql::TOUCH).bind(id).bind(now).bind(since).execute(&mut *tx).await?;
        tx.commit().await.map_err(commit_failed)?;
        Ok(())
    }
}
