//! Device setup (issue 21): what a calendar app needs to find one account on this server, as
//! pure functions — the Apple configuration profile (`.mobileconfig` with a
//! `com.apple.caldav.account` payload, [`profile`]) and the DAVx5 login link with its QR code
//! in SVG ([`davx5`]). No HTTP and no store: the web page's `/web/device` hands in the server's
//! address and the user (docs/decisions/0029-device-setup-and-browser-tests.md).

pub mod davx5;
pub mod profile;

/// The server as clients reach it, split the way the Apple payload wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub https: bool,
    /// The host name or address as written in the URL (an IPv6 address keeps its brackets).
    pub host: String,
    /// The port, the scheme's default when the URL names none.
    pub port: u16,
    /// Whether the URL named the port (links keep the URL's own form).
    pub explicit_port: bool,
    /// The base path: "/" or e.g. "/dav/", always with both slashes.
    pub path: String,
}

impl Server {
    /// Parses an absolute `http://` or `https://` base URL (`public_url`, or what the request
    /// reached). None for anything else: another scheme, user info, no host, a bad port.
    pub fn parse(url: &str) -> Option<Server> {
        let (https, rest) = if let Some(rest) = strip_prefix_ci(url, "https://") {
            (true, rest)
        } else {
            (false, strip_prefix_ci(url, "http://")?)
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        // RFC 3986 §3.2.1: credentials in a URL are deprecated; a base URL has none.
        if authority.is_empty() || authority.contains('@') {
            return None;
        }
        let (host, port) = split_port(authority)?;
        if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return None;
        }
        let path = tail.split(['?', '#']).next().unwrap_or("");
        let path = format!("/{}", path.trim_matches('/'));
        let path = if path == "/" { path } else { format!("{path}/") };
        let default = if https { 443 } else { 80 };
        Some(Server {
            https,
            host: host.to_ascii_lowercase(),
            port: port.unwrap_or(default),
            explicit_port: port.is_some_and(|p| p != default),
            path,
        })
    }

    /// `host` or `host:port` (the port only when it is not the scheme's default).
    pub fn authority(&self) -> String {
        if self.explicit_port { format!("{}:{}", self.host, self.port) } else { self.host.clone() }
    }

    /// The base URL again, normalised: `https://host[:port]/path/`.
    pub fn base_url(&self) -> String {
        format!("{}://{}{}", if self.https { "https" } else { "http" }, self.authority(), self.path)
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &s[prefix.len()..])
}

/// `host[:port]`, with `[v6]:port` for IPv6 literals (RFC 3986 §3.2.2).
fn split_port(authority: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if authority.starts_with('[') {
        let close = authority.find(']')?;
        let (host, after) = authority.split_at(close + 1);
        match after {
            "" => (host, None),
            p => (host, Some(p.strip_prefix(':')?)),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    match port {
        None => Some((host, None)),
        Some(p) => Some((host, Some(p.parse::<u16>().ok().filter(|p| *p != 0)?))),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_split_into_host_port_and_path() {
        let s = Server::parse("https://Cal.Example.org/dav").unwrap();
        assert_eq!((s.https, s.host.as_str(), s.port, s.path.as_str()), (true, "cal.example.org", 443, "/dav/"));
        assert_eq!(s.base_url(), "https://cal.example.org/dav/");
        let s = Server::parse("http://127.0.0.1:5232/").unwrap();
        assert_eq!((s.https, s.port, s.path.as_str(), s.authority()), (false, 5232, "/", "127.0.0.1:5232".to_owned()));
        let s = Server::parse("http://[::1]:8080").unwrap();
        assert_eq!((s.host.as_str(), s.port, s.base_url()), ("[::1]", 8080, "http://[::1]:8080/".to_owned()));
        // A default port named explicitly is left out again.
        assert_eq!(Server::parse("https://h:443/x/?q#f").unwrap().base_url(), "https://h/x/");
    }

    #[test]
    fn anything_but_a_plain_http_base_url_is_refused() {
        for bad in ["ftp://h/", "https://", "https://u:p@h/", "http://h:0/", "http://h:99999/", "h/x", "http://[::1/", "http://a b/"] {
            assert_eq!(Server::parse(bad), None, "{bad}");
        }
    }
}
