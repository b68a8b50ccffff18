//! GET and HEAD (RFC 4918 §9.4, RFC 4791 §5.3.4): an object's stored bytes with ETag and
//! Last-Modified and conditional 304s; a calendar collection as one iCalendar file (export).

use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};

use crate::calendar::export::export_calendar;
use crate::dav::header::{DavHeaders, etag_matches};
use crate::dav::access::{Privilege, require};
use crate::dav::locate::{Located, locate, locate_object_data};
use crate::dav::props::http_date;
use crate::dav::resource::Target;
use crate::dav::{DavContext, DavError, DavResponse, DavResult};
use crate::service::Principal;
use crate::store::{Collection, CollectionKind, ObjectStore};

pub async fn handle(
    ctx: &DavContext,
    user: &Principal,
    target: &Target,
    headers: &DavHeaders,
    head: bool,
) -> DavResult<DavResponse> {
    if !head {
        // The common case, an object's bytes, in one store lookup.
        if let Some((_, object)) = locate_object_data(ctx, user, target).await? {
            let meta = &object.meta;
            if not_modified(headers, &meta.etag, meta.modified_at) {
                return Ok(with_validators(empty(StatusCode::NOT_MODIFIED), &meta.etag, meta.modified_at));
            }
            let (etag, modified_at, content_type) = (meta.etag.clone(), meta.modified_at, meta.content_type.clone());
            let tag = meta.schedule_tag.clone();
            let mut resp = with_validators(http::Response::new(Bytes::from(object.data)), &etag, modified_at);
            set(&mut resp, header::CONTENT_TYPE, &content_type);
            set_schedule_tag(&mut resp, tag.as_deref());
            return Ok(resp);
        }
    }
    match locate(ctx, user, target).await? {
        Located::Object(c, meta) => {
            if not_modified(headers, &meta.etag, meta.modified_at) {
                return Ok(with_validators(empty(StatusCode::NOT_MODIFIED), &meta.etag, meta.modified_at));
            }
            let body = if head {
                Bytes::new()
            } else {
                let object = ctx.store.object(c.id, &meta.name).await?.ok_or(DavError::NotFound)?;
                Bytes::from(object.data)
            };
            let mut resp = with_validators(http::Response::new(body), &meta.etag, meta.modified_at);
            set(&mut resp, header::CONTENT_TYPE, &meta.content_type);
            set_schedule_tag(&mut resp, meta.schedule_tag.as_deref());
            if head {
                set(&mut resp, header::CONTENT_LENGTH, &meta.size.to_string());
            }
            Ok(resp)
        }
        Located::Collection(c) if c.kind == CollectionKind::Calendar => {
            require(&c, Privilege::Read, &ctx.paths.collection(&user.name, &c.path))?;
            // The permit and the objects go when the export is built, before it is sent.
            let text = {
                let _permit = ctx.listing_permit().await?;
                export(ctx, &c).await?
            };
            let len = text.len();
            let mut resp = http::Response::new(if head { Bytes::new() } else { Bytes::from(text) });
            set(&mut resp, header::CONTENT_TYPE, "text/calendar; charset=utf-8");
            if head {
                set(&mut resp, header::CONTENT_LENGTH, &len.to_string());
            }
            let file = format!("attachment; filename=\"{}.ics\"", c.path.replace(['"', '/', '\\'], "_"));
            set(&mut resp, header::CONTENT_DISPOSITION, &file);
            Ok(resp)
        }
        // Collections other than calendars have no body to show (RFC 4918 §9.4).
        Located::Collection(_) | Located::Home | Located::Principal | Located::Root => {
            let mut resp = empty(StatusCode::OK);
            set(&mut resp, header::CONTENT_TYPE, "text/plain; charset=utf-8");
            Ok(resp)
        }
        _ => Err(DavError::NotFound),
    }
}

/// The calendar as one iCalendar file; the caller holds a listing permit.
pub async fn export(ctx: &DavContext, c: &Collection) -> DavResult<String> {
    let objects = ctx.store.list_objects_with_data(c.id).await?;
    let datas: Vec<&[u8]> = objects.iter().map(|o| o.data.as_slice()).collect();
    let name = c.props.displayname.as_deref().or(Some(c.path.as_str()));
    Ok(export_calendar(name, &datas))
}

/// RFC 7232 §6: If-None-Match wins over If-Modified-Since.
fn not_modified(headers: &DavHeaders, etag: &str, modified: i64) -> bool {
    if let Some(list) = &headers.if_none_match {
        return etag_matches(list, etag);
    }
    headers.if_modified_since.is_some_and(|since| {
        let secs = since.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        i64::try_from(secs).is_ok_and(|s| modified <= s)
    })
}

fn with_validators(mut resp: DavResponse, etag: &str, modified: i64) -> DavResponse {
    set(&mut resp, header::ETAG, etag);
    set(&mut resp, header::LAST_MODIFIED, &http_date(modified));
    resp
}

fn empty(status: StatusCode) -> DavResponse {
    let mut resp = http::Response::new(Bytes::new());
    *resp.status_mut() = status;
    resp
}

/// RFC 6638 §3.2.10: GET (and PUT) of a scheduling object carries its Schedule-Tag.
pub fn set_schedule_tag(resp: &mut DavResponse, tag: Option<&str>) {
    if let Some(tag) = tag {
        set(resp, header::HeaderName::from_static("schedule-tag"), tag);
    }
}

pub fn set(resp: &mut DavResponse, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(name, v);
    }
}
