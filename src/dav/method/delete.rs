//! DELETE (RFC 4918 §9.6): an object (with If-Match) or a whole collection and its contents.

use bytes::Bytes;
use http::StatusCode;

use crate::dav::header::{DavHeaders, etag_matches};
use crate::dav::access::{Privilege, require};
use crate::dav::lock::{self, Touch};
use crate::dav::locate::{Located, locate};
use crate::dav::method::put::acting_owner;
use crate::dav::resource::Target;
use crate::dav::{DavContext, DavError, DavResponse, DavResult};
use crate::service::{self, Principal};

pub async fn handle(ctx: &DavContext, user: &Principal, target: &Target, headers: &DavHeaders) -> DavResult<DavResponse> {
    let located = locate(ctx, user, target).await?;
    // RFC 4918 §9.6.1, §7.4: the locks on the resource, on anything below it, and on the
    // collection it is removed from; they go with it (§9.6).
    let key = lock::key(user, &located).filter(|_| !matches!(&located, Located::Collection(c) if c.share.is_some()));
    if let Some(key) = &key {
        lock::check_write(ctx, user, headers, &located, &[Touch::Tree(key.clone()), Touch::Resource(key.parent())]).await?;
    }
    match located {
        Located::Object(c, meta) => {
            require(&c, Privilege::Unbind, &ctx.paths.object(&user.name, &c.path, &meta.name))?;
            let tag_match = headers.if_schedule_tag_match.as_deref();
            // A read-write sharee deletes as the owner (decision 0023, RFC 6638 §3.2.3).
            let (actor, owned) = acting_owner(user, &c);
            service::objects::delete(&ctx.sched(), &actor, &owned, &meta, headers.write_expectation(), tag_match).await?;
        }
        // The sharee gives the share up; the owner's calendar stays (decision 0023).
        Located::Collection(c) if c.share.is_some() => service::shares::leave(&ctx.store, user, &c).await?,
        Located::Collection(c) => {
            // Collections have no ETag: If-Match can only be "*" here.
            if headers.if_match.as_ref().is_some_and(|l| !etag_matches(l, "")) {
                return Err(DavError::PreconditionFailed);
            }
            service::collections::delete(&ctx.store, &c).await?;
        }
        Located::Missing { .. } | Located::MissingParent => return Err(DavError::NotFound),
        // The home, principals and the fixed collections are not deletable.
        _ => return Err(DavError::Forbidden),
    }
    if let Some(key) = &key {
        lock::forget(ctx, key).await?;
    }
    let mut resp = http::Response::new(Bytes::new());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    Ok(resp)
}
