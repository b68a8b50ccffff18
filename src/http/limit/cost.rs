//! What a request costs the principal's bucket: one table, by what the request does. A unit is
//! one cheap request (a GET or a Depth 0 PROPFIND); listings pay again after the answer for the
//! items they returned, so a sync of 5,000 events costs what it is worth and a one-item one
//! almost nothing.

use crate::dav::DavMethod;

/// Items of a multistatus answer that cost one more unit (charged after the answer).
pub const ITEMS_PER_UNIT: usize = 50;

/// The classes of request the table prices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestClass {
    /// GET, HEAD, PROPFIND Depth 0, expand-property, principal search: one row or a few.
    Read,
    /// PROPFIND Depth 1/infinity and REPORTs that list: multiget, sync-collection.
    Listing,
    /// calendar-query without expansion (a time-range or text filter over a collection).
    Query,
    /// calendar-query with `<C:expand>`, free-busy-query, and the outbox's free/busy POST:
    /// recurrence expansion over a whole range.
    Expansion,
    /// PUT, DELETE, PROPPATCH, LOCK, UNLOCK: one transaction, maybe scheduling.
    Write,
    /// COPY and MOVE: may carry a whole collection.
    Transfer,
    /// MKCALENDAR, MKCOL: a new collection (and account-level writes to come).
    Create,
}

impl RequestClass {
    /// The class of a request from its method, its Depth header (as sent) and, for REPORT,
    /// the start of its body.
    pub fn of(method: DavMethod, depth: Option<&str>, body: &[u8]) -> RequestClass {
        match method {
            DavMethod::Get | DavMethod::Head | DavMethod::Options | DavMethod::Other => RequestClass::Read,
            // RFC 4918 §9.1: no Depth means infinity.
            DavMethod::Propfind => match depth.map(str::trim) {
                Some("0") => RequestClass::Read,
                _ => RequestClass::Listing,
            },
            DavMethod::Report => report_class(body),
            DavMethod::Post => RequestClass::Expansion,
            DavMethod::Put | DavMethod::Delete | DavMethod::Proppatch | DavMethod::Lock | DavMethod::Unlock => {
                RequestClass::Write
            }
            DavMethod::Copy | DavMethod::Move => RequestClass::Transfer,
            DavMethod::Mkcol | DavMethod::Mkcalendar => RequestClass::Create,
        }
    }

    /// Units charged before the request runs.
    pub fn cost(self) -> u32 {
        match self {
            RequestClass::Read => 1,
            RequestClass::Listing => 2,
            RequestClass::Query => 3,
            RequestClass::Write => 3,
            RequestClass::Transfer => 5,
            RequestClass::Expansion => 6,
            RequestClass::Create => 20,
        }
    }
}

/// Units charged after the answer, for the `items` responses it listed.
pub fn items_cost(items: usize) -> u32 {
    u32::try_from(items / ITEMS_PER_UNIT).unwrap_or(u32::MAX)
}

/// A REPORT's class from its root element (RFC 4791 §7.8–§7.10, RFC 6578 §3.2), read from the
/// first bytes without parsing the document: the price is an estimate, and a body that is not
/// a known report is refused by the DAV layer anyway (at the Read price).
fn report_class(body: &[u8]) -> RequestClass {
    let Some(root) = root_local_name(body) else { return RequestClass::Read };
    match root {
        b"calendar-multiget" | b"sync-collection" => RequestClass::Listing,
        b"free-busy-query" => RequestClass::Expansion,
        // `<C:expand>` inside calendar-data (RFC 4791 §9.6.5) is the costly form.
        b"calendar-query" if contains(body, b"expand") => RequestClass::Expansion,
        b"calendar-query" => RequestClass::Query,
        _ => RequestClass::Read,
    }
}

/// The local name of the first element of an XML document: after the XML declaration,
/// comments, processing instructions and a DOCTYPE, without its namespace prefix.
fn root_local_name(body: &[u8]) -> Option<&[u8]> {
    let mut rest = body;
    loop {
        let lt = rest.iter().position(|&b| b == b'<')?;
        rest = &rest[lt + 1..];
        match rest.first()? {
            // `<?xml …?>`, `<!-- … -->`, `<!DOCTYPE …>`: skip to the end of the markup.
            b'?' | b'!' => {
                let end = if rest.starts_with(b"!--") { find(rest, b"-->")? } else { find(rest, b">")? };
                rest = &rest[end..];
            }
            _ => {
                let end = rest.iter().position(|&b| b.is_ascii_whitespace() || b == b'>' || b == b'/')?;
                let name = &rest[..end];
                return Some(name.iter().rposition(|&b| b == b':').map_or(name, |c| &name[c + 1..]));
            }
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    find(hay, needle).is_some()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_table() {
        let class = |m, d, b: &str| RequestClass::of(m, d, b.as_bytes());
        assert_eq!(class(DavMethod::Get, None, ""), RequestClass::Read);
        assert_eq!(class(DavMethod::Propfind, Some("0"), ""), RequestClass::Read);
        assert_eq!(class(DavMethod::Propfind, Some("1"), ""), RequestClass::Listing);
        assert_eq!(class(DavMethod::Propfind, None, ""), RequestClass::Listing, "no Depth is infinity");
        assert_eq!(class(DavMethod::Put, None, ""), RequestClass::Write);
        assert_eq!(class(DavMethod::Delete, None, ""), RequestClass::Write);
        assert_eq!(class(DavMethod::Move, None, ""), RequestClass::Transfer);
        assert_eq!(class(DavMethod::Mkcalendar, None, ""), RequestClass::Create);
        assert_eq!(class(DavMethod::Post, None, ""), RequestClass::Expansion);
        // Cheap below dear, creation dearest.
        let order = [
            RequestClass::Read,
            RequestClass::Listing,
            RequestClass::Query,
            RequestClass::Transfer,
            RequestClass::Expansion,
            RequestClass::Create,
        ];
        assert!(order.windows(2).all(|w| w[0].cost() <= w[1].cost()));
        assert!(RequestClass::Write.cost() > RequestClass::Read.cost());
    }

    #[test]
    fn reports_by_root_element() {
        let report = |b: &str| RequestClass::of(DavMethod::Report, Some("1"), b.as_bytes());
        let multiget = r#"<?xml version="1.0" encoding="utf-8" ?>
            <!-- a comment <with> brackets -->
            <C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop/></C:calendar-multiget>"#;
        assert_eq!(report(multiget), RequestClass::Listing);
        assert_eq!(report(r#"<sync-collection xmlns="DAV:"><sync-token/></sync-collection>"#), RequestClass::Listing);
        let query = r#"<c:calendar-query xmlns:c="urn:ietf:params:xml:ns:caldav"><c:filter/></c:calendar-query>"#;
        assert_eq!(report(query), RequestClass::Query);
        let expand = r#"<c:calendar-query xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop xmlns:d="DAV:"><c:calendar-data><c:expand start="20060103T000000Z" end="20060105T000000Z"/></c:calendar-data></d:prop></c:calendar-query>"#;
        assert_eq!(report(expand), RequestClass::Expansion);
        assert_eq!(report(r#"<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav"/>"#), RequestClass::Expansion);
        assert_eq!(report(r#"<D:expand-property xmlns:D="DAV:"/>"#), RequestClass::Read);
        assert_eq!(report("not xml"), RequestClass::Read);
        assert_eq!(report(""), RequestClass::Read);
        assert_eq!(root_local_name(b"<!DOCTYPE x><a:b/>").unwrap(), b"b");
    }

    #[test]
    fn items_after_the_answer() {
        assert_eq!(items_cost(0), 0);
        assert_eq!(items_cost(ITEMS_PER_UNIT - 1), 0, "a short listing costs its base price only");
        assert_eq!(items_cost(ITEMS_PER_UNIT), 1);
        assert_eq!(items_cost(5_000), 100);
    }
}
