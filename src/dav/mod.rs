//! WebDAV + CalDAV wire protocol: XML in and out, DAV headers, properties, preconditions and one
//! file per method. XML types stop here: services receive domain values. Hyper stays out: this
//! layer speaks `http` types with whole-body `Bytes`.

pub mod access;
pub mod condition;
pub mod header;
pub mod if_header;
pub mod lock;
pub mod method;
pub mod property;
pub mod props;
pub mod request;
pub mod resource;
pub mod xml;

use std::sync::Arc;

use bytes::Bytes;
use http::StatusCode;

pub use condition::Condition;
use header::BadHeader;
use resource::Paths;
use xml::XmlError;

use crate::cache::Cache;
use crate::service::ServiceError;
use crate::store::Store;

pub type DavResponse = http::Response<Bytes>;

/// Limits the DAV layer enforces and advertises (RFC 4791 §5.2.5–§5.2.8).
#[derive(Debug, Clone)]
pub struct DavLimits {
    pub max_resource_size: usize,
    pub min_date_time: i64,
    pub max_date_time: i64,
    pub max_instances: u32,
    pub quota_bytes: i64,
    pub max_attendees_per_instance: u32,
    /// Outside recipients (iMIP) one change may send to (`imip.max_recipients`).
    pub max_external_recipients: u32,
    /// RFC 6638 §5: whose free/busy the outbox answers for.
    pub freebusy_lookup: crate::config::FreeBusyLookup,
    /// WebDAV locks a user may hold at once (`limits.max_locks_per_user`).
    pub max_locks_per_user: u32,
    /// The longest lock timeout granted (`limits.lock_max_timeout_secs`, RFC 4918 §10.7).
    pub lock_max_timeout_secs: u32,
}

/// What every DAV handler needs; built once in `app.rs`.
#[derive(Clone)]
pub struct DavContext {
    pub store: Store,
    pub paths: Paths,
    pub limits: DavLimits,
    /// For results worth keeping between requests (free-busy); a miss is always acceptable.
    pub cache: Cache,
    /// Permits for building whole-collection listings (`limits.concurrent_listings`).
    pub listings: Arc<tokio::sync::Semaphore>,
    /// Woken by a write that stores a reminder due soon (worker/reminders.rs).
    pub alarm_wake: Arc<tokio::sync::Notify>,
    /// `public_url` as configured: the JSON API shows a new feed link's whole URL under it
    /// (`Paths` keeps only its authority and path, not its scheme).
    pub public_url: Option<String>,
    /// What decides whether a lock has expired (tests move it forward).
    pub clock: crate::service::clock::Clock,
}

impl DavContext {
    /// What a write that may schedule needs (RFC 6638).
    pub fn sched(&self) -> crate::service::scheduling::deliver::SchedCtx<'_> {
        crate::service::scheduling::deliver::SchedCtx {
            store: &self.store,
            dir: &self.paths,
            limits: method::put::write_limits(self),
            max_attendees: usize::try_from(self.limits.max_attendees_per_instance).unwrap_or(usize::MAX),
            max_external: usize::try_from(self.limits.max_external_recipients).unwrap_or(usize::MAX),
            alarm_wake: Some(&self.alarm_wake),
        }
    }

    /// Waits for a listing permit: held while a whole-collection listing is read and its
    /// answer written, released before the answer is sent. Waiters are served in order.
    pub async fn listing_permit(&self) -> DavResult<tokio::sync::SemaphorePermit<'_>> {
        // The semaphore is never closed; a closed one would be a bug, reported as such.
        self.listings.acquire().await.map_err(|e| DavError::Service(ServiceError::Internal(format!("listing permits: {e}"))))
    }
}

/// Why a DAV request was refused. `crate::error` turns it into a response, in one place.
#[derive(Debug, thiserror::Error)]
pub enum DavError {
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error("malformed XML: {0}")]
    Xml(#[from] XmlError),
    #[error("{0}")]
    BadRequest(String),
    #[error("not found")]
    NotFound,
    #[error("forbidden")]
    Forbidden,
    /// 403 with a one-line reason, where no RFC names a precondition.
    #[error("forbidden: {0}")]
    Refused(String),
    #[error("method not allowed")]
    MethodNotAllowed { allow: &'static str },
    /// A DAV/CalDAV precondition or postcondition (RFC 4918 §16), with a human reason.
    #[error("{condition:?}")]
    Condition { status: StatusCode, condition: Condition, reason: Option<String> },
    #[error("precondition failed")]
    PreconditionFailed,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    /// RFC 4918 §9.8.5, §9.9.4: the Destination is on another server.
    #[error("bad gateway: {0}")]
    BadGateway(String),
}

impl From<crate::store::StoreError> for DavError {
    fn from(e: crate::store::StoreError) -> Self {
        DavError::Service(e.into())
    }
}

impl From<BadHeader> for DavError {
    fn from(h: BadHeader) -> Self {
        DavError::BadRequest(h.0)
    }
}

impl DavError {
    /// Whether the store caused it (counted in `/metrics` where it becomes a response).
    pub fn is_store(&self) -> bool {
        matches!(self, DavError::Service(ServiceError::Store(_) | ServiceError::Unavailable(_)))
    }

    pub fn condition(status: StatusCode, condition: Condition) -> Self {
        DavError::Condition { status, condition, reason: None }
    }
    pub fn forbidden(condition: Condition, reason: impl Into<String>) -> Self {
        DavError::Condition { status: StatusCode::FORBIDDEN, condition, reason: Some(reason.into()) }
    }
}

pub type DavResult<T> = Result<T, DavError>;

pub mod locate;
pub mod multistatus;

/// The methods this server knows; anything else is `Other` and answered 405.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DavMethod {
    Options,
    Propfind,
    Proppatch,
    Mkcol,
    Mkcalendar,
    Get,
    Head,
    Put,
    Delete,
    Copy,
    Move,
    Report,
    /// RFC 6638 §5: free/busy requests to the scheduling outbox.
    Post,
    /// RFC 4918 §9.10, §9.11: WebDAV class 2.
    Lock,
    Unlock,
    Other,
}

impl DavMethod {
    pub fn parse(method: &http::Method) -> DavMethod {
        match method.as_str() {
            "OPTIONS" => DavMethod::Options,
            "PROPFIND" => DavMethod::Propfind,
            "PROPPATCH" => DavMethod::Proppatch,
            "MKCOL" => DavMethod::Mkcol,
            "MKCALENDAR" => DavMethod::Mkcalendar,
            "GET" => DavMethod::Get,
            "HEAD" => DavMethod::Head,
            "PUT" => DavMethod::Put,
            "DELETE" => DavMethod::Delete,
            "COPY" => DavMethod::Copy,
            "MOVE" => DavMethod::Move,
            "REPORT" => DavMethod::Report,
            "POST" => DavMethod::Post,
            "LOCK" => DavMethod::Lock,
            "UNLOCK" => DavMethod::Unlock,
            _ => DavMethod::Other,
        }
    }
}

/// Runs one authenticated DAV request.
pub async fn handle(
    ctx: &DavContext,
    user: &crate::service::Principal,
    method: DavMethod,
    path: &str,
    headers: &http::HeaderMap,
    body: Bytes,
) -> DavResult<DavResponse> {
    use method::*;
    let target = ctx.paths.parse(path);
    let headers = header::DavHeaders::parse(headers)?;
    match method {
        DavMethod::Options => Ok(options::handle()),
        DavMethod::Propfind => propfind::handle(ctx, user, &target, &headers, &body).await,
        DavMethod::Proppatch => proppatch::handle(ctx, user, &target, &headers, &body).await,
        DavMethod::Mkcol => mkcol::handle(ctx, user, &target, &headers, &body, mkcol::Flavour::Mkcol).await,
        DavMethod::Mkcalendar => {
            mkcol::handle(ctx, user, &target, &headers, &body, mkcol::Flavour::Mkcalendar).await
        }
        DavMethod::Get => get::handle(ctx, user, &target, &headers, false).await,
        DavMethod::Head => get::handle(ctx, user, &target, &headers, true).await,
        DavMethod::Put => put::handle(ctx, user, &target, &headers, body).await,
        DavMethod::Delete => delete::handle(ctx, user, &target, &headers).await,
        DavMethod::Copy => copy_move::handle(ctx, user, &target, &headers, true).await,
        DavMethod::Move => copy_move::handle(ctx, user, &target, &headers, false).await,
        DavMethod::Report => report::handle(ctx, user, &target, &headers, &body).await,
        DavMethod::Post => post::handle(ctx, user, &target, &headers, &body).await,
        DavMethod::Lock => lock::handle(ctx, user, &target, &headers, &body).await,
        DavMethod::Unlock => unlock::handle(ctx, user, &target, &headers).await,
        DavMethod::Other => Err(DavError::MethodNotAllowed { allow: options::ALLOW }),
    }
}
