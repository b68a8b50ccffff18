//! A small namespaced DOM built from quick-xml's NsReader, for request bodies (which are small).
//! Refuses DTDs (no entity expansion, no XXE) and bounds nesting depth and element count.

use std::borrow::Cow;

use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::{NsReader, XmlVersion};

use super::QName;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Element(Element),
    Text(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub name: QName,
    /// Attributes in document order; namespace declarations (`xmlns`, `xmlns:*`) are not kept,
    /// because names are already resolved and the writer declares what it needs.
    pub attrs: Vec<(QName, String)>,
    /// Child elements and text in document order. Whitespace-only text is dropped from elements
    /// that also have element children (indentation); any other text is kept exactly.
    pub children: Vec<Node>,
}

/// Why a body is not acceptable XML; the message is one line, safe to show to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct XmlError(pub String);

/// Longest message we hand back: reasons can quote names from the body, which a hostile client
/// controls, so they are cut short.
const MAX_MESSAGE: usize = 240;

impl XmlError {
    /// The body is not well-formed (or breaks a safety limit) at `offset` bytes into it.
    pub fn malformed(offset: u64, reason: impl AsRef<str>) -> Self {
        Self::one_line(format!(
            "malformed XML at byte {offset}: {}",
            reason.as_ref()
        ))
    }

    /// The body is well-formed XML but not the request it should be (RFC 4918 §8.2).
    pub fn invalid(reason: impl AsRef<str>) -> Self {
        Self::one_line(reason.as_ref().to_owned())
    }

    fn one_line(mut message: String) -> Self {
        if message.chars().any(char::is_control) {
            message = message
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
        }
        if message.len() > MAX_MESSAGE {
            let mut cut = MAX_MESSAGE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        XmlError(message)
    }
}

/// Bounds on what one body may contain, so a hostile body costs bounded memory and time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Deepest element nesting accepted; DAV bodies are rarely deeper than 8 (a calendar-query
    /// filter nests comp-filter/prop-filter/param-filter), so 64 is generous.
    pub max_depth: usize,
    /// Most elements in one document; a multiget of 1,000 hrefs is about 1,010 elements.
    pub max_elements: usize,
}

impl Limits {
    pub const DEFAULT: Limits = Limits {
        max_depth: 64,
        max_elements: 10_000,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Parses a whole document into its root element, with [`Limits::DEFAULT`].
pub fn parse(body: &[u8]) -> Result<Element, XmlError> {
    parse_with_limits(body, Limits::DEFAULT)
}

/// Parses a whole document into its root element.
pub fn parse_with_limits(body: &[u8], limits: Limits) -> Result<Element, XmlError> {
    let (text, base) = decode(body)?;
    let mut reader = NsReader::from_str(text);
    let mut tree = TreeBuilder {
        limits,
        base,
        stack: Vec::new(),
        root: None,
        count: 0,
    };
    loop {
        let at = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|e| XmlError::malformed(base + reader.error_position(), e.to_string()))?;
        let fail = |reason: String| XmlError::malformed(base + at, reason);
        match event {
            Event::Start(start) => tree.open(resolve(&reader, &start).map_err(fail)?, at)?,
            Event::Empty(start) => {
                tree.open(resolve(&reader, &start).map_err(fail)?, at)?;
                tree.close();
            }
            Event::End(_) => tree.close(),
            Event::Text(t) => tree.text(&t.xml10_content(), at)?,
            Event::CData(c) => tree.text(&c.xml10_content(), at)?,
            Event::GeneralRef(r) => tree.text(&resolve_reference(&r).map_err(fail)?, at)?,
            Event::Decl(decl) => check_encoding(&decl, text).map_err(fail)?,
            // A DTD could declare entities (billion laughs) or external ones (XXE); DAV never
            // needs one (RFC 4918 §20.6), so it is refused before anything in it is read.
            Event::DocType(_) => return Err(fail("DOCTYPE declarations are not allowed".into())),
            // Comments and processing instructions carry nothing DAV uses.
            Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => return tree.finish(base + at),
        }
    }
}

/// Checks the body is UTF-8 and skips a byte-order mark; returns the text and the byte offset
/// of its start in `body`, so error positions count from the client's first byte.
fn decode(body: &[u8]) -> Result<(&str, u64), XmlError> {
    const BOM: &[u8] = b"\xEF\xBB\xBF";
    let (rest, base) = match body.strip_prefix(BOM) {
        Some(rest) => (rest, BOM.len()),
        None => (body, 0),
    };
    match std::str::from_utf8(rest) {
        Ok(text) => Ok((text, base as u64)),
        Err(e) => Err(XmlError::malformed(
            (base + e.valid_up_to()) as u64,
            "the body is not UTF-8 (the only encoding accepted)",
        )),
    }
}

/// Refuses a declared encoding we would misread. Any ASCII-compatible declaration is harmless
/// when the body is pure ASCII, which is what old clients declaring ISO-8859-1 actually send.
fn check_encoding(decl: &quick_xml::events::BytesDecl<'_>, text: &str) -> Result<(), String> {
    let Some(Ok(encoding)) = decl.encoding() else {
        return Ok(());
    };
    let utf8 = encoding.eq_ignore_ascii_case("utf-8") || encoding.eq_ignore_ascii_case("utf8");
    if utf8 || text.is_ascii() {
        Ok(())
    } else {
        Err(format!(
            "encoding \"{encoding}\" is not supported; send UTF-8"
        ))
    }
}

/// Resolves an element's name and attributes against the namespaces in scope.
fn resolve(reader: &NsReader<&[u8]>, start: &BytesStart<'_>) -> Result<Element, String> {
    let resolver = reader.resolver();
    let (ns, local) = resolver.resolve_element(start.name());
    let name = qname(ns, local.into_inner())?;
    let mut attrs: Vec<(QName, String)> = Vec::new();
    for attr in start.attributes() {
        let attr = attr.map_err(|e| e.to_string())?;
        if attr.key.as_namespace_binding().is_some() {
            check_namespace(attr.value.as_bytes())?;
            continue;
        }
        let (ns, local) = resolver.resolve_attribute(attr.key);
        let key = qname(ns, local.into_inner())?;
        // Namespaces in XML §6.3: two prefixes for one namespace do not make two attributes.
        if attrs.iter().any(|(k, _)| *k == key) {
            return Err(format!("duplicate attribute {key}"));
        }
        let value = attr
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|e| e.to_string())?;
        check_chars(&value)?;
        attrs.push((key, value.into_owned()));
    }
    Ok(Element {
        name,
        attrs,
        children: Vec::new(),
    })
}

/// quick-xml binds a namespace to the declaration's raw bytes, unescaped and unnormalized, so a
/// name holding `&gt;` or a newline would not be the name our writer declares when a dead
/// property is stored and read back. A namespace name is a URI reference (Namespaces in XML
/// §2.2), and RFC 3986 §2 leaves these characters out of URIs, so such a declaration is refused.
fn check_namespace(value: &[u8]) -> Result<(), String> {
    match value.iter().find(|b| matches!(b, b'<' | b'>' | b'&' | b'"' | 0..=b' ' | 0x7f)) {
        Some(b) => Err(format!("namespace name with byte 0x{b:02X}, which a URI cannot hold (RFC 3986 §2)")),
        None => Ok(()),
    }
}

fn qname(ns: ResolveResult<'_>, local: &str) -> Result<QName, String> {
    check_name(local)?;
    match ns {
        // Namespaces in XML §3: the xmlns prefix declares, it names no element or attribute.
        ResolveResult::Bound(ns) if ns.into_inner() == XMLNS_NS => {
            Err(format!("the xmlns prefix cannot name {local}"))
        }
        ResolveResult::Bound(ns) => Ok(QName::parsed(ns.into_inner(), local)),
        ResolveResult::Unbound => Ok(QName::parsed("", local)),
        ResolveResult::Unknown(prefix) => {
            Err(format!("namespace prefix \"{prefix}\" is not bound"))
        }
    }
}

const XMLNS_NS: &str = "http://www.w3.org/2000/xmlns/";

/// quick-xml takes a name to be everything up to whitespace, `/` or `>`, so `a="x"b` would be a
/// name the writer echoes into XML nobody can read. XML 1.0 §2.3 Name, checked on ASCII (any
/// character beyond it is left to quick-xml, as the productions allow most of them).
fn check_name(local: &str) -> Result<(), String> {
    let start_ok = |c: char| c.is_ascii_alphabetic() || c == '_' || !c.is_ascii();
    let ok = |c: char| start_ok(c) || c.is_ascii_digit() || c == '-' || c == '.';
    let mut chars = local.chars();
    match chars.next() {
        Some(first) if start_ok(first) && chars.all(ok) => Ok(()),
        _ => Err(format!("\"{local}\" is not an XML name (XML 1.0 §2.3)")),
    }
}

/// Expands `&name;` and `&#n;`. Only the five predefined entities exist, because a DTD (the only
/// place another could be declared) is refused.
fn resolve_reference(reference: &BytesRef<'_>) -> Result<Cow<'static, str>, String> {
    let name: &str = reference.as_ref();
    match reference.resolve_char_ref() {
        Ok(Some(c)) => {
            let mut buf = [0u8; 4];
            let text = c.encode_utf8(&mut buf);
            check_chars(text)?;
            Ok(Cow::Owned(text.to_owned()))
        }
        Ok(None) => quick_xml::escape::resolve_predefined_entity(name)
            .map(Cow::Borrowed)
            .ok_or_else(|| format!("undefined entity &{name};")),
        Err(e) => Err(e.to_string()),
    }
}

/// XML 1.0 §2.2: control characters other than tab, LF and CR cannot appear in a document,
/// even escaped; quick-xml does not check this, and our writer could not echo them back.
fn check_chars(text: &str) -> Result<(), String> {
    let bad = |c: char| {
        (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || matches!(c, '\u{FFFE}' | '\u{FFFF}')
    };
    match text.chars().find(|c| bad(*c)) {
        Some(c) => Err(format!(
            "character U+{:04X} is not allowed in XML",
            u32::from(c)
        )),
        None => Ok(()),
    }
}

/// Assembles the DOM from events and enforces the limits and single-root rule.
struct TreeBuilder {
    limits: Limits,
    base: u64,
    stack: Vec<Element>,
    root: Option<Element>,
    count: usize,
}

impl TreeBuilder {
    fn open(&mut self, element: Element, at: u64) -> Result<(), XmlError> {
        let at = self.base + at;
        if self.root.is_some() {
            return Err(XmlError::malformed(at, "content after the root element"));
        }
        if self.stack.len() >= self.limits.max_depth {
            let max = self.limits.max_depth;
            return Err(XmlError::malformed(
                at,
                format!("elements nested deeper than {max}"),
            ));
        }
        self.count += 1;
        if self.count > self.limits.max_elements {
            let max = self.limits.max_elements;
            return Err(XmlError::malformed(at, format!("more than {max} elements")));
        }
        self.stack.push(element);
        Ok(())
    }

    /// Ends the innermost element (quick-xml has already checked the end tag matches it).
    fn close(&mut self) {
        let Some(mut element) = self.stack.pop() else {
            return;
        };
        let has_elements = element
            .children
            .iter()
            .any(|n| matches!(n, Node::Element(_)));
        if has_elements {
            element
                .children
                .retain(|n| !matches!(n, Node::Text(t) if is_xml_space(t)));
        }
        match self.stack.last_mut() {
            Some(parent) => parent.children.push(Node::Element(element)),
            None => self.root = Some(element),
        }
    }

    /// Appends text, merging it with a preceding text node (text, references and CDATA
    /// sections arrive as separate events but are one run of character data).
    fn text(&mut self, text: &str, at: u64) -> Result<(), XmlError> {
        check_chars(text).map_err(|e| XmlError::malformed(self.base + at, e))?;
        let Some(current) = self.stack.last_mut() else {
            if is_xml_space(text) {
                return Ok(());
            }
            return Err(XmlError::malformed(
                self.base + at,
                "text outside the root element",
            ));
        };
        match current.children.last_mut() {
            Some(Node::Text(previous)) => previous.push_str(text),
            _ => current.children.push(Node::Text(text.to_owned())),
        }
        Ok(())
    }

    fn finish(mut self, at: u64) -> Result<Element, XmlError> {
        if let Some(open) = self.stack.last() {
            let reason = format!("end of body inside {}", open.name);
            return Err(XmlError::malformed(at, reason));
        }
        self.root
            .take()
            .ok_or_else(|| XmlError::malformed(at, "no root element"))
    }
}

/// XML's own whitespace (§2.3 S): space, tab, CR, LF — not Unicode's wider set.
pub(crate) fn is_xml_space(text: &str) -> bool {
    text.bytes()
        .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

impl Element {
    /// An element with no attributes or children; use the `with_*` builders to fill it.
    pub fn new(name: QName) -> Self {
        Element {
            name,
            attrs: Vec::new(),
            children: Vec::new(),
        }
    }

    pub fn with_attr(mut self, name: QName, value: impl Into<String>) -> Self {
        self.attrs.push((name, value.into()));
        self
    }

    pub fn with_child(mut self, child: Element) -> Self {
        self.children.push(Node::Element(child));
        self
    }

    pub fn with_text(mut self, text: impl Into<String>) -> Self {
        self.children.push(Node::Text(text.into()));
        self
    }

    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.name.is(ns, local)
    }

    /// The first child element with this name.
    pub fn child(&self, ns: &str, local: &str) -> Option<&Element> {
        self.children().find(|c| c.is(ns, local))
    }

    /// Child elements only, in document order.
    pub fn children(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// Child elements with this name, in document order.
    pub fn children_named<'a>(
        &'a self,
        ns: &'a str,
        local: &'a str,
    ) -> impl Iterator<Item = &'a Element> {
        self.children().filter(move |c| c.is(ns, local))
    }

    /// Consumes the element, yielding its child elements (used to move property elements out of
    /// a request without copying them).
    pub fn into_children(self) -> impl Iterator<Item = Element> {
        self.children.into_iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// The value of an attribute; unprefixed attributes have the empty namespace.
    pub fn attr(&self, ns: &str, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k.is(ns, local))
            .map(|(_, v)| v.as_str())
    }

    /// All text inside the element, descendants included, in document order (like DOM
    /// `textContent`), exactly as sent.
    pub fn text(&self) -> String {
        let mut out = String::new();
        self.collect_text(&mut out);
        out
    }

    fn collect_text(&self, out: &mut String) {
        for node in &self.children {
            match node {
                Node::Text(t) => out.push_str(t),
                Node::Element(e) => e.collect_text(out),
            }
        }
    }

    /// Serializes this subtree as self-contained XML (no declaration; every namespace it uses is
    /// declared on its root), which is how dead properties are stored and later written back.
    pub fn to_xml(&self) -> String {
        super::writer::fragment(self)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
