//! MKCALENDAR (RFC 4791 §5.3.1) and MKCOL, plain or extended (RFC 5689): create a collection
//! with its initial properties in one transaction, or nothing at all.

use http::StatusCode;

use crate::dav::header::DavHeaders;
use crate::dav::access::{Privilege, require};
use crate::dav::lock::{self, Touch};
use crate::dav::locate::{Located, locate};
use crate::dav::method::proppatch::{SetOp, classify_set};
use crate::dav::multistatus::{PropResult, write_propstats, xml_response};
use crate::dav::request::{parse_mkcalendar, parse_mkcol};
use crate::dav::resource::Target;
use crate::dav::xml::{CALDAV, DAV, Element, QName, XmlWriter};
use crate::dav::{Condition, DavContext, DavError, DavResponse, DavResult};
use crate::service::collections::{NewCollectionRequest, PropertyUpdate, check};
use crate::service::{self, Principal, ServiceError};
use crate::store::{CollectionKind, ComponentSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    Mkcol,
    Mkcalendar,
}

pub async fn handle(
    ctx: &DavContext,
    user: &Principal,
    target: &Target,
    headers: &DavHeaders,
    body: &[u8],
    flavour: Flavour,
) -> DavResult<DavResponse> {
    let props = match flavour {
        Flavour::Mkcalendar => parse_mkcalendar(body)?,
        Flavour::Mkcol if body.is_empty() => Vec::new(),
        // RFC 4918 §9.3: a plain MKCOL body of another type is 415.
        Flavour::Mkcol if headers.content_type.as_deref().is_some_and(|t| !t.contains("xml")) => {
            return Err(DavError::UnsupportedMediaType("MKCOL bodies must be XML (RFC 5689)".into()));
        }
        Flavour::Mkcol => parse_mkcol(body)?,
    };
    let (parent, name) = match locate(ctx, user, target).await? {
        Located::Missing { parent, name } => {
            if let Some(p) = &parent {
                require(p, Privilege::Bind, &ctx.paths.collection(&user.name, &p.path))?;
                // RFC 4918 §7.4: a new member of a locked collection needs its token (and an
                // unmapped URL locked by LOCK, decision 0030, the URL's).
                let key = lock::key_in(user, p, Some(&name));
                let located = Located::Missing { parent: Some(p.clone()), name: name.clone() };
                lock::check_write(ctx, user, headers, &located, &[Touch::Resource(key.parent()), Touch::Resource(key)]).await?;
            }
            (parent, name)
        }
        Located::MissingParent => return Err(DavError::Conflict("the parent collection does not exist".into())),
        _ if flavour == Flavour::Mkcalendar => {
            return Err(DavError::condition(StatusCode::FORBIDDEN, Condition::ResourceMustBeNull));
        }
        // RFC 4918 §9.3.1: MKCOL on an existing resource is 405.
        existing => return Err(DavError::MethodNotAllowed { allow: super::options::allow_on(&existing) }),
    };
    let request = match build_request(&props, flavour) {
        Ok(r) => r,
        Err(refused) => return Ok(refusal_response(&props, &refused, flavour)),
    };
    let created = service::collections::create(&ctx.store, user, parent.as_ref(), &name, request).await;
    match created {
        Ok(c) => {
            let mut resp = http::Response::new(bytes::Bytes::new());
            *resp.status_mut() = StatusCode::CREATED;
            let location = ctx.paths.collection(&user.name, &c.path);
            if let Ok(v) = http::HeaderValue::from_str(&location) {
                resp.headers_mut().insert(http::header::LOCATION, v);
            }
            if flavour == Flavour::Mkcalendar {
                // RFC 4791 §5.3.1: "MUST include a Cache-Control:no-cache header".
                resp.headers_mut().insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-cache"));
            }
            Ok(resp)
        }
        Err(ServiceError::Conflict(reason)) if flavour == Flavour::Mkcalendar => {
            Err(DavError::forbidden(Condition::CalendarCollectionLocationOk, reason))
        }
        // RFC 4791 §4.2: calendar collections contain no collections. 409 would say the parent
        // is missing (RFC 4918 §9.3.1); it is there and refuses.
        Err(ServiceError::Conflict(reason)) => Err(DavError::Refused(reason)),
        Err(ServiceError::AlreadyExists) => Err(DavError::MethodNotAllowed { allow: super::options::ALLOW_COLLECTION }),
        Err(e) => Err(e.into()),
    }
}

/// Properties that could not be set, by name, with their status.
type Refused = Vec<(QName, StatusCode, Option<Condition>)>;

fn build_request(props: &[Element], flavour: Flavour) -> Result<NewCollectionRequest, Refused> {
    let mut kind = if flavour == Flavour::Mkcalendar { CollectionKind::Calendar } else { CollectionKind::Plain };
    let mut components: Option<ComponentSet> = None;
    let mut update = PropertyUpdate::default();
    let mut refused: Refused = Vec::new();
    for e in props {
        match classify_set(e) {
            SetOp::Live(change) => match check(&change) {
                Ok(()) => update.live.push(change),
                Err(_) if matches!(change, service::collections::LiveChange::Timezone(_)) => {
                    refused.push((e.name.clone(), StatusCode::FORBIDDEN, Some(Condition::ValidCalendarData)));
                }
                Err(_) => refused.push((e.name.clone(), StatusCode::CONFLICT, None)),
            },
            SetOp::Components(set) if set.0 != 0 => components = Some(set),
            SetOp::ResourceType(types) if flavour == Flavour::Mkcol => match resource_kind(&types) {
                Some(k) => kind = k,
                None => refused.push((e.name.clone(), StatusCode::FORBIDDEN, Some(Condition::ValidResourcetype))),
            },
            SetOp::ResourceType(_) => {}
            SetOp::Dead(dead) => update.set_dead.push(dead),
            // A new calendar is no inbox; MKCALENDAR cannot set the inbox's default calendar.
            SetOp::Components(_) | SetOp::Protected | SetOp::DefaultCalendar(_) | SetOp::Invalid(_) => {
                refused.push((e.name.clone(), StatusCode::FORBIDDEN, Some(Condition::CannotModifyProtectedProperty)));
            }
        }
    }
    if !refused.is_empty() {
        return Err(refused);
    }
    if kind == CollectionKind::Plain {
        components = None;
    }
    Ok(NewCollectionRequest { kind, components, update })
}

/// RFC 5689 §3: DAV:collection alone = plain; with CALDAV:calendar = a calendar; anything else
/// is not a type this server can create.
fn resource_kind(types: &[QName]) -> Option<CollectionKind> {
    let has = |ns, local| types.iter().any(|t| t.is(ns, local));
    let known = types.iter().all(|t| t.is(DAV, "collection") || t.is(CALDAV, "calendar"));
    match (known && has(DAV, "collection"), has(CALDAV, "calendar")) {
        (true, true) => Some(CollectionKind::Calendar),
        (true, false) => Some(CollectionKind::Plain),
        _ => None,
    }
}

/// RFC 5689 §3 / RFC 4791 §5.3.1: a failed extended MKCOL answers a DAV:mkcol-response, a
/// failed MKCALENDAR a CALDAV:mkcalendar-response, each listing every requested property with
/// its status (424 for those refused only because another one was), with 403.
fn refusal_response(props: &[Element], refused: &Refused, flavour: Flavour) -> DavResponse {
    let results: Vec<PropResult> = props
        .iter()
        .map(|e| match refused.iter().find(|(n, _, _)| *n == e.name) {
            Some((n, status, cond)) => PropResult::Status(n.clone(), *status, cond.clone()),
            None => PropResult::Status(e.name.clone(), StatusCode::FAILED_DEPENDENCY, None),
        })
        .collect();
    let root = match flavour {
        Flavour::Mkcol => QName::fixed(DAV, "mkcol-response"),
        Flavour::Mkcalendar => QName::fixed(CALDAV, "mkcalendar-response"),
    };
    let mut w = XmlWriter::new();
    w.start(&root);
    write_propstats(&mut w, &results);
    w.end();
    xml_response(StatusCode::FORBIDDEN, w.finish())
}

