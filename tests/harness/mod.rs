//! Black-box test harness: starts Kalends in-process on 127.0.0.1:0 on SQLite or PostgreSQL,
//! with users `alice` and `bob`, and speaks HTTP to it with reqwest.
#![allow(dead_code, clippy::unwrap_used)]

use kalends::app::{RunningServer, start};
use kalends::config::{Config, ShutdownConfig};
use kalends::dav::xml::{self, Element};
use kalends::service::users;
use kalends::store::Store;
use reqwest::{Method, StatusCode};

pub const DAV: &str = "DAV:";
pub const CALDAV: &str = "urn:ietf:params:xml:ns:caldav";

#[derive(Debug, Clone, Copy)]
pub enum Engine {
    Sqlite,
    Postgres,
}

pub struct TestServer {
    pub base: String,
    pub store: Store,
    server: Option<RunningServer>,
    client: reqwest::Client,
    _keep: Box<dyn std::any::Any + Send>,
}

pub const ALICE_PW: &str = "alice-pw";
pub const BOB_PW: &str = "bob-pw";

pub async fn start_server(engine: Engine) -> TestServer {
    start_with(engine, |_| {}).await
}

pub async fn start_with(engine: Engine, tweak: impl FnOnce(&mut Config)) -> TestServer {
    let (store, keep): (Store, Box<dyn std::any::Any + Send>) = match engine {
        Engine::Sqlite => {
            let (s, dir) = crate::support::sqlite_store().await;
            (s, Box::new(dir))
        }
        Engine::Postgres => {
            let (s, guard) = crate::support::postgres_store().await;
            (s, Box::new(guard))
        }
    };
    users::create(&store, "alice", Some("alice@example.org"), ALICE_PW).await.unwrap();
    users::create(&store, "bob", None, BOB_PW).await.unwrap();
    // No grace by default: every test stops its server, and a load balancer is not watching.
    let shutdown = ShutdownConfig { grace_ms: 0, deadline_ms: 10_000 };
    let mut config = Config { listen: "127.0.0.1:0".parse().unwrap(), shutdown, ..Config::default() };
    tweak(&mut config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = start(&config, store.clone(), listener).unwrap();
    let base = format!("http://{}", server.addr);
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    TestServer { base, store, server: Some(server), client, _keep: keep }
}

impl TestServer {
    /// A request as alice.
    pub fn req(&self, method: &str, path: &str) -> reqwest::RequestBuilder {
        self.req_as("alice", ALICE_PW, method, path)
    }

    pub fn req_as(&self, user: &str, pw: &str, method: &str, path: &str) -> reqwest::RequestBuilder {
        self.anon(method, path).basic_auth(user, Some(pw))
    }

    pub fn anon(&self, method: &str, path: &str) -> reqwest::RequestBuilder {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        self.client.request(method, format!("{}{}", self.base, path))
    }

    pub async fn propfind(&self, path: &str, depth: &str, body: &str) -> Response {
        send(self.req("PROPFIND", path).header("Depth", depth).body(body.to_owned())).await
    }

    pub async fn put_ics(&self, path: &str, ics: &str) -> Response {
        send(self.req("PUT", path).header("Content-Type", "text/calendar; charset=utf-8").body(ics.to_owned())).await
    }

    /// Where `metrics_listen` was bound, when the test configured it.
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.server.as_ref().and_then(|s| s.metrics_addr)
    }

    /// The server's metrics (to count into them as another component would).
    pub fn metrics(&self) -> std::sync::Arc<kalends::metrics::Metrics> {
        self.server.as_ref().map(|s| s.metrics.clone()).unwrap()
    }

    /// The clock the server decides lock expiry on; `advance` moves it forward.
    pub fn clock(&self) -> kalends::service::clock::Clock {
        self.server.as_ref().map(|s| s.clock.clone()).unwrap()
    }

    /// Begins the drain (`RunningServer::stop`) in the background; the server keeps serving
    /// through its grace, and the handle resolves once it has stopped.
    pub fn begin_stop(&mut self) -> tokio::task::JoinHandle<()> {
        let server = self.server.take().unwrap();
        tokio::spawn(server.stop())
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.stop().await;
        }
    }
}

/// A response read whole.
pub struct Response {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).map(|v| v.to_str().unwrap().to_owned())
    }
    pub fn xml(&self) -> Element {
        xml::parse(self.body.as_bytes()).unwrap_or_else(|e| panic!("not XML ({e}): {}", self.body))
    }
    /// The multistatus `<response>` for `href`.
    pub fn response_for(&self, href: &str) -> Element {
        let root = self.xml();
        root.children()
            .find(|r| r.child(DAV, "href").is_some_and(|h| h.text() == href))
            .cloned()
            .unwrap_or_else(|| panic!("no response for {href} in {}", self.body))
    }
    pub fn hrefs(&self) -> Vec<String> {
        self.xml()
            .children()
            .filter(|r| r.is(DAV, "response"))
            .filter_map(|r| r.child(DAV, "href").map(Element::text))
            .collect()
    }
    /// The `DAV:error` condition element name, e.g. ("DAV:", "propfind-finite-depth").
    pub fn condition(&self) -> (String, String) {
        let root = self.xml();
        assert!(root.is(DAV, "error"), "not a DAV:error body: {}", self.body);
        let c = root.children().next().unwrap();
        (c.name.ns.to_string(), c.name.local.to_string())
    }
}

/// (status code, property element) for `ns:local` inside a `<response>`.
pub fn prop(response: &Element, ns: &str, local: &str) -> Option<(u16, Element)> {
    for propstat in response.children().filter(|c| c.is(DAV, "propstat")) {
        let status = propstat.child(DAV, "status").map(Element::text).unwrap_or_default();
        let code: u16 = status.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        if let Some(p) = propstat.child(DAV, "prop").and_then(|p| p.child(ns, local)) {
            return Some((code, p.clone()));
        }
    }
    None
}

/// The text of a property that must be present with 200.
pub fn prop_text(response: &Element, ns: &str, local: &str) -> String {
    match prop(response, ns, local) {
        Some((200, e)) => e.text(),
        other => panic!("{ns}{local}: {other:?}"),
    }
}

pub async fn send(rb: reqwest::RequestBuilder) -> Response {
    let r = rb.send().await.unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    let body = r.text().await.unwrap();
    Response { status, headers, body }
}

pub fn event(uid: &str, summary: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T100000Z\r\nDTEND:20260105T110000Z\r\nSUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

pub fn todo(uid: &str, summary: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nBEGIN:VTODO\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:{summary}\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
    )
}

/// Instantiates each listed `async fn name(engine: Engine)` once per engine.
#[macro_export]
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name($crate::harness::Engine::Sqlite).await } )*
        }
        mod postgres {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name($crate::harness::Engine::Postgres).await } )*
        }
    };
}
