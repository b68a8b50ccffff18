//! Calendars shared between users (issue 18, decision 0023): the one service the CLI, Apple's
//! `CS:share` POST and a later JSON API call. A share binds an owner's calendar into the
//! sharee's home under a generated segment; it is accepted at once (no invitation to answer).

use super::collections::LiveChange;
use super::scheduling::directory::{Directory, Recipient, resolve};
use super::{Principal, ServiceError, ServiceResult};
use crate::sched::Address;
use crate::store::{
    Access, Collection, CollectionKind, CollectionStore, Share, ShareStore, Store, User, UserStore,
};

/// What a share's segment starts with. The locate step looks a first path segment up as a
/// share only when it has this shape, so requests to a user's own calendars cost no extra
/// query.
pub const SEGMENT_PREFIX: &str = "shared-";
/// Random characters after the prefix: 20 of 32 letters and digits, 100 bits.
const SEGMENT_RANDOM: usize = 20;
const SEGMENT_ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";

/// A new share's segment: random, so it names no user and no path and survives renames
/// (nextcloud/server #39557 is what deriving it from the owner's name leads to).
pub fn new_segment() -> String {
    let random: String = (0..SEGMENT_RANDOM)
        .map(|_| char::from(SEGMENT_ALPHABET[rand::random_range(0..SEGMENT_ALPHABET.len())]))
        .collect();
    format!("{SEGMENT_PREFIX}{random}")
}

/// Whether `segment` has the shape of a share's segment (it may still name no share).
pub fn is_share_segment(segment: &str) -> bool {
    segment.strip_prefix(SEGMENT_PREFIX).is_some_and(|rest| {
        rest.len() == SEGMENT_RANDOM && rest.bytes().all(|b| SEGMENT_ALPHABET.contains(&b))
    })
}

async fn user(store: &Store, name: &str) -> ServiceResult<User> {
    store.user_by_name(name).await?.ok_or_else(|| ServiceError::BadRequest(format!("no user {name:?}")))
}

/// The owner's calendar at `path`: only calendars are shared (not the scheduling boxes, not
/// plain collections, and not a share the owner received).
async fn calendar(store: &Store, owner: &User, path: &str) -> ServiceResult<Collection> {
    let path = path.trim_matches('/');
    match store.collection_by_path(owner.id, path).await? {
        Some(c) if c.kind == CollectionKind::Calendar => Ok(c),
        Some(_) => Err(ServiceError::BadRequest(format!("{path:?} of {} is not a calendar", owner.name))),
        None => Err(ServiceError::BadRequest(format!("{} has no calendar {path:?}", owner.name))),
    }
}

/// Shares `collection` (the owner's calendar) with `sharee`, or changes the access of the
/// existing share. Returns the share and whether it is new.
pub async fn share(store: &Store, collection: &Collection, sharee: &User, access: Access) -> ServiceResult<(Share, bool)> {
    if collection.share.is_some() || collection.kind != CollectionKind::Calendar {
        return Err(ServiceError::Refused("only the owner of a calendar shares it".into()));
    }
    if sharee.id == collection.owner {
        return Err(ServiceError::BadRequest("a calendar is not shared with its owner".into()));
    }
    Ok(store.put_share(collection.id, sharee.id, access, &new_segment(), super::now()).await?)
}

/// `kalends share add OWNER CALENDAR SHAREE --access …`.
pub async fn add(store: &Store, owner: &str, path: &str, sharee: &str, access: Access) -> ServiceResult<(Share, bool)> {
    let owner = user(store, owner).await?;
    let collection = calendar(store, &owner, path).await?;
    share(store, &collection, &user(store, sharee).await?, access).await
}

/// `kalends share remove OWNER CALENDAR SHAREE`: false when there was no such share.
pub async fn remove(store: &Store, owner: &str, path: &str, sharee: &str) -> ServiceResult<bool> {
    let owner = user(store, owner).await?;
    let collection = calendar(store, &owner, path).await?;
    let sharee = user(store, sharee).await?;
    Ok(store.delete_share(collection.id, sharee.id).await?)
}

/// `kalends share list USER`: the shares of the user's calendars, then those they received.
pub async fn list(store: &Store, name: &str) -> ServiceResult<(Vec<Share>, Vec<Share>)> {
    let u = user(store, name).await?;
    Ok((store.shares_by_owner(u.id).await?, store.shares_to(u.id).await?))
}

/// A sharee gives a share up (DELETE on the share in their home, or Apple's "unsubscribe").
pub async fn leave(store: &Store, sharee: &Principal, view: &Collection) -> ServiceResult<()> {
    if view.share.is_none() {
        return Err(ServiceError::Internal("leave: not a shared collection".into()));
    }
    store.delete_share(view.id, sharee.id).await?;
    Ok(())
}

/// One sharee change of Apple's `CS:share` request (calendarserver sharing.txt §5.2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invite {
    Set { address: String, access: Access },
    Remove { address: String },
}

/// Applies Apple's share request on the owner's `collection`. Addresses are `mailto:` or
/// principal URLs (calendar user addresses, RFC 6638 §2.4.1). Every address is resolved first:
/// one that names nobody here (or the owner) refuses the whole request and changes nothing.
/// Then each change is its own transaction; shares are independent of one another.
pub async fn invite(
    store: &Store,
    dir: &dyn Directory,
    owner: &Principal,
    collection: &Collection,
    invites: Vec<Invite>,
) -> ServiceResult<()> {
    if collection.share.is_some() || collection.owner != owner.id || collection.kind != CollectionKind::Calendar {
        return Err(ServiceError::Refused("only the owner of a calendar shares it".into()));
    }
    let mut resolved = Vec::new();
    for invite in invites {
        let (address, access) = match invite {
            Invite::Set { address, access } => (address, Some(access)),
            Invite::Remove { address } => (address, None),
        };
        match resolve(store, dir, &Address::new(&address)).await? {
            Recipient::Local(u) if u.id != owner.id => resolved.push((u, access)),
            _ => return Err(ServiceError::Refused(format!("{address} is not another user of this server"))),
        }
    }
    for (sharee, access) in resolved {
        match access {
            Some(access) => {
                share(store, collection, &sharee, access).await?;
            }
            None => {
                store.delete_share(collection.id, sharee.id).await?;
            }
        }
    }
    Ok(())
}

/// Whether a property change is one of the sharee's own (caldav-sharing §5.5.3): these change
/// the share, never the owner's calendar.
pub fn is_per_user(change: &LiveChange) -> bool {
    matches!(
        change,
        LiveChange::DisplayName(_) | LiveChange::Color(_) | LiveChange::Order(_) | LiveChange::Transparent(_)
    )
}

/// The sharee's PROPPATCH of per-user properties on their `view`, one transaction. The
/// changes apply to the sharee's stored values as located (as a collection PROPPATCH merges
/// into the properties read when it was located); a removal goes back to the owner's value.
pub async fn set_per_user(store: &Store, view: &Collection, changes: Vec<LiveChange>) -> ServiceResult<()> {
    let Some(grant) = &view.share else {
        return Err(ServiceError::Internal("set_per_user: not a shared collection".into()));
    };
    let mut props = grant.per_user.clone();
    for change in changes {
        super::collections::check(&change).map_err(ServiceError::BadRequest)?;
        match change {
            LiveChange::DisplayName(v) => props.displayname = v,
            LiveChange::Color(v) => props.color = v,
            LiveChange::Order(v) => props.order = v.map(|s| s.trim().to_owned()),
            LiveChange::Transparent(v) => props.transparent = Some(v),
            other => return Err(ServiceError::Internal(format!("{other:?} is not a per-user property"))),
        }
    }
    Ok(store.set_share_props(grant.id, props).await?)
}

/// Whether `access` lets its holder see the calendar's objects (not only free/busy).
pub fn can_read(access: Access) -> bool {
    matches!(access, Access::Read | Access::ReadWrite)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_have_their_own_shape() {
        let (a, b) = (new_segment(), new_segment());
        assert_ne!(a, b);
        assert!(is_share_segment(&a) && is_share_segment(&b), "{a} {b}");
        // 20 characters of the alphabet after the prefix, and nothing else.
        for not in ["calendar", "shared-", "shared-abc", "Shared-abcdefghijkmnpqrstuv", "shared-abcdefghijkmnpqrstu0", "shared-abcdefghijkmnpqrstuvw"] {
            assert!(!is_share_segment(not), "{not}");
        }
        assert!(is_share_segment("shared-abcdefghijkmnpqrstuv"));
    }

    #[test]
    fn per_user_properties_are_the_four() {
        assert!(is_per_user(&LiveChange::DisplayName(None)));
        assert!(is_per_user(&LiveChange::Color(Some("#fff".into()))));
        assert!(is_per_user(&LiveChange::Order(None)));
        assert!(is_per_user(&LiveChange::Transparent(true)));
        assert!(!is_per_user(&LiveChange::Description(None)));
        assert!(!is_per_user(&LiveChange::Timezone(None)));
        assert!(!is_per_user(&LiveChange::DefaultCalendar(None)));
    }
}
