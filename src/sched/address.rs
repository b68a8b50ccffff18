//! Calendar user addresses (RFC 5545 §3.3.3 CAL-ADDRESS) normalised for comparison: the same
//! person written `MAILTO:Jane@Example.ORG` by one client and `mailto:jane@example.org` by
//! another is one attendee.

use std::fmt;

/// A calendar user address in its comparison form.
///
/// - The scheme is lower-cased (RFC 3986 §3.1: schemes are case-insensitive).
/// - `mailto:` addresses are lower-cased whole. RFC 5321 lets a mail server treat the local part
///   as case-sensitive, but no calendar server or client does, and clients re-case addresses.
/// - `urn:` addresses (`urn:uuid:…`, what Apple writes for principals) are lower-cased whole.
/// - A bare `someone@host` (RFC 5546 §4.4.1 writes them) reads as `mailto:someone@host`.
/// - Anything else (`http:` principals) keeps the case of everything after the scheme.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address(String);

impl Address {
    pub fn new(raw: &str) -> Address {
        let raw = raw.trim().trim_matches('"');
        let Some((scheme, rest)) = raw.split_once(':') else {
            return match raw.contains('@') {
                true => Address(format!("mailto:{}", raw.to_lowercase())),
                false => Address(raw.to_lowercase()),
            };
        };
        let scheme = scheme.to_ascii_lowercase();
        let rest = match scheme.as_str() {
            "mailto" | "urn" => rest.trim().to_lowercase(),
            _ => rest.to_owned(),
        };
        Address(format!("{scheme}:{rest}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The mail address of a `mailto:` address (for iMIP and for display).
    pub fn email(&self) -> Option<&str> {
        self.0.strip_prefix("mailto:")
    }

    /// Whether `raw` (a value as written in an ORGANIZER or ATTENDEE line) is this address.
    pub fn is(&self, raw: &str) -> bool {
        Address::new(raw) == *self
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for Address {
    fn from(raw: &str) -> Address {
        Address::new(raw)
    }
}

/// Whether `raw` is one of the owner's addresses.
pub(crate) fn is_owner(owner: &[Address], raw: &str) -> bool {
    let address = Address::new(raw);
    owner.contains(&address)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_mailto_without_case() {
        assert_eq!(Address::new("MAILTO:Jane@Example.ORG"), Address::new("mailto:jane@example.org"));
        assert_eq!(Address::new(" mailto:jane@example.org "), Address::new("mailto:jane@example.org"));
        assert_eq!(Address::new("jane@example.org").as_str(), "mailto:jane@example.org");
        assert_eq!(Address::new("mailto:jane@example.org").email(), Some("jane@example.org"));
        assert_eq!(Address::new("urn:uuid:ABC-1").as_str(), "urn:uuid:abc-1");
        assert_eq!(Address::new("HTTPS://h/Principals/Jane").as_str(), "https://h/Principals/Jane");
        assert_ne!(Address::new("mailto:jane@example.org"), Address::new("mailto:john@example.org"));
        assert!(Address::new("mailto:a@b").is("MAILTO:A@B"));
        assert!(is_owner(&[Address::new("mailto:x@y"), Address::new("mailto:a@b")], "mailto:A@b"));
    }
}
