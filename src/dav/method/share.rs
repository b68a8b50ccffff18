//! POST of a `CS:share` body on a calendar: Apple Calendar's "Share With…" (calendarserver
//! sharing.txt §5.2.1; decision 0023). The owner adds, changes or removes sharees; each share
//! is accepted at once, so there is no invitation to answer and no notification collection.

use bytes::Bytes;
use http::StatusCode;

use crate::dav::request::parse_share;
use crate::dav::{DavContext, DavResponse, DavResult};
use crate::service::Principal;
use crate::store::Collection;

pub async fn handle(ctx: &DavContext, user: &Principal, calendar: &Collection, body: &[u8]) -> DavResult<DavResponse> {
    let invites = parse_share(body)?;
    crate::service::shares::invite(&ctx.store, &ctx.paths, user, calendar, invites).await?;
    let mut resp = http::Response::new(Bytes::new());
    *resp.status_mut() = StatusCode::OK;
    Ok(resp)
}
