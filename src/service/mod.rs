//! Use-cases: what a request or CLI command does, independent of HTTP and XML. Services call the
//! calendar domain for facts and the store for persistence; each write is one store transaction.

pub mod app_passwords;
pub mod auth;
pub mod clock;
pub mod collections;
pub mod feeds;
pub mod freebusy;
pub mod import;
pub mod import_jobs;
pub mod objects;
pub mod reminders;
pub mod scheduling;
pub mod sessions;
pub mod shares;
pub mod users;

use crate::calendar::{ComponentKind, InvalidObject};
use crate::store::StoreError;

/// The authenticated user a request acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub id: crate::store::UserId,
    pub name: String,
    pub email: Option<String>,
}

/// Why a use-case refused or failed. `error.rs` maps these to HTTP exactly once.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("not found")]
    NotFound,
    #[error("forbidden")]
    Forbidden,
    #[error("already exists")]
    AlreadyExists,
    #[error("a parent collection does not exist")]
    MissingParent,
    #[error("precondition failed")]
    PreconditionFailed,
    #[error("{0}")]
    InvalidObject(#[from] InvalidObject),
    #[error("this calendar does not accept {} components", .0.as_str())]
    UnsupportedComponent(ComponentKind),
    #[error("only text/calendar data is accepted in a calendar collection")]
    UnsupportedMediaType,
    #[error("resource is larger than {max} bytes")]
    TooLarge { max: usize },
    #[error("quota exceeded")]
    QuotaExceeded,
    /// RFC 4791 §5.3.2.1 no-uid-conflict: the other resource's collection and name; with
    /// `replaced`, the resource the write would have replaced by one of another UID.
    #[error("UID conflict with {name}")]
    UidConflict { collection_path: String, owner: String, name: String, replaced: bool },
    /// The answer needs more recurrence instances than the server's max-instances.
    #[error("too many instances")]
    TooManyInstances,
    #[error("invalid sync token")]
    InvalidSyncToken,
    /// A request that makes no sense for the target (e.g. a calendar inside a calendar).
    #[error("{0}")]
    Conflict(String),
    /// RFC 6638 §3.2.4.1 unique-scheduling-object-resource: the owner's other object with the UID.
    #[error("the UID is already a scheduling object at {name}")]
    UniqueSchedulingObject { collection_path: String, owner: String, name: String },
    /// A scheduling rule refused the change (RFC 6638 §3.2.4, §5.2).
    #[error(transparent)]
    Scheduling(#[from] crate::sched::SchedError),
    /// 403 with a one-line reason where no RFC names a precondition (e.g. a PUT into the
    /// scheduling inbox).
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("internal error: {0}")]
    Internal(String),
    /// The database failed (unreachable, a statement error, a broken row): a 500 counted as
    /// `kalends_store_errors_total`.
    #[error("store error: {0}")]
    Store(String),
    /// The database is out of reach, or its connection broke (decision 0031): a 503 with
    /// Retry-After, also counted as `kalends_store_errors_total`.
    #[error("database unavailable: {0}")]
    Unavailable(String),
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ServiceError::NotFound,
            StoreError::AlreadyExists => ServiceError::AlreadyExists,
            StoreError::PreconditionFailed => ServiceError::PreconditionFailed,
            StoreError::InvalidSyncToken => ServiceError::InvalidSyncToken,
            // RFC 4918 §9.8.5, §9.9.4: a COPY/MOVE onto itself, into itself or over an ancestor.
            StoreError::Overlap => ServiceError::Forbidden,
            // Callers that know the collection rewrite this into ServiceError::UidConflict.
            StoreError::UidConflict { existing_name } => {
                ServiceError::Conflict(format!("UID already used by {existing_name}"))
            }
            StoreError::UidReplaced { name } => ServiceError::Conflict(format!("{name} holds another UID")),
            StoreError::InBatch { error, .. } => ServiceError::from(*error),
            gone if gone.is_unavailable() => ServiceError::Unavailable(gone.to_string()),
            // The database itself failed: a 500 worth counting (kalends_store_errors_total).
            failed @ (StoreError::Database(_) | StoreError::Migrate(_)) => ServiceError::Store(failed.to_string()),
            other => ServiceError::Internal(other.to_string()),
        }
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;

/// Seconds since the Unix epoch, now.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}
