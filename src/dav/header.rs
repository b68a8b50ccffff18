//! DAV request headers, parsed once into one struct (Depth, If-Match, If-None-Match, Overwrite,
//! Destination, Content-Type, If-Modified-Since, Host, and for locks If, Lock-Token and
//! Timeout) and passed down to the method handlers.

use http::HeaderMap;

use super::if_header::IfHeader;
use crate::store::Expect;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    Zero,
    One,
    Infinity,
}

#[derive(Debug, Clone, Default)]
pub struct DavHeaders {
    /// As sent; each method applies its own default (RFC 4918 §10.2).
    pub depth: Option<Depth>,
    pub if_match: Option<EtagList>,
    pub if_none_match: Option<EtagList>,
    /// RFC 4918 §10.6: default T.
    pub overwrite: bool,
    pub destination: Option<String>,
    /// Media type without parameters, lowercased.
    pub content_type: Option<String>,
    pub if_modified_since: Option<std::time::SystemTime>,
    /// The request's Host, to tell whether a Destination names this server.
    pub host: Option<String>,
    /// RFC 6638 §8.3 If-Schedule-Tag-Match: one entity tag, quotes included.
    pub if_schedule_tag_match: Option<String>,
    /// RFC 4918 §10.4: state tokens and entity tags, evaluated in `dav/lock.rs`.
    pub if_header: Option<IfHeader>,
    /// RFC 4918 §10.5: the lock token of an UNLOCK, without its angle brackets.
    pub lock_token: Option<String>,
    /// RFC 4918 §10.7: the first timeout understood, in seconds (`Infinite` is `u64::MAX`).
    pub timeout: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EtagList {
    Any,
    /// Entity tags with their quotes; weak tags keep their `W/` (they never match strongly).
    Tags(Vec<String>),
}

/// A header value the request cannot be served with; the message is shown to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadHeader(pub String);

impl DavHeaders {
    pub fn parse(headers: &HeaderMap) -> Result<DavHeaders, BadHeader> {
        let text = |name: &str| -> Result<Option<&str>, BadHeader> {
            match headers.get(name) {
                None => Ok(None),
                Some(v) => v
                    .to_str()
                    .map(|s| Some(s.trim()))
                    .map_err(|_| BadHeader(format!("{name} is not ASCII"))),
            }
        };
        let depth = match text("depth")? {
            None => None,
            Some("0") => Some(Depth::Zero),
            Some("1") => Some(Depth::One),
            Some(v) if v.eq_ignore_ascii_case("infinity") => Some(Depth::Infinity),
            Some(v) => return Err(BadHeader(format!("Depth must be 0, 1 or infinity, not {v:?}"))),
        };
        let overwrite = match text("overwrite")? {
            None => true,
            Some(v) if v.eq_ignore_ascii_case("T") => true,
            Some(v) if v.eq_ignore_ascii_case("F") => false,
            Some(v) => return Err(BadHeader(format!("Overwrite must be T or F, not {v:?}"))),
        };
        let content_type = text("content-type")?.map(|v| {
            v.split(';').next().unwrap_or("").trim().to_ascii_lowercase()
        });
        let if_modified_since = text("if-modified-since")?.and_then(|v| httpdate::parse_http_date(v).ok());
        Ok(DavHeaders {
            depth,
            if_match: text("if-match")?.map(parse_etags),
            if_none_match: text("if-none-match")?.map(parse_etags),
            overwrite,
            destination: text("destination")?.map(str::to_owned),
            content_type,
            if_modified_since,
            host: text("host")?.map(str::to_owned),
            if_schedule_tag_match: match text("if-schedule-tag-match")? {
                None => None,
                Some(v) if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') => Some(v.to_owned()),
                Some(v) => return Err(BadHeader(format!("If-Schedule-Tag-Match must be one quoted entity tag, not {v:?} (RFC 6638 §8.3)"))),
            },
            if_header: text("if")?.map(IfHeader::parse).transpose()?,
            lock_token: match text("lock-token")? {
                None => None,
                Some(v) => match v.strip_prefix('<').and_then(|v| v.strip_suffix('>')) {
                    Some(token) if !token.is_empty() => Some(token.to_owned()),
                    _ => return Err(BadHeader(format!("Lock-Token must be a Coded-URL <…>, not {v:?} (RFC 4918 §10.5)"))),
                },
            },
            timeout: text("timeout")?.and_then(parse_timeout),
        })
    }

    /// The store condition for a write (RFC 7232 §3.1, §3.2).
    pub fn write_expectation(&self) -> Expect {
        match (&self.if_match, &self.if_none_match) {
            (Some(EtagList::Any), _) => Expect::Present,
            (Some(EtagList::Tags(tags)), _) => Expect::Etag(tags.clone()),
            (None, Some(EtagList::Any)) => Expect::Absent,
            (None, Some(EtagList::Tags(tags))) => Expect::NotEtag(tags.clone()),
            (None, None) => Expect::Any,
        }
    }
}

fn parse_etags(value: &str) -> EtagList {
    if value == "*" {
        return EtagList::Any;
    }
    // Entity tags may contain commas inside quotes: split on commas outside quotes only.
    let mut tags = Vec::new();
    let (mut current, mut quoted) = (String::new(), false);
    for c in value.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            ',' if !quoted => tags.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    tags.push(current);
    EtagList::Tags(tags.into_iter().map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()).collect())
}

/// RFC 4918 §10.7: `Infinite` or `Second-N`, several separated by commas in order of
/// preference; the first one understood counts, and none understood is as if none was sent.
fn parse_timeout(value: &str) -> Option<u64> {
    value.split(',').map(str::trim).find_map(|t| {
        if t.eq_ignore_ascii_case("infinite") {
            return Some(u64::MAX);
        }
        let digits = t.get(..7).filter(|p| p.eq_ignore_ascii_case("second-")).and(t.get(7..))?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        // Too many digits for u64 is longer than any maximum: the maximum then applies.
        Some(digits.parse::<u64>().unwrap_or(u64::MAX))
    })
}

/// Does a stored strong ETag match a condition list? (Strong comparison, RFC 7232 §2.3.2.)
pub fn etag_matches(list: &EtagList, etag: &str) -> bool {
    match list {
        EtagList::Any => true,
        EtagList::Tags(tags) => tags.iter().any(|t| t == etag),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn parses_dav_headers() {
        let h = DavHeaders::parse(&headers(&[
            ("depth", "Infinity"),
            ("if-match", "\"a,b\", \"c\""),
            ("overwrite", "F"),
            ("content-type", "Text/Calendar; charset=utf-8"),
        ]))
        .unwrap();
        assert_eq!(h.depth, Some(Depth::Infinity));
        assert_eq!(h.if_match, Some(EtagList::Tags(vec!["\"a,b\"".into(), "\"c\"".into()])));
        assert!(!h.overwrite);
        assert_eq!(h.content_type.as_deref(), Some("text/calendar"));
        assert_eq!(h.write_expectation(), Expect::Etag(vec!["\"a,b\"".into(), "\"c\"".into()]));
    }

    #[test]
    fn conditions() {
        let h = DavHeaders::parse(&headers(&[("if-none-match", "*")])).unwrap();
        assert_eq!(h.write_expectation(), Expect::Absent);
        assert!(DavHeaders::parse(&headers(&[("depth", "2")])).is_err());
        assert!(DavHeaders::parse(&headers(&[("overwrite", "maybe")])).is_err());
        assert!(etag_matches(&EtagList::Tags(vec!["\"x\"".into()]), "\"x\""));
        assert!(!etag_matches(&EtagList::Tags(vec!["W/\"x\"".into()]), "\"x\""));
    }

    #[test]
    fn lock_headers() {
        let h = DavHeaders::parse(&headers(&[("lock-token", "<urn:uuid:a>"), ("timeout", "Second-3600")])).unwrap();
        assert_eq!(h.lock_token.as_deref(), Some("urn:uuid:a"));
        assert_eq!(h.timeout, Some(3600));
        assert!(DavHeaders::parse(&headers(&[("lock-token", "urn:uuid:a")])).is_err());
        assert!(DavHeaders::parse(&headers(&[("if", "(junk)")])).is_err(), "a malformed If header is 400");
        assert!(DavHeaders::parse(&headers(&[("if", "(<urn:uuid:a>)")])).unwrap().if_header.is_some());
        assert_eq!(parse_timeout("Infinite, Second-4100000000"), Some(u64::MAX));
        assert_eq!(parse_timeout("Extended, second-60"), Some(60));
        assert_eq!(parse_timeout("Second-99999999999999999999999"), Some(u64::MAX));
        assert_eq!(parse_timeout("Second-x"), None);
    }
}
