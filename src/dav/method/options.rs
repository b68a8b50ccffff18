//! OPTIONS (RFC 4918 §10.1, RFC 4791 §5.1): the DAV compliance classes and allowed methods.

use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};

use crate::dav::DavResponse;

/// Compliance classes: class 1 and 3 (RFC 4918 §18), calendar-access (RFC 4791),
/// extended-mkcol (RFC 5689).
pub const DAV_CLASSES: &str = "1, 3, calendar-access, extended-mkcol";
pub const ALLOW: &str = "OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, PROPPATCH, MKCOL, MKCALENDAR, COPY, MOVE, REPORT";

pub fn handle() -> DavResponse {
    let mut resp = http::Response::new(Bytes::new());
    *resp.status_mut() = StatusCode::OK;
    let h = resp.headers_mut();
    h.insert("dav", HeaderValue::from_static(DAV_CLASSES));
    h.insert(header::ALLOW, HeaderValue::from_static(ALLOW));
    resp
}
