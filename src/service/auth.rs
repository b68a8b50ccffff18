//! Password hashing (argon2id) and request authentication with a credential cache, so argon2
//! runs once per credential per TTL instead of once per request (clients send Basic auth on
//! every request), a short-lived cache of user rows, so a request does not pay a store
//! statement for its user. Repeated failures are limited in `http::limit` (per address and
//! user name, before a password is verified).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{Principal, ServiceError, ServiceResult, app_passwords};
use crate::store::{AppPasswordStore, Store, User, UserStore};

/// Hashes a password with argon2id (default parameters: 19 MiB, t=2, p=1). CPU-heavy: call
/// from a blocking context.
pub fn hash_password(password: &str) -> ServiceResult<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| ServiceError::Internal(format!("hashing failed: {e}")))
}

/// Checks a password against a stored PHC hash. CPU-heavy: call from a blocking context.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|hash| Argon2::default().verify_password(password.as_bytes(), &hash).is_ok())
        .unwrap_or(false)
}

/// Why authentication failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// Unknown user or wrong password (401).
    Refused,
    /// The store could not be asked (503): not the client's fault, and not a failed login.
    Unavailable,
}

struct Verified {
    /// The hash the credential was verified against: a password change anywhere (CLI, another
    /// node) changes it, so the cached verification stops counting at once.
    password_hash: String,
    at: Instant,
}

/// A user row as the store had it at `at`.
struct KnownUser {
    user: User,
    at: Instant,
}

/// An app password found valid at `at`, with its user: used for `user_ttl`, like a user row,
/// so a revocation elsewhere takes effect within that time.
struct KnownApp {
    user: User,
    at: Instant,
}

/// Authenticates Basic credentials. One per process, shared by all connections.
pub struct Authenticator {
    store: Store,
    /// Per-process secret: cache keys are HMACs of the credential, never the password itself.
    key: [u8; 32],
    ttl: Duration,
    /// How long a user row is used without asking the store again. Users change only through
    /// the CLI, another process, so a deletion or a password change takes effect within this
    /// time; zero asks the store on every request.
    user_ttl: Duration,
    users: Mutex<HashMap<String, KnownUser>>,
    verified: Mutex<HashMap<[u8; 32], Verified>>,
    /// App passwords by the HMAC of (user name or none, secret).
    apps: Mutex<HashMap<[u8; 32], KnownApp>>,
}

/// A bearer token has no user name; its cache key uses this instead (no user name has a NUL).
const BEARER: &str = "\0bearer";

/// An app password's last use is written at most this often.
const TOUCH_EVERY: i64 = 3600;

/// Bound on cache sizes; beyond it, stale entries are pruned.
const MAX_ENTRIES: usize = 10_000;

impl Authenticator {
    pub fn new(store: Store, ttl: Duration, user_ttl: Duration) -> Self {
        Authenticator {
            store,
            key: rand::random(),
            ttl,
            user_ttl,
            users: Mutex::new(HashMap::new()),
            verified: Mutex::new(HashMap::new()),
            apps: Mutex::new(HashMap::new()),
        }
    }

    /// Whether exactly these credentials were verified within the credential TTL: such a
    /// client is not held up by limits on failed logins against its user name (someone else
    /// guessing it), though a password changed since still fails in `authenticate`.
    pub fn recently_verified(&self, user: &str, password: &str) -> bool {
        let key = self.cache_key(user, password);
        lock(&self.verified).get(&key).is_some_and(|v| v.at.elapsed() < self.ttl)
            || lock(&self.apps).get(&key).is_some_and(|k| k.at.elapsed() < self.ttl)
    }

    /// A Bearer token (RFC 6750): an app password of any user.
    pub async fn authenticate_token(&self, token: &str) -> Result<Principal, AuthFailure> {
        if !app_passwords::looks_like(token) {
            return Err(AuthFailure::Refused);
        }
        self.app_password(None, token).await?.map(principal_of).ok_or(AuthFailure::Refused)
    }

    /// The user whose app password `secret` is (and who is `user`, for Basic credentials):
    /// one SHA-256 and one indexed lookup, remembered for `user_ttl`.
    async fn app_password(&self, user: Option<&str>, secret: &str) -> Result<Option<User>, AuthFailure> {
        let key = self.cache_key(user.unwrap_or(BEARER), secret);
        if let Some(k) = lock(&self.apps).get(&key).filter(|k| k.at.elapsed() < self.user_ttl) {
            return Ok(Some(k.user.clone()));
        }
        let found = match self.store.app_password_by_hash(&app_passwords::secret_hash(secret)).await {
            Ok(found) => found,
            Err(e) => {
                tracing::error!(error = %e, "app password lookup failed during authentication");
                return Err(AuthFailure::Unavailable);
            }
        };
        let Some((app, u)) = found else { return Ok(None) };
        if user.is_some_and(|name| name != u.name) {
            return Ok(None);
        }
        let now = super::now();
        if app.last_used_at.is_none_or(|t| t < now - TOUCH_EVERY)
            && let Err(e) = self.store.touch_app_password(app.id, now, now - TOUCH_EVERY).await
        {
            // The use is a note for its owner; the request goes on.
            tracing::warn!(error = %e, "recording an app password's use failed");
        }
        if !self.user_ttl.is_zero() {
            let mut apps = lock(&self.apps);
            if apps.len() >= MAX_ENTRIES {
                let ttl = self.user_ttl;
                apps.retain(|_, k| k.at.elapsed() < ttl);
            }
            apps.insert(key, KnownApp { user: u.clone(), at: Instant::now() });
        }
        Ok(Some(u))
    }

    /// Verifies `user`/`password`. The user's row comes from the store at most once
    /// per `user_ttl` (a stale row is refreshed before a password is refused, so a new password
    /// works at once); argon2 runs only on a credential cache miss.
    pub async fn authenticate(
        &self,
        user: &str,
        password: &str,
    ) -> Result<Principal, AuthFailure> {
        // An app password in place of the password (RFC 7617 Basic, as CalDAV clients send it);
        // one that is not found may still be the user's real password.
        if app_passwords::looks_like(password)
            && let Some(u) = self.app_password(Some(user), password).await?
        {
            return Ok(principal_of(u));
        }
        let key = self.cache_key(user, password);
        let mut found = match self.known_user(user) {
            Some(u) => Some(u),
            None => self.fetch_user(user).await?,
        };
        let mut ok = self.check(&key, password, found.as_ref()).await;
        if !ok && found.is_some() && !self.user_ttl.is_zero() {
            // The row may predate a password change: ask the store before refusing.
            let fresh = self.fetch_user(user).await?;
            if fresh.as_ref().map(|u| &u.password_hash) != found.as_ref().map(|u| &u.password_hash) {
                ok = self.check(&key, password, fresh.as_ref()).await;
            }
            found = fresh;
        }
        match (ok, found) {
            (true, Some(u)) => Ok(principal_of(u)),
            _ => Err(AuthFailure::Refused),
        }
    }

    /// Whether `password` is `found`'s, from the credential cache or by argon2.
    async fn check(&self, key: &[u8; 32], password: &str, found: Option<&User>) -> bool {
        match found {
            Some(u) if self.is_cached(key, &u.password_hash) => true,
            Some(u) => {
                let (pw, hash) = (password.to_owned(), u.password_hash.clone());
                let ok = tokio::task::spawn_blocking(move || verify_password(&pw, &hash))
                    .await
                    .unwrap_or(false);
                if ok {
                    self.remember(*key, &u.password_hash);
                }
                ok
            }
            None => {
                // Spend the same effort for unknown users, so timing does not reveal who exists.
                let pw = password.to_owned();
                let _ = tokio::task::spawn_blocking(move || verify_password(&pw, DUMMY_HASH)).await;
                false
            }
        }
    }

    /// The user's row if the store gave it less than `user_ttl` ago.
    fn known_user(&self, name: &str) -> Option<User> {
        lock(&self.users)
            .get(name)
            .filter(|k| k.at.elapsed() < self.user_ttl)
            .map(|k| k.user.clone())
    }

    /// The user's row from the store, remembered for `user_ttl`; an unknown name is not
    /// remembered (a user created meanwhile can log in at once).
    async fn fetch_user(&self, name: &str) -> Result<Option<User>, AuthFailure> {
        let found = match self.store.user_by_name(name).await {
            Ok(found) => found,
            Err(e) => {
                tracing::error!(error = %e, "user lookup failed during authentication");
                return Err(AuthFailure::Unavailable);
            }
        };
        let mut users = lock(&self.users);
        match &found {
            Some(u) if !self.user_ttl.is_zero() => {
                if users.len() >= MAX_ENTRIES {
                    let ttl = self.user_ttl;
                    users.retain(|_, k| k.at.elapsed() < ttl);
                }
                users.insert(name.to_owned(), KnownUser { user: u.clone(), at: Instant::now() });
            }
            _ => {
                users.remove(name);
            }
        }
        Ok(found)
    }

    /// Drops cached verifications for everyone (e.g. after a password change in this process).
    pub fn forget_all(&self) {
        lock(&self.users).clear();
        lock(&self.verified).clear();
        lock(&self.apps).clear();
    }

    fn cache_key(&self, user: &str, password: &str) -> [u8; 32] {
        // HMAC accepts any key length, so this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any size"));
        mac.update(user.as_bytes());
        mac.update(&[0]);
        mac.update(password.as_bytes());
        mac.finalize().into_bytes().into()
    }

    fn is_cached(&self, key: &[u8; 32], password_hash: &str) -> bool {
        lock(&self.verified)
            .get(key)
            .is_some_and(|v| v.password_hash == password_hash && v.at.elapsed() < self.ttl)
    }

    fn remember(&self, key: [u8; 32], password_hash: &str) {
        let mut map = lock(&self.verified);
        if map.len() >= MAX_ENTRIES {
            let ttl = self.ttl;
            map.retain(|_, v| v.at.elapsed() < ttl);
        }
        map.insert(key, Verified { password_hash: password_hash.to_owned(), at: Instant::now() });
    }
}


fn principal_of(u: User) -> Principal {
    Principal { id: u.id, name: u.name, email: u.email }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding these maps leaves them consistent (plain inserts/removes).
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A valid argon2id hash of a random string, used to equalise timing for unknown users.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3RrFQ4GmK3TxkB8RQXqvqj1x7S6W3uA7F2l2e0qkF9A";

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let h = hash_password("s3cret").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("s3cret", &h));
        assert!(!verify_password("S3cret", &h));
        assert!(!verify_password("s3cret", "not a hash"));
    }

    #[test]
    fn dummy_hash_parses() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }

    async fn store_with(name: &str, password: &str) -> Store {
        let store = Store::open("sqlite::memory:").await.unwrap();
        crate::service::users::create(&store, name, None, password).await.unwrap();
        store
    }

    /// Within `user_ttl` the row is not read again, so a deletion made by another process (the
    /// CLI) shows only after it; with a zero `user_ttl` it shows at once.
    #[tokio::test]
    async fn a_deleted_user_stops_working_after_the_user_ttl() {
        let store = store_with("ann", "pw").await;
        let (day, short) = (Duration::from_secs(86_400), Duration::from_millis(40));
        let remembering = Authenticator::new(store.clone(), day, day);
        let brief = Authenticator::new(store.clone(), day, short);
        let uncached = Authenticator::new(store.clone(), day, Duration::ZERO);
        for auth in [&remembering, &brief, &uncached] {
            assert_eq!(auth.authenticate("ann", "pw").await.unwrap().name, "ann");
        }

        crate::service::users::delete(&store, "ann").await.unwrap();
        assert!(uncached.authenticate("ann", "pw").await.is_err(), "ttl 0 reads the row every time");
        assert!(remembering.authenticate("ann", "pw").await.is_ok(), "the row is reused within the ttl");
        tokio::time::sleep(short + Duration::from_millis(20)).await;
        assert!(brief.authenticate("ann", "pw").await.is_err(), "past the ttl the row is read again");
    }

    /// A changed password works at once although the old row is remembered (a refusal reads
    /// the row again first); the old one stops working with the row.
    #[tokio::test]
    async fn a_new_password_works_at_once_and_the_old_one_stops_after_the_ttl() {
        let store = store_with("bob", "old").await;
        let (day, short) = (Duration::from_secs(86_400), Duration::from_millis(40));
        let remembering = Authenticator::new(store.clone(), day, day);
        let brief = Authenticator::new(store.clone(), day, short);
        for auth in [&remembering, &brief] {
            assert!(auth.authenticate("bob", "old").await.is_ok());
        }

        crate::service::users::set_password(&store, "bob", "new").await.unwrap();
        // Within the ttl the remembered row still admits the old password...
        assert!(remembering.authenticate("bob", "old").await.is_ok());
        // ...and a refusal re-reads the row, so the new one works at once.
        assert!(remembering.authenticate("bob", "new").await.is_ok(), "a refusal re-reads the row");
        // That re-read replaced the remembered row: the old hash no longer counts.
        assert!(remembering.authenticate("bob", "old").await.is_err());
        assert!(remembering.authenticate("bob", "wrong").await.is_err());

        tokio::time::sleep(short + Duration::from_millis(20)).await;
        assert!(brief.authenticate("bob", "old").await.is_err(), "past the ttl the row is read again");
        assert!(brief.authenticate("bob", "new").await.is_ok());
    }

    /// A name the store does not know is not remembered: a user created meanwhile logs in at
    /// once.
    #[tokio::test]
    async fn an_unknown_user_is_looked_up_again() {
        let store = store_with("cat", "pw").await;
        let auth = Authenticator::new(store.clone(), Duration::from_secs(300), Duration::from_secs(300));
        assert!(auth.authenticate("dan", "pw2").await.is_err());
        crate::service::users::create(&store, "dan", None, "pw2").await.unwrap();
        assert!(auth.authenticate("dan", "pw2").await.is_ok());
    }

    /// Only credentials that passed count as recently verified (the failed-login limits
    /// spare them), and only those exact ones.
    #[tokio::test]
    async fn recently_verified_credentials() {
        let store = store_with("eve", "pw").await;
        let auth = Authenticator::new(store, Duration::from_secs(300), Duration::from_secs(1));
        assert!(!auth.recently_verified("eve", "pw"));
        auth.authenticate("eve", "pw").await.unwrap();
        assert!(auth.recently_verified("eve", "pw"));
        assert!(!auth.recently_verified("eve", "wrong"));
        assert!(auth.authenticate("eve", "wrong").await.is_err());
        assert!(!auth.recently_verified("eve", "wrong"));
    }
}
