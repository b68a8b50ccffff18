//! REPORT DAV:expand-property (RFC 3253 §3.8; RFC 4791 §2 makes it a CalDAV requirement): the
//! request-URI's properties, where an href-valued property with nested DAV:property elements
//! is answered with a `<D:response>` per href carrying those nested properties. Apple's
//! clients ask principals this way.

use std::future::Future;
use std::pin::Pin;

use crate::dav::header::{DavHeaders, Depth};
use crate::dav::locate::{Located, locate};
use crate::dav::method::propfind::{res_of, results_for, self_href};
use crate::dav::multistatus::{Multistatus, PropResult};
use crate::dav::props::{PropCtx, Value};
use crate::dav::request::PropSelection;
use crate::dav::xml::{DAV, Element, QName};
use crate::dav::{DavContext, DavError, DavResponse, DavResult};
use crate::service::Principal;

/// Nested expansion stops here: deeper requests are answered unexpanded, which bounds the work
/// a single request can cause.
const MAX_DEPTH: usize = 3;

/// One DAV:property: the property and what to expand inside the resources it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub name: QName,
    pub nested: Vec<Spec>,
}

/// `<D:property name="…" namespace="…"/>` (namespace defaults to "DAV:").
pub fn parse_specs(parent: &Element) -> DavResult<Vec<Spec>> {
    parent
        .children()
        .filter(|c| c.is(DAV, "property"))
        .map(|c| {
            let local = c.attr("", "name").map(str::trim).filter(|n| !n.is_empty()).ok_or_else(|| {
                DavError::BadRequest("DAV:property needs a name attribute (RFC 3253 §3.8)".into())
            })?;
            let ns = c.attr("", "namespace").map_or(DAV, str::trim);
            Ok(Spec { name: QName::new(ns, local), nested: parse_specs(c)? })
        })
        .collect()
}

pub async fn handle(
    ctx: &DavContext,
    user: &Principal,
    target: &crate::dav::resource::Target,
    headers: &DavHeaders,
    root: &Element,
) -> DavResult<DavResponse> {
    if !matches!(headers.depth, None | Some(Depth::Zero)) {
        return Err(DavError::BadRequest("expand-property takes Depth: 0".into()));
    }
    let specs = parse_specs(root)?;
    let located = locate(ctx, user, target).await?;
    if !located.exists() {
        return Err(DavError::NotFound);
    }
    let pctx = PropCtx::plain(ctx, user);
    let results = expand(&pctx, &located, &specs, 0).await?;
    let mut ms = Multistatus::new();
    ms.props(&self_href(ctx, user, &located), &results);
    Ok(ms.finish())
}

type Expanded<'a> = Pin<Box<dyn Future<Output = DavResult<Vec<PropResult>>> + Send + 'a>>;

/// The results of `specs` on `located`, href values expanded where nested specs ask.
fn expand<'a>(pctx: &'a PropCtx<'a>, located: &'a Located, specs: &'a [Spec], depth: usize) -> Expanded<'a> {
    Box::pin(async move {
        let Some(res) = res_of(pctx.user, located) else {
            return Ok(Vec::new());
        };
        let selection = PropSelection::Prop(specs.iter().map(|s| s.name.clone()).collect());
        let mut results = results_for(pctx, res, &selection, &[]);
        for (result, spec) in results.iter_mut().zip(specs) {
            if spec.nested.is_empty() || depth >= MAX_DEPTH {
                continue;
            }
            let PropResult::Found(name, value) = result else { continue };
            let hrefs = match value {
                Value::Href(h) => vec![h.clone()],
                Value::Hrefs(hs) => hs.clone(),
                _ => continue,
            };
            let mut responses = Vec::with_capacity(hrefs.len());
            for href in hrefs {
                let target = pctx.dav.paths.parse(&href);
                // An href the user cannot reach (another user's, a mailto:) is a 404 inside the
                // answer, as in a multiget, not a failure of the whole report.
                let nested = match locate(pctx.dav, pctx.user, &target).await {
                    Ok(found) if found.exists() => Some(expand(pctx, &found, &spec.nested, depth + 1).await?),
                    _ => None,
                };
                responses.push((href, nested));
            }
            *result = PropResult::Found(name.clone(), Value::Responses(responses));
        }
        Ok(results)
    })
}
