//! Namespaced XML names and the namespaces Kalends speaks.

use std::borrow::Cow;
use std::fmt;

/// WebDAV (RFC 4918 §21).
pub const DAV: &str = "DAV:";
/// CalDAV (RFC 4791 §1.2).
pub const CALDAV: &str = "urn:ietf:params:xml:ns:caldav";
/// Apple CalendarServer extensions (getctag, …).
pub const CS: &str = "http://calendarserver.org/ns/";
/// Apple iCal extensions (calendar-color, calendar-order).
pub const APPLE: &str = "http://apple.com/ns/ical/";
/// The namespace the `xml:` prefix is bound to by definition (Namespaces in XML §3), used by
/// `xml:lang` on property values (RFC 4918 §4.3).
pub const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// Namespaces common enough that parsed names borrow a static string instead of allocating one.
const INTERNED: [&str; 5] = [DAV, CALDAV, CS, APPLE, XML_NS];

/// A resolved XML name: namespace URI (empty = no namespace) and local name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QName {
    pub ns: Cow<'static, str>,
    pub local: Cow<'static, str>,
}

impl QName {
    pub const fn fixed(ns: &'static str, local: &'static str) -> Self {
        QName {
            ns: Cow::Borrowed(ns),
            local: Cow::Borrowed(local),
        }
    }
    pub fn new(ns: impl Into<String>, local: impl Into<String>) -> Self {
        QName {
            ns: Cow::Owned(ns.into()),
            local: Cow::Owned(local.into()),
        }
    }
    /// Builds a name met while parsing; the well-known namespaces are shared rather than copied,
    /// because a multiget body repeats `DAV:` hundreds of times.
    pub fn parsed(ns: &str, local: &str) -> Self {
        let ns = match INTERNED.iter().find(|known| **known == ns) {
            Some(known) => Cow::Borrowed(*known),
            None if ns.is_empty() => Cow::Borrowed(""),
            None => Cow::Owned(ns.to_owned()),
        };
        QName {
            ns,
            local: Cow::Owned(local.to_owned()),
        }
    }
    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.ns == ns && self.local == local
    }
}

/// Renders names the way the RFCs write them (`DAV:prop`, `CALDAV:filter`), so error messages
/// read naturally; other namespaces use Clark notation (`{urn:x}name`).
impl fmt::Display for QName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = match &*self.ns {
            "" => return f.write_str(&self.local),
            DAV => "DAV",
            CALDAV => "CALDAV",
            CS => "CS",
            APPLE => "ICAL",
            XML_NS => "xml",
            other => return write!(f, "{{{other}}}{}", self.local),
        };
        write!(f, "{label}:{}", self.local)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parsed_names_share_known_namespaces() {
        assert!(matches!(QName::parsed(DAV, "prop").ns, Cow::Borrowed(_)));
        assert!(matches!(QName::parsed("urn:x", "y").ns, Cow::Owned(_)));
        assert_eq!(QName::parsed(DAV, "prop"), QName::fixed(DAV, "prop"));
    }

    #[test]
    fn display_uses_rfc_style_labels() {
        assert_eq!(QName::fixed(DAV, "prop").to_string(), "DAV:prop");
        assert_eq!(QName::fixed(CALDAV, "filter").to_string(), "CALDAV:filter");
        assert_eq!(QName::fixed("", "name").to_string(), "name");
        assert_eq!(QName::new("urn:x", "y").to_string(), "{urn:x}y");
    }
}
