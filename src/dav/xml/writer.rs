//! Streaming XML writer for responses: fixed prefixes for the known namespaces (D, C, CS, ICAL),
//! generated ones for any other, declared where first used.
//!
//! Everything is appended to one `Vec<u8>`: an open element is remembered as the byte range of
//! its qualified name in that buffer (copied into the end tag), so writing an element allocates
//! nothing. A multistatus listing thousands of resources is the case this is shaped for.

use std::io::Write as _;
use std::ops::Range;

use super::QName;
use super::name::{APPLE, CALDAV, CS, DAV, XML_NS};
use super::reader::{Element, Node};

/// The prefixes every response uses, declared once on the root element.
const FIXED: [(&str, &str); 4] = [("D", DAV), ("C", CALDAV), ("CS", CS), ("ICAL", APPLE)];

const DECLARATION: &[u8] = br#"<?xml version="1.0" encoding="utf-8"?>"#;

/// Builds one XML document.
pub struct XmlWriter {
    buf: Vec<u8>,
    /// Elements started and not yet ended, innermost last.
    open: Vec<Open>,
    /// Every non-fixed namespace met so far; index `i` is written with prefix `x{i}`, so a
    /// namespace keeps one prefix throughout the document even when declared several times.
    foreign: Vec<String>,
    /// Indexes into `foreign` declared on an open element (or the one being written).
    in_scope: Vec<usize>,
    /// What to declare on the root element, which has not been started yet when `Some`.
    root: Option<RootDeclarations>,
}

struct Open {
    /// Where the element's qualified name sits in `buf`.
    name: Range<usize>,
    /// `in_scope` length before this element, restored when it ends.
    scope: usize,
}

enum RootDeclarations {
    /// A response document: all fixed prefixes, used or not (as sabre/dav and others do).
    AllFixed,
    /// A self-contained fragment (a stored dead property): exactly the namespaces it uses.
    Used(Vec<String>),
}

/// How a namespace is written as a prefix.
enum Prefix {
    None,
    Fixed(&'static str),
    Foreign(usize),
}

impl Default for XmlWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl XmlWriter {
    /// Starts a document with its XML declaration.
    pub fn new() -> Self {
        Self::with_capacity(4096)
    }

    /// Starts a document, reserving `capacity` bytes (a multistatus can be sized ahead).
    pub fn with_capacity(capacity: usize) -> Self {
        let mut buf = Vec::with_capacity(capacity.max(DECLARATION.len()));
        buf.extend_from_slice(DECLARATION);
        XmlWriter {
            buf,
            open: Vec::new(),
            foreign: Vec::new(),
            in_scope: Vec::new(),
            root: Some(RootDeclarations::AllFixed),
        }
    }

    pub fn start(&mut self, name: &QName) {
        self.start_with_attrs(name, []);
    }

    /// Starts an element with attributes (`name` is usually `QName::fixed("", "name")`).
    pub fn start_with_attrs<'a>(
        &mut self,
        name: &QName,
        attrs: impl IntoIterator<Item = (&'a QName, &'a str)>,
    ) {
        let open = self.open_tag(name, attrs);
        self.buf.push(b'>');
        self.open.push(open);
    }

    pub fn empty(&mut self, name: &QName) {
        self.empty_with_attrs(name, []);
    }

    pub fn empty_with_attrs<'a>(
        &mut self,
        name: &QName,
        attrs: impl IntoIterator<Item = (&'a QName, &'a str)>,
    ) {
        let open = self.open_tag(name, attrs);
        self.buf.extend_from_slice(b"/>");
        self.in_scope.truncate(open.scope);
    }

    /// Ends the innermost open element.
    pub fn end(&mut self) {
        let Some(open) = self.open.pop() else {
            debug_assert!(false, "XmlWriter::end without an open element");
            return;
        };
        self.buf.extend_from_slice(b"</");
        self.buf.extend_from_within(open.name);
        self.buf.push(b'>');
        self.in_scope.truncate(open.scope);
    }

    /// Writes character data, escaped.
    pub fn text(&mut self, text: &str) {
        escape(&mut self.buf, text, false);
    }

    /// `<name>text</name>`, or `<name/>` when the text is empty.
    pub fn text_element(&mut self, name: &QName, text: &str) {
        if text.is_empty() {
            self.empty(name);
        } else {
            self.start(name);
            self.text(text);
            self.end();
        }
    }

    /// Writes a DOM subtree, e.g. a stored dead property, with this document's prefixes.
    pub fn element(&mut self, element: &Element) {
        let attrs = element.attrs.iter().map(|(k, v)| (k, v.as_str()));
        if element.children.is_empty() {
            self.empty_with_attrs(&element.name, attrs);
            return;
        }
        self.start_with_attrs(&element.name, attrs);
        for child in &element.children {
            match child {
                Node::Element(e) => self.element(e),
                Node::Text(t) => self.text(t),
            }
        }
        self.end();
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Room for `additional` more bytes, allocated now.
    pub fn reserve(&mut self, additional: usize) {
        self.buf.reserve(additional);
    }

    /// Closes any element still open and returns the document.
    pub fn finish(mut self) -> Vec<u8> {
        while !self.open.is_empty() {
            self.end();
        }
        self.buf
    }

    /// Writes `<prefix:local` plus any declarations and the attributes; returns what `end` needs.
    fn open_tag<'a>(
        &mut self,
        name: &QName,
        attrs: impl IntoIterator<Item = (&'a QName, &'a str)>,
    ) -> Open {
        let scope = self.in_scope.len();
        let root = self.root.take();
        if let Some(RootDeclarations::Used(namespaces)) = &root {
            for ns in namespaces {
                if let Prefix::Foreign(i) = self.prefix(ns) {
                    self.in_scope.push(i);
                }
            }
        }
        let prefix = self.prefix_in_scope(&name.ns);
        self.buf.push(b'<');
        let start = self.buf.len();
        self.write_qualified(&prefix, &name.local);
        let name_range = start..self.buf.len();
        if let Some(root) = &root {
            self.declare_fixed(root);
        }
        for i in scope..self.in_scope.len() {
            self.declare_foreign(self.in_scope[i]);
        }
        for (key, value) in attrs {
            let declared = self.in_scope.len();
            let prefix = self.prefix_in_scope(&key.ns);
            if let Some(&i) = self.in_scope.get(declared) {
                self.declare_foreign(i);
            }
            self.buf.push(b' ');
            self.write_qualified(&prefix, &key.local);
            self.buf.extend_from_slice(b"=\"");
            escape(&mut self.buf, value, true);
            self.buf.push(b'"');
        }
        Open {
            name: name_range,
            scope,
        }
    }

    /// The prefix for `ns`, registering a foreign namespace the first time it is met.
    fn prefix(&mut self, ns: &str) -> Prefix {
        if ns.is_empty() {
            return Prefix::None;
        }
        if ns == XML_NS {
            return Prefix::Fixed("xml");
        }
        if let Some(&(prefix, _)) = FIXED.iter().find(|(_, uri)| *uri == ns) {
            return Prefix::Fixed(prefix);
        }
        match self.foreign.iter().position(|known| known == ns) {
            Some(i) => Prefix::Foreign(i),
            None => {
                self.foreign.push(ns.to_owned());
                Prefix::Foreign(self.foreign.len() - 1)
            }
        }
    }

    /// Like `prefix`, and puts a foreign namespace in scope (to be declared on the current
    /// element) when no open element declares it.
    fn prefix_in_scope(&mut self, ns: &str) -> Prefix {
        let prefix = self.prefix(ns);
        if let Prefix::Foreign(i) = prefix
            && !self.in_scope.contains(&i)
        {
            self.in_scope.push(i);
        }
        prefix
    }

    fn write_qualified(&mut self, prefix: &Prefix, local: &str) {
        match prefix {
            Prefix::None => {}
            Prefix::Fixed(p) => {
                self.buf.extend_from_slice(p.as_bytes());
                self.buf.push(b':');
            }
            // Writing into a Vec cannot fail.
            Prefix::Foreign(i) => {
                let _ = write!(self.buf, "x{i}:");
            }
        }
        self.buf.extend_from_slice(local.as_bytes());
    }

    fn declare_fixed(&mut self, root: &RootDeclarations) {
        for (prefix, uri) in FIXED {
            let wanted = match root {
                RootDeclarations::AllFixed => true,
                RootDeclarations::Used(namespaces) => namespaces.iter().any(|ns| ns == uri),
            };
            if wanted {
                let _ = write!(self.buf, " xmlns:{prefix}=\"");
                escape(&mut self.buf, uri, true);
                self.buf.push(b'"');
            }
        }
    }

    fn declare_foreign(&mut self, index: usize) {
        let _ = write!(self.buf, " xmlns:x{index}=\"");
        if let Some(uri) = self.foreign.get(index) {
            escape(&mut self.buf, uri, true);
        }
        self.buf.push(b'"');
    }
}

/// Serializes a subtree on its own, every namespace it uses declared on its root element.
pub(crate) fn fragment(element: &Element) -> String {
    let mut namespaces = Vec::new();
    collect_namespaces(element, &mut namespaces);
    let mut writer = XmlWriter {
        buf: Vec::with_capacity(256),
        open: Vec::new(),
        foreign: Vec::new(),
        in_scope: Vec::new(),
        root: Some(RootDeclarations::Used(namespaces)),
    };
    writer.element(element);
    // Only `&str` data was written, so the bytes are UTF-8; the lossy path never runs.
    String::from_utf8(writer.finish())
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn collect_namespaces(element: &Element, out: &mut Vec<String>) {
    let names = std::iter::once(&element.name).chain(element.attrs.iter().map(|(k, _)| k));
    for name in names {
        let ns = &*name.ns;
        if !ns.is_empty() && ns != XML_NS && !out.iter().any(|known| known == ns) {
            out.push(ns.to_owned());
        }
    }
    for child in element.children() {
        collect_namespaces(child, out);
    }
}

/// Appends `text` escaped for element content or (with `attribute`) a double-quoted attribute.
/// CR is written as `&#13;` so CRLF in iCalendar data survives the reader's line-end
/// normalization (XML 1.0 §2.11); in attributes tab and LF are escaped too, since attribute
/// normalization (§3.3.3) would turn them into spaces. Control characters XML 1.0 cannot carry
/// at all become U+FFFD rather than produce a document clients refuse.
fn escape(buf: &mut Vec<u8>, text: &str, attribute: bool) {
    let bytes = text.as_bytes();
    let special = if attribute { &SPECIAL_IN_ATTRIBUTE } else { &SPECIAL_IN_TEXT };
    let mut done = 0;
    // Runs of plain bytes are copied whole; the table test keeps the scan branch-light
    // (calendar-data is mostly plain text with a CR on every line).
    while let Some(offset) = bytes[done..].iter().position(|&b| special[usize::from(b)]) {
        let i = done + offset;
        let replacement: &[u8] = match bytes[i] {
            b'&' => b"&amp;",
            b'<' => b"&lt;",
            b'>' => b"&gt;",
            b'\r' => b"&#13;",
            b'"' => b"&quot;",
            b'\n' => b"&#10;",
            b'\t' => b"&#9;",
            _ => "\u{FFFD}".as_bytes(),
        };
        buf.extend_from_slice(&bytes[done..i]);
        buf.extend_from_slice(replacement);
        done = i + 1;
    }
    buf.extend_from_slice(&bytes[done..]);
}

/// Bytes `escape` replaces in text: markup, CR (which XML parsers would fold into LF) and the
/// control characters XML 1.0 cannot carry (U+FFFD instead); LF and TAB pass.
const SPECIAL_IN_TEXT: [bool; 256] = special_bytes(false);
/// In an attribute also the quote, and LF and TAB, which attribute normalization would turn
/// into spaces.
const SPECIAL_IN_ATTRIBUTE: [bool; 256] = special_bytes(true);

const fn special_bytes(attribute: bool) -> [bool; 256] {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'\n' as usize] = attribute;
    table[b'\t' as usize] = attribute;
    table[b'"' as usize] = attribute;
    table[b'&' as usize] = true;
    table[b'<' as usize] = true;
    table[b'>' as usize] = true;
    table
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
