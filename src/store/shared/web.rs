//! The web page's sessions and import progress (issue 21, decision 0028): their SQL, rows and
//! `impl WebStore`.

use sqlx::FromRow;

use super::users::UserRow;
use super::{Db, Engine};
use crate::store::retry::commit_failed;
use crate::store::{ImportJob, NewWebSession, StoreResult, Timestamp, User, UserId, WebSession, WebStore};

/// This capability's SQL, shared by both engines.
pub mod sql {
    pub const INSERT_SESSION: &str = "INSERT INTO web_sessions (user_id, token_hash, csrf, created_at, last_seen_at, expires_at) \
         VALUES ($1, $2, $3, $4, $4, $5) RETURNING id, user_id, csrf, created_at, last_seen_at, expires_at";
    /// The UNIQUE index on token_hash answers it; the user comes along.
    pub const SESSION_BY_HASH: &str = "SELECT s.id AS s_id, s.user_id AS s_user_id, s.csrf AS s_csrf, s.created_at AS s_created_at, \
         s.last_seen_at AS s_last_seen_at, s.expires_at AS s_expires_at, \
         u.id, u.name, u.email, u.password_hash, u.created_at, u.is_admin \
         FROM web_sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.token_hash = $1 AND s.expires_at > $2 AND s.last_seen_at >= $3";
    pub const TOUCH_SESSION: &str = "UPDATE web_sessions SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $3";
    pub const DELETE_SESSION: &str = "DELETE FROM web_sessions WHERE id = $1";
    pub const PRUNE_SESSIONS: &str = "DELETE FROM web_sessions WHERE expires_at <= $1 OR last_seen_at < $2";
    pub const PRUNE_JOBS: &str = "DELETE FROM import_jobs WHERE created_at < $1";
    pub const START_JOB: &str = "INSERT INTO import_jobs (user_id, job, calendar, done, total, state, created_at, updated_at) \
         VALUES ($1, $2, $3, 0, 0, 'running', $4, $4) ON CONFLICT (user_id, job) DO NOTHING";
    pub const JOB_PROGRESS: &str = "UPDATE import_jobs SET done = $3, total = $4, updated_at = $5 WHERE user_id = $1 AND job = $2";
    /// A finished import has done all it will: its progress says so whatever the last batch wrote.
    pub const FINISH_JOB: &str = "UPDATE import_jobs SET state = CASE WHEN $4 IS NULL THEN 'done' ELSE 'failed' END, \
         done = CASE WHEN $4 IS NULL THEN total ELSE done END, report = $3, error = $4, updated_at = $5 \
         WHERE user_id = $1 AND job = $2";
    pub const JOB: &str = "SELECT job, calendar, done, total, state, report, error, updated_at FROM import_jobs WHERE user_id = $1 AND job = $2";
}

struct SessionRow {
    id: i64,
    user_id: i64,
    csrf: String,
    created_at: i64,
    last_seen_at: i64,
    expires_at: i64,
}
from_row!(SessionRow { id, user_id, csrf, created_at, last_seen_at, expires_at });

impl From<SessionRow> for WebSession {
    fn from(r: SessionRow) -> Self {
        WebSession { id: r.id, user: UserId(r.user_id), csrf: r.csrf, created_at: r.created_at, last_seen_at: r.last_seen_at, expires_at: r.expires_at }
    }
}

/// SESSION_BY_HASH's row: the session's columns (prefixed `s_`) and the user's.
struct ByHashRow {
    s_id: i64,
    s_user_id: i64,
    s_csrf: String,
    s_created_at: i64,
    s_last_seen_at: i64,
    s_expires_at: i64,
    user: UserRow,
}
from_row!(ByHashRow { s_id, s_user_id, s_csrf, s_created_at, s_last_seen_at, s_expires_at } flatten { user });

struct JobRow {
    job: String,
    calendar: String,
    done: i64,
    total: i64,
    state: String,
    report: Option<String>,
    error: Option<String>,
    updated_at: i64,
}
from_row!(JobRow { job, calendar, done, total, state, report, error, updated_at });

impl WebStore for Engine {
    async fn create_web_session(&self, new: NewWebSession) -> StoreResult<WebSession> {
        let mut tx = self.begin_write().await?;
        let row: SessionRow = sqlx::query_as(sql::INSERT_SESSION)
            .bind(new.user.0)
            .bind(&new.token_hash)
            .bind(&new.csrf)
            .bind(new.now)
            .bind(new.expires_at)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await.map_err(commit_failed)?;
        Ok(row.into())
    }

    async fn web_session_by_hash(&self, hash: &[u8], now: Timestamp, idle_since: Timestamp) -> StoreResult<Option<(WebSession, User)>> {
        let row: Option<ByHashRow> =
            sqlx::query_as(sql::SESSION_BY_HASH).bind(hash).bind(now).bind(idle_since).fetch_optional(&mut *self.reader().await?).await?;
        Ok(row.map(|r| {
            let session = WebSession {
                id: r.s_id,
                user: UserId(r.s_user_id),
                csrf: r.s_csrf,
                created_at: r.s_created_at,
                last_seen_at: r.s_last_seen_at,
                expires_at: r.s_expires_at,
            };
            (session, User::from(r.user))
        }))
    }

    async fn touch_web_session(&self, id: i64, now: Timestamp, since: Timestamp) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(sql::TOUCH_SESSION).bind(id).bind(now).bind(since).execute(&mut *tx).await?;
        tx.commit().await.map_err(commit_failed)?;
        Ok(())
    }

    async fn delete_web_session(&self, id: i64) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(sql::DELETE_SESSION).bind(id).execute(&mut *tx).await?;
        tx.commit().await.map_err(commit_failed)?;
        Ok(())
    }

    async fn prune_web(&self, now: Timestamp, idle_since: Timestamp, jobs_before: Timestamp) -> StoreResult<u64> {
        let mut tx = self.begin_write().await?;
        let sessions = sqlx::query(sql::PRUNE_SESSIONS).bind(now).bind(idle_since).execute(&mut *tx).await?.rows_affected();
        let jobs = sqlx::query(sql::PRUNE_JOBS).bind(jobs_before).execute(&mut *tx).await?.rows_affected();
        tx.commit().await.map_err(commit_failed)?;
        Ok(sessions + jobs)
    }

    async fn start_import_job(&self, user: UserId, job: &str, calendar: &str, now: Timestamp) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(sql::START_JOB).bind(user.0).bind(job).bind(calendar).bind(now).execute(&mut *tx).await?;
        tx.commit().await.map_err(commit_failed)?;
        Ok(done.rows_affected() == 1)
    }

    async fn import_progress(&self, user: UserId, job: &str, done: i64, total: i64, now: Timestamp) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(sql::JOB_PROGRESS).bind(user.0).bind(job).bind(done).bind(total).bind(now).execute(&mut *tx).await?;
        tx.commit().await.map_err(commit_failed)?;
        Ok(())
    }

    async fn finish_import_job(&self, user: UserId, job: &str, report: Option<&str>, error: Option<&str>, now: Timestamp) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(sql::FINISH_JOB).bind(user.0).bind(job).bind(report).bind(error).bind(now).execute(&mut *tx).await?;
        tx.commit().await.map_err(commit_failed)?;
        Ok(())
    }

    async fn import_job(&self, user: UserId, job: &str) -> StoreResult<Option<ImportJob>> {
        let row: Option<JobRow> = sqlx::query_as(sql::JOB).bind(user.0).bind(job).fetch_optional(&mut *self.reader().await?).await?;
        Ok(row.map(|r| ImportJob {
            job: r.job,
            calendar: r.calendar,
            done: r.done,
            total: r.total,
            state: r.state,
            report: r.report,
            error: r.error,
            updated_at: r.updated_at,
        }))
    }
}
