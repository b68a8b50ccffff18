//! REPORT free-busy-query (RFC 4791 §7.10): the busy time of a calendar collection in a range,
//! answered 200 with one VFREEBUSY, not a multistatus.

use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};

use crate::calendar::freebusy::{busy_lines, cached_lines, vfreebusy};
use crate::config::parse_utc;
use crate::dav::{Condition, DavContext, DavError, DavResponse, DavResult};
use crate::service::freebusy::{FreeBusyQuery, compute};
use crate::store::{Collection, CollectionKind};

/// How long a cached answer may live. Any write changes the key, so this only bounds how long
/// keys of superseded sync sequences linger.
const CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(3600);

/// A calendar's busy time in [start, end) as FREEBUSY lines, from the cache when a fresh
/// answer is there (any write to the calendar changes the key).
pub async fn cached_busy_lines(ctx: &DavContext, collection: &Collection, start: i64, end: i64) -> DavResult<String> {
    let zone = super::report::query_zone(collection, None)?;
    let max_instances = usize::try_from(ctx.limits.max_instances).unwrap_or(usize::MAX);
    let query = FreeBusyQuery { collection, start, end, zone, max_instances };
    let key = query.cache_key();
    let cached = ctx.cache.get(&key).await;
    if let Some(lines) = cached.as_deref().and_then(cached_lines) {
        return Ok(lines.to_owned());
    }
    let lines = busy_lines(&compute(&ctx.store, &query).await?);
    ctx.cache.put(&key, lines.as_bytes(), CACHE_TTL).await;
    Ok(lines)
}

pub async fn free_busy_query(ctx: &DavContext, collection: &Collection, start: &str, end: &str) -> DavResult<DavResponse> {
    if collection.kind != CollectionKind::Calendar {
        return Err(DavError::forbidden(Condition::SupportedReport, "free-busy-query runs on a calendar collection"));
    }
    let at = |name: &str, value: &str| {
        parse_utc(value).ok_or_else(|| DavError::BadRequest(format!("CALDAV:time-range {name}={value:?} is not a UTC date-time (RFC 4791 §9.9)")))
    };
    let (start, end) = (at("start", start)?, at("end", end)?);
    if end <= start {
        return Err(DavError::BadRequest("CALDAV:time-range end must be after start".into()));
    }
    let lines = cached_busy_lines(ctx, collection, start, end).await?;
    let body = vfreebusy(start, end, &lines, crate::service::now());
    let mut resp = http::Response::new(Bytes::from(body));
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/calendar; charset=utf-8"));
    Ok(resp)
}
