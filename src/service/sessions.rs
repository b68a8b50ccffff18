//! Browser sessions of the web page (issue 21, decision 0028): a login makes a session whose
//! cookie token is 32 random bytes (only its SHA-256 is stored, as app passwords are) with its
//! own CSRF secret; a session ends after `MAX_AGE`, when unused for `IDLE`, or at logout.
//! Every function takes the time to act at, so expiry is tested with an explicit clock.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::{Principal, ServiceResult};
use crate::store::{NewWebSession, Store, Timestamp, User, WebSession, WebStore};

/// A session ends this long after the login, however busy (seconds).
pub const MAX_AGE: i64 = 7 * 24 * 3600;
/// … or once unused this long (seconds).
pub const IDLE: i64 = 8 * 3600;
/// A use is written at most this often per session (seconds): a page view must not be a write.
const TOUCH_EVERY: i64 = 60;
/// Finished imports' progress rows are kept this long (seconds), for a late look at the report.
const JOBS_KEPT: i64 = 24 * 3600;

/// A session as a request carries it.
#[derive(Debug, Clone)]
pub struct Session {
    pub row: WebSession,
    pub principal: Principal,
    pub is_admin: bool,
}

/// A random token of 32 bytes, base64url without padding (43 characters).
fn new_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// Whether `token` has a session token's shape; anything else is not looked up.
fn well_formed(token: &str) -> bool {
    token.len() == 43 && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn session_of(row: WebSession, user: User) -> Session {
    let is_admin = user.is_admin;
    Session { row, principal: Principal { id: user.id, name: user.name, email: user.email }, is_admin }
}

/// Starts a session for `user` (already authenticated): its cookie token and the session row.
/// Old sessions of anyone are pruned here, so the table stays as small as its live sessions.
pub async fn login(store: &Store, user: &Principal, now: Timestamp) -> ServiceResult<(String, WebSession)> {
    store.prune_web(now, now - IDLE, now - JOBS_KEPT).await?;
    let token = new_token();
    let new = NewWebSession {
        user: user.id,
        token_hash: super::feeds::token_hash(&token),
        csrf: new_token(),
        now,
        expires_at: now + MAX_AGE,
    };
    let row = store.create_web_session(new).await?;
    Ok((token, row))
}

/// The live session of `token` at `now`, if any; records the use (at most once a minute).
pub async fn resume(store: &Store, token: &str, now: Timestamp) -> ServiceResult<Option<Session>> {
    if !well_formed(token) {
        return Ok(None);
    }
    let Some((row, user)) = store.web_session_by_hash(&super::feeds::token_hash(token), now, now - IDLE).await? else {
        return Ok(None);
    };
    if row.last_seen_at < now - TOUCH_EVERY {
        store.touch_web_session(row.id, now, now - TOUCH_EVERY).await?;
    }
    Ok(Some(session_of(row, user)))
}

/// Ends the session (logout).
pub async fn logout(store: &Store, session: &Session) -> ServiceResult<()> {
    store.delete_web_session(session.row.id).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_43_url_safe_characters_and_differ() {
        let (a, b) = (new_token(), new_token());
        assert!(well_formed(&a) && well_formed(&b));
        assert_ne!(a, b);
        assert!(!well_formed("short"));
        assert!(!well_formed(&format!("{}=", &a[..42])));
    }
}
