//! The `If` request header (RFC 4918 §10.4): its grammar, parsed once with the other DAV
//! headers, and its evaluation against the state of the resources it names. The store lookups
//! that give a resource its state are the caller's (`dav/lock.rs`); this module is pure.

use super::header::BadHeader;

/// A parsed `If` header: untagged lists (resource `None`, the request URI) or tagged ones,
/// never both (RFC 4918 §10.4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfHeader {
    pub lists: Vec<IfList>,
}

/// One parenthesised list: true when every condition in it is (RFC 4918 §10.4.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfList {
    /// The resource tag as sent (an absolute URI or a path), or None for the request URI.
    pub resource: Option<String>,
    pub conditions: Vec<Condition>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub not: bool,
    pub test: Test,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Test {
    /// A state token (a Coded-URL's URI): for Kalends, a lock token.
    Token(String),
    /// An entity tag with its quotes (and `W/`, which never matches: strong comparison).
    Etag(String),
}

/// What a condition is tested against: a resource's current ETag and the tokens of the locks
/// that apply to it (RFC 4918 §10.4.4).
#[derive(Debug, Clone, Copy, Default)]
pub struct State<'a> {
    pub etag: Option<&'a str>,
    pub tokens: &'a [String],
}

impl IfHeader {
    pub fn parse(value: &str) -> Result<IfHeader, BadHeader> {
        Parser { rest: value }.header()
    }

    /// RFC 4918 §10.4.1: the header is true when at least one of its lists is, each list
    /// tested against the state of its resource (`state_of(None)` is the request URI's).
    pub fn holds<'a>(&self, state_of: impl Fn(Option<&str>) -> State<'a>) -> bool {
        self.lists.iter().any(|list| list.holds(state_of(list.resource.as_deref())))
    }

    /// The lock tokens the request submits (RFC 4918 §7.5, §10.4.1): every state token of the
    /// header not under `Not`, whether or not its list held.
    pub fn submitted(&self) -> impl Iterator<Item = &str> {
        self.lists.iter().flat_map(|l| &l.conditions).filter(|c| !c.not).filter_map(|c| match &c.test {
            Test::Token(t) => Some(t.as_str()),
            Test::Etag(_) => None,
        })
    }

    /// The distinct resource tags, in order.
    pub fn resources(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for tag in self.lists.iter().filter_map(|l| l.resource.as_deref()) {
            if !out.contains(&tag) {
                out.push(tag);
            }
        }
        out
    }
}

impl IfList {
    fn holds(&self, state: State<'_>) -> bool {
        self.conditions.iter().all(|c| {
            let matched = match &c.test {
                Test::Token(t) => state.tokens.iter().any(|s| s == t),
                Test::Etag(e) => !e.starts_with("W/") && state.etag == Some(e.as_str()),
            };
            matched != c.not
        })
    }
}

struct Parser<'a> {
    rest: &'a str,
}

fn bad(why: &str) -> BadHeader {
    BadHeader(format!("malformed If header: {why} (RFC 4918 §10.4.2)"))
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        self.rest = self.rest.trim_start_matches([' ', '\t']);
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_ws();
        match self.rest.strip_prefix(c) {
            Some(r) => {
                self.rest = r;
                true
            }
            None => false,
        }
    }

    /// The text up to `close`, which is consumed.
    fn until(&mut self, close: char) -> Result<String, BadHeader> {
        let end = self.rest.find(close).ok_or_else(|| bad(&format!("no closing {close:?}")))?;
        let text = self.rest[..end].to_owned();
        self.rest = &self.rest[end + close.len_utf8()..];
        Ok(text)
    }

    fn header(mut self) -> Result<IfHeader, BadHeader> {
        let mut lists = Vec::new();
        let mut tagged = None;
        let mut resource: Option<String> = None;
        loop {
            self.skip_ws();
            if self.rest.is_empty() {
                break;
            }
            if self.eat('<') {
                if tagged == Some(false) {
                    return Err(bad("tagged and untagged lists mixed"));
                }
                if tagged == Some(true) && lists.last().is_none_or(|l: &IfList| l.resource != resource) {
                    return Err(bad("a resource tag without a list"));
                }
                tagged = Some(true);
                let tag = self.until('>')?;
                if tag.is_empty() || tag.contains(char::is_whitespace) {
                    return Err(bad("a resource tag must be a URL"));
                }
                resource = Some(tag);
                continue;
            }
            if !self.eat('(') {
                return Err(bad("expected '(' or '<'"));
            }
            if tagged.is_none() {
                tagged = Some(false);
            }
            lists.push(IfList { resource: resource.clone(), conditions: self.conditions()? });
        }
        match lists.last() {
            None => Err(bad("no list")),
            Some(last) if last.resource != resource => Err(bad("a resource tag without a list")),
            Some(_) => Ok(IfHeader { lists }),
        }
    }

    /// The conditions of one list, after its '(' up to and including its ')'.
    fn conditions(&mut self) -> Result<Vec<Condition>, BadHeader> {
        let mut conditions = Vec::new();
        loop {
            if self.eat(')') {
                break;
            }
            self.skip_ws();
            let not = match self.rest.get(..3) {
                Some(word) if word.eq_ignore_ascii_case("not") => {
                    self.rest = &self.rest[3..];
                    true
                }
                _ => false,
            };
            let test = if self.eat('<') {
                let uri = self.until('>')?;
                if !is_absolute_uri(&uri) {
                    return Err(bad(&format!("state token {uri:?} is not an absolute URI")));
                }
                Test::Token(uri)
            } else if self.eat('[') {
                let tag = self.until(']')?;
                let quoted = tag.strip_prefix("W/").unwrap_or(&tag);
                if quoted.len() < 2 || !quoted.starts_with('"') || !quoted.ends_with('"') {
                    return Err(bad(&format!("{tag:?} is not an entity tag")));
                }
                Test::Etag(tag)
            } else {
                return Err(bad("a list holds state tokens <…> and entity tags […]"));
            };
            conditions.push(Condition { not, test });
        }
        if conditions.is_empty() {
            return Err(bad("an empty list"));
        }
        Ok(conditions)
    }
}

/// RFC 3986 §4.3 in the shape that matters here: a scheme, a colon and something after it.
fn is_absolute_uri(s: &str) -> bool {
    match s.split_once(':') {
        Some((scheme, rest)) => {
            !rest.is_empty()
                && !rest.contains(char::is_whitespace)
                && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        }
        None => false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const T1: &str = "urn:uuid:181d4fae-7d8c-11d0-a765-00a0c91e6bf2";
    const T2: &str = "urn:uuid:58f202ac-22cf-11d1-b12d-002035b29092";

    fn token(not: bool, t: &str) -> Condition {
        Condition { not, test: Test::Token(t.into()) }
    }
    fn etag(not: bool, e: &str) -> Condition {
        Condition { not, test: Test::Etag(e.into()) }
    }
    fn untagged(conditions: Vec<Condition>) -> IfList {
        IfList { resource: None, conditions }
    }

    #[test]
    fn rfc4918_10_4_6_no_tag_lists() {
        let h = IfHeader::parse(&format!("(<{T1}> [\"I am an ETag\"]) ([\"I am another ETag\"])")).unwrap();
        assert_eq!(
            h.lists,
            vec![untagged(vec![token(false, T1), etag(false, "\"I am an ETag\"")]), untagged(vec![etag(false, "\"I am another ETag\"")])]
        );
        let tokens = [T1.to_owned()];
        assert!(h.holds(|_| State { etag: Some("\"I am an ETag\""), tokens: &tokens }));
        assert!(h.holds(|_| State { etag: Some("\"I am another ETag\""), tokens: &[] }));
        assert!(!h.holds(|_| State { etag: Some("\"I am an ETag\""), tokens: &[] }));
    }

    #[test]
    fn rfc4918_10_4_7_not() {
        let h = IfHeader::parse(&format!("(Not <{T1}> <{T2}>)")).unwrap();
        assert_eq!(h.lists, vec![untagged(vec![token(true, T1), token(false, T2)])]);
        let t2 = [T2.to_owned()];
        assert!(h.holds(|_| State { etag: None, tokens: &t2 }));
        let both = [T1.to_owned(), T2.to_owned()];
        assert!(!h.holds(|_| State { etag: None, tokens: &both }));
        assert_eq!(h.submitted().collect::<Vec<_>>(), vec![T2], "a token under Not is not submitted");
    }

    #[test]
    fn rfc4918_10_4_8_always_true() {
        let h = IfHeader::parse(&format!("(<{T1}>) (Not <DAV:no-lock>)")).unwrap();
        assert!(h.holds(|_| State::default()), "DAV:no-lock never matches, so its Not always does");
        assert_eq!(h.submitted().collect::<Vec<_>>(), vec![T1]);
    }

    #[test]
    fn rfc4918_10_4_9_tagged_lists() {
        let value = format!("<http://www.example.com/resource1> (<{T1}> [W/\"A weak ETag\"]) ([\"strong ETag\"])");
        let h = IfHeader::parse(&value).unwrap();
        assert_eq!(h.resources(), vec!["http://www.example.com/resource1"]);
        assert_eq!(h.lists.len(), 2);
        assert!(h.lists.iter().all(|l| l.resource.as_deref() == Some("http://www.example.com/resource1")));
        let tokens = [T1.to_owned()];
        // A weak tag never matches (strong comparison); the second list still can.
        assert!(!h.holds(|_| State { etag: Some("W/\"A weak ETag\""), tokens: &tokens }));
        assert!(h.holds(|_| State { etag: Some("\"strong ETag\""), tokens: &[] }));
    }

    #[test]
    fn rfc4918_10_4_10_collection_tag_and_several_resources() {
        let h = IfHeader::parse(&format!("<http://www.example.com/specs/> (<{T1}>)")).unwrap();
        assert_eq!(h.lists[0].resource.as_deref(), Some("http://www.example.com/specs/"));
        let h = IfHeader::parse(&format!("</a> (<{T1}>) </b> (<{T2}>) ([\"x\"])")).unwrap();
        assert_eq!(h.resources(), vec!["/a", "/b"]);
        let t2 = [T2.to_owned()];
        assert!(h.holds(|r| if r == Some("/b") { State { etag: None, tokens: &t2 } } else { State::default() }));
        assert!(!h.holds(|_| State::default()));
    }

    #[test]
    fn litmus_shapes() {
        let h = IfHeader::parse(&format!("(<{T1}x>) (Not <DAV:no-lock>)")).unwrap();
        assert!(h.holds(|_| State::default()));
        assert_eq!(h.submitted().collect::<Vec<_>>(), vec![format!("{T1}x")]);
        let h = IfHeader::parse("  (  NOT<DAV:no-lock>[\"e\"]  )").unwrap();
        assert_eq!(h.lists, vec![untagged(vec![token(true, "DAV:no-lock"), etag(false, "\"e\"")])]);
    }

    #[test]
    fn malformed_headers_are_refused() {
        for value in [
            "",
            "   ",
            "()",
            "(<urn:x>",
            "<http://a/b>",
            "<http://a/b> (<urn:x>) <http://a/c>",
            "(<urn:x>) <http://a/b> (<urn:y>)",
            "<http://a/b> (<urn:x>) (<urn:y>) junk",
            "(<no-scheme>)",
            "(<urn:x> etag)",
            "([unquoted])",
            "(Not)",
            "<> (<urn:x>)",
        ] {
            assert!(IfHeader::parse(value).is_err(), "{value:?} must be refused");
        }
    }
}
