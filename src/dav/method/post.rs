//! POST to the scheduling outbox (RFC 6638 §5): a VFREEBUSY REQUEST from the caller, answered
//! with a CALDAV:schedule-response holding each attendee's busy time (RFC 5546 §3.3.3 REPLY)
//! from their calendars that count for free/busy, or why there is none. A POST on a calendar is
//! Apple's sharing request (`share.rs`).

use http::StatusCode;

use crate::calendar::freebusy::{Busy, parse_busy_lines};
use crate::calendar::ComponentSet;
use crate::config::FreeBusyLookup;
use crate::dav::header::DavHeaders;
use crate::dav::locate::{Located, locate};
use crate::dav::method::freebusy::cached_busy_lines;
use crate::dav::multistatus::xml_response;
use crate::dav::resource::Target;
use crate::dav::xml::{CALDAV, DAV, QName, XmlWriter};
use crate::dav::{Condition, DavContext, DavError, DavResponse, DavResult};
use crate::sched::{Address, FreeBusyRequest, SchedError, freebusy_reply, parse_freebusy_request};
use crate::service::scheduling::directory::{Recipient, principal_addresses, resolve};
use crate::service::{Principal, ServiceError};
use crate::store::{CollectionKind, CollectionStore, User};

pub async fn handle(
    ctx: &DavContext,
    user: &Principal,
    target: &Target,
    headers: &DavHeaders,
    body: &[u8],
) -> DavResult<DavResponse> {
    match locate(ctx, user, target).await? {
        Located::Collection(c) if c.kind == CollectionKind::Outbox => {}
        // Apple's sharing request (calendarserver sharing.txt §5.2.1), an XML body; anything
        // else POSTed to a calendar stays 405.
        Located::Collection(c)
            if c.kind == CollectionKind::Calendar && headers.content_type.as_deref().is_some_and(|t| t.ends_with("xml")) =>
        {
            return super::share::handle(ctx, user, &c, body).await;
        }
        Located::Missing { .. } | Located::MissingParent => return Err(DavError::NotFound),
        other => return Err(DavError::MethodNotAllowed { allow: super::options::allow_on(&other) }),
    }
    // RFC 6638 §5.2: the request is iCalendar.
    if headers.content_type.as_deref().is_some_and(|t| t != "text/calendar") {
        return Err(DavError::forbidden(Condition::SupportedCalendarData, "POST a text/calendar VFREEBUSY request"));
    }
    let text = std::str::from_utf8(body).map_err(|_| DavError::forbidden(Condition::ValidCalendarData, "the request is not UTF-8"))?;
    let request = parse_freebusy_request(text).map_err(refusal)?;
    // RFC 6638 §5.2.2: the ORGANIZER is the caller.
    if !principal_addresses(&ctx.paths, user).contains(&request.organizer) {
        return Err(DavError::forbidden(
            Condition::OrganizerAllowed,
            format!("{} is not one of your calendar user addresses", request.organizer),
        ));
    }
    let limit = usize::try_from(ctx.limits.max_attendees_per_instance).unwrap_or(usize::MAX);
    if request.attendees.len() > limit {
        return Err(DavError::forbidden(
            Condition::MaxAttendeesPerInstance,
            format!("{} attendees; the limit is {limit} (RFC 4791 §5.2.9)", request.attendees.len()),
        ));
    }
    let mut w = XmlWriter::new();
    w.start(&QName::fixed(CALDAV, "schedule-response"));
    for attendee in &request.attendees {
        let answer = answer_for(ctx, user, &request, attendee).await?;
        w.start(&QName::fixed(CALDAV, "response"));
        w.start(&QName::fixed(CALDAV, "recipient"));
        w.text_element(&QName::fixed(DAV, "href"), attendee.as_str());
        w.end();
        w.text_element(&QName::fixed(CALDAV, "request-status"), answer.status);
        if let Some(data) = &answer.data {
            w.text_element(&QName::fixed(CALDAV, "calendar-data"), data);
        }
        w.end();
    }
    w.end();
    Ok(xml_response(StatusCode::OK, w.finish()))
}

/// One attendee's entry: an RFC 5546 §3.6 request status and, on success, the VFREEBUSY REPLY.
struct Answer {
    status: &'static str,
    data: Option<String>,
}

async fn answer_for(ctx: &DavContext, user: &Principal, request: &FreeBusyRequest, attendee: &Address) -> DavResult<Answer> {
    let who = match resolve(&ctx.store, &ctx.paths, attendee).await? {
        Recipient::Local(u) => u,
        Recipient::External(_) | Recipient::Unknown => return Ok(Answer { status: "3.7;Invalid calendar user", data: None }),
    };
    if !may_look_up(ctx, user, &who) {
        return Ok(Answer { status: "3.8;No authority", data: None });
    }
    let busy = busy_of(ctx, &who, request.start, request.end).await?;
    Ok(Answer { status: "2.0;Success", data: Some(freebusy_reply(request, attendee, &busy, crate::service::now())) })
}

/// Whether `user` may see `who`'s busy time (`scheduling.freebusy_lookup`): their own always,
/// another user's unless the setting is `nobody`. The JSON API's free/busy asks here too.
pub fn may_look_up(ctx: &DavContext, user: &Principal, who: &User) -> bool {
    who.id == user.id || ctx.limits.freebusy_lookup != FreeBusyLookup::Nobody
}

/// The user's busy time from every calendar that takes events and counts for free/busy (RFC
/// 6638 §9.1 schedule-calendar-transp), each calendar's answer cached as a REPORT's is; not
/// merged (`freebusy_reply` merges, as the JSON API's free/busy does).
pub async fn busy_of(ctx: &DavContext, who: &User, start: i64, end: i64) -> DavResult<Vec<Busy>> {
    let mut parents = vec![None];
    let mut busy = Vec::new();
    while let Some(parent) = parents.pop() {
        for c in ctx.store.child_collections(who.id, parent).await? {
            parents.push(Some(c.id));
            let counts = c.kind == CollectionKind::Calendar
                && !c.props.transparent
                && c.props.components.contains(ComponentSet::VEVENT);
            if counts {
                let lines = cached_busy_lines(ctx, &c, start, end).await?;
                let periods = parse_busy_lines(&lines)
                    .ok_or_else(|| DavError::Service(ServiceError::Internal("unreadable cached free/busy".into())))?;
                busy.extend(periods);
            }
        }
    }
    Ok(busy)
}

fn refusal(e: SchedError) -> DavError {
    let reason = e.to_string();
    match e {
        SchedError::Data(_) => DavError::forbidden(Condition::ValidCalendarData, reason),
        SchedError::ValidOrganizer(_) => DavError::forbidden(Condition::OrganizerAllowed, reason),
        _ => DavError::forbidden(Condition::ValidSchedulingMessage, reason),
    }
}
