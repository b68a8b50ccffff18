//! REPORT principal-property-search and principal-search-property-set (RFC 3744 §9.4, §9.5):
//! how clients find principals (the caldav library's `search_principals`, Apple's attendee
//! lookup). A user sees only their own principal, as everywhere else in Kalends, so a search
//! answers that principal when it matches and nothing otherwise.

use http::StatusCode;

use crate::dav::header::{DavHeaders, Depth};
use crate::dav::method::propfind::results_for;
use crate::dav::multistatus::{Multistatus, xml_response};
use crate::dav::property::Live;
use crate::dav::props::{PropCtx, Res, Value, value};
use crate::dav::request::{MatchType, PropSelection, PropertySearch};
use crate::dav::resource::Target;
use crate::dav::xml::{CALDAV, CS, DAV, QName, XmlWriter};
use crate::dav::{DavContext, DavError, DavResponse, DavResult};
use crate::service::Principal;

/// Where these reports run: the principal collection, or anything that can apply them to it
/// (RFC 3744 §9.4's apply-to-principal-collection-set; the caldav library sends them to `/`).
pub fn applies_to(target: &Target, user: &Principal) -> bool {
    match target {
        Target::Root | Target::PrincipalsRoot => true,
        Target::Principal(name) => *name == user.name,
        _ => false,
    }
}

/// RFC 3744 §9.4: Depth must be 0 (absent means 0 for REPORT, RFC 3253 §3.6).
fn check_depth(headers: &DavHeaders) -> DavResult<()> {
    match headers.depth {
        None | Some(Depth::Zero) => Ok(()),
        Some(_) => Err(DavError::BadRequest("principal reports take Depth: 0 (RFC 3744 §9.4, §9.5)".into())),
    }
}

pub fn property_search(
    ctx: &DavContext,
    user: &Principal,
    headers: &DavHeaders,
    searches: &[PropertySearch],
    any_of: bool,
    props: &PropSelection,
) -> DavResult<DavResponse> {
    check_depth(headers)?;
    let pctx = PropCtx::plain(ctx, user);
    let hit = |s: &PropertySearch| s.props.iter().any(|name| searchable(&pctx, user, name).iter().any(|v| matches(v, s)));
    let found = if any_of { searches.iter().any(hit) } else { searches.iter().all(hit) };
    let mut ms = Multistatus::new();
    if found {
        ms.props(&ctx.paths.principal(&user.name), &results_for(&pctx, Res::Principal(user), props, &[]));
    }
    Ok(ms.finish())
}

/// The texts a principal property offers to a search.
fn searchable(pctx: &PropCtx<'_>, user: &Principal, name: &QName) -> Vec<String> {
    if name.is(CS, "email-address-set") {
        return user.email.iter().cloned().collect();
    }
    match Live::from_name(name).and_then(|live| value(pctx, Res::Principal(user), live)) {
        Some(Value::Text(t) | Value::Href(t)) => vec![t],
        Some(Value::Hrefs(hrefs)) => hrefs,
        _ => Vec::new(),
    }
}

/// RFC 3744 §9.4: "case-insensitive", here Unicode lower-casing of both sides.
fn matches(value: &str, search: &PropertySearch) -> bool {
    let (value, text) = (value.to_lowercase(), search.text.trim().to_lowercase());
    match search.match_type {
        MatchType::Contains => value.contains(&text),
        MatchType::StartsWith => value.starts_with(&text) || value.strip_prefix("mailto:").is_some_and(|v| v.starts_with(&text)),
        MatchType::Equals => value == text || value.strip_prefix("mailto:") == Some(text.as_str()),
    }
}

/// RFC 3744 §9.5: the searchable properties, with a description each.
pub fn search_property_set(headers: &DavHeaders) -> DavResult<DavResponse> {
    check_depth(headers)?;
    let mut w = XmlWriter::new();
    w.start(&QName::fixed(DAV, "principal-search-property-set"));
    for (ns, local, description) in [
        (DAV, "displayname", "Name"),
        (CALDAV, "calendar-user-address-set", "Calendar user address"),
        (CS, "email-address-set", "Email address"),
    ] {
        w.start(&QName::fixed(DAV, "principal-search-property"));
        w.start(&QName::fixed(DAV, "prop"));
        w.empty(&QName::fixed(ns, local));
        w.end();
        w.text_element(&QName::fixed(DAV, "description"), description);
        w.end();
    }
    w.end();
    Ok(xml_response(StatusCode::OK, w.finish()))
}
