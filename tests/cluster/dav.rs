//! What the cluster scenarios send: events, PUTs that find out what happened to them,
//! sync-collection, calendar-multiget, free/busy, and a load of clients that records every
//! outcome.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::StreamExt;

use crate::fixture::{CAL, PW};
use crate::harness::{CALDAV, DAV, prop};

pub fn utc(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0).unwrap().format("%Y%m%dT%H%M%SZ").to_string()
}

/// An event starting at `start` (UTC seconds) for an hour; `extra` lines go inside the VEVENT.
pub fn event(uid: &str, summary: &str, start: i64, extra: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Cluster test//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n\
         DTSTART:{}\r\nDURATION:PT1H\r\nSUMMARY:{summary}\r\n{extra}END:VEVENT\r\nEND:VCALENDAR\r\n",
        utc(start)
    )
}

pub fn put(client: &reqwest::Client, base: &str, name: &str, body: &str) -> reqwest::RequestBuilder {
    client
        .put(format!("{base}{CAL}{name}"))
        .basic_auth("alice", Some(PW))
        .header("Content-Type", "text/calendar; charset=utf-8")
        .body(body.to_owned())
}

/// How a create ended for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    /// 201 on some attempt, with this ETag.
    Acknowledged { etag: String, attempts: u32 },
    /// Never confirmed within the attempts.
    Unknown,
}

/// Creates every `(name, body)` with `create`, `concurrency` at a time, on a task of its own;
/// `done` counts the answers so a fault can be timed against the writes' progress.
pub fn spawn_creates(
    client: &reqwest::Client,
    base: &str,
    bodies: Vec<(String, String)>,
    done: Arc<AtomicUsize>,
    concurrency: usize,
) -> tokio::task::JoinHandle<Vec<(String, Created)>> {
    let (client, base) = (client.clone(), base.to_owned());
    tokio::spawn(async move {
        futures_util::stream::iter(bodies)
            .map(|(name, body)| {
                let (client, base, done) = (client.clone(), base.clone(), done.clone());
                async move {
                    let created = create(&client, &base, &name, &body).await;
                    done.fetch_add(1, Ordering::Relaxed);
                    (name, created)
                }
            })
            .buffer_unordered(concurrency)
            .collect::<Vec<_>>()
            .await
    })
}

/// Creates `name` with If-None-Match: * as a careful client does: on a transport error, a 502,
/// 503 or 504 it sends again; a 412 on a later attempt means an earlier one went through, which a
/// GET confirms byte for byte. Any other answer fails the test.
pub async fn create(client: &reqwest::Client, base: &str, name: &str, body: &str) -> Created {
    for attempt in 1..=8u32 {
        match put(client, base, name, body).header("If-None-Match", "*").send().await {
            Ok(r) if r.status() == 201 => {
                let etag = r.headers().get("etag").unwrap().to_str().unwrap().to_owned();
                return Created::Acknowledged { etag, attempts: attempt };
            }
            Ok(r) if r.status() == 412 && attempt > 1 => {
                let got = get(client, base, name).await;
                let (status, etag, text) = got.unwrap();
                assert_eq!(status, 200, "{name}: 412 on a retry, yet no object");
                assert_eq!(text, body, "{name}: an earlier attempt stored other bytes");
                return Created::Acknowledged { etag, attempts: attempt };
            }
            // 502/504: HAProxy lost the node under the request; 503: the node is stopping or
            // lost its database, and says when to come back. A 500 is a bug, never retried.
            Ok(r) if matches!(r.status().as_u16(), 502..=504) => {
                if r.status() == 503 {
                    assert!(r.headers().contains_key("retry-after"), "{name}: a 503 without Retry-After");
                }
            }
            Ok(r) => panic!("{name}: PUT answered {} {}", r.status(), r.text().await.unwrap_or_default()),
            Err(_) => {}
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Created::Unknown
}

/// GET: status, ETag, body.
pub async fn get(client: &reqwest::Client, base: &str, name: &str) -> Result<(u16, String, String), reqwest::Error> {
    let r = client.get(format!("{base}{CAL}{name}")).basic_auth("alice", Some(PW)).send().await?;
    let status = r.status().as_u16();
    let etag = r.headers().get("etag").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    Ok((status, etag, r.text().await?))
}

pub fn dav(client: &reqwest::Client, base: &str, method: &str, path: &str, depth: &str, body: String) -> reqwest::RequestBuilder {
    client
        .request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), format!("{base}{path}"))
        .basic_auth("alice", Some(PW))
        .header("Depth", depth)
        .header("Content-Type", "application/xml; charset=utf-8")
        .body(body)
}

/// One sync-collection answer: member name → ETag (None: removed), and the new token.
pub struct Synced {
    pub members: BTreeMap<String, Option<String>>,
    pub token: String,
}

pub async fn sync(client: &reqwest::Client, base: &str, token: &str) -> Synced {
    let body = format!(
        "<?xml version=\"1.0\"?><D:sync-collection xmlns:D=\"DAV:\"><D:sync-token>{token}</D:sync-token>\
         <D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>"
    );
    let r = dav(client, base, "REPORT", CAL, "0", body).send().await.unwrap();
    assert_eq!(r.status(), 207);
    let text = r.text().await.unwrap();
    let doc = read_multistatus(&text);
    let mut members = BTreeMap::new();
    for resp in doc.responses {
        let name = resp.href.rsplit('/').next().unwrap_or_default().to_owned();
        if name.is_empty() {
            continue;
        }
        members.insert(name, resp.etag);
    }
    Synced { members, token: doc.token.unwrap() }
}

/// calendar-multiget of `names`: name → (ETag, calendar-data).
pub async fn multiget(client: &reqwest::Client, base: &str, names: &[String]) -> BTreeMap<String, (String, String)> {
    let hrefs: String = names.iter().map(|n| format!("<D:href>{CAL}{n}</D:href>")).collect();
    let body = format!(
        "<?xml version=\"1.0\"?><C:calendar-multiget xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\">\
         <D:prop><D:getetag/><C:calendar-data/></D:prop>{hrefs}</C:calendar-multiget>"
    );
    let r = dav(client, base, "REPORT", CAL, "1", body).send().await.unwrap();
    assert_eq!(r.status(), 207);
    let doc = read_multistatus(&r.text().await.unwrap());
    doc.responses
        .into_iter()
        .filter_map(|resp| Some((resp.href.rsplit('/').next()?.to_owned(), (resp.etag?, resp.data?))))
        .collect()
}

/// The busy periods (FREEBUSY values) of a free-busy-query over `start`..`end`.
pub async fn busy(client: &reqwest::Client, base: &str, start: i64, end: i64) -> Vec<String> {
    let body = format!(
        "<?xml version=\"1.0\"?><C:free-busy-query xmlns:C=\"urn:ietf:params:xml:ns:caldav\">\
         <C:time-range start=\"{}\" end=\"{}\"/></C:free-busy-query>",
        utc(start),
        utc(end)
    );
    let r = dav(client, base, "REPORT", CAL, "1", body).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap().replace("\r\n ", "");
    text.lines().filter_map(|l| l.strip_prefix("FREEBUSY").map(|v| v.rsplit(':').next().unwrap_or_default().trim().to_owned())).collect()
}

/// What the tests read of a multistatus: each response's href, getetag, calendar-data (with
/// entities undone), and the sync-token.
pub struct Multistatus {
    pub responses: Vec<Resp>,
    pub token: Option<String>,
}

pub struct Resp {
    pub href: String,
    pub etag: Option<String>,
    pub data: Option<String>,
}

fn read_multistatus(text: &str) -> Multistatus {
    use kalends::dav::xml::Element;
    // A sync of thousands of members is more elements than a request body may hold.
    let limits = kalends::dav::xml::Limits { max_elements: 1_000_000, ..kalends::dav::xml::Limits::DEFAULT };
    let root = kalends::dav::xml::parse_with_limits(text.as_bytes(), limits)
        .unwrap_or_else(|e| panic!("not XML ({e}): {}", text.chars().take(500).collect::<String>()));
    let prop = |r: &Element, ns: &str, local: &str| prop(r, ns, local).filter(|(s, _)| *s == 200).map(|(_, e)| e.text());
    let responses = root
        .children()
        .filter(|r| r.is(DAV, "response"))
        .map(|r| Resp {
            href: r.child(DAV, "href").map(Element::text).unwrap_or_default(),
            etag: prop(r, DAV, "getetag"),
            data: prop(r, CALDAV, "calendar-data"),
        })
        .collect();
    let token = root.child(DAV, "sync-token").map(Element::text);
    Multistatus { responses, token }
}

/// Outcomes of a load: answers by status, transport errors.
#[derive(Default)]
pub struct Tally {
    pub statuses: std::sync::Mutex<BTreeMap<u16, usize>>,
    pub errors: AtomicUsize,
    pub sent: AtomicUsize,
}

impl Tally {
    pub fn record(&self, outcome: &Result<reqwest::Response, reqwest::Error>) {
        self.sent.fetch_add(1, Ordering::Relaxed);
        match outcome {
            Ok(r) => *self.statuses.lock().unwrap().entry(r.status().as_u16()).or_default() += 1,
            Err(_) => {
                self.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    pub fn count(&self, f: impl Fn(u16) -> bool) -> usize {
        self.statuses.lock().unwrap().iter().filter(|(s, _)| f(**s)).map(|(_, n)| n).sum()
    }

    pub fn summary(&self) -> String {
        format!("{:?}, {} transport errors", self.statuses.lock().unwrap(), self.errors.load(Ordering::Relaxed))
    }
}

/// `workers` clients, each in a loop until `stop` (and at most `max_each` rounds): PUT a new
/// event, GET it, PROPFIND Depth 0 the calendar, and an anonymous PROPFIND (401 or 429: the
/// rate limiter's path). Every answer is recorded; the names written are returned.
pub async fn run_load(client: reqwest::Client, base: String, workers: usize, max_each: usize, stop: Arc<AtomicBool>, tally: Arc<Tally>) -> Vec<String> {
    let mut tasks = Vec::new();
    for w in 0..workers {
        let (client, base, stop, tally) = (client.clone(), base.clone(), stop.clone(), tally.clone());
        tasks.push(tokio::spawn(async move {
            let mut written = Vec::new();
            for i in 0..max_each {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let name = format!("load-{w}-{i}.ics");
                let body = event(&format!("load-{w}-{i}"), "load", 1_900_000_000 + (i as i64) * 3600, "");
                let r = put(&client, &base, &name, &body).send().await;
                let ok = r.as_ref().is_ok_and(|r| r.status() == 201);
                tally.record(&r);
                if ok {
                    written.push(name.clone());
                }
                let r = client.get(format!("{base}{CAL}{name}")).basic_auth("alice", Some(PW)).send().await;
                tally.record(&r);
                let r = dav(&client, &base, "PROPFIND", CAL, "0", String::new()).send().await;
                tally.record(&r);
                let r = client.request(reqwest::Method::from_bytes(b"PROPFIND").unwrap(), format!("{base}/")).header("Depth", "0").send().await;
                tally.record(&r);
            }
            written
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all
}
