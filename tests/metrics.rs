//! Black-box tests of `GET /metrics` (issue 17, item 2) on SQLite and PostgreSQL: not exposed
//! without configuration, the bearer token, the separate `metrics_listen` listener, and the
//! counters after real requests, read back through the Python `prometheus_client` text parser
//! (tests/support/parse_metrics.py), so the exposition is checked by a parser we did not write.
#![allow(clippy::unwrap_used)]

mod harness;
mod support;

use std::collections::BTreeMap;

use harness::*;
use support::smtp::{Mode, SmtpSink};

const TOKEN: &str = "scrape-t0ken-for-tests";
const PROPFIND: &str = r#"<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>"#;

/// One parsed sample.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses `text` with prometheus_client; fails the test, loudly, when Python or the package is
/// missing or the text does not parse.
fn parse(text: &str) -> Vec<Sample> {
    let out = support::run_python(
        "parse_metrics.py",
        &[],
        text,
        "the metrics test needs the Python prometheus_client parser",
        "the Python prometheus_client parser refused /metrics",
    );
    let parsed: Vec<serde_json::Value> = serde_json::from_slice(&out).unwrap();
    parsed
        .into_iter()
        .map(|s| Sample {
            name: s["name"].as_str().unwrap().to_owned(),
            labels: serde_json::from_value(s["labels"].clone()).unwrap(),
            value: s["value"].as_f64().unwrap(),
        })
        .collect()
}

/// The value of the sample `name` with exactly these labels.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let want: BTreeMap<String, String> = labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    samples.iter().find(|s| s.name == name && s.labels == want).map(|s| s.value)
}

async fn scrape(url: &str) -> Response {
    send(reqwest::Client::new().get(url).bearer_auth(TOKEN)).await
}

async fn not_exposed_without_configuration(engine: Engine) {
    let s = start_server(engine).await;
    assert_eq!(send(s.anon("GET", "/metrics")).await.status, 404);
    assert_eq!(send(s.anon("GET", "/metrics").bearer_auth(TOKEN)).await.status, 404);
    // Not behind Basic auth either: a user's password does not open it.
    assert_eq!(send(s.req("GET", "/metrics")).await.status, 404);
    assert!(s.metrics_addr().is_none());
    s.stop().await;
}

async fn the_token_guards_the_main_listener(engine: Engine) {
    let s = start_with(engine, |c| c.metrics_token = Some(TOKEN.into())).await;
    let r = send(s.anon("GET", "/metrics")).await;
    assert_eq!(r.status, 401);
    assert!(r.header("www-authenticate").is_some_and(|h| h.starts_with("Bearer")), "{:?}", r.headers);
    assert_eq!(send(s.anon("GET", "/metrics").bearer_auth("wrong")).await.status, 401);
    assert_eq!(send(s.anon("GET", "/metrics").bearer_auth(format!("{TOKEN}x"))).await.status, 401);
    assert_eq!(send(s.req("GET", "/metrics")).await.status, 401, "Basic credentials are not the token");
    let r = send(s.anon("GET", "/metrics").bearer_auth(TOKEN)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type").as_deref(), Some("text/plain; version=0.0.4; charset=utf-8"));
    assert!(r.body.contains("# TYPE kalends_http_requests_total counter"), "{}", r.body);
    let r = send(s.anon("HEAD", "/metrics").bearer_auth(TOKEN)).await;
    assert_eq!((r.status.as_u16(), r.body.as_str()), (200, ""));
    assert_eq!(send(s.anon("POST", "/metrics").bearer_auth(TOKEN)).await.status, 405);
    s.stop().await;
    // Under a public_url path it moves with every other route.
    let s = start_with(engine, |c| {
        c.metrics_token = Some(TOKEN.into());
        c.public_url = Some("https://cal.example.org/dav/".into());
    })
    .await;
    assert_eq!(send(s.anon("GET", "/dav/metrics").bearer_auth(TOKEN)).await.status, 200);
    s.stop().await;
}

async fn the_separate_listener_serves_only_metrics(engine: Engine) {
    let s = start_with(engine, |c| c.metrics_listen = Some("127.0.0.1:0".parse().unwrap())).await;
    let at = s.metrics_addr().unwrap();
    assert_ne!(format!("http://{at}"), s.base);
    // Only there: the main listener does not serve it without a token.
    assert_eq!(send(s.anon("GET", "/metrics")).await.status, 404);
    let r = send(reqwest::Client::new().get(format!("http://{at}/metrics"))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("kalends_http_connections_open"), "{}", r.body);
    let r = send(reqwest::Client::new().get(format!("http://{at}/calendars/alice/"))).await;
    assert_eq!(r.status, 404);
    s.stop().await;
    // Stopped with the server.
    assert!(tokio::net::TcpStream::connect(at).await.is_err(), "the metrics listener outlived the server");
    // With a token as well, the separate listener asks for it too.
    let s = start_with(engine, |c| {
        c.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
        c.metrics_token = Some(TOKEN.into());
    })
    .await;
    let url = format!("http://{}/metrics", s.metrics_addr().unwrap());
    assert_eq!(send(reqwest::Client::new().get(&url)).await.status, 401);
    assert_eq!(scrape(&url).await.status, 200);
    s.stop().await;
}

/// An invitation to someone outside: one message waits in the outbox (no smtp_url).
fn invitation(uid: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n\
         DTSTART:20260105T100000Z\r\nDTEND:20260105T110000Z\r\nSUMMARY:Review\r\n\
         ORGANIZER:mailto:alice@example.org\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:alice@example.org\r\n\
         ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:dave@elsewhere.example\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

async fn counters_follow_requests(engine: Engine) {
    let s = start_with(engine, |c| c.metrics_listen = Some("127.0.0.1:0".parse().unwrap())).await;
    let url = format!("http://{}/metrics", s.metrics_addr().unwrap());
    let coll = "/calendars/alice/calendar/";
    assert_eq!(s.propfind(coll, "1", PROPFIND).await.status, 207);
    assert_eq!(s.put_ics(&format!("{coll}a.ics"), &event("a", "x")).await.status, 201);
    assert_eq!(s.put_ics(&format!("{coll}inv.ics"), &invitation("inv")).await.status, 201);
    assert_eq!(send(s.req("GET", &format!("{coll}a.ics"))).await.status, 200);
    assert_eq!(send(s.req("GET", &format!("{coll}missing.ics"))).await.status, 404);
    let anon = send(s.anon("PROPFIND", coll).header("Depth", "0").body(PROPFIND)).await;
    assert_eq!(anon.status, 401);
    assert_eq!(send(s.anon("GET", "/livez")).await.status, 200);
    assert_eq!(send(s.anon("GET", "/.well-known/caldav")).await.status, 301);
    assert_eq!(send(s.req("GET", "/some/where/else")).await.status, 404);

    let r = send(reqwest::Client::new().get(&url)).await;
    assert_eq!(r.status, 200);
    let samples = parse(&r.body);
    let requests = |method: &str, route: &str, status: &str| {
        value(&samples, "kalends_http_requests_total", &[("method", method), ("route", route), ("status", status)])
    };
    assert_eq!(requests("PROPFIND", "calendar", "207"), Some(1.0));
    assert_eq!(requests("PROPFIND", "calendar", "401"), Some(1.0));
    assert_eq!(requests("PUT", "object", "201"), Some(2.0));
    assert_eq!(requests("GET", "object", "200"), Some(1.0));
    assert_eq!(requests("GET", "object", "404"), Some(1.0));
    assert_eq!(requests("GET", "health", "200"), Some(1.0));
    assert_eq!(requests("GET", "well-known", "301"), Some(1.0));
    assert_eq!(requests("GET", "other", "404"), Some(1.0));
    // Never a raw path in a label.
    for sample in &samples {
        assert!(sample.labels.values().all(|v| !v.contains('/')), "{sample:?}");
    }
    let put = [("method", "PUT"), ("route", "object")];
    assert_eq!(value(&samples, "kalends_http_request_duration_seconds_count", &put), Some(2.0));
    let inf = [("method", "PUT"), ("route", "object"), ("le", "+Inf")];
    assert_eq!(value(&samples, "kalends_http_request_duration_seconds_bucket", &inf), Some(2.0));
    assert!(value(&samples, "kalends_http_request_duration_seconds_sum", &put).unwrap() > 0.0);
    assert!(value(&samples, "kalends_http_connections_total", &[]).unwrap() >= 1.0);
    assert!(value(&samples, "kalends_http_connections_open", &[]).is_some());
    // Every limiter and verdict is there from the start; the decisions taken show: six
    // signed-in requests (PROPFIND, two PUTs, three GETs) and the one anonymous PROPFIND. The
    // probe and the redirect take none.
    for limiter in ["principal", "anonymous", "login", "rsvp", "feed"] {
        for verdict in ["allowed", "delayed", "refused"] {
            let v = value(&samples, "kalends_rate_limit_decisions_total", &[("limiter", limiter), ("verdict", verdict)]);
            let want = match (limiter, verdict) {
                ("principal", "allowed") => 6.0,
                ("anonymous", "allowed") => 1.0,
                _ => 0.0,
            };
            assert_eq!(v, Some(want), "{limiter}/{verdict}");
        }
    }
    assert_eq!(value(&samples, "kalends_store_errors_total", &[]), Some(0.0));
    assert_eq!(value(&samples, "kalends_cache_errors_total", &[("kind", "failed")]), Some(0.0));
    assert_eq!(value(&samples, "kalends_cache_errors_total", &[("kind", "timeout")]), Some(0.0));
    assert_eq!(value(&samples, "kalends_cache_breaker_state", &[]), Some(0.0));
    for result in ["sent", "temp_failed", "failed"] {
        assert_eq!(value(&samples, "kalends_imip_sends_total", &[("result", result)]), Some(0.0), "{result}");
    }
    // Group commit: on SQLite every write committed is counted, in no more COMMITs than writes
    // (the PUT and the invitation's batch at least); on PostgreSQL the PUTs on their calendar's
    // line: the one plain PUT, alone in its group (the invitation is a scheduling batch, one
    // transaction of its own). Each engine has only its own series.
    let series = |engine| match engine {
        Engine::Sqlite => ("kalends_sqlite_write_commits_total", "kalends_sqlite_writes_total"),
        Engine::Postgres => ("kalends_postgres_put_commits_total", "kalends_postgres_puts_total"),
    };
    let other = match engine {
        Engine::Sqlite => Engine::Postgres,
        Engine::Postgres => Engine::Sqlite,
    };
    let (commits, writes) = series(engine);
    let (commits, writes) = (value(&samples, commits, &[]).unwrap(), value(&samples, writes, &[]).unwrap());
    match engine {
        Engine::Sqlite => assert!(writes >= 2.0 && (1.0..=writes).contains(&commits), "{commits} COMMITs, {writes} writes"),
        Engine::Postgres => assert_eq!((commits, writes), (1.0, 1.0)),
    }
    let (commits, writes) = series(other);
    assert_eq!((value(&samples, commits, &[]), value(&samples, writes, &[])), (None, None));
    // Email is off: the invitation to dave waits.
    assert_eq!(value(&samples, "kalends_imip_outbox_pending", &[]), Some(1.0));
    let age = value(&samples, "kalends_imip_outbox_oldest_pending_age_seconds", &[]).unwrap();
    assert!((0.0..600.0).contains(&age), "{age}");
    s.stop().await;
}

/// Redis unreachable: its failed calls are counted and the breaker shows open, read from the
/// cache at scrape time; the request itself is served.
async fn cache_failures_are_counted(engine: Engine) {
    let s = start_with(engine, |c| {
        c.metrics_token = Some(TOKEN.into());
        c.redis_url = Some("redis://127.0.0.1:1".into());
    })
    .await;
    assert_eq!(s.put_ics("/calendars/alice/calendar/a.ics", &event("a", "x")).await.status, 201);
    let query = r#"<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav"><C:time-range start="20260101T000000Z" end="20260201T000000Z"/></C:free-busy-query>"#;
    let r = send(s.req("REPORT", "/calendars/alice/calendar/").header("Depth", "1").body(query)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = scrape(&format!("{}/metrics", s.base)).await;
    let samples = parse(&r.body);
    let failed = value(&samples, "kalends_cache_errors_total", &[("kind", "failed")]).unwrap();
    let timed_out = value(&samples, "kalends_cache_errors_total", &[("kind", "timeout")]).unwrap();
    assert!(failed + timed_out >= 1.0, "{}", r.body);
    let state = value(&samples, "kalends_cache_breaker_state", &[]).unwrap();
    assert!(state == 1.0 || state == 2.0, "breaker {state}");
    s.stop().await;
}

/// The mailer counts its sends by result; the scrape reads them (and the drained outbox).
async fn sends_are_counted_by_result(engine: Engine) {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let s = start_with(engine, |c| {
        c.metrics_token = Some(TOKEN.into());
        c.smtp_url = Some(url);
        c.mail_from = Some("Kalends <calendar@kalends.test>".into());
        c.imip.poll_ms = 20;
    })
    .await;
    let metrics = format!("{}/metrics", s.base);
    // Polls (bounded) until the sample has the value; returns the last samples seen.
    let wait_for = |name: &'static str, labels: Vec<(&'static str, &'static str)>, want: f64| {
        let metrics = metrics.clone();
        async move {
            let mut samples = Vec::new();
            for _ in 0..250 {
                samples = parse(&scrape(&metrics).await.body);
                if value(&samples, name, &labels) == Some(want) {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            samples
        }
    };
    assert_eq!(s.put_ics("/calendars/alice/calendar/inv.ics", &invitation("inv")).await.status, 201);
    let samples = wait_for("kalends_imip_sends_total", vec![("result", "sent")], 1.0).await;
    assert_eq!(value(&samples, "kalends_imip_sends_total", &[("result", "sent")]), Some(1.0));
    assert_eq!(sink.mails().len(), 1);
    sink.set_mode(Mode::Permanent);
    let refused = invitation("inv2").replace("dave@elsewhere.example", "erin@elsewhere.example");
    assert_eq!(s.put_ics("/calendars/alice/calendar/inv2.ics", &refused).await.status, 201);
    let samples = wait_for("kalends_imip_sends_total", vec![("result", "failed")], 1.0).await;
    assert_eq!(value(&samples, "kalends_imip_sends_total", &[("result", "failed")]), Some(1.0));
    assert_eq!(value(&samples, "kalends_imip_sends_total", &[("result", "sent")]), Some(1.0));
    let samples = wait_for("kalends_imip_outbox_pending", vec![], 0.0).await;
    assert_eq!(value(&samples, "kalends_imip_outbox_pending", &[]), Some(0.0));
    assert_eq!(value(&samples, "kalends_imip_outbox_oldest_pending_age_seconds", &[]), Some(0.0));
    s.stop().await;
}

on_both_engines!(
    sends_are_counted_by_result,
    not_exposed_without_configuration,
    the_token_guards_the_main_listener,
    the_separate_listener_serves_only_metrics,
    counters_follow_requests,
    cache_failures_are_counted,
);

/// The parser itself must refuse broken text, or the tests above would prove nothing.
#[test]
#[should_panic(expected = "refused")]
fn the_parser_refuses_broken_text() {
    parse("# TYPE x counter\nx_total{a=\"1\" 2\n");
}
