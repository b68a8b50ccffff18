//! OPTIONS (RFC 4918 §10.1, RFC 4791 §5.1): the DAV compliance classes and allowed methods.

use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};

use crate::dav::DavResponse;

/// Compliance classes: classes 1, 2 (locking, issue 23) and 3 (RFC 4918 §18), calendar-access (RFC 4791),
/// extended-mkcol (RFC 5689), calendar-auto-schedule (RFC 6638 §2), calendarserver-sharing
/// (Apple Calendar offers "Share With…" only on servers that announce it; decision 0023).
pub const DAV_CLASSES: &str = "1, 2, 3, calendar-access, extended-mkcol, calendar-auto-schedule, calendarserver-sharing";
pub const ALLOW: &str = "OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, PROPPATCH, MKCOL, MKCALENDAR, COPY, MOVE, REPORT, LOCK, UNLOCK";

/// What succeeds on an existing collection (a 405's Allow names only those, RFC 9110 §15.5.6):
/// PUT, MKCOL and MKCALENDAR need an unmapped URL or an object.
pub const ALLOW_COLLECTION: &str = "OPTIONS, GET, HEAD, DELETE, PROPFIND, PROPPATCH, COPY, MOVE, REPORT, LOCK, UNLOCK";
/// What succeeds on an existing object resource.
pub const ALLOW_OBJECT: &str = "OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, PROPPATCH, COPY, MOVE, REPORT, LOCK, UNLOCK";

/// The Allow header of a 405 on an existing resource.
pub fn allow_on(located: &crate::dav::locate::Located) -> &'static str {
    match located {
        crate::dav::locate::Located::Object(..) => ALLOW_OBJECT,
        _ => ALLOW_COLLECTION,
    }
}

pub fn handle() -> DavResponse {
    let mut resp = http::Response::new(Bytes::new());
    *resp.status_mut() = StatusCode::OK;
    let h = resp.headers_mut();
    h.insert("dav", HeaderValue::from_static(DAV_CLASSES));
    h.insert(header::ALLOW, HeaderValue::from_static(ALLOW));
    resp
}
