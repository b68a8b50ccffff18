//! Resolving a request path to the resource it names, with the one authorization rule of this
//! version: a user reaches only their own principal, home and what is below it. A calendar
//! another user shared with them is below their home too, under the share's segment
//! (decision 0023): it resolves to the owner's collection carrying the grant, which the
//! methods check (`access.rs`).

use super::access::{Privilege, need};
use super::lock::Locks;
use super::resource::Target;
use super::{DavContext, DavError, DavResult};
use crate::service::Principal;
use crate::service::shares::is_share_segment;
use crate::store::{Access, Collection, CollectionId, CollectionStore, ObjectMeta, ObjectStore, ShareStore, StoredObject, SyncDelta, SyncStore};

/// What a path names, after looking in the store.
#[derive(Debug, Clone)]
pub enum Located {
    Root,
    PrincipalsRoot,
    CalendarsRoot,
    Principal,
    Home,
    Collection(Collection),
    Object(Collection, ObjectMeta),
    /// Nothing there yet; the parent exists (None = the home itself).
    Missing { parent: Option<Collection>, name: String },
    /// Nothing there and no parent either (RFC 4918 §9.3.1, §9.7.1: 409 for writes).
    MissingParent,
}

impl Located {
    pub fn exists(&self) -> bool {
        !matches!(self, Located::Missing { .. } | Located::MissingParent)
    }
}

/// Resolves `target` for `user`. Another user's space is Forbidden whether it exists or not,
/// so existence of accounts does not leak.
pub async fn locate(ctx: &DavContext, user: &Principal, target: &Target) -> DavResult<Located> {
    locate_with(ctx, user, target, None).await
}

/// What `locate_for_write` learned beside the resource, each saving the write a statement.
#[derive(Default)]
pub struct WriteHints {
    /// Primed with an empty list for a home the lookup found without locks.
    pub locks: Locks,
    /// The user's used bytes, when the lookup read them (an object path in their own home).
    pub used_bytes: Option<i64>,
}

/// `locate` for a write: for an object path in the user's own home, the same statement tells
/// whether the home holds a lock and the user's used bytes, so the write's lock check and quota
/// check need no statement of their own.
pub async fn locate_for_write(ctx: &DavContext, user: &Principal, target: &Target, hints: &mut WriteHints) -> DavResult<Located> {
    locate_with(ctx, user, target, Some(hints)).await
}

async fn locate_with(ctx: &DavContext, user: &Principal, target: &Target, hints: Option<&mut WriteHints>) -> DavResult<Located> {
    match target {
        Target::Root => Ok(Located::Root),
        Target::PrincipalsRoot => Ok(Located::PrincipalsRoot),
        Target::CalendarsRoot => Ok(Located::CalendarsRoot),
        Target::Principal(name) => own(user, name).map(|()| Located::Principal),
        Target::Home(name) => own(user, name).map(|()| Located::Home),
        Target::InHome { owner, segments, trailing_slash } => {
            own(user, owner)?;
            // Only a segment of a share's shape costs the share lookup; one naming no share
            // is looked up as the user's own, like any other.
            if let Some(first) = segments.first().filter(|s| is_share_segment(s))
                && let Some(view) = ctx.store.shared_view(user.id, first).await?
            {
                return in_share(ctx, user, view, segments).await;
            }
            in_home(ctx, user, segments, *trailing_slash, hints).await
        }
        Target::WellKnownCaldav | Target::Unknown => Err(DavError::NotFound),
    }
}

fn own(user: &Principal, name: &str) -> DavResult<()> {
    if user.name == name { Ok(()) } else { Err(DavError::Forbidden) }
}

/// The object `target` names, with its bytes, when it names one (one store lookup, where
/// `locate` and a second fetch of the data would take four); None when it names anything else,
/// which the caller then resolves with `locate`. Another user's space is Forbidden, as there.
pub async fn locate_object_data(ctx: &DavContext, user: &Principal, target: &Target) -> DavResult<Option<(Collection, StoredObject)>> {
    let Target::InHome { owner, segments, trailing_slash: false } = target else { return Ok(None) };
    own(user, owner)?;
    let Some((name, parent_segments)) = segments.split_last() else { return Ok(None) };
    // A share's members are located through the share (`locate`), which checks the grant.
    if parent_segments.first().is_none_or(|s| is_share_segment(s)) {
        return Ok(None);
    }
    Ok(match ctx.store.member_data(user.id, &parent_segments.join("/"), name).await? {
        Some((parent, Some(object))) => Some((parent, object)),
        _ => None,
    })
}

/// The collection `target` names with its delta since `token` (its collection id and seq), in
/// one store lookup where `locate` and then the delta would take two; the delta is None when
/// the token is not this collection's or no longer answerable. None when `target` names no
/// collection of the user's own, which the caller then resolves with `locate` (a share's
/// calendar goes through the share's grant there). Another user's space is Forbidden, as there.
pub async fn locate_sync_delta(
    ctx: &DavContext,
    user: &Principal,
    target: &Target,
    token: (CollectionId, i64),
    limit: Option<usize>,
) -> DavResult<Option<(Collection, Option<SyncDelta>)>> {
    let Target::InHome { owner, segments, .. } = target else { return Ok(None) };
    own(user, owner)?;
    if segments.first().is_none_or(|s| is_share_segment(s)) {
        return Ok(None);
    }
    Ok(ctx.store.delta_at_path(user.id, &segments.join("/"), token, limit).await?)
}

/// A path below a share: the shared calendar itself or one of its members (a calendar holds no
/// collections, RFC 4791 §4.2). A free-busy sharee sees none of the members, not even whether
/// one exists.
async fn in_share(ctx: &DavContext, user: &Principal, view: Collection, segments: &[String]) -> DavResult<Located> {
    let rest = segments.get(1..).unwrap_or_default();
    let grant = view.share.as_ref().map(|g| g.access);
    if !rest.is_empty() && grant == Some(Access::FreeBusy) {
        return Err(need(Privilege::Read, &ctx.paths.collection(&user.name, &view.path)));
    }
    match rest {
        [] => Ok(Located::Collection(view)),
        [name] => match ctx.store.object_meta(view.id, name).await? {
            Some(meta) => Ok(Located::Object(view, meta)),
            None => Ok(Located::Missing { parent: Some(view), name: name.clone() }),
        },
        _ => Ok(Located::MissingParent),
    }
}

async fn in_home(ctx: &DavContext, user: &Principal, segments: &[String], trailing_slash: bool, hints: Option<&mut WriteHints>) -> DavResult<Located> {
    let store = &ctx.store;
    if !trailing_slash && segments.len() > 1 {
        return object_first(ctx, user, segments, hints).await;
    }
    let full = segments.join("/");
    if let Some(c) = store.collection_by_path(user.id, &full).await? {
        return Ok(Located::Collection(c));
    }
    let Some((name, parent_segments)) = segments.split_last() else { return Ok(Located::Home) };
    if parent_segments.is_empty() {
        return Ok(Located::Missing { parent: None, name: name.clone() });
    }
    let parent_path = parent_segments.join("/");
    let Some(parent) = store.collection_by_path(user.id, &parent_path).await? else {
        return Ok(Located::MissingParent);
    };
    match store.object_meta(parent.id, name).await? {
        Some(meta) => Ok(Located::Object(parent, meta)),
        None => Ok(Located::Missing { parent: Some(parent), name: name.clone() }),
    }
}

/// `in_home` for a path without a trailing slash, which usually names an object: the parent
/// and the object first (what a GET, PUT or DELETE needs), the collection of that name only if
/// there is no such object. A member name is an object or a collection, never both (the store
/// refuses the second), so the order of the lookups cannot change the answer; and a path of
/// two or more segments can only be a collection if its parent is one.
/// The same lookup tells whether a collection has the name, so the collection is read only
/// when there is one.
async fn object_first(ctx: &DavContext, user: &Principal, segments: &[String], hints: Option<&mut WriteHints>) -> DavResult<Located> {
    let store = &ctx.store;
    let Some((name, parent_segments)) = segments.split_last() else { return Ok(Located::Home) };
    let Some(member) = store.member_meta(user.id, &parent_segments.join("/"), name).await? else {
        return Ok(Located::MissingParent);
    };
    if let Some(hints) = hints {
        if !member.home_locked {
            hints.locks.none_in(user.id);
        }
        hints.used_bytes = Some(member.used_bytes);
    }
    if let Some(meta) = member.object {
        return Ok(Located::Object(member.collection, meta));
    }
    if !member.child_collection {
        return Ok(Located::Missing { parent: Some(member.collection), name: name.clone() });
    }
    match store.collection_by_path(user.id, &segments.join("/")).await? {
        Some(c) => Ok(Located::Collection(c)),
        None => Ok(Located::Missing { parent: Some(member.collection), name: name.clone() }),
    }
}
