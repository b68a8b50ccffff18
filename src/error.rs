//! The one place errors become HTTP: a status, and for DAV preconditions a `DAV:error` body
//! naming the condition with a one-line reason. Internal errors are logged, never echoed.

use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};

use crate::calendar::InvalidObject;
use crate::dav::resource::Paths;
use crate::dav::multistatus::xml_response;
use crate::dav::xml::{DAV, QName, XmlWriter};
use crate::dav::{Condition, DavError, DavResponse};
use crate::sched::SchedError;
use crate::service::ServiceError;

/// Namespace of the human-readable reason element inside DAV:error.
pub const KALENDS_NS: &str = "https://kalends.org/ns/";

/// RFC 9110 §10.2.3 Retry-After on a 503 while the database is out of reach: long enough for a
/// balancer's health check to take the node out, short enough for a client to come back soon.
pub const RETRY_AFTER: HeaderValue = HeaderValue::from_static("5");

pub fn to_response(err: DavError, paths: &Paths) -> DavResponse {
    match err {
        DavError::Service(e) => service_response(e, paths),
        DavError::Xml(e) => text(StatusCode::BAD_REQUEST, &format!("malformed XML: {e}")),
        DavError::BadRequest(reason) => text(StatusCode::BAD_REQUEST, &reason),
        DavError::NotFound => text(StatusCode::NOT_FOUND, "not found"),
        DavError::Forbidden => text(StatusCode::FORBIDDEN, "forbidden"),
        DavError::Refused(reason) => text(StatusCode::FORBIDDEN, &reason),
        DavError::MethodNotAllowed { allow } => {
            let mut resp = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed here");
            resp.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
            resp
        }
        DavError::Condition { status, condition, reason } => condition_response(status, &condition, reason.as_deref()),
        DavError::PreconditionFailed => text(StatusCode::PRECONDITION_FAILED, "precondition failed"),
        DavError::Conflict(reason) => text(StatusCode::CONFLICT, &reason),
        DavError::UnsupportedMediaType(reason) => text(StatusCode::UNSUPPORTED_MEDIA_TYPE, &reason),
        DavError::BadGateway(reason) => text(StatusCode::BAD_GATEWAY, &reason),
    }
}

fn service_response(err: ServiceError, paths: &Paths) -> DavResponse {
    let forbidden = |c: Condition, reason: String| condition_response(StatusCode::FORBIDDEN, &c, Some(&reason));
    match err {
        ServiceError::NotFound => text(StatusCode::NOT_FOUND, "not found"),
        ServiceError::Forbidden => text(StatusCode::FORBIDDEN, "forbidden"),
        ServiceError::AlreadyExists => text(StatusCode::CONFLICT, "a resource with that name exists already"),
        ServiceError::MissingParent => text(StatusCode::CONFLICT, "the parent collection does not exist"),
        ServiceError::PreconditionFailed => text(StatusCode::PRECONDITION_FAILED, "precondition failed"),
        ServiceError::InvalidObject(e) => {
            let reason = e.to_string();
            match e {
                InvalidObject::Data(_) => forbidden(Condition::ValidCalendarData, reason),
                InvalidObject::Resource(_) => forbidden(Condition::ValidCalendarObjectResource, reason),
                InvalidObject::BeforeMin(_) => forbidden(Condition::MinDateTime, reason),
                InvalidObject::AfterMax(_) => forbidden(Condition::MaxDateTime, reason),
            }
        }
        e @ ServiceError::UnsupportedComponent(_) => forbidden(Condition::SupportedCalendarComponent, e.to_string()),
        e @ ServiceError::UnsupportedMediaType => forbidden(Condition::SupportedCalendarData, e.to_string()),
        e @ ServiceError::TooLarge { .. } => forbidden(Condition::MaxResourceSize, e.to_string()),
        // RFC 4331 §6: 507 with DAV:quota-not-exceeded.
        ServiceError::QuotaExceeded => {
            condition_response(StatusCode::INSUFFICIENT_STORAGE, &Condition::QuotaNotExceeded, Some("quota exceeded"))
        }
        ServiceError::UidConflict { collection_path, owner, name, replaced } => {
            let href = paths.object(&owner, &collection_path, &name);
            let reason = if replaced {
                format!("{href} holds another UID; an object keeps its UID (RFC 4791 §5.3.2.1)")
            } else {
                format!("the UID is already used by {href}")
            };
            forbidden(Condition::NoUidConflict(href), reason)
        }
        ServiceError::UniqueSchedulingObject { collection_path, owner, name } => {
            let href = paths.object(&owner, &collection_path, &name);
            let reason = format!("{href} is already the scheduling object of this UID (RFC 6638 §3.2.4.1)");
            forbidden(Condition::UniqueSchedulingObjectResource(href), reason)
        }
        ServiceError::Scheduling(e) => {
            let reason = e.to_string();
            let condition = match e {
                SchedError::Data(_) => Condition::ValidCalendarData,
                SchedError::SameOrganizer => Condition::SameOrganizerInAllComponents,
                SchedError::ValidOrganizer(_) => Condition::AllowedOrganizerSchedulingObjectChange,
                SchedError::ValidAttendeeChange(_) => Condition::AllowedAttendeeSchedulingObjectChange,
                SchedError::ValidSchedulingMessage(_) => Condition::ValidSchedulingMessage,
                SchedError::MaxAttendees { .. } => Condition::MaxAttendeesPerInstance,
            };
            forbidden(condition, reason)
        }
        ServiceError::TooManyInstances => {
            forbidden(Condition::MaxInstances, "the answer needs more recurrence instances than max-instances".into())
        }
        ServiceError::InvalidSyncToken => {
            condition_response(StatusCode::FORBIDDEN, &Condition::ValidSyncToken, Some("unknown or expired sync token"))
        }
        ServiceError::Conflict(reason) => text(StatusCode::CONFLICT, &reason),
        ServiceError::Refused(reason) => text(StatusCode::FORBIDDEN, &reason),
        ServiceError::BadRequest(reason) => text(StatusCode::BAD_REQUEST, &reason),
        ServiceError::Internal(detail) => {
            tracing::error!(%detail, "internal error");
            text(StatusCode::INTERNAL_SERVER_ERROR, "internal server error")
        }
        ServiceError::Store(detail) => {
            tracing::error!(%detail, "store error");
            text(StatusCode::INTERNAL_SERVER_ERROR, "internal server error")
        }
        ServiceError::Unavailable(detail) => {
            tracing::error!(%detail, "database unavailable");
            unavailable("the database is unavailable; try again")
        }
    }
}

/// 503 with Retry-After (RFC 9110 §15.6.4): nothing was done, the client may try again.
pub fn unavailable(message: &str) -> DavResponse {
    let mut resp = text(StatusCode::SERVICE_UNAVAILABLE, message);
    resp.headers_mut().insert(header::RETRY_AFTER, RETRY_AFTER);
    resp
}

/// A service error for the JSON API (RFC 9457 problem details): status, title and detail.
/// Beside `service_response` so both wire formats are decided here; JSON clients get the
/// plain HTTP meanings (422 for data that does not validate, 410 for an expired sync token)
/// where DAV has its precondition elements.
pub fn problem_of(err: ServiceError) -> (StatusCode, &'static str, String) {
    let detail = err.to_string();
    match err {
        ServiceError::NotFound => (StatusCode::NOT_FOUND, "Not found", detail),
        ServiceError::Forbidden => (StatusCode::FORBIDDEN, "Forbidden", detail),
        ServiceError::Refused(reason) => (StatusCode::FORBIDDEN, "Forbidden", reason),
        ServiceError::AlreadyExists => (StatusCode::CONFLICT, "Already exists", "a resource with that name exists already".into()),
        ServiceError::MissingParent | ServiceError::Conflict(_) => (StatusCode::CONFLICT, "Conflict", detail),
        ServiceError::UidConflict { .. } | ServiceError::UniqueSchedulingObject { .. } => (StatusCode::CONFLICT, "UID in use", detail),
        ServiceError::PreconditionFailed => (StatusCode::PRECONDITION_FAILED, "Precondition failed", detail),
        ServiceError::InvalidObject(_) | ServiceError::UnsupportedComponent(_) | ServiceError::Scheduling(_) => {
            (StatusCode::UNPROCESSABLE_ENTITY, "Invalid calendar data", detail)
        }
        ServiceError::TooManyInstances => (StatusCode::UNPROCESSABLE_ENTITY, "Too many instances", detail),
        ServiceError::UnsupportedMediaType => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "Unsupported media type", detail),
        ServiceError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "Too large", detail),
        ServiceError::QuotaExceeded => (StatusCode::INSUFFICIENT_STORAGE, "Quota exceeded", detail),
        ServiceError::InvalidSyncToken => (StatusCode::GONE, "Sync token expired", "unknown or expired sync token: read everything again".into()),
        ServiceError::BadRequest(reason) => (StatusCode::BAD_REQUEST, "Bad request", reason),
        ServiceError::Internal(detail) => {
            tracing::error!(%detail, "internal error");
            (StatusCode::INTERNAL_SERVER_ERROR, "Internal error", "internal server error".into())
        }
        ServiceError::Store(detail) => {
            tracing::error!(%detail, "store error");
            (StatusCode::INTERNAL_SERVER_ERROR, "Internal error", "internal server error".into())
        }
        ServiceError::Unavailable(detail) => {
            tracing::error!(%detail, "database unavailable");
            (StatusCode::SERVICE_UNAVAILABLE, "Service unavailable", "the database is unavailable; try again".into())
        }
    }
}

/// `<D:error><C:cond/><K:reason>…</K:reason></D:error>` (RFC 4918 §16).
pub fn condition_response(status: StatusCode, condition: &Condition, reason: Option<&str>) -> DavResponse {
    let (ns, local) = condition.name();
    let mut w = XmlWriter::new();
    w.start(&QName::fixed(DAV, "error"));
    match condition {
        Condition::NoUidConflict(href) | Condition::UniqueSchedulingObjectResource(href) => {
            w.start(&QName::fixed(ns, local));
            w.text_element(&QName::fixed(DAV, "href"), href);
            w.end();
        }
        Condition::LockTokenSubmitted(hrefs) | Condition::NoConflictingLock(hrefs) => {
            w.start(&QName::fixed(ns, local));
            for href in hrefs {
                w.text_element(&QName::fixed(DAV, "href"), href);
            }
            w.end();
        }
        Condition::NeedPrivileges { href, privilege: (pns, plocal) } => {
            w.start(&QName::fixed(ns, local));
            w.start(&QName::fixed(DAV, "resource"));
            w.text_element(&QName::fixed(DAV, "href"), href);
            w.start(&QName::fixed(DAV, "privilege"));
            w.empty(&QName::fixed(pns, plocal));
            w.end();
            w.end();
            w.end();
        }
        _ => w.empty(&QName::fixed(ns, local)),
    }
    if let Some(reason) = reason {
        w.text_element(&QName::fixed(KALENDS_NS, "reason"), reason);
    }
    w.end();
    xml_response(status, w.finish())
}

pub fn text(status: StatusCode, message: &str) -> DavResponse {
    let mut resp = http::Response::new(Bytes::from(format!("{message}\n")));
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreError;

    #[test]
    fn a_failed_database_is_a_counted_500() {
        let failed = DavError::from(StoreError::Database(sqlx::Error::ColumnNotFound("x".into())));
        assert!(failed.is_store());
        assert_eq!(to_response(failed, &Paths::default()).status(), StatusCode::INTERNAL_SERVER_ERROR);
        // Store answers that are not failures map as before and are not counted.
        assert!(!DavError::from(StoreError::NotFound).is_store());
        assert!(!DavError::from(StoreError::SchedulingObject).is_store());
        assert!(!DavError::Service(ServiceError::Internal("x".into())).is_store());
    }

    #[test]
    fn a_lost_database_is_a_counted_503_with_retry_after() {
        let gone = StoreError::Database(sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)));
        let gone = DavError::from(gone);
        assert!(gone.is_store());
        let resp = to_response(gone, &Paths::default());
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(resp.headers()[header::RETRY_AFTER], "5");
        let waited = ServiceError::from(StoreError::Database(sqlx::Error::PoolTimedOut));
        assert_eq!(problem_of(waited).0, StatusCode::SERVICE_UNAVAILABLE);
    }
}
