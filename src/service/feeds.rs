//! Feed links (issue 18, decision 0022): create, list, revoke and rotate them for an owner (the
//! CLI now, the JSON API and web page later, all through these functions), and serve a feed to
//! whoever holds a token. Tokens are 32 random bytes in base64url; only their SHA-256 is stored.
//! A rendering is cached under the calendar's sync_seq and the link's settings, so a poll costs
//! one indexed lookup and a cache read.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::cache::Cache;
use crate::calendar::query::QueryContext;
use crate::calendar::{ComponentKind, Timestamp, parse_calendar_timezone};
use crate::feed::{self, FeedInput, FeedSettings};
use crate::store::{
    Collection, CollectionKind, CollectionStore, FeedId, FeedLink, FeedStore, NewFeedLink, ObjectStore, Store, UserId, UserStore,
};

use super::{ServiceError, ServiceResult};

/// The size cap of one feed: events beyond it (the farthest in the future) are left out. A
/// subscriber downloads the whole feed on every change, and Google and Outlook give up on
/// files much larger than this.
pub const MAX_FEED_BYTES: usize = 16 * 1024 * 1024;
/// A read is recorded at most this often per link: polling must not turn into writes.
pub const LAST_USED_RESOLUTION: i64 = 3600;
/// How long a rotated-out token keeps working by default: a day lets every subscriber that
/// polls daily (Google does) be moved to the new link by its owner.
pub const DEFAULT_GRACE: i64 = 86_400;
/// Longest label accepted.
const MAX_LABEL: usize = 200;
/// How long a rendering is kept; its key changes with every write anyway.
const CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(86_400);
/// A token is 32 bytes, 43 characters of base64url without padding.
const TOKEN_CHARS: usize = 43;

/// What a new link shows.
#[derive(Debug, Clone)]
pub struct NewFeed {
    pub settings: FeedSettings,
    pub label: String,
    pub expires_at: Option<Timestamp>,
}

/// A link and its token, which is shown once and never again (only its hash is kept).
#[derive(Debug, Clone)]
pub struct Issued {
    pub link: FeedLink,
    pub token: String,
}

/// A fresh token and its hash.
fn new_token() -> (String, Vec<u8>) {
    let token = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let hash = token_hash(&token);
    (token, hash)
}

/// SHA-256 of a token's text: what the store keeps and looks up, and the rate limiter's key.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Whether `token` has a token's shape; anything else is unknown without a lookup.
fn well_formed(token: &str) -> bool {
    token.len() == TOKEN_CHARS && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `<public_url>/feeds/<token>.ics`.
pub fn feed_url(public_url: &str, token: &str) -> String {
    format!("{}/feeds/{token}.ics", public_url.trim_end_matches('/'))
}

/// The same link as `webcal://`, which makes browsers hand it to the calendar app.
pub fn webcal_url(url: &str) -> String {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://")).unwrap_or(url);
    format!("webcal://{rest}")
}

/// Creates a link to `owner`'s calendar at `calendar` (its path below the owner's home, e.g.
/// `calendar`).
pub async fn create(store: &Store, owner: &str, calendar: &str, new: NewFeed, now: Timestamp) -> ServiceResult<Issued> {
    let user = store.user_by_name(owner).await?.ok_or(ServiceError::NotFound)?;
    let path = calendar.trim_matches('/');
    let collection = store.collection_by_path(user.id, path).await?.ok_or(ServiceError::NotFound)?;
    if collection.kind != CollectionKind::Calendar {
        return Err(ServiceError::BadRequest(format!("{path} is not a calendar")));
    }
    if new.label.chars().count() > MAX_LABEL || new.label.chars().any(char::is_control) {
        return Err(ServiceError::BadRequest(format!("a label is one line of at most {MAX_LABEL} characters")));
    }
    if new.expires_at.is_some_and(|at| at <= now) {
        return Err(ServiceError::BadRequest("the expiry is in the past".into()));
    }
    let (token, token_hash) = new_token();
    let link = store
        .create_feed(NewFeedLink {
            collection: collection.id,
            token_hash,
            label: new.label,
            settings: new.settings,
            expires_at: new.expires_at,
            created_at: now,
        })
        .await?;
    Ok(Issued { link, token })
}

/// Every link of `owner`'s calendars.
pub async fn list(store: &Store, owner: &str) -> ServiceResult<Vec<FeedLink>> {
    let user = store.user_by_name(owner).await?.ok_or(ServiceError::NotFound)?;
    Ok(store.feeds_of_owner(user.id).await?)
}

/// The link `id`, if it exists and (when `owner` is given) belongs to that user: the CLI acts
/// for the administrator, the API will act for the owner.
async fn owned(store: &Store, id: FeedId, owner: Option<UserId>) -> ServiceResult<FeedLink> {
    let link = store.feed_by_id(id).await?.ok_or(ServiceError::NotFound)?;
    if owner.is_some_and(|o| o != link.owner) {
        return Err(ServiceError::NotFound);
    }
    Ok(link)
}

/// Deletes the link: its tokens answer 404 from now on.
pub async fn revoke(store: &Store, id: FeedId, owner: Option<UserId>) -> ServiceResult<()> {
    owned(store, id, owner).await?;
    if store.delete_feed(id).await? { Ok(()) } else { Err(ServiceError::NotFound) }
}

/// Gives the link a new token; the current one keeps working for `grace` seconds.
pub async fn rotate(store: &Store, id: FeedId, owner: Option<UserId>, grace: i64, now: Timestamp) -> ServiceResult<Issued> {
    owned(store, id, owner).await?;
    let (token, token_hash) = new_token();
    if !store.rotate_feed(id, token_hash, now.saturating_add(grace.max(0))).await? {
        return Err(ServiceError::NotFound);
    }
    let link = store.feed_by_id(id).await?.ok_or(ServiceError::NotFound)?;
    Ok(Issued { link, token })
}

/// What serving a feed needs besides the token.
#[derive(Clone, Copy)]
pub struct FeedContext<'a> {
    pub store: &'a Store,
    pub cache: &'a Cache,
    /// The whole-collection listing permits (`limits.concurrent_listings`): a rendering holds one.
    pub listings: &'a Semaphore,
    pub max_instances: usize,
}

/// One rendering's validators (RFC 9110 §8.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// A strong ETag, quoted: a hash of the text, so it changes exactly when the text does.
    pub etag: String,
    /// The calendar's last change when this was rendered, or the window's last move (midnight
    /// UTC) if that is later.
    pub last_modified: Timestamp,
}

/// A feed to answer with: its validators, and its text unless `wants_body` said no.
#[derive(Debug, Clone)]
pub struct Served {
    pub version: Version,
    pub body: Option<Bytes>,
}

/// The feed behind `token`, or None (unknown, revoked, expired, a rotated-out token past its
/// grace: one answer for all). `wants_body` sees the current validators first, so a
/// revalidation that ends in 304 reads nothing but the link and a few cached bytes.
pub async fn serve(ctx: FeedContext<'_>, token: &str, now: Timestamp, wants_body: impl Fn(&Version) -> bool) -> ServiceResult<Option<Served>> {
    if !well_formed(token) {
        return Ok(None);
    }
    let Some((link, collection)) = ctx.store.feed_by_token(&token_hash(token), now).await? else {
        return Ok(None);
    };
    if link.expires_at.is_some_and(|at| at <= now) || collection.kind != CollectionKind::Calendar {
        return Ok(None);
    }
    if link.last_used_at.is_none_or(|at| at <= now - LAST_USED_RESOLUTION) {
        // Only bookkeeping: a failure here must not cost the subscriber its feed.
        if let Err(e) = ctx.store.touch_feed(link.id, now, now - LAST_USED_RESOLUTION).await {
            tracing::warn!(feed = link.id.0, error = %e, "could not record a feed's use");
        }
    }
    let input = Input::new(&ctx, &link, &collection, now);
    let key = input.cache_key(&collection);
    let meta_key = format!("{key}:meta");
    let seq = collection.sync_seq;
    if let Some(version) = ctx.cache.get(&meta_key).await.and_then(|m| parse_meta(&m, seq)) {
        if !wants_body(&version) {
            return Ok(Some(Served { version, body: None }));
        }
        if let Some(body) = ctx.cache.get(&key).await.and_then(|b| cached_body(b, seq)) {
            return Ok(Some(Served { version, body: Some(body) }));
        }
    }
    let permit = ctx.listings.acquire().await.map_err(|e| ServiceError::Internal(format!("listing permits: {e}")))?;
    let text = render(&ctx, &input, &collection).await?;
    drop(permit);
    // The window moves at midnight UTC, which can change the text without a write: a client
    // revalidating by date alone must then see a newer Last-Modified.
    let moved = now.div_euclid(86_400) * 86_400;
    let version = Version { etag: etag(&text), last_modified: collection.modified_at.max(moved) };
    ctx.cache.put(&key, format!("{seq}\n{text}").as_bytes(), CACHE_TTL).await;
    ctx.cache.put(&meta_key, format!("{seq} {} {}", version.etag, version.last_modified).as_bytes(), CACHE_TTL).await;
    let body = wants_body(&version).then(|| Bytes::from(text));
    Ok(Some(Served { version, body }))
}

/// Everything a rendering depends on besides the calendar's members.
struct Input {
    name: String,
    settings: FeedSettings,
    window: crate::calendar::filter::TimeRange,
    /// The calendar's `calendar-timezone` as stored: parsed only to render, never to answer a
    /// poll from the cache.
    timezone: Option<String>,
    max_instances: usize,
}

impl Input {
    fn new(ctx: &FeedContext<'_>, link: &FeedLink, collection: &Collection, now: Timestamp) -> Input {
        Input {
            name: collection.props.displayname.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| collection.path.clone()),
            settings: link.settings,
            window: feed::window(now),
            timezone: collection.props.timezone.clone(),
            max_instances: ctx.max_instances,
        }
    }

    /// The zone floating and all-day times are read in (UTC without a usable calendar-timezone).
    fn query_context(&self) -> QueryContext {
        let zone = self.timezone.as_deref().and_then(|t| parse_calendar_timezone(t).ok()).and_then(|tz| tz.zone);
        QueryContext { zone: zone.unwrap_or(chrono_tz::UTC), max_instances: self.max_instances }
    }

    /// Everything but the members, spelled out (the name and zone through a hash, to keep keys
    /// short). The members are stood for by `sync_seq`, which moves in every transaction that
    /// changes one: it is written at the head of both values rather than into the key, so a
    /// write's rendering replaces the previous one instead of leaving it to expire (a busy
    /// calendar would otherwise fill the cache with renderings nobody reads again), and a value
    /// of another seq is a miss.
    fn cache_key(&self, collection: &Collection) -> String {
        let s = self.settings;
        let named = Sha256::digest(format!("{}\0{}", self.name, self.timezone.as_deref().unwrap_or("")).as_bytes());
        format!(
            "feed:v2:{}:{}:{}{}:{}:{}:{}:{}",
            collection.id.0,
            s.mode.as_str(),
            u8::from(s.alarms),
            u8::from(s.attendees),
            self.window.start.unwrap_or_default(),
            self.max_instances,
            MAX_FEED_BYTES,
            hex(&named[..8]),
        )
    }
}

async fn render(ctx: &FeedContext<'_>, input: &Input, collection: &Collection) -> ServiceResult<String> {
    let w = input.window;
    let mut candidates = ctx.store.objects_in_range(collection.id, Some(ComponentKind::Event), w.start, w.end).await?;
    // The soonest first, so that the size cap drops the farthest future; the name breaks ties,
    // so the same members always give the same text.
    candidates.sort_by(|a, b| {
        let first = |c: &crate::store::Candidate| c.object.meta.calendar.as_ref().and_then(|i| i.first_start).unwrap_or(i64::MIN);
        first(a).cmp(&first(b)).then_with(|| a.object.meta.name.cmp(&b.object.meta.name))
    });
    let objects: Vec<&[u8]> = candidates.iter().map(|c| c.object.data.as_slice()).collect();
    let feed_input = FeedInput { name: &input.name, settings: input.settings, window: w, ctx: input.query_context(), max_bytes: MAX_FEED_BYTES };
    let rendered = feed::render(&feed_input, &objects);
    if rendered.truncated > 0 || rendered.skipped > 0 {
        tracing::warn!(collection = collection.id.0, truncated = rendered.truncated, skipped = rendered.skipped, "feed rendered incompletely");
    }
    Ok(rendered.text)
}

/// A strong validator: 128 bits of the text's SHA-256.
fn etag(text: &str) -> String {
    format!("\"{}\"", hex(&Sha256::digest(text.as_bytes())[..16]))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A cached `seq etag last_modified` triple of `seq`; anything else is a miss.
fn parse_meta(bytes: &[u8], seq: i64) -> Option<Version> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut parts = text.split(' ');
    let (of, etag, modified) = (parts.next()?, parts.next()?, parts.next()?);
    let well_formed = etag.len() == 34 && etag.starts_with('"') && etag.ends_with('"') && parts.next().is_none();
    if !well_formed || of.parse::<i64>().ok()? != seq {
        return None;
    }
    Some(Version { etag: etag.to_owned(), last_modified: modified.parse().ok()? })
}

/// A cached `seq\ntext` of `seq`: the text, without a copy.
fn cached_body(bytes: Vec<u8>, seq: i64) -> Option<Bytes> {
    let newline = bytes.iter().position(|&b| b == b'\n')?;
    let of: i64 = std::str::from_utf8(&bytes[..newline]).ok()?.parse().ok()?;
    (of == seq).then(|| Bytes::from(bytes).slice(newline + 1..))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_32_random_bytes_in_base64url() {
        let (a, hash) = new_token();
        assert!(well_formed(&a), "{a}");
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).unwrap().len(), 32);
        assert_eq!(hash, token_hash(&a));
        assert_ne!(a, new_token().0);
        assert!(!well_formed("short") && !well_formed(&format!("{}/", &a[..42])));
    }

    #[test]
    fn urls_and_meta() {
        let url = feed_url("https://cal.example.org/dav/", "abc");
        assert_eq!(url, "https://cal.example.org/dav/feeds/abc.ics");
        assert_eq!(webcal_url(&url), "webcal://cal.example.org/dav/feeds/abc.ics");
        let v = Version { etag: etag("x"), last_modified: 42 };
        assert_eq!(parse_meta(format!("7 {} 42", v.etag).as_bytes(), 7), Some(v.clone()));
        assert_eq!(parse_meta(format!("6 {} 42", v.etag).as_bytes(), 7), None, "another seq's");
        assert_eq!(parse_meta(b"garbage", 7), None);
        assert_eq!(cached_body(b"7\nBEGIN:VCALENDAR".to_vec(), 7).as_deref(), Some(&b"BEGIN:VCALENDAR"[..]));
        assert_eq!(cached_body(b"6\nBEGIN:VCALENDAR".to_vec(), 7), None, "another seq's");
    }
}
