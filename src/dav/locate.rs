//! Resolving a request path to the resource it names, with the one authorization rule of this
//! version: a user reaches only their own principal, home and what is below it.

use super::resource::Target;
use super::{DavContext, DavError, DavResult};
use crate::service::Principal;
use crate::store::{Collection, CollectionStore, ObjectMeta, ObjectStore, StoredObject};

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
    match target {
        Target::Root => Ok(Located::Root),
        Target::PrincipalsRoot => Ok(Located::PrincipalsRoot),
        Target::CalendarsRoot => Ok(Located::CalendarsRoot),
        Target::Principal(name) => own(user, name).map(|()| Located::Principal),
        Target::Home(name) => own(user, name).map(|()| Located::Home),
        Target::InHome { owner, segments, trailing_slash } => {
            own(user, owner)?;
            in_home(ctx, user, segments, *trailing_slash).await
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
    if parent_segments.is_empty() {
        return Ok(None);
    }
    Ok(match ctx.store.member_data(user.id, &parent_segments.join("/"), name).await? {
        Some((parent, Some(object))) => Some((parent, object)),
        _ => None,
    })
}

async fn in_home(ctx: &DavContext, user: &Principal, segments: &[String], trailing_slash: bool) -> DavResult<Located> {
    let store = &ctx.store;
    if !trailing_slash && segments.len() > 1 {
        return object_first(ctx, user, segments).await;
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
async fn object_first(ctx: &DavContext, user: &Principal, segments: &[String]) -> DavResult<Located> {
    let store = &ctx.store;
    let Some((name, parent_segments)) = segments.split_last() else { return Ok(Located::Home) };
    let (parent, meta) = match store.member_meta(user.id, &parent_segments.join("/"), name).await? {
        None => return Ok(Located::MissingParent),
        Some(found) => found,
    };
    if let Some(meta) = meta {
        return Ok(Located::Object(parent, meta));
    }
    match store.collection_by_path(user.id, &segments.join("/")).await? {
        Some(c) => Ok(Located::Collection(c)),
        None => Ok(Located::Missing { parent: Some(parent), name: name.clone() }),
    }
}
