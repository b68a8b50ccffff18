//! WebDAV write locks (issue 23, decision 0030): their SQL, rows and `impl LockStore`.

use sqlx::FromRow;

use super::{Db, Engine};
use crate::store::{Lock, LockRefused, LockStore, NewLock, StoreResult, Timestamp, UserId};
use crate::store::retry::commit_failed;

/// This capability's SQL, shared by both engines.
pub mod sql {
    macro_rules! lock_cols {
        () => {
            "token, home_id, path, principal_id, shared, infinite, owner_xml, timeout_secs, expires_at"
        };
    }
    pub const IN_HOME: &str = concat!("SELECT ", lock_cols!(), " FROM locks WHERE home_id = $1 AND expires_at > $2 ORDER BY created_at, token");
    /// Serializes the lock writers of one home (the home's user row lock, held to commit).
    pub const LOCK_HOME: &str = "UPDATE users SET name = name WHERE id = $1";
    pub const DROP_EXPIRED: &str = "DELETE FROM locks WHERE home_id = $1 AND expires_at <= $2";
    pub const DROP_ALL_EXPIRED: &str = "DELETE FROM locks WHERE expires_at <= $1";
    pub const COUNT_OF_PRINCIPAL: &str = "SELECT COUNT(*) FROM locks WHERE principal_id = $1 AND expires_at > $2";
    pub const INSERT: &str = concat!(
        "INSERT INTO locks (token, home_id, path, principal_id, shared, infinite, owner_xml, timeout_secs, expires_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING ",
        lock_cols!()
    );
    pub const REFRESH: &str = concat!(
        "UPDATE locks SET timeout_secs = $3, expires_at = $4 WHERE token = $1 AND principal_id = $2 AND expires_at > $5 RETURNING ",
        lock_cols!()
    );
    pub const DELETE: &str = "DELETE FROM locks WHERE token = $1";
    /// Rooted at `$2` or below it (`$3` is `$2` followed by '/').
    pub const DELETE_UNDER: &str = "DELETE FROM locks WHERE home_id = $1 AND (path = $2 OR substr(path, 1, length($3)) = $3)";
}

struct LockRow {
    token: String,
    home_id: i64,
    path: String,
    principal_id: i64,
    shared: i64,
    infinite: i64,
    owner_xml: Option<String>,
    timeout_secs: i64,
    expires_at: i64,
}
from_row!(LockRow { token, home_id, path, principal_id, shared, infinite, owner_xml, timeout_secs, expires_at });

impl From<LockRow> for Lock {
    fn from(r: LockRow) -> Self {
        Lock {
            token: r.token,
            home: UserId(r.home_id),
            path: r.path,
            principal: UserId(r.principal_id),
            shared: r.shared != 0,
            infinite: r.infinite != 0,
            owner_xml: r.owner_xml,
            timeout_secs: r.timeout_secs,
            expires_at: r.expires_at,
        }
    }
}

impl LockStore for Engine {
    async fn locks_in(&self, home: UserId, now: Timestamp) -> StoreResult<Vec<Lock>> {
        let rows: Vec<LockRow> = sqlx::query_as(sql::IN_HOME).bind(home.0).bind(now).fetch_all(&mut *self.reader().await?).await?;
        Ok(rows.into_iter().map(Lock::from).collect())
    }

    async fn take_lock(&self, new: NewLock, now: Timestamp, max_per_principal: i64) -> StoreResult<Result<Lock, LockRefused>> {
        let mut tx = self.begin_write().await?;
        sqlx::query(sql::LOCK_HOME).bind(new.home.0).execute(&mut *tx).await?;
        sqlx::query(sql::DROP_EXPIRED).bind(new.home.0).bind(now).execute(&mut *tx).await?;
        let rows: Vec<LockRow> = sqlx::query_as(sql::IN_HOME).bind(new.home.0).bind(now).fetch_all(&mut *tx).await?;
        let conflicting: Vec<String> =
            rows.into_iter().map(Lock::from).filter(|l| l.conflicts_with(&new)).map(|l| l.path).collect();
        if !conflicting.is_empty() {
            return Ok(Err(LockRefused::Conflict(conflicting)));
        }
        let (held,): (i64,) = sqlx::query_as(sql::COUNT_OF_PRINCIPAL).bind(new.principal.0).bind(now).fetch_one(&mut *tx).await?;
        if held >= max_per_principal {
            return Ok(Err(LockRefused::TooMany));
        }
        let row: LockRow = sqlx::query_as(sql::INSERT)
            .bind(&new.token)
            .bind(new.home.0)
            .bind(&new.path)
            .bind(new.principal.0)
            .bind(i64::from(new.shared))
            .bind(i64::from(new.infinite))
            .bind(&new.owner_xml)
            .bind(new.timeout_secs)
            .bind(now.saturating_add(new.timeout_secs))
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await.map_err(commit_failed)?;
        Ok(Ok(row.into()))
    }

    async fn refresh_lock(&self, token: &str, principal: UserId, timeout_secs: i64, now: Timestamp) -> StoreResult<Option<Lock>> {
        let mut tx = self.begin_write().await?;
        let row: Option<LockRow> = sqlx::query_as(sql::REFRESH)
            .bind(token)
            .bind(principal.0)
            .bind(timeout_secs)
            .bind(now.saturating_add(timeout_secs))
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
        tx.commit().await.map_err(commit_failed)?;
        Ok(row.map(Lock::from))
    }

    async fn remove_lock(&self, token: &str) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(sql::DELETE).bind(token).execute(&mut *tx).await?;
        tx.commit().await.map_err(commit_failed)?;
        Ok(done.rows_affected() > 0)
    }

    async fn remove_locks_under(&self, home: UserId, path: &str) -> StoreResult<u64> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(sql::DELETE_UNDER).bind(home.0).bind(path).bind(format!("{path}/")).execute(&mut *tx).await?;
        tx.commit().await.map_err(commit_failed)?;
        Ok(done.rows_affected())
    }

    async fn drop_expired_locks(&self, now: Timestamp) -> StoreResult<u64> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(sql::DROP_ALL_EXPIRED).bind(now).execute(&mut *tx).await?;
        tx.commit().await.map_err(commit_failed)?;
        Ok(done.rows_affected())
    }
}
