//! COPY and MOVE of objects between the user's own collections (RFC 4918 §9.8, §9.9), with
//! Destination and Overwrite; the target collection's rules (component set, UID uniqueness)
//! apply as for a PUT.

use bytes::Bytes;
use http::StatusCode;

use crate::dav::header::DavHeaders;
use crate::dav::locate::{Located, locate};
use crate::dav::method::put::write_limits;
use crate::dav::resource::Target;
use crate::dav::{DavContext, DavError, DavResponse, DavResult};
use crate::service::objects::Transfer;
use crate::service::{self, Principal, ServiceError};

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
    let (source, object) = match locate(ctx, user, target).await? {
        Located::Object(c, meta) => (c, meta),
        Located::Collection(_) => {
            return Err(DavError::Conflict("copying or moving whole collections is not supported".into()));
        }
        Located::Missing { .. } | Located::MissingParent => return Err(DavError::NotFound),
        _ => return Err(DavError::Forbidden),
    };
    let dest_target = ctx.paths.parse(destination);
    if matches!(dest_target, Target::Unknown) {
        // RFC 4918 §9.8.4: a destination on another server (or outside our space) is 502.
        return Err(DavError::Service(ServiceError::BadRequest(format!("Destination {destination:?} is not on this server"))));
    }
    let (dest, dest_name) = match locate(ctx, user, &dest_target).await? {
        Located::Object(c, meta) => (c, meta.name),
        Located::Missing { parent: Some(c), name } => (c, name),
        Located::Missing { parent: None, .. } | Located::MissingParent => {
            return Err(DavError::Conflict("the destination's collection does not exist".into()));
        }
        _ => return Err(DavError::Forbidden),
    };
    if dest.id == source.id && dest_name == object.name {
        return Err(DavError::Forbidden);
    }
    let limits = write_limits(ctx);
    let transfer = Transfer {
        source: &source,
        object: &object,
        dest: &dest,
        dest_name: &dest_name,
        overwrite: headers.overwrite,
        keep_source,
    };
    let created = service::objects::transfer(&ctx.store, user, transfer, &limits).await?;
    let mut resp = http::Response::new(Bytes::new());
    *resp.status_mut() = if created { StatusCode::CREATED } else { StatusCode::NO_CONTENT };
    Ok(resp)
}
