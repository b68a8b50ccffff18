//! UNLOCK (RFC 4918 §9.11): removes the lock named by the Lock-Token header, when it is a lock
//! on the request URI (or one it lies in) held by the user.

use bytes::Bytes;
use http::StatusCode;

use crate::dav::header::DavHeaders;
use crate::dav::lock::key;
use crate::dav::locate::locate;
use crate::dav::resource::Target;
use crate::dav::{Condition, DavContext, DavError, DavResponse, DavResult};
use crate::service::Principal;
use crate::store::LockStore;

pub async fn handle(ctx: &DavContext, user: &Principal, target: &Target, headers: &DavHeaders) -> DavResult<DavResponse> {
    let Some(token) = headers.lock_token.as_deref() else {
        return Err(DavError::BadRequest("UNLOCK needs a Lock-Token header (RFC 4918 §9.11)".into()));
    };
    // §9.11.1: 409 lock-token-matches-request-uri when the token is no lock on this resource.
    let not_here = || DavError::condition(StatusCode::CONFLICT, Condition::LockTokenMatchesRequestUri);
    let located = locate(ctx, user, target).await?;
    let key = key(user, &located).ok_or_else(not_here)?;
    let locks = ctx.store.locks_in(key.home, ctx.clock.now()).await?;
    let lock = locks.iter().find(|l| l.token == token && l.applies_to(&key.path)).ok_or_else(not_here)?;
    // §9.11.1: the lock is the holder's to remove; another principal is refused.
    if lock.principal != user.id {
        return Err(DavError::Refused("the lock is held by another user".into()));
    }
    ctx.store.remove_lock(token).await?;
    let mut resp = http::Response::new(Bytes::new());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    Ok(resp)
}
