//! A browser's side of the web page for black-box tests: a cookie jar, forms posted with the
//! page's CSRF token, and the HTML read back as text (`tests/web.rs`).
#![allow(clippy::unwrap_used, dead_code)] // each test crate uses its own subset

use std::collections::BTreeMap;

use crate::harness::{Response, TestServer, send};

pub struct Browser<'a> {
    pub server: &'a TestServer,
    pub cookies: BTreeMap<String, String>,
    /// Every Set-Cookie line received, as sent.
    pub set_cookies: Vec<String>,
}

/// The value of the first `name="…" value="…"` hidden input of `name` in `html`.
pub fn input_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let tag_start = html[..at].rfind('<')?;
    let tag_end = at + html[at..].find('>')?;
    let tag = &html[tag_start..tag_end];
    let v = tag.find("value=\"")? + 7;
    let end = tag[v..].find('"')?;
    Some(unescape(&tag[v..v + end]))
}

/// The few entities askama writes.
pub fn unescape(s: &str) -> String {
    s.replace("&#34;", "\"").replace("&quot;", "\"").replace("&#39;", "'").replace("&lt;", "<").replace("&#60;", "<").replace("&gt;", ">").replace("&#62;", ">").replace("&amp;", "&").replace("&#38;", "&")
}

pub fn form_body(fields: &[(&str, &str)]) -> String {
    let enc = |s: &str| percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string();
    fields.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

impl<'a> Browser<'a> {
    pub fn new(server: &'a TestServer) -> Browser<'a> {
        Browser { server, cookies: BTreeMap::new(), set_cookies: Vec::new() }
    }

    /// A logged-in browser.
    pub async fn login(server: &'a TestServer, user: &str, password: &str) -> Browser<'a> {
        let mut b = Browser::new(server);
        let r = b.try_login(user, password).await;
        assert_eq!(r.status, 303, "login as {user}: {}", r.body);
        b
    }

    /// GET the login form, then POST it.
    pub async fn try_login(&mut self, user: &str, password: &str) -> Response {
        let form = self.get("/web/login").await;
        assert_eq!(form.status, 200, "{}", form.body);
        let token = input_value(&form.body, "csrf").unwrap();
        self.post_raw("/web/login", &form_body(&[("csrf", &token), ("user", user), ("password", password), ("next", "")]), &[]).await
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    fn remember(&mut self, r: &reqwest::header::HeaderMap) {
        for v in r.get_all("set-cookie") {
            let line = v.to_str().unwrap().to_owned();
            let pair = line.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if line.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
            self.set_cookies.push(line);
        }
    }

    pub async fn get(&mut self, path: &str) -> Response {
        let rb = self.server.anon("GET", path).header("Accept", "text/html").header("Cookie", self.cookie_header());
        let r = send(rb).await;
        self.remember(&r.headers);
        r
    }

    /// A POST of `body` (url-encoded) with extra headers, exactly as given (no token added).
    pub async fn post_raw(&mut self, path: &str, body: &str, headers: &[(&str, &str)]) -> Response {
        let mut rb = self
            .server
            .anon("POST", path)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Cookie", self.cookie_header())
            .body(body.to_owned());
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        let r = send(rb).await;
        self.remember(&r.headers);
        r
    }

    /// The session's CSRF token, from any page of the layout.
    pub async fn csrf(&mut self) -> String {
        let page = self.get("/web/calendars").await;
        input_value(&page.body, "csrf").unwrap_or_else(|| panic!("no csrf in {}", page.body))
    }

    /// A form POST with the session's token, as the page's own forms send it.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Response {
        let token = self.csrf().await;
        let mut all = vec![("csrf", token.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &form_body(&all), &[("Origin", &self.server.base.clone()), ("Sec-Fetch-Site", "same-origin")]).await
    }

    /// A multipart POST (the import form) with the session's token.
    pub async fn post_multipart(&mut self, path: &str, fields: &[(&str, &str)], file: (&str, &[u8])) -> Response {
        let token = self.csrf().await;
        let boundary = "kalendsTestBoundary7MA4YWxk";
        let mut body = Vec::new();
        for (k, v) in [("csrf", token.as_str())].iter().chain(fields.iter()) {
            body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").as_bytes());
        }
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"; filename=\"import.ics\"\r\nContent-Type: text/calendar\r\n\r\n", file.0).as_bytes(),
        );
        body.extend_from_slice(file.1);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let rb = self
            .server
            .anon("POST", path)
            .header("Content-Type", format!("multipart/form-data; boundary={boundary}"))
            .header("Cookie", self.cookie_header())
            .body(body);
        let r = send(rb).await;
        self.remember(&r.headers);
        r
    }
}
