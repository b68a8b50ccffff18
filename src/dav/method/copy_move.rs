//! COPY and MOVE (RFC 4918 §9.8, §9.9) within the user's own space, with Destination, Depth and
//! Overwrite: of objects between collections (the target collection's rules, component set and
//! UID uniqueness, apply as for a PUT), and of whole collections (Depth infinity, or 0 for a
//! COPY), each as one store transaction. Whatever stands at the destination is replaced only
//! with Overwrite: T, as if deleted first with Depth: infinity (§9.8.4, §9.9.3).

use bytes::Bytes;
use http::StatusCode;

use crate::dav::header::{DavHeaders, Depth};
use crate::dav::access::{Privilege, require};
use crate::dav::lock::{self, Touch};
use crate::dav::locate::{Located, locate};
use crate::dav::method::put::write_limits;
use crate::dav::resource::Target;
use crate::dav::{Condition, DavContext, DavError, DavResponse, DavResult};
use crate::service::collections::CollectionTransferRequest;
use crate::service::objects::Transfer;
use crate::service::{self, Principal, ServiceError};
use crate::store::{Collection, CollectionKind, CollectionStore, CollectionTransferKind, ObjectMeta};

pub async fn handle(
    ctx: &DavContext,
    user: &Principal,
    target: &Target,
    headers: &DavHeaders,
    keep_source: bool,
) -> DavResult<DavResponse> {
    let destination = headers
        .destination
        .as_deref()
        .ok_or_else(|| DavError::BadRequest("COPY and MOVE need a Destination header".into()))?;
    let source = locate(ctx, user, target).await?;
    let dest_target = destination_target(ctx, headers, destination)?;
    // Another user's space is 403 here as everywhere (RFC 4918 §9.8.5).
    let dest = locate(ctx, user, &dest_target).await?;
    refuse_shares(ctx, user, &source, &dest, keep_source)?;
    // Overwrite: T would delete what stands there first; the scheduling boxes stay.
    if let Located::Collection(c) = &dest {
        service::collections::refuse_box_itself(c)?;
    }
    // RFC 4918 §7.4, §9.8.5, §9.9.4: the locks on what a destination would replace and on the
    // collection it lands in; for a MOVE also on the source, its members and its collection.
    let source_key = lock::key(user, &source);
    let mut touches = Vec::new();
    if let Some(k) = lock::key(user, &dest) {
        touches.extend([Touch::Resource(k.parent()), Touch::Tree(k)]);
    }
    if let Some(k) = source_key.as_ref().filter(|_| !keep_source) {
        touches.extend([Touch::Resource(k.parent()), Touch::Tree(k.clone())]);
    }
    lock::check_write(ctx, user, headers, &source, &touches).await?;
    let created = match source {
        Located::Object(collection, object) => {
            transfer_object(ctx, user, &collection, &object, dest, headers, keep_source).await?
        }
        Located::Collection(collection) => transfer_collection(ctx, user, &collection, dest, headers, keep_source).await?,
        Located::Missing { .. } | Located::MissingParent => return Err(DavError::NotFound),
        // The home, principals and the fixed collections stay where they are.
        _ => return Err(DavError::Forbidden),
    };
    // §7.6: locks do not move with the resource; the source's end with it.
    if let Some(k) = source_key.as_ref().filter(|_| !keep_source) {
        lock::forget(ctx, k).await?;
    }
    // §9.8.5, §9.9.4: 201 for a new resource, 204 for one that replaced another.
    let mut resp = http::Response::new(Bytes::new());
    *resp.status_mut() = if created { StatusCode::CREATED } else { StatusCode::NO_CONTENT };
    // RFC 9110 §15.3.2: a 201 names the created resource; the Destination as the client gave it.
    if created && let Ok(location) = http::HeaderValue::from_str(destination) {
        resp.headers_mut().insert(http::header::LOCATION, location);
    }
    Ok(resp)
}

/// The shared calendar a located resource is or lies in, if any.
fn shared_in(located: &Located) -> Option<&Collection> {
    match located {
        Located::Collection(c) | Located::Object(c, _) | Located::Missing { parent: Some(c), .. } => c.share.as_ref().map(|_| c),
        _ => None,
    }
}

/// Decision 0023: COPY and MOVE do not cross a share. A transfer runs in the user's space,
/// while a share's members are the owner's, written through the scheduling rules with the
/// owner as the organizer's calendar user; a sharee PUTs and DELETEs instead. A sharee
/// without the privilege the transfer would need hears which one (RFC 3744 §7.1.1).
fn refuse_shares(ctx: &DavContext, user: &Principal, source: &Located, dest: &Located, keep_source: bool) -> DavResult<()> {
    let href = |c: &Collection| ctx.paths.collection(&user.name, &c.path);
    if let Some(c) = shared_in(source) {
        require(c, if keep_source { Privilege::Read } else { Privilege::Unbind }, &href(c))?;
    }
    if let Some(c) = shared_in(dest) {
        require(c, Privilege::Bind, &href(c))?;
    }
    if shared_in(source).is_some() || shared_in(dest).is_some() {
        return Err(DavError::Refused(
            "COPY and MOVE do not cross a shared calendar: PUT the object where it goes and DELETE it where it was".into(),
        ));
    }
    Ok(())
}

/// RFC 4918 §10.3: the Destination is an absolute URI or an absolute path. One naming another
/// server is 502 (§9.8.5); one outside Kalends' URL space on this server is not a place
/// resources can be written (403).
fn destination_target(ctx: &DavContext, headers: &DavHeaders, destination: &str) -> DavResult<Target> {
    let absolute = destination.starts_with("http://") || destination.starts_with("https://");
    if !absolute && !destination.starts_with('/') {
        return Err(DavError::BadRequest(format!(
            "Destination {destination:?} must be an absolute URI or an absolute path (RFC 4918 §10.3)"
        )));
    }
    if !ctx.paths.is_local(destination, headers.host.as_deref()) {
        return Err(DavError::BadGateway(format!("Destination {destination:?} is on another server")));
    }
    match ctx.paths.parse(destination) {
        Target::Unknown => Err(DavError::Forbidden),
        t => Ok(t),
    }
}

/// The last path segment of a collection (its name in its parent).
fn collection_name(collection: &Collection) -> String {
    collection.path.rsplit('/').next().unwrap_or(&collection.path).to_owned()
}

async fn parent_of(ctx: &DavContext, collection: &Collection) -> DavResult<Option<Collection>> {
    match collection.parent {
        None => Ok(None),
        Some(id) => Ok(Some(ctx.store.collection_by_id(id).await?.ok_or(DavError::NotFound)?)),
    }
}

async fn transfer_object(
    ctx: &DavContext,
    user: &Principal,
    source: &Collection,
    object: &ObjectMeta,
    dest: Located,
    headers: &DavHeaders,
    keep_source: bool,
) -> DavResult<bool> {
    let home_cannot_hold_objects = || DavError::Conflict("resources live in collections, not directly in the home".into());
    let (dest_collection, dest_name) = match dest {
        Located::Object(c, meta) => (c, meta.name),
        Located::Missing { parent: Some(c), name } => (c, name),
        // An existing collection is a destination like any other (§9.8.4): with Overwrite: T
        // it goes, and the object takes its name in its parent.
        Located::Collection(c) => match parent_of(ctx, &c).await? {
            Some(parent) => (parent, collection_name(&c)),
            None if !headers.overwrite => return Err(DavError::PreconditionFailed),
            None => return Err(home_cannot_hold_objects()),
        },
        // §9.8.5, §9.9.4: 409 when the destination's parent collection does not exist.
        Located::Missing { parent: None, .. } => return Err(home_cannot_hold_objects()),
        Located::MissingParent => return Err(DavError::Conflict("the destination's collection does not exist".into())),
        _ => return Err(DavError::Forbidden),
    };
    // §9.8.5: the source and the destination are the same resource.
    if dest_collection.id == source.id && dest_name == object.name {
        return Err(DavError::Forbidden);
    }
    let limits = write_limits(ctx);
    let transfer = Transfer {
        source,
        object,
        dest: &dest_collection,
        dest_name: &dest_name,
        overwrite: headers.overwrite,
        keep_source,
    };
    Ok(service::objects::transfer(&ctx.store, user, transfer, &limits).await?)
}

async fn transfer_collection(
    ctx: &DavContext,
    user: &Principal,
    source: &Collection,
    dest: Located,
    headers: &DavHeaders,
    keep_source: bool,
) -> DavResult<bool> {
    let kind = match (keep_source, headers.depth) {
        // §9.8.3: a COPY of a collection without Depth is Depth: infinity.
        (true, None | Some(Depth::Infinity)) => CollectionTransferKind::CopyDeep,
        (true, Some(Depth::Zero)) => CollectionTransferKind::CopyShallow,
        (true, Some(Depth::One)) => {
            return Err(DavError::BadRequest("COPY of a collection takes Depth 0 or infinity (RFC 4918 §9.8.3)".into()));
        }
        // §9.9.2: a MOVE of a collection acts on the whole subtree, and says so if it says at all.
        (false, None | Some(Depth::Infinity)) => CollectionTransferKind::Move,
        (false, Some(_)) => {
            return Err(DavError::BadRequest("MOVE of a collection takes Depth infinity (RFC 4918 §9.9.2)".into()));
        }
    };
    let (dest_parent, dest_name) = match dest {
        Located::Missing { parent, name } => (parent, name),
        Located::Collection(c) => (parent_of(ctx, &c).await?, collection_name(&c)),
        Located::Object(parent, meta) => (Some(parent), meta.name),
        Located::MissingParent => return Err(DavError::Conflict("the destination's collection does not exist".into())),
        _ => return Err(DavError::Forbidden),
    };
    let request = CollectionTransferRequest {
        source,
        dest_parent: dest_parent.as_ref(),
        dest_name: &dest_name,
        overwrite: headers.overwrite,
        kind,
    };
    match service::collections::transfer(&ctx.store, user, request, ctx.limits.quota_bytes).await {
        Ok(created) => Ok(created),
        // RFC 4791 §5.3.2.1: a calendar collection must land where one can be created.
        Err(ServiceError::Conflict(reason)) if source.kind == CollectionKind::Calendar => {
            Err(DavError::forbidden(Condition::CalendarCollectionLocationOk, reason))
        }
        // RFC 4791 §4.2: no collection at any depth inside a calendar collection.
        Err(ServiceError::Conflict(_)) => Err(DavError::Forbidden),
        Err(e) => Err(e.into()),
    }
}
