//! PUT (RFC 4918 §9.7, RFC 4791 §5.3.2): store a calendar object resource (or, in a plain
//! collection, any file) exactly as sent, after the CalDAV preconditions.

use bytes::Bytes;
use http::{StatusCode, header};

use crate::dav::header::DavHeaders;
use crate::dav::access::{Privilege, require};
use crate::dav::lock::{self, Touch};
use crate::dav::locate::{Located, WriteHints, locate_for_write};
use crate::dav::method::get::{set, set_schedule_tag};
use crate::dav::resource::Target;
use crate::dav::{DavContext, DavError, DavResponse, DavResult};
use crate::service::objects::{PutRequest, WriteLimits, put};
use crate::service::Principal;
use crate::store::Collection;

pub async fn handle(
    ctx: &DavContext,
    user: &Principal,
    target: &Target,
    headers: &DavHeaders,
    body: Bytes,
) -> DavResult<DavResponse> {
    let mut hints = WriteHints::default();
    let located = locate_for_write(ctx, user, target, &mut hints).await?;
    let (collection, name) = match &located {
        Located::Object(c, meta) => {
            require(c, Privilege::WriteContent, &ctx.paths.object(&user.name, &c.path, &meta.name))?;
            (c.clone(), meta.name.clone())
        }
        Located::Missing { parent: Some(c), name } => {
            require(c, Privilege::Bind, &ctx.paths.collection(&user.name, &c.path))?;
            (c.clone(), name.clone())
        }
        // RFC 4918 §9.7.1: no parent collection → 409.
        Located::Missing { parent: None, .. } | Located::MissingParent => {
            return Err(DavError::Conflict("PUT needs an existing collection as parent".into()));
        }
        _ => return Err(DavError::MethodNotAllowed { allow: super::options::ALLOW_COLLECTION }),
    };
    // RFC 4918 §7.4: the object's locks, and for a new member the collection's too.
    let key = lock::key_in(user, &collection, Some(&name));
    let touches = if located.exists() { vec![Touch::Resource(key)] } else { vec![Touch::Resource(key.parent()), Touch::Resource(key)] };
    lock::check_write_with(ctx, user, headers, &located, &touches, hints.locks).await?;
    // A read-write sharee writes as the owner (decision 0023): the owner's quota, UIDs and, for
    // a scheduling object, the owner as the organizer's calendar user (RFC 6638 §3.2).
    let (actor, owned) = acting_owner(user, &collection);
    let request = PutRequest {
        collection: &owned,
        name: &name,
        data: body.to_vec(),
        content_type: headers.content_type.as_deref(),
        expect: headers.write_expectation(),
        tag_match: headers.if_schedule_tag_match.as_deref(),
        // Read for the user's own home: a sharee's write counts against the owner.
        used_bytes: hints.used_bytes.filter(|_| collection.share.is_none()),
    };
    let outcome = put(&ctx.sched(), &actor, request).await?;
    let mut resp = http::Response::new(Bytes::new());
    *resp.status_mut() = if outcome.created { StatusCode::CREATED } else { StatusCode::NO_CONTENT };
    // RFC 4791 §5.3.4: the ETag only when the stored bytes are exactly what was sent.
    if outcome.verbatim {
        set(&mut resp, header::ETAG, &outcome.meta.etag);
    }
    // RFC 6638 §3.2.10: a write of a scheduling object answers its new Schedule-Tag.
    set_schedule_tag(&mut resp, outcome.meta.schedule_tag.as_deref());
    if outcome.created {
        set(&mut resp, header::LOCATION, &ctx.paths.object(&user.name, &collection.path, &name));
    }
    Ok(resp)
}

/// Who a write into `collection` acts for, and the collection as they see it: the user and
/// their collection, or, for a share, its owner and the owner's collection.
pub fn acting_owner(user: &Principal, collection: &Collection) -> (Principal, Collection) {
    match &collection.share {
        None => (user.clone(), collection.clone()),
        Some(grant) => (
            Principal { id: collection.owner, name: grant.owner_name.clone(), email: grant.owner_email.clone() },
            collection.as_owner(),
        ),
    }
}

pub fn write_limits(ctx: &DavContext) -> WriteLimits {
    WriteLimits {
        max_resource_size: ctx.limits.max_resource_size,
        min_date_time: ctx.limits.min_date_time,
        max_date_time: ctx.limits.max_date_time,
        quota_bytes: ctx.limits.quota_bytes,
    }
}
