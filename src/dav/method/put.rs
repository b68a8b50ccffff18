//! PUT (RFC 4918 §9.7, RFC 4791 §5.3.2): store a calendar object resource (or, in a plain
//! collection, any file) exactly as sent, after the CalDAV preconditions.

use bytes::Bytes;
use http::{StatusCode, header};

use crate::dav::header::DavHeaders;
use crate::dav::locate::{Located, locate};
use crate::dav::method::get::{set, set_schedule_tag};
use crate::dav::resource::Target;
use crate::dav::{DavContext, DavError, DavResponse, DavResult};
use crate::service::objects::{PutRequest, WriteLimits, put};
use crate::service::Principal;

pub async fn handle(
    ctx: &DavContext,
    user: &Principal,
    target: &Target,
    headers: &DavHeaders,
    body: Bytes,
) -> DavResult<DavResponse> {
    let (collection, name) = match locate(ctx, user, target).await? {
        Located::Object(c, meta) => (c, meta.name),
        Located::Missing { parent: Some(c), name } => (c, name),
        // RFC 4918 §9.7.1: no parent collection → 409.
        Located::Missing { parent: None, .. } | Located::MissingParent => {
            return Err(DavError::Conflict("PUT needs an existing collection as parent".into()));
        }
        _ => return Err(DavError::MethodNotAllowed { allow: super::options::ALLOW_COLLECTION }),
    };
    let request = PutRequest {
        collection: &collection,
        name: &name,
        data: body.to_vec(),
        content_type: headers.content_type.as_deref(),
        expect: headers.write_expectation(),
        tag_match: headers.if_schedule_tag_match.as_deref(),
    };
    let outcome = put(&ctx.sched(), user, request).await?;
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

pub fn write_limits(ctx: &DavContext) -> WriteLimits {
    WriteLimits {
        max_resource_size: ctx.limits.max_resource_size,
        min_date_time: ctx.limits.min_date_time,
        max_date_time: ctx.limits.max_date_time,
        quota_bytes: ctx.limits.quota_bytes,
    }
}
