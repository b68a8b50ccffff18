//! Health probes for load balancers and orchestrators, answered before authentication:
//! `/livez` (the process answers) and `/readyz` (the database answers and the server is not
//! draining), both under the configured base path, GET and HEAD.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, StatusCode};

use crate::dav::DavResponse;
use crate::dav::resource::Paths;
use crate::error::text;
use crate::store::Store;

/// A probe that takes longer than this counts as a failure: a load balancer's own timeout is
/// usually a few seconds, and a database this slow is not ready to serve anyway.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// Which probe a path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    Live,
    Ready,
}

/// The probe `path` names, if any.
pub fn probe(paths: &Paths, path: &str) -> Option<Probe> {
    match path.strip_prefix(&paths.root())? {
        "livez" => Some(Probe::Live),
        "readyz" => Some(Probe::Ready),
        _ => None,
    }
}

/// The answer to `probe`. Redis is deliberately not consulted: the server answers without it.
pub async fn answer(probe: Probe, method: &Method, store: &Store, draining: &AtomicBool) -> DavResponse {
    if method != Method::GET && method != Method::HEAD {
        let mut resp = text(StatusCode::METHOD_NOT_ALLOWED, "GET or HEAD");
        resp.headers_mut().insert(http::header::ALLOW, http::HeaderValue::from_static("GET, HEAD"));
        return resp;
    }
    let mut resp = match probe {
        Probe::Live => text(StatusCode::OK, "ok"),
        Probe::Ready => ready(store, draining).await,
    };
    // Probes must never be answered from a cache in between.
    resp.headers_mut().insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
    if method == Method::HEAD {
        *resp.body_mut() = Bytes::new();
    }
    resp
}

async fn ready(store: &Store, draining: &AtomicBool) -> DavResponse {
    if draining.load(Ordering::Acquire) {
        return text(StatusCode::SERVICE_UNAVAILABLE, "draining: the server is shutting down");
    }
    match tokio::time::timeout(PING_TIMEOUT, store.ping()).await {
        Ok(Ok(())) => text(StatusCode::OK, "ok"),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: the database does not answer");
            text(StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
        Err(_) => text(StatusCode::SERVICE_UNAVAILABLE, "database too slow to answer"),
    }
}

#[cfg(test)]
mod tests {
    use super::{Probe, probe};
    use crate::dav::resource::Paths;

    #[test]
    fn probes_live_under_the_base_path() {
        let root = Paths::new(String::new());
        assert_eq!(probe(&root, "/livez"), Some(Probe::Live));
        assert_eq!(probe(&root, "/readyz"), Some(Probe::Ready));
        assert_eq!(probe(&root, "/readyz/"), None);
        let dav = Paths::new("/dav".to_owned());
        assert_eq!(probe(&dav, "/dav/readyz"), Some(Probe::Ready));
        assert_eq!(probe(&dav, "/readyz"), None);
    }
}
