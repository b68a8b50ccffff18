//! Namespaced XML names and the namespaces Kalends speaks.

use std::borrow::Cow;

pub const DAV: &str = "DAV:";
pub const CALDAV: &str = "urn:ietf:params:xml:ns:caldav";
/// Apple CalendarServer extensions (getctag, …).
pub const CS: &str = "http://calendarserver.org/ns/";
/// Apple iCal extensions (calendar-color, calendar-order).
pub const APPLE: &str = "http://apple.com/ns/ical/";

/// A resolved XML name: namespace URI (empty = no namespace) and local name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QName {
    pub ns: Cow<'static, str>,
    pub local: Cow<'static, str>,
}

impl QName {
    pub const fn fixed(ns: &'static str, local: &'static str) -> Self {
        QName { ns: Cow::Borrowed(ns), local: Cow::Borrowed(local) }
    }
    pub fn new(ns: impl Into<String>, local: impl Into<String>) -> Self {
        QName { ns: Cow::Owned(ns.into()), local: Cow::Owned(local.into()) }
    }
    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.ns == ns && self.local == local
    }
}
