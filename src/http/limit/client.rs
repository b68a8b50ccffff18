//! Who an anonymous request comes from: the peer address, or behind a trusted reverse proxy the
//! address it forwarded (RFC 7239 `Forwarded`, else `X-Forwarded-For`); and the limiter key of
//! an address (IPv6 by /64, the smallest block one subscriber usually gets).

use std::net::{IpAddr, Ipv6Addr};

use http::HeaderMap;
use ipnet::IpNet;

/// The client's address. Forwarding headers are believed only when the peer is a trusted
/// proxy, and then read from the right: each trusted hop appends the address it saw, so the
/// rightmost address that is not a trusted proxy is the first one nobody we trust vouches for
/// beyond. Anything to its left the client could have written itself.
pub fn client_addr(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer = canonical(peer);
    if !is_trusted(peer, trusted) {
        return peer;
    }
    let chain = forwarded_for(headers);
    let mut client = peer;
    for addr in chain.into_iter().rev() {
        client = addr;
        if !is_trusted(addr, trusted) {
            break;
        }
    }
    client
}

/// The limiter key for an address: IPv4 as is, IPv6 by its /64.
pub fn addr_key(addr: IpAddr) -> String {
    match canonical(addr) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{}/64", Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
    }
}

fn is_trusted(addr: IpAddr, trusted: &[IpNet]) -> bool {
    trusted.iter().any(|net| net.contains(&addr))
}

/// An IPv4-mapped IPv6 address (a dual-stack socket's view of an IPv4 peer) as IPv4.
fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

/// The forwarded-for chain, left (client side) to right (nearest hop). RFC 7239 `Forwarded`
/// wins when present; an element without a usable `for=` (e.g. `for=unknown`, an obfuscated
/// name) ends the chain there, since nothing to its left can be attributed.
fn forwarded_for(headers: &HeaderMap) -> Vec<IpAddr> {
    let forwarded: Vec<&str> = headers.get_all("forwarded").iter().filter_map(|v| v.to_str().ok()).collect();
    if !forwarded.is_empty() {
        let mut chain = Vec::new();
        for element in forwarded.iter().flat_map(|v| v.split(',')) {
            let for_value = element
                .split(';')
                .filter_map(|pair| pair.split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("for"))
                .map(|(_, v)| v.trim().trim_matches('"'));
            match for_value.and_then(parse_node) {
                Some(addr) => chain.push(addr),
                None => chain.clear(),
            }
        }
        return chain;
    }
    let mut chain = Vec::new();
    for item in headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')) {
        match parse_node(item.trim()) {
            Some(addr) => chain.push(addr),
            None => chain.clear(),
        }
    }
    chain
}

/// `192.0.2.1`, `192.0.2.1:4711`, `[2001:db8::1]`, `[2001:db8::1]:4711` or a bare IPv6 address.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split_once(']').and_then(|(addr, _)| addr.parse().ok()).map(canonical);
    }
    if let Ok(addr) = node.parse::<IpAddr>() {
        return Some(canonical(addr));
    }
    node.rsplit_once(':').and_then(|(addr, _)| addr.parse::<std::net::Ipv4Addr>().ok()).map(IpAddr::V4)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn forwarding_headers_only_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()];
        let xff = headers(&[("x-forwarded-for", "203.0.113.9, 198.51.100.7")]);
        // An untrusted peer's claims are ignored.
        assert_eq!(client_addr(ip("192.0.2.1"), &xff, &trusted), ip("192.0.2.1"));
        // A trusted proxy: the rightmost untrusted address (what the proxy saw), not the
        // leftmost (what the client claims).
        assert_eq!(client_addr(ip("10.1.2.3"), &xff, &trusted), ip("198.51.100.7"));
        // Several trusted hops are walked through.
        let chain = headers(&[("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.9.9.9")]);
        assert_eq!(client_addr(ip("10.1.2.3"), &chain, &trusted), ip("198.51.100.7"));
        // Nothing forwarded: the proxy itself.
        assert_eq!(client_addr(ip("10.1.2.3"), &HeaderMap::new(), &trusted), ip("10.1.2.3"));
        // No trusted proxies configured: never believed.
        assert_eq!(client_addr(ip("10.1.2.3"), &xff, &[]), ip("10.1.2.3"));
    }

    #[test]
    fn rfc7239_forwarded_wins() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let h = headers(&[
            ("forwarded", r#"for=192.0.2.60;proto=http, for="[2001:db8:cafe::17]:4711""#),
            ("x-forwarded-for", "203.0.113.9"),
        ]);
        assert_eq!(client_addr(ip("10.0.0.1"), &h, &trusted), ip("2001:db8:cafe::17"));
        // An obfuscated hop cuts the chain: the proxy is the best we know.
        let h = headers(&[("forwarded", "for=192.0.2.60, for=_hidden")]);
        assert_eq!(client_addr(ip("10.0.0.1"), &h, &trusted), ip("10.0.0.1"));
        let h = headers(&[("forwarded", "for=192.0.2.60:8080")]);
        assert_eq!(client_addr(ip("10.0.0.1"), &h, &trusted), ip("192.0.2.60"));
    }

    #[test]
    fn keys_group_ipv6_by_64() {
        assert_eq!(addr_key(ip("192.0.2.1")), "192.0.2.1");
        assert_eq!(addr_key(ip("2001:db8:1:2:aaaa::1")), "2001:db8:1:2::/64");
        assert_eq!(addr_key(ip("2001:db8:1:2:ffff::9")), addr_key(ip("2001:db8:1:2::1")));
        assert_ne!(addr_key(ip("2001:db8:1:3::1")), addr_key(ip("2001:db8:1:2::1")));
        assert_eq!(addr_key(ip("::ffff:192.0.2.1")), "192.0.2.1", "IPv4-mapped is IPv4");
    }
}
