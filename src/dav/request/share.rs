//! Apple's share request: `POST` of a `CS:share` body on a calendar (calendarserver
//! sharing.txt §5.2.1): `CS:set` adds or changes a sharee (`DAV:href`, a calendar user address,
//! and `CS:read` or `CS:read-write`), `CS:remove` removes one. Common names and summaries are
//! ignored: Kalends names sharees by their account and sends no invitation mail.

use super::parse_root;
use crate::dav::xml::{CS, DAV, Element, XmlError};
use crate::service::shares::Invite;
use crate::store::Access;

pub fn parse_share(body: &[u8]) -> Result<Vec<Invite>, XmlError> {
    let root = parse_root(body, CS, "share")?;
    let mut out = Vec::new();
    for e in root.children() {
        if e.is(CS, "set") {
            let access = if e.child(CS, "read-write").is_some() {
                Access::ReadWrite
            } else if e.child(CS, "read").is_some() {
                Access::Read
            } else {
                return Err(XmlError::invalid("CS:set needs CS:read or CS:read-write (sharing.txt §5.2.1)"));
            };
            out.push(Invite::Set { address: href(e)?, access });
        } else if e.is(CS, "remove") {
            out.push(Invite::Remove { address: href(e)? });
        }
    }
    Ok(out)
}

fn href(e: &Element) -> Result<String, XmlError> {
    match e.child(DAV, "href").map(|h| h.text().trim().to_owned()) {
        Some(h) if !h.is_empty() => Ok(h),
        _ => Err(XmlError::invalid("each CS:set and CS:remove names its sharee in a DAV:href")),
    }
}
