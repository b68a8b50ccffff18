//! Building 207 Multi-Status bodies (RFC 4918 §13): one `<response>` per resource, properties
//! grouped into `<propstat>` by status.

use bytes::Bytes;
use http::{StatusCode, header};

use super::{Condition, DavResponse};
use super::props::{Value, write_value};
use super::xml::{DAV, QName, XmlWriter};

pub struct Multistatus {
    w: XmlWriter,
    responses: usize,
}

/// How many `<response>` elements a multistatus answer listed: a response extension the rate
/// limiter charges by (listings cost by the items they return).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listed(pub usize);

/// One property's outcome in a response.
#[derive(Debug, Clone)]
pub enum PropResult {
    Found(QName, Value),
    /// Name only (PROPFIND propname).
    Name(QName),
    /// Refused or missing, with the RFC 4918 §14.22 error element when there is a condition.
    Status(QName, StatusCode, Option<Condition>),
}

impl Default for Multistatus {
    fn default() -> Self {
        Self::new()
    }
}

impl Multistatus {
    pub fn new() -> Self {
        let mut w = XmlWriter::new();
        w.start(&QName::fixed(DAV, "multistatus"));
        Multistatus { w, responses: 0 }
    }

    /// `props` for the `nth` (from 0) of `count` responses of a listing. After the first, room
    /// for the rest is reserved at its size plus a tenth, so a listing of 25,000 members
    /// allocates its document once instead of growing it by doubling, where each step holds
    /// the old and the new buffer at once: with several large listings at a time that growth
    /// was the peak of the server's memory.
    pub fn listed_props(&mut self, nth: usize, count: usize, href: &str, results: &[PropResult]) {
        let start = self.w.len();
        self.props(href, results);
        if nth == 0 {
            let each = self.w.len() - start;
            let rest = count.saturating_sub(1);
            self.w.reserve(rest.saturating_mul(each.saturating_add(each / 10)));
        }
    }

    /// A response that is a bare status (e.g. a missing href in a multiget, a sync tombstone).
    pub fn status(&mut self, href: &str, status: StatusCode) {
        self.responses += 1;
        let w = &mut self.w;
        w.start(&QName::fixed(DAV, "response"));
        w.text_element(&QName::fixed(DAV, "href"), href);
        w.text_element(&QName::fixed(DAV, "status"), &status_line(status));
        w.end();
    }

    /// A response with properties, grouped by status (200 first) and condition, in the order
    /// given within a group.
    pub fn props(&mut self, href: &str, results: &[PropResult]) {
        self.responses += 1;
        write_response(&mut self.w, href, results);
    }
}

/// One `<D:response>` with `results` grouped into propstats; also what DAV:expand-property
/// writes inside an expanded property (RFC 3253 §3.8).
pub fn write_response(w: &mut XmlWriter, href: &str, results: &[PropResult]) {
    w.start(&QName::fixed(DAV, "response"));
    w.text_element(&QName::fixed(DAV, "href"), href);
    write_propstats(w, results);
    w.end();
}

/// `results` as propstats grouped by status (200 first) and condition; also the body of an
/// RFC 5689 mkcol-response.
pub fn write_propstats(w: &mut XmlWriter, results: &[PropResult]) {
    let found: Vec<&PropResult> =
        results.iter().filter(|r| matches!(r, PropResult::Found(..) | PropResult::Name(_))).collect();
    if !found.is_empty() || results.is_empty() {
        write_propstat(w, StatusCode::OK, None, &found);
    }
    let mut groups: Vec<(StatusCode, Option<&Condition>)> = results
        .iter()
        .filter_map(|r| if let PropResult::Status(_, s, c) = r { Some((*s, c.as_ref())) } else { None })
        .collect();
    groups.sort_by_key(|(s, c)| (*s, c.map(Condition::name)));
    groups.dedup();
    for (status, condition) in groups {
        let group: Vec<&PropResult> = results
            .iter()
            .filter(|r| matches!(r, PropResult::Status(_, s, c) if *s == status && c.as_ref() == condition))
            .collect();
        write_propstat(w, status, condition, &group);
    }
}

impl Multistatus {
    /// RFC 6578 §6.4: the new token, after the responses.
    pub fn sync_token(&mut self, token: &str) {
        self.w.text_element(&QName::fixed(DAV, "sync-token"), token);
    }

    pub fn finish(mut self) -> DavResponse {
        self.w.end();
        let mut resp = xml_response(StatusCode::MULTI_STATUS, self.w.finish());
        resp.extensions_mut().insert(Listed(self.responses));
        resp
    }
}

fn write_propstat(w: &mut XmlWriter, status: StatusCode, condition: Option<&Condition>, group: &[&PropResult]) {
    w.start(&QName::fixed(DAV, "propstat"));
    w.start(&QName::fixed(DAV, "prop"));
    for r in group {
        match r {
            PropResult::Found(name, value) => write_value(w, name, value),
            PropResult::Name(name) | PropResult::Status(name, ..) => w.empty(name),
        }
    }
    w.end();
    w.text_element(&QName::fixed(DAV, "status"), &status_line(status));
    if let Some(condition) = condition {
        let (ns, local) = condition.name();
        w.start(&QName::fixed(DAV, "error"));
        w.empty(&QName::fixed(ns, local));
        w.end();
    }
    w.end();
}

pub fn status_line(status: StatusCode) -> String {
    format!("HTTP/1.1 {} {}", status.as_u16(), status.canonical_reason().unwrap_or(""))
}

pub fn xml_response(status: StatusCode, body: Vec<u8>) -> DavResponse {
    let mut resp = http::Response::new(Bytes::from(body));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, http::HeaderValue::from_static("application/xml; charset=utf-8"));
    resp
}
