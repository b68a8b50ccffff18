//! The fuzz targets: library functions that face hostile input, each run in process on one
//! input, which must never panic and must stay within the code's own limits. Shared by the
//! stable driver (`tests/fuzz.rs`) and the libFuzzer binaries (`fuzz/fuzz_targets/`), which
//! include this file, so both fuzz exactly the same code. Each returns a short label of what
//! the input reached, the stable driver's feedback.
//!
//! To add a target: a `pub fn name(data: &[u8]) -> String` here, its line in [`TARGETS`], seeds
//! in `tests/fuzz/seeds.rs`, a `fuzz_target!` file in `fuzz/fuzz_targets/` with its `[[bin]]`
//! in `fuzz/Cargo.toml`, one `target_test!` line (and the name in `every_target_has_a_test`) in
//! `tests/fuzz.rs`, and the name in `tools/fuzz`'s TARGETS.

#![allow(dead_code)]

use http::{HeaderMap, HeaderName, HeaderValue};
use kalends::calendar::data::{self, RecurrenceMode};
use kalends::calendar::filter::{CompFilter, TimeRange};
use kalends::calendar::query::{self, QueryContext, QueryError};
use kalends::calendar::recur::Window;
use kalends::calendar::validate::{self, ValidateOptions};
use kalends::calendar::{freebusy, instances, raw};
use kalends::dav::header::{DavHeaders, etag_matches};
use kalends::dav::if_header::State as IfState;
use kalends::dav::request::{self, ReportBody};
use kalends::dav::resource::Paths;
use kalends::dav::xml::{self, CALDAV, Element};
use kalends::http::auth::Credential;
use kalends::http::limit::client::{addr_key, client_addr};
use kalends::sched::{self, Address};
use kalends::service::scheduling::mail;

/// Longest input of the text targets: ten times a large real request, small enough that one
/// run stays in milliseconds. The server's own limits (body, resource size) are larger; what
/// they bound is tested in `tests/limits.rs`.
pub const MAX_INPUT: usize = 64 * 1024;

/// A target's name, function and longest input, for both engines.
pub struct Spec {
    pub name: &'static str,
    pub run: fn(&[u8]) -> String,
    pub max_len: usize,
}

pub const TARGETS: &[Spec] = &[
    Spec { name: "xml_request", run: xml_request, max_len: MAX_INPUT },
    Spec { name: "ical_index", run: ical_index, max_len: MAX_INPUT },
    Spec { name: "query_recurrence", run: query_recurrence, max_len: MAX_INPUT },
    Spec { name: "itip_diff", run: itip_diff, max_len: MAX_INPUT },
    Spec { name: "imip_mail", run: imip_mail, max_len: MAX_INPUT },
    Spec { name: "headers", run: headers, max_len: 8 * 1024 },
];

/// A one-word class of an error message: its first words without digits or quoted parts, so
/// that "line 3" and "line 4" are one outcome.
fn class(prefix: &str, message: &str) -> String {
    let words: String = message.split_whitespace().take(5).collect::<Vec<_>>().join(" ");
    let kept: String = words.chars().filter(|c| !c.is_ascii_digit() && *c != '"').take(48).collect();
    format!("{prefix}:{kept}")
}

/// `class` without quoted text: header errors quote the header's value back ({:?}), which
/// would make every input a new kind (the XML and iCalendar errors quote names from a small
/// vocabulary, worth telling apart, so they keep theirs).
fn class_unquoted(prefix: &str, message: &str) -> String {
    let mut unquoted = String::new();
    let (mut inside, mut escaped) = (false, false);
    for c in message.chars() {
        match c {
            '\\' if inside && !escaped => escaped = true,
            '"' if !escaped => inside = !inside,
            _ if !inside => unquoted.push(c),
            _ => escaped = false,
        }
    }
    class(prefix, &unquoted)
}

/// Any request body: the DOM reader, the writer's round trip (a dead property is stored with
/// `to_xml` and must read back the same), and every typed parser, down to the calendar-query
/// filter and calendar-data options.
pub fn xml_request(data: &[u8]) -> String {
    if data.len() > MAX_INPUT {
        return "too long".into();
    }
    let root = match xml::parse(data) {
        Ok(root) => root,
        Err(e) => return class("xml", &e.0),
    };
    let written = root.to_xml();
    match xml::parse(written.as_bytes()) {
        Ok(again) => assert_eq!(again, root, "the writer changed the tree: {written}"),
        Err(e) => panic!("the writer's output does not parse ({}): {written}", e.0),
    }
    let _ = request::parse_propfind(data);
    let _ = request::parse_proppatch(data);
    let _ = request::parse_mkcol(data);
    let _ = request::parse_mkcalendar(data);
    let _ = request::parse_share(data);
    match request::parse_report(data) {
        Ok(ReportBody::CalendarQuery { filter, prop_elements, .. }) => {
            calendar_data(&prop_elements);
            match request::query::parse_filter(&filter) {
                Ok(_) => "query ok".into(),
                Err(e) => class("filter", &format!("{e:?}")),
            }
        }
        Ok(ReportBody::CalendarMultiget { prop_elements, .. } | ReportBody::SyncCollection { prop_elements, .. }) => {
            calendar_data(&prop_elements);
            "report ok".into()
        }
        Ok(other) => format!("report {:?}", std::mem::discriminant(&other)),
        Err(e) => class("report", &e.0),
    }
}

fn calendar_data(props: &[Element]) {
    for e in props.iter().filter(|e| e.is(CALDAV, "calendar-data")) {
        let _ = request::calendar_data::parse_calendar_data(e);
    }
}

/// A PUT body: validation, the index facts and the timeline, then the raw and tree views the
/// other paths read stored objects with, and instances over a year.
pub fn ical_index(data: &[u8]) -> String {
    if data.len() > MAX_INPUT {
        return "too long".into();
    }
    let opts = ValidateOptions { min_date_time: i64::MIN, max_date_time: i64::MAX };
    let horizon = 1_767_225_600; // 2026-01-01
    let checked = validate::index_object(data, &opts, horizon);
    assert_eq!(checked.as_ref().map(|i| &i.index), validate::parse_object(data, &opts).as_ref(), "index_object and parse_object disagree");
    let indexed = match checked {
        Ok(indexed) => indexed,
        Err(e) => return class("invalid", &e.to_string()),
    };
    if let (Some(lo), Some(hi)) = (indexed.index.first_start, indexed.index.last_end) {
        assert!(lo <= hi, "first start {lo} after last end {hi}");
    }
    let Ok(text) = std::str::from_utf8(data) else { panic!("validated but not UTF-8") };
    let lines = raw::content_lines(text);
    let _ = raw::components(text);
    for line in lines.iter().take(200) {
        let _ = raw::property(&line.text);
    }
    let window = Window { start: Some(horizon - 366 * 86_400), end: Some(horizon) };
    match instances::expand_object(data, window, chrono_tz::Europe::Berlin, 1_000) {
        Ok(found) => {
            assert!(found.len() <= 1_000, "{} instances beyond max-instances", found.len());
            format!("valid {:?} timeline={}", indexed.index.component, indexed.timeline.is_some())
        }
        Err(e) => format!("valid, expand {e:?}").chars().take(40).collect(),
    }
}

/// Split of the two-part inputs: an iCalendar object, then this line, then an XML body (query)
/// or the new version (iTIP).
pub const SPLIT: &str = "\n#----\n";

/// One stored object and one calendar-query REPORT body. The object must validate (only
/// validated objects are stored); the filter is evaluated exactly and, where the object has a
/// timeline, from the timeline too (the two must agree: the store trusts the timeline), and the
/// report's calendar-data (expand, limit-recurrence-set) and free/busy are rendered.
pub fn query_recurrence(data: &[u8]) -> String {
    if data.len() > MAX_INPUT {
        return "too long".into();
    }
    let text = String::from_utf8_lossy(data);
    let Some((object, body)) = text.split_once(SPLIT) else { return "no split".into() };
    let opts = ValidateOptions { min_date_time: i64::MIN, max_date_time: i64::MAX };
    let horizon = 1_767_225_600;
    let indexed = match validate::index_object(object.as_bytes(), &opts, horizon) {
        Ok(i) => i,
        Err(e) => return class("invalid", &e.to_string()),
    };
    let (filter, props) = match request::parse_report(body.as_bytes()) {
        Ok(ReportBody::CalendarQuery { filter, prop_elements, .. }) => (filter, prop_elements),
        Ok(_) => return "not a query".into(),
        Err(e) => return class("report", &e.0),
    };
    let filter = match request::query::parse_filter(&filter) {
        Ok(f) => f,
        Err(e) => return class("filter", &format!("{e:?}")),
    };
    let ctx = QueryContext { zone: chrono_tz::America::New_York, max_instances: 500 };
    let exact = query::object_matches(object.as_bytes(), &filter, ctx);
    let fast = query::object_matches_with(object.as_bytes(), indexed.timeline.as_ref(), &filter, ctx);
    if let (Ok(e), Ok(f)) = (&exact, &fast) {
        assert_eq!(e, f, "the timeline and exact evaluation disagree");
    }
    render(object.as_bytes(), &props, ctx);
    busy(object.as_bytes(), &filter, ctx);
    match exact {
        Ok(m) => format!("match={m}"),
        Err(QueryError::TooManyInstances) => "too many".into(),
        Err(e) => class("query", &format!("{e:?}")),
    }
}

fn render(object: &[u8], props: &[Element], ctx: QueryContext) {
    for e in props.iter().filter(|e| e.is(CALDAV, "calendar-data")) {
        let Ok(req) = request::calendar_data::parse_calendar_data(e) else { continue };
        if let Ok(out) = data::render(object, &req, ctx)
            && matches!(req.recurrence, RecurrenceMode::Expand(_))
        {
            // Each instance is one component no larger than the object; max-instances bounds them.
            let bound = (ctx.max_instances + 1) * (object.len() + 1024);
            assert!(out.len() <= bound, "an expanded answer of {} bytes from {} bytes", out.len(), object.len());
        }
    }
}

/// Free/busy over the filter's first time range, as a free-busy-query would ask.
fn busy(object: &[u8], filter: &CompFilter, ctx: QueryContext) {
    let range = query::timeline_range(filter).unwrap_or(TimeRange { start: Some(1_704_067_200), end: Some(1_735_689_600) });
    if let Ok(periods) = freebusy::object_busy(object, &range, ctx) {
        let merged = freebusy::merge(&periods, &range);
        check_merged(&periods, &range, &merged);
    }
}

/// What `merge` promises, checked by a sweep over every boundary: sorted, disjoint periods
/// inside the range, none adjoining another of its kind, and each instant reported as the
/// strongest kind (BUSY, then BUSY-UNAVAILABLE, then BUSY-TENTATIVE) of the clipped periods
/// covering it, or not at all. A stronger period inside a weaker one splits it, so merging may
/// give more periods than it was given, never more than one per boundary.
fn check_merged(periods: &[freebusy::Busy], range: &TimeRange, merged: &[freebusy::Busy]) {
    use kalends::calendar::model::BusyKind;
    let rank = |k: BusyKind| match k {
        BusyKind::Busy => 2,
        BusyKind::BusyUnavailable => 1,
        BusyKind::BusyTentative => 0,
        BusyKind::Free => unreachable!("object_busy never reports free time"),
    };
    let clipped: Vec<(i64, i64, usize)> = periods
        .iter()
        .map(|b| (range.start.map_or(b.start, |s| b.start.max(s)), range.end.map_or(b.end, |e| b.end.min(e)), rank(b.kind)))
        .filter(|(s, e, _)| s < e)
        .collect();
    assert!(merged.len() <= 2 * clipped.len(), "{} periods merged into {}", clipped.len(), merged.len());
    for pair in merged.windows(2) {
        assert!(pair[0].end <= pair[1].start, "merged periods overlap or are unsorted: {pair:?}");
        assert!(pair[0].end < pair[1].start || pair[0].kind != pair[1].kind, "adjoining periods of a kind: {pair:?}");
    }
    for m in merged {
        assert!(m.start < m.end, "an empty merged period: {m:?}");
        assert!(range.start.is_none_or(|s| m.start >= s) && range.end.is_none_or(|e| m.end <= e), "{m:?} outside the range");
    }
    // The sweep: at each boundary, counts per kind change; between boundaries the strongest
    // kind with a count must be what `merged` says of that span.
    let mut edges: Vec<(i64, usize, i64)> = clipped.iter().flat_map(|&(s, e, k)| [(s, k, 1), (e, k, -1)]).collect();
    edges.sort_unstable();
    if let (Some(first), Some(last)) = (merged.first(), merged.last()) {
        let (from, to) = (edges.first().map(|e| e.0), edges.last().map(|e| e.0));
        assert!(from.is_some_and(|f| first.start >= f) && to.is_some_and(|t| last.end <= t), "merged time no period has: {merged:?}");
    }
    let mut counts = [0i64; 3];
    let mut at = 0;
    let mut cursor = 0;
    while at < edges.len() {
        let t = edges[at].0;
        while at < edges.len() && edges[at].0 == t {
            counts[edges[at].1] += edges[at].2;
            at += 1;
        }
        let Some(&(next, _, _)) = edges.get(at) else { break };
        let want = (0..3).rev().find(|&k| counts[k] > 0);
        while merged.get(cursor).is_some_and(|m| m.end <= t) {
            cursor += 1;
        }
        let got = merged.get(cursor).filter(|m| m.start <= t && next <= m.end).map(|m| rank(m.kind));
        let partly = merged.get(cursor).is_some_and(|m| m.start < next && !(m.start <= t && next <= m.end));
        assert!(!partly && got == want, "[{t}, {next}) is {want:?} in the periods, {got:?} merged: {merged:?}");
    }
}

/// The first `NAME...:mailto:x` value of a property, as an address (a fuzzed object's own
/// organizer or attendee, so that both roles are planned).
fn address_of(text: &str, name: &str) -> Option<Address> {
    text.lines()
        .find(|l| l.get(..name.len()).is_some_and(|head| head.eq_ignore_ascii_case(name)))
        .and_then(|l| l.rsplit_once(':').map(|(_, v)| v.trim()))
        .filter(|v| !v.is_empty())
        .map(|v| Address::new(&format!("mailto:{}", v.trim_start_matches("mailto:"))))
}

/// A PUT over a stored version (`old`, SPLIT, `new`; no split: a new object) as implicit
/// scheduling plans it, for the organizer and for an attendee, and every message of the plan
/// applied on a recipient's copy and, for replies, on the organizer's.
pub fn itip_diff(data: &[u8]) -> String {
    if data.len() > MAX_INPUT {
        return "too long".into();
    }
    let text = String::from_utf8_lossy(data);
    let (old, new) = match text.split_once(SPLIT) {
        Some((old, new)) => (Some(old), new),
        None => (None, &*text),
    };
    let opts = ValidateOptions { min_date_time: i64::MIN, max_date_time: i64::MAX };
    // Only validated objects reach scheduling (the PUT validates first, the store holds only
    // validated text); a refusal here is an outcome, not a finding.
    if let Err(e) = validate::parse_object(new.as_bytes(), &opts) {
        return class("invalid", &e.to_string());
    }
    let old = old.filter(|o| validate::parse_object(o.as_bytes(), &opts).is_ok());
    let now = 1_735_689_600;
    let mut outcome = String::new();
    let owners: Vec<Address> = ["ORGANIZER", "ATTENDEE"].iter().filter_map(|n| address_of(new, n)).collect();
    for owner in owners {
        let owner = [owner];
        let _ = sched::classify(new, &owner);
        match sched::schedule_write(old, new, &owner, now) {
            Ok(Some(plan)) => {
                outcome.push_str(&format!("plan{} ", plan.messages.len().min(3)));
                deliver(&plan, now);
            }
            Ok(None) => outcome.push_str("none "),
            Err(e) => outcome.push_str(&class("refused", &e.to_string())),
        }
        if let Some(old) = old {
            let _ = sched::schedule_delete(old, &owner, now);
        }
    }
    // The new version read as an incoming message, as the outbox and iMIP do.
    if sched::parse_message(new).is_ok() {
        outcome.push_str("message");
        if let Some(to) = address_of(new, "ATTENDEE") {
            let _ = sched::apply_request(new, old, &to, now);
        }
        let _ = sched::apply_cancel(new, old);
        if let Some(old) = old {
            let _ = sched::apply_reply(new, old, now);
        }
    }
    outcome
}

/// Each planned message through the recipient's side, then the organizer's side of a reply.
fn deliver(plan: &sched::Plan, now: i64) {
    for m in plan.messages.iter().take(8) {
        if let Err(e) = sched::parse_message(&m.text) {
            panic!("a planned {} does not validate as a message: {e}\n{}", m.method.as_str(), m.text);
        }
        match m.method {
            sched::Method::Request => {
                let _ = sched::apply_request(&m.text, None, &m.recipient, now);
            }
            sched::Method::Cancel => {
                let _ = sched::apply_cancel(&m.text, Some(&plan.store));
            }
            sched::Method::Reply => {
                let _ = sched::apply_reply(&m.text, &plan.store, now);
            }
            _ => {}
        }
    }
}

/// An inbound email: its calendar part found, then read as an iTIP message, as `kalends imip
/// receive` does before touching the store.
pub fn imip_mail(data: &[u8]) -> String {
    if data.len() > MAX_INPUT {
        return "too long".into();
    }
    match mail::parse(data) {
        Ok(m) => match m.calendar {
            Some(cal) => match sched::parse_message(&cal) {
                Ok(incoming) => format!("itip {}", incoming.method.as_str()),
                Err(e) => class("not itip", &e.to_string()),
            },
            None => "no calendar".into(),
        },
        Err(e) => class("not mail", &e.0),
    }
}

/// Request headers, one `Name: value` per line, as hyper would hand them over: the DAV headers,
/// the credentials, the client address behind trusted proxies, and Destination's locality.
pub fn headers(data: &[u8]) -> String {
    if data.len() > 8 * 1024 {
        return "too long".into();
    }
    let mut map = HeaderMap::new();
    for line in data.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|b| *b == b':') else { continue };
        let (Ok(name), Ok(value)) = (HeaderName::from_bytes(&line[..colon]), HeaderValue::from_bytes(trim(&line[colon + 1..]))) else {
            continue;
        };
        map.append(name, value);
    }
    let mut outcome = match DavHeaders::parse(&map) {
        Ok(h) => {
            let _ = h.write_expectation();
            if let Some(list) = &h.if_match {
                let _ = etag_matches(list, "\"abc\"");
            }
            if let Some(cond) = &h.if_header {
                // Every submitted lock token was in the header as sent, and evaluating the
                // header against any state neither panics nor depends on more than it names.
                let raw = map.get("if").map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()).unwrap_or_default();
                for token in cond.submitted() {
                    assert!(raw.contains(token), "a submitted token {token:?} not in the header {raw:?}");
                }
                let tokens: Vec<String> = cond.submitted().map(str::to_owned).collect();
                let _ = cond.holds(|_| IfState { etag: Some("\"abc\""), tokens: &tokens });
                let _ = cond.holds(|_| IfState::default());
                let _ = cond.resources();
            }
            if let Some(dest) = &h.destination {
                let paths = Paths::new("/dav").with_public_authority(Some("Cal.Example.com:443".into()));
                let _ = paths.is_local(dest, h.host.as_deref());
            }
            "dav ok".to_owned()
        }
        Err(e) => class_unquoted("bad header", &e.0),
    };
    if let Some(c) = Credential::of(&map) {
        let _ = c.login_name();
        let _ = c.recent_key();
        outcome.push_str(" credential");
    }
    let trusted: Vec<ipnet::IpNet> = ["10.0.0.0/8", "::1/128", "2001:db8::/32"].iter().filter_map(|n| n.parse().ok()).collect();
    for peer in ["10.1.2.3", "203.0.113.9", "::1"] {
        let Ok(peer) = peer.parse() else { continue };
        let _ = addr_key(client_addr(peer, &map, &trusted));
    }
    outcome
}

fn trim(value: &[u8]) -> &[u8] {
    let start = value.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(value.len());
    let end = value.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(start, |p| p + 1);
    &value[start..end.max(start)]
}
