//! Calendar user addresses (RFC 6638 §2.4.1) of this server's users, and who an address names:
//! a user here (by their email or principal URL), someone outside (mailto:), or nobody.

use crate::sched::Address;
use crate::service::{Principal, ServiceResult};
use crate::store::{SchedStore, Store, User, UserStore};

/// The URL layout belongs to the DAV layer; the service asks it through this.
pub trait Directory: Send + Sync {
    /// The user name that `address` names when it is one of this server's principal URLs
    /// (an absolute path, or a URL on this server).
    fn principal_name(&self, address: &str) -> Option<String>;
    /// A user's principal URL, which is also one of their calendar user addresses.
    fn principal_href(&self, user: &str) -> String;
}

/// Every address of a user: mailto: first (Apple and Thunderbird invite by it), then the
/// principal URL (RFC 6638 §2.4.1).
pub fn addresses(dir: &dyn Directory, name: &str, email: Option<&str>) -> Vec<Address> {
    let mut out = Vec::new();
    if let Some(email) = email.filter(|e| !e.trim().is_empty()) {
        out.push(Address::new(&format!("mailto:{email}")));
    }
    out.push(Address::new(&dir.principal_href(name)));
    out
}

pub fn principal_addresses(dir: &dyn Directory, p: &Principal) -> Vec<Address> {
    addresses(dir, &p.name, p.email.as_deref())
}

/// Who an address names.
#[derive(Debug, Clone)]
pub enum Recipient {
    Local(User),
    /// A mailto: address of nobody here: delivered by email (iMIP).
    External(String),
    /// Neither (a principal URL of no user, a scheme we cannot deliver to, or an email address
    /// two users share): SCHEDULE-STATUS 3.7.
    Unknown,
}

pub async fn resolve(store: &Store, dir: &dyn Directory, address: &Address) -> ServiceResult<Recipient> {
    if let Some(email) = address.email() {
        let mut users = store.users_by_email(email).await?;
        return Ok(match users.len() {
            0 => Recipient::External(email.to_owned()),
            1 => Recipient::Local(users.remove(0)),
            // Ambiguous: delivering to either would be a guess.
            _ => Recipient::Unknown,
        });
    }
    match dir.principal_name(address.as_str()) {
        Some(name) => Ok(store.user_by_name(&name).await?.map_or(Recipient::Unknown, Recipient::Local)),
        None => Ok(Recipient::Unknown),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed;
    impl Directory for Fixed {
        fn principal_name(&self, address: &str) -> Option<String> {
            address.strip_prefix("/principals/").and_then(|r| r.strip_suffix('/')).map(str::to_owned)
        }
        fn principal_href(&self, user: &str) -> String {
            format!("/principals/{user}/")
        }
    }

    #[test]
    fn mailto_comes_first() {
        let a = addresses(&Fixed, "alice", Some("Alice@Example.org"));
        assert_eq!(a, vec![Address::new("mailto:alice@example.org"), Address::new("/principals/alice/")]);
        assert_eq!(addresses(&Fixed, "bob", None), vec![Address::new("/principals/bob/")]);
        assert_eq!(addresses(&Fixed, "bob", Some(" ")), vec![Address::new("/principals/bob/")]);
    }
}
