//! The WebDAV/CalDAV side of the driver: request bodies, and a multistatus reader that counts
//! what a server answered, whichever namespace prefixes it uses.
//!
//! The reader is quick-xml over local names, independent of Kalends' own XML code, so a bug
//! there cannot hide a wrong answer here.

use quick_xml::Reader;
use quick_xml::events::Event;

/// One `DAV:response` of a multistatus.
#[derive(Debug, Default)]
pub struct Response {
    pub href: String,
    /// Properties found in a propstat with status 200: local name and text.
    pub props: Vec<(String, String)>,
    /// Local names of the DAV:resourcetype children (collection, calendar, …).
    pub resourcetype: Vec<String>,
    /// The response's own DAV:status (sync-collection removals, multiget misses), if any.
    pub status: Option<String>,
}

impl Response {
    pub fn prop(&self, name: &str) -> Option<&str> {
        self.props.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Default)]
pub struct Multistatus {
    pub responses: Vec<Response>,
    pub sync_token: Option<String>,
}

pub fn parse_multistatus(body: &[u8]) -> Result<Multistatus, String> {
    let mut reader = Reader::from_reader(body);
    let mut out = Multistatus::default();
    let mut stack: Vec<String> = Vec::new();
    let mut current: Option<Response> = None;
    let mut propstat: Vec<(String, String)> = Vec::new();
    let mut propstat_status = String::new();
    let mut types: Vec<String> = Vec::new();
    // All text of the document since the current response began; each open element
    // remembers where its own text starts, so an element's text includes its descendants'.
    let mut text = String::new();
    let mut starts: Vec<usize> = Vec::new();
    loop {
        let event = reader.read_event().map_err(|e| format!("XML at {}: {e}", reader.buffer_position()))?;
        match event {
            Event::Start(e) => {
                let name = AsRef::<str>::as_ref(&e.local_name()).to_owned();
                open(&stack, &name, &mut current, &mut types);
                stack.push(name);
                starts.push(text.len());
            }
            Event::Empty(e) => {
                let name = AsRef::<str>::as_ref(&e.local_name()).to_owned();
                open(&stack, &name, &mut current, &mut types);
                stack.push(name);
                close(&stack, "", &mut current, &mut propstat, &mut propstat_status, &mut types, &mut out);
                stack.pop();
            }
            Event::Text(t) => text.push_str(&t.xml10_content()),
            Event::CData(c) => text.push_str(&c.xml10_content()),
            Event::GeneralRef(r) => match r.resolve_char_ref() {
                Ok(Some(c)) => text.push(c),
                _ => text.push_str(quick_xml::escape::resolve_predefined_entity(&r).unwrap_or("")),
            },
            Event::End(_) => {
                let start = starts.pop().unwrap_or(0);
                let own = text.get(start..).unwrap_or("").to_owned();
                close(&stack, &own, &mut current, &mut propstat, &mut propstat_status, &mut types, &mut out);
                if stack.last().is_some_and(|n| n == "response") {
                    text.clear();
                }
                stack.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(out)
}

fn open(stack: &[String], name: &str, current: &mut Option<Response>, types: &mut Vec<String>) {
    if name == "response" {
        *current = Some(Response::default());
    }
    if stack.last().is_some_and(|p| p == "resourcetype") {
        types.push(name.to_owned());
    }
}

/// Handles the end of the element on top of `stack`, whose text is `text`.
fn close(
    stack: &[String],
    text: &str,
    current: &mut Option<Response>,
    propstat: &mut Vec<(String, String)>,
    propstat_status: &mut String,
    types: &mut Vec<String>,
    out: &mut Multistatus,
) {
    let n = stack.len();
    let name = stack[n - 1].as_str();
    let parent = if n >= 2 { stack[n - 2].as_str() } else { "" };
    match (parent, name) {
        ("multistatus", "sync-token") => out.sync_token = Some(text.trim().to_owned()),
        ("response", "href") => {
            if let Some(r) = current.as_mut() {
                r.href = text.trim().to_owned();
            }
        }
        ("response", "status") => {
            if let Some(r) = current.as_mut() {
                r.status = Some(text.trim().to_owned());
            }
        }
        ("propstat", "status") => *propstat_status = text.to_owned(),
        ("prop", prop) if n >= 3 && stack[n - 3] == "propstat" => {
            let value = if prop == "resourcetype" { types.join(",") } else { text.to_owned() };
            propstat.push((prop.to_owned(), value));
        }
        (_, "propstat") => {
            if propstat_status.contains(" 200") {
                if let Some(r) = current.as_mut() {
                    for (k, v) in propstat.drain(..) {
                        if k == "resourcetype" {
                            r.resourcetype = v.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect();
                        }
                        r.props.push((k, v));
                    }
                }
            }
            propstat.clear();
            propstat_status.clear();
            types.clear();
        }
        (_, "response") => {
            if let Some(r) = current.take() {
                out.responses.push(r);
            }
        }
        _ => {}
    }
}

/// Counts `DAV:response` closing tags, whatever their prefix: the cheap check used on most
/// answers under load (the full parse runs on a sample).
pub fn count_responses(body: &[u8]) -> usize {
    let needle = b"response>";
    let mut count = 0;
    let mut at = 0;
    while let Some(pos) = find(&body[at..], needle) {
        let end = at + pos;
        // `</response>` or `</PREFIX:response>`.
        let mut open_at = end;
        if end > 0 && body[end - 1] == b':' {
            let mut i = end - 1;
            while i > 0 && (body[i - 1].is_ascii_alphanumeric() || body[i - 1] == b'_' || body[i - 1] == b'-') {
                i -= 1;
            }
            open_at = i;
        }
        if open_at >= 2 && &body[open_at - 2..open_at] == b"</" {
            count += 1;
        }
        at = end + needle.len();
    }
    count
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Percent-decodes an href path for comparison between servers that encode differently.
pub fn decode_href(href: &str) -> String {
    let path = match href.find("://") {
        Some(s) => href[s + 3..].find('/').map_or("/", |p| &href[s + 3 + p..]),
        None => href,
    };
    percent_encoding::percent_decode_str(path).decode_utf8_lossy().into_owned()
}

// ---------------------------------------------------------------------------------------------
// Request bodies.
// ---------------------------------------------------------------------------------------------

pub const PROPFIND_ETAG: &str = r#"<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:getetag/><D:getcontenttype/></D:prop></D:propfind>"#;

pub const PROPFIND_PRINCIPAL: &str = r#"<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:current-user-principal/></D:prop></D:propfind>"#;

pub const PROPFIND_HOME_SET: &str = r#"<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-home-set/></D:prop></D:propfind>"#;

/// What DAVx5 asks of a calendar home before it syncs.
pub const PROPFIND_HOME: &str = r#"<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:CS="http://calendarserver.org/ns/" xmlns:A="http://apple.com/ns/ical/"><D:prop><D:resourcetype/><D:displayname/><D:current-user-privilege-set/><CS:getctag/><D:sync-token/><C:supported-calendar-component-set/><A:calendar-color/><C:calendar-description/></D:prop></D:propfind>"#;

pub const MKCALENDAR: &str = r#"<?xml version="1.0" encoding="utf-8"?><C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><D:displayname>kalends-bench</D:displayname><C:supported-calendar-component-set><C:comp name="VEVENT"/></C:supported-calendar-component-set></D:prop></D:set></C:mkcalendar>"#;

pub fn calendar_query(start: &str, end: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="{start}" end="{end}"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"#
    )
}

pub fn multiget<'a>(hrefs: impl Iterator<Item = &'a str>) -> String {
    let mut body = String::from(
        r#"<?xml version="1.0" encoding="utf-8"?><C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/></D:prop>"#,
    );
    for h in hrefs {
        body.push_str("<D:href>");
        body.push_str(h);
        body.push_str("</D:href>");
    }
    body.push_str("</C:calendar-multiget>");
    body
}

pub fn free_busy(start: &str, end: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav"><C:time-range start="{start}" end="{end}"/></C:free-busy-query>"#
    )
}

pub fn sync_collection(token: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><D:sync-collection xmlns:D="DAV:"><D:sync-token>{token}</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>"#
    )
}

/// The busy periods of a free-busy answer as [start, end) UTC seconds (FREEBUSY values are
/// `start/end` or `start/duration`, RFC 5545 §3.3.9, always in UTC).
pub fn busy_periods(ics: &str) -> Result<Vec<(i64, i64)>, String> {
    let unfolded = ics.replace("\r\n ", "").replace("\r\n\t", "").replace("\n ", "");
    let mut out = Vec::new();
    for line in unfolded.lines() {
        let line = line.trim_end_matches('\r');
        let Some(rest) = line.strip_prefix("FREEBUSY") else { continue };
        let (params, value) = rest.split_once(':').ok_or_else(|| format!("bad line {line:?}"))?;
        if params.contains("FBTYPE=FREE") {
            continue;
        }
        for period in value.split(',') {
            let (s, e) = period.split_once('/').ok_or_else(|| format!("bad period {period:?}"))?;
            let start = utc_seconds(s)?;
            let end = if e.starts_with('P') || e.starts_with("+P") { start + duration_seconds(e)? } else { utc_seconds(e)? };
            out.push((start, end));
        }
    }
    Ok(out)
}

fn utc_seconds(v: &str) -> Result<i64, String> {
    chrono::NaiveDateTime::parse_from_str(v.trim_end_matches('Z'), "%Y%m%dT%H%M%S")
        .map(|t| t.and_utc().timestamp())
        .map_err(|e| format!("bad UTC time {v:?}: {e}"))
}

fn duration_seconds(v: &str) -> Result<i64, String> {
    let v = v.trim_start_matches('+').strip_prefix('P').ok_or_else(|| format!("bad duration {v:?}"))?;
    let (mut total, mut n) = (0i64, 0i64);
    for c in v.chars() {
        match c {
            '0'..='9' => n = n * 10 + i64::from(c as u8 - b'0'),
            'W' => (total, n) = (total + n * 7 * 86_400, 0),
            'D' => (total, n) = (total + n * 86_400, 0),
            'H' => (total, n) = (total + n * 3600, 0),
            'M' => (total, n) = (total + n * 60, 0),
            'S' => (total, n) = (total + n, 0),
            'T' => {}
            _ => return Err(format!("bad duration P{v}")),
        }
    }
    Ok(total)
}
