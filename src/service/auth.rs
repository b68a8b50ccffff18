//! Password hashing (argon2id) and request authentication with a credential cache, so argon2
//! runs once per credential per TTL instead of once per request (clients send Basic auth on
//! every request), and a growing delay for repeated failures per user and address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{Principal, ServiceError, ServiceResult};
use crate::store::{Store, User, UserStore};

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

/// Why authentication failed; `delay` is how long to wait before answering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthFailure {
    pub delay: Duration,
}

struct Verified {
    /// The hash the credential was verified against: a password change anywhere (CLI, another
    /// node) changes it, so the cached verification stops counting at once.
    password_hash: String,
    at: Instant,
}

struct Failures {
    count: u32,
    last: Instant,
}

/// Authenticates Basic credentials. One per process, shared by all connections.
pub struct Authenticator {
    store: Store,
    /// Per-process secret: cache keys are HMACs of the credential, never the password itself.
    key: [u8; 32],
    ttl: Duration,
    verified: Mutex<HashMap<[u8; 32], Verified>>,
    failures: Mutex<HashMap<(String, IpAddr), Failures>>,
}

/// Failures older than this are forgotten.
const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Bound on cache sizes; beyond it, stale entries are pruned.
const MAX_ENTRIES: usize = 10_000;

impl Authenticator {
    pub fn new(store: Store, ttl: Duration) -> Self {
        Authenticator {
            store,
            key: rand::random(),
            ttl,
            verified: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Verifies `user`/`password` from `addr`. Looks the user up on every call (cheap) so that
    /// deleted users and changed passwords take effect at once; runs argon2 only on a cache miss.
    pub async fn authenticate(
        &self,
        user: &str,
        password: &str,
        addr: IpAddr,
    ) -> Result<Principal, AuthFailure> {
        let found = match self.store.user_by_name(user).await {
            Ok(found) => found,
            Err(e) => {
                tracing::error!(error = %e, "user lookup failed during authentication");
                return Err(AuthFailure { delay: Duration::ZERO });
            }
        };
        let key = self.cache_key(user, password);
        let ok = match &found {
            Some(u) if self.is_cached(&key, &u.password_hash) => true,
            Some(u) => {
                let (pw, hash) = (password.to_owned(), u.password_hash.clone());
                let ok = tokio::task::spawn_blocking(move || verify_password(&pw, &hash))
                    .await
                    .unwrap_or(false);
                if ok {
                    self.remember(key, &u.password_hash);
                }
                ok
            }
            None => {
                // Spend the same effort for unknown users, so timing does not reveal who exists.
                let pw = password.to_owned();
                let _ = tokio::task::spawn_blocking(move || verify_password(&pw, DUMMY_HASH)).await;
                false
            }
        };
        match (ok, found) {
            (true, Some(u)) => {
                self.clear_failures(user, addr);
                Ok(principal_of(u))
            }
            _ => Err(AuthFailure { delay: self.record_failure(user, addr) }),
        }
    }

    /// Drops cached verifications for everyone (e.g. after a password change in this process).
    pub fn forget_all(&self) {
        lock(&self.verified).clear();
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

    fn record_failure(&self, user: &str, addr: IpAddr) -> Duration {
        let mut map = lock(&self.failures);
        if map.len() >= MAX_ENTRIES {
            map.retain(|_, f| f.last.elapsed() < FAILURE_WINDOW);
        }
        let entry = map.entry((user.to_owned(), addr)).or_insert(Failures { count: 0, last: Instant::now() });
        if entry.last.elapsed() >= FAILURE_WINDOW {
            entry.count = 0;
        }
        entry.count += 1;
        entry.last = Instant::now();
        failure_delay(entry.count)
    }

    fn clear_failures(&self, user: &str, addr: IpAddr) {
        lock(&self.failures).remove(&(user.to_owned(), addr));
    }
}

/// No delay for the first failure (a typo), then 0.5 s doubling up to 8 s.
pub fn failure_delay(count: u32) -> Duration {
    if count <= 1 {
        return Duration::ZERO;
    }
    let ms = 250u64.saturating_mul(1 << (count - 1).min(5));
    Duration::from_millis(ms.min(8_000))
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
    fn delay_grows_and_caps() {
        assert_eq!(failure_delay(1), Duration::ZERO);
        assert_eq!(failure_delay(2), Duration::from_millis(500));
        assert_eq!(failure_delay(3), Duration::from_millis(1000));
        assert_eq!(failure_delay(5), Duration::from_millis(4000));
        assert_eq!(failure_delay(6), Duration::from_millis(8000));
        assert_eq!(failure_delay(60), Duration::from_millis(8000));
    }

    #[test]
    fn dummy_hash_parses() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }
}
