//! The URL space: parsing request paths into targets and building hrefs, with one
//! percent-encoding so that hrefs round-trip exactly (vdirsyncer and python caldav compare them).
//!
//! ```text
//! /                          context root (RFC 6764 §5 target of /.well-known/caldav)
//! /principals/               principal collection
//! /principals/NAME/          a principal (RFC 3744 §2)
//! /calendars/                holds the homes
//! /calendars/NAME/           a calendar home (RFC 4791 §6.2.1)
//! /calendars/NAME/a/b/…      collections and resources below the home
//! ```

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// Characters left bare in an href segment: RFC 3986 unreserved plus a few sub-delims clients
/// use in names (`@`, `+`, `=`, `,`, `;`, `!`, `$`, `'`, `(`, `)`, `*`, `:`).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'@')
    .remove(b'+')
    .remove(b'=')
    .remove(b',')
    .remove(b';')
    .remove(b'!')
    .remove(b'$')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b':');

pub const PRINCIPALS: &str = "principals";
pub const CALENDARS: &str = "calendars";

/// Where a request path points, before any database lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Root,
    WellKnownCaldav,
    PrincipalsRoot,
    Principal(String),
    CalendarsRoot,
    Home(String),
    /// Something below a home: `segments` is non-empty; `trailing_slash` as sent.
    InHome { owner: String, segments: Vec<String>, trailing_slash: bool },
    /// Outside Kalends' URL space (or an unusable path such as one with `..`).
    Unknown,
}

/// Builds and parses paths under the configured base path (from `public_url`).
#[derive(Debug, Clone, Default)]
pub struct Paths {
    /// "" or e.g. "/dav" (no trailing slash).
    base: String,
    /// The `host[:port]` of `public_url`, lowercased, when one is configured: behind a proxy
    /// that rewrites Host, this is the authority clients put into Destination headers.
    public_authority: Option<String>,
}

impl Paths {
    pub fn new(base: impl Into<String>) -> Self {
        Paths { base: base.into(), public_authority: None }
    }

    pub fn with_public_authority(mut self, authority: Option<String>) -> Self {
        self.public_authority = authority.map(|a| a.to_ascii_lowercase());
        self
    }

    /// Whether an absolute URI (`http://authority/...`) names this server: its authority is
    /// the request's Host or the public URL's. Without a Host header (HTTP/1.0) and without a
    /// public URL there is nothing to compare with, and the URI is taken as local. Default
    /// ports are ignored (`host:80` is `host` for http). A path without authority is local.
    pub fn is_local(&self, uri: &str, host: Option<&str>) -> bool {
        let (scheme, rest) = match uri.split_once("://") {
            Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
            None => return true,
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        // Userinfo is not part of the server's identity.
        let authority = authority.rsplit('@').next().unwrap_or(authority);
        let normal = |a: &str| {
            let a = a.to_ascii_lowercase();
            let default = if scheme == "https" { ":443" } else { ":80" };
            a.strip_suffix(default).map(str::to_owned).unwrap_or(a)
        };
        let wanted = normal(authority);
        let known: Vec<String> = host.into_iter().chain(self.public_authority.as_deref()).map(normal).collect();
        known.is_empty() || known.contains(&wanted)
    }

    pub fn root(&self) -> String {
        format!("{}/", self.base)
    }
    pub fn principals(&self) -> String {
        format!("{}/{PRINCIPALS}/", self.base)
    }
    pub fn principal(&self, user: &str) -> String {
        format!("{}/{PRINCIPALS}/{}/", self.base, encode(user))
    }
    pub fn calendars(&self) -> String {
        format!("{}/{CALENDARS}/", self.base)
    }
    pub fn home(&self, user: &str) -> String {
        format!("{}/{CALENDARS}/{}/", self.base, encode(user))
    }
    /// A collection at `path` ("a" or "a/b", decoded) below `user`'s home.
    pub fn collection(&self, user: &str, path: &str) -> String {
        let mut href = self.home(user);
        for seg in path.split('/').filter(|s| !s.is_empty()) {
            href.push_str(&encode(seg));
            href.push('/');
        }
        href
    }
    pub fn object(&self, user: &str, collection_path: &str, name: &str) -> String {
        let mut href = self.collection(user, collection_path);
        href.push_str(&encode(name));
        href
    }

    /// Parses a request path or an href (absolute URL or absolute path; query ignored).
    pub fn parse(&self, raw: &str) -> Target {
        let path = strip_authority(raw);
        let path = path.split(['?', '#']).next().unwrap_or("");
        let Some(rest) = path.strip_prefix(self.base.as_str()) else { return Target::Unknown };
        if !rest.starts_with('/') {
            return Target::Unknown;
        }
        let trailing_slash = rest.len() > 1 && rest.ends_with('/');
        let mut segments = Vec::new();
        for raw_seg in rest.split('/').filter(|s| !s.is_empty()) {
            let Ok(seg) = percent_decode_str(raw_seg).decode_utf8() else { return Target::Unknown };
            // An encoded '/' or a dot segment would make two hrefs name one resource.
            if seg == "." || seg == ".." || seg.contains('/') || seg.contains('\0') {
                return Target::Unknown;
            }
            segments.push(seg.into_owned());
        }
        classify(segments, trailing_slash)
    }
}

fn classify(mut segments: Vec<String>, trailing_slash: bool) -> Target {
    match segments.len() {
        0 => return Target::Root,
        1 if segments[0] == PRINCIPALS => return Target::PrincipalsRoot,
        1 if segments[0] == CALENDARS => return Target::CalendarsRoot,
        _ => {}
    }
    if segments.len() == 2 && segments[0] == ".well-known" && segments[1] == "caldav" {
        return Target::WellKnownCaldav;
    }
    let top = segments.remove(0);
    match (top.as_str(), segments.len()) {
        (PRINCIPALS, 1) => Target::Principal(segments.remove(0)),
        (CALENDARS, 1) => Target::Home(segments.remove(0)),
        (CALENDARS, _) => {
            let owner = segments.remove(0);
            Target::InHome { owner, segments, trailing_slash }
        }
        _ => Target::Unknown,
    }
}

/// `http://host:port/path` → `/path`; a path is returned as is.
fn strip_authority(raw: &str) -> &str {
    for scheme in ["http://", "https://"] {
        if let Some(rest) = raw.strip_prefix(scheme) {
            return rest.find('/').map_or("/", |i| &rest[i..]);
        }
    }
    raw
}

/// Percent-encodes one path segment.
pub fn encode(segment: &str) -> String {
    utf8_percent_encode(segment, SEGMENT).to_string()
}

/// Calendar user addresses that are principal URLs (RFC 6638 §2.4.1): an absolute path, or a
/// URL whose path is, names a principal of this server.
impl crate::service::scheduling::directory::Directory for Paths {
    fn principal_name(&self, address: &str) -> Option<String> {
        let path = match address.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") => {
                &rest[rest.find('/')?..]
            }
            Some(_) => return None,
            None if address.starts_with('/') => address,
            None => return None,
        };
        match self.parse(path) {
            Target::Principal(name) => Some(name),
            _ => None,
        }
    }

    fn principal_href(&self, user: &str) -> String {
        self.principal(user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_url_space() {
        let p = Paths::default();
        assert_eq!(p.parse("/"), Target::Root);
        assert_eq!(p.parse("/.well-known/caldav"), Target::WellKnownCaldav);
        assert_eq!(p.parse("/principals/"), Target::PrincipalsRoot);
        assert_eq!(p.parse("/principals/alice/"), Target::Principal("alice".into()));
        assert_eq!(p.parse("/principals/alice"), Target::Principal("alice".into()));
        assert_eq!(p.parse("/calendars/alice/"), Target::Home("alice".into()));
        assert_eq!(
            p.parse("http://h:1/calendars/alice/work/a%20b.ics?x=1"),
            Target::InHome {
                owner: "alice".into(),
                segments: vec!["work".into(), "a b.ics".into()],
                trailing_slash: false
            }
        );
        assert_eq!(p.parse("/calendars/alice/../bob/"), Target::Unknown);
        assert_eq!(p.parse("/calendars/alice/a%2Fb/"), Target::Unknown);
        assert_eq!(p.parse("/elsewhere/"), Target::Unknown);
    }

    #[test]
    fn hrefs_round_trip() {
        let p = Paths::new("/dav");
        let name = "ü ev@nt+1 (copy)%.ics";
        let href = p.object("bob", "work/sub", name);
        assert_eq!(href, "/dav/calendars/bob/work/sub/%C3%BC%20ev@nt+1%20(copy)%25.ics");
        match p.parse(&href) {
            Target::InHome { owner, segments, .. } => {
                assert_eq!(owner, "bob");
                assert_eq!(segments, vec!["work", "sub", name]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(p.parse("/calendars/bob/"), Target::Unknown, "outside the base path");
        assert_eq!(p.parse("/dav/"), Target::Root);
    }

    #[test]
    fn local_authorities() {
        let p = Paths::default();
        assert!(p.is_local("/calendars/a/x", Some("h:1")));
        assert!(p.is_local("http://H:1/calendars/a/x", Some("h:1")));
        assert!(p.is_local("http://h/x", Some("h:80")));
        assert!(p.is_local("https://h:443/x", Some("h")));
        assert!(!p.is_local("http://other:1/calendars/a/x", Some("h:1")));
        assert!(!p.is_local("http://h:2/x", Some("h:1")));
        assert!(p.is_local("http://anything/x", None));
        let behind_proxy = Paths::new("/dav").with_public_authority(Some("Cal.Example.org".into()));
        assert!(behind_proxy.is_local("https://cal.example.org/dav/x", Some("127.0.0.1:5232")));
        assert!(behind_proxy.is_local("http://127.0.0.1:5232/dav/x", Some("127.0.0.1:5232")));
        assert!(!behind_proxy.is_local("https://evil.example/dav/x", Some("127.0.0.1:5232")));
        assert!(!behind_proxy.is_local("https://evil.example/dav/x", None));
    }
}
