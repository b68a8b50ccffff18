//! The store's side of the web page (issue 21, decision 0028): browser sessions, kept by the
//! SHA-256 of their cookie token with their own CSRF secret, and the progress rows of imports
//! started from the page, which any node may read while another runs the import.

use std::future::Future;

use super::{Store, StoreResult, Timestamp, User, UserId};

/// One browser session (never the token: only its hash is stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSession {
    pub id: i64,
    pub user: UserId,
    /// The session's CSRF secret, which its forms carry.
    pub csrf: String,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct NewWebSession {
    pub user: UserId,
    pub token_hash: Vec<u8>,
    pub csrf: String,
    pub now: Timestamp,
    pub expires_at: Timestamp,
}

/// An import started from the page, as its progress resource shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportJob {
    pub job: String,
    /// The calendar's URL segment.
    pub calendar: String,
    pub done: i64,
    pub total: i64,
    /// `running`, `done` or `failed`.
    pub state: String,
    /// The finished import's report as JSON.
    pub report: Option<String>,
    pub error: Option<String>,
    pub updated_at: Timestamp,
}

pub trait WebStore {
    fn create_web_session(&self, new: NewWebSession) -> impl Future<Output = StoreResult<WebSession>> + Send;
    /// The session with this token hash and its user, in one statement, if not past
    /// `expires_at` nor idle since before `idle_since`.
    fn web_session_by_hash(&self, hash: &[u8], now: Timestamp, idle_since: Timestamp) -> impl Future<Output = StoreResult<Option<(WebSession, User)>>> + Send;
    /// Records a use at `now` unless one was recorded after `since` (a write a minute, not a
    /// request).
    fn touch_web_session(&self, id: i64, now: Timestamp, since: Timestamp) -> impl Future<Output = StoreResult<()>> + Send;
    fn delete_web_session(&self, id: i64) -> impl Future<Output = StoreResult<()>> + Send;
    /// Deletes sessions ended before `now` or idle since before `idle_since`, and import rows
    /// made before `jobs_before`.
    fn prune_web(&self, now: Timestamp, idle_since: Timestamp, jobs_before: Timestamp) -> impl Future<Output = StoreResult<u64>> + Send;
    /// Starts the user's job `job`; false when the user already has one by that id.
    fn start_import_job(&self, user: UserId, job: &str, calendar: &str, now: Timestamp) -> impl Future<Output = StoreResult<bool>> + Send;
    fn import_progress(&self, user: UserId, job: &str, done: i64, total: i64, now: Timestamp) -> impl Future<Output = StoreResult<()>> + Send;
    /// Ends the job: `done` with its report, or `failed` with the reason.
    fn finish_import_job(&self, user: UserId, job: &str, report: Option<&str>, error: Option<&str>, now: Timestamp) -> impl Future<Output = StoreResult<()>> + Send;
    fn import_job(&self, user: UserId, job: &str) -> impl Future<Output = StoreResult<Option<ImportJob>>> + Send;
}

delegate!(WebStore {
    fn create_web_session(&self, new: NewWebSession) -> StoreResult<WebSession>;
    fn web_session_by_hash(&self, hash: &[u8], now: Timestamp, idle_since: Timestamp) -> StoreResult<Option<(WebSession, User)>>;
    fn touch_web_session(&self, id: i64, now: Timestamp, since: Timestamp) -> StoreResult<()>;
    fn delete_web_session(&self, id: i64) -> StoreResult<()>;
    fn prune_web(&self, now: Timestamp, idle_since: Timestamp, jobs_before: Timestamp) -> StoreResult<u64>;
    fn start_import_job(&self, user: UserId, job: &str, calendar: &str, now: Timestamp) -> StoreResult<bool>;
    fn import_progress(&self, user: UserId, job: &str, done: i64, total: i64, now: Timestamp) -> StoreResult<()>;
    fn finish_import_job(&self, user: UserId, job: &str, report: Option<&str>, error: Option<&str>, now: Timestamp) -> StoreResult<()>;
    fn import_job(&self, user: UserId, job: &str) -> StoreResult<Option<ImportJob>>;
});
