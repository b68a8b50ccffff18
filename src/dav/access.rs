//! What a sharee may do with a collection shared with them (decision 0023): the privileges of
//! each access level (RFC 3744 §3, RFC 4791 §6.1.1 read-free-busy), checked by the methods
//! after `locate` and refused with 403 `DAV:need-privileges` (RFC 3744 §7.1.1). An owner's own
//! collections carry no grant and pass every check.

use http::StatusCode;

use super::xml::{CALDAV, DAV};
use super::{Condition, DavError, DavResult};
use crate::store::{Access, Collection};

/// The privileges a method needs on a shared collection or its members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Privilege {
    /// GET, PROPFIND of members, calendar-query, multiget, sync-collection.
    Read,
    /// RFC 4791 §7.10 free-busy-query.
    ReadFreeBusy,
    /// PUT over an existing object.
    WriteContent,
    /// PUT of a new object, COPY/MOVE into the collection, MKCOL inside it.
    Bind,
    /// DELETE or MOVE of a member.
    Unbind,
    /// PROPPATCH of a property that is not one of the sharee's own.
    WriteProperties,
}

impl Privilege {
    /// The privilege's element (namespace, local name).
    pub fn name(self) -> (&'static str, &'static str) {
        match self {
            Privilege::Read => (DAV, "read"),
            Privilege::ReadFreeBusy => (CALDAV, "read-free-busy"),
            Privilege::WriteContent => (DAV, "write-content"),
            Privilege::Bind => (DAV, "bind"),
            Privilege::Unbind => (DAV, "unbind"),
            Privilege::WriteProperties => (DAV, "write-properties"),
        }
    }
}

/// Whether `access` grants `privilege`. The calendar's shared properties stay the owner's for
/// every sharee: a sharee sets only their own (per-user) properties, which needs no privilege.
pub fn grants(access: Access, privilege: Privilege) -> bool {
    match privilege {
        Privilege::ReadFreeBusy => true,
        Privilege::Read => matches!(access, Access::Read | Access::ReadWrite),
        Privilege::WriteContent | Privilege::Bind | Privilege::Unbind => access == Access::ReadWrite,
        Privilege::WriteProperties => false,
    }
}

/// RFC 3744 §5.4 current-user-privilege-set of a shared collection and of its members.
pub fn privilege_set(access: Access) -> &'static [(&'static str, &'static str)] {
    const FREE_BUSY: &[(&str, &str)] = &[(CALDAV, "read-free-busy"), (DAV, "read-current-user-privilege-set")];
    const READ: &[(&str, &str)] =
        &[(DAV, "read"), (CALDAV, "read-free-busy"), (DAV, "read-current-user-privilege-set")];
    const READ_WRITE: &[(&str, &str)] = &[
        (DAV, "read"),
        (DAV, "write-content"),
        (DAV, "bind"),
        (DAV, "unbind"),
        (CALDAV, "read-free-busy"),
        (DAV, "read-current-user-privilege-set"),
    ];
    match access {
        Access::FreeBusy => FREE_BUSY,
        Access::Read => READ,
        Access::ReadWrite => READ_WRITE,
    }
}

/// Refuses the request unless the user holds `privilege` on `collection` (always, when it is
/// their own). `href` names the resource the privilege is missing on.
pub fn require(collection: &Collection, privilege: Privilege, href: &str) -> DavResult<()> {
    match &collection.share {
        Some(grant) if !grants(grant.access, privilege) => Err(need(privilege, href)),
        _ => Ok(()),
    }
}

/// RFC 3744 §7.1.1: 403 naming the resource and the privilege it lacks.
pub fn need(privilege: Privilege, href: &str) -> DavError {
    let (ns, local) = privilege.name();
    DavError::Condition {
        status: StatusCode::FORBIDDEN,
        condition: Condition::NeedPrivileges { href: href.to_owned(), privilege: (ns, local) },
        reason: Some(format!("this calendar is shared with you without the {local} privilege")),
    }
}

/// Whether the collection is another user's, reached through a share.
pub fn is_shared(collection: &Collection) -> bool {
    collection.share.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_grant_what_they_say() {
        use Privilege::*;
        for p in [Read, ReadFreeBusy, WriteContent, Bind, Unbind] {
            assert!(grants(Access::ReadWrite, p), "{p:?}");
        }
        assert!(grants(Access::Read, Read) && grants(Access::Read, ReadFreeBusy));
        for p in [WriteContent, Bind, Unbind, WriteProperties] {
            assert!(!grants(Access::Read, p), "{p:?}");
        }
        assert!(grants(Access::FreeBusy, ReadFreeBusy));
        assert!(!grants(Access::FreeBusy, Read));
        // Every level's privilege set names exactly what it grants.
        for access in [Access::Read, Access::ReadWrite, Access::FreeBusy] {
            for p in [Read, ReadFreeBusy, WriteContent, Bind, Unbind, WriteProperties] {
                assert_eq!(privilege_set(access).contains(&p.name()), grants(access, p), "{access:?} {p:?}");
            }
        }
    }
}
