//! WebDAV write locks on the wire (RFC 4918 §6, §7, §10.4): where a located resource's locks
//! are kept (`Key`), the `If` header evaluated against the store, the check every write method
//! runs before it writes (412 when the `If` header is false, 423 with lock-token-submitted
//! when a lock's token is missing), and the `DAV:activelock` XML of lockdiscovery and LOCK.
//! Locks live in the store, so every node sees them; expiry is decided on `DavContext::clock`.

use http::StatusCode;

use super::header::DavHeaders;
use super::if_header::State;
use super::locate::{Located, locate};
use super::xml::{DAV, QName, XmlWriter};
use super::{Condition, DavContext, DavError, DavResult};
use crate::service::Principal;
use crate::store::{Collection, Lock, LockStore, UserId, at_or_below};

/// Where a resource's locks are: the home its URL lies in (a shared calendar's owner's) and
/// its path below that home, with what is needed to show a lock root as the user sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub home: UserId,
    pub path: String,
    user: String,
    /// For a shared calendar: (the owner's path, the user's path of the share).
    share: Option<(String, String)>,
}

/// The key of a located resource: collections, objects and unmapped URLs in a collection;
/// None for what cannot be locked (the root, principals, the home, nothing under a parent).
pub fn key(user: &Principal, located: &Located) -> Option<Key> {
    match located {
        Located::Collection(c) => Some(key_in(user, c, None)),
        Located::Object(c, m) => Some(key_in(user, c, Some(&m.name))),
        Located::Missing { parent: Some(c), name } => Some(key_in(user, c, Some(name))),
        _ => None,
    }
}

/// The key of collection `c` (`name` None) or of its member `name`.
pub fn key_in(user: &Principal, c: &Collection, name: Option<&str>) -> Key {
    let owner_path = c.as_owner().path;
    let share = c.share.as_ref().map(|_| (owner_path.clone(), c.path.clone()));
    let path = match name {
        Some(n) => format!("{owner_path}/{n}"),
        None => owner_path,
    };
    Key { home: c.owner, path, user: user.name.clone(), share }
}

impl Key {
    /// The collection this resource is a member of (for a collection in the home, the home).
    pub fn parent(&self) -> Key {
        let path = self.path.rsplit_once('/').map_or("", |(p, _)| p).to_owned();
        Key { path, ..self.clone() }
    }

    /// The href of a lock root as this user reaches it: below a share, through the share.
    pub fn href(&self, ctx: &DavContext, root: &str, collection: bool) -> String {
        let mine = match &self.share {
            Some((owner, view)) if at_or_below(root, owner) => format!("{view}{}", &root[owner.len()..]),
            // A lock above the shared calendar (on the owner's parent): the share is as far
            // up as the user sees.
            Some((_, view)) => view.clone(),
            None => root.to_owned(),
        };
        match mine.rsplit_once('/') {
            _ if collection || mine.is_empty() => ctx.paths.collection(&self.user, &mine),
            Some((parent, name)) => ctx.paths.object(&self.user, parent, name),
            None => ctx.paths.object(&self.user, "", &mine),
        }
    }
}

/// What a write changes, for the locks it must hold the tokens of (RFC 4918 §7.4).
#[derive(Debug, Clone)]
pub enum Touch {
    /// The resource itself (its content or properties), or, for a collection, its membership
    /// (a member added or removed: §7.4 "prevents the addition or removal of member URLs").
    Resource(Key),
    /// The resource and everything below it (DELETE, the source of a MOVE, an overwritten
    /// destination): also the locks rooted inside it (§9.6.1, §9.9.2).
    Tree(Key),
}

/// The unexpired locks of the homes a request looks at, each home read once.
#[derive(Default)]
pub struct Locks {
    homes: Vec<(UserId, Vec<Lock>)>,
}

impl Locks {
    /// Records that `home` holds no lock (the caller read so in a statement it ran anyway).
    pub fn none_in(&mut self, home: UserId) {
        if !self.homes.iter().any(|(h, _)| *h == home) {
            self.homes.push((home, Vec::new()));
        }
    }

    pub async fn of(&mut self, ctx: &DavContext, home: UserId) -> DavResult<&[Lock]> {
        let at = match self.homes.iter().position(|(h, _)| *h == home) {
            Some(at) => at,
            None => {
                let locks = ctx.store.locks_in(home, ctx.clock.now()).await?;
                self.homes.push((home, locks));
                self.homes.len() - 1
            }
        };
        Ok(self.homes.get(at).map_or(&[][..], |(_, l)| l.as_slice()))
    }
}

/// The tokens of the locks that apply to `key` (RFC 4918 §10.4.4 "matching state token").
fn tokens_on(locks: &[Lock], key: &Key) -> Vec<String> {
    locks.iter().filter(|l| l.applies_to(&key.path)).map(|l| l.token.clone()).collect()
}

fn etag_of(located: &Located) -> Option<String> {
    match located {
        Located::Object(_, m) => Some(m.etag.clone()),
        _ => None,
    }
}

/// RFC 4918 §10.4: 412 unless the `If` header holds; untagged lists are tested against the
/// request URI, tagged ones against the resource they name (one the user cannot reach has no
/// state, so only `Not` conditions hold on it).
pub async fn check_if(ctx: &DavContext, user: &Principal, headers: &DavHeaders, located: &Located, locks: &mut Locks) -> DavResult<()> {
    let Some(header) = &headers.if_header else { return Ok(()) };
    // (tag, ETag, tokens) of each resource the header names; None stands for the request URI.
    let mut states: Vec<(Option<&str>, Option<String>, Vec<String>)> = Vec::new();
    let mine = match key(user, located) {
        Some(k) => tokens_on(locks.of(ctx, k.home).await?, &k),
        None => Vec::new(),
    };
    states.push((None, etag_of(located), mine));
    for tag in header.resources() {
        let tagged = match locate(ctx, user, &ctx.paths.parse(tag)).await {
            Ok(found) => found,
            Err(DavError::NotFound | DavError::Forbidden) => {
                states.push((Some(tag), None, Vec::new()));
                continue;
            }
            Err(e) => return Err(e),
        };
        let tokens = match key(user, &tagged) {
            Some(k) => tokens_on(locks.of(ctx, k.home).await?, &k),
            None => Vec::new(),
        };
        states.push((Some(tag), etag_of(&tagged), tokens));
    }
    let holds = header.holds(|tag| {
        states
            .iter()
            .find(|(t, _, _)| *t == tag)
            .map_or(State::default(), |(_, etag, tokens)| State { etag: etag.as_deref(), tokens })
    });
    if holds { Ok(()) } else { Err(DavError::PreconditionFailed) }
}

/// The check of a write method, before it writes: the `If` header (412), then every lock on
/// what it touches must be one of the user's whose token the request submits (RFC 4918 §7.5;
/// a shared lock is also satisfied by another shared lock of the user's on the same resource),
/// else 423 with `DAV:lock-token-submitted` naming the lock roots.
pub async fn check_write(ctx: &DavContext, user: &Principal, headers: &DavHeaders, located: &Located, touches: &[Touch]) -> DavResult<()> {
    check_write_with(ctx, user, headers, located, touches, Locks::default()).await
}

/// `check_write` with what is known already of the homes' locks (`locate_for_write`).
pub async fn check_write_with(
    ctx: &DavContext,
    user: &Principal,
    headers: &DavHeaders,
    located: &Located,
    touches: &[Touch],
    mut locks: Locks,
) -> DavResult<()> {
    check_if(ctx, user, headers, located, &mut locks).await?;
    let submitted: Vec<&str> = headers.if_header.as_ref().map(|h| h.submitted().collect()).unwrap_or_default();
    let mut missing: Vec<String> = Vec::new();
    for touch in touches {
        let (key, tree) = match touch {
            Touch::Resource(k) => (k, false),
            Touch::Tree(k) => (k, true),
        };
        let all = locks.of(ctx, key.home).await?;
        let relevant: Vec<&Lock> =
            all.iter().filter(|l| l.applies_to(&key.path) || (tree && at_or_below(&l.path, &key.path))).collect();
        let held = |l: &Lock| l.principal == user.id && submitted.contains(&l.token.as_str());
        for lock in &relevant {
            let satisfied = held(lock) || (lock.shared && relevant.iter().any(|m| held(m) && m.applies_to(&lock.path)));
            if !satisfied {
                // A lock above the resource is on a collection; one at or below it is shown as
                // the touched resource would be.
                let collection = lock.path != key.path && at_or_below(&key.path, &lock.path);
                let href = key.href(ctx, &lock.path, collection);
                if !missing.contains(&href) {
                    missing.push(href);
                }
            }
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(DavError::Condition { status: StatusCode::LOCKED, condition: Condition::LockTokenSubmitted(missing), reason: None })
    }
}

/// The check of a write that cannot submit a lock token (the JSON API): 423 when any lock is
/// on what it changes, so a WebDAV client's lock holds against every edge.
pub async fn check_unlocked(ctx: &DavContext, user: &Principal, touches: &[Touch]) -> DavResult<()> {
    check_write(ctx, user, &DavHeaders::default(), &Located::Root, touches).await
}

/// After a DELETE or MOVE: the locks rooted at the resource or below it go with it (RFC 4918
/// §7.6: locks do not move; §9.6: a DELETE destroys them).
pub async fn forget(ctx: &DavContext, key: &Key) -> DavResult<()> {
    ctx.store.remove_locks_under(key.home, &key.path).await?;
    Ok(())
}

/// A lock as `DAV:lockdiscovery` and a LOCK answer show it (RFC 4918 §14.1): its token and
/// owner only to the principal holding it (another principal cannot use the token anyway,
/// and the owner element is theirs).
#[derive(Debug, Clone)]
pub struct ActiveLock {
    pub shared: bool,
    pub infinite: bool,
    pub owner_xml: Option<String>,
    pub token: Option<String>,
    /// Seconds left (RFC 4918 §10.7 `Second-N`).
    pub remaining: i64,
    pub root: String,
}

impl ActiveLock {
    pub fn of(ctx: &DavContext, user: &Principal, key: &Key, lock: &Lock, collection: bool) -> ActiveLock {
        let mine = lock.principal == user.id;
        ActiveLock {
            shared: lock.shared,
            infinite: lock.infinite,
            owner_xml: lock.owner_xml.clone().filter(|_| mine),
            token: mine.then(|| lock.token.clone()),
            remaining: (lock.expires_at - ctx.clock.now()).max(0),
            root: key.href(ctx, &lock.path, collection || lock.path != key.path),
        }
    }

    pub fn write(&self, w: &mut XmlWriter) {
        let el = |local| QName::fixed(DAV, local);
        w.start(&el("activelock"));
        w.start(&el("locktype"));
        w.empty(&el("write"));
        w.end();
        w.start(&el("lockscope"));
        w.empty(&el(if self.shared { "shared" } else { "exclusive" }));
        w.end();
        w.text_element(&el("depth"), if self.infinite { "infinity" } else { "0" });
        if let Some(owner) = self.owner_xml.as_deref().and_then(|x| super::xml::parse(x.as_bytes()).ok()) {
            w.element(&owner);
        }
        w.text_element(&el("timeout"), &format!("Second-{}", self.remaining));
        if let Some(token) = &self.token {
            w.start(&el("locktoken"));
            w.text_element(&el("href"), token);
            w.end();
        }
        w.start(&el("lockroot"));
        w.text_element(&el("href"), &self.root);
        w.end();
        w.end();
    }
}

/// RFC 4918 §15.10 supportedlock: exclusive and shared write locks.
pub fn write_supported(w: &mut XmlWriter) {
    let el = |local| QName::fixed(DAV, local);
    for scope in ["exclusive", "shared"] {
        w.start(&el("lockentry"));
        w.start(&el("lockscope"));
        w.empty(&el(scope));
        w.end();
        w.start(&el("locktype"));
        w.empty(&el("write"));
        w.end();
        w.end();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents() {
        let k = Key { home: UserId(1), path: "a/b/c".into(), user: "u".into(), share: None };
        assert_eq!(k.parent().path, "a/b");
        assert_eq!(k.parent().parent().parent().path, "");
    }
}
