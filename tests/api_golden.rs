//! The JSON API's expand against CalDAV's on the golden recurrence corpus (issue 20): for every
//! case of `fixtures/recurrence/cases.toml` whose file holds VEVENTs, the case's objects (one
//! per UID, as RFC 4791 §4.1 wants) are PUT into a calendar of their own (with the case's zone
//! as its calendar-timezone), and `GET /api/v1/calendars/{id}/events?expand=true` over the
//! case's window must list the same instances as `REPORT calendar-query` with `<C:expand>`
//! over that window: the same (UID, RECURRENCE-ID, start) triples, in UTC — and the same as
//! the case's `expected/<name>.json`.
//!
//! Every case is compared and every differing one printed before the test fails; more than 50
//! must have been compared (and instances found), so it cannot pass vacuously. It runs on both
//! engines: the whole corpus is a few hundred requests, seconds on either.
#![allow(clippy::unwrap_used)]

mod harness;
mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::{NaiveDate, NaiveDateTime, TimeZone};
use harness::*;
use serde_json::Value;

const UTC_FORMAT: &str = "%Y%m%dT%H%M%SZ";
const JSON_FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";

/// One instance: UID, RECURRENCE-ID (None for a single event) and start, both RFC 3339 UTC.
type Instance = (String, Option<String>, String);

struct Case {
    name: String,
    start: String,
    end: String,
    /// The calendar's zone (RFC 4791 §7.3); None: no calendar-timezone, floating read as UTC.
    zone: Option<String>,
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/recurrence")
}

/// The manifest's cases: only the fields this test needs (tests/recurrence_golden.rs reads the
/// rest).
fn load_cases() -> Vec<Case> {
    let text = std::fs::read_to_string(fixtures().join("cases.toml")).unwrap();
    let manifest: toml::Table = text.parse().unwrap();
    manifest["case"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let field = |key: &str| c.get(key).and_then(|v| v.as_str()).map(str::to_owned);
            Case { name: field("name").unwrap(), start: field("start").unwrap(), end: field("end").unwrap(), zone: field("zone") }
        })
        .collect()
}

fn rfc3339(utc: &str) -> String {
    NaiveDateTime::parse_from_str(utc, UTC_FORMAT).unwrap().format(JSON_FORMAT).to_string()
}

/// A DTSTART or RECURRENCE-ID line of CalDAV's expanded data in UTC: a UTC time as it is, a
/// DATE as midnight in the calendar's zone (as the API reports an all-day instance), a local
/// time in its TZID or, floating, in the calendar's zone.
fn instant(params: &str, value: &str, zone: chrono_tz::Tz) -> String {
    let value = value.trim();
    let at = |local: NaiveDateTime, tz: chrono_tz::Tz| tz.from_local_datetime(&local).earliest().unwrap().with_timezone(&chrono::Utc).format(JSON_FORMAT).to_string();
    if params.contains("VALUE=DATE") && !params.contains("VALUE=DATE-TIME") {
        return at(NaiveDate::parse_from_str(value, "%Y%m%d").unwrap().and_hms_opt(0, 0, 0).unwrap(), zone);
    }
    if value.ends_with('Z') {
        return rfc3339(value);
    }
    let local = NaiveDateTime::parse_from_str(value, "%Y%m%dT%H%M%S").unwrap();
    let tz = params.split(';').find_map(|p| p.strip_prefix("TZID=")).map_or(zone, |id| id.trim_matches('"').parse().unwrap());
    at(local, tz)
}

/// The instances in CalDAV's expanded calendar-data of every object in the answer.
fn caldav_instances(r: &Response, zone: chrono_tz::Tz) -> Result<BTreeSet<Instance>, String> {
    let mut out = BTreeSet::new();
    for response in r.xml().children().filter(|c| c.is(DAV, "response")) {
        let Some((200, data)) = prop(response, CALDAV, "calendar-data") else {
            return Err(format!("a response without calendar-data: {}", r.body));
        };
        let text = data.text().replace("\r\n", "\n").replace("\n ", "").replace("\n\t", "");
        let (mut uid, mut rid, mut start) = (String::new(), None, String::new());
        for line in text.lines() {
            let Some((name_params, value)) = line.split_once(':') else { continue };
            let (name, params) = name_params.split_once(';').unwrap_or((name_params, ""));
            match name {
                "BEGIN" if value == "VEVENT" => (uid, rid, start) = (String::new(), None, String::new()),
                "UID" => uid = value.to_owned(),
                "RECURRENCE-ID" => rid = Some(instant(params, value, zone)),
                "DTSTART" => start = instant(params, value, zone),
                "END" if value == "VEVENT" => {
                    out.insert((uid.clone(), rid.clone(), start.clone()));
                }
                _ => {}
            }
        }
    }
    Ok(out)
}

/// The API's expanded instances over the window, every page.
async fn api_instances(s: &TestServer, id: &str, from: &str, to: &str) -> Result<BTreeSet<Instance>, String> {
    let mut out = BTreeSet::new();
    let mut token: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/calendars/{id}/events?from={from}&to={to}&expand=true&pageSize=1000");
        if let Some(t) = &token {
            path.push_str(&format!("&pageToken={t}"));
        }
        let r = send(s.req("GET", &path)).await;
        if r.status != 200 {
            return Err(format!("GET {path}: {} {}", r.status, r.body));
        }
        let page: Value = serde_json::from_str(&r.body).unwrap();
        for item in page["items"].as_array().unwrap() {
            let text = |k: &str| item[k].as_str().map(str::to_owned);
            out.insert((text("uid").unwrap(), text("recurrenceId"), text("start").unwrap()));
        }
        match page["nextPageToken"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => return Ok(out),
        }
    }
}

/// The case's expected instances (`expected/<name>.json`, computed outside Kalends).
fn golden(case: &Case) -> BTreeSet<Instance> {
    let text = std::fs::read_to_string(fixtures().join("expected").join(format!("{}.json", case.name))).unwrap();
    let golden: Value = serde_json::from_str(&text).unwrap();
    golden["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["uid"].as_str().unwrap().to_owned(), i["recurrence_id"].as_str().map(rfc3339), rfc3339(i["start"].as_str().unwrap())))
        .collect()
}

/// MKCALENDAR, with the case's zone as calendar-timezone when it has one.
async fn make_calendar(s: &TestServer, path: &str, zone: Option<&str>) -> Result<(), String> {
    let rb = s.req("MKCALENDAR", path);
    let rb = match zone {
        None => rb,
        Some(zone) => {
            let tz = kalends::api::event::calendar_timezone(zone, chrono::Utc::now().timestamp()).ok_or(format!("no VTIMEZONE for {zone}"))?;
            rb.header("Content-Type", "application/xml; charset=utf-8").body(format!(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?><C:mkcalendar xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\">\
<D:set><D:prop><C:calendar-timezone><![CDATA[{tz}]]></C:calendar-timezone></D:prop></D:set></C:mkcalendar>"
            ))
        }
    };
    let r = send(rb).await;
    if r.status == 201 { Ok(()) } else { Err(format!("MKCALENDAR {path}: {} {}", r.status, r.body)) }
}

/// One case: Ok(number of instances) when both sides agree, Err(why) otherwise.
async fn compare(s: &TestServer, index: usize, case: &Case, ics: &str) -> Result<usize, String> {
    let id = format!("golden-{index}");
    let path = format!("/calendars/alice/{id}/");
    make_calendar(s, &path, case.zone.as_deref()).await?;
    for (n, object) in kalends::calendar::split_by_uid(ics).iter().enumerate() {
        let r = s.put_ics(&format!("{path}{n}.ics"), &object.data).await;
        if r.status != 201 {
            return Err(format!("PUT of UID {:?} refused: {} {}", object.uid, r.status, r.body));
        }
    }
    let zone: chrono_tz::Tz = case.zone.as_deref().unwrap_or("UTC").parse().unwrap();
    let report = format!(
        "<C:calendar-query xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\"><D:prop><C:calendar-data>\
<C:expand start=\"{0}\" end=\"{1}\"/></C:calendar-data></D:prop><C:filter><C:comp-filter name=\"VCALENDAR\">\
<C:comp-filter name=\"VEVENT\"><C:time-range start=\"{0}\" end=\"{1}\"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>",
        case.start, case.end
    );
    let r = send(s.req("REPORT", &path).header("Depth", "1").header("Content-Type", "application/xml").body(report)).await;
    if r.status != 207 {
        return Err(format!("REPORT: {} {}", r.status, r.body));
    }
    let want = caldav_instances(&r, zone)?;
    let got = api_instances(s, &id, &rfc3339(&case.start), &rfc3339(&case.end)).await?;
    if got == want {
        // Both agree; the goldens say what they should agree on (recurrence_golden.rs checks
        // the listing itself in full, this only that nothing was lost on the way).
        let golden = golden(case);
        if got != golden {
            return Err(format!("API and CalDAV agree, but not with expected/{}.json: {got:?} != {golden:?}", case.name));
        }
        return Ok(got.len());
    }
    let show = |set: &BTreeSet<Instance>| set.iter().map(|i| format!("    {i:?}")).collect::<Vec<_>>().join("\n");
    Err(format!(
        "only in the API:\n{}\n  only in CalDAV:\n{}",
        show(&got.difference(&want).cloned().collect()),
        show(&want.difference(&got).cloned().collect())
    ))
}

async fn api_expand_equals_caldav_expand_on_the_corpus(engine: Engine) {
    // A few hundred requests in a row: the per-user rate limit is not what is tested here.
    let s = start_with(engine, |c| c.rate_limit.enabled = false).await;
    let (mut compared, mut instances, mut failures) = (0usize, 0usize, Vec::new());
    for (index, case) in load_cases().iter().enumerate() {
        let ics = std::fs::read_to_string(fixtures().join("cases").join(format!("{}.ics", case.name))).unwrap();
        if !ics.contains("BEGIN:VEVENT") {
            continue; // The VTODO cases: the API's events are VEVENTs.
        }
        match compare(&s, index, case, &ics).await {
            Ok(n) => {
                compared += 1;
                instances += n;
            }
            Err(why) => failures.push(format!("{}:\n  {why}", case.name)),
        }
    }
    s.stop().await;
    assert!(failures.is_empty(), "{} of {} VEVENT cases differ:\n{}", failures.len(), compared + failures.len(), failures.join("\n"));
    assert!(compared > 50, "only {compared} cases compared");
    assert!(instances > 200, "only {instances} instances in {compared} cases");
    eprintln!("{compared} cases, {instances} instances: the API's expand equals CalDAV's");
}

on_both_engines!(api_expand_equals_caldav_expand_on_the_corpus);
