//! LOCK (RFC 4918 §9.10): a new exclusive or shared write lock, Depth 0 or infinity, on a
//! collection, an object or an unmapped URL in a collection; or, without a body, a refresh of
//! a lock whose token the `If` header names. Decision 0030 for what an unmapped URL becomes.

use http::{HeaderValue, StatusCode};

use crate::dav::access::{Privilege, require};
use crate::dav::header::{DavHeaders, Depth};
use crate::dav::lock::{ActiveLock, Key, Locks, check_if, key};
use crate::dav::locate::{Located, locate};
use crate::dav::method::put::acting_owner;
use crate::dav::multistatus::xml_response;
use crate::dav::request::{is_blank, parse_lockinfo};
use crate::dav::resource::Target;
use crate::dav::xml::{DAV, QName, XmlWriter};
use crate::dav::{Condition, DavContext, DavError, DavResponse, DavResult};
use crate::service::objects::{PutRequest, put};
use crate::service::{Principal, ServiceError};
use crate::store::{Collection, CollectionKind, Expect, Lock, LockRefused, LockStore, NewLock};

pub async fn handle(ctx: &DavContext, user: &Principal, target: &Target, headers: &DavHeaders, body: &[u8]) -> DavResult<DavResponse> {
    let located = locate(ctx, user, target).await?;
    let href = |c: &Collection| ctx.paths.collection(&user.name, &c.path);
    let collection = match &located {
        Located::Collection(c) => {
            require(c, Privilege::WriteContent, &href(c))?;
            true
        }
        Located::Object(c, _) => {
            require(c, Privilege::WriteContent, &href(c))?;
            false
        }
        Located::Missing { parent: Some(c), .. } => {
            require(c, Privilege::Bind, &href(c))?;
            false
        }
        // RFC 4918 §9.10.4 (as for PUT, §9.7.1): an unmapped URL needs its parent collection.
        Located::Missing { parent: None, .. } | Located::MissingParent => {
            return Err(DavError::Conflict("LOCK of an unmapped URL needs an existing collection as its parent".into()));
        }
        _ => return Err(DavError::Refused("only collections and the resources in them can be locked".into())),
    };
    let Some(key) = key(user, &located) else { return Err(DavError::Forbidden) };
    let mut locks = Locks::default();
    check_if(ctx, user, headers, &located, &mut locks).await?;
    let timeout = timeout_secs(ctx, headers);
    if is_blank(body) {
        return refresh(ctx, user, headers, &key, &mut locks, timeout, collection).await;
    }
    let info = parse_lockinfo(body)?;
    let infinite = match headers.depth {
        // §9.10.3: no Depth is infinity, which on a non-collection is the same as 0.
        None | Some(Depth::Infinity) => collection,
        Some(Depth::Zero) => false,
        Some(Depth::One) => return Err(DavError::BadRequest("LOCK takes Depth 0 or infinity (RFC 4918 §9.10.3)".into())),
    };
    let new = NewLock {
        token: new_token(),
        home: key.home,
        path: key.path.clone(),
        principal: user.id,
        shared: info.shared,
        infinite,
        owner_xml: info.owner_xml,
        timeout_secs: timeout,
    };
    let max = i64::from(ctx.limits.max_locks_per_user);
    let lock = match ctx.store.take_lock(new, ctx.clock.now(), max).await? {
        Ok(lock) => lock,
        // §9.10.6: 423 with the locks in the way.
        Err(LockRefused::Conflict(roots)) => {
            let hrefs = roots.iter().map(|r| key.href(ctx, r, *r != key.path || collection)).collect();
            return Err(DavError::Condition { status: StatusCode::LOCKED, condition: Condition::NoConflictingLock(hrefs), reason: None });
        }
        Err(LockRefused::TooMany) => {
            return Err(DavError::Refused(format!("you hold {max} locks, the most one user may (limits.max_locks_per_user)")));
        }
    };
    let created = match &located {
        Located::Missing { parent: Some(c), name } => create_empty(ctx, user, c, name, &lock).await?,
        _ => false,
    };
    // §9.10.1: 201 when the LOCK created the resource, else 200; the new token in Lock-Token.
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    let mut resp = answer(status, &granted(ctx, user, &key, &lock, collection));
    if let Ok(v) = HeaderValue::from_str(&format!("<{}>", lock.token)) {
        resp.headers_mut().insert("lock-token", v);
    }
    Ok(resp)
}

/// The lock as a LOCK answers it: with the timeout granted (RFC 4918 §9.10.1, §10.7), not the
/// seconds left a moment later, which a second boundary would make one less.
fn granted(ctx: &DavContext, user: &Principal, key: &Key, lock: &Lock, collection: bool) -> ActiveLock {
    ActiveLock { remaining: lock.timeout_secs, ..ActiveLock::of(ctx, user, key, lock, collection) }
}

/// §9.10.2: a LOCK without a body refreshes the user's lock on the resource (or one it lies
/// in) whose token the `If` header submits; 412 when there is none.
async fn refresh(
    ctx: &DavContext,
    user: &Principal,
    headers: &DavHeaders,
    key: &Key,
    locks: &mut Locks,
    timeout: i64,
    collection: bool,
) -> DavResult<DavResponse> {
    let submitted: Vec<&str> = headers.if_header.as_ref().map(|h| h.submitted().collect()).unwrap_or_default();
    if submitted.is_empty() {
        return Err(DavError::BadRequest("a LOCK without a body refreshes a lock named in the If header (RFC 4918 §9.10.2)".into()));
    }
    let found: Option<Lock> = locks
        .of(ctx, key.home)
        .await?
        .iter()
        .find(|l| l.principal == user.id && l.applies_to(&key.path) && submitted.contains(&l.token.as_str()))
        .cloned();
    let refreshed = match found {
        Some(l) => ctx.store.refresh_lock(&l.token, user.id, timeout, ctx.clock.now()).await?,
        None => None,
    };
    match refreshed {
        Some(lock) => Ok(answer(StatusCode::OK, &granted(ctx, user, key, &lock, collection))),
        None => Err(DavError::condition(StatusCode::PRECONDITION_FAILED, Condition::LockTokenMatchesRequestUri)),
    }
}

/// §7.3: a LOCK of an unmapped URL creates an empty resource. Decision 0030: in a calendar
/// collection (and the scheduling boxes) an empty body is no calendar object resource (RFC
/// 4791 §4.1), so the lock alone holds the name until a PUT, which must then pass the CalDAV
/// preconditions as any other. Whether the resource was created; the lock is given back when
/// creating it failed for another reason than someone else creating it first.
async fn create_empty(ctx: &DavContext, user: &Principal, c: &Collection, name: &str, lock: &Lock) -> DavResult<bool> {
    if c.kind != CollectionKind::Plain {
        return Ok(false);
    }
    let (actor, owned) = acting_owner(user, c);
    let request = PutRequest { collection: &owned, name, data: Vec::new(), content_type: None, expect: Expect::Absent, tag_match: None, used_bytes: None };
    match put(&ctx.sched(), &actor, request).await {
        Ok(done) => Ok(done.created),
        Err(ServiceError::PreconditionFailed) => Ok(false),
        Err(e) => {
            ctx.store.remove_lock(&lock.token).await?;
            Err(e.into())
        }
    }
}

/// RFC 4918 §10.7: what the client asked for, at most the configured maximum (also for
/// `Infinite`), which is also what a request without Timeout gets.
fn timeout_secs(ctx: &DavContext, headers: &DavHeaders) -> i64 {
    let max = u64::from(ctx.limits.lock_max_timeout_secs.max(1));
    let secs = headers.timeout.unwrap_or(max).clamp(1, max);
    i64::try_from(secs).unwrap_or(i64::MAX)
}

/// RFC 4918 §6.5: lock tokens unique across all resources for all time; a random (version 4)
/// UUID as a `urn:uuid:` URI (RFC 4122).
fn new_token() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("urn:uuid:{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

/// §9.10.1: the lock in a `DAV:prop` with `DAV:lockdiscovery`.
fn answer(status: StatusCode, lock: &ActiveLock) -> DavResponse {
    let mut w = XmlWriter::new();
    w.start(&QName::fixed(DAV, "prop"));
    w.start(&QName::fixed(DAV, "lockdiscovery"));
    lock.write(&mut w);
    w.end();
    w.end();
    xml_response(status, w.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_v4_uuid_urns() {
        let t = new_token();
        assert_eq!(t.len(), "urn:uuid:".len() + 36);
        assert_eq!(&t[9 + 14..9 + 15], "4");
        assert_ne!(t, new_token());
    }
}
