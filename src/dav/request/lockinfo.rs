//! The LOCK request body (RFC 4918 §9.10, §14.11): `DAV:lockinfo` with the scope, the type
//! (write, the only one), and the client's `DAV:owner`, kept as sent. An empty body is a
//! refresh, which the caller tells by `is_blank` before it gets here.

use super::parse_root;
use crate::dav::xml::{DAV, XmlError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockInfo {
    pub shared: bool,
    /// The `DAV:owner` element serialized whole, as lockdiscovery returns it (§14.17).
    pub owner_xml: Option<String>,
}

pub fn parse_lockinfo(body: &[u8]) -> Result<LockInfo, XmlError> {
    let root = parse_root(body, DAV, "lockinfo")?;
    let scope = root.child(DAV, "lockscope").ok_or_else(|| XmlError::invalid("DAV:lockinfo needs DAV:lockscope (RFC 4918 §14.11)"))?;
    let shared = match (scope.child(DAV, "exclusive"), scope.child(DAV, "shared")) {
        (Some(_), None) => false,
        (None, Some(_)) => true,
        _ => return Err(XmlError::invalid("DAV:lockscope holds DAV:exclusive or DAV:shared (RFC 4918 §14.13)")),
    };
    let write = root.child(DAV, "locktype").and_then(|t| t.child(DAV, "write"));
    if write.is_none() {
        return Err(XmlError::invalid("DAV:locktype must be DAV:write, the only lock type (RFC 4918 §14.15)"));
    }
    Ok(LockInfo { shared, owner_xml: root.child(DAV, "owner").map(|o| o.to_xml()) })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn rfc4918_9_10_8_body() {
        let body = br#"<?xml version="1.0" encoding="utf-8" ?>
            <D:lockinfo xmlns:D='DAV:'>
              <D:lockscope><D:exclusive/></D:lockscope>
              <D:locktype><D:write/></D:locktype>
              <D:owner><D:href>http://example.org/~ejw/contact.html</D:href></D:owner>
            </D:lockinfo>"#;
        let info = parse_lockinfo(body).unwrap();
        assert!(!info.shared);
        let owner = crate::dav::xml::parse(info.owner_xml.unwrap().as_bytes()).unwrap();
        assert_eq!(owner.child(DAV, "href").unwrap().text(), "http://example.org/~ejw/contact.html");
    }

    #[test]
    fn refusals() {
        let shared = br#"<lockinfo xmlns="DAV:"><lockscope><shared/></lockscope><locktype><write/></locktype></lockinfo>"#;
        assert!(parse_lockinfo(shared).unwrap().shared);
        for body in [
            &br#"<lockinfo xmlns="DAV:"><locktype><write/></locktype></lockinfo>"#[..],
            br#"<lockinfo xmlns="DAV:"><lockscope><shared/><exclusive/></lockscope><locktype><write/></locktype></lockinfo>"#,
            br#"<lockinfo xmlns="DAV:"><lockscope><shared/></lockscope><locktype><read/></locktype></lockinfo>"#,
            br#"<propfind xmlns="DAV:"/>"#,
        ] {
            assert!(parse_lockinfo(body).is_err());
        }
    }
}
